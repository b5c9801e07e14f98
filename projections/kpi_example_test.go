package projections_test

import (
	"time"

	"github.com/google/uuid"

	"github.com/truefcr/truefcr/events"
)

// kpiExampleIssue writes the events of one issue, versions in order.
type kpiExampleIssue struct {
	id     uuid.UUID
	events []events.Envelope
}

func newKPIExampleIssue() *kpiExampleIssue { return &kpiExampleIssue{id: uuid.New()} }

// add appends the issue's next event, at minutes past 09:00 on 2 March 2026.
func (is *kpiExampleIssue) add(minutes int, d events.Data) *kpiExampleIssue {
	is.events = append(is.events, events.Envelope{
		ID:      uuid.New(),
		Issue:   is.id,
		Version: uint64(len(is.events) + 1),
		At:      time.Date(2026, 3, 2, 9, minutes, 0, 0, time.UTC),
		Data:    d,
	})
	return is
}

func kpiExampleOpened(channel, topic string, contact uuid.UUID) *events.Opened {
	return &events.Opened{Customer: events.Customer{Keys: []string{"email:anna@example.com"}}, Channel: channel, Topic: topic, Contact: contact}
}
