package projections

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/internal/simulate"
)

// On the simulator's contact centre, too, the report does not depend on
// delivery order or duplicates, and its counts agree with what the
// simulator generated.
func TestFCROnSimulatedLog(t *testing.T) {
	log, truth, err := simulate.Collect(simulate.Config{Seed: 5, Days: 21, Customers: 800, IssuesPerDay: 120})
	require.NoError(t, err)
	cfg := FCRConfig{Lateness: farLateness}
	want := runFCR(t, cfg, log)
	checkFCRCounts(t, want)
	t.Logf("issues %d problems %d; generated fresh %d repeats %d containment failures %d two-key customers %d",
		want.Issues, want.Problems, truth.Fresh, truth.Repeats, truth.ContainmentFailures, truth.TwoKey)
	assert.Equal(t, int64(truth.Issues), want.Issues)
	assert.Less(t, want.Problems, want.Issues, "repeat contacts are chained into problems")
	assert.Positive(t, want.Failed)
	assert.Positive(t, want.Achieved)
	assert.Greater(t, want.Reported.Rate, want.True.Rate, "per-ticket FCR overstates")
	ref := referenceFCR(log, DefaultFCRWindow, MatchTopic)
	assert.Equal(t, [5]int64{ref.achieved, ref.failed, ref.pending, ref.unresolved, ref.noContact},
		[5]int64{want.Achieved, want.Failed, want.Pending, want.Unresolved, want.NoContact}, "achieved, failed, pending, unresolved, no contact")
	assert.Equal(t, [2]int64{ref.repHits, ref.repTotal}, [2]int64{want.Reported.Achieved, want.Reported.Total})
	assert.Equal(t, ref.switches, want.ChannelSwitch)
	for seed := range uint64(2) {
		assert.Equal(t, want, runFCR(t, cfg, scramble(log, seed, 0.2)), "shuffle seed %d", seed)
	}
}

// BenchmarkFCRSimulated measures events per second on a simulated month
// of a contact centre, delivered in event-time order.
func BenchmarkFCRSimulated(b *testing.B) {
	log, _, err := simulate.Collect(simulate.Config{Seed: 1, Days: 30, Customers: 20000, IssuesPerDay: 3000})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var f *FCR
	for b.Loop() {
		f = mustFCR(FCRConfig{})
		for _, e := range log {
			if err := f.Apply(e); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(f.Live()), "live-issues")
	b.ReportMetric(float64(f.Report().Unresolved), "unresolved")
	b.ReportMetric(float64(len(log))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(len(log)), "events")
}
