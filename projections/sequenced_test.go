package projections

import (
	"encoding"
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/truefcr/truefcr/events"
)

// recorder is a host's projection that needs each issue's events once, in
// version order: it records them, and fails the test on a version out of
// turn.
type recorder struct {
	t    *testing.T
	last map[uuid.UUID]uint64
	got  [][2]uint64 // the issue's number (its id's last 8 bytes) and version of each event
	fail uint64      // refuse the events of this version, when not 0
}

func newRecorder(t *testing.T) *recorder { return &recorder{t: t, last: map[uuid.UUID]uint64{}} }

func (r *recorder) Apply(e events.Envelope) error {
	if e.Version == r.fail {
		return errors.New("refused")
	}
	if last, ok := r.last[e.Issue]; ok && e.Version <= last {
		r.t.Errorf("issue %s: version %d after %d", e.Issue, e.Version, last)
	}
	r.last[e.Issue] = e.Version
	r.got = append(r.got, [2]uint64{issueNumber(e.Issue), e.Version})
	return nil
}

func issueNumber(id uuid.UUID) uint64 {
	var n uint64
	for _, b := range id[8:] {
		n = n<<8 | uint64(b)
	}
	return n
}

// savingRecorder is a recorder that saves its state, as a host's
// projection would for a Runner's checkpoints.
type savingRecorder struct{ *recorder }

type savedRecorder struct {
	Got  [][2]uint64
	Last map[string]uint64
}

func (r savingRecorder) MarshalBinary() ([]byte, error) {
	s := savedRecorder{Got: r.got, Last: map[string]uint64{}}
	for id, v := range r.last {
		s.Last[id.String()] = v
	}
	return msgpack.Marshal(&s)
}

func (r savingRecorder) UnmarshalBinary(b []byte) error {
	var s savedRecorder
	if err := msgpack.Unmarshal(b, &s); err != nil {
		return err
	}
	r.got = s.Got
	clear(r.last)
	for id, v := range s.Last {
		r.last[uuid.MustParse(id)] = v
	}
	return nil
}

// sorted returns the recorded events in a fixed order, to compare sets.
func sorted(got [][2]uint64) [][2]uint64 {
	out := slices.Clone(got)
	slices.SortFunc(out, func(a, b [2]uint64) int {
		if a[0] != b[0] {
			return int(a[0]) - int(b[0])
		}
		return int(a[1]) - int(b[1])
	})
	return out
}

func recorded(evs []events.Envelope) [][2]uint64 {
	var out [][2]uint64
	for _, e := range evs {
		out = append(out, [2]uint64{issueNumber(e.Issue), e.Version})
	}
	return sorted(out)
}

// Behind Sequence, a projection gets every event of a log delivered out
// of order and with duplicates (within the lateness) once, in each
// issue's version order; and once the watermark has moved on, the horizon
// tracks the open issues only.
func TestSequenceHandsEachEventOnceInOrderAndForgets(t *testing.T) {
	const lateness = time.Hour
	evs := kpiGenerate(3, 300, 5*time.Minute)
	rec := newRecorder(t)
	s, err := Sequence(rec, SequenceConfig{Lateness: lateness})
	require.NoError(t, err)
	delivered := kpiBoundedDelay(4, evs, lateness/2)
	require.Greater(t, len(delivered), len(evs))
	for _, e := range delivered {
		require.NoError(t, s.Apply(e))
	}
	assert.Equal(t, recorded(evs), sorted(rec.got), "every event once")
	assert.Equal(t, int64(len(delivered)-len(evs)), s.DuplicatesIgnored())
	assert.Zero(t, s.Late())
	assert.Zero(t, s.Held())

	open := map[uuid.UUID]bool{}
	for _, e := range evs { // in version order per issue
		switch e.Data.(type) {
		case *events.Opened, *events.Contacted, *events.Reopened:
			open[e.Issue] = true
		case *events.Resolved:
			open[e.Issue] = false
		}
	}
	nOpen := 0
	for _, o := range open {
		if o {
			nOpen++
		}
	}
	last := evs[0].At
	for _, e := range evs {
		if e.At.After(last) {
			last = e.At
		}
	}
	require.NoError(t, s.AdvanceTo(last.Add(3*lateness)))
	assert.Equal(t, nOpen, s.Tracked(), "only the open issues are tracked once the rest are quiet")
	require.Less(t, nOpen, len(open)/2)

	// A redelivery of an event of an issue that left is late, not applied
	// again.
	n := len(rec.got)
	var resolved events.Envelope
	for _, e := range evs {
		if !open[e.Issue] {
			resolved = e
			break
		}
	}
	require.NoError(t, s.Apply(resolved))
	assert.Len(t, rec.got, n)
	assert.Equal(t, int64(1), s.Late())
}

// kpiBoundedDelay delays each event of evs by up to maxDelay and delivers
// some twice.
func kpiBoundedDelay(seed uint64, evs []events.Envelope, maxDelay time.Duration) []events.Envelope {
	return jitter(append(slices.Clone(evs), evs[:len(evs)/5]...), seed, maxDelay)
}

// What the projection refuses comes back from the Apply that released it;
// an invalid event is refused before the horizon sees it.
func TestSequenceReturnsTheProjectionsErrors(t *testing.T) {
	rec := newRecorder(t)
	rec.fail = 2
	s, err := Sequence(rec, SequenceConfig{})
	require.NoError(t, err)
	evs := kpiGenerate(5, 1, time.Minute)
	require.GreaterOrEqual(t, len(evs), 3)
	require.NoError(t, s.Apply(evs[2]), "held for a gap")
	require.NoError(t, s.Apply(evs[0]))
	assert.ErrorContains(t, s.Apply(evs[1]), "refused", "version 2 is applied by this call")
	assert.Equal(t, [][2]uint64{{issueNumber(evs[0].Issue), 1}, {issueNumber(evs[0].Issue), 3}}, rec.got)

	bad := evs[0]
	bad.Version = 0
	require.ErrorIs(t, s.Apply(bad), events.ErrInvalidEvent)
	_, err = Sequence(nil, SequenceConfig{})
	require.Error(t, err)
	_, err = Sequence((*recorder)(nil), SequenceConfig{})
	require.ErrorIs(t, err, ErrKPIConfig)
	assert.ErrorContains(t, err, "no projection (a nil *projections.recorder)")
	_, err = Sequence(rec, SequenceConfig{Lateness: -time.Second})
	require.ErrorIs(t, err, ErrKPIConfig)
}

// The result can save and reset itself exactly when the projection can.
func TestSequenceHasWhatTheProjectionHas(t *testing.T) {
	plain, err := Sequence(newRecorder(t), SequenceConfig{})
	require.NoError(t, err)
	_, saves := plain.(encoding.BinaryMarshaler)
	_, resets := plain.(Resetter)
	assert.False(t, saves)
	assert.False(t, resets)

	saving, err := Sequence(savingRecorder{newRecorder(t)}, SequenceConfig{})
	require.NoError(t, err)
	_, saves = saving.(encoding.BinaryMarshaler)
	_, loads := saving.(encoding.BinaryUnmarshaler)
	_, resets = saving.(Resetter)
	assert.True(t, saves && loads)
	assert.False(t, resets)

	rec := newRecorder(t)
	resetting, err := Sequence(resettingRecorder{rec}, SequenceConfig{})
	require.NoError(t, err)
	_, saves = resetting.(encoding.BinaryMarshaler)
	assert.False(t, saves)
	evs := kpiGenerate(8, 5, time.Minute)
	for _, e := range evs {
		require.NoError(t, resetting.Apply(e))
	}
	require.Positive(t, resetting.Tracked())
	resetting.(Resetter).Reset()
	assert.Zero(t, resetting.Tracked())
	assert.Empty(t, rec.got)
	for _, e := range evs {
		require.NoError(t, resetting.Apply(e))
	}
	assert.Equal(t, recorded(evs), sorted(rec.got), "after a reset, the same events apply again")
}

// resettingRecorder is a recorder that can start again.
type resettingRecorder struct{ *recorder }

func (r resettingRecorder) Reset() {
	r.got = nil
	clear(r.last)
}

// A Runner over a Sequence result keeps nothing per issue (its
// checkpoints hold no versions) and, restarted from its checkpoint, goes
// on where it stopped: the projection ends with every event once.
func TestRunnerOverSequenceRestartsFromItsCheckpoint(t *testing.T) {
	const lateness = time.Hour
	evs := kpiGenerate(6, 200, 5*time.Minute)
	delivered := kpiBoundedDelay(7, evs, lateness/2)
	cps := NewMemoryCheckpoints()
	var rec *recorder
	for start := 0; start < len(delivered); start += len(delivered) / 3 {
		round := delivered[start:min(start+len(delivered)/3, len(delivered))]
		rec = newRecorder(t)
		s, err := Sequence(savingRecorder{rec}, SequenceConfig{Lateness: lateness})
		require.NoError(t, err)
		bus := gochannel.NewGoChannel(gochannel.Config{BlockPublishUntilSubscriberAck: true}, quietLogger())
		runner, err := NewRunner(RunnerConfig{Name: "seq", Projection: s, Subscriber: bus, Topic: "events",
			Checkpoints: cps, CheckpointEvery: 50, Logger: quietLogger()})
		require.NoError(t, err)
		stop := startRunner(t, runner)
		require.Eventually(t, runner.CaughtUp, 5*time.Second, time.Millisecond)
		publishAll(t, bus, "events", round)
		require.Eventually(t, func() bool {
			st := runner.Stats()
			return st.Applied+st.Duplicates == int64(len(round))
		}, 10*time.Second, time.Millisecond)
		require.NoError(t, stop())
		require.NoError(t, bus.Close())
		positions, _ := savedRunnerState(t, cps, "seq")
		assert.Empty(t, positions, "the runner keeps no versions of its own")
	}
	assert.Equal(t, recorded(evs), sorted(rec.got))
}

// positions records the store position of each event it gets, and saves
// them.
type positions struct{ got []uint64 }

func (p *positions) Apply(e events.Envelope) error  { p.got = append(p.got, e.Position); return nil }
func (p *positions) MarshalBinary() ([]byte, error) { return msgpack.Marshal(p.got) }
func (p *positions) UnmarshalBinary(b []byte) error { return msgpack.Unmarshal(b, &p.got) }

// A held event restored from a snapshot reaches the projection with its
// store position; an error of the projection names the event it is about.
func TestSequenceRestoresHeldEventsWithTheirPositionsAndNamesErrors(t *testing.T) {
	evs := kpiGenerate(9, 1, time.Minute)
	require.GreaterOrEqual(t, len(evs), 3)
	for i := range evs {
		evs[i].Position = uint64(100 + i)
	}
	p := &positions{}
	s, err := Sequence(p, SequenceConfig{})
	require.NoError(t, err)
	require.NoError(t, s.Apply(evs[0]))
	require.NoError(t, s.Apply(evs[2])) // held
	b, err := s.(encoding.BinaryMarshaler).MarshalBinary()
	require.NoError(t, err)
	q := &positions{}
	r, err := Sequence(q, SequenceConfig{})
	require.NoError(t, err)
	require.NoError(t, r.(encoding.BinaryUnmarshaler).UnmarshalBinary(b))
	require.NoError(t, r.Apply(evs[1]))
	assert.Equal(t, []uint64{100, 101, 102}, q.got)

	rec := newRecorder(t)
	rec.fail = 3
	failing, err := Sequence(rec, SequenceConfig{})
	require.NoError(t, err)
	require.NoError(t, failing.Apply(evs[0]))
	require.NoError(t, failing.Apply(evs[2]))
	err = failing.Apply(evs[1])
	require.ErrorContains(t, err, "refused")
	assert.ErrorContains(t, err, "version 3")
	assert.ErrorContains(t, err, evs[2].Issue.String())
}

// kept keeps the events handed to it; its state saves as nothing.
type kept struct{ got []events.Envelope }

func (k *kept) Apply(e events.Envelope) error  { k.got = append(k.got, e); return nil }
func (k *kept) MarshalBinary() ([]byte, error) { return nil, nil }
func (k *kept) UnmarshalBinary([]byte) error   { return nil }

// A held events.Opaque, whose name is all it holds, is saved in a
// Sequence snapshot by name and reaches the projection as it was.
func TestSequenceSavesAHeldOpaqueEvent(t *testing.T) {
	evs := kpiGenerate(9, 1, time.Minute)
	require.GreaterOrEqual(t, len(evs), 3)
	evs[2].Data = &events.Opaque{Type: "crm.note"}
	evs[2].Meta = events.Meta{"tenant": "acme"}
	evs[2].Position = 102
	s, err := Sequence(&kept{}, SequenceConfig{})
	require.NoError(t, err)
	require.NoError(t, s.Apply(evs[0]))
	require.NoError(t, s.Apply(evs[2])) // held for version 2
	b, err := s.(encoding.BinaryMarshaler).MarshalBinary()
	require.NoError(t, err)

	again := &kept{}
	r, err := Sequence(again, SequenceConfig{})
	require.NoError(t, err)
	require.NoError(t, r.(encoding.BinaryUnmarshaler).UnmarshalBinary(b))
	require.NoError(t, r.Apply(evs[1]))
	require.Len(t, again.got, 2)
	assert.Equal(t, evs[1].ID, again.got[0].ID)
	assert.Equal(t, evs[2], again.got[1], "as it was")
}

// Sequence hands a host's projection every event, an issue.opened after
// version 1 included, and tracks the stream as opened by it: an event that
// comes hours later is handed over at once, not held as for a forgotten
// stream.
func TestSequenceHandsOverAStreamThatOpensLate(t *testing.T) {
	rec := newRecorder(t)
	p, err := Sequence(rec, SequenceConfig{Lateness: time.Hour})
	require.NoError(t, err)
	l := newFCRLog()
	s, c := l.id(), l.id()
	for _, e := range []events.Envelope{
		l.add(s, at(0, 9, 0), &events.Routed{Contact: c, Queue: "billing"}),
		l.add(s, at(0, 9, 1), &events.Opened{Customer: events.Customer{ID: "c"}, Channel: "phone", Topic: "t", Contact: c}),
	} {
		require.NoError(t, p.Apply(e))
	}
	l.tick(at(0, 12, 0)) // another issue moves the watermark
	require.NoError(t, p.Apply(l.evs[len(l.evs)-1]))
	require.NoError(t, p.Apply(l.add(s, at(0, 12, 1), &events.Resolved{Contact: c, Agent: "ann"})))
	n := issueNumber(s)
	assert.Equal(t, [][2]uint64{{n, 1}, {n, 2}, {n, 3}}, slices.DeleteFunc(slices.Clone(rec.got), func(g [2]uint64) bool { return g[0] != n }))
	assert.Zero(t, p.Held())
}

// Sequence refuses a version beyond events.MaxVersion, after which its
// horizon would have no room for the next.
func TestSequenceRefusesAVersionBeyondTheLargest(t *testing.T) {
	seq, err := Sequence(newTally(), SequenceConfig{})
	require.NoError(t, err)
	e := testLog(1)[0]
	e.Version = math.MaxUint64
	assert.ErrorIs(t, seq.Apply(e), events.ErrInvalidEvent)
	assert.Zero(t, seq.Tracked())
}

// A Sequencer counts a stream with both emitted and held versions once.
func TestSequencerCountsEachStreamOnce(t *testing.T) {
	s := NewSequencer()
	log := testLog(1)
	emit := func(events.Envelope) error { return nil }
	_, err := s.Offer(log[0], emit)
	require.NoError(t, err)
	out, err := s.Offer(log[2], emit)
	require.NoError(t, err)
	require.Equal(t, Held, out)
	assert.Equal(t, 1, s.Streams())
}

// A held event whose emit failed stays held, and the stream expects its
// version: that version offered again is emitted with the events it
// releases, and nothing stays held.
func TestSequencerReleasesAfterAFailedEmit(t *testing.T) {
	s := NewSequencer()
	log := testLog(2)
	issue := log[0].Issue
	evs := []events.Envelope{log[0], log[1], log[2]}
	for v := 4; v <= 5; v++ { // versions 4 and 5 of the same issue
		e := log[3+v-4]
		e.Issue, e.Version = issue, uint64(v)
		evs = append(evs, e)
	}
	var got []uint64
	emit := func(e events.Envelope) error { got = append(got, e.Version); return nil }
	refuse3 := func(e events.Envelope) error {
		if e.Version == 3 {
			return errors.New("refused")
		}
		return emit(e)
	}
	_, err := s.Offer(evs[0], emit)
	require.NoError(t, err)
	for _, e := range []events.Envelope{evs[2], evs[3]} {
		out, err := s.Offer(e, emit)
		require.NoError(t, err)
		require.Equal(t, Held, out)
	}
	_, err = s.Offer(evs[1], refuse3)
	require.ErrorContains(t, err, "refused")
	assert.Equal(t, []uint64{1, 2}, got)
	assert.Equal(t, 2, s.Held(), "3 and 4 stay held")

	out, err := s.Offer(evs[2], emit) // version 3 again
	require.NoError(t, err)
	assert.Equal(t, Applied, out)
	assert.Equal(t, []uint64{1, 2, 3, 4}, got)
	assert.Zero(t, s.Held())
	out, err = s.Offer(evs[4], emit)
	require.NoError(t, err)
	assert.Equal(t, Applied, out, "version 5 follows")
}

// What Sequence returns advances the projection behind it too, when that
// is an Advancer: an FCR behind it makes its verdicts final.
func TestSequencedAdvancesItsProjection(t *testing.T) {
	l := newFCRLog()
	l.solved(at(0, 9, 0), []string{"phone:21"}, "phone", "tech/tv", "ann")
	f := mustFCR(FCRConfig{})
	seq, err := Sequence(f, SequenceConfig{})
	require.NoError(t, err)
	for _, e := range l.evs {
		require.NoError(t, seq.Apply(e))
	}
	require.Equal(t, int64(1), f.Report().Pending)
	require.NoError(t, seq.AdvanceTo(at(30, 0, 0)))
	rep := f.Report()
	assert.Zero(t, rep.Pending)
	assert.Equal(t, int64(1), rep.True.Achieved)
	assert.Equal(t, at(30, 0, 0), f.Watermark())
}

// A redelivery of a version that was applied before a later gap of its
// issue was skipped is a duplicate, as it was before the skip; only the
// versions skipped are late. A snapshot keeps which they were.
func TestSequenceTellsASkippedVersionFromAnAppliedOne(t *testing.T) {
	l := newFCRLog()
	s, c := l.id(), l.id()
	v := []events.Envelope{
		l.add(s, at(0, 9, 0), &events.Opened{Customer: events.Customer{ID: "c"}, Channel: "phone", Topic: "t", Contact: c}),
		l.add(s, at(0, 9, 5), &events.Routed{Contact: c, Queue: "billing"}),
		l.add(s, at(0, 9, 7), &events.Routed{Contact: c, Queue: "billing"}), // v3: missing
		l.add(s, at(0, 9, 10), &events.Routed{Contact: c, Queue: "billing"}),
		l.add(s, at(0, 9, 12), &events.Routed{Contact: c, Queue: "billing"}), // v5: missing
		l.add(s, at(0, 9, 15), &events.Routed{Contact: c, Queue: "billing"}),
	}
	rec := newRecorder(t)
	seq, err := Sequence(savingRecorder{rec}, SequenceConfig{Lateness: time.Hour})
	require.NoError(t, err)
	for _, i := range []int{0, 1, 3} {
		require.NoError(t, seq.Apply(v[i]))
	}
	require.NoError(t, seq.AdvanceTo(at(0, 10, 30)))
	require.NoError(t, seq.Apply(v[5])) // older than the lateness: v5 is skipped at once
	n := issueNumber(s)
	require.Equal(t, [][2]uint64{{n, 1}, {n, 2}, {n, 4}, {n, 6}}, rec.got)
	require.Zero(t, seq.Late())
	require.Zero(t, seq.DuplicatesIgnored())

	b, err := seq.(encoding.BinaryMarshaler).MarshalBinary()
	require.NoError(t, err)
	restored, err := Sequence(savingRecorder{newRecorder(t)}, SequenceConfig{Lateness: time.Hour})
	require.NoError(t, err)
	require.NoError(t, restored.(encoding.BinaryUnmarshaler).UnmarshalBinary(b))

	for name, p := range map[string]Sequenced{"live": seq, "restored": restored} {
		for _, e := range v {
			require.NoError(t, p.Apply(e))
		}
		assert.Equal(t, int64(2), p.Late(), "%s: v3 and v5 were skipped", name)
		assert.Equal(t, int64(4), p.DuplicatesIgnored(), "%s: v1, v2, v4 and v6 were applied", name)
	}
	assert.Len(t, rec.got, 4, "nothing applied twice")

	// A snapshot saved before the skipped versions were kept has the
	// base cover them and those applied before them: it restores so.
	older := editSnapshot(t, b, func(s *sequencedSnap) {
		is := &s.Horizon.Issues[0]
		require.Equal(t, [][2]uint64{{3, 3}, {5, 5}}, is.Skipped)
		is.Base, is.Skipped = 5, nil
	})
	fromOlder, err := Sequence(savingRecorder{newRecorder(t)}, SequenceConfig{Lateness: time.Hour})
	require.NoError(t, err)
	require.NoError(t, fromOlder.(encoding.BinaryUnmarshaler).UnmarshalBinary(older))
	for _, e := range v {
		require.NoError(t, fromOlder.Apply(e))
	}
	assert.Equal(t, int64(5), fromOlder.Late(), "v1 to v5")
	assert.Equal(t, int64(1), fromOlder.DuplicatesIgnored(), "v6")

	for _, spans := range [][][2]uint64{{{5, 5}, {3, 3}}, {{3, 7}}, {{0, 1}}, {{4, 3}}} {
		bad := editSnapshot(t, b, func(s *sequencedSnap) { s.Horizon.Issues[0].Skipped = spans })
		err := restored.(encoding.BinaryUnmarshaler).UnmarshalBinary(bad)
		require.ErrorIs(t, err, ErrKPISnapshot, "%v", spans)
		assert.ErrorContains(t, err, "skipped versions")
	}
}
