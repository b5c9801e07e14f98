package text

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestShown(t *testing.T) {
	for name, want := range map[string]string{
		"billing":             "billing",
		"billing/refund":      "billing/refund",
		"Ägypten café":        "Ägypten café",
		"billing\tdisputed":   `"billing\tdisputed"`,
		"orders\nreturns":     `"orders\nreturns"`,
		"billing\u202e":       `"billing\u202e"`,
		"orders\u2028returns": `"orders\u2028returns"`,
		"a\u2066b":            `"a\u2066b"`,
		"a\xffb":              `"a\xffb"`,
		`"a\tb"`:              `"\"a\\tb\""`,
		"billing ":            `"billing "`,
		" billing":            `" billing"`,
		"\ufeffbilling":       `"\ufeffbilling"`,
		"billing\u200b":       `"billing\u200b"`,
		"bill\u200cing":       `"bill\u200cing"`,
		"billing refund":      "billing refund",
		"billing\u3164":       `"billing\u3164"`,
	} {
		assert.Equal(t, want, Shown(name), "%+q", name)
	}
	assert.NotEqual(t, Shown("a\tb"), Shown(`"a\tb"`), "no two names show alike")
	for _, pair := range [][2]string{
		{"billing refund", "billing\u00a0refund"},
		{"billing", "billing\u2063"},
		{"billing", "bill\u00ading"},
		{"billing", "billing\u180e"},
		{"billing", "billing\u3164"},
		{"billing\u3164", "billing\u3164\u3164"},
		{"billing\u3164", "billing\u115f"},
	} {
		assert.NotEqual(t, Shown(pair[0]), Shown(pair[1]), "%+q and %+q show alike", pair[0], pair[1])
		assert.NotEqual(t, pair[1], Shown(pair[1]), "%+q is quoted", pair[1])
	}
	for _, r := range "\u00ad\u2063\u180e\u3164\ufeff\u200b" {
		assert.True(t, Blank(r), "%+q", r)
	}
}

// Quoted escapes what shows as nothing, and nothing else that Quote
// leaves as it is.
func TestQuoted(t *testing.T) {
	for in, want := range map[string]string{
		"tilaus-ä41":    `"tilaus-ä41"`,
		"\u3164crm:8":   `"\u3164crm:8"`,
		"\ufeffk\u200b": `"\ufeffk\u200b"`,
		"a b\t":         `"a b\t"`,
		"\u115fk\u1160": `"\u115fk\u1160"`,
		"plain":         `"plain"`,
	} {
		if got := Quoted(in); got != want {
			t.Errorf("Quoted(%+q) = %s, want %s", in, got, want)
		}
	}
}
