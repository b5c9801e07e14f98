package projections

import "math"

// MinReliable is the smallest denominator at which a Rate is not flagged as
// a small sample, unless a projection's MinSample says otherwise: below it
// the 95 % interval is too wide to act on.
const MinReliable = 30

// Rate is a share with its counts and its 95 % Wilson score interval.
type Rate struct {
	// Hits is the numerator, Total the denominator.
	Hits  int64 `json:"hits"`
	Total int64 `json:"total"`
	// Value is Hits/Total, 0 when Total is 0.
	Value float64 `json:"rate"`
	// CI95 is the 95 % Wilson score interval; [0, 1] when Total is 0.
	CI95 [2]float64 `json:"ci95"`
	// Small flags a denominator below MinReliable (NewRate), or below the
	// MinSample of the projection that reports it.
	Small bool `json:"small_sample"`
}

// z95 is the standard normal quantile for a two-sided 95 % interval.
const z95 = 1.959963984540054

// NewRate returns the rate hits/total with its Wilson interval.
func NewRate(hits, total int64) Rate {
	r := Rate{Hits: hits, Total: total, Small: total < MinReliable}
	lo, hi := Wilson(hits, total)
	r.CI95 = [2]float64{lo, hi}
	if total > 0 {
		r.Value = float64(hits) / float64(total)
	}
	return r
}

// Wilson returns the 95 % Wilson score interval of hits successes out of
// total trials; [0, 1] when total is 0. Hits below 0 or above total, which
// no count of this package gives, are taken as 0 or total, so that the
// interval is always a pair of numbers (JSON has no NaN).
func Wilson(hits, total int64) (lo, hi float64) {
	if total <= 0 {
		return 0, 1
	}
	n := float64(total)
	p := float64(min(max(hits, 0), total)) / n
	z2 := z95 * z95
	den := 1 + z2/n
	centre := (p + z2/(2*n)) / den
	half := z95 * math.Sqrt(p*(1-p)/n+z2/(4*n*n)) / den
	lo, hi = math.Max(0, centre-half), math.Min(1, centre+half)
	// At the edges the bound is the rate itself, which the arithmetic
	// above misses by a rounding (0.9999999999999999 for 14 of 14).
	switch p {
	case 0:
		lo = 0
	case 1:
		hi = 1
	}
	return lo, hi
}
