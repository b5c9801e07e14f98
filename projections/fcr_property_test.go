package projections

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// farLateness is longer than any generated log, so that no event is late.
const farLateness = 100 * 365 * 24 * time.Hour

// checkFCRCounts checks the identities between a report's counts.
func checkFCRCounts(t *testing.T, r FCRReport) {
	t.Helper()
	assert.Equal(t, r.Final, r.Achieved+r.Failed+r.NoContact, "final = achieved + failed + no_contact")
	assert.Equal(t, r.Problems, r.Final+r.Pending+r.Unresolved, "problems = final + pending + unresolved")
	assert.Equal(t, r.Achieved, r.True.Achieved)
	assert.Equal(t, r.Achieved+r.Failed, r.True.Total)
	c := r.ContactsPerProblem
	assert.Equal(t, r.Achieved+r.Failed, c.One+c.Two+c.Three+c.FourPlus)
	var byChannel int64
	for _, s := range r.ByChannel {
		byChannel += s.True.Total
	}
	assert.Equal(t, r.True.Total, byChannel, "every final problem has one first channel")
}

// The report is a function of the set of events: shuffled logs with
// duplicate deliveries give the report of the log in order.
func TestFCROrderAndDuplicateIndependence(t *testing.T) {
	for _, match := range []TopicMatch{MatchTopic, MatchRoot, MatchAny} {
		t.Run(match.String(), func(t *testing.T) {
			g := fcrGen{Seed: 7 + uint64(match), Customers: 300, Issues: 1200, Span: 60 * 24 * time.Hour, LooseKeys: true}
			evs := g.log()
			cfg := FCRConfig{Match: match, Lateness: farLateness}
			want := runFCR(t, cfg, evs)
			require.Positive(t, want.Achieved)
			require.Positive(t, want.Failed)
			require.Positive(t, want.Pending)
			require.Positive(t, want.Unresolved)
			require.Zero(t, want.HeldEvents)
			checkFCRCounts(t, want)
			for seed := range uint64(4) {
				got := runFCR(t, cfg, scramble(evs, seed, 0.3))
				assert.Equal(t, want, got, "shuffle seed %d", seed)
			}
		})
	}
}

// Folding problems that nothing may change any more frees memory and does
// not change the report of a log delivered within the lateness.
func TestFCRFoldingKeepsTheReport(t *testing.T) {
	// Issues left open keep their problems live (a later issue may still
	// join them), so few are left open here.
	g := fcrGen{Seed: 3, Customers: 4000, Issues: 20000, Span: 360 * 24 * time.Hour, Open: 0.01}
	evs := jitter(g.log(), 5, 2*time.Hour)

	// The log runs into 2027: it is stamped ahead of the clock on purpose.
	whole := mustFCR(FCRConfig{Lateness: farLateness, MaxFuture: -1})
	folding := mustFCR(FCRConfig{MaxFuture: -1})
	maxLive := 0
	for _, e := range evs {
		require.NoError(t, whole.Apply(e))
		require.NoError(t, folding.Apply(e))
		maxLive = max(maxLive, folding.Live())
	}
	want, got := whole.Report(), folding.Report()
	require.Positive(t, got.Achieved)
	assert.Zero(t, got.LateEvents)
	assert.Zero(t, got.OrphanedEvents)
	want.Definition, got.Definition = FCRDefinition{}, FCRDefinition{}
	assert.Equal(t, want, got)
	checkFCRCounts(t, got)

	// A year of issues. Live at any moment: the open ones, and those of
	// about a month (window, lateness, an issue's own days and the events
	// between two sweeps).
	assert.Equal(t, g.Issues, whole.Live())
	bound := int(got.Unresolved) + g.Issues*30/360
	assert.Less(t, maxLive, bound, "live issues follow the active horizon")
	assert.Less(t, folding.Live(), bound)
}

// A report that sequences once for several projections drives the FCR
// through observe, applyOrdered and maybeSweep, and gets what Apply gives.
func TestFCRSequencedByTheCaller(t *testing.T) {
	g := fcrGen{Seed: 17, Customers: 500, Issues: 4000, Span: 120 * 24 * time.Hour, LooseKeys: true, Open: 0.02}
	evs := jitter(scramble(g.log(), 3, 0.2), 4, 6*time.Hour)
	cfg := FCRConfig{Lateness: 2 * 24 * time.Hour}

	want := runFCR(t, cfg, evs)
	f := mustFCR(cfg)
	seq := NewSequencer()
	for _, e := range evs {
		if !f.observe(e) {
			continue
		}
		_, err := seq.Offer(e, f.applyOrdered)
		require.NoError(t, err)
		f.maybeSweep()
	}
	got := f.Report()
	require.Positive(t, got.Final)
	assert.Equal(t, want, got)
}
