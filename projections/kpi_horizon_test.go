package projections

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
)

// kpiStandalone is the three KPI projections fed one by one, to hold the
// Reporter's shared horizon against.
type kpiStandalone struct {
	svc *ServiceLevel
	sat *Satisfaction
	vol *Volume
}

// newKPIStandalone returns the projections with the configs of r's.
func newKPIStandalone(t testing.TB, r *Reporter) kpiStandalone {
	t.Helper()
	svc, err := NewServiceLevel(r.service.cfg)
	require.NoError(t, err)
	sat, err := NewSatisfaction(r.sat.cfg)
	require.NoError(t, err)
	vol, err := NewVolume(r.volume.cfg)
	require.NoError(t, err)
	return kpiStandalone{svc, sat, vol}
}

func (k kpiStandalone) apply(t testing.TB, e events.Envelope) {
	t.Helper()
	for _, p := range []Projection{k.svc, k.sat, k.vol} {
		require.NoError(t, p.Apply(e))
	}
}

func (k kpiStandalone) advanceTo(t testing.TB, at time.Time) {
	t.Helper()
	require.NoError(t, k.svc.AdvanceTo(at))
	require.NoError(t, k.sat.AdvanceTo(at))
	require.NoError(t, k.vol.AdvanceTo(at))
}

// assertSameKPI checks that the Reporter's sections are the standalone
// projections' reports, horizon counts included.
func assertSameKPI(t *testing.T, k kpiStandalone, rep Report, msg string) {
	t.Helper()
	assert.Equal(t, k.svc.Report(), rep.Service, "service, %s", msg)
	assert.Equal(t, k.sat.Report(), rep.Satisfaction, "satisfaction, %s", msg)
	assert.Equal(t, k.vol.Report(), rep.Volume, "volume, %s", msg)
}

// kpiRoughDelivery delivers evs late by up to twice the lateness, some
// twice, one in fifty never, and then redelivers a tenth of them at the
// end: events are held, gaps are skipped, issues leave and come back, and
// late events are counted.
func kpiRoughDelivery(seed uint64, evs []events.Envelope, lateness time.Duration) []events.Envelope {
	rng := rand.New(rand.NewPCG(seed, 5))
	type arrival struct {
		at time.Time
		e  events.Envelope
	}
	var as []arrival
	for _, e := range evs {
		if rng.IntN(50) == 0 {
			continue
		}
		for range 1 + rng.IntN(2) {
			as = append(as, arrival{e.At.Add(time.Duration(rng.Int64N(int64(2 * lateness)))), e})
		}
	}
	slices.SortStableFunc(as, func(a, b arrival) int { return a.at.Compare(b.at) })
	out := make([]events.Envelope, 0, len(as)+len(evs)/10)
	for _, a := range as {
		out = append(out, a.e)
	}
	for range len(evs) / 10 {
		out = append(out, evs[rng.IntN(len(evs))])
	}
	return out
}

func TestReporterSharedHorizonMatchesEachProjection(t *testing.T) {
	const lateness = time.Hour
	evs := kpiGenerate(11, 600, 4*time.Minute)
	cases := []struct {
		name string
		cfg  ReportConfig
		log  []events.Envelope
	}{
		{"in order, default lateness", ReportConfig{}, evs},
		{"rough delivery, short lateness", ReportConfig{Lateness: lateness}, kpiRoughDelivery(1, evs, lateness)},
		{"rough delivery, another seed", ReportConfig{Lateness: lateness}, kpiRoughDelivery(2, evs, lateness)},
		{"rough delivery with value tags", ReportConfig{Lateness: lateness,
			Volume: VolumeConfig{Values: map[string]Value{"billing": ValueNeither, "tech": ValueBoth}}}, kpiRoughDelivery(3, evs, lateness)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := NewReporter(c.cfg)
			require.NoError(t, err)
			require.NotNil(t, r.kpi, "the three projections have the same lateness")
			own := newKPIStandalone(t, r)
			var late int64
			maxHeld, minTracked := 0, len(evs)
			for i, e := range c.log {
				require.NoError(t, r.Apply(e))
				own.apply(t, e)
				if i%97 == 0 || i == len(c.log)-1 {
					rep := r.Report()
					assertSameKPI(t, own, rep, fmt.Sprintf("after event %d", i))
					maxHeld = max(maxHeld, rep.Service.HeldEvents)
					minTracked = min(minTracked, rep.Service.TrackedIssues)
					late = rep.Service.LateEvents
				}
			}
			if c.cfg.Lateness == lateness {
				// The delivery exercised what the horizon is for.
				assert.Positive(t, late, "late events")
				assert.Positive(t, maxHeld, "held events")
			}
			end := evs[len(evs)-1].At.Add(72 * time.Hour) // past every closed issue by twice the lateness
			require.NoError(t, r.AdvanceTo(end))
			own.advanceTo(t, end)
			rep := r.Report()
			assertSameKPI(t, own, rep, "after AdvanceTo")
			assert.Equal(t, int(rep.Volume.Backlog.Open), rep.Volume.TrackedIssues, "only open issues stay")
		})
	}
}

func TestReporterWithDifferentLatenessesKeepsAHorizonEach(t *testing.T) {
	cfg := ReportConfig{Service: ServiceConfig{Lateness: time.Hour}, Volume: VolumeConfig{Lateness: 3 * time.Hour}}
	r, err := NewReporter(cfg)
	require.NoError(t, err)
	assert.Nil(t, r.kpi)
	own := newKPIStandalone(t, r)
	for _, e := range kpiRoughDelivery(4, kpiGenerate(12, 300, 4*time.Minute), time.Hour) {
		require.NoError(t, r.Apply(e))
		own.apply(t, e)
	}
	rep := r.Report()
	assertSameKPI(t, own, rep, "at the end")
	assert.NotEqual(t, rep.Service.TrackedIssues, rep.Volume.TrackedIssues, "each section has its own horizon")
}

// TestKPIHorizonReusesTheSlotsOfIssuesThatLeft: a long log in order with a
// short lateness needs only the slots of the issues in the horizon, and a
// reused slot starts from an empty state.
func TestKPIHorizonReusesTheSlotsOfIssuesThatLeft(t *testing.T) {
	evs := kpiGenerate(13, 3000, time.Minute)
	svc, err := NewServiceLevel(ServiceConfig{Lateness: time.Hour})
	require.NoError(t, err)
	all, err := NewServiceLevel(ServiceConfig{Lateness: 365 * 24 * time.Hour})
	require.NoError(t, err)
	peak := 0
	for _, e := range evs {
		require.NoError(t, svc.Apply(e))
		peak = max(peak, svc.Report().TrackedIssues)
	}
	applyAll(t, all, evs)
	// An event may take a slot before the sweep that follows it frees one.
	assert.LessOrEqual(t, int(svc.h.seq.slots), peak+1, "slots")
	assert.Less(t, peak, 1000, "issues open at the end and the last hour's")
	assert.Equal(t, 3000, int(all.h.seq.slots), "one slot an issue when none leaves")
	want, got := all.Report(), svc.Report()
	assert.Equal(t, want.ServiceFigures, got.ServiceFigures)
	assert.Equal(t, want.ByChannel, got.ByChannel)
	assert.Equal(t, want.ByQueue, got.ByQueue)
}

func TestVolumeDayIsTheUTCDate(t *testing.T) {
	for _, at := range []time.Time{
		time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 3, 2, 23, 59, 59, 999999999, time.UTC),
		time.Date(2026, 3, 2, 1, 0, 0, 0, time.FixedZone("EET", 2*3600)),
		time.Date(1969, 12, 31, 23, 0, 0, 0, time.UTC),
		time.Date(1960, 1, 1, 0, 0, 0, 1, time.UTC),
	} {
		d := volDay(at)
		assert.Equal(t, at.UTC().Format(time.DateOnly), time.Unix(d*86400, 0).UTC().Format(time.DateOnly), "%v", at)
	}
}

// TestKPIEventTimesOutsideUnixNanosecondsAreRefused: the horizon compares
// times as Unix nanoseconds, so Apply refuses what they cannot hold, and
// the Reporter refuses it before any projection sees it.
func TestKPIEventTimesOutsideUnixNanosecondsAreRefused(t *testing.T) {
	svc, sat, vol := defaultKPIs(t)
	r, err := NewReporter(ReportConfig{})
	require.NoError(t, err)
	for _, at := range []time.Time{
		time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC),
		// Within Unix nanoseconds, beyond the years the codecs write,
		// which a snapshot of a held event would need.
		time.Date(1677, 12, 31, 0, 0, 0, 0, time.UTC),
		time.Date(2262, 1, 2, 0, 0, 0, 0, time.UTC),
	} {
		l := newKPILog()
		l.opened(kpiID('i', 1), kpiID('c', 1), 0, "phone", "billing")
		e := l.evs[0]
		e.At = at
		for name, p := range map[string]Projection{"service": svc, "satisfaction": sat, "volume": vol, "reporter": r} {
			err := p.Apply(e)
			require.Error(t, err, "%s at %v", name, at)
			assert.ErrorIs(t, err, events.ErrInvalidEvent, name)
			assert.Contains(t, err.Error(), "out of range", name)
		}
	}
	assert.Zero(t, svc.Report().TrackedIssues)
	rep := r.Report()
	assert.Zero(t, rep.Events)
	assert.Zero(t, rep.Volume.Issues)
	assert.True(t, rep.Volume.Watermark.IsZero())
}

// TestKPIAdvanceToTheFarFuture moves the watermark as far as Unix
// nanoseconds go: every closed issue leaves, open ones stay.
func TestKPIAdvanceToTheFarFuture(t *testing.T) {
	svc, err := NewServiceLevel(ServiceConfig{})
	require.NoError(t, err)
	vol, err := NewVolume(VolumeConfig{})
	require.NoError(t, err)
	evs := kpiGenerate(14, 50, time.Minute)
	applyAll(t, svc, evs)
	applyAll(t, vol, evs)
	require.Positive(t, svc.Report().TrackedIssues)
	far := time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)
	require.NoError(t, svc.AdvanceTo(far))
	require.NoError(t, vol.AdvanceTo(far))
	open := vol.Report().Backlog.Open
	assert.Equal(t, int(open), vol.Report().TrackedIssues, "only open issues stay")
	assert.Equal(t, int(open), svc.Report().TrackedIssues)
	assert.Equal(t, time.Unix(maxUnixNanoSec, 0).UTC(), svc.Report().Watermark)
}

// AdvanceTo beyond the range of Unix nanoseconds (to the end of time, so
// that every verdict is final) moves every projection of a Reporter to the
// end of the range. The FCR took the undefined UnixNano of such a time,
// moved nothing and returned nil, while the KPI projections moved: the
// report's sections disagreed, and no verdict became final.
func TestReporterAdvanceToTheEndOfTime(t *testing.T) {
	evs := kpiGenerate(14, 50, time.Minute)
	for _, far := range []time.Time{time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), time.Date(2262, 4, 12, 0, 0, 0, 0, time.UTC)} {
		r, err := NewReporter(ReportConfig{})
		require.NoError(t, err)
		f := mustFCR(FCRConfig{})
		for _, e := range evs {
			require.NoError(t, r.Apply(e))
			require.NoError(t, f.Apply(e))
		}
		require.Positive(t, r.Report().FCR.Pending, "the log ends with verdicts pending")
		require.NoError(t, r.AdvanceTo(far))
		require.NoError(t, f.AdvanceTo(far))
		end := time.Unix(maxUnixNanoSec, 0).UTC()
		rep := r.Report()
		assert.Equal(t, end, rep.FCR.Watermark, "%s", far)
		assert.Equal(t, end, rep.Service.Watermark)
		assert.Equal(t, end, rep.Volume.Watermark)
		assert.Equal(t, end, f.Watermark())
		assert.Zero(t, rep.FCR.Pending, "every resolved problem is final")
		assert.Equal(t, rep.FCR, f.Report())
		snap, err := r.MarshalBinary()
		require.NoError(t, err, "a snapshot at the end of time")
		again, err := NewReporter(ReportConfig{})
		require.NoError(t, err)
		require.NoError(t, again.UnmarshalBinary(snap))
		assert.Equal(t, rep, again.Report())
	}
	// Before the range, nothing moves.
	f := mustFCR(FCRConfig{})
	require.NoError(t, f.Apply(evs[0]))
	require.NoError(t, f.AdvanceTo(time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC)))
	assert.Equal(t, evs[0].At.UTC(), f.Watermark())
}

// An issue that comes back after it left the horizon resumes at its
// reopening once that is older than the lateness: the versions before it
// are late, as they were applied to the state that left, and the horizon
// keeps no skipped span for them, only its base.
func TestKPIHorizonResumesAReturningIssueWithoutASpan(t *testing.T) {
	l := newKPILog()
	a, ca := kpiID('i', 1), kpiID('c', 1)
	l.handled(a, ca)
	svc, err := NewServiceLevel(ServiceConfig{Lateness: time.Hour})
	require.NoError(t, err)
	applyAll(t, svc, l.evs)
	require.NoError(t, svc.AdvanceTo(kpiT0.Add(5*time.Hour)))
	require.Zero(t, svc.Report().TrackedIssues, "the issue left")

	reopen := l.add(a, 5*time.Hour, &events.Reopened{Contact: kpiID('c', 2), Channel: "chat"})
	require.NoError(t, svc.Apply(reopen))
	require.Equal(t, 1, svc.Report().HeldEvents, "it waits, as after a gap")
	require.NoError(t, svc.AdvanceTo(kpiT0.Add(7*time.Hour)))
	assert.Zero(t, svc.Report().HeldEvents)
	assert.Empty(t, svc.h.seq.skipped)
	assert.Equal(t, uint64(3), svc.h.seq.at(0).base)

	applyAll(t, svc, l.evs)
	rep := svc.Report()
	assert.Equal(t, int64(3), rep.LateEvents, "the versions of the state that left")
}
