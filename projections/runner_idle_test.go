package projections_test

import (
	"context"
	"fmt"
	"iter"
	"sync"
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
	"github.com/truefcr/truefcr/projections"
)

// idleLog is a simulated log of days days, a few hundred events a week.
func idleLog(t *testing.T, days int) []events.Envelope {
	log, _, err := simulate.Collect(simulate.Config{Seed: 11, Days: days, Customers: 60, IssuesPerDay: 6})
	require.NoError(t, err)
	return log
}

func appendEach(t *testing.T, s events.Store, log []events.Envelope) {
	for _, e := range log {
		_, err := s.Append(context.Background(), e.Issue, e.Version-1, []events.Envelope{e})
		require.NoError(t, err)
	}
}

// runIdle starts a runner of cfg and returns it with a function that stops
// it and requires that Run returned no error.
func runIdle(t *testing.T, cfg projections.RunnerConfig) (*projections.Runner, func()) {
	r, err := projections.NewRunner(cfg)
	require.NoError(t, err)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	return r, func() { stop(); require.NoError(t, <-done) }
}

// slowStore sleeps before each event it reads.
type slowStore struct {
	events.Store
	delay time.Duration
}

func (s slowStore) ReadAll(ctx context.Context, after uint64) iter.Seq2[events.Envelope, error] {
	return func(yield func(events.Envelope, error) bool) {
		for e, err := range s.Store.ReadAll(ctx, after) {
			time.Sleep(s.delay)
			if !yield(e, err) {
				return
			}
		}
	}
}

// A runner with IdleAdvance that reads weeks of history slowly from its
// store, with a Subscriber too or not, and rebuilds while it runs, counts
// no event late and ends with the report of one fed the log directly and
// advanced to the clock; its Rebuild forgets AdvancedTo until it advances
// again.
func TestRunnerIdleAdvanceOverASlowStoreAndARebuild(t *testing.T) {
	log := idleLog(t, 21)
	now := time.Now()
	want, err := projections.NewReporter(projections.ReportConfig{})
	require.NoError(t, err)
	for _, e := range log {
		require.NoError(t, want.Apply(e))
	}
	require.NoError(t, want.AdvanceTo(now))
	for _, withSub := range []bool{false, true} {
		t.Run(fmt.Sprintf("subscriber=%v", withSub), func(t *testing.T) {
			mem := events.NewMemoryStore()
			appendEach(t, mem, log)
			rep, err := projections.NewReporter(projections.ReportConfig{})
			require.NoError(t, err)
			cfg := projections.RunnerConfig{Name: "r", Projection: rep, Store: slowStore{mem, 20 * time.Microsecond},
				IdleAdvance: time.Millisecond, PollInterval: time.Millisecond, CheckpointInterval: 3 * time.Millisecond,
				Now: func() time.Time { return now }, Logger: watermill.NopLogger{}}
			if withSub {
				cfg.Subscriber, cfg.Topic = gochannel.NewGoChannel(gochannel.Config{}, watermill.NopLogger{}), "t"
			}
			r, stop := runIdle(t, cfg)
			require.Eventually(t, func() bool { return r.CaughtUp() && !r.Stats().AdvancedTo.IsZero() }, 30*time.Second, time.Millisecond)
			require.NoError(t, r.Rebuild(context.Background()))
			require.Eventually(t, func() bool { return !r.Stats().AdvancedTo.IsZero() }, 30*time.Second, time.Millisecond)
			var got projections.Report
			r.View(func() { got = rep.Report() })
			stop()
			assert.Zero(t, got.FCR.LateEvents)
			assert.Equal(t, want.Report(), got)
		})
	}
}

// backlog is a subscriber whose broker holds msgs, which it hands over
// after delay, each once the one before was acknowledged, and tells how
// many it still holds (Pending).
type backlog struct {
	delay time.Duration
	msgs  []*message.Message
	mu    sync.Mutex
	left  int64
}

func (s *backlog) Pending(context.Context) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.left, nil
}

func (s *backlog) Close() error { return nil }

func (s *backlog) Subscribe(ctx context.Context, _ string) (<-chan *message.Message, error) {
	out := make(chan *message.Message)
	s.mu.Lock()
	s.left = int64(len(s.msgs))
	s.mu.Unlock()
	go func() {
		select {
		case <-time.After(s.delay):
		case <-ctx.Done():
			return
		}
		for _, m := range s.msgs {
			m = m.Copy()
			select {
			case out <- m:
			case <-ctx.Done():
				return
			}
			select {
			case <-m.Acked():
				s.mu.Lock()
				s.left--
				s.mu.Unlock()
			case <-m.Nacked():
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// A runner without a Store, restarted after days down, advances only once
// its broker has handed over what it kept meanwhile (Pending), even when
// the broker takes longer than IdleAdvance to begin: no event is late.
func TestRunnerIdleAdvanceWaitsForTheBrokersBacklog(t *testing.T) {
	log := idleLog(t, 28)
	split := len(log) / 4
	codec := events.NewMsgpackCodec(events.NewRegistry())
	msgs := func(evs []events.Envelope) []*message.Message {
		var ms []*message.Message
		for _, e := range evs {
			m, err := events.NewMessage(codec, e)
			require.NoError(t, err)
			ms = append(ms, m)
		}
		return ms
	}
	cps := projections.NewMemoryCheckpoints()
	var mu sync.Mutex
	clock := log[split-1].At.Add(time.Minute)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	run := func(sub *backlog, n int64) *projections.Reporter {
		rep, err := projections.NewReporter(projections.ReportConfig{})
		require.NoError(t, err)
		r, stop := runIdle(t, projections.RunnerConfig{Name: "r", Projection: rep, Subscriber: sub, Topic: "t", Pending: sub.Pending,
			Checkpoints: cps, IdleAdvance: 5 * time.Millisecond, Now: now, Logger: watermill.NopLogger{}})
		require.Eventually(t, func() bool { return r.Stats().Applied >= n }, 20*time.Second, time.Millisecond)
		require.Eventually(t, func() bool { return !r.Stats().AdvancedTo.IsZero() }, 20*time.Second, time.Millisecond)
		stop()
		return rep
	}
	run(&backlog{msgs: msgs(log[:split])}, int64(split))
	mu.Lock()
	clock = log[len(log)-1].At.Add(time.Minute) // down for weeks
	mu.Unlock()
	rep := run(&backlog{delay: 50 * time.Millisecond, msgs: msgs(log[split:])}, int64(len(log)-split))
	got := rep.Report()
	assert.Zero(t, got.FCR.LateEvents)
	assert.Zero(t, got.Volume.LateEvents)
}

// partitionOpening returns the opening of a new issue of a customer in
// partition part of 2.
func partitionOpening(part, n int, at time.Time) events.Envelope {
	for k := 0; ; k++ {
		c := fmt.Sprintf("c-%d-%d", n, k)
		if events.PartitionOf(c, 2) != part {
			continue
		}
		return events.Envelope{ID: uuid.New(), Issue: uuid.New(), Version: 1, At: at,
			Meta: map[string]string{events.MetaPartitionKey: c},
			Data: &events.Opened{Customer: events.Customer{ID: c}, Channel: "chat", Topic: "billing", Contact: uuid.New()}}
	}
}

// The runner of a quiet partition advances while the other partitions of
// its store are busy: the events its Filter passes over are not its own.
func TestRunnerIdleAdvanceOfAQuietPartitionOnABusyStore(t *testing.T) {
	mem := events.NewMemoryStore()
	clock := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	f := mustFCR(projections.FCRConfig{Window: 24 * time.Hour})
	r, stop := runIdle(t, projections.RunnerConfig{Name: "p0", Projection: f, Store: mem, Filter: events.InPartition(0, 2),
		IdleAdvance: 20 * time.Millisecond, PollInterval: 5 * time.Millisecond,
		Now: func() time.Time { return clock }, Logger: watermill.NopLogger{}})
	defer stop()
	// Partition 1 has an event every 2 ms, until partition 0's runner
	// advanced or 10 s passed.
	for n := 0; r.Stats().AdvancedTo.IsZero() && n < 5000; n++ {
		e := partitionOpening(1, n, clock.Add(-time.Hour))
		_, err := mem.Append(context.Background(), e.Issue, 0, []events.Envelope{e})
		require.NoError(t, err)
		time.Sleep(2 * time.Millisecond)
	}
	st := r.Stats()
	assert.True(t, clock.Equal(st.AdvancedTo), "advanced to %s", st.AdvancedTo)
	assert.Positive(t, st.Filtered)
}

// Two partitions' runners over one store, each advanced when quiet, merge
// into the report of one FCR over the whole log advanced to the same time.
func TestRunnerIdleAdvanceOfPartitionsMerges(t *testing.T) {
	raw := idleLog(t, 10)
	log := partitioned(t, raw, 2)[:len(raw)]
	mem := events.NewMemoryStore()
	appendEach(t, mem, log)
	clock := log[len(log)-1].At.Add(36 * time.Hour)
	cfg := projections.FCRConfig{Window: 24 * time.Hour}
	var reps []projections.FCRReport
	for i := range 2 {
		f := mustFCR(cfg)
		r, stop := runIdle(t, projections.RunnerConfig{Name: "p", Projection: f, Store: mem, Filter: events.InPartition(i, 2),
			IdleAdvance: 2 * time.Millisecond, PollInterval: time.Millisecond, Now: func() time.Time { return clock }, Logger: watermill.NopLogger{}})
		require.Eventually(t, func() bool { return !r.Stats().AdvancedTo.IsZero() }, 10*time.Second, time.Millisecond)
		stop()
		reps = append(reps, f.Report())
	}
	got, err := projections.MergeFCRReports(reps...)
	require.NoError(t, err)
	one := mustFCR(cfg)
	for _, e := range log {
		require.NoError(t, one.Apply(e))
	}
	require.NoError(t, one.AdvanceTo(clock))
	want := one.Report()
	want.Definition.Partitions = 2
	assert.Equal(t, want, got)
	assert.Positive(t, got.Final)
}

// countingCheckpoints counts the checkpoints saved.
type countingCheckpoints struct {
	projections.CheckpointStore
	mu    sync.Mutex
	saves int
}

func (c *countingCheckpoints) Save(ctx context.Context, name string, cp projections.Checkpoint) error {
	c.mu.Lock()
	c.saves++
	c.mu.Unlock()
	return c.CheckpointStore.Save(ctx, name, cp)
}

func (c *countingCheckpoints) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.saves
}

// A quiet runner that advances saves no checkpoint at its ticks, where it
// would save its whole state again and again; its final checkpoint saves
// the advance, and a runner restarted from it ends as one that never
// stopped.
func TestRunnerIdleAdvanceSavesAtTheEnd(t *testing.T) {
	raw := idleLog(t, 10)
	half := len(raw) / 2
	clock := raw[half-1].At.Add(40 * time.Hour) // beyond the lateness of what follows
	run := func(stopBetween bool) projections.Report {
		mem := events.NewMemoryStore()
		cps := &countingCheckpoints{CheckpointStore: projections.NewMemoryCheckpoints()}
		appendEach(t, mem, raw[:half])
		cfg := func(rep *projections.Reporter) projections.RunnerConfig {
			return projections.RunnerConfig{Name: "x", Projection: rep, Store: mem, Checkpoints: cps, PollInterval: time.Millisecond,
				CheckpointInterval: time.Millisecond, CheckpointShare: -1, IdleAdvance: 2 * time.Millisecond,
				Now: func() time.Time { return clock }, Logger: watermill.NopLogger{}}
		}
		rep, err := projections.NewReporter(projections.ReportConfig{})
		require.NoError(t, err)
		r, stop := runIdle(t, cfg(rep))
		// Advanced, and every event read is in a checkpoint.
		require.Eventually(t, func() bool {
			cp, ok, err := cps.Load(context.Background(), "x")
			return err == nil && ok && cp.Position == uint64(half) && !r.Stats().AdvancedTo.IsZero()
		}, 5*time.Second, time.Millisecond)
		saves := cps.count()
		time.Sleep(50 * time.Millisecond) // quiet: some 25 advances and 50 checkpoint ticks
		assert.Equal(t, saves, cps.count(), "checkpoints saved while quiet")
		if stopBetween {
			stop()
			assert.Equal(t, saves+1, cps.count(), "the final checkpoint")
			rep, err = projections.NewReporter(projections.ReportConfig{})
			require.NoError(t, err)
			var wm time.Time
			r, stop = runIdle(t, cfg(rep))
			require.Eventually(t, r.CaughtUp, 5*time.Second, time.Millisecond)
			r.View(func() { wm = rep.Report().FCR.Watermark })
			assert.True(t, clock.Equal(wm), "restored watermark %s", wm)
		}
		appendEach(t, mem, raw[half:])
		require.Eventually(t, func() bool {
			l, err := r.Lag(context.Background())
			return err == nil && r.CaughtUp() && l.Behind == 0
		}, 5*time.Second, time.Millisecond)
		stop()
		return rep.Report()
	}
	nonstop, restarted := run(false), run(true)
	assert.Positive(t, nonstop.FCR.LateEvents, "the events after the advance that are older than the lateness")
	assert.Equal(t, nonstop, restarted)
}

// Every projection of the package is an Advancer that a runner takes with
// IdleAdvance.
func TestRunnerIdleAdvanceTakesEveryProjection(t *testing.T) {
	rep, err := projections.NewReporter(projections.ReportConfig{})
	require.NoError(t, err)
	svc, sat, vol := newKPIs(t)
	seq, err := projections.Sequence(mustFCR(projections.FCRConfig{}), projections.SequenceConfig{})
	require.NoError(t, err)
	for _, p := range []projections.Projection{mustFCR(projections.FCRConfig{}), rep, svc, sat, vol, seq} {
		_, err := projections.NewRunner(projections.RunnerConfig{Name: "x", Projection: p, Store: events.NewMemoryStore(), IdleAdvance: time.Second})
		assert.NoError(t, err, "%T", p)
	}
}

// A runner that polls its store reads it before it judges an interval
// quiet: an event appended since the last poll is applied before the
// watermark moves to the clock, and is not late, however long
// PollInterval is.
func TestRunnerIdleAdvanceReadsTheStoreFirst(t *testing.T) {
	mem := events.NewMemoryStore()
	var mu sync.Mutex
	clock := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	f := mustFCR(projections.FCRConfig{Window: 24 * time.Hour, Lateness: time.Minute})
	r, stop := runIdle(t, projections.RunnerConfig{Name: "s", Projection: f, Store: mem, PollInterval: time.Hour,
		IdleAdvance: 2 * time.Millisecond, Now: now, Logger: watermill.NopLogger{}})
	require.Eventually(t, func() bool { return !r.Stats().AdvancedTo.IsZero() }, 5*time.Second, time.Millisecond)
	e := partitionOpening(0, 0, clock.Add(5*time.Minute))
	_, err := mem.Append(context.Background(), e.Issue, 0, []events.Envelope{e})
	require.NoError(t, err)
	mu.Lock()
	clock = clock.Add(20 * time.Minute)
	mu.Unlock()
	require.Eventually(t, func() bool { return now().Equal(r.Stats().AdvancedTo) }, 5*time.Second, time.Millisecond)
	stop()
	assert.Equal(t, int64(1), r.Stats().Applied)
	rep := f.Report()
	assert.Zero(t, rep.LateEvents)
	assert.Equal(t, int64(1), rep.Issues)
}

// A runner told to (IdleAdvance) moves the FCR's watermark to its clock
// once nothing comes: the window after a resolution passes in a quiet
// night, and the problem is final without a newer event. Without it, the
// problem stays pending; the final checkpoint keeps the advance.
func TestRunnerIdleAdvanceMakesAQuietWindowFinal(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	issue, contact := uuid.New(), uuid.New()
	store := events.NewMemoryStore()
	_, err := store.Append(ctx, issue, 0, []events.Envelope{
		{ID: uuid.New(), Issue: issue, Version: 1, At: at, Data: &events.Opened{
			Customer: events.Customer{ID: "c-1"}, Channel: "chat", Topic: "billing", Contact: contact}},
		{ID: uuid.New(), Issue: issue, Version: 2, At: at.Add(time.Hour), Data: &events.Resolved{Contact: contact, Agent: "ana"}},
	})
	require.NoError(t, err)
	cfg := projections.FCRConfig{Window: 24 * time.Hour, Lateness: time.Minute}
	clock := at.Add(time.Hour + 24*time.Hour + 2*time.Minute) // window and lateness after the resolution
	cps := projections.NewMemoryCheckpoints()
	run := func(idle time.Duration, until func(*projections.FCR, *projections.Runner) bool) (*projections.FCR, *projections.Runner) {
		fcr := mustFCR(cfg)
		r, err := projections.NewRunner(projections.RunnerConfig{Name: "fcr", Projection: fcr, Store: store,
			Checkpoints: cps, PollInterval: time.Millisecond, IdleAdvance: idle,
			Now: func() time.Time { return clock }, Logger: watermill.NopLogger{}})
		require.NoError(t, err)
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- r.Run(runCtx) }()
		require.Eventually(t, func() bool {
			ok := false
			r.View(func() { ok = r.CaughtUp() && until(fcr, r) })
			return ok
		}, 10*time.Second, time.Millisecond)
		stop()
		require.NoError(t, <-done)
		return fcr, r
	}

	// Without IdleAdvance the verdict waits for an event: it is still
	// pending some twenty looks (milliseconds) after the catch-up.
	polls := 0
	fcr, r := run(0, func(*projections.FCR, *projections.Runner) bool { polls++; return polls > 20 })
	assert.Equal(t, int64(1), fcr.Report().Pending)
	assert.Zero(t, r.Stats().AdvancedTo)

	fcr, r = run(5*time.Millisecond, func(f *projections.FCR, _ *projections.Runner) bool { return f.Report().Final == 1 })
	rep := fcr.Report()
	assert.Equal(t, int64(1), rep.True.Achieved)
	assert.Zero(t, rep.Pending)
	assert.True(t, clock.Equal(fcr.Watermark()), "watermark %s", fcr.Watermark())
	assert.True(t, clock.Equal(r.Stats().AdvancedTo), "advanced to %s", r.Stats().AdvancedTo)

	// A runner without IdleAdvance restores the advanced state.
	fcr, _ = run(0, func(*projections.FCR, *projections.Runner) bool { return true })
	assert.Equal(t, rep, fcr.Report())
}

// A runner without a Store asks its broker before it looks at its queue:
// a message that the broker hands over while it is asked is queued (and
// acknowledged) by the time Pending says the broker holds nothing, and is
// applied before the watermark moves to the clock.
func TestRunnerIdleAdvanceSeesWhatCameWhileItAskedTheBroker(t *testing.T) {
	broker := gochannel.NewGoChannel(gochannel.Config{BlockPublishUntilSubscriberAck: true}, watermill.NopLogger{})
	defer broker.Close()
	clock := time.Date(2026, 11, 10, 12, 0, 0, 0, time.UTC)
	e := partitionOpening(0, 0, clock.Add(-40*time.Minute)) // its message was slow
	msg, err := events.NewMessage(events.NewMsgpackCodec(events.NewRegistry()), e)
	require.NoError(t, err)
	var asked sync.Once
	pending := func(context.Context) (int64, error) {
		var err error
		// Publish returns once the runner has queued and acknowledged it.
		asked.Do(func() { err = broker.Publish("t", msg) })
		return 0, err
	}
	f := mustFCR(projections.FCRConfig{Window: 2 * time.Hour, Lateness: 10 * time.Minute})
	r, stop := runIdle(t, projections.RunnerConfig{Name: "b", Projection: f, Subscriber: broker, Topic: "t",
		Pending: pending, IdleAdvance: 10 * time.Millisecond, Now: func() time.Time { return clock }, Logger: watermill.NopLogger{}})
	require.Eventually(t, func() bool { return r.Stats().Applied == 1 && !r.Stats().AdvancedTo.IsZero() }, 5*time.Second, time.Millisecond)
	stop()
	rep := f.Report()
	assert.Zero(t, rep.LateEvents)
	assert.Equal(t, int64(1), rep.Issues)
}

// A runner with a Store and a Subscriber reads its store at each idle
// tick too: events committed while the broker is silent are applied before
// the watermark moves to the clock, whatever CheckpointInterval is.
func TestRunnerIdleAdvanceReadsTheStoreBehindASilentBroker(t *testing.T) {
	mem := events.NewMemoryStore()
	var mu sync.Mutex
	clock := time.Date(2026, 11, 10, 12, 0, 0, 0, time.UTC)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	f := mustFCR(projections.FCRConfig{Window: 2 * time.Hour, Lateness: 10 * time.Minute})
	broker := gochannel.NewGoChannel(gochannel.Config{}, watermill.NopLogger{}) // nobody publishes
	defer broker.Close()
	r, stop := runIdle(t, projections.RunnerConfig{Name: "s", Projection: f, Store: mem, Subscriber: broker, Topic: "t",
		CheckpointInterval: time.Hour, IdleAdvance: 10 * time.Millisecond, Now: now, Logger: watermill.NopLogger{}})
	require.Eventually(t, func() bool { return now().Equal(r.Stats().AdvancedTo) }, 5*time.Second, time.Millisecond)
	e := partitionOpening(0, 0, now().Add(5*time.Minute))
	_, err := mem.Append(context.Background(), e.Issue, 0, []events.Envelope{e})
	require.NoError(t, err)
	mu.Lock()
	clock = clock.Add(30 * time.Minute) // the event is 25 minutes old
	mu.Unlock()
	require.Eventually(t, func() bool { return now().Equal(r.Stats().AdvancedTo) }, 5*time.Second, time.Millisecond)
	assert.Equal(t, int64(1), r.Stats().Applied, "applied before the second advance")
	stop()
	assert.Zero(t, f.Report().LateEvents)
}
