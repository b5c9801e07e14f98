package projections_test

import (
	"context"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/internal/simulate"
	"github.com/truefcr/truefcr/projections"
)

// BenchmarkRunnerCatchUp measures Rebuild: a runner reading a memory store
// into an FCR from the start and checkpointing at the end, the cost of a
// cold start per event.
func BenchmarkRunnerCatchUp(b *testing.B) {
	log, _, err := simulate.Collect(simulate.Config{Seed: 5, Days: 7, Events: b.N + b.N/4 + 100})
	require.NoError(b, err)
	require.GreaterOrEqual(b, len(log), b.N)
	ctx := context.Background()
	store := events.NewMemoryStore()
	for _, e := range log[:b.N] {
		_, err := store.Append(ctx, e.Issue, e.Version-1, []events.Envelope{e})
		require.NoError(b, err)
	}
	runner, err := projections.NewRunner(projections.RunnerConfig{Name: "fcr", Store: store,
		Projection: mustFCR(projections.FCRConfig{Window: 24 * time.Hour}), Logger: watermill.NopLogger{}})
	require.NoError(b, err)
	b.ReportAllocs()
	b.ResetTimer()
	require.NoError(b, runner.Rebuild(ctx))
	b.StopTimer()
	require.Equal(b, int64(b.N), runner.Stats().Applied)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
