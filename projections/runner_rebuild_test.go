package projections

import (
	"context"
	"errors"
	"iter"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
)

// gate pauses a gateStore's ReadAll before it yields position pos: reached
// closes when it got there, and it goes on once proceed is closed.
type gate struct {
	pos              uint64
	reached, proceed chan struct{}
}

func newGate(pos uint64) *gate {
	return &gate{pos: pos, reached: make(chan struct{}), proceed: make(chan struct{})}
}

// gateStore is a MemoryStore whose ReadAll pauses at its gate, and makes a
// read from 0 fail after failAfter events once failRebuild is set.
type gateStore struct {
	*events.MemoryStore
	gate        atomic.Pointer[gate]
	failRebuild atomic.Bool
	failAfter   int
}

func newGateStore() *gateStore {
	return &gateStore{MemoryStore: events.NewMemoryStore()}
}

func (s *gateStore) ReadAll(ctx context.Context, after uint64) iter.Seq2[events.Envelope, error] {
	return func(yield func(events.Envelope, error) bool) {
		n := 0
		for e, err := range s.MemoryStore.ReadAll(ctx, after) {
			if err != nil {
				yield(e, err)
				return
			}
			if after == 0 && s.failRebuild.Load() && n == s.failAfter {
				yield(events.Envelope{}, errors.New("store down"))
				return
			}
			if g := s.gate.Load(); g != nil && e.Position == g.pos && s.gate.CompareAndSwap(g, nil) {
				close(g.reached)
				<-g.proceed
			}
			n++
			if !yield(e, nil) {
				return
			}
		}
	}
}

// A Rebuild that fails while a caught-up Run is in the middle of a store
// read: the Run's read goes on from where the Rebuild left the projection,
// not from where it was, so that the events the Rebuild did not reach are
// read, and the Run is caught up again once it has read them.
func TestRunnerReadsOnFromAFailedRebuild(t *testing.T) {
	store := newGateStore()
	store.failAfter = 3
	appendAll(t, store, testLog(2)) // positions 1..6
	p := newTally()
	cps := NewMemoryCheckpoints()
	r, err := NewRunner(RunnerConfig{Name: "t", Projection: p, Store: store, Checkpoints: cps,
		PollInterval: time.Millisecond, Logger: quietLogger()})
	require.NoError(t, err)
	stop := startRunner(t, r)
	require.Eventually(t, r.CaughtUp, 5*time.Second, time.Millisecond)
	waitApplied(t, r, 6)

	g := newGate(10)
	store.gate.Store(g)
	store.failRebuild.Store(true)
	appendAll(t, store, testLog(3)) // positions 7..15
	<-g.reached                     // the poll read 7..9 and is about to yield 10
	require.ErrorContains(t, r.Rebuild(context.Background()), "store down")
	assert.False(t, r.CaughtUp(), "the Rebuild stopped at position 3")
	close(g.proceed)

	require.Eventually(t, r.CaughtUp, 5*time.Second, time.Millisecond)
	lag, err := r.Lag(context.Background())
	require.NoError(t, err)
	assert.Zero(t, lag.Behind)
	require.NoError(t, stop())
	assert.Equal(t, wantTally(5), p.ByType, "the store holds 5 issues")
	cp, _, err := cps.Load(context.Background(), "t")
	require.NoError(t, err)
	assert.Equal(t, uint64(15), cp.Position)
}

// The same while the Run catches up from the store at its start.
func TestRunnerCatchesUpFromAFailedRebuild(t *testing.T) {
	store := newGateStore()
	store.failAfter = 3
	appendAll(t, store, testLog(5)) // positions 1..15
	p := newTally()
	r, err := NewRunner(RunnerConfig{Name: "t", Projection: p, Store: store,
		PollInterval: time.Millisecond, Logger: quietLogger()})
	require.NoError(t, err)
	// The initial catch-up reads from 0 as well: gate it at 10, and make
	// only the Rebuild's read fail.
	g := newGate(10)
	store.gate.Store(g)
	stop := startRunner(t, r)
	<-g.reached
	store.failRebuild.Store(true)
	require.Error(t, r.Rebuild(context.Background()))
	close(g.proceed)
	require.Eventually(t, r.CaughtUp, 5*time.Second, time.Millisecond)
	require.NoError(t, stop())
	assert.Equal(t, wantTally(5), p.ByType)
}

// Two Rebuilds run one after the other: the first to end does not make the
// runner caught up while the second replays from zero.
func TestRunnerRebuildsOneAtATime(t *testing.T) {
	store := newGateStore()
	appendAll(t, store, testLog(5))
	r, err := NewRunner(RunnerConfig{Name: "t", Projection: newTally(), Store: store,
		PollInterval: time.Millisecond, Logger: quietLogger()})
	require.NoError(t, err)
	stop := startRunner(t, r)
	require.Eventually(t, r.CaughtUp, 5*time.Second, time.Millisecond)
	g1 := newGate(8) // the first Rebuild's read stops at 8
	store.gate.Store(g1)
	first := make(chan error, 1)
	go func() { first <- r.Rebuild(context.Background()) }()
	<-g1.reached
	// The second Rebuild finds CaughtUp false, and waits for the first.
	second := make(chan error, 1)
	go func() { second <- r.Rebuild(context.Background()) }()
	time.Sleep(20 * time.Millisecond)
	g2 := newGate(5) // the second Rebuild's read stops at 5
	store.gate.Store(g2)
	close(g1.proceed)
	require.NoError(t, <-first)
	<-g2.reached // the second Rebuild replays from zero, holding r.mu
	assert.False(t, r.CaughtUp(), "a Rebuild is replaying from zero")
	close(g2.proceed)
	require.NoError(t, <-second)
	require.NoError(t, stop())
}

// slowRestore is a tally whose UnmarshalBinary takes 300 ms.
type slowRestore struct{ *tally }

func (s slowRestore) UnmarshalBinary(b []byte) error {
	time.Sleep(300 * time.Millisecond)
	return s.tally.UnmarshalBinary(b)
}

// View, Stats and Lag during a restore that holds the runner's lock wait
// or answer, nothing deadlocks, and a Rebuild meanwhile stands.
func TestRunnerAnswersWhileItRestores(t *testing.T) {
	store := events.NewMemoryStore()
	appendAll(t, store, testLog(3))
	cps := NewMemoryCheckpoints()
	r1, err := NewRunner(RunnerConfig{Name: "t", Projection: newTally(), Store: store, Checkpoints: cps, Logger: quietLogger()})
	require.NoError(t, err)
	stop := startRunner(t, r1)
	require.Eventually(t, r1.CaughtUp, 5*time.Second, time.Millisecond)
	require.NoError(t, stop())

	p := slowRestore{newTally()}
	r, err := NewRunner(RunnerConfig{Name: "t", Projection: p, Store: store, Checkpoints: cps, PollInterval: time.Millisecond, Logger: quietLogger()})
	require.NoError(t, err)
	stop = startRunner(t, r)
	time.Sleep(50 * time.Millisecond) // in UnmarshalBinary, holding r.mu
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = r.Stats()
		_, _ = r.Lag(context.Background())
		r.View(func() {})
		require.NoError(t, r.Rebuild(context.Background()))
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("deadlock")
	}
	require.Eventually(t, r.CaughtUp, 5*time.Second, time.Millisecond)
	require.NoError(t, stop())
	assert.Equal(t, wantTally(3), p.ByType)
}

// A Rebuild that fails does not give CaughtUp back to a Run that follows
// its Subscriber, which reads the store after where the Rebuild stopped
// only at its next checkpoint (never here: CheckpointInterval negative).
func TestRunnerIsNotCaughtUpWithABacklogAfterAFailedRebuild(t *testing.T) {
	store := newGateStore()
	store.failAfter = 3
	appendAll(t, store, testLog(5))
	bus := gochannel.NewGoChannel(gochannel.Config{BlockPublishUntilSubscriberAck: true}, quietLogger())
	defer bus.Close()
	r, err := NewRunner(RunnerConfig{Name: "t", Projection: newTally(), Store: store, Subscriber: bus, Topic: "events",
		CheckpointInterval: -1, Logger: quietLogger()})
	require.NoError(t, err)
	stop := startRunner(t, r)
	require.Eventually(t, r.CaughtUp, 5*time.Second, time.Millisecond)
	store.failRebuild.Store(true)
	require.Error(t, r.Rebuild(context.Background()))
	time.Sleep(500 * time.Millisecond)
	lag, err := r.Lag(context.Background())
	require.NoError(t, err)
	require.Positive(t, lag.Behind)
	assert.False(t, r.CaughtUp(), "caught up with a backlog")
	require.NoError(t, stop())
}

// tailStore is a gateStore whose ReadAll, for a read after a position > 0,
// pauses once it has yielded everything (before returning) when tail is set.
type tailStore struct {
	*gateStore
	tail atomic.Pointer[gate]
}

func (s *tailStore) ReadAll(ctx context.Context, after uint64) iter.Seq2[events.Envelope, error] {
	return func(yield func(events.Envelope, error) bool) {
		for e, err := range s.gateStore.ReadAll(ctx, after) {
			if !yield(e, err) {
				return
			}
			if err != nil {
				return
			}
		}
		if g := s.tail.Load(); g != nil && after > 0 && s.tail.CompareAndSwap(g, nil) {
			close(g.reached)
			<-g.proceed
		}
	}
}

// A poll that read the store to its end just before a Rebuild began does
// not make the runner caught up while the Rebuild replays from zero.
func TestRunnerIsNotCaughtUpWhileARebuildReplays(t *testing.T) {
	store := &tailStore{gateStore: newGateStore()}
	appendAll(t, store, testLog(5)) // 1..15
	r, err := NewRunner(RunnerConfig{Name: "t", Projection: newTally(), Store: store,
		PollInterval: time.Millisecond, Logger: quietLogger()})
	require.NoError(t, err)
	stop := startRunner(t, r)
	require.Eventually(t, r.CaughtUp, 5*time.Second, time.Millisecond)
	waitApplied(t, r, 15)

	tail := newGate(0)
	store.tail.Store(tail)
	<-tail.reached // a poll read 15.. to the end and is about to return
	g := newGate(5)
	store.gate.Store(g)
	done := make(chan error, 1)
	go func() { done <- r.Rebuild(context.Background()) }()
	<-g.reached // the Rebuild replays from zero, holding r.mu, at position 4
	require.False(t, r.CaughtUp())
	close(tail.proceed) // the poll returns and rejoins
	time.Sleep(100 * time.Millisecond)
	assert.False(t, r.CaughtUp(), "CaughtUp while a Rebuild replays from zero")
	close(g.proceed)
	require.NoError(t, <-done)
	require.NoError(t, stop())
}

// A checkpoint's sweep (Store and Subscriber) whose read ended just before
// a Rebuild that failed does not make the runner caught up with the
// backlog that the Rebuild left.
func TestRunnerSweepBeforeAFailedRebuildDoesNotCatchUp(t *testing.T) {
	store := &tailStore{gateStore: newGateStore()}
	store.failAfter = 3
	appendAll(t, store, testLog(5))
	bus := gochannel.NewGoChannel(gochannel.Config{BlockPublishUntilSubscriberAck: true}, quietLogger())
	defer bus.Close()
	r, err := NewRunner(RunnerConfig{Name: "t", Projection: newTally(), Store: store, Subscriber: bus, Topic: "events",
		CheckpointInterval: 300 * time.Millisecond, Logger: quietLogger()})
	require.NoError(t, err)
	stop := startRunner(t, r)
	require.Eventually(t, r.CaughtUp, 5*time.Second, time.Millisecond)

	tail := newGate(0)
	store.tail.Store(tail)
	<-tail.reached // the tick's sweep read the store to its end
	store.failRebuild.Store(true)
	require.Error(t, r.Rebuild(context.Background()))
	close(tail.proceed)
	time.Sleep(50 * time.Millisecond)
	lag, err := r.Lag(context.Background())
	require.NoError(t, err)
	assert.False(t, r.CaughtUp() && lag.Behind > 0, "caught up with a backlog of %d", lag.Behind)
	require.NoError(t, stop())
}

// With Store and Subscriber, no CheckpointInterval and a small
// CheckpointEvery, the checkpoints that live traffic calls for read the
// store to its end after a failed Rebuild, and the runner is caught up
// again.
func TestRunnerCatchesUpAgainThroughCheckpointEvery(t *testing.T) {
	store := newGateStore()
	store.failAfter = 3
	appendAll(t, store, testLog(5))
	bus := gochannel.NewGoChannel(gochannel.Config{BlockPublishUntilSubscriberAck: true}, quietLogger())
	defer bus.Close()
	r, err := NewRunner(RunnerConfig{Name: "t", Projection: newTally(), Store: store, Subscriber: bus, Topic: "events",
		CheckpointInterval: -1, CheckpointEvery: 3, Logger: quietLogger()})
	require.NoError(t, err)
	stop := startRunner(t, r)
	require.Eventually(t, r.CaughtUp, 5*time.Second, time.Millisecond)
	store.failRebuild.Store(true)
	require.Error(t, r.Rebuild(context.Background()))
	store.failRebuild.Store(false)
	head := uint64(store.Len())
	storeAndPublish(t, store, bus, testLog(4)) // 12 live events: checkpoints every 3, each sweeping the store
	require.Eventually(t, func() bool { return r.Stats().Position >= head }, 5*time.Second, time.Millisecond,
		"a sweep read the backlog the failed Rebuild left")
	assert.Eventually(t, r.CaughtUp, 2*time.Second, time.Millisecond, "CaughtUp comes back")
	require.NoError(t, stop())
}

// Live traffic, paced and CheckpointEvery checkpoints, and Rebuilds (some
// failing) from two goroutines: nothing deadlocks, nothing is lost or
// applied twice, and the runner ends caught up.
func TestRunnerRebuildsUnderTraffic(t *testing.T) {
	for _, withSub := range []bool{false, true} {
		store := newGateStore()
		store.failAfter = 7
		appendAll(t, store, testLog(5))
		bus := gochannel.NewGoChannel(gochannel.Config{BlockPublishUntilSubscriberAck: true}, quietLogger())
		p := newTally()
		cfg := RunnerConfig{Name: "t", Projection: p, Store: store, CheckpointEvery: 2,
			CheckpointInterval: 3 * time.Millisecond, PollInterval: time.Millisecond, Logger: quietLogger()}
		if withSub {
			cfg.Subscriber, cfg.Topic = bus, "events"
		}
		r, err := NewRunner(cfg)
		require.NoError(t, err)
		stop := startRunner(t, r)
		require.Eventually(t, r.CaughtUp, 5*time.Second, time.Millisecond)
		done := make(chan struct{})
		var rb sync.WaitGroup
		for i := 0; i < 2; i++ {
			rb.Add(1)
			go func(i int) {
				defer rb.Done()
				for n := 0; ; n++ {
					select {
					case <-done:
						return
					default:
					}
					store.failRebuild.Store(n%3 == i)
					_ = r.Rebuild(context.Background())
					time.Sleep(time.Millisecond)
				}
			}(i)
		}
		for i := 0; i < 30; i++ {
			if withSub {
				storeAndPublish(t, store, bus, testLog(1))
			} else {
				appendAll(t, store, testLog(1))
			}
		}
		close(done)
		w := make(chan struct{})
		go func() { rb.Wait(); close(w) }()
		select {
		case <-w:
		case <-time.After(20 * time.Second):
			t.Fatal("Rebuilds deadlocked")
		}
		store.failRebuild.Store(false)
		require.Eventually(t, func() bool {
			lag, _ := r.Lag(context.Background())
			return r.CaughtUp() && lag.Behind == 0
		}, 10*time.Second, time.Millisecond)
		require.NoError(t, stop())
		assert.Equal(t, wantTally(35), p.ByType, "withSub=%v", withSub)
		assert.Zero(t, r.Stats().Rejected, "withSub=%v", withSub)
		bus.Close()
	}
}

// gatedSaves pauses the next Save once armed.
type gatedSaves struct {
	*MemoryCheckpoints
	g atomic.Pointer[gate]
}

func (s *gatedSaves) Save(ctx context.Context, name string, cp Checkpoint) error {
	if g := s.g.Load(); g != nil && s.g.CompareAndSwap(g, nil) {
		close(g.reached)
		<-g.proceed
	}
	return s.MemoryCheckpoints.Save(ctx, name, cp)
}

// gatedRunner returns a runner of a tally over a gateStore of 15 events,
// with a Subscriber too when withSub, and checkpoints that pause as armed.
func gatedRunner(t *testing.T, withSub bool, interval time.Duration) (*Runner, *gateStore, *gatedSaves) {
	store := newGateStore()
	appendAll(t, store, testLog(5))
	cps := &gatedSaves{MemoryCheckpoints: NewMemoryCheckpoints()}
	cfg := RunnerConfig{Name: "t", Projection: newTally(), Store: store, Checkpoints: cps,
		CheckpointInterval: interval, PollInterval: 5 * time.Millisecond, Logger: quietLogger()}
	if withSub {
		bus := gochannel.NewGoChannel(gochannel.Config{}, quietLogger())
		t.Cleanup(func() { bus.Close() })
		cfg.Subscriber, cfg.Topic = bus, "events"
	}
	r, err := NewRunner(cfg)
	require.NoError(t, err)
	return r, store, cps
}

// A Rebuild started before the first Run, whose checkpoint is still saving
// when the Run's catch-up ends, leaves the Run caught up once it is done.
func TestRunnerCatchesUpAfterARebuildBeforeItsFirstRun(t *testing.T) {
	for _, c := range []struct {
		name     string
		withSub  bool
		interval time.Duration
	}{{"storeOnly", false, -1}, {"storeAndSub-noInterval", true, -1}, {"storeAndSub-interval", true, time.Hour}} {
		t.Run(c.name, func(t *testing.T) {
			r, _, cps := gatedRunner(t, c.withSub, c.interval)
			g := newGate(0)
			cps.g.Store(g)
			done := make(chan error, 1)
			go func() { done <- r.Rebuild(context.Background()) }()
			<-g.reached // the replay is done; its checkpoint is saving
			stop := startRunner(t, r)
			time.Sleep(100 * time.Millisecond) // the Run's catch-up and initial rejoin are done
			close(g.proceed)
			require.NoError(t, <-done)
			assert.Eventually(t, r.CaughtUp, 2*time.Second, time.Millisecond, "CaughtUp comes")
			require.NoError(t, stop())
		})
	}
}

// So does a Rebuild that runs while the first Run catches up, although
// the Run was not caught up when it began.
func TestRunnerCatchesUpAfterARebuildDuringItsCatchUp(t *testing.T) {
	r, store, cps := gatedRunner(t, true, -1)
	rg := newGate(3)
	store.gate.Store(rg)
	stop := startRunner(t, r)
	<-rg.reached // the Run's catch-up is at position 3
	sg := newGate(0)
	cps.g.Store(sg)
	done := make(chan error, 1)
	go func() { done <- r.Rebuild(context.Background()) }()
	time.Sleep(20 * time.Millisecond)
	close(rg.proceed)
	<-sg.reached // the Rebuild's replay ended; its checkpoint saves
	time.Sleep(100 * time.Millisecond)
	close(sg.proceed)
	require.NoError(t, <-done)
	assert.Eventually(t, r.CaughtUp, 2*time.Second, time.Millisecond, "CaughtUp comes")
	require.NoError(t, stop())
}

// A Rebuild with no Run leaves the runner not caught up: it follows nothing.
func TestRunnerRebuildWithoutARunIsNotCaughtUp(t *testing.T) {
	r, _, _ := gatedRunner(t, true, -1)
	require.NoError(t, r.Rebuild(context.Background()))
	assert.False(t, r.CaughtUp())
}

// A Rebuild that fails and then one that succeeds leave the Run they took
// CaughtUp from caught up, with no sweep to make it so (no
// CheckpointInterval).
func TestRunnerCatchesUpAfterAFailedThenASuccessfulRebuild(t *testing.T) {
	r, store, _ := gatedRunner(t, true, -1)
	store.failAfter = 3
	stop := startRunner(t, r)
	require.Eventually(t, r.CaughtUp, 5*time.Second, time.Millisecond)
	store.failRebuild.Store(true)
	require.Error(t, r.Rebuild(context.Background()))
	store.failRebuild.Store(false)
	require.NoError(t, r.Rebuild(context.Background()))
	lag, err := r.Lag(context.Background())
	require.NoError(t, err)
	require.Zero(t, lag.Behind)
	assert.True(t, r.CaughtUp())
	require.NoError(t, stop())
}
