package projections

import (
	"context"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
)

// panicky is a tally that panics on its n-th Apply, and counts the saves
// of its state.
type panicky struct {
	*tally
	n, applied int
	saves      int
}

func (p *panicky) Apply(e events.Envelope) error {
	if p.applied++; p.applied == p.n {
		panic("projection bug")
	}
	return p.tally.Apply(e)
}

func (p *panicky) MarshalBinary() ([]byte, error) { p.saves++; return p.tally.MarshalBinary() }

// runPanics runs r and returns what Run panicked with, failing the test
// if Run returns instead or neither within 5 s.
func runPanics(t *testing.T, run func() error) any {
	t.Helper()
	out := make(chan any, 1)
	go func() {
		defer func() { out <- recover() }()
		err := run()
		t.Errorf("returned %v rather than panicking", err)
	}()
	select {
	case p := <-out:
		return p
	case <-time.After(5 * time.Second):
		t.Fatal("neither returned nor panicked within 5 s of the projection's panic")
		return nil
	}
}

// A projection that panics stops the runner with that panic, live with
// events queued behind it, while catching up from the store, and in a
// Rebuild: Run (or Rebuild) panics with it, applies no more events and
// saves no checkpoint, and the runner's lock is free for View.
func TestRunnerPassesAProjectionsPanicOn(t *testing.T) {
	log := testLog(100)
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, p *panicky) (*Runner, func() error)
	}{
		{"live", func(t *testing.T, p *panicky) (*Runner, func() error) {
			bus := gochannel.NewGoChannel(gochannel.Config{Persistent: true}, quietLogger())
			t.Cleanup(func() { _ = bus.Close() })
			publishAll(t, bus, "events", log) // queued before the runner starts
			r, err := NewRunner(RunnerConfig{Name: "p", Projection: p, Subscriber: bus, Topic: "events", Logger: quietLogger(), CheckpointEvery: 10_000})
			require.NoError(t, err)
			return r, func() error { return r.Run(context.Background()) }
		}},
		{"catching up", func(t *testing.T, p *panicky) (*Runner, func() error) {
			store := events.NewMemoryStore()
			appendAll(t, store, log)
			r, err := NewRunner(RunnerConfig{Name: "p", Projection: p, Store: store, Logger: quietLogger(), CheckpointEvery: 10_000})
			require.NoError(t, err)
			return r, func() error { return r.Run(context.Background()) }
		}},
		{"rebuilding", func(t *testing.T, p *panicky) (*Runner, func() error) {
			store := events.NewMemoryStore()
			appendAll(t, store, log)
			r, err := NewRunner(RunnerConfig{Name: "p", Projection: p, Store: store, Logger: quietLogger(), CheckpointEvery: 10_000})
			require.NoError(t, err)
			return r, func() error { return r.Rebuild(context.Background()) }
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &panicky{tally: newTally(), n: 50}
			r, run := tc.run(t, p)
			saves := p.saves // NewRunner may keep the initial state
			assert.Equal(t, "projection bug", runPanics(t, run))
			viewed := make(chan struct{})
			go func() { r.View(func() {}); close(viewed) }()
			select {
			case <-viewed:
			case <-time.After(5 * time.Second):
				t.Fatal("View waits for a lock that the panic left held")
			}
			time.Sleep(50 * time.Millisecond) // what a subscription still delivers is not applied
			r.View(func() {
				assert.Equal(t, 50, p.applied, "no event after the panic")
				assert.Equal(t, saves, p.saves, "no checkpoint of the state the panic left")
			})
		})
	}
}
