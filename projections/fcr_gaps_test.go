package projections

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/truefcr/truefcr/events"
)

// gapLog is the morning of two customers, each solved on the first
// contact, and a tick at 10:00. Issue b's classification, its version 3
// at 9:10, is returned apart, as if lost on the way: b's resolution at
// 9:20 waits for it.
func gapLog() (l *fcrLog, evs []events.Envelope, missing events.Envelope) {
	l = newFCRLog()
	l.solved(at(0, 9, 0), []string{"phone:31"}, "phone", "tech/tv", "ann")
	b, cb := l.open(at(0, 9, 0), []string{"phone:32"}, "chat", "billing/refund")
	l.route(b, at(0, 9, 5), cb, "billing", "bob")
	missing = l.add(b, at(0, 9, 10), &events.Classified{Topic: "billing/refund"})
	l.resolve(b, at(0, 9, 20), cb, "bob", false)
	l.tick(at(0, 10, 0))
	evs = slices.DeleteFunc(slices.Clone(l.evs), func(e events.Envelope) bool { return e.ID == missing.ID })
	return l, evs, missing
}

// figures is what a report says of the problems, without the counts of
// deliveries.
func figures(r FCRReport) [6]int64 {
	return [6]int64{r.Problems, r.Achieved, r.Failed, r.Pending, r.Unresolved, r.Reported.Total}
}

// TestFCRSkipsAGapOnceOlderThanTheLateness: the events of a live issue
// that wait for a missing version wait until the first of them is older
// than the watermark minus the lateness; the stream then goes on without
// it, counted in missing_events, and the missing version, if it comes
// after all, is counted as late and not applied. Before that moment it
// fills the gap as usual, and the figures are the same either way.
func TestFCRSkipsAGapOnceOlderThanTheLateness(t *testing.T) {
	cfg := FCRConfig{Window: 24 * time.Hour, Lateness: time.Hour}
	l, evs, missing := gapLog()
	f := mustFCR(cfg)
	for _, e := range evs {
		require.NoError(t, f.Apply(e))
	}
	held := f.Report()
	require.Equal(t, int64(1), held.HeldEvents, "at 10:00, b's resolution (9:20) waits for 9:10")
	require.Equal(t, int64(2), held.Unresolved, "b and the tick")
	snap, err := f.Snapshot(7)
	require.NoError(t, err)

	// In time, the missing version fills the gap.
	inTime := mustFCR(cfg)
	for _, e := range evs {
		require.NoError(t, inTime.Apply(e))
	}
	require.NoError(t, inTime.Apply(missing))
	inTime.AdvanceTo(at(0, 10, 25))

	// 10:25, by an event or by AdvanceTo: 9:20 is older than the lateness.
	l.tick(at(0, 10, 25))
	require.NoError(t, f.Apply(l.evs[len(l.evs)-1]))
	skipped := f.Report()
	assert.Zero(t, skipped.HeldEvents)
	assert.Equal(t, int64(1), skipped.MissingEvents)
	assert.Equal(t, int64(1), skipped.Pending-held.Pending, "b is resolved")
	assert.Equal(t, figures(inTime.Report()), figures(skipped), "as if the version had come in time")
	assert.Zero(t, inTime.Report().MissingEvents)

	restored := mustFCR(cfg)
	_, err = restored.Restore(snap)
	require.NoError(t, err)
	restored.AdvanceTo(at(0, 10, 25))
	assert.Equal(t, int64(1), restored.Report().MissingEvents, "a restored FCR skips the gap as well")
	assert.Equal(t, figures(skipped), figures(restored.Report()))

	// The missing version, after all: late, and not applied.
	snap, err = f.Snapshot(8)
	require.NoError(t, err)
	// Spans out of order or overlapping, or of version 0, which no
	// skipping makes, are refused: a lookup takes them as in order.
	for _, spans := range [][][2]uint64{{{1, 1}, {1, 1}}, {{1, 1}, {0, 0}}, {{0, 0}}} {
		bad := editSnapshot(t, snap, func(s *fcrSnap) {
			i := slices.IndexFunc(s.Versions, func(v fcrSnapVersion) bool { return len(v.Skipped) > 0 })
			require.GreaterOrEqual(t, i, 0)
			require.Greater(t, s.Versions[i].Version, uint64(1))
			s.Versions[i].Skipped = spans
		})
		_, err := mustFCR(cfg).Restore(bad)
		require.ErrorIs(t, err, ErrFCRSnapshot, "%v", spans)
		assert.ErrorContains(t, err, "skipped versions")
	}
	again := mustFCR(cfg)
	_, err = again.Restore(snap)
	require.NoError(t, err)
	for _, g := range []*FCR{f, again} {
		dups := g.DuplicatesIgnored()
		require.NoError(t, g.Apply(missing))
		r := g.Report()
		assert.Equal(t, skipped.LateEvents+1, r.LateEvents, "the missing version is late")
		assert.Equal(t, skipped.LateDropped+1, r.LateDropped, "and left out of the figures")
		assert.Equal(t, dups, g.DuplicatesIgnored(), "and no duplicate")
		assert.Equal(t, figures(skipped), figures(r))
		assert.Equal(t, int64(1), r.MissingEvents)
	}

	// Once folded, b counts as achieved, as had its classification come.
	f.AdvanceTo(at(3, 0, 0))
	inTime.AdvanceTo(at(3, 0, 0))
	assert.Equal(t, figures(inTime.Report()), figures(f.Report()))
	assert.Equal(t, int64(2), f.Report().Achieved)
}

// TestSequencerSkip: skip goes past the first gap only, emits what
// follows it without a gap, and leaves the next gap held.
func TestSequencerSkip(t *testing.T) {
	l := newFCRLog()
	b, cb := l.open(at(0, 9, 0), []string{"phone:33"}, "chat", "billing/refund")
	for m := range 5 {
		l.route(b, at(0, 9, 1+m), cb, "billing", "bob")
	}
	s := NewSequencer()
	var got []uint64
	emit := func(e events.Envelope) error { got = append(got, e.Version); return nil }
	for _, v := range []int{0, 2, 3, 5} { // versions 1, 3, 4, 6: 2 and 5 are missing
		_, err := s.Offer(l.evs[v], emit)
		require.NoError(t, err)
	}
	require.Equal(t, []uint64{1}, got)
	from, to, err := s.skip(b, emit)
	require.NoError(t, err)
	assert.Equal(t, [2]uint64{2, 2}, [2]uint64{from, to})
	assert.Equal(t, []uint64{1, 3, 4}, got)
	assert.Equal(t, 1, s.Held())
	first, ok := s.firstHeld(b)
	assert.True(t, ok)
	assert.Equal(t, at(0, 9, 5).UnixNano(), first)
	from, to, err = s.skip(b, emit)
	require.NoError(t, err)
	assert.Equal(t, [2]uint64{5, 5}, [2]uint64{from, to})
	assert.Equal(t, []uint64{1, 3, 4, 6}, got)
	assert.Zero(t, s.Held())
	_, ok = s.firstHeld(b)
	assert.False(t, ok)
	from, to, err = s.skip(b, emit)
	require.NoError(t, err)
	assert.Greater(t, from, to, "nothing held, nothing skipped")
	out, err := s.Offer(l.evs[4], emit)
	require.NoError(t, err)
	assert.Equal(t, Duplicate, out, "a skipped version is behind the stream")
}

// A snapshot saved before gaps were skipped may hold a live issue's events
// behind a gap older than the lateness: the restored FCR skips it at once,
// so that the missing version, if it comes next, is late as it would be
// in an FCR that never stopped.
func TestFCRRestoreSkipsAStaleGap(t *testing.T) {
	cfg := FCRConfig{Window: 24 * time.Hour, Lateness: time.Hour}
	_, evs, missing := gapLog()
	f := mustFCR(cfg)
	for _, e := range evs {
		require.NoError(t, f.Apply(e))
	}
	require.Equal(t, int64(1), f.Report().HeldEvents)
	b, err := f.Snapshot(1)
	require.NoError(t, err)
	// As an earlier build saved it: its watermark past the held event by
	// more than the lateness, the gap still open.
	var s fcrSnap
	require.NoError(t, msgpack.Unmarshal(unsealed(b), &s))
	s.WM = at(0, 10, 25).UnixNano()
	b, err = msgpack.Marshal(&s)
	require.NoError(t, err)

	g := mustFCR(cfg)
	_, err = g.Restore(b)
	require.NoError(t, err)
	r := g.Report()
	assert.Zero(t, r.HeldEvents)
	assert.Equal(t, int64(1), r.MissingEvents)
	require.NoError(t, g.Apply(missing))
	assert.Equal(t, int64(1), g.Report().LateDropped, "the missing version is late, and left out")
}

// missing_events saturates rather than wrap: versions up to MaxVersion
// may be gone past.
func TestFCRMissingEventsSaturate(t *testing.T) {
	l := newFCRLog()
	f := mustFCR(FCRConfig{Lateness: time.Hour})
	for i := range 2 {
		b, _ := l.open(at(0, 9, i), []string{fmt.Sprintf("phone:5%d", i)}, "chat", "billing")
		l.flush(t, f)
		require.NoError(t, f.Apply(events.Envelope{ID: l.id(), Issue: b, Version: events.MaxVersion, At: at(0, 9, 30),
			Data: &events.Classified{Topic: "tech"}}))
	}
	f.AdvanceTo(at(0, 11, 0))
	r := f.Report()
	assert.Zero(t, r.HeldEvents)
	assert.Equal(t, int64(math.MaxInt64), r.MissingEvents)
}

// spansHold finds a version among spans in order, at their ends too.
func TestSpansHold(t *testing.T) {
	sps := []versionSpan{{3, 3}, {5, 9}, {20, 20}}
	var in []uint64
	for v := range uint64(23) {
		if spansHold(sps, v) {
			in = append(in, v)
		}
	}
	assert.Equal(t, []uint64{3, 5, 6, 7, 8, 9, 20}, in)
	assert.False(t, spansHold(nil, 3))
}

// An issue settles W after the resolution that last closed it, the first
// since its last inbound contact, as its definition says: a second
// resolution with no contact between (which an imported log may hold)
// does not move it, and a reopen after the first resolution + W is not
// applied.
func TestAnIssueSettlesAfterTheResolutionThatClosedIt(t *testing.T) {
	l := newFCRLog()
	is, c := l.open(at(0, 9, 0), []string{"phone:+358401"}, "phone", "a/b")
	l.resolve(is, at(0, 9, 10), c, "ann", false)
	l.resolve(is, at(6, 9, 10), c, "bob", false) // no contact since the first
	l.reopen(is, at(8, 9, 0), "chat")            // within W of the second
	l.tick(at(30, 0, 0))
	f := mustFCR(FCRConfig{})
	for _, e := range l.evs {
		require.NoError(t, f.Apply(e))
	}
	r := f.Report()
	assert.Equal(t, int64(1), r.OrphanedEvents, "the reopen came after the issue settled")
	assert.Equal(t, int64(1), r.Achieved)
	assert.Contains(t, r.Definition.Settled, "after the resolution that last closed it (the first since its last inbound contact)")
}
