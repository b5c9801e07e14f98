package headline

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/truefcr/truefcr/projections"
)

// Before any problem is final the rates are dashes, not 0 %; after, they
// are percentages with their counts.
func TestWriteRatesOnlyWhatIsFinal(t *testing.T) {
	var b strings.Builder
	Write(&b, projections.FCRReport{})
	out := b.String()
	assert.NotContains(t, out, "0.0 %")
	assert.Contains(t, out, "true FCR            – (no final problem yet)")
	assert.Contains(t, out, "inflation           –")
	assert.Contains(t, out, "bot containment     – (no final problem resolved by a bot)")

	b.Reset()
	Write(&b, projections.FCRReport{
		True:      projections.FCRRate{Achieved: 3, Total: 5, Rate: 0.6, CI95: [2]float64{0.2, 0.9}},
		Reported:  projections.FCRRate{Achieved: 5, Total: 6, Rate: 5.0 / 6, CI95: [2]float64{0.4, 1}},
		Inflation: 5.0/6 - 0.6,
	})
	out = b.String()
	assert.Contains(t, out, "true FCR         60.0 % (3/5, 95 % CI 20.0–90.0 %)")
	assert.Contains(t, out, "inflation       +23.3 points")
	assert.Contains(t, out, "bot containment     – (no final problem resolved by a bot)")
}

// A rate of fewer problems than the report's MinSample says so, as the
// report's text format flags it.
func TestWriteFlagsSmallSamples(t *testing.T) {
	small := projections.FCRRate{Achieved: 2, Total: 2, Rate: 1, CI95: [2]float64{0.342, 1}, Small: true}
	big := projections.FCRRate{Achieved: 700, Total: 1000, Rate: 0.7, CI95: [2]float64{0.67, 0.73}}
	var b strings.Builder
	r := projections.FCRReport{True: big, Reported: big,
		ByChannel: map[string]projections.FCRSegment{"social": {True: small}, "phone": {True: big}}}
	r.Definition.MinSample = 30
	Write(&b, r)
	out := b.String()
	assert.Contains(t, out, "first channel social true 100.0 % (2/2, 95 % CI 34.2–100.0 %; small sample, under 30)")
	assert.Contains(t, out, "first channel phone  true  70.0 % (700/1000, 95 % CI 67.0–73.0 %)\n")
	assert.Contains(t, out, "inflation       +0.0 points\n")

	// An inflation is no surer than the rates it is the difference of.
	b.Reset()
	r.Reported = small
	Write(&b, r)
	assert.Contains(t, b.String(), "inflation       +30.0 points (of a small sample, under 30)\n")
}

// A topic with a line break starts no line of its own.
func TestWriteQuotesNamesThatWouldBreakALine(t *testing.T) {
	var b strings.Builder
	Write(&b, projections.FCRReport{RepeatTopics: []projections.FCRRepeatTopic{{Topic: "orders\nreturns", Repeats: 3, Share: 1}}})
	assert.Contains(t, b.String(), `repeat driver 1: "orders\nreturns" (3 repeat contacts, 100 %)`)
}
