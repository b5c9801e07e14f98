package projections

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A name that holds a tab or a line break (the write side refuses them,
// an imported log may not) is quoted in the text tables, where its tab
// moved the segment's figures a column to the right.
func TestTextQuotesNamesThatWouldBreakItsTables(t *testing.T) {
	l := newFCRLog()
	l.solved(at(0, 9, 0), []string{"phone:+358401234567"}, "phone", "billing\tdisputed", "agent-1")
	i2, c2 := l.open(at(0, 10, 0), []string{"phone:+358401234568"}, "phone", "orders\nreturns")
	l.resolve(i2, at(0, 10, 10), c2, "agent-1", false)
	l.reopen(i2, at(1, 10, 0), "chat")
	r, err := NewReporter(ReportConfig{MaxFuture: -1})
	require.NoError(t, err)
	for _, e := range l.evs {
		require.NoError(t, r.Apply(e))
	}
	require.NoError(t, r.AdvanceTo(at(30, 0, 0)))
	var b strings.Builder
	require.NoError(t, r.Report().WriteText(&b))
	var header, billing string
	for _, line := range strings.Split(b.String(), "\n") {
		if strings.Contains(line, "by topic") {
			header = line
		}
		if header != "" && billing == "" && strings.Contains(line, "billing") {
			billing = line
		}
		assert.False(t, strings.HasPrefix(line, "returns"), "a line break in a name starts no line: %q", line)
	}
	require.NotEmpty(t, billing)
	assert.Contains(t, billing, `"billing\tdisputed"`)
	col := strings.Index(header, "true")
	require.Positive(t, col)
	assert.True(t, strings.HasPrefix(billing[col:], "100.0 %"), "the topic's true FCR is under 'true':\n%s\n%s", header, billing)
	assert.Contains(t, b.String(), `"orders\nreturns"`)
}

// The text states the FCR's whole definition, as the JSON does, and shows
// the inflation as the difference of the two rates it shows: 66.7 − 33.3
// is 33.4, where the inflation, 1/3, rounds to 33.3.
func TestTextStatesTheDefinitionAndAnInflationThatAddsUp(t *testing.T) {
	third := FCRRate{Achieved: 1, Total: 3, Rate: 1.0 / 3}
	twoThirds := FCRRate{Achieved: 2, Total: 3, Rate: 2.0 / 3}
	f := mustFCR(FCRConfig{}).Report()
	f.True, f.Reported, f.Inflation = third, twoThirds, 1.0/3
	f.ByChannel = map[string]FCRSegment{"chat": {True: third, Reported: twoThirds, Inflation: 1.0 / 3}}
	rep := Report{FCR: f}
	rep.Definition.FCRDefinition = f.Definition
	var b strings.Builder
	require.NoError(t, rep.WriteText(&b))
	out := b.String()
	for _, s := range []string{f.Definition.MatchRule, f.Definition.Denominator, f.Definition.Reported, f.Definition.Settled, f.Definition.Identity} {
		assert.Contains(t, out, s)
	}
	assert.Regexp(t, `\n  inflation +\+33\.4 points *\n`, out)
	assert.Regexp(t, `\n  chat +33\.3 % \[[^]]*\] 1/3 +66\.7 % \[[^]]*\] 2/3 +\+33\.4 *\n`, out)

	// An inflation is marked as the rates it is the difference of are.
	rep.FCR.True.Small = true
	rep.FCR.ByChannel = map[string]FCRSegment{"chat": {True: third, Reported: FCRRate{Achieved: 2, Total: 3, Rate: 2.0 / 3, Small: true}}}
	b.Reset()
	require.NoError(t, rep.WriteText(&b))
	out = b.String()
	assert.Regexp(t, `\n  inflation +\+33\.4 points\* *\n`, out)
	assert.Regexp(t, `\n  chat +33\.3 % \[[^]]*\] 1/3 +66\.7 %\* \[[^]]*\] 2/3 +\+33\.4\* *\n`, out)
}
