package contact_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/truefcr/truefcr/contact"
	"github.com/truefcr/truefcr/contact/contacttest"
	"github.com/truefcr/truefcr/events"
)

func ExampleService() {
	ctx := context.Background()
	store := events.NewMemoryStore()
	svc, err := contact.NewService(contact.Config{
		Store: store,
		Keys:  contact.KeyRules{DefaultCountry: "358"},
		// Deterministic for the example; production uses the defaults.
		Clock: contacttest.NewClock(time.Date(2026, 3, 2, 9, 15, 0, 0, time.UTC)),
		IDs:   contacttest.NewIDs(),
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	issue, _, err := svc.Open(ctx, contact.Open{
		Customer: events.Customer{Keys: []string{"phone:040 123 4567", "email:Anna@Example.com"}},
		Channel:  "phone",
		Topic:    "billing/invoice-error",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	at := func(hhmm string) time.Time {
		t, _ := time.Parse(time.RFC3339, "2026-03-02T"+hhmm+":00Z")
		return t
	}
	_, _ = svc.Route(ctx, issue, contact.Route{Queue: "billing", Agent: "maria", Wait: 40 * time.Second, At: at("09:16")})
	_, _ = svc.Resolve(ctx, issue, contact.Resolve{Agent: "maria", Handle: 4 * time.Minute, At: at("09:20")})

	for e, err := range store.ReadAll(ctx, 0) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(e.Version, e.At.Format("15:04"), e.Type(), e.Meta[events.MetaPartitionKey])
	}
	// Output:
	// 1 09:15 issue.opened email:anna@example.com
	// 2 09:16 issue.routed email:anna@example.com
	// 3 09:20 issue.resolved email:anna@example.com
}

func ExampleService_Resolve_refused() {
	ctx := context.Background()
	svc, _ := contact.NewService(contact.Config{
		Store: events.NewMemoryStore(),
		Clock: contacttest.NewClock(time.Date(2026, 3, 2, 9, 20, 0, 0, time.UTC)),
		IDs:   contacttest.NewIDs(),
	})
	issue, _, _ := svc.Open(ctx, contact.Open{Customer: events.Customer{ID: "C-1"}, Channel: "chat", Topic: "orders"})
	_, _ = svc.Resolve(ctx, issue, contact.Resolve{Agent: "olli"})

	_, err := svc.Resolve(ctx, issue, contact.Resolve{Agent: "olli"})
	fmt.Println(err)
	fmt.Println(errors.Is(err, contact.ErrAlreadyResolved))
	// Output:
	// resolve issue 00000000-0000-7000-8000-000000000001: already resolved at 2026-03-02T09:20:00Z
	// true
}

func ExampleKeyRules_Normalize() {
	rules := contact.KeyRules{DefaultCountry: "358"}
	for _, key := range []string{"phone:(040) 123-4567", "phone:00358 40 123 4567", "email: Anna@Example.COM", "Phone:040"} {
		n, err := rules.Normalize(key)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(n)
	}
	// Output:
	// phone:+358401234567
	// phone:+358401234567
	// email:anna@example.com
	// identity key "Phone:040": kind "Phone" is not a lower-case token ([a-z][a-z0-9_-]*)
}

func ExampleRebuild() {
	issue := contacttest.IssueID()
	first := contacttest.Contact(1)
	is, err := contact.Rebuild(issue, []events.Envelope{
		{ID: contacttest.ID(1), Issue: issue, Version: 1, At: contacttest.Minute(1), Data: &events.Opened{Customer: events.Customer{ID: "C-1"}, Channel: "chat", Topic: "billing", Contact: first}},
		{ID: contacttest.ID(2), Issue: issue, Version: 2, At: contacttest.Minute(2), Data: &events.Routed{Contact: first, Queue: "billing", Agent: "maria"}},
		{ID: contacttest.ID(3), Issue: issue, Version: 3, At: contacttest.Minute(3), Data: &events.Resolved{Contact: first, Agent: "maria"}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(is.Status, is.Version, len(is.Contacts), is.ResolvedBy)
	// Output:
	// resolved 3 1 maria
}

// A webhook that arrives twice: run with the delivery's id as its
// idempotency key, the survey answer it carries is recorded once.
func ExampleWithIdempotencyKey() {
	ctx := context.Background()
	store := events.NewMemoryStore()
	svc, _ := contact.NewService(contact.Config{
		Store: store,
		Clock: contacttest.NewClock(time.Date(2026, 3, 2, 9, 15, 0, 0, time.UTC)),
		IDs:   contacttest.NewIDs(),
	})
	issue, _, _ := svc.Open(ctx, contact.Open{Customer: events.Customer{ID: "C-1"}, Channel: "chat", Topic: "billing"})
	_, _ = svc.Resolve(ctx, issue, contact.Resolve{Agent: "maria"})

	survey := func(delivery string, score int) {
		ctx := contact.WithIdempotencyKey(ctx, "surveys:"+delivery)
		evs, err := svc.Rate(ctx, issue, contact.Rate{Survey: events.SurveyCSAT, Score: score})
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println("answer at version", evs[0].Version)
	}
	survey("d-81", 5)
	survey("d-81", 5) // redelivered
	survey("d-82", 4) // another answer
	fmt.Println(store.Len(), "events")
	// Output:
	// answer at version 3
	// answer at version 3
	// answer at version 4
	// 4 events
}
