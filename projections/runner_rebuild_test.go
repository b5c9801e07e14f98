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

// rebuilding calls r.Rebuild(ctx) on a goroutine of its own, and returns
// where its error comes.
func rebuilding(ctx context.Context, r *Runner) <-chan error {
	done := make(chan error, 1)
	go func() { done <- r.Rebuild(ctx) }()
	return done
}

// A Rebuild asked of a Run in the middle of a store read waits for the
// read, and when it fails part way the Run reads the rest of the store at
// once: every event is applied once, and the Run is caught up again.
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
	done := rebuilding(context.Background(), r)
	select {
	case err := <-done:
		t.Fatalf("the Rebuild ran during the Run's read: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(g.proceed)
	require.ErrorContains(t, <-done, "store down")

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
	done := rebuilding(context.Background(), r)
	time.Sleep(20 * time.Millisecond)
	assert.False(t, r.CaughtUp())
	close(g.proceed)
	require.ErrorContains(t, <-done, "store down")
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
	first := rebuilding(context.Background(), r)
	<-g1.reached
	// The second Rebuild waits for the first.
	second := rebuilding(context.Background(), r)
	time.Sleep(20 * time.Millisecond)
	g2 := newGate(5) // the second Rebuild's read stops at 5
	store.gate.Store(g2)
	close(g1.proceed)
	require.NoError(t, <-first)
	<-g2.reached // the second Rebuild replays from zero
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

// After a Rebuild that fails, a Run that follows its Subscriber, and reads
// the store at no checkpoint (CheckpointInterval negative), reads the
// backlog that the Rebuild left at once, and is caught up with none.
func TestRunnerReadsTheBacklogOfAFailedRebuild(t *testing.T) {
	store := newGateStore()
	store.failAfter = 3
	appendAll(t, store, testLog(5))
	bus := gochannel.NewGoChannel(gochannel.Config{BlockPublishUntilSubscriberAck: true}, quietLogger())
	defer bus.Close()
	p := newTally()
	r, err := NewRunner(RunnerConfig{Name: "t", Projection: p, Store: store, Subscriber: bus, Topic: "events",
		CheckpointInterval: -1, Logger: quietLogger()})
	require.NoError(t, err)
	stop := startRunner(t, r)
	require.Eventually(t, r.CaughtUp, 5*time.Second, time.Millisecond)
	store.failRebuild.Store(true)
	require.Error(t, r.Rebuild(context.Background()))
	require.Eventually(t, r.CaughtUp, 5*time.Second, time.Millisecond)
	lag, err := r.Lag(context.Background())
	require.NoError(t, err)
	assert.Zero(t, lag.Behind, "caught up with a backlog")
	require.NoError(t, stop())
	assert.Equal(t, wantTally(5), p.ByType)
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

// A Rebuild asked of a Run while a poll reads the store to its end waits
// for the poll, and the runner is not caught up while it replays from
// zero.
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
	done := rebuilding(context.Background(), r)
	time.Sleep(20 * time.Millisecond)
	close(tail.proceed) // the poll returns
	<-g.reached         // the Rebuild replays from zero, at position 4
	require.False(t, r.CaughtUp())
	time.Sleep(100 * time.Millisecond)
	assert.False(t, r.CaughtUp(), "CaughtUp while a Rebuild replays from zero")
	close(g.proceed)
	require.NoError(t, <-done)
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

// A Run started while a Rebuild without a Run saves its checkpoint waits
// for the Rebuild, then catches up.
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
			done := rebuilding(context.Background(), r)
			<-g.reached // the replay is done; its checkpoint is saving
			stop := startRunner(t, r)
			time.Sleep(100 * time.Millisecond)
			assert.False(t, r.CaughtUp(), "the Run waits for the Rebuild")
			close(g.proceed)
			require.NoError(t, <-done)
			assert.Eventually(t, r.CaughtUp, 2*time.Second, time.Millisecond, "CaughtUp comes")
			require.NoError(t, stop())
		})
	}
}

// A Rebuild asked of the first Run while it catches up is done after the
// catch-up, and leaves the Run caught up.
func TestRunnerCatchesUpAfterARebuildDuringItsCatchUp(t *testing.T) {
	r, store, cps := gatedRunner(t, true, -1)
	rg := newGate(3)
	store.gate.Store(rg)
	stop := startRunner(t, r)
	<-rg.reached // the Run's catch-up is at position 3
	sg := newGate(0)
	cps.g.Store(sg)
	done := rebuilding(context.Background(), r)
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

// A Rebuild that fails and then one that succeeds leave the Run caught up
// when the second returns, with no sweep to make it so (no
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

// A Rebuild whose checkpoint cannot be saved says so: the stored
// checkpoint still holds the state from before it. A Run that did the
// Rebuild goes on, caught up, and its next checkpoint saves the rebuilt
// state.
func TestRunnerRebuildReturnsAFailedCheckpoint(t *testing.T) {
	store := events.NewMemoryStore()
	appendAll(t, store, testLog(2))
	cps := &failOnce{MemoryCheckpoints: NewMemoryCheckpoints()}
	p := newTally()
	r, err := NewRunner(RunnerConfig{Name: "t", Projection: p, Store: store, Checkpoints: cps,
		CheckpointInterval: 5 * time.Millisecond, PollInterval: time.Millisecond, Logger: quietLogger()})
	require.NoError(t, err)
	cps.fail.Store(true)
	require.ErrorContains(t, r.Rebuild(context.Background()), "db down")
	_, ok, err := cps.Load(context.Background(), "t")
	require.NoError(t, err)
	assert.False(t, ok, "nothing was saved")

	stop := startRunner(t, r)
	require.Eventually(t, r.CaughtUp, 5*time.Second, time.Millisecond)
	cps.fail.Store(true)
	require.ErrorContains(t, r.Rebuild(context.Background()), "db down")
	require.Eventually(t, r.CaughtUp, 5*time.Second, time.Millisecond)
	appendAll(t, store, testLog(1))
	require.Eventually(t, func() bool {
		cp, ok, _ := cps.Load(context.Background(), "t")
		return ok && cp.Position == 9
	}, 5*time.Second, time.Millisecond, "a later checkpoint saves the rebuilt state")
	require.NoError(t, stop())
	assert.Equal(t, wantTally(3), p.ByType)
}

// failOnce fails the next Save once fail is set.
type failOnce struct {
	*MemoryCheckpoints
	fail atomic.Bool
}

func (s *failOnce) Save(ctx context.Context, name string, cp Checkpoint) error {
	if s.fail.CompareAndSwap(true, false) {
		return errors.New("db down")
	}
	return s.MemoryCheckpoints.Save(ctx, name, cp)
}

// A Rebuild handed to the Run with a context that ended since changes
// nothing, nor does one that its goroutine begins with an ended context:
// the checks that guard the hand-over's races.
func TestRunnerRebuildOfAnEndedContextChangesNothing(t *testing.T) {
	store := &readCounter{MemoryStore: events.NewMemoryStore()}
	appendAll(t, store, testLog(2))
	var applied, resets int
	r, err := NewRunner(RunnerConfig{Name: "t", Projection: elsewhere{&applied, &resets}, Store: store, Logger: quietLogger()})
	require.NoError(t, err)
	require.NoError(t, r.catchUp(context.Background()))
	r.caughtUp.Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	req := rebuildRequest{ctx: ctx, done: make(chan error, 1)}
	reads := store.reads.Load()
	require.NoError(t, r.rebuildFor(context.Background(), req))
	require.ErrorIs(t, <-req.done, context.Canceled)
	assert.True(t, r.CaughtUp())
	assert.Equal(t, reads, store.reads.Load(), "nothing to read again: nothing was reset")
	require.ErrorIs(t, r.rebuild(ctx), context.Canceled)
	assert.Zero(t, resets)
	assert.Equal(t, 6, applied)
	assert.Equal(t, uint64(6), r.Stats().Position)
}

// readCounter is a MemoryStore that counts the reads of ReadAll.
type readCounter struct {
	*events.MemoryStore
	reads atomic.Int32
}

func (s *readCounter) ReadAll(ctx context.Context, after uint64) iter.Seq2[events.Envelope, error] {
	s.reads.Add(1)
	return s.MemoryStore.ReadAll(ctx, after)
}
