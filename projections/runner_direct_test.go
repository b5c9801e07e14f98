package projections

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
)

// fcrOf returns the report of an FCR fed evs with Apply.
func fcrOf(t *testing.T, evs []events.Envelope) FCRReport {
	t.Helper()
	f := mustFCR(FCRConfig{})
	for _, e := range evs {
		require.NoError(t, f.Apply(e))
	}
	return f.Report()
}

// savedRunnerState returns the versions and held events of the runner
// state in the checkpoint named name.
func savedRunnerState(t *testing.T, cps CheckpointStore, name string) (map[[16]byte]uint64, []events.Envelope) {
	t.Helper()
	cp, ok, err := cps.Load(context.Background(), name)
	require.NoError(t, err)
	require.True(t, ok, "a checkpoint was saved")
	st, err := decodeRunnerState(cp.State, []events.Codec{events.NewMsgpackCodec(nil)})
	require.NoError(t, err)
	require.True(t, st.direct, "saved for a SelfSequencing projection")
	out := make(map[[16]byte]uint64, len(st.positions))
	for id, v := range st.positions {
		out[id] = v
	}
	return out, st.held
}

// A SelfSequencing projection gets every delivery, duplicates and
// disorder included, and sequences them itself: the runner keeps no
// versions (its memory and checkpoints do not grow with the issues seen),
// the report is that of the log applied in order, and the runner's Stats
// are what the projection says it applied, skipped and holds.
func TestRunnerHandsASelfSequencingProjectionEveryDelivery(t *testing.T) {
	log := testLog(40)
	delivered := shuffled(log, rand.New(rand.NewPCG(3, 4)))
	require.Greater(t, len(delivered), len(log))
	type subject struct {
		p      SelfSequencing
		report func() any
	}
	reporter := func() subject {
		r, err := NewReporter(ReportConfig{})
		require.NoError(t, err)
		return subject{r, func() any { return r.Report() }}
	}
	service := func() subject {
		s, err := NewServiceLevel(ServiceConfig{})
		require.NoError(t, err)
		return subject{s, func() any { return s.Report() }}
	}
	fcr := func() subject {
		f := mustFCR(FCRConfig{})
		return subject{f, func() any { return f.Report() }}
	}
	for name, make := range map[string]func() subject{"FCR": fcr, "Reporter": reporter, "ServiceLevel": service} {
		t.Run(name, func(t *testing.T) {
			want := make()
			for _, e := range log {
				require.NoError(t, want.p.Apply(e))
			}

			bus := gochannel.NewGoChannel(gochannel.Config{BlockPublishUntilSubscriberAck: true}, quietLogger())
			t.Cleanup(func() { _ = bus.Close() })
			cps := NewMemoryCheckpoints()
			got := make()
			r, err := NewRunner(RunnerConfig{Name: name, Projection: got.p, Subscriber: bus, Topic: "events", Checkpoints: cps, Logger: quietLogger()})
			require.NoError(t, err)
			stop := startRunner(t, r)
			require.Eventually(t, r.CaughtUp, 5*time.Second, time.Millisecond)
			publishAll(t, bus, "events", delivered)
			waitApplied(t, r, int64(len(log)))
			require.NoError(t, stop())

			assert.Equal(t, want.report(), got.report())
			st := r.Stats()
			assert.Equal(t, int64(len(log)), st.Applied)
			assert.Equal(t, int64(len(delivered)-len(log)), st.Duplicates)
			assert.Zero(t, st.Held)
			assert.Empty(t, r.seq.Positions(), "the runner keeps no versions")
			if _, ok := got.p.(interface{ MarshalBinary() ([]byte, error) }); ok {
				positions, held := savedRunnerState(t, cps, name)
				assert.Empty(t, positions)
				assert.Empty(t, held)
			}
		})
	}
}

// A checkpoint that a runner wrote while it sequenced for the projection
// (versions, and an event held for a gap) restores into a runner that
// hands the events over: the held event reaches the projection, which
// applies it once the gap fills, and the next checkpoint keeps it with
// the projection rather than with the runner.
func TestRunnerMovesHeldEventsOfAnOlderCheckpointToASelfSequencingProjection(t *testing.T) {
	log := testLog(1) // opened, routed, resolved
	ctx := context.Background()

	// The checkpoint: the FCR saw version 1, the runner holds version 3.
	before := mustFCR(FCRConfig{})
	require.NoError(t, before.Apply(log[0]))
	state, err := before.MarshalBinary()
	require.NoError(t, err)
	seq := NewSequencer()
	for _, e := range []events.Envelope{log[0], log[2]} {
		_, err := seq.Offer(e, func(events.Envelope) error { return nil })
		require.NoError(t, err)
	}
	require.Equal(t, 1, seq.Held())
	saved, err := appendRunnerState(nil, seq, []events.Codec{events.NewMsgpackCodec(nil)}, state)
	require.NoError(t, err)
	cps := NewMemoryCheckpoints()
	require.NoError(t, cps.Save(ctx, "fcr", Checkpoint{State: saved}))

	bus := gochannel.NewGoChannel(gochannel.Config{BlockPublishUntilSubscriberAck: true}, quietLogger())
	t.Cleanup(func() { _ = bus.Close() })
	fcr := mustFCR(FCRConfig{})
	r, err := NewRunner(RunnerConfig{Name: "fcr", Projection: fcr, Subscriber: bus, Topic: "events", Checkpoints: cps, Logger: quietLogger()})
	require.NoError(t, err)
	stop := startRunner(t, r)
	require.Eventually(t, r.CaughtUp, 5*time.Second, time.Millisecond)
	assert.Equal(t, RunnerStats{Applied: 1}, r.Stats(), "the projection took the held event")
	r.View(func() { assert.Equal(t, int64(1), fcr.Report().HeldEvents, "and holds it") })
	publishAll(t, bus, "events", log[1:2])
	waitApplied(t, r, 2)
	require.NoError(t, stop())
	assert.Equal(t, RunnerStats{Applied: 2, Checkpoints: 1}, r.Stats())

	assert.Equal(t, fcrOf(t, log), fcr.Report(), "the held event was applied once its gap filled")
	positions, held := savedRunnerState(t, cps, "fcr")
	assert.Empty(t, positions)
	assert.Empty(t, held, "the next checkpoint holds the event with the projection")
}

// Duplicates change nothing in a SelfSequencing projection, so they do
// not count towards CheckpointEvery: a log delivered twice, with a
// checkpoint every event, is saved once an event.
func TestRunnerDoesNotCheckpointForDuplicates(t *testing.T) {
	log := testLog(10)
	bus := gochannel.NewGoChannel(gochannel.Config{BlockPublishUntilSubscriberAck: true}, quietLogger())
	t.Cleanup(func() { _ = bus.Close() })
	r, err := NewRunner(RunnerConfig{Name: "fcr", Projection: mustFCR(FCRConfig{}), Subscriber: bus, Topic: "events",
		CheckpointEvery: 1, CheckpointInterval: -1, CheckpointShare: -1, Logger: quietLogger()})
	require.NoError(t, err)
	stop := startRunner(t, r)
	require.Eventually(t, r.CaughtUp, 5*time.Second, time.Millisecond)
	publishAll(t, bus, "events", log)
	publishAll(t, bus, "events", log)
	require.Eventually(t, func() bool { return r.Stats().Duplicates == int64(len(log)) }, 5*time.Second, time.Millisecond)
	require.NoError(t, stop())
	assert.Equal(t, RunnerStats{Applied: int64(len(log)), Duplicates: int64(len(log)), Checkpoints: int64(len(log))}, r.Stats())
}

// A checkpoint saved for a SelfSequencing projection holds no versions, so
// a runner whose projection is not SelfSequencing (here an FCR behind a
// wrapper that hides it) refuses it rather than hold every later event.
func TestRunnerRefusesADirectCheckpointForAProjectionThatDoesNotSequence(t *testing.T) {
	store := events.NewMemoryStore()
	appendAll(t, store, testLog(3))
	cps := NewMemoryCheckpoints()
	first, err := NewRunner(RunnerConfig{Name: "fcr", Projection: mustFCR(FCRConfig{}), Store: store, Checkpoints: cps, Logger: quietLogger()})
	require.NoError(t, err)
	stop := startRunner(t, first)
	require.Eventually(t, first.CaughtUp, 5*time.Second, time.Millisecond)
	require.NoError(t, stop())

	second, err := NewRunner(RunnerConfig{Name: "fcr", Projection: hiddenFCR{mustFCR(FCRConfig{})}, Store: store, Checkpoints: cps, Logger: quietLogger()})
	require.NoError(t, err)
	err = second.Run(context.Background())
	assert.ErrorIs(t, err, ErrCheckpoint)
	assert.ErrorContains(t, err, "sequences the events itself")
}

// hiddenFCR is an FCR whose other methods a wrapper does not pass on.
type hiddenFCR struct{ f *FCR }

func (h hiddenFCR) Apply(e events.Envelope) error  { return h.f.Apply(e) }
func (h hiddenFCR) MarshalBinary() ([]byte, error) { return h.f.MarshalBinary() }
func (h hiddenFCR) UnmarshalBinary(b []byte) error { return h.f.UnmarshalBinary(b) }
