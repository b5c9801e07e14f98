package projections_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/projections"
)

// gatedFCR is an FCR whose first Apply blocks until the gate opens.
type gatedFCR struct {
	*projections.FCR
	once    sync.Once
	entered chan struct{}
	gate    chan struct{}
}

func (g *gatedFCR) Apply(e events.Envelope) error {
	g.once.Do(func() { close(g.entered); <-g.gate })
	return g.FCR.Apply(e)
}

// A Run whose context ends while a Rebuild asks for it stops as any Run
// stopped by its context does: it returns nil and saves its final
// checkpoint (reading its store first). When the Run's select took the
// Rebuild's request first (both ready), and the replay did not begin (its
// context, cancelled by the Run's, was done already), the runner was left
// as one still catching up: its final checkpoint skipped the read of the
// store, was refused (a live event lay above the position), and Run
// returned ErrCheckpoint for a plain stop, in about one of 15 to 70 tries.
func TestARunStoppedWithARebuildPendingSavesItsFinalCheckpoint(t *testing.T) {
	codec := events.NewMsgpackCodec(events.NewRegistry())
	for i := range 150 {
		store := events.NewMemoryStore()
		pubsub := gochannel.NewGoChannel(gochannel.Config{}, watermill.NopLogger{})
		fcr, err := projections.NewFCR(projections.FCRConfig{MaxFuture: -1})
		require.NoError(t, err)
		p := &gatedFCR{FCR: fcr, entered: make(chan struct{}), gate: make(chan struct{})}
		cps := projections.NewMemoryCheckpoints()
		r, err := projections.NewRunner(projections.RunnerConfig{Name: "fcr", Projection: p, Store: store,
			Subscriber: pubsub, Topic: "t", Checkpoints: cps, CheckpointEvery: -1, CheckpointInterval: -1,
			Logger: watermill.NopLogger{}})
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- r.Run(ctx) }()
		require.Eventually(t, r.CaughtUp, 5*time.Second, time.Millisecond)

		// One event, committed, then published with its store position.
		e := openedAt(time.Now().Add(-time.Hour), "email:a@example.com")
		stored, err := store.Append(context.Background(), e.Issue, 0, []events.Envelope{e})
		require.NoError(t, err)
		msg, err := events.NewMessage(codec, stored[0])
		require.NoError(t, err)
		require.NoError(t, pubsub.Publish("t", msg))
		<-p.entered // the Run applies it live, above its position 0

		rebuilt := make(chan error, 1)
		go func() { rebuilt <- r.Rebuild(context.Background()) }() // an admin request of its own
		time.Sleep(20 * time.Millisecond)                          // the Rebuild waits for the Run
		cancel()                                                   // the host stops the Run
		close(p.gate)

		runErr := <-done
		rbErr := <-rebuilt
		if runErr != nil {
			t.Logf("iteration %d: Run: %v; Rebuild: %v", i, runErr, rbErr)
		}
		require.NoError(t, runErr, "iteration %d: a Run stopped by its context returns nil and saves its final checkpoint", i)
		_ = pubsub.Close()
	}
}
