package projections_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/truefcr/truefcr/contact"
	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/projections"
)

// A helpdesk embeds the write side and the report: Anna chats on Monday and
// phones on Tuesday about the same refund. Two tickets, each closed on its
// first contact; one problem, not solved the first time.
func ExampleReporter() {
	ctx := context.Background()
	monday := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	store := events.NewMemoryStore()
	svc, err := contact.NewService(contact.Config{
		Store: store,
		Keys:  contact.KeyRules{DefaultCountry: "358"}, // national numbers are Finnish
	})
	if err != nil {
		log.Fatal(err)
	}
	must := func(_ any, err error) {
		if err != nil {
			log.Fatal(err)
		}
	}

	chat, _, err := svc.Open(ctx, contact.Open{
		Customer: events.Customer{Keys: []string{"email:Anna@Example.com"}},
		Channel:  "chat", Topic: "billing/refund", At: monday,
	})
	must(nil, err)
	must(svc.Route(ctx, chat, contact.Route{Queue: "billing", Agent: "maria", Wait: 20 * time.Second, At: monday.Add(time.Minute)}))
	must(svc.Resolve(ctx, chat, contact.Resolve{Agent: "maria", At: monday.Add(9 * time.Minute)}))

	tuesday := monday.Add(24 * time.Hour)
	call, _, err := svc.Open(ctx, contact.Open{
		Customer: events.Customer{Keys: []string{"phone:040 123 4567", "email:anna@example.com"}},
		Channel:  "phone", Topic: "billing/refund", At: tuesday,
	})
	must(nil, err)
	must(svc.Resolve(ctx, call, contact.Resolve{Agent: "olli", At: tuesday.Add(6 * time.Minute)}))

	// The projections read the same events: here from the store, in
	// production through a projections.Runner.
	r, err := projections.NewReporter(projections.ReportConfig{})
	must(nil, err)
	for e, err := range store.ReadAll(ctx, 0) {
		must(nil, err)
		must(nil, r.Apply(e))
	}
	must(nil, r.AdvanceTo(tuesday.Add(8*24*time.Hour))) // the window has closed: verdicts are final

	fcr := r.Report().FCR
	fmt.Printf("true FCR: %d of %d problems\n", fcr.True.Achieved, fcr.True.Total)
	fmt.Printf("reported FCR: %d of %d tickets\n", fcr.Reported.Achieved, fcr.Reported.Total)
	fmt.Printf("channel switch: chat → phone %d\n", fcr.ChannelSwitch["chat"]["phone"])
	// Output:
	// true FCR: 0 of 1 problems
	// reported FCR: 2 of 2 tickets
	// channel switch: chat → phone 1
}
