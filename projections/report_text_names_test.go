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
