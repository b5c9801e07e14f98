package projections

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/internal/simulate"
)

// tally is a projection that counts events by type and refuses anything
// out of order, so that a test sees every mistake of the runner.
type tally struct {
	Versions map[uuid.UUID]uint64 `json:"versions"`
	ByType   map[events.Type]int  `json:"by_type"`
	reject   func(events.Envelope) bool
}

func newTally() *tally {
	return &tally{Versions: map[uuid.UUID]uint64{}, ByType: map[events.Type]int{}}
}

func (t *tally) Apply(e events.Envelope) error {
	if t.reject != nil && t.reject(e) {
		return errors.New("refused")
	}
	if want := t.Versions[e.Issue] + 1; e.Version != want {
		return fmt.Errorf("issue %s: got version %d, want %d", e.Issue, e.Version, want)
	}
	t.Versions[e.Issue] = e.Version
	t.ByType[e.Type()]++
	return nil
}

func (t *tally) MarshalBinary() ([]byte, error) { return json.Marshal(t) }

func (t *tally) UnmarshalBinary(b []byte) error {
	*t = tally{reject: t.reject}
	return json.Unmarshal(b, t)
}

func (t *tally) Reset() { *t = *newTally() }

// plain is a projection that cannot save its state.
type plain struct{ n int }

func (p *plain) Apply(events.Envelope) error { p.n++; return nil }

// testLog returns the events of n issues, three each (opened, routed,
// resolved), in the order a store would hold them.
func testLog(n int) []events.Envelope {
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	var out []events.Envelope
	for i := range n {
		issue := uuid.New()
		contact := uuid.New()
		data := []events.Data{
			&events.Opened{Customer: events.Customer{ID: fmt.Sprintf("c%d", i%7)}, Channel: "phone", Topic: "billing", Contact: contact},
			&events.Routed{Contact: contact, Queue: "billing", Agent: "maria", Wait: 20 * time.Second},
			&events.Resolved{Contact: contact, Agent: "maria"},
		}
		for v, d := range data {
			out = append(out, events.Envelope{ID: uuid.New(), Issue: issue, Version: uint64(v + 1), At: at.Add(time.Duration(i*10+v) * time.Second), Data: d})
		}
	}
	return out
}

// wantTally is what a tally holds after the events of testLog(n).
func wantTally(n int) map[events.Type]int {
	return map[events.Type]int{events.TypeOpened: n, events.TypeRouted: n, events.TypeResolved: n}
}

// appendAll stores evs, one append per issue and version.
func appendAll(t testing.TB, s events.Store, evs []events.Envelope) {
	t.Helper()
	for _, e := range evs {
		_, err := s.Append(context.Background(), e.Issue, e.Version-1, []events.Envelope{e})
		require.NoError(t, err)
	}
}

// publishAll publishes evs to topic, one message each.
func publishAll(t testing.TB, pub message.Publisher, topic string, evs []events.Envelope) {
	t.Helper()
	p, err := events.NewPublisher(events.PublisherConfig{Publisher: pub, Topic: func(events.Envelope) string { return topic }})
	require.NoError(t, err)
	for _, e := range evs {
		require.NoError(t, p.Publish(context.Background(), []events.Envelope{e}))
	}
}

// liveTally runs a Runner that feeds a tally from the topic "events" of a
// GoChannel whose publishes wait for the acknowledgement, and returns once
// the runner has caught up.
func liveTally(t *testing.T) (*gochannel.GoChannel, *tally, *Runner, func() error) {
	t.Helper()
	bus := gochannel.NewGoChannel(gochannel.Config{BlockPublishUntilSubscriberAck: true}, quietLogger())
	t.Cleanup(func() { _ = bus.Close() })
	p := newTally()
	r, err := NewRunner(RunnerConfig{Name: "tally", Projection: p, Subscriber: bus, Topic: "events", Logger: quietLogger()})
	require.NoError(t, err)
	stop := startRunner(t, r)
	require.Eventually(t, r.CaughtUp, 5*time.Second, time.Millisecond)
	return bus, p, r, stop
}

// startRunner runs r until the returned stop is called; stop returns Run's error.
// storeAndPublish appends each event of evs to store and publishes it on
// the topic "events" of pub, one at a time, as a service with an outbox
// would.
func storeAndPublish(t testing.TB, store events.Store, pub message.Publisher, evs []events.Envelope) {
	t.Helper()
	for _, e := range evs {
		appendAll(t, store, []events.Envelope{e})
		publishAll(t, pub, "events", []events.Envelope{e})
	}
}

func startRunner(t testing.TB, r *Runner) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			err = <-done
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func waitApplied(t testing.TB, r *Runner, n int64) {
	t.Helper()
	if !assert.Eventually(t, func() bool { return r.Stats().Applied >= n }, 20*time.Second, time.Millisecond) {
		t.Fatalf("the runner applied %d of %d events: %+v", r.Stats().Applied, n, r.Stats())
	}
}

func quietLogger() watermill.LoggerAdapter { return watermill.NopLogger{} }

func TestRunnerConfigValidate(t *testing.T) {
	sub := gochannel.NewGoChannel(gochannel.Config{}, quietLogger())
	store := events.NewMemoryStore()
	for _, tc := range []struct {
		name string
		cfg  RunnerConfig
		want string
	}{
		{"no name", RunnerConfig{Projection: newTally(), Store: store}, "no name"},
		{"name with a NUL", RunnerConfig{Name: "fcr\x00v2", Projection: newTally(), Store: store}, "not UTF-8 text without control characters"},
		{"no projection", RunnerConfig{Name: "x", Store: store}, "no projection"},
		{"a nil pointer for a projection", RunnerConfig{Name: "x", Projection: (*tally)(nil), Store: store}, "no projection (a nil *projections.tally)"},
		{"no source", RunnerConfig{Name: "x", Projection: newTally()}, "neither a store nor a subscriber"},
		{"subscriber without topic", RunnerConfig{Name: "x", Projection: newTally(), Subscriber: sub}, "no topic"},
		{"topic without subscriber", RunnerConfig{Name: "x", Projection: newTally(), Store: store, Topic: "t"}, "no subscriber"},
		{"poison publisher without topic", RunnerConfig{Name: "x", Projection: newTally(), Store: store, PoisonPublisher: sub}, "no poison topic"},
		{"poison topic that the runner reads", RunnerConfig{Name: "x", Projection: newTally(), Subscriber: sub, Topics: []string{"a", "b"},
			PoisonPublisher: sub, PoisonTopic: "b"}, `poison topic "b" is one the runner reads`},
		{"negative IdleAdvance", RunnerConfig{Name: "x", Projection: mustFCR(FCRConfig{}), Store: store, IdleAdvance: -time.Second}, "IdleAdvance -1s is negative"},
		{"IdleAdvance of a projection without AdvanceTo", RunnerConfig{Name: "x", Projection: newTally(), Store: store, IdleAdvance: time.Second},
			"the projection, a *projections.tally, has no AdvanceTo(time.Time) error method"},
		{"IdleAdvance without a store or Pending", RunnerConfig{Name: "x", Projection: mustFCR(FCRConfig{}), Subscriber: sub, Topic: "t", IdleAdvance: time.Second},
			"IdleAdvance is set on a runner without a Store, but not Pending"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewRunner(tc.cfg)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrRunnerConfig)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	_, err := NewRunner(RunnerConfig{Name: "x", Projection: newTally(), Subscriber: sub, Topics: []string{"a", "b"}})
	assert.NoError(t, err)
}

func TestRunnerCatchUpFromStoreAndPoll(t *testing.T) {
	store := events.NewMemoryStore()
	log := testLog(40)
	appendAll(t, store, log[:60])
	cps := NewMemoryCheckpoints()
	p := newTally()
	r, err := NewRunner(RunnerConfig{Name: "tally", Projection: p, Store: store, Checkpoints: cps,
		CheckpointEvery: 25, CheckpointShare: -1, PollInterval: time.Millisecond, Logger: quietLogger()})
	require.NoError(t, err)
	stop := startRunner(t, r)
	waitApplied(t, r, 60)
	require.Eventually(t, r.CaughtUp, 5*time.Second, time.Millisecond)

	appendAll(t, store, log[60:]) // found by polling
	waitApplied(t, r, int64(len(log)))
	lag, err := r.Lag(context.Background())
	require.NoError(t, err)
	assert.Equal(t, Lag{Position: 120, Head: 120, Pending: -1}, lag)
	require.NoError(t, stop())

	r.View(func() { assert.Equal(t, wantTally(40), p.ByType) })
	st := r.Stats()
	assert.Equal(t, RunnerStats{Applied: 120, Checkpoints: st.Checkpoints, Position: 120}, st)
	assert.GreaterOrEqual(t, st.Checkpoints, int64(120/25), "a checkpoint every 25 events")
	cp, ok, err := cps.Load(context.Background(), "tally")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, uint64(120), cp.Position)
}

func TestRunnerRestartsFromCheckpoint(t *testing.T) {
	store := events.NewMemoryStore()
	log := testLog(30)
	appendAll(t, store, log[:45])
	cps := NewMemoryCheckpoints()
	cfg := RunnerConfig{Name: "tally", Store: store, Checkpoints: cps, PollInterval: time.Millisecond, Logger: quietLogger()}

	first := newTally()
	cfg.Projection = first
	r1, err := NewRunner(cfg)
	require.NoError(t, err)
	stop := startRunner(t, r1)
	waitApplied(t, r1, 45)
	require.NoError(t, stop()) // clean shutdown writes the checkpoint

	appendAll(t, store, log[45:])
	second := newTally()
	cfg.Projection = second
	r2, err := NewRunner(cfg)
	require.NoError(t, err)
	stop = startRunner(t, r2)
	waitApplied(t, r2, int64(len(log)-45))
	require.NoError(t, stop())

	assert.Equal(t, int64(len(log)-45), r2.Stats().Applied, "only the events after the checkpoint are read again")
	assert.Equal(t, wantTally(30), second.ByType)
}

func TestRunnerWithoutSavedStateReplaysEverything(t *testing.T) {
	store := events.NewMemoryStore()
	appendAll(t, store, testLog(10))
	cps := NewMemoryCheckpoints()
	for range 2 {
		p := &plain{}
		r, err := NewRunner(RunnerConfig{Name: "plain", Projection: p, Store: store, Checkpoints: cps, Logger: quietLogger()})
		require.NoError(t, err)
		stop := startRunner(t, r)
		waitApplied(t, r, 30)
		require.NoError(t, stop())
		assert.Equal(t, 30, p.n)
	}
}

func TestRunnerSwitchesFromStoreToSubscriberWithoutGapOrDoubleCount(t *testing.T) {
	store := events.NewMemoryStore()
	bus := gochannel.NewGoChannel(gochannel.Config{Persistent: true}, quietLogger())
	defer bus.Close()
	log := testLog(50)
	// The first 90 events were stored and published before the runner
	// starts; the rest are stored and published while it catches up.
	appendAll(t, store, log[:90])
	publishAll(t, bus, "events", log[:90])

	p := newTally()
	r, err := NewRunner(RunnerConfig{Name: "tally", Projection: p, Store: store, Subscriber: bus, Topic: "events",
		CheckpointEvery: 10, Logger: quietLogger()})
	require.NoError(t, err)
	stop := startRunner(t, r)
	storeAndPublish(t, store, bus, log[90:])
	waitApplied(t, r, int64(len(log)))
	require.Eventually(t, func() bool { return r.Stats().Duplicates == int64(len(log)) }, 10*time.Second, time.Millisecond,
		"every event arrives twice, once from the store and once from the subscriber")
	r.View(func() { assert.Equal(t, wantTally(50), p.ByType, "read while the runner runs") })
	require.NoError(t, stop())

	st := r.Stats()
	assert.Equal(t, int64(len(log)), st.Applied)
	assert.Equal(t, uint64(len(log)), st.Position, "the checkpoints read the store up to its end")
	assert.Equal(t, wantTally(50), p.ByType)
}

// A runner stopped between checkpoints, with a Store and a Subscriber,
// reads the store up to its end before its final checkpoint, so that the
// checkpoint's position covers what it applied live: a restart reads none
// of it again.
func TestRunnerFinalCheckpointCoversWhatItAppliedLive(t *testing.T) {
	store := events.NewMemoryStore()
	bus := gochannel.NewGoChannel(gochannel.Config{Persistent: true}, quietLogger())
	defer bus.Close()
	log := testLog(10)
	cps := NewMemoryCheckpoints()
	p := newTally()
	cfg := RunnerConfig{Name: "tally", Projection: p, Store: store, Subscriber: bus, Topic: "events", Checkpoints: cps,
		CheckpointEvery: -1, CheckpointInterval: -1, Logger: quietLogger()}
	r, err := NewRunner(cfg)
	require.NoError(t, err)
	stop := startRunner(t, r)
	require.Eventually(t, r.CaughtUp, 10*time.Second, time.Millisecond)
	storeAndPublish(t, store, bus, log)
	waitApplied(t, r, int64(len(log)))
	lag, err := r.Lag(t.Context())
	require.NoError(t, err)
	assert.Equal(t, uint64(len(log)), lag.Behind, "no checkpoint has read the store yet")
	require.NoError(t, stop())

	assert.Equal(t, uint64(len(log)), r.Stats().Position)
	cp, ok, err := cps.Load(t.Context(), "tally")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, uint64(len(log)), cp.Position)
	lag, err = r.Lag(t.Context())
	require.NoError(t, err)
	assert.Zero(t, lag.Behind)

	cfg.Projection = newTally()
	cfg.Subscriber = gochannel.NewGoChannel(gochannel.Config{}, quietLogger()) // a broker with nothing left to deliver
	defer cfg.Subscriber.Close()
	again, err := NewRunner(cfg)
	require.NoError(t, err)
	stop = startRunner(t, again)
	require.Eventually(t, again.CaughtUp, 10*time.Second, time.Millisecond)
	require.NoError(t, stop())
	assert.Zero(t, again.Stats().Applied+again.Stats().Duplicates, "the restart read nothing again")
	assert.Equal(t, wantTally(10), cfg.Projection.(*tally).ByType)
}

// shuffled delivers the events of evs in a random order with duplicates.
func shuffled(evs []events.Envelope, rnd *rand.Rand) []events.Envelope {
	out := append([]events.Envelope(nil), evs...)
	for i := 0; i < len(evs)/3; i++ {
		out = append(out, evs[rnd.IntN(len(evs))])
	}
	rnd.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// A store that no longer answers at shutdown keeps the final checkpoint
// from covering more, not from being saved: it is saved where the runner
// stands, with what it applied live.
func TestRunnerSavesTheFinalCheckpointWhenTheStoreHangs(t *testing.T) {
	defer func(d time.Duration) { finalStoreRead = d }(finalStoreRead)
	finalStoreRead = 50 * time.Millisecond
	store := &hangingStore{MemoryStore: events.NewMemoryStore()}
	bus := gochannel.NewGoChannel(gochannel.Config{Persistent: true}, quietLogger())
	defer bus.Close()
	log := testLog(10)
	cps := NewMemoryCheckpoints()
	p := newTally()
	r, err := NewRunner(RunnerConfig{Name: "tally", Projection: p, Store: store, Subscriber: bus, Topic: "events", Checkpoints: cps,
		CheckpointEvery: -1, CheckpointInterval: -1, Logger: quietLogger()})
	require.NoError(t, err)
	stop := startRunner(t, r)
	require.Eventually(t, r.CaughtUp, 10*time.Second, time.Millisecond)
	storeAndPublish(t, store, bus, log)
	waitApplied(t, r, int64(len(log)))
	store.hang.Store(true)
	start := time.Now()
	require.NoError(t, stop())
	assert.Less(t, time.Since(start), 5*time.Second)
	cp, ok, err := cps.Load(t.Context(), "tally")
	require.NoError(t, err)
	require.True(t, ok)
	state, err := cp.ProjectionState()
	require.NoError(t, err)
	saved := newTally()
	require.NoError(t, saved.UnmarshalBinary(state))
	assert.Equal(t, wantTally(10), saved.ByType, "the checkpoint keeps what was applied live")
}

// A projection that keeps its state elsewhere (a table of the host's, here
// a counter outside the value) cannot save it with the checkpoint: each
// start replays the store from the start, and resets it first, so that
// nothing counts twice.
func TestRunnerResetsAProjectionItReplaysAtStart(t *testing.T) {
	store := events.NewMemoryStore()
	appendAll(t, store, testLog(2))
	cps := NewMemoryCheckpoints()
	var applied, resets int
	for run := 1; run <= 3; run++ {
		r, err := NewRunner(RunnerConfig{Name: "elsewhere", Projection: elsewhere{&applied, &resets}, Store: store, Checkpoints: cps,
			PollInterval: time.Millisecond, Logger: quietLogger()})
		require.NoError(t, err)
		stop := startRunner(t, r)
		require.Eventually(t, r.CaughtUp, 5*time.Second, time.Millisecond)
		require.NoError(t, stop())
		assert.Equal(t, store.Len(), applied, "run %d", run)
		assert.Equal(t, run, resets, "run %d", run)
	}
}

// Without a Store nothing would refill it: a runner fed by a broker alone
// does not reset such a projection at start.
func TestRunnerWithoutAStoreKeepsAProjectionsStateElsewhere(t *testing.T) {
	bus := gochannel.NewGoChannel(gochannel.Config{BlockPublishUntilSubscriberAck: true}, quietLogger())
	defer bus.Close()
	cps := NewMemoryCheckpoints()
	var applied, resets int
	for run := 1; run <= 2; run++ {
		r, err := NewRunner(RunnerConfig{Name: "elsewhere", Projection: elsewhere{&applied, &resets}, Subscriber: bus, Topic: "events",
			Checkpoints: cps, Logger: quietLogger()})
		require.NoError(t, err)
		stop := startRunner(t, r)
		require.Eventually(t, r.CaughtUp, 5*time.Second, time.Millisecond)
		if run == 1 {
			publishAll(t, bus, "events", testLog(2))
			waitApplied(t, r, 6)
		}
		require.NoError(t, stop())
		assert.Equal(t, 6, applied, "run %d", run)
		assert.Zero(t, resets, "run %d", run)
	}
}

// A Rebuild asked while Run loads its checkpoint is done once the Run has
// started: the start does not reset or restore over it.
func TestRunnerStartDoesNotUndoARebuild(t *testing.T) {
	store := events.NewMemoryStore()
	appendAll(t, store, testLog(5))
	var applied, resets int
	r, err := NewRunner(RunnerConfig{Name: "elsewhere", Projection: elsewhere{&applied, &resets}, Store: store,
		Checkpoints: slowLoad{NewMemoryCheckpoints()}, PollInterval: time.Millisecond, Logger: quietLogger()})
	require.NoError(t, err)
	stop := startRunner(t, r)
	time.Sleep(50 * time.Millisecond) // Run loads its checkpoint
	require.NoError(t, r.Rebuild(context.Background()))
	require.Eventually(t, r.CaughtUp, 5*time.Second, time.Millisecond)
	require.NoError(t, stop())
	assert.Equal(t, store.Len(), applied)
}

// slowLoad is a CheckpointStore whose Load takes 200 ms.
type slowLoad struct{ CheckpointStore }

func (s slowLoad) Load(ctx context.Context, name string) (Checkpoint, bool, error) {
	time.Sleep(200 * time.Millisecond)
	return s.CheckpointStore.Load(ctx, name)
}

// A Rebuild whose ctx is done before it begins changes nothing, during a
// Run or without one: the projection is not reset, and the Run stays
// caught up.
func TestRunnerCancelledRebuildChangesNothing(t *testing.T) {
	store := events.NewMemoryStore()
	appendAll(t, store, testLog(5))
	var applied, resets int
	r, err := NewRunner(RunnerConfig{Name: "t", Projection: elsewhere{&applied, &resets}, Store: store,
		PollInterval: time.Millisecond, Logger: quietLogger()})
	require.NoError(t, err)
	stop := startRunner(t, r)
	require.Eventually(t, r.CaughtUp, 5*time.Second, time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range 50 {
		require.ErrorIs(t, r.Rebuild(ctx), context.Canceled)
		require.True(t, r.CaughtUp())
	}
	require.NoError(t, stop())
	assert.Equal(t, 1, resets, "reset at the start only")
	assert.Equal(t, store.Len(), applied)
	require.ErrorIs(t, r.Rebuild(ctx), context.Canceled)
	assert.Equal(t, 1, resets)
	assert.Equal(t, store.Len(), applied)
	assert.Equal(t, uint64(store.Len()), r.Stats().Position)
}

// elsewhere counts the events it absorbs outside itself, as a read model
// in a database would, and can reset that count.
type elsewhere struct{ applied, resets *int }

func (p elsewhere) Apply(events.Envelope) error { *p.applied++; return nil }
func (p elsewhere) Reset()                      { *p.applied, *p.resets = 0, *p.resets+1 }

// A Rebuild handed to a Run that stops fails with the Run's end, and
// leaves the runner not caught up; the next Run reads on from what the
// Rebuild replayed, and applies every event once.
func TestRunnerRebuildStopsWithTheRun(t *testing.T) {
	store := &slowStore{MemoryStore: events.NewMemoryStore()}
	appendAll(t, store, testLog(5))
	bus := gochannel.NewGoChannel(gochannel.Config{}, quietLogger())
	defer bus.Close()
	p := newTally()
	r, err := NewRunner(RunnerConfig{Name: "t", Projection: p, Store: store, Subscriber: bus, Topic: "events", Logger: quietLogger()})
	require.NoError(t, err)
	stop := startRunner(t, r)
	require.Eventually(t, r.CaughtUp, 5*time.Second, time.Millisecond)
	store.slow.Store(true)
	rebuilt := rebuilding(context.Background(), r)
	time.Sleep(50 * time.Millisecond) // the Rebuild reads the store
	require.NoError(t, stop())
	err = <-rebuilt
	require.ErrorIs(t, err, context.Canceled)
	assert.ErrorContains(t, err, "Run stopped")
	assert.False(t, r.CaughtUp(), "Run returned: the runner follows nothing")

	store.slow.Store(false)
	stop = startRunner(t, r)
	require.Eventually(t, r.CaughtUp, 5*time.Second, time.Millisecond)
	require.NoError(t, stop())
	assert.Equal(t, wantTally(5), p.ByType)
}

// slowStore is a MemoryStore whose ReadAll, once slow is set, waits 300 ms
// before it reads.
type slowStore struct {
	*events.MemoryStore
	slow atomic.Bool
}

func (s *slowStore) ReadAll(ctx context.Context, after uint64) iter.Seq2[events.Envelope, error] {
	if s.slow.Load() {
		time.Sleep(300 * time.Millisecond)
	}
	return s.MemoryStore.ReadAll(ctx, after)
}

// hangingStore is a MemoryStore whose ReadAll, once hang is set, waits for
// its context to end.
type hangingStore struct {
	*events.MemoryStore
	hang atomic.Bool
}

func (s *hangingStore) ReadAll(ctx context.Context, after uint64) iter.Seq2[events.Envelope, error] {
	if !s.hang.Load() {
		return s.MemoryStore.ReadAll(ctx, after)
	}
	return func(yield func(events.Envelope, error) bool) {
		<-ctx.Done()
		yield(events.Envelope{}, ctx.Err())
	}
}

// A process that keeps a copy of the projection restores it from the
// runner's checkpoint through ProjectionState: a Reporter, and a projection
// that the runner sequences, whose checkpoint holds an event for a gap.
func TestCheckpointProjectionState(t *testing.T) {
	store := events.NewMemoryStore()
	log, _, err := simulate.Collect(simulate.Config{Seed: 2, Days: 10, Customers: 80, IssuesPerDay: 15})
	require.NoError(t, err)
	appendAll(t, store, log)
	cps := NewMemoryCheckpoints()
	rep, err := NewReporter(ReportConfig{})
	require.NoError(t, err)
	r, err := NewRunner(RunnerConfig{Name: "report", Projection: rep, Store: store, Checkpoints: cps, Logger: quietLogger()})
	require.NoError(t, err)
	stop := startRunner(t, r)
	waitApplied(t, r, int64(len(log)))
	require.NoError(t, stop())
	cp, ok, err := cps.Load(t.Context(), "report")
	require.NoError(t, err)
	require.True(t, ok)
	_, err = mustFCR(FCRConfig{}).Restore(cp.State)
	require.Error(t, err, "the state is the runner's, not the projection's")
	state, err := cp.ProjectionState()
	require.NoError(t, err)
	copied, err := NewReporter(ReportConfig{})
	require.NoError(t, err)
	require.NoError(t, copied.UnmarshalBinary(state))
	assert.Equal(t, rep.Report(), copied.Report())

	// A runner that sequences for its projection holds version 3 of an
	// issue for version 2.
	bus := gochannel.NewGoChannel(gochannel.Config{BlockPublishUntilSubscriberAck: true}, quietLogger())
	defer bus.Close()
	p := newTally()
	r, err = NewRunner(RunnerConfig{Name: "tally", Projection: p, Subscriber: bus, Topic: "events", Checkpoints: cps, Logger: quietLogger()})
	require.NoError(t, err)
	stop = startRunner(t, r)
	require.Eventually(t, r.CaughtUp, 5*time.Second, time.Millisecond)
	tl := testLog(1)
	publishAll(t, bus, "events", []events.Envelope{tl[0], tl[2]})
	require.Eventually(t, func() bool { return r.Stats().Held == 1 }, 5*time.Second, time.Millisecond)
	require.NoError(t, stop())
	cp, _, err = cps.Load(t.Context(), "tally")
	require.NoError(t, err)
	state, err = cp.ProjectionState()
	require.NoError(t, err)
	want, err := p.MarshalBinary()
	require.NoError(t, err)
	assert.Equal(t, want, state)

	_, err = Checkpoint{State: []byte("not a runner's")}.ProjectionState()
	assert.ErrorContains(t, err, "not a runner state")
	state, err = Checkpoint{}.ProjectionState()
	assert.NoError(t, err)
	assert.Nil(t, state)
}

func TestRunnerSubscriberOnlyReordersAndDropsDuplicates(t *testing.T) {
	log := testLog(40)
	delivered := shuffled(log, rand.New(rand.NewPCG(1, 2)))
	bus, p, r, stop := liveTally(t)
	publishAll(t, bus, "events", delivered)
	waitApplied(t, r, int64(len(log)))
	require.NoError(t, stop())

	st := r.Stats()
	assert.Equal(t, int64(len(log)), st.Applied)
	assert.Equal(t, int64(len(delivered)-len(log)), st.Duplicates)
	assert.Equal(t, 0, st.Held)
	assert.Equal(t, wantTally(40), p.ByType)
}

func TestRunnerKeepsHeldEventsAcrossRestart(t *testing.T) {
	bus := gochannel.NewGoChannel(gochannel.Config{BlockPublishUntilSubscriberAck: true}, quietLogger())
	defer bus.Close()
	log := testLog(1)
	cps := NewMemoryCheckpoints()
	cfg := RunnerConfig{Name: "tally", Subscriber: bus, Topic: "events", Checkpoints: cps, Logger: quietLogger()}

	cfg.Projection = newTally()
	r1, err := NewRunner(cfg)
	require.NoError(t, err)
	stop := startRunner(t, r1)
	require.Eventually(t, r1.CaughtUp, 5*time.Second, time.Millisecond)
	publishAll(t, bus, "events", []events.Envelope{log[0], log[2]}) // version 3 waits for 2
	require.Eventually(t, func() bool { return r1.Stats().Held == 1 }, 5*time.Second, time.Millisecond)
	require.NoError(t, stop())

	p := newTally()
	cfg.Projection = p
	r2, err := NewRunner(cfg)
	require.NoError(t, err)
	stop = startRunner(t, r2)
	require.Eventually(t, r2.CaughtUp, 5*time.Second, time.Millisecond)
	assert.Equal(t, 1, r2.Stats().Held, "the held event came back with the checkpoint")
	publishAll(t, bus, "events", log[1:2])
	waitApplied(t, r2, 2)
	require.NoError(t, stop())
	assert.Equal(t, wantTally(1), p.ByType)
}

func TestRunnerPoisonMessages(t *testing.T) {
	for _, withPublisher := range []bool{true, false} {
		t.Run(fmt.Sprintf("poison publisher %v", withPublisher), func(t *testing.T) {
			bus := gochannel.NewGoChannel(gochannel.Config{BlockPublishUntilSubscriberAck: true}, quietLogger())
			defer bus.Close()
			cfg := RunnerConfig{Name: "tally", Projection: newTally(), Subscriber: bus, Topic: "events", Logger: quietLogger()}
			var poisoned <-chan *message.Message
			if withPublisher {
				cfg.PoisonPublisher, cfg.PoisonTopic = bus, "poison"
				var err error
				poisoned, err = bus.Subscribe(context.Background(), "poison")
				require.NoError(t, err)
			}
			r, err := NewRunner(cfg)
			require.NoError(t, err)
			stop := startRunner(t, r)
			require.Eventually(t, r.CaughtUp, 5*time.Second, time.Millisecond)

			// poison publishes a message that is not an event, and returns
			// its copy on the poison topic when there is one.
			poison := func(id string) *message.Message {
				t.Helper()
				bad := message.NewMessage(id, []byte("not an event"))
				bad.Metadata.Set(events.MetadataCodec, "msgpack")
				published := make(chan error, 1)
				go func() { published <- bus.Publish("events", bad) }()
				var got *message.Message
				if withPublisher {
					select {
					case got = <-poisoned:
						got.Ack()
					case <-time.After(10 * time.Second):
						t.Fatal("nothing on the poison topic")
					}
				}
				require.NoError(t, <-published, "the bad message was acknowledged")
				return got
			}
			got := poison("bad-1")
			if withPublisher {
				assert.NotEqual(t, "bad-1", got.UUID, "a UUID of its own, which a deduplicating broker keeps")
				assert.Equal(t, "bad-1", got.Metadata.Get(MetadataPoisonUUID))
				assert.Equal(t, []byte("not an event"), []byte(got.Payload))
				assert.Contains(t, got.Metadata.Get(MetadataPoisonReason), "message bad-1")
				assert.Equal(t, "events", got.Metadata.Get(MetadataPoisonTopic))
				// Delivered again, it gets a copy of the same UUID.
				assert.Equal(t, got.UUID, poison("bad-1").UUID, "one copy for a deduplicating broker")
				assert.NotEqual(t, got.UUID, poison("bad-2").UUID, "another message, another copy")
				assert.NotEqual(t, poison("").UUID, poison("").UUID, "messages without a UUID cannot be told apart")
			}
			// The stream goes on after it.
			publishAll(t, bus, "events", testLog(1))
			waitApplied(t, r, 3)
			require.NoError(t, stop())
			want := int64(1)
			if withPublisher {
				want = 5
			}
			assert.Equal(t, want, r.Stats().Poisoned)
		})
	}
}

// Messages that carry batches of events are applied event by event, in
// order, and a batch delivered twice counts once.
func TestRunnerAppliesBatchMessages(t *testing.T) {
	bus, p, r, stop := liveTally(t)

	log := testLog(6) // 18 events
	codec := events.NewMsgpackCodec(nil)
	var msgs []*message.Message
	for i := 0; i < len(log); i += 5 {
		m, err := events.NewBatchMessage(codec, log[i:min(i+5, len(log))])
		require.NoError(t, err)
		msgs = append(msgs, m)
	}
	again, err := events.NewBatchMessage(codec, log[:5])
	require.NoError(t, err)
	require.NoError(t, bus.Publish("events", append(msgs, again)...))
	waitApplied(t, r, int64(len(log)))
	require.NoError(t, stop())
	assert.Equal(t, wantTally(6), p.ByType)
	assert.Equal(t, int64(len(log)), r.Stats().Applied)
	assert.Equal(t, int64(5), r.Stats().Duplicates)
}

func TestRunnerCountsRejectedEvents(t *testing.T) {
	store := events.NewMemoryStore()
	appendAll(t, store, testLog(5))
	p := newTally()
	p.reject = func(e events.Envelope) bool { return e.Type() == events.TypeRouted }
	logs := watermill.NewCaptureLogger()
	r, err := NewRunner(RunnerConfig{Name: "tally", Projection: p, Store: store, Logger: logs})
	require.NoError(t, err)
	stop := startRunner(t, r)
	// The routed events are refused, and so the resolved ones after them.
	require.Eventually(t, func() bool { return r.Stats().Rejected == 10 }, 5*time.Second, time.Millisecond)
	require.NoError(t, stop())
	assert.Equal(t, int64(5), r.Stats().Applied)
	assert.Equal(t, map[events.Type]int{events.TypeOpened: 5}, p.ByType)
	// Each refusal is logged with the event's id and where it is in the
	// store.
	var positions, want []string
	for _, m := range logs.Captured()[watermill.ErrorLogLevel] {
		if m.Msg == "projection rejected an event" {
			positions = append(positions, fmt.Sprint(m.Fields["event_id"], "@", m.Fields["position"]))
		}
	}
	for e, err := range store.ReadAll(t.Context(), 0) {
		require.NoError(t, err)
		if e.Type() != events.TypeOpened {
			want = append(want, fmt.Sprint(e.ID, "@", e.Position))
		}
	}
	assert.ElementsMatch(t, want, positions)
}

// An event whose version no stream has (here beyond events.MaxVersion,
// which the JSON codec reads) is counted as rejected and logged, where it
// counted nowhere: every event the runner reads counts once.
func TestRunnerRejectsAVersionNoStreamHas(t *testing.T) {
	bus := gochannel.NewGoChannel(gochannel.Config{}, quietLogger())
	defer bus.Close()
	logs := watermill.NewCaptureLogger()
	p := newTally()
	r, err := NewRunner(RunnerConfig{Name: "tally", Projection: p, Subscriber: bus, Topic: "events", Logger: logs})
	require.NoError(t, err)
	stop := startRunner(t, r)
	require.Eventually(t, r.CaughtUp, 5*time.Second, time.Millisecond) // subscribed
	codec := events.NewJSONCodec(nil)
	good := testLog(1)[0]
	payload, err := codec.Append(nil, good)
	require.NoError(t, err)
	bad := bytes.Replace(payload, []byte(`"version":1`), []byte(`"version":9223372036854775808`), 1)
	require.NotEqual(t, payload, bad)
	for i, b := range [][]byte{bad, payload} {
		m := message.NewMessage(fmt.Sprint("m", i), b)
		m.Metadata.Set(events.MetadataCodec, codec.Name())
		require.NoError(t, bus.Publish("events", m))
	}
	require.Eventually(t, func() bool { return r.Stats().Applied == 1 }, 5*time.Second, time.Millisecond)
	require.NoError(t, stop())
	st := r.Stats()
	assert.Equal(t, int64(1), st.Rejected)
	assert.Zero(t, st.Held)
	assert.Zero(t, st.Duplicates)
	var logged bool
	for _, m := range logs.Captured()[watermill.ErrorLogLevel] {
		logged = logged || m.Msg == "runner rejected an event of a version no stream has" &&
			m.Fields["version"] == uint64(events.MaxVersion+1) && m.Fields["event_id"] == good.ID.String()
	}
	assert.True(t, logged, "the refusal is logged with the event's id and version")
}

func TestRunnerRebuild(t *testing.T) {
	store := events.NewMemoryStore()
	appendAll(t, store, testLog(10))
	p := newTally()
	r, err := NewRunner(RunnerConfig{Name: "tally", Projection: p, Store: store, Logger: quietLogger()})
	require.NoError(t, err)
	require.NoError(t, r.Rebuild(context.Background()))
	assert.Equal(t, wantTally(10), p.ByType)
	p.ByType[events.TypeOpened] = 99 // damage the state
	require.NoError(t, r.Rebuild(context.Background()))
	assert.Equal(t, wantTally(10), p.ByType)
	assert.Equal(t, int64(30), r.Stats().Applied)

	r2, err := NewRunner(RunnerConfig{Name: "plain", Projection: &plain{}, Store: store})
	require.NoError(t, err)
	assert.ErrorIs(t, r2.Rebuild(context.Background()), ErrCannotRebuild)
	bus := gochannel.NewGoChannel(gochannel.Config{}, quietLogger())
	r3, err := NewRunner(RunnerConfig{Name: "live", Projection: newTally(), Subscriber: bus, Topic: "t"})
	require.NoError(t, err)
	assert.ErrorIs(t, r3.Rebuild(context.Background()), ErrCannotRebuild)
}

func TestRunnerRunsOnceAtATime(t *testing.T) {
	store := events.NewMemoryStore()
	r, err := NewRunner(RunnerConfig{Name: "tally", Projection: newTally(), Store: store, Logger: quietLogger()})
	require.NoError(t, err)
	stop := startRunner(t, r)
	require.Eventually(t, r.CaughtUp, 5*time.Second, time.Millisecond)
	assert.ErrorIs(t, r.Run(context.Background()), ErrRunnerBusy)
	require.NoError(t, stop())
}

// closingSubscriber closes the first subscription after a number of
// messages, as a broker connection that drops would.
type closingSubscriber struct {
	message.Subscriber
	after int

	mu    sync.Mutex
	calls int
}

func (s *closingSubscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	s.mu.Lock()
	s.calls++
	first := s.calls == 1
	s.mu.Unlock()
	in, err := s.Subscriber.Subscribe(ctx, topic)
	if err != nil || !first {
		return in, err
	}
	out := make(chan *message.Message)
	subCtx, cancel := context.WithCancel(ctx)
	go func() {
		defer close(out)
		defer cancel()
		for n := 0; n < s.after; n++ {
			select {
			case msg := <-in:
				out <- msg
			case <-subCtx.Done():
				return
			}
		}
	}()
	return out, nil
}

func TestRunnerSubscribesAgainWhenTheSubscriptionCloses(t *testing.T) {
	store := events.NewMemoryStore()
	bus := gochannel.NewGoChannel(gochannel.Config{Persistent: true}, quietLogger())
	defer bus.Close()
	log := testLog(20)
	sub := &closingSubscriber{Subscriber: bus, after: 10}
	p := newTally()
	r, err := NewRunner(RunnerConfig{Name: "tally", Projection: p, Store: store, Subscriber: sub, Topic: "events",
		ResubscribeDelay: time.Millisecond, CheckpointInterval: -1, CheckpointEvery: -1, Logger: quietLogger()})
	require.NoError(t, err)
	stop := startRunner(t, r)
	require.Eventually(t, r.CaughtUp, 5*time.Second, time.Millisecond)
	storeAndPublish(t, store, bus, log)
	waitApplied(t, r, int64(len(log)))
	require.NoError(t, stop())
	sub.mu.Lock()
	assert.Equal(t, 2, sub.calls)
	sub.mu.Unlock()
	assert.Equal(t, wantTally(20), p.ByType)
}

func TestRunnerState(t *testing.T) {
	seq := NewSequencer()
	log := testLog(2)
	emit := func(events.Envelope) error { return nil }
	for _, e := range []events.Envelope{log[0], log[1], log[3], log[5]} { // log[5] waits for log[4]
		_, err := seq.Offer(e, emit)
		require.NoError(t, err)
	}
	codecs := []events.Codec{events.NewMsgpackCodec(nil)}
	b, err := appendRunnerState(nil, seq, codecs, []byte("projection"))
	require.NoError(t, err)

	st, err := decodeRunnerState(b, codecs)
	require.NoError(t, err)
	assert.Equal(t, map[uuid.UUID]uint64{log[0].Issue: 2, log[3].Issue: 1}, st.positions)
	require.Len(t, st.held, 1)
	assert.Equal(t, log[5].ID, st.held[0].ID)
	assert.Equal(t, []byte("projection"), st.projection)
	assert.False(t, st.direct)

	big := NewSequencer()
	big.Restore(map[uuid.UUID]uint64{log[0].Issue: events.MaxVersion + 1})
	b2, err := appendRunnerState(nil, big, codecs, nil)
	require.NoError(t, err)
	_, err = decodeRunnerState(b2, codecs)
	assert.ErrorContains(t, err, "version", "a version beyond events.MaxVersion")

	direct, err := appendRunnerState(nil, nil, codecs, []byte("projection"))
	require.NoError(t, err)
	st, err = decodeRunnerState(direct, codecs)
	require.NoError(t, err)
	assert.Equal(t, runnerState{positions: map[uuid.UUID]uint64{}, projection: []byte("projection"), direct: true}, st)

	// The layout before each held event named its codec: one name for all.
	enc, err := codecs[0].Append(nil, log[5])
	require.NoError(t, err)
	old := appendString([]byte(runnerStateMagic1), "msgpack")
	old = binary.AppendUvarint(old, 1)
	old = append(old, log[0].Issue[:]...)
	old = binary.AppendUvarint(old, 2)
	old = binary.AppendUvarint(old, 1)
	old = append(appendString(old, string(enc)), "projection"...)
	st, err = decodeRunnerState(old, codecs)
	require.NoError(t, err)
	assert.Equal(t, map[uuid.UUID]uint64{log[0].Issue: 2}, st.positions)
	require.Len(t, st.held, 1)
	assert.Equal(t, log[5].ID, st.held[0].ID)
	assert.Equal(t, []byte("projection"), st.projection)

	for _, bad := range [][]byte{nil, []byte("TFRS"), []byte("TFRS\x03"), []byte("TFRS\x04"), b[:len(runnerStateMagic)+3], b[:len(b)-len("projection")-4]} {
		_, err := decodeRunnerState(bad, codecs)
		assert.Error(t, err, "%q", bad)
	}
}

func TestRunnerCheckpointsOnlyWhatChanged(t *testing.T) {
	store := events.NewMemoryStore()
	appendAll(t, store, testLog(10))
	r, err := NewRunner(RunnerConfig{Name: "tally", Projection: newTally(), Store: store,
		CheckpointInterval: time.Millisecond, CheckpointShare: -1, PollInterval: time.Millisecond, Logger: quietLogger()})
	require.NoError(t, err)
	stop := startRunner(t, r)
	waitApplied(t, r, 30)
	require.Eventually(t, func() bool { return r.Stats().Checkpoints == 1 }, 5*time.Second, time.Millisecond)
	time.Sleep(20 * time.Millisecond) // twenty ticks with nothing new
	assert.Equal(t, int64(1), r.Stats().Checkpoints)

	one := testLog(1) // one issue's three events, appended at once so that no tick falls between them
	_, err = store.Append(context.Background(), one[0].Issue, 0, one)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return r.Stats().Checkpoints == 2 }, 5*time.Second, time.Millisecond)
	require.NoError(t, stop())
	assert.Equal(t, int64(2), r.Stats().Checkpoints, "the final checkpoint had nothing new to save")
}

func TestRunnerDecodesByTheCodecOfEachMessage(t *testing.T) {
	bus, p, r, stop := liveTally(t)

	log := testLog(10)
	reg := events.NewRegistry()
	for i, e := range log {
		codec := events.Codec(events.NewMsgpackCodec(reg))
		if i%2 == 1 {
			codec = events.NewJSONCodec(reg)
		}
		pub, err := events.NewPublisher(events.PublisherConfig{Publisher: bus, Codec: codec, Topic: func(events.Envelope) string { return "events" }})
		require.NoError(t, err)
		require.NoError(t, pub.Publish(context.Background(), []events.Envelope{e}))
	}
	waitApplied(t, r, int64(len(log)))
	require.NoError(t, stop())
	assert.Zero(t, r.Stats().Poisoned)
	assert.Equal(t, wantTally(10), p.ByType)
}

// slowSaver counts events and takes 20 ms to save, as a large state does.
type slowSaver struct{ n int }

func (s *slowSaver) Apply(events.Envelope) error { s.n++; return nil }

func (s *slowSaver) MarshalBinary() ([]byte, error) {
	time.Sleep(20 * time.Millisecond)
	return fmt.Appendf(nil, "%d", s.n), nil
}

func (s *slowSaver) UnmarshalBinary(b []byte) error {
	_, err := fmt.Sscanf(string(b), "%d", &s.n)
	return err
}

// Checkpoints that take long are spaced out, so that catching up is not
// spent saving: 5,001 events at one checkpoint every 100 would save 50
// times, 20 ms each; the runner saves far fewer, and the last checkpoint,
// at its stop, still covers every event.
func TestRunnerSpacesOutCheckpointsThatTakeLong(t *testing.T) {
	ctx := context.Background()
	store := events.NewMemoryStore()
	log := testLog(1667)
	for _, e := range log {
		_, err := store.Append(ctx, e.Issue, e.Version-1, []events.Envelope{e})
		require.NoError(t, err)
	}
	cps := NewMemoryCheckpoints()
	p := &slowSaver{}
	r, err := NewRunner(RunnerConfig{Name: "slow", Projection: p, Store: store, Checkpoints: cps,
		CheckpointEvery: 100, CheckpointInterval: -1, Logger: quietLogger()})
	require.NoError(t, err)
	stop := startRunner(t, r)
	require.Eventually(t, func() bool {
		lag, err := r.Lag(ctx)
		return err == nil && r.CaughtUp() && lag.Behind == 0
	}, 20*time.Second, time.Millisecond)
	require.NoError(t, stop())
	assert.Less(t, r.Stats().Checkpoints, int64(25))
	cp, ok, err := cps.Load(ctx, "slow")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, uint64(len(log)), cp.Position)
	restored := &slowSaver{}
	r2, err := NewRunner(RunnerConfig{Name: "slow", Projection: restored, Store: store, Checkpoints: cps, Logger: quietLogger()})
	require.NoError(t, err)
	stop = startRunner(t, r2)
	require.Eventually(t, r2.CaughtUp, 20*time.Second, time.Millisecond)
	require.NoError(t, stop())
	assert.Equal(t, len(log), restored.n)
}

// A checkpoint that CheckpointEvery called for and that waited for the
// last one's cost is made once it may be, even when no event comes after
// it: a runner fed by a broker alone, whose events were acknowledged, does
// not leave them unsaved for as long as the stream is quiet.
func TestRunnerMakesADeferredCheckpointOnAQuietStream(t *testing.T) {
	bus := gochannel.NewGoChannel(gochannel.Config{BlockPublishUntilSubscriberAck: true}, quietLogger())
	t.Cleanup(func() { _ = bus.Close() })
	cps := NewMemoryCheckpoints()
	p := &slowSaver{}
	r, err := NewRunner(RunnerConfig{Name: "quiet", Projection: p, Subscriber: bus, Topic: "events", Checkpoints: cps,
		CheckpointEvery: 1, CheckpointInterval: -1, Logger: quietLogger()})
	require.NoError(t, err)
	stop := startRunner(t, r)
	require.Eventually(t, r.CaughtUp, 5*time.Second, time.Millisecond)
	publishAll(t, bus, "events", testLog(1)) // three events, the last ones deferred
	require.Eventually(t, func() bool {
		cp, ok, err := cps.Load(context.Background(), "quiet")
		if err != nil || !ok {
			return false
		}
		state, err := cp.ProjectionState()
		return err == nil && string(state) == "3"
	}, 10*time.Second, 5*time.Millisecond, "the deferred checkpoint was made")
	require.NoError(t, stop())
}

// gatedCheckpoints holds the first Save, once entered is closed, until
// release is closed (then it saves) or its ctx ends (then it fails).
type gatedCheckpoints struct {
	*MemoryCheckpoints
	entered, release chan struct{}
	once             sync.Once
}

func newGatedCheckpoints() *gatedCheckpoints {
	return &gatedCheckpoints{MemoryCheckpoints: NewMemoryCheckpoints(), entered: make(chan struct{}), release: make(chan struct{})}
}

func (g *gatedCheckpoints) Save(ctx context.Context, name string, cp Checkpoint) error {
	first := false
	g.once.Do(func() { first = true })
	if first {
		close(g.entered)
		select {
		case <-g.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return g.MemoryCheckpoints.Save(ctx, name, cp)
}

// A Rebuild asked while the Run saves a checkpoint slowly waits for it, so
// that the stored checkpoint ends with the rebuilt state, and the runner's
// bookkeeping with it.
func TestRunnerRebuildIsNotOverwrittenByAnEarlierCheckpoint(t *testing.T) {
	ctx := context.Background()
	store := events.NewMemoryStore()
	appendAll(t, store, testLog(3))
	cps := newGatedCheckpoints()
	p := newTally()
	r, err := NewRunner(RunnerConfig{Name: "tally", Projection: p, Store: store, Checkpoints: cps,
		CheckpointEvery: 9, PollInterval: time.Millisecond, Logger: quietLogger()})
	require.NoError(t, err)
	stop := startRunner(t, r)
	<-cps.entered // the catch-up's checkpoint, at position 9, is being saved
	appendAll(t, store, testLog(3))
	rebuilt := rebuilding(ctx, r)
	select {
	case err := <-rebuilt:
		t.Fatalf("the Rebuild did not wait for the checkpoint: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(cps.release)
	require.NoError(t, <-rebuilt)

	cp, ok, err := cps.Load(ctx, "tally")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, uint64(18), cp.Position, "the rebuild's checkpoint is the last saved")
	r.mu.Lock()
	assert.Equal(t, uint64(18), r.savedPos)
	assert.Zero(t, r.changes)
	r.mu.Unlock()
	require.NoError(t, stop())
	assert.Equal(t, wantTally(6), p.ByType)
}

// Runners of the partitions of one store each apply their partition's
// events, at catch-up, live and in a Rebuild, and pass over the others.
func TestRunnerFilterAppliesItsPartition(t *testing.T) {
	store := events.NewMemoryStore()
	bus := gochannel.NewGoChannel(gochannel.Config{BlockPublishUntilSubscriberAck: true}, quietLogger())
	defer bus.Close()
	log := testLog(20)
	appendAll(t, store, log[:30])
	const n = 2
	want := make([]int, n)
	for _, e := range log {
		if e.Version == 1 {
			want[events.PartitionOf(events.PartitionKey(e), n)]++
		}
	}
	require.Positive(t, want[0])
	require.Positive(t, want[1])
	var runners []*Runner
	var tallies []*tally
	var stops []func() error
	for i := range n {
		p := newTally()
		r, err := NewRunner(RunnerConfig{Name: fmt.Sprint("part", i), Projection: p, Store: store, Subscriber: bus, Topic: "events",
			Filter: events.InPartition(i, n), CheckpointInterval: 10 * time.Millisecond, Logger: quietLogger()})
		require.NoError(t, err)
		stops = append(stops, startRunner(t, r))
		require.Eventually(t, r.CaughtUp, 5*time.Second, time.Millisecond)
		runners, tallies = append(runners, r), append(tallies, p)
	}
	storeAndPublish(t, store, bus, log[30:])
	for i, r := range runners {
		require.Eventually(t, func() bool { return r.Stats().Position == uint64(len(log)) }, 5*time.Second, time.Millisecond)
		require.NoError(t, r.Rebuild(context.Background()))
		require.NoError(t, stops[i]())
		assert.Equal(t, map[events.Type]int{events.TypeOpened: want[i], events.TypeRouted: want[i], events.TypeResolved: want[i]},
			tallies[i].ByType, "partition %d", i)
		assert.Equal(t, int64(len(log)-3*want[i]), r.Stats().Filtered, "partition %d: the Rebuild's count", i)
	}
}

// monthInStore stores the events of testLog(n) spread over a month, so
// that a Reporter folds the early issues, and returns them as stored.
func monthInStore(t *testing.T, n int) (*events.MemoryStore, []events.Envelope) {
	t.Helper()
	store := events.NewMemoryStore()
	var stored []events.Envelope
	for i, e := range testLog(n) {
		e.At = e.At.Add(time.Duration(i/3) * 30 * 24 * time.Hour / time.Duration(n))
		out, err := store.Append(context.Background(), e.Issue, e.Version-1, []events.Envelope{e})
		require.NoError(t, err)
		stored = append(stored, out...)
	}
	return store, stored
}

// A runner with a Store and a Subscriber, restarted from its checkpoint,
// passes over the broker's backlog of messages whose events it read from
// the store already (their store position is at or below its own), as
// pgstore's outbox and events.Publisher mark them: a Reporter that had
// folded their issues would otherwise count them again, as late events,
// at every restart. A message of an event the store holds beyond the
// runner's position is applied.
func TestRunnerPassesOverMessagesItsStoreCovers(t *testing.T) {
	store, stored := monthInStore(t, 60)
	require.Equal(t, uint64(len(stored)), stored[len(stored)-1].Position)
	cps := NewMemoryCheckpoints()
	newReporter := func() *Reporter {
		rep, err := NewReporter(ReportConfig{})
		require.NoError(t, err)
		return rep
	}
	rep := newReporter()
	r, err := NewRunner(RunnerConfig{Name: "report", Projection: rep, Store: store, Checkpoints: cps, Logger: quietLogger()})
	require.NoError(t, err)
	stop := startRunner(t, r)
	require.Eventually(t, r.CaughtUp, 5*time.Second, time.Millisecond)
	require.NoError(t, stop())
	require.Equal(t, int64(len(stored)), rep.Report().Events)

	// The broker delivers every event again, as a durable subscription's
	// backlog does after a restart, each message marked with its position.
	bus := gochannel.NewGoChannel(gochannel.Config{Persistent: true}, quietLogger())
	defer bus.Close()
	publishAll(t, bus, "events", stored)
	for _, e := range stored[:3] {
		msg, err := events.NewMessage(events.NewMsgpackCodec(nil), e)
		require.NoError(t, err)
		p, ok := events.MessagePosition(msg)
		require.True(t, ok)
		assert.Equal(t, e.Position, p)
	}
	rep = newReporter()
	r, err = NewRunner(RunnerConfig{Name: "report", Projection: rep, Store: store, Checkpoints: cps,
		Subscriber: bus, Topic: "events", Logger: quietLogger()})
	require.NoError(t, err)
	stop = startRunner(t, r)
	require.Eventually(t, func() bool { return r.Stats().Duplicates == int64(len(stored)) }, 10*time.Second, time.Millisecond,
		"the backlog is passed over: %+v", r.Stats())

	// A new issue, stored then published: applied once.
	issue, contact := uuid.New(), uuid.New()
	at := stored[len(stored)-1].At.Add(time.Hour)
	next, err := store.Append(context.Background(), issue, 0, []events.Envelope{{ID: uuid.New(), Issue: issue, Version: 1, At: at,
		Data: &events.Opened{Customer: events.Customer{ID: "c-new"}, Channel: "chat", Topic: "billing", Contact: contact}}})
	require.NoError(t, err)
	publishAll(t, bus, "events", next)
	require.Eventually(t, func() bool {
		var n int64
		r.View(func() { n = rep.Report().FCR.Issues })
		return n == 61
	}, 10*time.Second, time.Millisecond)
	require.NoError(t, stop())
	report := rep.Report()
	assert.Equal(t, int64(len(stored)+1), report.Events)
	assert.Zero(t, report.FCR.LateEvents)
	assert.Zero(t, report.Volume.LateEvents)
}

// A runner told to skip unknown types passes an event of one on as an
// events.Opaque, alone or in a batch, so that its issue's stream goes on:
// the resolution after it counts. Without, the message is poison and the
// resolution waits for the version that never came.
func TestRunnerSkipsUnknownTypesWhenTold(t *testing.T) {
	reg := events.NewRegistry()
	require.NoError(t, reg.Register("acme.escalated", 1, func() events.Data { return new(escalated) }))
	newer := events.NewMsgpackCodec(reg)
	log := testLog(2)
	// Each issue: opened, escalated (unknown), routed, resolved.
	var evs []events.Envelope
	for i := 0; i < len(log); i += 3 {
		esc := log[i+1]
		esc.ID, esc.Data = uuid.New(), &escalated{Level: 2}
		rest := slices.Clone(log[i+1 : i+3])
		for k := range rest {
			rest[k].Version++
		}
		evs = append(evs, log[i], esc)
		evs = append(evs, rest...)
	}
	one, err := events.NewMessage(newer, evs[1])
	require.NoError(t, err)
	var msgs []*message.Message
	for _, e := range []events.Envelope{evs[0], evs[2], evs[3]} {
		m, err := events.NewMessage(newer, e)
		require.NoError(t, err)
		msgs = append(msgs, m)
	}
	msgs = append(msgs, one)
	batch, err := events.NewBatchMessage(newer, evs[4:])
	require.NoError(t, err)
	msgs = append(msgs, batch)

	for _, skip := range []bool{true, false} {
		t.Run(fmt.Sprintf("skip %v", skip), func(t *testing.T) {
			bus := gochannel.NewGoChannel(gochannel.Config{Persistent: true}, quietLogger())
			defer bus.Close()
			rep, err := NewReporter(ReportConfig{})
			require.NoError(t, err)
			r, err := NewRunner(RunnerConfig{Name: "report", Projection: rep, Subscriber: bus, Topic: "events",
				SkipUnknownTypes: skip, Logger: quietLogger()})
			require.NoError(t, err)
			stop := startRunner(t, r)
			for _, m := range msgs {
				require.NoError(t, bus.Publish("events", m.Copy()))
			}
			if skip {
				require.Eventually(t, func() bool { return r.Stats().Applied == int64(len(evs)) }, 5*time.Second, time.Millisecond, "%+v", r.Stats())
			} else {
				// The messages come each on a goroutine of its own
				// (Persistent): the poisoned ones may come before others.
				require.Eventually(t, func() bool {
					st := r.Stats()
					return st.Poisoned == 2 && st.Applied == int64(len(evs)-2)
				}, 5*time.Second, time.Millisecond, "%+v", r.Stats())
			}
			require.NoError(t, stop())
			st := r.Stats()
			report := rep.Report()
			if skip {
				assert.Equal(t, int64(2), st.UnknownTypes)
				assert.Zero(t, st.Poisoned)
				assert.Equal(t, int64(2), report.Service.Reopen.Total, "both resolutions count")
				assert.Zero(t, report.Volume.Backlog.Open)
			} else {
				assert.Zero(t, st.UnknownTypes)
				assert.Equal(t, int64(2), report.Volume.Backlog.Open, "the resolutions wait for the versions poisoned")
			}
		})
	}
}

// lateStore is a Store whose reads start late, so that a runner's
// subscription queues messages before its catch-up reads their events.
type lateStore struct {
	events.Store
	delay time.Duration
}

func (s lateStore) ReadAll(ctx context.Context, after uint64) iter.Seq2[events.Envelope, error] {
	time.Sleep(s.delay)
	return s.Store.ReadAll(ctx, after)
}

// Messages queued while a runner catches up, whose events the catch-up
// then reads from the store, are passed over when their turn comes: the
// position check is made again as they are applied.
func TestRunnerPassesOverQueuedMessagesItsCatchUpCovered(t *testing.T) {
	store, stored := monthInStore(t, 100)
	bus := gochannel.NewGoChannel(gochannel.Config{Persistent: true}, quietLogger())
	defer bus.Close()
	publishAll(t, bus, "events", stored)

	rep, err := NewReporter(ReportConfig{})
	require.NoError(t, err)
	r, err := NewRunner(RunnerConfig{Name: "report", Projection: rep, Store: lateStore{store, 100 * time.Millisecond},
		Subscriber: bus, Topic: "events", Logger: quietLogger()})
	require.NoError(t, err)
	stop := startRunner(t, r)
	require.Eventually(t, func() bool { return r.Stats().Duplicates == int64(len(stored)) }, 10*time.Second, time.Millisecond,
		"every message is passed over: %+v", r.Stats())
	require.NoError(t, stop())
	report := rep.Report()
	assert.Equal(t, int64(len(stored)), report.Events)
	assert.Zero(t, report.FCR.LateEvents)
	assert.Zero(t, report.Volume.LateEvents)
}

// never and always say whether events are queued, for advanceIfIdle.
func never() bool  { return false }
func always() bool { return true }

// advancing records the times its watermark is moved to, and refuses
// when told to.
type advancing struct {
	plain
	to     []time.Time
	refuse error
}

func (p *advancing) AdvanceTo(t time.Time) error {
	if p.refuse != nil {
		return p.refuse
	}
	p.to = append(p.to, t)
	return nil
}

// IdleAdvance moves the watermark only once a whole interval passed with
// no event, and only once the runner has caught up; a refusal is passed
// over, and the next quiet interval tries again.
func TestRunnerAdvancesOnlyWhenCaughtUpAndQuiet(t *testing.T) {
	clock := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	p := &advancing{}
	r, err := NewRunner(RunnerConfig{Name: "x", Projection: p, Store: events.NewMemoryStore(), IdleAdvance: time.Minute,
		Now: func() time.Time { return clock }, Logger: quietLogger()})
	require.NoError(t, err)
	e := testLog(1)[0]

	r.advanceIfIdle(context.Background(), never) // not caught up
	r.caughtUp.Store(true)
	r.mu.Lock()
	r.offer(e)
	r.mu.Unlock()
	r.advanceIfIdle(context.Background(), never) // an event came in the interval
	assert.Empty(t, p.to)
	assert.Zero(t, r.Stats().AdvancedTo)

	r.advanceIfIdle(context.Background(), never)
	assert.Equal(t, []time.Time{clock}, p.to)
	assert.Equal(t, clock, r.Stats().AdvancedTo.UTC())

	clock = clock.Add(time.Minute)
	p.refuse = errors.New("no")
	r.advanceIfIdle(context.Background(), never)
	assert.Equal(t, []time.Time{clock.Add(-time.Minute)}, p.to, "refused")
	assert.Equal(t, clock.Add(-time.Minute), r.Stats().AdvancedTo.UTC())
	p.refuse = nil
	r.advanceIfIdle(context.Background(), never)
	assert.Equal(t, []time.Time{clock.Add(-time.Minute), clock}, p.to)

	r.mu.Lock()
	r.position = 1
	r.take(delivery{e: e, pos: 1}) // covered by the store: it came all the same
	r.mu.Unlock()
	require.Equal(t, int64(1), r.covered.Load())
	r.advanceIfIdle(context.Background(), never)
	assert.Len(t, p.to, 2)

	r.advanceIfIdle(context.Background(), always) // nothing came, but events are queued
	assert.Len(t, p.to, 2)
	r.advanceIfIdle(context.Background(), never)
	assert.Len(t, p.to, 3)
}

// refusesResolved refuses every resolution.
type refusesResolved struct{ n int }

func (p *refusesResolved) Apply(e events.Envelope) error {
	if e.Type() == events.TypeResolved {
		return errors.New("no resolutions here")
	}
	p.n++
	return nil
}

// What Sequence returns gives back the errors of the events that an
// advance released, after it moved its watermark and handed them over:
// the runner counts the advance for its final checkpoint all the same.
func TestRunnerCountsAnAdvanceThatReturnedErrors(t *testing.T) {
	log := testLog(1) // opened, routed, resolved of one issue
	clock := log[2].At.Add(48 * time.Hour)
	seq, err := Sequence(&refusesResolved{}, SequenceConfig{Lateness: time.Hour})
	require.NoError(t, err)
	r, err := NewRunner(RunnerConfig{Name: "x", Projection: seq, Store: events.NewMemoryStore(), IdleAdvance: time.Minute,
		Now: func() time.Time { return clock }, Logger: quietLogger()})
	require.NoError(t, err)
	r.mu.Lock()
	r.offer(log[0])
	r.offer(log[2]) // waits for version 2
	r.changes = 0
	r.mu.Unlock()
	require.Equal(t, 1, seq.Held())
	r.caughtUp.Store(true)
	r.advanceIfIdle(context.Background(), never) // events came since the last look
	r.advanceIfIdle(context.Background(), never)
	assert.Zero(t, seq.Held(), "the advance released the held event")
	assert.Equal(t, 1, r.advances)
	assert.Zero(t, r.Stats().AdvancedTo, "an advance that returned an error")
	require.NoError(t, r.checkpointFinal(context.Background()))
	assert.Zero(t, r.advances, "saved")
}

// A runner on a Store and a Subscriber whose messages carry their store
// positions (as pgstore's outbox sends them) applies each event once: the
// copy that a checkpoint then reads from the store is passed over, rather
// than offered to a projection that has forgotten its issue since and
// would count it as late. Its report is a direct replay's.
func TestRunnerPassesOverTheStoreCopyOfWhatItAppliedLive(t *testing.T) {
	store := events.NewMemoryStore()
	bus := gochannel.NewGoChannel(gochannel.Config{BlockPublishUntilSubscriberAck: true}, quietLogger())
	defer bus.Close()
	rep, err := NewReporter(ReportConfig{})
	require.NoError(t, err)
	r, err := NewRunner(RunnerConfig{Name: "report", Projection: rep, Store: store, Subscriber: bus, Topic: "events",
		CheckpointEvery: 1000, CheckpointInterval: time.Hour, Logger: quietLogger()})
	require.NoError(t, err)
	stop := startRunner(t, r)
	require.Eventually(t, r.CaughtUp, 5*time.Second, time.Millisecond)
	pub, err := events.NewPublisher(events.PublisherConfig{Publisher: bus, Topic: func(events.Envelope) string { return "events" }})
	require.NoError(t, err)

	// Issue a is resolved; nine days later issue b opens, which takes the
	// watermark past a's lateness and window, and a late survey of a comes.
	a, b := uuid.New(), uuid.New()
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	ca, cb := uuid.New(), uuid.New()
	log := []events.Envelope{
		{ID: uuid.New(), Issue: a, Version: 1, At: t0, Data: &events.Opened{Customer: events.Customer{Keys: []string{"email:a@example.com"}}, Channel: "chat", Topic: "billing", Contact: ca}},
		{ID: uuid.New(), Issue: a, Version: 2, At: t0.Add(5 * time.Minute), Data: &events.Resolved{Contact: ca, Agent: "maria"}},
		{ID: uuid.New(), Issue: b, Version: 1, At: t0.Add(9 * 24 * time.Hour), Data: &events.Opened{Customer: events.Customer{Keys: []string{"email:b@example.com"}}, Channel: "phone", Topic: "billing", Contact: cb}},
		{ID: uuid.New(), Issue: a, Version: 3, At: t0.Add(9*24*time.Hour + time.Minute), Data: &events.Rated{Survey: events.SurveyCSAT, Score: 5}},
	}
	for _, e := range log {
		stored, err := store.Append(context.Background(), e.Issue, e.Version-1, []events.Envelope{e})
		require.NoError(t, err)
		require.NoError(t, pub.Publish(context.Background(), stored)) // with its position
	}
	waitApplied(t, r, int64(len(log)))
	require.NoError(t, stop()) // the final checkpoint reads the store first

	st := r.Stats()
	assert.Equal(t, int64(len(log)), st.Applied)
	assert.Equal(t, int64(len(log)), st.Duplicates, "the store's copies, passed over")
	assert.Equal(t, uint64(len(log)), st.Position)
	direct, err := NewReporter(ReportConfig{})
	require.NoError(t, err)
	_, _, err = direct.Replay(context.Background(), store, 0)
	require.NoError(t, err)
	want, err := json.Marshal(direct.Report())
	require.NoError(t, err)
	got, err := json.Marshal(rep.Report())
	require.NoError(t, err)
	assert.JSONEq(t, string(want), string(got))
}

// A runner that never reads its store again (no checkpoints) remembers at
// most maxLive of the events it applied live: its memory stays bounded,
// and past that the store's copies are left to the projection.
func TestRunnerRemembersABoundedNumberOfLiveEvents(t *testing.T) {
	store := events.NewMemoryStore()
	bus := gochannel.NewGoChannel(gochannel.Config{}, quietLogger())
	defer bus.Close()
	r, err := NewRunner(RunnerConfig{Name: "tally", Projection: newTally(), Store: store, Subscriber: bus, Topic: "events",
		CheckpointEvery: -1, CheckpointInterval: -1, Logger: quietLogger()})
	require.NoError(t, err)
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	r.mu.Lock()
	for i := range maxLive + 100 {
		e := events.Envelope{ID: uuid.New(), Issue: uuid.New(), Version: 1, At: t0, Data: &events.Classified{Topic: "t"}}
		r.take(delivery{e: e, pos: uint64(i + 1)})
	}
	n := len(r.live)
	r.mu.Unlock()
	assert.Equal(t, maxLive, n)
	assert.Equal(t, int64(maxLive+100), r.Stats().Applied, "every event applied all the same")
}

// hangingSubscriber's Subscribe returns only when its context ends, as
// some transports' do when the broker lacks what the topic needs.
type hangingSubscriber struct{}

func (hangingSubscriber) Subscribe(ctx context.Context, _ string) (<-chan *message.Message, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func (hangingSubscriber) Close() error { return nil }

// A Subscribe that does not return holds back the catch-up from the
// store, which comes after it: the runner says so in its log, naming the
// topic, rather than sit silent with a backlog unread.
func TestRunnerLogsASubscribeThatDoesNotReturn(t *testing.T) {
	defer func(d time.Duration) { slowSubscribe = d }(slowSubscribe)
	slowSubscribe = 20 * time.Millisecond
	store := events.NewMemoryStore()
	appendAll(t, store, testLog(2))
	logs := watermill.NewCaptureLogger()
	r, err := NewRunner(RunnerConfig{Name: "tally", Projection: newTally(), Store: store, Subscriber: hangingSubscriber{},
		Topic: "events", Checkpoints: NewMemoryCheckpoints(), Logger: logs})
	require.NoError(t, err)
	stop := startRunner(t, r)
	require.Eventually(t, func() bool {
		for _, m := range logs.Captured()[watermill.ErrorLogLevel] {
			if m.Msg == "subscribing has not returned: the store is read once it does" && m.Fields["topic"] == "events" {
				return true
			}
		}
		return false
	}, 5*time.Second, time.Millisecond)
	assert.Zero(t, r.Stats().Applied, "nothing read before the subscription")
	assert.False(t, r.CaughtUp())
	require.NoError(t, stop(), "stopped while subscribing: a clean stop")
}

// elsewhereTable is a host's projection whose state lives elsewhere (a
// table of its own): it has no MarshalBinary; it notes the versions applied.
type elsewhereTable struct{ got []uint64 }

func (p *elsewhereTable) Apply(e events.Envelope) error {
	p.got = append(p.got, e.Version)
	return nil
}

// A runner with a Subscriber alone feeds a projection that keeps its state
// elsewhere from where it stands at each start: the checkpoint keeps the
// runner's own sequencing (each issue's last version, the events held for
// a gap, acknowledged already), so that a new runner neither applies a
// redelivery again nor loses what was held.
func TestRunnerKeepsItsSequencingForAProjectionWhoseStateIsElsewhere(t *testing.T) {
	log := testLog(1)
	require.GreaterOrEqual(t, len(log), 3)
	p := &elsewhereTable{}
	cps := NewMemoryCheckpoints()
	run := func(evs ...events.Envelope) {
		bus := gochannel.NewGoChannel(gochannel.Config{BlockPublishUntilSubscriberAck: true}, quietLogger())
		defer bus.Close()
		r, err := NewRunner(RunnerConfig{Name: "table", Projection: p, Subscriber: bus, Topic: "events",
			Checkpoints: cps, Logger: quietLogger()})
		require.NoError(t, err)
		stop := startRunner(t, r)
		require.Eventually(t, r.CaughtUp, 5*time.Second, time.Millisecond)
		publishAll(t, bus, "events", evs)
		require.Eventually(t, func() bool {
			s := r.Stats()
			return s.Applied+s.Duplicates+int64(s.Held) >= int64(len(evs)) // a held event released counts again
		}, 5*time.Second, time.Millisecond)
		require.NoError(t, stop())
	}
	run(log[0], log[2])         // version 3 waits for 2
	run(log[0], log[1], log[2]) // the broker delivers 1 and 3 again, and 2
	assert.Equal(t, []uint64{1, 2, 3}, p.got, "each version once, in order")
}
