package projections

import (
	"context"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
)

// versionLog is a projection that takes each issue's events in rising
// version order, gaps allowed, and records the versions it got.
type versionLog struct{ got map[uuid.UUID][]uint64 }

func (p *versionLog) Apply(e events.Envelope) error {
	vs := p.got[e.Issue]
	if n := len(vs); n > 0 && e.Version <= vs[n-1] {
		return assert.AnError
	}
	p.got[e.Issue] = append(vs, e.Version)
	return nil
}

// A Filter that passes over some of an issue's events, by type, does not
// hold its later events back from a projection that the runner sequences:
// the runner sequences the versions it passes over too. Before, the
// routings passed over left a gap that every resolution waited for, for
// good.
func TestRunnerFilterPassesOverSomeOfAnIssuesEvents(t *testing.T) {
	noRoutings := func(e events.Envelope) bool { return e.Type() != events.TypeRouted }
	log := testLog(5) // opened, routed, resolved
	store := events.NewMemoryStore()
	appendAll(t, store, log)
	p := &versionLog{got: map[uuid.UUID][]uint64{}}
	r, err := NewRunner(RunnerConfig{Name: "no-routings", Projection: p, Store: store, Logger: quietLogger(), Filter: noRoutings})
	require.NoError(t, err)
	stop := startRunner(t, r)
	require.Eventually(t, r.CaughtUp, 5*time.Second, time.Millisecond)
	require.NoError(t, stop())
	require.Len(t, p.got, 5)
	for issue, vs := range p.got {
		assert.Equal(t, []uint64{1, 3}, vs, "issue %s", issue)
	}
	st := r.Stats()
	assert.Zero(t, st.Held)
	assert.Equal(t, int64(5), st.Filtered)
	assert.Equal(t, int64(10), st.Applied)

	// Delivered out of order: the resolution waits for the routing, and
	// goes on when the routing is passed over.
	p = &versionLog{got: map[uuid.UUID][]uint64{}}
	r, err = NewRunner(RunnerConfig{Name: "no-routings", Projection: p, Store: events.NewMemoryStore(), Logger: quietLogger(), Filter: noRoutings})
	require.NoError(t, err)
	offer := func(e events.Envelope) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.offer(e)
	}
	offer(log[0])
	offer(log[2])
	assert.Equal(t, 1, r.Stats().Held, "the resolution waits for the routing")
	offer(log[1])
	assert.Equal(t, []uint64{1, 3}, p.got[log[0].Issue])
	assert.Zero(t, r.Stats().Held)
}

// A version passed over and held for a gap, with a later kept version of
// its issue, is held again when the checkpoint that saved them is
// restored, and the kept version then goes on once the gap fills: the
// sequencer knows the issue by the held versions, whichever comes first.
func TestRunnerFilterRestoresAPassedOverVersionHeld(t *testing.T) {
	noRoutings := func(e events.Envelope) bool { return e.Type() != events.TypeRouted }
	log := testLog(1) // opened, routed, resolved
	cps := NewMemoryCheckpoints()
	bus := gochannel.NewGoChannel(gochannel.Config{}, quietLogger())
	defer bus.Close()
	p := &versionLog{got: map[uuid.UUID][]uint64{}}
	cfg := RunnerConfig{Name: "no-routings", Projection: p, Subscriber: bus, Topic: "events", Checkpoints: cps, Logger: quietLogger(), Filter: noRoutings}
	r, err := NewRunner(cfg)
	require.NoError(t, err)
	offer := func(r *Runner, e events.Envelope) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.offer(e)
	}
	offer(r, log[2])
	offer(r, log[1])
	require.Equal(t, 2, r.Stats().Held)
	r.mu.Lock()
	cp, err := r.snapshot()
	r.mu.Unlock()
	require.NoError(t, err)
	require.NoError(t, cps.Save(context.Background(), cfg.Name, cp))

	p = &versionLog{got: map[uuid.UUID][]uint64{}}
	cfg.Projection = p
	r, err = NewRunner(cfg)
	require.NoError(t, err)
	require.NoError(t, r.restore(context.Background()))
	st := r.Stats()
	assert.Equal(t, 2, st.Held, "both held versions restored")
	assert.Zero(t, st.Filtered, "nothing came since the restore")
	offer(r, log[0])
	assert.Equal(t, []uint64{1, 3}, p.got[log[0].Issue])
	assert.Zero(t, r.Stats().Held)
}
