package events_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
)

// lineLog writes evs as JSON Lines, with after[i] written right after the
// line of event i.
func lineLog(t *testing.T, evs []events.Envelope, after map[int]string) []byte {
	t.Helper()
	codec := events.NewJSONCodec(nil)
	var log []byte
	for i, e := range evs {
		var err error
		log, err = events.AppendLine(log, codec, e)
		require.NoError(t, err)
		log = append(log, after[i]...)
	}
	return log
}

// readLines reads log with a LineReader: the events, and the errors of the
// lines that are not one.
func readLines(t *testing.T, log []byte) ([]events.Envelope, []*events.LineError) {
	t.Helper()
	var got []events.Envelope
	var lineErrs []*events.LineError
	for e, err := range events.NewLineReader(bytes.NewReader(log), nil).All() {
		if err != nil {
			var le *events.LineError
			require.True(t, errors.As(err, &le), "error %v is a *LineError", err)
			lineErrs = append(lineErrs, le)
			continue
		}
		got = append(got, e)
	}
	return got, lineErrs
}

func TestLineReaderReadsEventsAndNamesBadLines(t *testing.T) {
	evs := bridgeEvents(3)
	log := lineLog(t, evs, map[int]string{0: "\n{not json}\n"}) // blank line 2, bad line 3
	log = append(log, `{"id":"0193a4c2-7a9e-7c61-9d41-1a2b3c4d5e6f","issue":"0193a4c2-7a9e-7000-8000-000000000001","version":9,"type":"issue.escalated","at":"2026-03-02T09:15:00Z","data":{}}`...)

	got, lineErrs := readLines(t, log)
	require.Len(t, got, 3)
	for i := range evs {
		assert.Equal(t, evs[i].ID, got[i].ID)
	}
	require.Len(t, lineErrs, 2)
	assert.Equal(t, 3, lineErrs[0].Line)
	assert.ErrorIs(t, lineErrs[0], events.ErrMalformed)
	assert.Equal(t, 6, lineErrs[1].Line, "the last line has no newline and is still read")
	assert.ErrorIs(t, lineErrs[1], events.ErrUnknownType)
	assert.Contains(t, lineErrs[1].Error(), "line 6")
}

// A byte order mark that starts the log is passed over; one elsewhere is
// not JSON.
func TestLineReaderPassesOverAByteOrderMark(t *testing.T) {
	evs := bridgeEvents(2)
	log := append([]byte("\ufeff"), lineLog(t, evs, map[int]string{0: "\ufeff\n"})...)
	got, lineErrs := readLines(t, log)
	require.Len(t, got, 2)
	assert.Equal(t, evs[0].ID, got[0].ID)
	require.Len(t, lineErrs, 1)
	assert.Equal(t, 2, lineErrs[0].Line)
	assert.ErrorIs(t, lineErrs[0], events.ErrMalformed)
	assert.ErrorContains(t, lineErrs[0], "(the line starts with a byte order mark, as where a second log was joined to the first)")

	// Before an event, the codec names the mark.
	log = lineLog(t, evs, nil)
	first, _, _ := bytes.Cut(log, []byte("\n"))
	log = append(append(log, "\ufeff"...), first...)
	got, lineErrs = readLines(t, log)
	require.Len(t, got, 2)
	require.Len(t, lineErrs, 1)
	assert.Equal(t, 3, lineErrs[0].Line)
	assert.ErrorContains(t, lineErrs[0], "a byte order mark (U+FEFF) comes before the event, which JSON does not allow (as where a second log was joined to the first)")
}

// A single event behind a byte order mark is refused, naming the mark.
func TestJSONDecodeNamesAByteOrderMark(t *testing.T) {
	codec := events.NewJSONCodec(nil)
	b, err := codec.Append(nil, bridgeEvents(1)[0])
	require.NoError(t, err)
	_, err = codec.Decode(append([]byte(" \ufeff"), b...))
	require.ErrorIs(t, err, events.ErrMalformed)
	assert.ErrorContains(t, err, "a byte order mark (U+FEFF) comes before the event, which JSON does not allow")
	var de *events.DecodeError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, 1, de.Offset, "where the mark is")
}

// The byte offset of a bad line's error counts from the start of the line,
// white space and a byte order mark before the event included; a missing
// member keeps offset 0.
func TestLineReaderOffsetsCountFromTheLineStart(t *testing.T) {
	offset := func(log string) int {
		t.Helper()
		_, lineErrs := readLines(t, []byte(log))
		require.Len(t, lineErrs, 1)
		var de *events.DecodeError
		require.ErrorAs(t, lineErrs[0], &de)
		return de.Offset
	}
	bare := offset(`{"id":x}` + "\n")
	require.Positive(t, bare)
	assert.Equal(t, bare+5, offset("\t    {\"id\":x}\n"))
	assert.Equal(t, bare+3+1, offset("\ufeff {\"id\":x}\n"), "a byte order mark is 3 bytes")
	missing := `{"issue":"0193a4c2-7a9e-7000-8000-000000000001","version":1,"type":"issue.opened","at":"2026-03-02T09:15:00Z","data":{}}`
	assert.Zero(t, offset("  "+missing+"\n"), "a missing id is at no byte")
}

func TestLineReaderStopsWhenTheLoopStops(t *testing.T) {
	r := events.NewLineReader(strings.NewReader("{}\n{}\n{}\n"), nil)
	n := 0
	for _, err := range r.All() {
		require.Error(t, err)
		n++
		break
	}
	assert.Equal(t, 1, n)
	assert.Equal(t, 1, r.Line())
}

func TestLineReaderReadsLinesLongerThanItsBuffer(t *testing.T) {
	e := bridgeEvents(1)[0]
	e.Data.(*events.Opened).Extra = events.Extra{"note": strings.Repeat("x", 3<<20)}
	line, err := events.AppendLine(nil, events.NewJSONCodec(nil), e)
	require.NoError(t, err)
	var got []events.Envelope
	for e, err := range events.NewLineReader(bytes.NewReader(line), nil).All() {
		require.NoError(t, err)
		got = append(got, e)
	}
	require.Len(t, got, 1)
	assert.Len(t, got[0].Data.(*events.Opened).Extra["note"], 3<<20)
}

// A line longer than MaxLineBytes is one bad line: reading goes on after
// it, whether it is longer than the buffer by far or just over the limit.
func TestLineReaderGoesOnAfterALineTooLong(t *testing.T) {
	log := lineLog(t, bridgeEvents(3), map[int]string{
		0: strings.Repeat("x", events.MaxLineBytes+2<<20) + "\n", // line 2
		1: strings.Repeat(" ", events.MaxLineBytes+1) + "\r\n",   // line 4
	})
	got, lineErrs := readLines(t, log)
	var bad []int
	for _, le := range lineErrs {
		assert.ErrorIs(t, le, events.ErrMalformed)
		bad = append(bad, le.Line)
	}
	assert.Equal(t, []int{2, 4}, bad)
	assert.Len(t, got, 3)
}

// Only JSON's white space is passed over around an event: a line with a
// no-break space, a line separator, a next line or a form feed around its
// object is refused, as the codec refuses it alone, where it was read.
func TestLineReaderPassesOverJSONWhiteSpaceOnly(t *testing.T) {
	evs := bridgeEvents(1)
	line := string(bytes.TrimSuffix(lineLog(t, evs, nil), []byte("\n")))
	for _, around := range [][2]string{{"\u00a0", ""}, {"", "\u2028"}, {"\u0085", ""}, {"\f", ""}, {"", "\v"}} {
		_, err := events.NewJSONCodec(nil).Decode([]byte(around[0] + line + around[1]))
		require.Error(t, err, "%q: the codec refuses it alone", around)
		got, lineErrs := readLines(t, []byte(around[0]+line+around[1]+"\n"))
		assert.Empty(t, got, "%q", around)
		require.Len(t, lineErrs, 1, "%q", around)
		assert.ErrorIs(t, lineErrs[0], events.ErrMalformed, "%q", around)
	}
	got, lineErrs := readLines(t, []byte(" \t"+line+" \r\n"))
	assert.Empty(t, lineErrs)
	require.Len(t, got, 1)
	assert.Equal(t, evs[0].ID, got[0].ID)
}

// Blank lines are counted, so that a reader's lines add up: each is an
// event, a bad line or a blank one.
func TestLineReaderCountsBlankLines(t *testing.T) {
	evs := bridgeEvents(2)
	log := append([]byte("\n"), lineLog(t, evs, map[int]string{0: " \t\r\n{not json}\n\n"})...)
	lr := events.NewLineReader(bytes.NewReader(log), nil)
	n, bad := 0, 0
	for _, err := range lr.All() {
		if err != nil {
			bad++
		} else {
			n++
		}
	}
	assert.Equal(t, 2, n)
	assert.Equal(t, 1, bad)
	assert.Equal(t, 3, lr.Blank())
	assert.Equal(t, 6, lr.Line())
}
