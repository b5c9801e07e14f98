package projections_test

import (
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/projections"
)

// handled counts, per agent, the issues resolved and then reopened: a
// projection of the host's that needs each issue's events once and in
// order, as it remembers who resolved each issue last.
type handled struct {
	resolver map[uuid.UUID]string
	reopened map[string]int
}

func (h *handled) Apply(e events.Envelope) error {
	switch d := e.Data.(type) {
	case *events.Resolved:
		h.resolver[e.Issue] = d.Agent
	case *events.Reopened:
		h.reopened[h.resolver[e.Issue]]++
	}
	return nil
}

// Sequence hands a projection of the host's each issue's events once and
// in version order, whatever the transport delivers, and keeps only the
// open issues and the recent traffic to do so.
func ExampleSequence() {
	h := &handled{resolver: map[uuid.UUID]string{}, reopened: map[string]int{}}
	p, err := projections.Sequence(h, projections.SequenceConfig{Lateness: time.Hour})
	if err != nil {
		fmt.Println(err)
		return
	}
	issue, contact := uuid.New(), uuid.New()
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	stream := []events.Data{
		&events.Opened{Customer: events.Customer{ID: "anna"}, Channel: "chat", Topic: "billing", Contact: contact},
		&events.Resolved{Contact: contact, Agent: "maria"},
		&events.Reopened{Contact: uuid.New(), Channel: "phone"},
		&events.Resolved{Contact: contact, Agent: "li"},
	}
	evs := make([]events.Envelope, len(stream))
	for i, d := range stream {
		evs[i] = events.Envelope{ID: uuid.New(), Issue: issue, Version: uint64(i + 1), At: at.Add(time.Duration(i) * time.Minute), Data: d}
	}
	// Delivered out of order, the reopening twice.
	for _, i := range []int{2, 0, 3, 2, 1} {
		if err := p.Apply(evs[i]); err != nil {
			fmt.Println(err)
			return
		}
	}
	fmt.Println("reopened after maria:", h.reopened["maria"], "after li:", h.reopened["li"])
	fmt.Println("duplicates ignored:", p.DuplicatesIgnored(), "held:", p.Held())
	// Output:
	// reopened after maria: 1 after li: 0
	// duplicates ignored: 1 held: 0
}
