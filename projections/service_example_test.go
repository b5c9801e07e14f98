package projections_test

import (
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/projections"
)

// Three calls answered after 10, 30 and 50 s, one abandoned after 40 s.
func ExampleNewServiceLevel() {
	svc, err := projections.NewServiceLevel(projections.ServiceConfig{Threshold: 20 * time.Second})
	if err != nil {
		panic(err)
	}
	for i, wait := range []time.Duration{10 * time.Second, 30 * time.Second, 50 * time.Second} {
		call := uuid.New()
		issue := newKPIExampleIssue().
			add(i, kpiExampleOpened("phone", "billing", call)).
			add(i+1, &events.Routed{Contact: call, Queue: "billing", Agent: "ann", Wait: wait})
		for _, e := range issue.events {
			if err := svc.Apply(e); err != nil {
				panic(err)
			}
		}
	}
	call := uuid.New()
	abandoned := newKPIExampleIssue().
		add(5, kpiExampleOpened("phone", "billing", call)).
		add(6, &events.Abandoned{Contact: call, Wait: 40 * time.Second})
	for _, e := range abandoned.events {
		if err := svc.Apply(e); err != nil {
			panic(err)
		}
	}

	r := svc.Report()
	fmt.Printf("offered %d, answered %d, abandoned %d\n", r.Offered, r.Answered, r.Abandoned)
	fmt.Printf("ASA %.0f s, abandonment %.0f %%, answered within 20 s %.0f %%\n",
		r.ASA, 100*r.AbandonRate, 100*r.ServiceLevel.Value)
	// Output:
	// offered 4, answered 3, abandoned 1
	// ASA 30 s, abandonment 25 %, answered within 20 s 25 %
}
