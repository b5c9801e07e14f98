package projections_test

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/projections"
)

// visibleStore is a MemoryStore whose reads see positions up to visible
// only: it stands, deterministically, for "no read of the runner's came
// between this append and that delivery".
type visibleStore struct {
	*events.MemoryStore
	visible atomic.Uint64
	fail    atomic.Bool // every read fails
}

func (s *visibleStore) ReadAll(ctx context.Context, after uint64) iter.Seq2[events.Envelope, error] {
	return func(yield func(events.Envelope, error) bool) {
		if s.fail.Load() {
			yield(events.Envelope{}, fmt.Errorf("store down"))
			return
		}
		limit := s.visible.Load()
		for e, err := range s.MemoryStore.ReadAll(ctx, after) {
			if err == nil && e.Position > limit {
				return
			}
			if !yield(e, err) {
				return
			}
		}
	}
}

// keptCheckpoints keeps a copy of every checkpoint saved: what a process
// that crashed right after that save would start from.
type keptCheckpoints struct {
	*projections.MemoryCheckpoints
	mu    sync.Mutex
	saved []projections.Checkpoint
}

func (c *keptCheckpoints) Save(ctx context.Context, name string, cp projections.Checkpoint) error {
	c.mu.Lock()
	kept := cp
	kept.State = slices.Clone(cp.State)
	c.saved = append(c.saved, kept)
	c.mu.Unlock()
	return c.MemoryCheckpoints.Save(ctx, name, cp)
}

func (c *keptCheckpoints) all() []projections.Checkpoint {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.saved)
}

// run runs r until the stop it returns (or the test's end), which returns
// Run's error.
func run(t *testing.T, r *projections.Runner) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	stop = sync.OnceValue(func() error { cancel(); return <-done })
	t.Cleanup(func() { _ = stop() })
	return stop
}

// liveFCRConfig forgets an issue minutes after its resolution, so that
// a few thousand later events fold it.
var liveFCRConfig = projections.FCRConfig{Window: time.Minute, Lateness: 10 * time.Minute, MaxFuture: -1}

func openedAt(at time.Time, key string) events.Envelope {
	return events.Envelope{ID: uuid.New(), Issue: uuid.New(), Version: 1, At: at,
		Data: &events.Opened{Customer: events.Customer{Keys: []string{key}}, Channel: "chat", Topic: "billing", Contact: uuid.New()}}
}

// restartsToReplay checks that a runner restarted from cp, fed by store
// alone, reports as a replay of store does: the checkpoint's state holds
// no event above its position that the restart would offer again.
func restartsToReplay(t *testing.T, store events.Store, cp projections.Checkpoint, last uint64) {
	t.Helper()
	cps := projections.NewMemoryCheckpoints()
	require.NoError(t, cps.Save(t.Context(), "fcr", cp))
	restored, err := projections.NewFCR(liveFCRConfig)
	require.NoError(t, err)
	r, err := projections.NewRunner(projections.RunnerConfig{Name: "fcr", Projection: restored, Store: store,
		Checkpoints: cps, PollInterval: 5 * time.Millisecond, Logger: watermill.NopLogger{}})
	require.NoError(t, err)
	stop := run(t, r)
	require.Eventually(t, func() bool { return r.CaughtUp() && r.Stats().Position == last }, 20*time.Second, time.Millisecond)
	require.NoError(t, stop())
	direct, err := projections.NewFCR(liveFCRConfig)
	require.NoError(t, err)
	_, _, err = projections.Replay(t.Context(), store, 0, direct)
	require.NoError(t, err)
	assert.Equal(t, direct.Report(), restored.Report(), "a restart from the checkpoint at position %d reports as a replay", cp.Position)
}

// A checkpoint that CheckpointEvery calls for while a read of the store
// (here an IdleAdvance tick's) is under way is not saved at the position
// the read reached while the projection holds events applied live above
// it: a restart from it would offer those events again, and the FCR,
// which has forgotten their issue by then, would count them as late.
func TestRunnerSavesNoCheckpointBelowWhatItAppliedLive(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	mem := events.NewMemoryStore()
	store := &visibleStore{MemoryStore: mem}
	put := func(e events.Envelope) events.Envelope {
		stored, err := mem.Append(t.Context(), e.Issue, e.Version-1, []events.Envelope{e})
		require.NoError(t, err)
		return stored[0]
	}
	b := put(openedAt(t0, "email:b@example.com")) // position 1, read at start
	store.visible.Store(1)

	const n = 4200 // enough for the FCR to sweep (every 4096 events)
	bus := gochannel.NewGoChannel(gochannel.Config{BlockPublishUntilSubscriberAck: true}, watermill.NopLogger{})
	defer bus.Close()
	cps := &keptCheckpoints{MemoryCheckpoints: projections.NewMemoryCheckpoints()}
	fcr, err := projections.NewFCR(liveFCRConfig)
	require.NoError(t, err)
	r, err := projections.NewRunner(projections.RunnerConfig{
		Name: "fcr", Projection: fcr, Store: store, Subscriber: bus, Topics: []string{"slow", "fast"},
		Checkpoints: cps, CheckpointEvery: 3 + n, CheckpointInterval: -1, CheckpointShare: -1,
		IdleAdvance: 20 * time.Millisecond,
		Now:         func() time.Time { return t0 }, // behind every event: the ticks only read the store
		Logger:      watermill.NopLogger{},
	})
	require.NoError(t, err)
	stop := run(t, r)
	defer stop()
	require.Eventually(t, r.CaughtUp, 5*time.Second, time.Millisecond)

	// Position 2: C, whose topic is slow; 3: X, B's resolution; then n
	// issues 13 minutes later, which fold B. The fast topic delivers X
	// and the n openings at once, with their positions.
	c := put(openedAt(t0.Add(5*time.Minute), "email:c@example.com"))
	x := put(events.Envelope{ID: uuid.New(), Issue: b.Issue, Version: 2, At: t0.Add(time.Minute),
		Data: &events.Resolved{Contact: b.Data.(*events.Opened).Contact, Agent: "maria"}})
	live := []events.Envelope{x}
	for i := range n {
		live = append(live, put(openedAt(t0.Add(13*time.Minute), fmt.Sprintf("email:y%d@example.com", i))))
	}
	last := live[len(live)-1].Position
	publish := func(topic string, evs []events.Envelope) {
		pub, err := events.NewPublisher(events.PublisherConfig{Publisher: bus, Topic: func(events.Envelope) string { return topic }})
		require.NoError(t, err)
		for _, e := range evs {
			require.NoError(t, pub.Publish(t.Context(), []events.Envelope{e}))
		}
	}
	publish("fast", live)
	require.Eventually(t, func() bool { return r.Stats().Applied == int64(2+n) }, 20*time.Second, time.Millisecond)
	require.Empty(t, cps.all(), "no checkpoint yet")

	// The next tick reads C, the change that calls for a checkpoint, then
	// X and the openings, which it passes over.
	store.visible.Store(last)
	require.Eventually(t, func() bool { return r.Stats().Position == last }, 20*time.Second, time.Millisecond)
	publish("slow", []events.Envelope{c}) // covered by the position
	require.NoError(t, stop())

	saved := cps.all()
	require.NotEmpty(t, saved, "the final checkpoint at least")
	for _, cp := range saved {
		restartsToReplay(t, mem, cp, last)
	}
}

// The final checkpoint of a runner whose read of the store fails as it
// stops is not saved where it stands when its projection holds events
// applied live above that position, and Run says so: a restart from the
// checkpoint before reads them as it would have.
func TestRunnerFinalCheckpointNotSavedBelowWhatItAppliedLive(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	mem := events.NewMemoryStore()
	store := &visibleStore{MemoryStore: mem}
	store.visible.Store(1 << 62)
	put := func(e events.Envelope) events.Envelope {
		stored, err := mem.Append(t.Context(), e.Issue, e.Version-1, []events.Envelope{e})
		require.NoError(t, err)
		return stored[0]
	}
	b := put(openedAt(t0, "email:b@example.com"))

	const n = 4200
	bus := gochannel.NewGoChannel(gochannel.Config{BlockPublishUntilSubscriberAck: true}, watermill.NopLogger{})
	defer bus.Close()
	cps := &keptCheckpoints{MemoryCheckpoints: projections.NewMemoryCheckpoints()}
	fcr, err := projections.NewFCR(liveFCRConfig)
	require.NoError(t, err)
	r, err := projections.NewRunner(projections.RunnerConfig{Name: "fcr", Projection: fcr, Store: store, Subscriber: bus,
		Topic: "events", Checkpoints: cps, CheckpointEvery: -1, CheckpointInterval: -1, Logger: watermill.NopLogger{}})
	require.NoError(t, err)
	stop := run(t, r)
	require.Eventually(t, r.CaughtUp, 5*time.Second, time.Millisecond)

	pub, err := events.NewPublisher(events.PublisherConfig{Publisher: bus, Topic: func(events.Envelope) string { return "events" }})
	require.NoError(t, err)
	x := put(events.Envelope{ID: uuid.New(), Issue: b.Issue, Version: 2, At: t0.Add(time.Minute),
		Data: &events.Resolved{Contact: b.Data.(*events.Opened).Contact, Agent: "maria"}})
	require.NoError(t, pub.Publish(t.Context(), []events.Envelope{x}))
	var last uint64
	for i := range n {
		y := put(openedAt(t0.Add(13*time.Minute), fmt.Sprintf("email:y%d@example.com", i)))
		require.NoError(t, pub.Publish(t.Context(), []events.Envelope{y}))
		last = y.Position
	}
	require.Eventually(t, func() bool { return r.Stats().Applied == int64(2+n) }, 20*time.Second, time.Millisecond)
	store.fail.Store(true) // the store is down as the process stops
	err = stop()
	require.ErrorIs(t, err, projections.ErrCheckpoint)
	assert.ErrorContains(t, err, "store down")

	store.fail.Store(false)
	for _, cp := range cps.all() {
		restartsToReplay(t, mem, cp, last)
	}
	restartsToReplay(t, mem, projections.Checkpoint{}, last) // none: from the start
}

// foreignLine is a runner of an FCR over a store and a GoChannel that
// checkpoints at every change, to which an opening was published with a
// position (foreignPos) that the store never handed out.
type foreignLine struct {
	stop func() error
	cps  *projections.MemoryCheckpoints
	logs *watermill.CaptureLoggerAdapter
	pub  *events.Publisher
}

const foreignPos = 1_000_000

func startForeignLine(t *testing.T, store events.Store) foreignLine {
	bus := gochannel.NewGoChannel(gochannel.Config{BlockPublishUntilSubscriberAck: true}, watermill.NopLogger{})
	t.Cleanup(func() { _ = bus.Close() })
	fcr, err := projections.NewFCR(projections.FCRConfig{Window: time.Hour, Lateness: time.Hour, MaxFuture: -1})
	require.NoError(t, err)
	l := foreignLine{cps: projections.NewMemoryCheckpoints(), logs: watermill.NewCaptureLogger()}
	r, err := projections.NewRunner(projections.RunnerConfig{Name: "fcr", Projection: fcr, Store: store, Subscriber: bus,
		Topic: "events", Checkpoints: l.cps, CheckpointEvery: 1, CheckpointInterval: 20 * time.Millisecond, Logger: l.logs})
	require.NoError(t, err)
	l.stop = run(t, r)
	require.Eventually(t, r.CaughtUp, 5*time.Second, time.Millisecond)
	l.pub, err = events.NewPublisher(events.PublisherConfig{Publisher: bus, Topic: func(events.Envelope) string { return "events" }})
	require.NoError(t, err)
	foreign := openedAt(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC), "email:old@example.com")
	foreign.Position = foreignPos
	require.NoError(t, l.pub.Publish(t.Context(), []events.Envelope{foreign}))
	return l
}

// logged counts the error log lines msg about the foreign position.
func (l foreignLine) logged(msg string) int {
	n := 0
	for _, m := range l.logs.Captured()[watermill.ErrorLogLevel] {
		if m.Msg == msg && m.Fields["position"] == uint64(foreignPos) {
			n++
		}
	}
	return n
}

// A live message whose position lies beyond everything the Store has
// handed out is not the Store's (a broker's backlog from a store made
// again, say): once a read of the Store has reached its end, the runner
// logs it and stops waiting for that position, rather than stop saving
// checkpoints for good.
func TestRunnerCheckpointsPastAPositionNotTheStores(t *testing.T) {
	mem := events.NewMemoryStore()
	l := startForeignLine(t, mem)
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	var last uint64
	for i := range 20 {
		o := openedAt(t0.Add(time.Duration(i)*time.Minute), fmt.Sprintf("email:%d@example.com", i))
		e, err := mem.Append(t.Context(), o.Issue, 0, []events.Envelope{o})
		require.NoError(t, err)
		require.NoError(t, l.pub.Publish(t.Context(), e))
		last = e[0].Position
	}
	require.Eventually(t, func() bool {
		cp, ok, err := l.cps.Load(t.Context(), "fcr")
		return err == nil && ok && cp.Position == last
	}, 5*time.Second, time.Millisecond, "checkpoints go on up to the store's last event")
	require.NoError(t, l.stop())
	assert.Equal(t, 1, l.logged("a live message carried a position beyond the store's last: not the store's"), "the foreign position is logged")
}

// failingHead is a MemoryStore whose Head fails.
type failingHead struct{ *events.MemoryStore }

func (failingHead) Head(context.Context) (uint64, error) {
	return 0, fmt.Errorf("permission denied for table head")
}

// When the Store cannot tell its head, the runner cannot tell a live
// position beyond its read from another store's: checkpoints wait, and it
// says why, once.
func TestRunnerSaysWhyCheckpointsWaitWhenTheHeadFails(t *testing.T) {
	l := startForeignLine(t, failingHead{events.NewMemoryStore()})
	const msg = "cannot read the store's head: checkpoints wait for a live position beyond the store's read"
	require.Eventually(t, func() bool { return l.logged(msg) > 0 }, 5*time.Second, time.Millisecond)
	time.Sleep(100 * time.Millisecond) // several more checkpoint ticks
	assert.Equal(t, 1, l.logged(msg), "said once")
	require.ErrorIs(t, l.stop(), projections.ErrCheckpoint, "nor is the final one saved")
}
