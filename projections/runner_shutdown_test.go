package projections

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
)

// feedSubscriber serves topic "a" from a channel the test controls; any
// other topic fails to subscribe after failAfter.
type feedSubscriber struct {
	feed      chan *message.Message
	failAfter time.Duration
}

func (s *feedSubscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	if topic == "a" {
		return s.feed, nil
	}
	time.Sleep(s.failAfter)
	return nil, errors.New("broker: no such stream")
}
func (s *feedSubscriber) Close() error { return nil }

func msgs(t *testing.T, evs []events.Envelope) []*message.Message {
	var out []*message.Message
	for _, e := range evs {
		m, err := events.NewMessage(events.NewMsgpackCodec(nil), e)
		require.NoError(t, err)
		out = append(out, m)
	}
	return out
}

func acked(m *message.Message) bool {
	select {
	case <-m.Acked():
		return true
	default:
		return false
	}
}

// A topic that fails to subscribe after another started forwarding: the
// events of the messages already acknowledged are applied all the same.
func TestRunnerAppliesWhatItAcknowledgedWhenATopicFailsToSubscribe(t *testing.T) {
	sub := &feedSubscriber{feed: make(chan *message.Message, 10), failAfter: 200 * time.Millisecond}
	ms := msgs(t, testLog(1))
	for _, m := range ms {
		sub.feed <- m
	}
	p := newTally()
	r, err := NewRunner(RunnerConfig{Name: "t", Projection: p, Subscriber: sub, Topics: []string{"a", "b"}, Logger: quietLogger()})
	require.NoError(t, err)
	err = r.Run(context.Background())
	require.Error(t, err)
	for i, m := range ms {
		assert.True(t, acked(m), "message %d acked", i)
	}
	assert.Equal(t, int64(3), r.Stats().Applied, "acknowledged events applied: %+v", p.ByType)
}

// A runner stopped while a checkpoint saves makes its final checkpoint
// after applying the events it queued and acknowledged: a restart from it
// has every one.
func TestRunnerFinalCheckpointCoversWhatItAcknowledged(t *testing.T) {
	sub := &feedSubscriber{feed: make(chan *message.Message, 100)}
	cps := newGatedCheckpoints() // never released: the first save lasts until the stop
	log := testLog(10)
	ms := msgs(t, log)
	p := newTally()
	r, err := NewRunner(RunnerConfig{Name: "t", Projection: p, Subscriber: sub, Topic: "a", Checkpoints: cps,
		CheckpointEvery: 1, CheckpointInterval: -1, Logger: quietLogger()})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	sub.feed <- ms[0]
	<-cps.entered
	for _, m := range ms[1:] {
		sub.feed <- m
	}
	require.Eventually(t, func() bool { return acked(ms[len(ms)-1]) }, 5*time.Second, time.Millisecond)
	cancel() // a clean shutdown
	require.NoError(t, <-done)
	assert.Equal(t, int64(30), r.Stats().Applied)

	// The process restarts from the final checkpoint.
	p2 := newTally()
	r2, err := NewRunner(RunnerConfig{Name: "t", Projection: p2, Subscriber: &feedSubscriber{feed: make(chan *message.Message)}, Topic: "a",
		Checkpoints: cps.MemoryCheckpoints, Logger: quietLogger()})
	require.NoError(t, err)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	require.NoError(t, r2.Run(ctx2))
	n := 0
	for _, c := range p2.ByType {
		n += c
	}
	assert.Equal(t, 30, n, "events acknowledged before a clean shutdown are in its final checkpoint")
}

// failingPublisher refuses the first fail messages it is given, every
// one when fail is 0, counting the attempts; it keeps the UUIDs of those
// it takes.
type failingPublisher struct {
	mu    sync.Mutex
	fail  int
	n     int
	taken []string
}

func (f *failingPublisher) Publish(_ string, msgs ...*message.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	if f.fail == 0 || f.n <= f.fail {
		return errors.New("poison topic unavailable")
	}
	for _, m := range msgs {
		f.taken = append(f.taken, m.Metadata.Get(MetadataPoisonUUID)) // the UUID of the message as it came
	}
	return nil
}

func (f *failingPublisher) Close() error { return nil }

func (f *failingPublisher) attempts() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

// A poison publisher that keeps failing does not block the topic: the
// undecodable message is tried PoisonAttempts times (5 by default), then
// logged and dropped, and the events behind it are applied. With
// PoisonAttempts negative, it is tried until the publisher takes it.
func TestRunnerDropsAPoisonMessageItCannotSend(t *testing.T) {
	for _, tt := range []struct {
		name           string
		attempts, fail int // PoisonAttempts, and how many publishes fail (0: all)
		tried          int
		taken          bool
	}{
		{"default", 0, 0, 5, false},
		{"two attempts", 2, 0, 2, false},
		{"until taken", -1, 7, 8, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			bus := gochannel.NewGoChannel(gochannel.Config{}, quietLogger())
			defer bus.Close()
			pp := &failingPublisher{fail: tt.fail}
			r, err := NewRunner(RunnerConfig{Name: "t", Projection: newTally(), Subscriber: bus, Topic: "events",
				PoisonPublisher: pp, PoisonTopic: "poison", PoisonAttempts: tt.attempts,
				ResubscribeDelay: time.Millisecond, Logger: quietLogger()})
			require.NoError(t, err)
			stop := startRunner(t, r)
			require.Eventually(t, r.CaughtUp, 5*time.Second, time.Millisecond)
			bad := message.NewMessage("bad-1", []byte("not an event"))
			bad.Metadata.Set(events.MetadataCodec, "msgpack")
			require.NoError(t, bus.Publish("events", bad))
			publishAll(t, bus, "events", testLog(1))
			// GoChannel may deliver the events before the bad message:
			// wait for both.
			require.Eventually(t, func() bool { s := r.Stats(); return s.Applied == 3 && s.Poisoned == 1 }, 5*time.Second, time.Millisecond)
			require.NoError(t, stop())
			assert.Equal(t, tt.tried, pp.attempts(), "tried as many times as set, not in a loop")
			if tt.taken {
				assert.Equal(t, []string{"bad-1"}, pp.taken)
			} else {
				assert.Empty(t, pp.taken)
			}
		})
	}
}

// hangingPublisher's Publish says it was called, then waits until
// released.
type hangingPublisher struct {
	entered, release chan struct{}
}

func (h *hangingPublisher) Publish(string, ...*message.Message) error {
	h.entered <- struct{}{}
	<-h.release
	return nil
}

func (h *hangingPublisher) Close() error { return nil }

// A poison publisher that does not answer (a broker that hangs) does not
// hold the runner's end: Run returns once its context ends, the message
// is left to the broker to deliver again (nacked), and it is counted
// nowhere.
func TestRunnerDoesNotWaitForAHangingPoisonPublisher(t *testing.T) {
	pp := &hangingPublisher{entered: make(chan struct{}, 1), release: make(chan struct{})}
	defer close(pp.release)
	sub := &feedSubscriber{feed: make(chan *message.Message, 1)}
	r, err := NewRunner(RunnerConfig{Name: "t", Projection: newTally(), Subscriber: sub, Topic: "a",
		PoisonPublisher: pp, PoisonTopic: "poison", Logger: quietLogger()})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	bad := message.NewMessage("bad-1", []byte("not an event"))
	bad.Metadata.Set(events.MetadataCodec, "msgpack")
	sub.feed <- bad
	select {
	case <-pp.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the bad message did not reach the poison publisher")
	}
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Run waited for the poison publisher after its context ended")
	}
	select {
	case <-bad.Nacked():
	default:
		t.Error("the message was not left to the broker (nacked)")
	}
	assert.False(t, acked(bad))
	assert.Zero(t, r.Stats().Poisoned)
}

// Of a batch message with an event that does not decode, the events that
// do are applied, and the message goes to the poison topic naming the
// position of the bad one.
func TestRunnerAppliesTheGoodEventsOfABadBatch(t *testing.T) {
	bus := gochannel.NewGoChannel(gochannel.Config{}, quietLogger())
	defer bus.Close()
	poisoned, err := bus.Subscribe(context.Background(), "poison")
	require.NoError(t, err)
	p := newTally()
	r, err := NewRunner(RunnerConfig{Name: "t", Projection: p, Subscriber: bus, Topic: "events",
		PoisonPublisher: bus, PoisonTopic: "poison", Logger: quietLogger()})
	require.NoError(t, err)
	stop := startRunner(t, r)
	require.Eventually(t, r.CaughtUp, 5*time.Second, time.Millisecond)
	log := testLog(1)
	codec := events.NewMsgpackCodec(nil)
	var payload []byte
	for _, e := range log[:2] {
		b, err := codec.Append(nil, e)
		require.NoError(t, err)
		payload = binary.AppendUvarint(payload, uint64(len(b)))
		payload = append(payload, b...)
	}
	payload = binary.AppendUvarint(payload, 3)
	payload = append(payload, "bad"...)
	m := message.NewMessage("batch-1", payload)
	m.Metadata.Set(events.MetadataBatch, "3")
	m.Metadata.Set(events.MetadataCodec, "msgpack")
	require.NoError(t, bus.Publish("events", m))
	require.Eventually(t, func() bool { return r.Stats().Applied == 2 }, 5*time.Second, time.Millisecond)
	select {
	case got := <-poisoned:
		got.Ack()
		assert.Contains(t, got.Metadata.Get(MetadataPoisonReason), "event 3 of 3")
	case <-time.After(5 * time.Second):
		t.Fatal("the batch did not reach the poison topic")
	}
	require.NoError(t, stop())
	assert.Equal(t, int64(1), r.Stats().Poisoned)
	assert.Equal(t, map[events.Type]int{events.TypeOpened: 1, events.TypeRouted: 1}, p.ByType)
}

// stallingStore yields the first n events of a ReadAll, then waits until
// ctx ends.
type stallingStore struct {
	*events.MemoryStore
	n int
}

func (s *stallingStore) ReadAll(ctx context.Context, after uint64) iter.Seq2[events.Envelope, error] {
	return func(yield func(events.Envelope, error) bool) {
		i := 0
		for e, err := range s.MemoryStore.ReadAll(ctx, after) {
			if i == s.n {
				<-ctx.Done()
				yield(events.Envelope{}, ctx.Err())
				return
			}
			if !yield(e, err) {
				return
			}
			i++
		}
	}
}

// A runner stopped while it still catches up from its store makes a final
// checkpoint that does not cover the live events it queued, and does not
// apply them: they are newer than the backlog it has not read, and a
// projection with a lateness would count that backlog as late after a
// restart, or when Run is called again. They are in the store, and the
// restarted runner, or the same one run again, applies everything.
func TestRunnerStoppedWhileCatchingUpLosesNoBacklog(t *testing.T) {
	store := events.NewMemoryStore()
	old := testLog(20)
	live := testLog(2)
	for i := range live {
		live[i].At = live[i].At.Add(72 * time.Hour)
	}
	appendAll(t, store, append(slices.Clone(old), live...))
	bus := gochannel.NewGoChannel(gochannel.Config{}, quietLogger())
	defer bus.Close()
	cps := NewMemoryCheckpoints()
	runner := func(s events.Store) (*Runner, *tally, Sequenced) {
		p := newTally()
		seq, err := Sequence(p, SequenceConfig{Lateness: time.Hour})
		require.NoError(t, err)
		r, err := NewRunner(RunnerConfig{Name: "t", Projection: seq, Store: s, Subscriber: bus, Topic: "events",
			Checkpoints: cps, CheckpointShare: -1, Logger: quietLogger()})
		require.NoError(t, err)
		return r, p, seq
	}

	stalling := &stallingStore{MemoryStore: store, n: 3}
	r, p, seq := runner(stalling)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	require.Eventually(t, func() bool { return r.Stats().Applied >= 3 }, 5*time.Second, time.Millisecond)
	publishAll(t, bus, "events", live)
	time.Sleep(100 * time.Millisecond) // the live messages are queued and acknowledged
	cancel()
	require.NoError(t, <-done)
	require.False(t, r.CaughtUp())

	r2, p2, seq2 := runner(store)
	stop := startRunner(t, r2)
	require.Eventually(t, r2.CaughtUp, 5*time.Second, time.Millisecond)
	require.NoError(t, stop())
	assert.Equal(t, wantTally(22), p2.ByType, "every event of the store")
	assert.Zero(t, seq2.Late())

	// Run again in the same process, as a supervisor would after an
	// error, the runner goes on from its state in memory: the live events
	// were not applied ahead of the backlog there either.
	stalling.n = math.MaxInt
	stop = startRunner(t, r)
	require.Eventually(t, r.CaughtUp, 5*time.Second, time.Millisecond)
	require.NoError(t, stop())
	assert.Equal(t, wantTally(22), p.ByType, "every event of the store, once")
	assert.Zero(t, seq.Late())
}

// failingSaves refuses every checkpoint.
type failingSaves struct{ *MemoryCheckpoints }

func (failingSaves) Save(context.Context, string, Checkpoint) error { return errors.New("db down") }

// A final checkpoint that cannot be saved is Run's error: no later one
// will try again, and the events acknowledged since the last are not in
// any checkpoint.
func TestRunnerReturnsAFailedFinalCheckpoint(t *testing.T) {
	bus := gochannel.NewGoChannel(gochannel.Config{}, quietLogger())
	defer bus.Close()
	r, err := NewRunner(RunnerConfig{Name: "t", Projection: newTally(), Subscriber: bus, Topic: "events",
		Checkpoints: failingSaves{NewMemoryCheckpoints()}, Logger: quietLogger()})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	require.Eventually(t, r.CaughtUp, 5*time.Second, time.Millisecond)
	publishAll(t, bus, "events", testLog(1))
	require.Eventually(t, func() bool { return r.Stats().Applied == 3 }, 5*time.Second, time.Millisecond)
	cancel()
	err = <-done
	require.Error(t, err)
	assert.Contains(t, err.Error(), "db down")
}

// A subscriber that hands a message over without watching its context, as
// watermill-amqp's does, gets it back nacked when the runner stops, rather
// than holding it, unacknowledged, until the Subscriber closes; and
// CaughtUp says that the stopped runner follows nothing.
func TestRunnerReleasesAMessageHandedOverAfterItStopped(t *testing.T) {
	sub, r, subCtx, stop := lateRunner(t)
	ms := msgs(t, testLog(1))
	sub.ch <- ms[0]
	require.Eventually(t, func() bool { return acked(ms[0]) }, 5*time.Second, time.Millisecond)
	handed := make(chan struct{})
	go func() {
		defer close(handed)
		<-subCtx.Done()
		sub.ch <- ms[1] // blocks, whatever the context says
		select {
		case <-ms[1].Acked():
		case <-ms[1].Nacked():
		}
		close(sub.ch)
	}()
	require.NoError(t, stop())
	assert.False(t, r.CaughtUp(), "Run returned: the runner follows nothing")
	select {
	case <-handed:
	case <-time.After(5 * time.Second):
		t.Fatal("the subscriber still holds the message it handed over")
	}
	select {
	case <-ms[1].Nacked():
	default:
		t.Fatal("the message was not nacked, for the broker to deliver again")
	}
}

// lateRunner starts a runner of a tally on a lateSubscriber and waits
// until it follows it; it returns the subscriber, the runner, the context
// of its subscription and what stops it.
func lateRunner(t *testing.T) (*lateSubscriber, *Runner, context.Context, func() error) {
	t.Helper()
	sub := &lateSubscriber{ch: make(chan *message.Message), ctx: make(chan context.Context, 1)}
	r, err := NewRunner(RunnerConfig{Name: "t", Projection: newTally(), Subscriber: sub, Topic: "a", Logger: quietLogger()})
	require.NoError(t, err)
	stop := startRunner(t, r)
	subCtx := <-sub.ctx
	require.Eventually(t, r.CaughtUp, 5*time.Second, time.Millisecond)
	return sub, r, subCtx, stop
}

// lateSubscriber hands over what is sent on ch, and gives the context of
// its subscription on ctx.
type lateSubscriber struct {
	ch  chan *message.Message
	ctx chan context.Context
}

func (s *lateSubscriber) Subscribe(ctx context.Context, _ string) (<-chan *message.Message, error) {
	s.ctx <- ctx
	return s.ch, nil
}
func (s *lateSubscriber) Close() error { return nil }

// Releasing is best effort: a subscriber that keeps handing messages over
// after the runner stopped (a live topic, or each nacked message handed
// back at once) holds up shutdown for a second at most, and gets back at
// most releaseMost of them.
func TestRunnerReleasesForABoundedTime(t *testing.T) {
	for _, requeue := range []bool{false, true} {
		t.Run(fmt.Sprintf("requeue %v", requeue), func(t *testing.T) {
			sub, _, subCtx, stop := lateRunner(t)
			var nacks atomic.Int64
			quit := make(chan struct{})
			defer close(quit)
			go func() {
				<-subCtx.Done()
				m := msgs(t, testLog(1))[0]
				for {
					if !requeue {
						time.Sleep(20 * time.Millisecond)
						m = m.Copy()
					}
					select {
					case sub.ch <- m:
					case <-quit:
						return
					}
					select {
					case <-m.Nacked():
						nacks.Add(1)
						m = m.Copy()
					case <-m.Acked():
					case <-quit:
						return
					}
				}
			}()
			start := time.Now()
			require.NoError(t, stop())
			// A bound, not a timing: the fault was a release that never ended.
			assert.Less(t, time.Since(start), releaseLimit+5*time.Second)
			assert.LessOrEqual(t, nacks.Load(), int64(releaseMost))
		})
	}
}

// gatedRecorder blocks every Apply until gate closes, and records the
// types it is handed.
type gatedRecorder struct {
	gate  chan struct{}
	mu    sync.Mutex
	types []events.Type
}

func (g *gatedRecorder) Apply(e events.Envelope) error {
	<-g.gate
	g.mu.Lock()
	defer g.mu.Unlock()
	g.types = append(g.types, e.Type())
	return nil
}

// handedAll returns how many events the recorder was handed.
func (g *gatedRecorder) handedAll() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.types)
}

// handed returns how many events of type ty the recorder was handed.
func (g *gatedRecorder) handed(ty events.Type) int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	var n int64
	for _, t := range g.types {
		if t == ty {
			n++
		}
	}
	return n
}

// RunnerStats.UnknownTypes counts the events of unknown types passed on as
// events.Opaque. One that Run decoded but, stopped while it waited for
// room in the queue, gave back to the broker (nacked) was counted all the
// same, and once more when it came again and was passed on.
func TestRunnerCountsAnUnknownTypeOncePassedOn(t *testing.T) {
	feed := make(chan *message.Message, queueLen+2)
	for _, m := range msgs(t, testLog(200)[:queueLen+1]) {
		feed <- m
	}
	raw := fmt.Sprintf(`{"id":%q,"issue":%q,"version":1,"type":"acme.escalated","at":"2026-03-02T09:00:00Z","data":{"level":2}}`,
		uuid.New(), uuid.New())
	unknown := message.NewMessage(uuid.NewString(), []byte(raw))
	unknown.Metadata.Set(events.MetadataCodec, "json")
	feed <- unknown

	p := &gatedRecorder{gate: make(chan struct{})}
	r, err := NewRunner(RunnerConfig{Name: "u", Projection: p, Subscriber: &feedSubscriber{feed: feed}, Topic: "a",
		SkipUnknownTypes: true, Logger: quietLogger()})
	require.NoError(t, err)
	stop := startRunner(t, r)
	// The projection holds the first event and the queue fills: the
	// unknown message, taken last, waits for room.
	require.Eventually(t, func() bool { return len(feed) == 0 }, 5*time.Second, time.Millisecond)
	time.Sleep(20 * time.Millisecond)
	go func() { time.Sleep(50 * time.Millisecond); close(p.gate) }()
	require.NoError(t, stop())
	select {
	case <-unknown.Nacked():
	default:
		t.Fatal("the unknown message, never queued, should go back to the broker")
	}
	assert.Zero(t, p.handed("acme.escalated"))
	assert.Zero(t, r.Stats().UnknownTypes, "nothing of an unknown type was passed on")

	feed <- unknown.Copy() // the broker delivers it again
	stop = startRunner(t, r)
	require.Eventually(t, func() bool { return r.Stats().Applied == queueLen+2 }, 5*time.Second, time.Millisecond)
	require.NoError(t, stop())
	assert.Equal(t, int64(1), p.handed("acme.escalated"))
	assert.Equal(t, int64(1), r.Stats().UnknownTypes)
}

// runWithUnknownQueued starts a runner over store, with SkipUnknownTypes,
// whose subscriber delivers one message of an event of an unknown type
// (at store position pos, "" for none), and returns once the message is
// queued: the gated projection holds the store's first event until its
// gate is closed.
func runWithUnknownQueued(t *testing.T, store events.Store, pos string) (*Runner, *gatedRecorder, func() error) {
	t.Helper()
	raw := fmt.Sprintf(`{"id":%q,"issue":%q,"version":1,"type":"acme.escalated","at":"2026-03-02T09:00:00Z","data":{"level":2}}`,
		uuid.New(), uuid.New())
	unknown := message.NewMessage(uuid.NewString(), []byte(raw))
	unknown.Metadata.Set(events.MetadataCodec, "json")
	if pos != "" {
		unknown.Metadata.Set(events.MetadataPosition, pos)
	}
	feed := make(chan *message.Message, 1)
	feed <- unknown
	p := &gatedRecorder{gate: make(chan struct{})}
	r, err := NewRunner(RunnerConfig{Name: "u", Projection: p, Store: store, Subscriber: &feedSubscriber{feed: feed}, Topic: "a",
		SkipUnknownTypes: true, Logger: quietLogger()})
	require.NoError(t, err)
	stop := startRunner(t, r)
	select {
	case <-unknown.Acked(): // acknowledged once queued
	case <-time.After(5 * time.Second):
		t.Fatal("the message was not queued")
	}
	return r, p, stop
}

// An event of an unknown type queued live while the runner catches up
// from its store, and left to the store when Run stops before it caught
// up, was not passed on: UnknownTypes does not count it, as no other
// count does.
func TestRunnerDoesNotCountAnUnknownTypeLeftToTheStore(t *testing.T) {
	store := events.NewMemoryStore()
	appendAll(t, store, testLog(20))
	r, p, stop := runWithUnknownQueued(t, store, "")
	go func() { time.Sleep(50 * time.Millisecond); close(p.gate) }()
	require.NoError(t, stop())
	st := r.Stats()
	assert.Zero(t, p.handed("acme.escalated"), "left to the store")
	assert.Zero(t, st.UnknownTypes, "nothing of an unknown type was passed on")
	assert.Equal(t, int64(p.handedAll()), st.Applied)
}

// An event of an unknown type that came live, and whose store position a
// catch-up read meanwhile, is covered: counted as a duplicate, and not in
// UnknownTypes, as it was not passed on.
func TestRunnerDoesNotCountACoveredUnknownType(t *testing.T) {
	store := events.NewMemoryStore()
	log := testLog(2)
	appendAll(t, store, log[:1])
	r, p, stop := runWithUnknownQueued(t, store, "2") // the store's next position
	// The store then gets the message's position, which the catch-up reads.
	appendAll(t, store, log[1:])
	close(p.gate)
	require.Eventually(t, func() bool { st := r.Stats(); return st.Applied == int64(len(log)) && st.Duplicates == 1 },
		5*time.Second, time.Millisecond, "the store's events applied, the message's covered")
	require.NoError(t, stop())
	assert.Zero(t, p.handed("acme.escalated"))
	assert.Zero(t, r.Stats().UnknownTypes, "covered, not passed on")
}

// unknownTypeStore reads the events of one issue of its MemoryStore as a
// store that skips unknown types reads events of a type it does not know:
// as an events.Opaque of their type.
type unknownTypeStore struct {
	*events.MemoryStore
	issue uuid.UUID
}

func (s unknownTypeStore) ReadAll(ctx context.Context, after uint64) iter.Seq2[events.Envelope, error] {
	return func(yield func(events.Envelope, error) bool) {
		for e, err := range s.MemoryStore.ReadAll(ctx, after) {
			if err == nil && e.Issue == s.issue {
				e.Data = &events.Opaque{Type: "acme.escalated"}
			}
			if !yield(e, err) {
				return
			}
		}
	}
}

// An event of an unknown type read from the store, which passes it on as
// an events.Opaque, counts in UnknownTypes as one that came live does; a
// live copy of it that the store covered counts once, with the store's.
func TestRunnerCountsAnUnknownTypeReadFromTheStore(t *testing.T) {
	mem := events.NewMemoryStore()
	log := testLog(3)
	appendAll(t, mem, log)
	store := unknownTypeStore{MemoryStore: mem, issue: log[len(log)-1].Issue}
	p := newTally()
	r, err := NewRunner(RunnerConfig{Name: "u", Projection: p, Store: store, Logger: quietLogger()})
	require.NoError(t, err)
	stop := startRunner(t, r)
	require.Eventually(t, func() bool { return r.Stats().Position == uint64(len(log)) }, 5*time.Second, time.Millisecond)
	require.NoError(t, stop())
	opaque := int64(0)
	for _, e := range log {
		if e.Issue == store.issue {
			opaque++
		}
	}
	require.Positive(t, opaque)
	assert.Equal(t, opaque, r.Stats().UnknownTypes)
	assert.Equal(t, int64(len(log)), r.Stats().Applied)

	// A rebuild counts afresh, as Applied does.
	require.NoError(t, r.Rebuild(t.Context()))
	assert.Equal(t, opaque, r.Stats().UnknownTypes)
	assert.Equal(t, int64(len(log)), r.Stats().Applied)
}

// An event of an unknown type that comes both live, in a message without
// a store position, and from the store counts once, when the projection
// gets it; one that Filter passes over counts not at all.
func TestRunnerCountsAnUnknownTypeWhereTheProjectionGetsIt(t *testing.T) {
	for _, filtered := range []bool{false, true} {
		t.Run(fmt.Sprintf("filtered=%v", filtered), func(t *testing.T) {
			mem := events.NewMemoryStore()
			log := testLog(2)
			appendAll(t, mem, log)
			first := log[0]
			store := unknownTypeStore{MemoryStore: mem, issue: first.Issue}
			raw := fmt.Sprintf(`{"id":%q,"issue":%q,"version":1,"type":"acme.escalated","at":%q,"data":{"level":2}}`,
				first.ID, first.Issue, first.At.Format(time.RFC3339Nano))
			live := message.NewMessage(uuid.NewString(), []byte(raw)) // no store position
			live.Metadata.Set(events.MetadataCodec, "json")
			feed := make(chan *message.Message, 1)
			feed <- live
			cfg := RunnerConfig{Name: "u", Projection: newTally(), Store: store, Subscriber: &feedSubscriber{feed: feed}, Topic: "a",
				SkipUnknownTypes: true, Logger: quietLogger()}
			if filtered {
				cfg.Filter = func(e events.Envelope) bool { return e.Issue != first.Issue }
			}
			r, err := NewRunner(cfg)
			require.NoError(t, err)
			stop := startRunner(t, r)
			select {
			case <-live.Acked():
			case <-time.After(5 * time.Second):
				t.Fatal("the message was not taken")
			}
			require.Eventually(t, r.CaughtUp, 5*time.Second, time.Millisecond)
			require.NoError(t, stop())
			opaque := int64(0)
			for _, e := range log {
				if e.Issue == first.Issue {
					opaque++
				}
			}
			st := r.Stats()
			if filtered {
				assert.Zero(t, st.UnknownTypes, "never handed to the projection")
				assert.Equal(t, opaque+1, st.Filtered)
				return
			}
			assert.Equal(t, opaque, st.UnknownTypes, "the store's copies, each handed once")
			assert.Equal(t, int64(1), st.Duplicates, "the live copy")
		})
	}
}
