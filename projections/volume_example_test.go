package projections_test

import (
	"fmt"

	"github.com/google/uuid"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/projections"
)

func ExampleNewVolume() {
	vol, err := projections.NewVolume(projections.VolumeConfig{
		Values: map[string]projections.Value{"billing": projections.ValueNeither},
	})
	if err != nil {
		panic(err)
	}
	first, again, other := uuid.New(), uuid.New(), uuid.New()
	invoice := newKPIExampleIssue().
		add(0, kpiExampleOpened("email", "billing/invoice-error", first)).
		add(30, &events.Contacted{Contact: again, Channel: "phone"}).
		add(31, &events.Routed{Contact: again, Queue: "billing"})
	password := newKPIExampleIssue().
		add(10, kpiExampleOpened("bot", "account/password", other)).
		add(12, &events.Resolved{Contact: other, Bot: true})
	for _, e := range append(invoice.events, password.events...) {
		if err := vol.Apply(e); err != nil {
			panic(err)
		}
	}

	r := vol.Report()
	for _, reason := range r.Reasons {
		fmt.Printf("%s: %d contacts, %.0f %% cumulative\n", reason.Topic, reason.Contacts, 100*reason.Cumulative)
	}
	fmt.Printf("%.1f contacts per issue; %d serving neither side\n", r.ContactsPerIssue, r.ByValue[projections.ValueNeither])
	fmt.Printf("backlog: %d open, the oldest (%s) %.0f min old\n", r.Backlog.Open, r.Backlog.Oldest.Topic, r.Backlog.Oldest.AgeS/60)
	// Output:
	// billing/invoice-error: 2 contacts, 67 % cumulative
	// account/password: 1 contacts, 100 % cumulative
	// 1.5 contacts per issue; 2 serving neither side
	// backlog: 1 open, the oldest (billing/invoice-error) 31 min old
}
