// Package text holds the one rule of what text may be shown as it is,
// which the write side enforces on the names it records and the reports
// apply to the names they show.
package text

import (
	"fmt"
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
// characters that show as nothing or as a blank (a byte-order mark, which
// exports leave in text, zero-width spaces, joiners and invisible
// operators, a soft hyphen, the Mongolian vowel separator, the Hangul
// fillers).
func Blank(r rune) bool { return invisible(r) || unicode.IsSpace(r) }

// invisible reports whether r shows as nothing, or as a blank that is no
// white space.
func invisible(r rune) bool {
	switch {
	case r == '\ufeff', r == '\u00ad', r == '\u034f', r == '\u180e', r == '\u3164', r == '\uffa0', r == '\u115f', r == '\u1160':
		return true
	case r >= '\u200b' && r <= '\u200d', r >= '\u2060' && r <= '\u2064':
		return true
	}
	return false
}

// hidden reports whether r would show a name alike another: an invisible
// character, or white space other than a plain space (a no-break space).
func hidden(r rune) bool { return invisible(r) || r != ' ' && unicode.IsSpace(r) }

// Trim returns s without the Blank characters at its ends.
func Trim(s string) string { return strings.TrimFunc(s, Blank) }

// Shown returns name as a table or a line can show it: as it is when it
// is UTF-8 without an Unprintable or invisible character or white space
// other than a plain space, neither starts nor ends with a Blank one and
// does not start with a quote; otherwise Quoted, so that no two names
// show alike (a filler that shows as nothing is escaped too).
func Shown(name string) string {
	if utf8.ValidString(name) && !strings.ContainsFunc(name, Unprintable) && !strings.ContainsFunc(name, hidden) &&
		Trim(name) == name && !strings.HasPrefix(name, `"`) {
		return name
	}
	return Quoted(name)
}

// Points returns reported − truth in percentage points as two rates
// written with %.1f after ×100 show it, so that the three figures agree on
// the page (66.7 − 33.3 is 33.4, where the exact difference, 1/3, rounds
// to 33.3).
func Points(truth, reported float64) float64 {
	shown := func(r float64) float64 {
		v, _ := strconv.ParseFloat(fmt.Sprintf("%.1f", 100*r), 64)
		return v
	}
	return shown(reported) - shown(truth)
}

// Quoted returns s in double quotes with Go's escapes, as strconv.Quote
// writes it, and with the characters that show as nothing (Blank) but a
// space escaped too, which Quote leaves as they are where it counts them
// printable (a Hangul filler): a name quoted so shows its padding, and
// its other letters as they are.
func Quoted(s string) string {
	q := strconv.Quote(s)
	if !strings.ContainsFunc(q, shownAsNothing) {
		return q
	}
	var b strings.Builder
	for _, r := range q {
		if shownAsNothing(r) {
			fmt.Fprintf(&b, `\u%04x`, r)
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// shownAsNothing reports whether r, which strconv.Quote writes as it is,
// shows as nothing.
func shownAsNothing(r rune) bool { return r != ' ' && Blank(r) && strconv.IsPrint(r) }
