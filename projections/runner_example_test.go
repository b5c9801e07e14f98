package projections_test

import (
	"context"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/google/uuid"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/projections"
)

// openings counts the issues opened; any Projection will do.
type openings struct{ n int }

func (o *openings) Apply(e events.Envelope) error {
	if e.Type() == events.TypeOpened {
		o.n++
	}
	return nil
}

// The runner catches up from the store, then follows the live transport;
// an event met on both is applied once.
func ExampleRunner() {
	ctx := context.Background()
	store := events.NewMemoryStore()
	bus := gochannel.NewGoChannel(gochannel.Config{BlockPublishUntilSubscriberAck: true}, watermill.NopLogger{})
	defer bus.Close()
	pub, _ := events.NewPublisher(events.PublisherConfig{Publisher: bus})

	record := func(customer string) {
		issue, contact := uuid.New(), uuid.New()
		e := events.Envelope{ID: uuid.New(), Issue: issue, Version: 1, At: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC),
			Data: &events.Opened{Customer: events.Customer{ID: customer}, Channel: "chat", Topic: "billing", Contact: contact}}
		stored, _ := store.Append(ctx, issue, 0, []events.Envelope{e})
		_ = pub.Publish(ctx, stored)
	}
	record("anna") // before the runner starts: only in the store

	count := &openings{}
	runner, err := projections.NewRunner(projections.RunnerConfig{
		Name:       "openings",
		Projection: count,
		Store:      store,
		Subscriber: bus,
		Topic:      events.DefaultTopic,
		Logger:     watermill.NopLogger{},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- runner.Run(runCtx) }()
	for !runner.CaughtUp() {
		time.Sleep(time.Millisecond)
	}
	record("ben") // live: published once the runner listens
	record("carla")
	for runner.Stats().Applied < 3 {
		time.Sleep(time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		fmt.Println(err)
	}
	runner.View(func() { fmt.Println("issues opened:", count.n) })
	// Output: issues opened: 3
}
