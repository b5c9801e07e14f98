package projections

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Intervals as published for these counts, and the bounds of the counts.
func TestWilson(t *testing.T) {
	cases := []struct {
		hits, total int64
		lo, hi      float64
	}{
		{0, 0, 0, 1},
		{0, 10, 0, 0.2775328},
		{10, 10, 0.7224672, 1},
		{5, 10, 0.2365931, 0.7634069},
	}
	for _, c := range cases {
		lo, hi := Wilson(c.hits, c.total)
		assert.InDelta(t, c.lo, lo, 1e-6, "%d/%d", c.hits, c.total)
		assert.InDelta(t, c.hi, hi, 1e-6, "%d/%d", c.hits, c.total)
	}
}

// Every interval holds its own rate, exactly 1 or 0 at the edges, where
// rounding made 14 of 14 a rate of 1 outside [0.78, 0.9999999999999999].
func TestWilsonHoldsItsRate(t *testing.T) {
	for total := int64(1); total <= 3000; total++ {
		for _, hits := range []int64{0, 1, total / 2, total - 1, total} {
			r := NewRate(hits, total)
			if r.CI95[0] > r.Value || r.CI95[1] < r.Value {
				t.Fatalf("%d/%d: rate %v outside its interval %v", hits, total, r.Value, r.CI95)
			}
		}
		_, hi := Wilson(total, total)
		lo, _ := Wilson(0, total)
		if hi != 1 || lo != 0 {
			t.Fatalf("of %d: all hits reach up to %v, none down to %v; want 1 and 0", total, hi, lo)
		}
	}
}

// Counts that no projection gives still make a rate that JSON can carry,
// its interval that of the nearest possible count.
func TestNewRateOfImpossibleCounts(t *testing.T) {
	for _, c := range []struct{ hits, total, like int64 }{{6, 5, 5}, {-1, 5, 0}, {math.MaxInt64, 1, 1}, {math.MinInt64, 3, 0}} {
		r := NewRate(c.hits, c.total)
		assert.Equal(t, NewRate(c.like, c.total).CI95, r.CI95, "%d/%d", c.hits, c.total)
		_, err := json.Marshal(r)
		require.NoError(t, err, "%d/%d", c.hits, c.total)
	}
}
