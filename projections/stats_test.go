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
