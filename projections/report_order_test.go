package projections

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/internal/simulate"
)

// blockShuffle returns evs, which are in time order, with each run of n
// consecutive events shuffled, and about dupShare of them delivered once
// more, up to 12 hours of event time later: delivery out of order by
// minutes, redeliveries by hours, never later than the default lateness of
// a day.
func blockShuffle(evs []events.Envelope, n int, dupShare float64, seed uint64) []events.Envelope {
	const redeliveredWithin = 12 * time.Hour
	rng := rand.New(rand.NewPCG(seed, 0xb10c))
	type arrival struct {
		key int
		e   events.Envelope
	}
	as := make([]arrival, 0, len(evs)+int(float64(len(evs))*dupShare)+n)
	for lo := 0; lo < len(evs); lo += n {
		block := evs[lo:min(lo+n, len(evs))]
		for i, p := range rng.Perm(len(block)) {
			as = append(as, arrival{lo + i, block[p]})
			if rng.Float64() < dupShare {
				at := block[p].At.Add(time.Duration(rng.Int64N(int64(redeliveredWithin))))
				key, _ := slices.BinarySearchFunc(evs, at, func(e events.Envelope, t time.Time) int { return e.At.Compare(t) })
				as = append(as, arrival{max(key, lo+i), block[p]})
			}
		}
	}
	slices.SortStableFunc(as, func(a, b arrival) int { return a.key - b.key })
	out := make([]events.Envelope, len(as))
	for i, a := range as {
		out[i] = a.e
	}
	return out
}

// runReport applies evs to a Reporter of cfg and returns its report, with
// the FCR's held and orphaned events left out: like late events, they
// count deliveries, not events (an event of a folded issue is held, and a
// redelivery of it after it was dropped is held again, where the same
// event of an issue still in memory is counted once), so they depend on
// delivery. Every figure does not.
func runReport(t *testing.T, cfg ReportConfig, evs []events.Envelope) (Report, *Reporter) {
	t.Helper()
	r, err := NewReporter(cfg)
	require.NoError(t, err)
	for _, e := range evs {
		require.NoError(t, r.Apply(e))
	}
	rep := r.Report()
	rep.FCR.OrphanedEvents, rep.FCR.HeldEvents = 0, 0
	return rep, r
}

// The whole report is a function of the set of events also when memory is
// bounded: months of a simulated contact centre, with the default window
// and lateness (so that problems fold and KPI state is freed as the log
// goes), give the same report in log order and shuffled within runs of
// events with duplicates. Folding and freeing then happen at other
// moments relative to each event; what an event does must depend on event
// times only. This is what catches a late reopen or survey, or an
// identity link, that acts on a problem still in memory and would not on
// the same problem folded.
func TestReportDependsOnTheSetOfEventsAtScale(t *testing.T) {
	t.Parallel() // long, and of its own state only
	log, truth := foldingLog(t)
	require.Positive(t, truth.TwoKey, "customers known by two keys link identities")
	want, r := runReport(t, ReportConfig{}, log)
	require.Positive(t, want.FCR.Final)
	require.Positive(t, r.FCR().Report().OrphanedEvents, "events after their issue settled")
	assert.Less(t, r.FCR().Live(), int(want.FCR.Issues)/2, "problems were folded")
	assert.Zero(t, want.FCR.LateEvents)
	for seed := range uint64(2) {
		got, _ := runReport(t, ReportConfig{}, blockShuffle(log, 256, 0.05, seed))
		assert.Zero(t, got.FCR.LateEvents)
		got.Events = want.Events // a redelivery of an issue the FCR folded counts again
		assert.Equal(t, want, got, "shuffle seed %d", seed)
	}
}

// foldingLog returns a simulated log long enough for the FCR to fold
// problems and the KPI horizon to free state many times over.
func foldingLog(t *testing.T) ([]events.Envelope, simulate.Truth) {
	t.Helper()
	log, truth, err := simulate.Collect(simulate.Config{Seed: 1, Days: 45, Customers: 3000, IssuesPerDay: 500})
	require.NoError(t, err)
	return log, truth
}

// When the FCR folds makes no difference: the same log in the same order,
// with a sweep forced every few events, gives the report of the sweeps
// that the FCR schedules itself.
// The short windows and latenesses fold problems while their customers'
// later issues can still be reclassified.
func TestFCRFoldingMomentsDoNotMatter(t *testing.T) {
	t.Parallel() // long, and of its own state only
	log, _ := foldingLog(t)
	for _, tt := range []struct {
		cfg   FCRConfig
		every []int
	}{
		{FCRConfig{}, []int{7, 50, 333}},
		{FCRConfig{Window: 72 * time.Hour, Lateness: time.Hour, Match: MatchRoot}, []int{50, 333}},
		{FCRConfig{Window: 24 * time.Hour, Lateness: time.Minute}, []int{50, 333}},
	} {
		run := func(every int) FCRReport {
			f := mustFCR(tt.cfg)
			for i, e := range log {
				require.NoError(t, f.Apply(e))
				if every > 0 && i%every == 0 {
					f.sweep()
				}
			}
			r := f.Report()
			r.OrphanedEvents, r.HeldEvents = r.OrphanedEvents+r.HeldEvents, 0
			return r
		}
		want := run(0)
		for _, every := range tt.every {
			assert.Equal(t, want, run(every), "window %s: a sweep every %d events", tt.cfg.Window, every)
		}
	}
}
