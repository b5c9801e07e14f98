package projections

import (
	"context"
	"encoding/json"
	"fmt"
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

// panicky is a tally that panics on its n-th Apply, and counts the saves
// of its state.
type panicky struct {
	*tally
	n, applied int
	saves      int
	before     func() // called before the first Apply, if set
}

func (p *panicky) Apply(e events.Envelope) error {
	if p.before != nil {
		p.before()
		p.before = nil
	}
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

// A runner that sequences for its projection checkpoints the events it
// holds for a gap whatever they hold: an event of a type it does not know
// (SkipUnknownTypes: an events.Opaque, saved by its name), and one that
// came in JSON holding what msgpack cannot carry (saved in JSON). After a
// restart from that checkpoint, the missing version releases them.
func TestRunnerCheckpointsHeldEventsOfAnyKind(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, body string
		check      func(t *testing.T, e events.Envelope)
	}{
		{"of a type the runner does not know", `"type":"issue.escalated","at":%q,"data":{"level":2},"meta":{"source":"crm"}`, func(t *testing.T, e events.Envelope) {
			assert.Equal(t, &events.Opaque{Type: "issue.escalated"}, e.Data)
			assert.Equal(t, events.Meta{"source": "crm"}, e.Meta)
		}},
		{"with a number msgpack cannot hold", `"type":"issue.rated","at":%q,"data":{"survey":"csat","score":4,"big":1e400}`, func(t *testing.T, e events.Envelope) {
			assert.Equal(t, &events.Rated{Survey: events.SurveyCSAT, Score: 4, Extra: events.Extra{"big": json.Number("1e400")}}, e.Data)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bus := gochannel.NewGoChannel(gochannel.Config{Persistent: true}, quietLogger())
			t.Cleanup(func() { _ = bus.Close() })
			issue, id2 := uuid.New(), uuid.New()
			raw := fmt.Sprintf(`{"id":%q,"issue":%q,"version":2,`+tc.body+`}`, id2, issue, at.Add(time.Minute).Format(time.RFC3339))
			msg := message.NewMessage(uuid.NewString(), []byte(raw))
			msg.Metadata.Set(events.MetadataCodec, "json")
			require.NoError(t, bus.Publish("first", msg))

			codecs := []events.Codec{events.NewMsgpackCodec(nil), events.NewJSONCodec(nil)}
			cps := NewMemoryCheckpoints()
			cfg := RunnerConfig{Name: "held", Subscriber: bus, Topic: "first", Codecs: codecs, SkipUnknownTypes: true,
				Checkpoints: cps, CheckpointEvery: 1, Logger: quietLogger()}
			cfg.Projection = newTally()
			r, err := NewRunner(cfg)
			require.NoError(t, err)
			stop := startRunner(t, r)
			require.Eventually(t, func() bool { return r.Stats().Held == 1 }, 5*time.Second, time.Millisecond)
			require.NoError(t, stop(), "the final checkpoint saves the held event")
			cp, ok, err := cps.Load(t.Context(), "held")
			require.NoError(t, err)
			require.True(t, ok)
			st, err := decodeRunnerState(cp.State, codecs)
			require.NoError(t, err)
			require.Len(t, st.held, 1)
			assert.Equal(t, id2, st.held[0].ID)
			tc.check(t, st.held[0])

			p := newTally()
			cfg.Projection, cfg.Topic = p, "second"
			r, err = NewRunner(cfg)
			require.NoError(t, err)
			stop = startRunner(t, r)
			publishAll(t, bus, "second", []events.Envelope{{ID: uuid.New(), Issue: issue, Version: 1, At: at,
				Data: &events.Opened{Customer: events.Customer{ID: "C-1"}, Channel: "chat", Topic: "billing", Contact: uuid.New()}}})
			waitApplied(t, r, 2)
			require.NoError(t, stop())
			assert.Equal(t, uint64(2), p.Versions[issue])
			assert.Equal(t, 2, p.ByType[events.TypeOpened]+p.ByType[st.held[0].Type()])
		})
	}
}

// A Rebuild that a Run does for it, whose projection panics, returns an
// error while the panic goes on through Run.
func TestRunnerRebuildDuringRunReturnsOnAPanic(t *testing.T) {
	store := events.NewMemoryStore()
	appendAll(t, store, testLog(100))
	p := &panicky{tally: newTally(), n: 1 << 30}
	r, err := NewRunner(RunnerConfig{Name: "p", Projection: p, Store: store, Logger: quietLogger(), CheckpointEvery: 10_000})
	require.NoError(t, err)
	ran := make(chan any, 1)
	go func() {
		defer func() { ran <- recover() }()
		_ = r.Run(context.Background())
	}()
	waitApplied(t, r, 300)
	r.View(func() { p.n = p.applied + 50 })
	rebuilt := make(chan error, 1)
	go func() { rebuilt <- r.Rebuild(context.Background()) }()
	select {
	case err := <-rebuilt:
		assert.ErrorIs(t, err, ErrPanicked)
	case <-time.After(5 * time.Second):
		t.Fatal("Rebuild did not return within 5 s of the projection's panic")
	}
	assert.Equal(t, "projection bug", <-ran)
}

// Once the projection panicked, in a Run or a Rebuild whose panic the
// host recovered, the runner goes on from that state no more: a Run or a
// Rebuild, waiting for it or called after, returns ErrPanicked at once
// and changes nothing, and a new Runner restores the last checkpoint.
func TestRunnerAfterAPanic(t *testing.T) {
	for _, first := range []string{"run", "rebuild"} {
		t.Run(first, func(t *testing.T) {
			store := events.NewMemoryStore()
			appendAll(t, store, testLog(100))
			cps := NewMemoryCheckpoints()
			p := &panicky{tally: newTally(), n: 150}
			cfg := RunnerConfig{Name: "p", Projection: p, Store: store, Checkpoints: cps, Logger: quietLogger(), CheckpointEvery: 100}
			r, err := NewRunner(cfg)
			require.NoError(t, err)
			run := func() error { return r.Run(context.Background()) }
			if first == "rebuild" {
				run = func() error { return r.Rebuild(context.Background()) }
			}
			assert.Equal(t, "projection bug", runPanics(t, run))
			applied, saves := p.applied, p.saves
			p.n = 1 << 30
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			require.ErrorIs(t, r.Rebuild(ctx), ErrPanicked)
			require.ErrorIs(t, r.Run(ctx), ErrPanicked)
			assert.Equal(t, applied, p.applied, "nothing applied after the panic")
			assert.Equal(t, saves, p.saves, "nothing saved after the panic")

			cfg.Projection = newTally()
			fresh, err := NewRunner(cfg)
			require.NoError(t, err)
			stop := startRunner(t, fresh)
			require.Eventually(t, fresh.CaughtUp, 5*time.Second, time.Millisecond)
			require.NoError(t, stop())
			assert.Equal(t, wantTally(100), cfg.Projection.(*tally).ByType)
		})
	}
}

// A Run that waits for a Rebuild whose projection panics does not go on
// from the state the panic left.
func TestRunnerRunWaitingForARebuildThatPanics(t *testing.T) {
	store := events.NewMemoryStore()
	appendAll(t, store, testLog(100))
	block := make(chan struct{})
	p := &panicky{tally: newTally(), n: 50, before: func() { <-block }}
	r, err := NewRunner(RunnerConfig{Name: "p", Projection: p, Store: store, Logger: quietLogger(), CheckpointEvery: 10_000})
	require.NoError(t, err)
	rebuilt := make(chan any, 1)
	go func() {
		defer func() { rebuilt <- recover() }()
		_ = r.Rebuild(context.Background())
	}()
	require.Eventually(t, func() bool { r.ownerMu.Lock(); defer r.ownerMu.Unlock(); return r.owner != nil }, 5*time.Second, time.Millisecond)
	ran := make(chan error, 1)
	go func() { ran <- r.Run(context.Background()) }()
	close(block)
	assert.Equal(t, "projection bug", <-rebuilt)
	select {
	case err := <-ran:
		assert.ErrorIs(t, err, ErrPanicked)
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting Run did not return")
	}
	assert.Equal(t, 50, p.applied)
}

// panicSaves is a checkpoint store whose Save panics once armed.
type panicSaves struct {
	*MemoryCheckpoints
	arm atomic.Bool
}

func (c *panicSaves) Save(ctx context.Context, name string, cp Checkpoint) error {
	if c.arm.Load() {
		panic("checkpoint store bug")
	}
	return c.MemoryCheckpoints.Save(ctx, name, cp)
}

// A Rebuild that a Run does for it, when something other than the
// projection panics (the checkpoint store), gets an error that does not
// say the projection panicked, and the runner is not refused afterwards.
func TestRunnerRebuildDuringRunWhenTheCheckpointStorePanics(t *testing.T) {
	store := events.NewMemoryStore()
	appendAll(t, store, testLog(100))
	cps := &panicSaves{MemoryCheckpoints: NewMemoryCheckpoints()}
	r, err := NewRunner(RunnerConfig{Name: "p", Projection: newTally(), Store: store, Checkpoints: cps, Logger: quietLogger(), CheckpointEvery: 10_000})
	require.NoError(t, err)
	ran := make(chan any, 1)
	go func() {
		defer func() { ran <- recover() }()
		_ = r.Run(context.Background())
	}()
	require.Eventually(t, r.CaughtUp, 5*time.Second, time.Millisecond)
	cps.arm.Store(true)
	rebuilt := make(chan error, 1)
	go func() { rebuilt <- r.Rebuild(context.Background()) }()
	select {
	case err := <-rebuilt:
		require.Error(t, err)
		assert.NotErrorIs(t, err, ErrPanicked)
	case <-time.After(5 * time.Second):
		t.Fatal("Rebuild did not return")
	}
	assert.Equal(t, "checkpoint store bug", <-ran)
	cps.arm.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	assert.NoError(t, r.Rebuild(ctx))
}

// headless is a Store that tells neither its Head nor its Len.
type headless struct{ events.Store }

// A checkpoint beyond the end of the runner's Store (the store was made
// again, restored from an older backup, or the runner pointed at another
// under the same Name) is refused at the start, with the projection as it
// was, where the runner took it and passed over every event the Store
// then held up to its position, with Lag saying it was not behind. A
// Rebuild then replays the Store, and the next Run goes on from there.
// A Store that tells no end is read at the checkpoint's position.
func TestACheckpointBeyondTheStoresEndIsRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		wrap func(*events.MemoryStore) events.Store
		says string
	}{
		{"with a Len", func(s *events.MemoryStore) events.Store { return s }, "(its last position is 9)"},
		{"without Head or Len", func(s *events.MemoryStore) events.Store { return headless{s} }, "(it holds no event at or after that position)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			cps := NewMemoryCheckpoints()
			old := events.NewMemoryStore()
			appendAll(t, old, testLog(10))
			r1, err := NewRunner(RunnerConfig{Name: "tally", Projection: newTally(), Store: tc.wrap(old), Checkpoints: cps,
				PollInterval: 5 * time.Millisecond, Logger: quietLogger()})
			require.NoError(t, err)
			stop := startRunner(t, r1)
			waitApplied(t, r1, 30)
			require.NoError(t, stop())
			// The same store restarts from its checkpoint.
			again, err := NewRunner(RunnerConfig{Name: "tally", Projection: newTally(), Store: tc.wrap(old), Checkpoints: cps,
				PollInterval: 5 * time.Millisecond, Logger: quietLogger()})
			require.NoError(t, err)
			require.NoError(t, startRunner(t, again)())

			fresh := events.NewMemoryStore()
			appendAll(t, fresh, testLog(3))
			second := newTally()
			r2, err := NewRunner(RunnerConfig{Name: "tally", Projection: second, Store: tc.wrap(fresh), Checkpoints: cps,
				PollInterval: 5 * time.Millisecond, Logger: quietLogger()})
			require.NoError(t, err)
			runCtx, cancel := context.WithTimeout(ctx, 10*time.Second) // a Run that took it would go on
			defer cancel()
			err = r2.Run(runCtx)
			require.ErrorIs(t, err, ErrCheckpoint)
			assert.ErrorContains(t, err, "checkpoint at position 30 is beyond the store's end "+tc.says)
			assert.Empty(t, second.Versions, "the projection is as it was")

			require.NoError(t, r2.Rebuild(ctx))
			assert.Equal(t, wantTally(3), second.ByType, "the rebuild replayed the store")
			cp, ok, err := cps.Load(ctx, "tally")
			require.NoError(t, err)
			require.True(t, ok)
			assert.Equal(t, uint64(9), cp.Position, "and saved a checkpoint of it")
			stop = startRunner(t, r2)
			appendAll(t, fresh, testLog(1))
			require.Eventually(t, func() bool { return r2.Stats().Position == 12 }, 5*time.Second, time.Millisecond)
			require.NoError(t, stop())
			assert.Equal(t, wantTally(4), second.ByType, "the next Run goes on from the rebuild")
		})
	}
}

// A runner without a Store, feeding a projection that keeps its state
// elsewhere, saves its own sequencing in the checkpoint's State, as the
// doc of Checkpoint.State says, and no projection state.
func TestTheCheckpointOfAProjectionThatKeepsItsStateElsewhere(t *testing.T) {
	bus := gochannel.NewGoChannel(gochannel.Config{Persistent: true}, quietLogger())
	defer bus.Close()
	publishAll(t, bus, "t", testLog(2))
	cps := NewMemoryCheckpoints()
	r, err := NewRunner(RunnerConfig{Name: "elsewhere", Projection: &plain{}, Subscriber: bus, Topic: "t",
		Checkpoints: cps, Logger: quietLogger()})
	require.NoError(t, err)
	stop := startRunner(t, r)
	waitApplied(t, r, 6)
	require.NoError(t, stop())
	cp, ok, err := cps.Load(context.Background(), "elsewhere")
	require.NoError(t, err)
	require.True(t, ok)
	require.NotNil(t, cp.State, "the runner's sequencing")
	st, err := decodeRunnerState(cp.State, nil)
	require.NoError(t, err)
	assert.Len(t, st.positions, 2, "the last version of each issue")
	state, err := cp.ProjectionState()
	require.NoError(t, err)
	assert.Empty(t, state)
}
