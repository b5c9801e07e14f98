package projections

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
)

// strayStreams returns the streams that f tracks but whose issue is not
// live.
func strayStreams(f *FCR) map[uuid.UUID]uint64 {
	out := make(map[uuid.UUID]uint64)
	for id, v := range f.StreamVersions() {
		if f.lookup(id) < 0 {
			out[id] = v
		}
	}
	return out
}

// A stream that did not start with issue.opened is ignored while it is
// tracked (its redeliveries are known duplicates, its later events are
// ignored at once) and forgotten once quiet for W + lateness: a later event
// of it then waits for its gap and is orphaned like any event of a stream
// the FCR does not know.
func TestFCRForgetsAStrayStreamQuietForTheHorizon(t *testing.T) {
	l := newFCRLog()
	cfg := FCRConfig{Window: 7 * 24 * time.Hour, Lateness: 24 * time.Hour}
	f := mustFCR(cfg)
	apply := func(evs ...events.Envelope) {
		t.Helper()
		for _, e := range evs {
			require.NoError(t, f.Apply(e))
		}
	}
	s := l.id()
	routed := l.add(s, at(0, 9, 0), &events.Routed{Contact: l.id(), Queue: "billing"})
	apply(routed)
	assert.Equal(t, map[uuid.UUID]uint64{s: 1}, strayStreams(f))
	apply(l.add(s, at(1, 9, 0), &events.Resolved{Contact: l.id(), Agent: "ann"}), routed)
	r := f.Report()
	assert.Equal(t, int64(2), r.IgnoredEvents, "both events are ignored at once")
	assert.Zero(t, r.HeldEvents)
	assert.Equal(t, int64(1), f.DuplicatesIgnored(), "the redelivery is known")

	// Quiet for less than W + lateness since its last event: still known.
	l.tick(at(9, 8, 0))
	apply(l.evs[len(l.evs)-1])
	f.sweep()
	assert.Equal(t, map[uuid.UUID]uint64{s: 2}, strayStreams(f))
	// Quiet for longer: forgotten.
	l.tick(at(9, 10, 0))
	apply(l.evs[len(l.evs)-1])
	f.sweep()
	assert.Empty(t, strayStreams(f))
	assert.Equal(t, 0, f.strays.len())
	assert.Zero(t, f.strays.queue.Len())

	apply(l.add(s, at(9, 11, 0), &events.Rated{Survey: events.SurveyCSAT, Score: 5}))
	r = f.Report()
	assert.Equal(t, int64(2), r.IgnoredEvents)
	assert.Equal(t, int64(1), r.HeldEvents, "an event of a forgotten stream waits for its gap")
	l.tick(at(10, 12, 0))
	apply(l.evs[len(l.evs)-1])
	f.sweep()
	r = f.Report()
	assert.Zero(t, r.HeldEvents)
	assert.Equal(t, int64(1), r.OrphanedEvents)
	assert.Zero(t, f.seq.Streams(), "the Sequencer tracks nothing: the clock's issues are live")
}

// Each event of a stray stream keeps it: the horizon counts from its
// latest event. An issue.opened after version 1 does not open an issue:
// the stream stays a stray.
func TestFCRStrayStreamLastsFromItsLatestEvent(t *testing.T) {
	l := newFCRLog()
	f := mustFCR(FCRConfig{Window: 7 * 24 * time.Hour, Lateness: 24 * time.Hour})
	apply := func(evs ...events.Envelope) {
		t.Helper()
		for _, e := range evs {
			require.NoError(t, f.Apply(e))
		}
	}
	s, o := l.id(), l.id()
	apply(l.add(s, at(0, 9, 0), &events.Routed{Contact: l.id(), Queue: "billing"}))
	apply(l.add(o, at(0, 9, 0), &events.Routed{Contact: l.id(), Queue: "billing"}))
	apply(l.add(s, at(5, 9, 0), &events.Rated{Survey: events.SurveyCSAT, Score: 4}))
	apply(l.add(o, at(5, 9, 0), &events.Opened{Customer: events.Customer{Keys: []string{"phone:1"}}, Channel: "phone", Topic: "t", Contact: l.id()}))
	assert.Less(t, f.lookup(o), int32(0), "an opening after version 1 opens no issue")
	assert.Equal(t, map[uuid.UUID]uint64{s: 2, o: 2}, strayStreams(f))
	r := f.Report()
	assert.Equal(t, int64(4), r.IgnoredEvents)
	assert.Zero(t, r.Issues)

	l.tick(at(13, 8, 0)) // W + lateness after the first events, not after the second
	apply(l.evs[len(l.evs)-1])
	f.sweep()
	assert.Equal(t, map[uuid.UUID]uint64{s: 2, o: 2}, strayStreams(f))
	l.tick(at(13, 10, 0))
	apply(l.evs[len(l.evs)-1])
	f.sweep()
	assert.Empty(t, strayStreams(f))
}

// The same events delivered in two orders that differ only within the
// lateness give the same figures, whether or not a sweep forgot a stray
// stream before an issue.opened of it came.
func TestFCRStrayStreamFiguresDoNotDependOnSweeps(t *testing.T) {
	cfg := FCRConfig{Window: 7 * 24 * time.Hour, Lateness: 24 * time.Hour}
	l := newFCRLog()
	s := l.id()
	l.add(s, at(0, 9, 0), &events.Routed{Contact: l.id(), Queue: "billing"})
	c := l.id()
	opened := l.add(s, at(8, 12, 0), &events.Opened{Customer: events.Customer{Keys: []string{"phone:+1"}}, Channel: "phone", Topic: "t", Contact: c})
	resolved := l.add(s, at(8, 12, 10), &events.Resolved{Contact: c, Agent: "ann"})
	head := slices.Clone(l.evs[:1])
	l.evs = nil
	for i := range 5000 {
		l.solved(at(8, 1, 0).Add(time.Duration(i)*15*time.Second), []string{fmt.Sprintf("phone:+2%d", i)}, "chat", "t", "bob")
	}
	filler := slices.Clone(l.evs)
	first := append(append(slices.Clone(head), opened, resolved), filler...)
	last := append(append(slices.Clone(head), filler...), opened, resolved)
	a, b := runFCR(t, cfg, first), runFCR(t, cfg, last)
	require.Equal(t, a.LateEvents, b.LateEvents, "the orders differ within the lateness")
	require.NotEqual(t, a.IgnoredEvents, b.IgnoredEvents, "a sweep forgot the stray stream in one order only")
	for _, r := range []*FCRReport{&a, &b} {
		assert.Equal(t, int64(5000), r.Issues)
		r.IgnoredEvents, r.OrphanedEvents, r.HeldEvents = 0, 0, 0
	}
	assert.Equal(t, a, b)
}

// A host may publish streams of its own that never start with
// issue.opened: the FCR ignores their events while it tracks them, keeps
// only those heard of within the horizon W + lateness, and a snapshot
// carries when each was last heard of. The figures are those of the
// issues alone.
func TestFCRKeepsOnlyRecentStrayStreams(t *testing.T) {
	g := fcrGen{Seed: 5, Customers: 800, Issues: 6000, Span: 120 * 24 * time.Hour, LooseKeys: true}
	issues := g.log()
	l := newFCRLog()
	l.n = 1 << 40
	rng := rand.New(rand.NewPCG(5, 0x57a7))
	last := make(map[uuid.UUID]time.Time) // each stray stream's latest event
	const strays = 2000
	for range strays {
		s := l.id()
		t := day0.Add(time.Duration(rng.Int64N(int64(g.Span))))
		l.add(s, t, &events.Routed{Contact: l.id(), Queue: "billing"})
		t = t.Add(time.Duration(rng.Int64N(int64(48 * time.Hour))))
		l.add(s, t, &events.Classified{Topic: "host/thing"})
		last[s] = t
	}
	feed := append(slices.Clone(issues), l.evs...)
	slices.SortStableFunc(feed, func(a, b events.Envelope) int { return a.At.Compare(b.At) })
	feed = jitter(feed, 3, 2*time.Hour)
	cfg := FCRConfig{Lateness: 6 * time.Hour}

	f := mustFCR(cfg)
	most, cut := 0, -1
	var snap []byte
	var atSnap map[uuid.UUID]int64
	for i, e := range feed {
		require.NoError(t, f.Apply(e))
		most = max(most, f.strays.len())
		if snap == nil && i > len(feed)/2 && f.strays.len() > 0 && f.seq.Held() > 0 {
			var err error
			snap, err = f.Snapshot(0)
			require.NoError(t, err)
			cut, atSnap = i+1, maps.Clone(f.strays.last)
		}
	}
	require.NotNil(t, snap)
	f.sweep()
	quiet := f.Watermark().Add(-cfg.Lateness - DefaultFCRWindow)
	want := make(map[uuid.UUID]uint64)
	for s, at := range last {
		if !at.Before(quiet) {
			want[s] = 2
		}
	}
	require.NotEmpty(t, want)
	assert.Equal(t, want, strayStreams(f), "the stray streams heard of within the horizon, and only they")
	assert.Equal(t, len(want), f.strays.len())
	assert.Less(t, most, strays/4, "at most the streams of a horizon and a sweep's interval are tracked")

	r := runFCR(t, cfg, issues)
	r.IgnoredEvents += 2 * strays
	assert.Equal(t, r, f.Report(), "the figures are the issues'; every event of a stray stream is ignored")

	// Restored from the snapshot, the FCR forgets the same streams at the
	// same moments and ends with the same report.
	h := mustFCR(cfg)
	_, err := h.Restore(snap)
	require.NoError(t, err)
	assert.Equal(t, atSnap, h.strays.last)
	for _, e := range feed[cut:] {
		require.NoError(t, h.Apply(e))
	}
	h.sweep()
	assert.Equal(t, f.Report(), h.Report())
	assert.Equal(t, f.StreamVersions(), h.StreamVersions())
	assert.Equal(t, f.strays.last, h.strays.last)
}

// A snapshot of format 4 has no time for its stray streams: they count as
// last heard of at the watermark, and are forgotten a horizon after it.
func TestFCRFormat4StraysLastUntilAHorizonAfterTheWatermark(t *testing.T) {
	l := newFCRLog()
	cfg := FCRConfig{Window: 7 * 24 * time.Hour, Lateness: 24 * time.Hour}
	f := mustFCR(cfg)
	s := l.id()
	require.NoError(t, f.Apply(l.add(s, at(0, 9, 0), &events.Routed{Contact: l.id(), Queue: "billing"})))
	l.tick(at(3, 9, 0))
	require.NoError(t, f.Apply(l.evs[len(l.evs)-1]))
	b, err := f.Snapshot(0)
	require.NoError(t, err)
	old := editSnapshot(t, b, func(sn *fcrSnap) {
		sn.Format = 4
		for i := range sn.Versions {
			sn.Versions[i].Last = 0
		}
	})

	for _, c := range []struct {
		snap   []byte
		forget time.Time // the first tick that forgets the stray
	}{{b, at(8, 10, 0)}, {old, at(11, 10, 0)}} {
		g := mustFCR(cfg)
		_, err := g.Restore(c.snap)
		require.NoError(t, err)
		require.Equal(t, map[uuid.UUID]uint64{s: 1}, strayStreams(g))
		for _, tick := range []time.Time{c.forget.Add(-2 * time.Hour), c.forget} {
			l.tick(tick)
			require.NoError(t, g.Apply(l.evs[len(l.evs)-1]))
			g.sweep()
			if tick.Before(c.forget) {
				assert.Len(t, strayStreams(g), 1, "kept at %s", tick)
			} else {
				assert.Empty(t, strayStreams(g), "forgotten at %s", tick)
			}
		}
	}
}

// A stray stream whose later event waited for a gap beyond the lateness
// is forgotten with it: the Sequencer and the strays agree, as a snapshot
// needs.
func TestFCRStrayStreamGoesWithItsExpiredGap(t *testing.T) {
	l := newFCRLog()
	f := mustFCR(FCRConfig{Window: 7 * 24 * time.Hour, Lateness: time.Hour})
	s := l.id()
	require.NoError(t, f.Apply(l.add(s, at(0, 9, 0), &events.Routed{Contact: l.id(), Queue: "billing"})))
	l.add(s, at(0, 9, 5), &events.Rated{Survey: events.SurveyCSAT, Score: 4}) // lost
	require.NoError(t, f.Apply(l.add(s, at(0, 9, 10), &events.Rated{Survey: events.SurveyCSAT, Score: 5})))
	require.Equal(t, int64(1), f.Report().HeldEvents)
	require.Equal(t, 1, f.strays.len())

	l.tick(at(0, 12, 0))
	require.NoError(t, f.Apply(l.evs[len(l.evs)-1]))
	f.sweep()
	r := f.Report()
	assert.Zero(t, r.HeldEvents)
	assert.Equal(t, int64(1), r.OrphanedEvents)
	assert.Empty(t, strayStreams(f))
	assert.Equal(t, 0, f.strays.len())
}

// A stream that did not start with issue.opened is no issue's, in every
// section of the report and in each KPI projection on its own: an opening
// later in it opens nothing, and none of its events counts.
func TestReportSectionsAgreeOnAStreamThatDidNotStartWithAnOpening(t *testing.T) {
	l := newFCRLog()
	s, c := l.id(), l.id()
	l.add(s, at(0, 9, 0), &events.Routed{Contact: c, Queue: "billing", Agent: "ann", Wait: time.Minute})
	l.add(s, at(0, 9, 1), &events.Opened{Customer: events.Customer{Keys: []string{"phone:1"}}, Channel: "phone", Topic: "billing", Contact: c})
	l.add(s, at(0, 9, 9), &events.Resolved{Contact: c, Agent: "ann"})
	l.add(s, at(0, 10, 0), &events.Rated{Survey: events.SurveyCSAT, Score: 5, Contact: c})
	r, err := NewReporter(ReportConfig{})
	require.NoError(t, err)
	svc, sat, vol := defaultKPIs(t)
	for _, e := range l.evs {
		for _, p := range []Projection{r, vol, svc, sat} {
			require.NoError(t, p.Apply(e))
		}
	}
	require.NoError(t, r.AdvanceTo(at(10, 0, 0)))
	rep := r.Report()
	assert.Zero(t, rep.FCR.Issues)
	assert.Equal(t, int64(4), rep.FCR.IgnoredEvents)
	for _, v := range []VolumeReport{rep.Volume, vol.Report()} {
		assert.Zero(t, v.Issues)
		assert.Zero(t, v.Contacts)
	}
	for _, v := range []ServiceReport{rep.Service, svc.Report()} {
		assert.Zero(t, v.Offered)
	}
	for _, v := range []SatisfactionReport{rep.Satisfaction, sat.Report()} {
		assert.Zero(t, v.CSAT.Responses)
	}

	// Saved and restored while the stream is tracked, a Reporter still
	// passes over it.
	r1, err := NewReporter(ReportConfig{})
	require.NoError(t, err)
	for _, e := range l.evs {
		require.NoError(t, r1.Apply(e))
	}
	b, err := r1.MarshalBinary()
	require.NoError(t, err)
	r2, err := NewReporter(ReportConfig{})
	require.NoError(t, err)
	require.NoError(t, r2.UnmarshalBinary(b))
	require.NoError(t, r2.Apply(l.add(s, at(0, 11, 0), &events.Rated{Survey: events.SurveyCSAT, Score: 1, Contact: c})))
	after := r2.Report().Satisfaction
	assert.Zero(t, after.LateEvents, "the event was applied")
	assert.Zero(t, after.CSAT.Responses)
}

// The events the KPI projections pass over open nothing in their horizon
// either: a stream whose version 1 was not issue.opened, or an opening
// after version 1, leaves no issue open in the backlog, and the horizon
// lets it go once quiet.
func TestKPIHorizonOpensNothingForWhatItPassesOver(t *testing.T) {
	l := newFCRLog()
	routed, contacted, twice := l.id(), l.id(), l.id()
	c := l.id()
	l.add(routed, at(0, 9, 0), &events.Routed{Contact: c, Queue: "billing"})
	l.add(routed, at(0, 9, 1), &events.Opened{Customer: events.Customer{ID: "a"}, Channel: "phone", Topic: "t", Contact: c})
	l.add(contacted, at(0, 9, 0), &events.Contacted{Contact: l.id(), Channel: "chat"})
	d := l.id()
	l.add(twice, at(0, 9, 0), &events.Opened{Customer: events.Customer{ID: "b"}, Channel: "phone", Topic: "t", Contact: d})
	l.add(twice, at(0, 9, 5), &events.Resolved{Contact: d, Agent: "ann"})
	l.add(twice, at(0, 9, 9), &events.Opened{Customer: events.Customer{ID: "b"}, Channel: "phone", Topic: "t", Contact: l.id()})
	r, err := NewReporter(ReportConfig{})
	require.NoError(t, err)
	vol, err := NewVolume(VolumeConfig{})
	require.NoError(t, err)
	for _, e := range l.evs {
		require.NoError(t, r.Apply(e))
		require.NoError(t, vol.Apply(e))
	}
	at30 := at(30, 0, 0)
	require.NoError(t, r.AdvanceTo(at30))
	require.NoError(t, vol.AdvanceTo(at30))
	for _, v := range []VolumeReport{r.Report().Volume, vol.Report()} {
		assert.Zero(t, v.Backlog.Open)
		assert.Zero(t, v.TrackedIssues)
		assert.Equal(t, int64(1), v.Issues, "the one issue that opened")
	}
}

// A second issue.opened of a live issue is ignored whatever its Go type,
// as the KPI projections pass it over.
func TestFCRIgnoresASecondOpeningOfAnyGoType(t *testing.T) {
	for _, data := range []events.Data{
		&events.Opened{Customer: events.Customer{ID: "c-x"}, Channel: "chat", Topic: "billing", Contact: uuid.New()},
		&events.Opaque{Type: events.TypeOpened},
	} {
		l := newFCRLog()
		issue, c := l.open(at(0, 9, 0), []string{"email:anna@example.com"}, "chat", "billing")
		l.add(issue, at(0, 9, 5), data)
		l.resolve(issue, at(0, 9, 10), c, "ann", false)
		f := mustFCR(FCRConfig{})
		for _, e := range l.evs {
			require.NoError(t, f.Apply(e))
		}
		assert.Equal(t, int64(1), f.Report().IgnoredEvents, "%T", data)
	}
}
