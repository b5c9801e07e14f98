// Package text holds the one rule of what text may be shown as it is,
// which the write side enforces on the names it records and the reports
// apply to the names they show.
package text

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Unprintable reports whether r is a control character, a line or
// paragraph separator, or a control of the direction of text: a mark, an
// embedding, an override or an isolate. Shown as it is, each would break
// a line or a table, or turn what follows it around.
func Unprintable(r rune) bool {
	return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || r == '\u200e' || r == '\u200f' || r == '\u061c' ||
		r >= '\u202a' && r <= '\u202e' || r >= '\u2066' && r <= '\u2069'
}

// Blank reports whether r shows as nothing: white space, and the
// zero-width characters that exports leave in text (a byte-order mark, a
// zero-width space, joiner or non-joiner, a word joiner).
func Blank(r rune) bool { return zeroWidth(r) || unicode.IsSpace(r) }

func zeroWidth(r rune) bool {
	switch r {
	case '\ufeff', '\u200b', '\u200c', '\u200d', '\u2060':
		return true
	}
	return false
}

// Trim returns s without the Blank characters at its ends.
func Trim(s string) string { return strings.TrimFunc(s, Blank) }

// Shown returns name as a table or a line can show it: as it is when it
// is UTF-8 without an Unprintable or a zero-width character, neither
// starts nor ends with a Blank one and does not start with a quote;
// otherwise quoted, with Go's escapes, so that no two names show alike.
func Shown(name string) string {
	if utf8.ValidString(name) && !strings.ContainsFunc(name, Unprintable) && !strings.ContainsFunc(name, zeroWidth) &&
		Trim(name) == name && !strings.HasPrefix(name, `"`) {
		return name
	}
	return strconv.Quote(name)
}
