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

func TestLineReaderReadsEventsAndNamesBadLines(t *testing.T) {
	codec := events.NewJSONCodec(nil)
	evs := bridgeEvents(3)
	var log []byte
	for i, e := range evs {
		var err error
		log, err = events.AppendLine(log, codec, e)
		require.NoError(t, err)
		if i == 0 {
			log = append(log, "\n{not json}\n"...) // blank line 2, bad line 3
		}
	}
	log = append(log, `{"id":"0193a4c2-7a9e-7c61-9d41-1a2b3c4d5e6f","issue":"0193a4c2-7a9e-7000-8000-000000000001","version":9,"type":"issue.escalated","at":"2026-03-02T09:15:00Z","data":{}}`...)

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
	codec := events.NewJSONCodec(nil)
	evs := bridgeEvents(3)
	var log []byte
	for i, e := range evs {
		var err error
		log, err = events.AppendLine(log, codec, e)
		require.NoError(t, err)
		switch i {
		case 0:
			log = append(append(log, bytes.Repeat([]byte("x"), events.MaxLineBytes+2<<20)...), '\n') // line 2
		case 1:
			log = append(append(log, bytes.Repeat([]byte(" "), events.MaxLineBytes+1)...), "\r\n"...) // line 4
		}
	}
	var got []events.Envelope
	var bad []int
	for e, err := range events.NewLineReader(bytes.NewReader(log), nil).All() {
		var le *events.LineError
		if errors.As(err, &le) {
			assert.ErrorIs(t, err, events.ErrMalformed)
			bad = append(bad, le.Line)
			continue
		}
		require.NoError(t, err)
		got = append(got, e)
	}
	assert.Equal(t, []int{2, 4}, bad)
	assert.Len(t, got, 3)
}
