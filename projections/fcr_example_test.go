package projections_test

import (
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/projections"
)

// A customer chats on Monday and phones on Tuesday about the same invoice
// error. Each ticket was closed on its first contact, so a per-ticket
// helpdesk reports 2 of 2; the customer's problem took two contacts, so
// true FCR is 0 of 1.
func ExampleNewFCR() {
	fcr, err := projections.NewFCR(projections.FCRConfig{Window: 7 * 24 * time.Hour})
	if err != nil {
		fmt.Println(err)
		return
	}
	monday := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	anna := events.Customer{Keys: []string{"email:anna@example.com"}}
	ticket := func(at time.Time, channel string) {
		issue, contact := uuid.New(), uuid.New()
		for v, d := range []events.Data{
			&events.Opened{Customer: anna, Channel: channel, Topic: "billing/invoice-error", Contact: contact},
			&events.Resolved{Contact: contact, Agent: "ann"},
		} {
			e := events.Envelope{ID: uuid.New(), Issue: issue, Version: uint64(v + 1), At: at.Add(time.Duration(v) * 10 * time.Minute), Data: d}
			if err := fcr.Apply(e); err != nil {
				fmt.Println(err)
			}
		}
	}
	ticket(monday, "chat")
	ticket(monday.Add(25*time.Hour), "phone")
	ticket(monday.Add(30*24*time.Hour), "web") // another problem; it moves the watermark past the window

	r := fcr.Report()
	fmt.Printf("true FCR %d/%d, reported FCR %d/%d, inflation %.0f points\n",
		r.True.Achieved, r.True.Total, r.Reported.Achieved, r.Reported.Total, 100*r.Inflation)
	fmt.Printf("pending %d, channel switches chat→phone %d\n", r.Pending, r.ChannelSwitch["chat"]["phone"])
	// Output:
	// true FCR 0/1, reported FCR 2/2, inflation 100 points
	// pending 1, channel switches chat→phone 1
}

// A host saves the projection with the store position it covers, and on
// the next start restores it instead of replaying the history.
func ExampleFCR_Snapshot() {
	fcr, err := projections.NewFCR(projections.FCRConfig{})
	if err != nil {
		fmt.Println(err)
		return
	}
	issue, contact := uuid.New(), uuid.New()
	err = fcr.Apply(events.Envelope{ID: uuid.New(), Issue: issue, Version: 1, Position: 41,
		At:   time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC),
		Data: &events.Opened{Customer: events.Customer{ID: "C-1"}, Channel: "phone", Topic: "tech/tv", Contact: contact}})
	if err != nil {
		fmt.Println(err)
	}
	snap, err := fcr.Snapshot(41)
	if err != nil {
		fmt.Println(err)
	}

	restarted, err := projections.NewFCR(projections.FCRConfig{})
	if err != nil {
		fmt.Println(err)
		return
	}
	position, err := restarted.Restore(snap)
	if err != nil {
		fmt.Println(err)
	}
	fmt.Println("resume after position", position, "with", restarted.Report().Unresolved, "open problem")
	// Output: resume after position 41 with 1 open problem
}
