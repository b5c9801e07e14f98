package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/events/pgstore"
	"github.com/truefcr/truefcr/events/pgstore/pgtest"
)

// examplePool connects to the test database and gives the example a
// schema of its own, dropped by the returned function.
func examplePool(ctx context.Context) (*pgxpool.Pool, string, func()) {
	pool, err := pgxpool.New(ctx, pgtest.DSN())
	if err != nil {
		panic(err)
	}
	schema := pgtest.NewSchemaName("example")
	return pool, schema, func() {
		_, _ = pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
		pool.Close()
	}
}

// exampleEvents returns an issue's opening and its resolution.
func exampleEvents(issue uuid.UUID) []events.Envelope {
	contact := uuid.New()
	at := time.Date(2026, 3, 2, 9, 15, 0, 0, time.UTC)
	return []events.Envelope{
		{ID: uuid.New(), Issue: issue, Version: 1, At: at,
			Data: &events.Opened{Customer: events.Customer{Keys: []string{"phone:+358401234567"}},
				Channel: "phone", Topic: "billing/invoice-error", Contact: contact}},
		{ID: uuid.New(), Issue: issue, Version: 2, At: at.Add(4 * time.Minute),
			Data: &events.Resolved{Contact: contact, Agent: "anna"}},
	}
}

func Example() {
	ctx := context.Background()
	pool, schema, done := examplePool(ctx)
	defer done()

	store, err := pgstore.New(ctx, pool, pgstore.Config{Schema: schema})
	if err != nil {
		fmt.Println(err)
		return
	}
	issue := uuid.New()
	if _, err := store.Append(ctx, issue, 0, exampleEvents(issue)); err != nil {
		fmt.Println(err)
		return
	}
	// A writer that did not see version 2 loses the race.
	_, err = store.Append(ctx, issue, 1, exampleEvents(issue)[1:])
	fmt.Println(err != nil && errors.Is(err, events.ErrVersionConflict))

	for e, err := range store.ReadAll(ctx, 0) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(e.Position, e.Version, e.Type())
	}
	// Output:
	// true
	// 1 1 issue.opened
	// 2 2 issue.resolved
}

func ExampleStore_AppendBatch() {
	ctx := context.Background()
	pool, schema, done := examplePool(ctx)
	defer done()
	store, err := pgstore.New(ctx, pool, pgstore.Config{Schema: schema})
	if err != nil {
		fmt.Println(err)
		return
	}

	// An import writes many streams per transaction: all of them or none.
	var batches []pgstore.Batch
	for range 3 {
		issue := uuid.New()
		batches = append(batches, pgstore.Batch{Issue: issue, Events: exampleEvents(issue)})
	}
	out, err := store.AppendBatch(ctx, batches)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, evs := range out {
		fmt.Println(evs[0].Position, evs[1].Position)
	}
	// Output:
	// 1 2
	// 3 4
	// 5 6
}

func ExampleNewForwarder() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool, schema, done := examplePool(ctx)
	defer done()

	// Appends write their events to the outbox in the same transaction.
	store, err := pgstore.New(ctx, pool, pgstore.Config{Schema: schema, Outbox: &pgstore.OutboxConfig{}})
	if err != nil {
		fmt.Println(err)
		return
	}
	issue := uuid.New()
	if _, err := store.Append(ctx, issue, 0, exampleEvents(issue)); err != nil {
		fmt.Println(err)
		return
	}

	// The forwarder moves them to the broker: here an in-process channel.
	broker := gochannel.NewGoChannel(gochannel.Config{BlockPublishUntilSubscriberAck: true}, watermill.NopLogger{})
	msgs, err := broker.Subscribe(ctx, events.DefaultTopic)
	if err != nil {
		fmt.Println(err)
		return
	}
	fwd, err := pgstore.NewForwarder(ctx, pool, broker, pgstore.ForwarderConfig{Schema: schema, PollInterval: 50 * time.Millisecond})
	if err != nil {
		fmt.Println(err)
		return
	}
	go func() { _ = fwd.Run(ctx) }()
	defer func() { _ = fwd.Close() }()

	for range 2 {
		msg := <-msgs
		e, err := events.DecodeMessage(msg)
		msg.Ack()
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(e.Version, e.Type(), msg.UUID == e.ID.String())
	}
	// Output:
	// 1 issue.opened true
	// 2 issue.resolved true
}
