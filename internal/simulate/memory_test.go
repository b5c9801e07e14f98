package simulate_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/internal/simulate"
)

// liveHeapNearTheEnd runs cfg and returns the live heap half a day before
// the end of its log, while the run holds its issues in flight.
func liveHeapNearTheEnd(t testing.TB, cfg simulate.Config) (uint64, int) {
	g, err := simulate.New(cfg)
	require.NoError(t, err)
	mark := g.End().Add(-12 * time.Hour)
	var heap uint64
	n := 0
	for e := range g.Events() {
		n++
		if heap == 0 && !e.At.Before(mark) {
			var ms runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&ms)
			heap = ms.HeapAlloc
		}
	}
	require.NotZero(t, heap)
	return heap, n
}

func TestMemoryDoesNotGrowWithDays(t *testing.T) {
	// Repeats come back up to three weeks later: both runs are past that and end on the same weekday.
	cfg := simulate.Config{Seed: 21, Customers: 20_000, IssuesPerDay: 1_000}
	cfg.Days = 28
	short, nShort := liveHeapNearTheEnd(t, cfg)
	cfg.Days = 84
	long, nLong := liveHeapNearTheEnd(t, cfg)
	require.Greater(t, nLong, 2*nShort)
	t.Logf("live heap %d KiB after %d events, %d KiB after %d events", short>>10, nShort, long>>10, nLong)
	assert.Less(t, float64(long), 1.2*float64(short)+128<<10, "a three times longer log holds about the same memory")
}

// BenchmarkEvents streams a day of a large contact centre (the shape of
// the 90-day benchmark log: 300,000 customers, 22,000 new problems a day)
// per iteration.
func BenchmarkEvents(b *testing.B) {
	g, err := simulate.New(simulate.Config{Seed: 1, Days: 1, Customers: 300_000, IssuesPerDay: 22_000})
	require.NoError(b, err)
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	n := 0
	for b.Loop() {
		for range g.Events() {
			n++
		}
	}
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(n), "allocs/event")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(n), "B/event")
}
