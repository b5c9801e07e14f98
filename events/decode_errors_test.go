package events_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
)

// decodeError requires err to be a *events.DecodeError and returns it.
func decodeError(t *testing.T, err error) *events.DecodeError {
	t.Helper()
	var de *events.DecodeError
	require.ErrorAs(t, err, &de)
	return de
}

func TestUnknownTypeIsAnError(t *testing.T) {
	reg := events.NewRegistry()
	require.NoError(t, reg.Register(typeEscalated, 1, func() events.Data { return new(Escalated) }))
	e := envelopeOf(0, &Escalated{Contact: "c-1", Level: 1})
	for i, writer := range codecsOf(reg) {
		b, err := writer.Append(nil, e)
		require.NoError(t, err)
		reader := codecsOf(nil)[i]
		_, err = reader.Decode(b)
		assert.ErrorIs(t, err, events.ErrUnknownType, reader.Name())
		assert.NotErrorIs(t, err, events.ErrMalformed, reader.Name())
		de := decodeError(t, err)
		assert.Equal(t, "type", de.Field)
		assert.Equal(t, reader.Name(), de.Codec)
		assert.Contains(t, err.Error(), string(typeEscalated))
		var unknown *events.UnknownTypeError
		require.ErrorAs(t, err, &unknown, reader.Name())
		assert.Equal(t, typeEscalated, unknown.Type)
		read := e
		read.Data = nil
		assert.Equal(t, read, unknown.Event, "%s: the envelope as read, without data", reader.Name())

		_, err = reader.Append(nil, e)
		assert.ErrorIs(t, err, events.ErrInvalidEvent, "%s encodes only registered types", reader.Name())
	}
}

func TestEncodeRefusesIncompleteEvents(t *testing.T) {
	tests := []struct {
		name  string
		spoil func(*events.Envelope)
	}{
		{"no data", func(e *events.Envelope) { e.Data = nil }},
		{"no time", func(e *events.Envelope) { e.At = time.Time{} }},
		{"time out of range", func(e *events.Envelope) { e.At = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC) }},
	}
	for _, tt := range tests {
		for _, c := range codecsOf(nil) {
			e := envelopeOf(0, dataCases[0].data())
			tt.spoil(&e)
			out, err := c.Append([]byte("prefix"), e)
			assert.ErrorIs(t, err, events.ErrInvalidEvent, "%s: %s", c.Name(), tt.name)
			assert.Equal(t, "prefix", string(out), "%s: %s: dst is returned unchanged", c.Name(), tt.name)
		}
	}
}

func TestMalformedMsgpack(t *testing.T) {
	c := events.NewMsgpackCodec(nil)
	valid, err := c.Append(nil, envelopeOf(1, dataCases[0].data()))
	require.NoError(t, err)
	// valid[0] is the array header, valid[1] the format, then the id.
	tests := []struct {
		name   string
		input  []byte
		field  string
		offset int
		says   string
	}{
		{"empty", nil, "", 0, "end of input"},
		{"not an array", []byte{0x81}, "", 1, "want an array"},
		{"short envelope", []byte{0x93, 0x01, 0xc0, 0xc0}, "", 1, "9 elements"},
		{"unknown format", append([]byte{0x99, 0x07}, valid[2:]...), "", 2, "format 7"},
		{"uuid of 15 bytes", append([]byte{0x99, 0x01, 0xc4, 0x0f}, valid[4:]...), "", 4, "16-byte uuid"},
		{"trailing bytes", append(append([]byte{}, valid...), 0xc0, 0xc0), "", len(valid), "2 bytes after"},
		{"truncated", valid[:len(valid)-3], "data", len(valid) - 4, "end of input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Decode(tt.input)
			assert.ErrorIs(t, err, events.ErrMalformed)
			de := decodeError(t, err)
			assert.Equal(t, "msgpack", de.Codec)
			assert.Equal(t, tt.field, de.Field)
			assert.Equal(t, tt.offset, de.Offset)
			assert.Contains(t, err.Error(), tt.says)
		})
	}
}

func TestMalformedMsgpackFields(t *testing.T) {
	c := events.NewMsgpackCodec(nil)
	e := envelopeOf(0, &events.Routed{Contact: contactID, Queue: "billing", Wait: time.Second})
	tests := []struct {
		name  string
		spoil func(b []byte) []byte
		field string
		says  string
	}{
		{"version 0", func(b []byte) []byte { b[versionOffset] = 0x00; return b }, "version", "1 or more"},
		{"meta value not a string", func(b []byte) []byte {
			// "corr-1" (a6 and six bytes) becomes an ext8 of four bytes, as long.
			return replaceAfter(b, "correlation_id", nil, []byte{0xc7, 0x04, 0x01, 'x', 'x', 'x', 'x'}, 7)
		}, "meta", "want a string, found 0xc7"},
		{"wait not an integer", func(b []byte) []byte { return replaceAfter(b, "wait_ms", nil, []byte{0xa1, 'x'}, 1) }, "data.wait_ms", "want an integer"},
		{"schema 0", func(b []byte) []byte { return replaceAfter(b, "issue.routed", nil, []byte{0x00}, 1) }, "schema", "schema 0"},
		{"time before 1678", func(b []byte) []byte {
			return replaceAfter(b, "issue.routed", []byte{0x01}, []byte{0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0}, 9)
		}, "at", "1677-09-21T00:12:43.145224192Z is out of range"},
		{"schema from the future", func(b []byte) []byte { return replaceAfter(b, "issue.routed", nil, []byte{0x05}, 1) }, "schema", "knows up to 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := c.Append(nil, e)
			require.NoError(t, err)
			_, err = c.Decode(tt.spoil(b))
			assert.ErrorIs(t, err, events.ErrMalformed)
			de := decodeError(t, err)
			assert.Equal(t, tt.field, de.Field)
			assert.Positive(t, de.Offset)
			assert.Contains(t, err.Error(), tt.says)
		})
	}
}

// versionOffset is where the version is in a msgpack envelope: after the
// array header, the format and two uuids of 18 bytes.
const versionOffset = 1 + 1 + 18 + 18

// replaceAfter replaces the n bytes that follow the string s (and the
// bytes skip right after it) with repl.
func replaceAfter(b []byte, s string, skip []byte, repl []byte, n int) []byte {
	i := strings.Index(string(b), s)
	if i < 0 {
		panic("no " + s)
	}
	at := i + len(s) + len(skip)
	out := append([]byte{}, b[:at]...)
	out = append(out, repl...)
	return append(out, b[at+n:]...)
}

func TestMalformedJSON(t *testing.T) {
	c := events.NewJSONCodec(nil)
	// after returns the offset just after the first s in input: where the
	// value of a member "name": starts. An error of a field of data is
	// placed where data starts: the data decoded may have been written
	// again.
	after := func(input, s string) int {
		i := strings.Index(input, s)
		if i < 0 {
			panic("no " + s)
		}
		return i + len(s)
	}
	noID := strings.Replace(domainExample, `"id":"0193a4c2-7a9e-7c61-9d41-1a2b3c4d5e6f",`, "", 1)
	badID := strings.Replace(domainExample, `"id":"0193a4c2-7a9e-7c61-9d41-1a2b3c4d5e6f"`, `"id":"nope"`, 1)
	version0 := strings.Replace(domainExample, `"version":1`, `"version":0`, 1)
	noZone := strings.Replace(domainExample, `2026-03-02T09:15:00Z`, `2026-03-02T09:15:00`, 1)
	future := strings.Replace(domainExample, `2026-03-02T09:15:00Z`, `3026-03-02T09:15:00Z`, 1)
	badIssue := strings.Replace(domainExample, `"issue":"0193a4c2-7a9e-7000-8000-000000000001"`, `"issue":"0193a4c2"`, 1)
	dataNull := strings.Replace(domainExample, `"data":{"customer"`, `"data":null,"x":{"customer"`, 1)
	channel7 := strings.Replace(domainExample, `"channel":"phone"`, `"channel":7`, 1)
	badContact := strings.Replace(domainExample, `"contact":"0193a4c2-7a9e-7000-8000-0000000000c1"`, `"contact":"not-a-uuid"`, 1)
	schema4 := strings.Replace(domainExample, `"version":1,`, `"version":1,"schema":4,`, 1)
	unknown := strings.Replace(domainExample, `"issue.opened"`, `"issue.escalated"`, 1)
	versionString := strings.Replace(domainExample, `"version":1`, `"version":"1"`, 1)
	escapedID := strings.Replace(badID, `"id":`, `"\u0069d":`, 1)
	// A member whose name matches "version" only regardless of case takes
	// the decoder's exact-name path.
	ambiguous := strings.Replace(channel7, `"version":1,`, `"version":1,"Version":2,`, 1)
	tests := []struct {
		name   string
		input  string
		field  string
		offset int // -1: any positive offset
	}{
		{"empty", ``, "", 0},
		{"syntax", `{"id":}`, "", 6},   // the "}" where a value should be
		{"cut short", `{"id":`, "", 6}, // the end
		{"a literal cut short", `nul`, "", 3},
		{"not an object", `[1,2]`, "", 0},
		{"null", ` null`, "", 1},
		{"no id", noID, "id", 0},
		{"bad id", badID, "id", after(badID, `"id":`)},
		{"no issue", strings.Replace(domainExample, `"issue":"0193a4c2-7a9e-7000-8000-000000000001",`, "", 1), "issue", 0},
		{"version 0", version0, "version", after(version0, `"version":`)},
		{"no type", strings.Replace(domainExample, `"type":"issue.opened",`, "", 1), "type", 0},
		{"no time", strings.Replace(domainExample, `"at":"2026-03-02T09:15:00Z",`, "", 1), "at", 0},
		{"time without zone", noZone, "at", after(noZone, `"at":`)},
		{"time out of range", future, "at", after(future, `"at":`)},
		{"bad issue", badIssue, "issue", after(badIssue, `"issue":`)},
		{"data null", dataNull, "data", after(dataNull, `"data":`)},
		{"channel a number", channel7, "data.channel", after(channel7, `"data":`)},
		{"contact not a uuid", badContact, "data.contact", after(badContact, `"data":`)},
		{"version a string", versionString, "version", after(versionString, `"version":`)},
		{"bad id under an escaped name", escapedID, "id", after(escapedID, `"\u0069d":`)},
		{"schema from the future", schema4, "schema", after(schema4, `"schema":`)},
		{"channel a number, names read exactly", ambiguous, "data.channel", after(ambiguous, `"data":`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Decode([]byte(tt.input))
			assert.ErrorIs(t, err, events.ErrMalformed)
			de := decodeError(t, err)
			assert.Equal(t, "json", de.Codec)
			assert.Equal(t, tt.field, de.Field)
			if tt.offset < 0 {
				assert.Positive(t, de.Offset)
			} else {
				assert.Equal(t, tt.offset, de.Offset)
			}
		})
	}
	// An unknown type is not malformed, and is found where it is written.
	_, err := c.Decode([]byte(unknown))
	assert.ErrorIs(t, err, events.ErrUnknownType)
	assert.Equal(t, after(unknown, `"type":`), decodeError(t, err).Offset)
}

// sampleEncodings returns encodings of a variety of events in codec c.
func sampleEncodings(t testing.TB, c events.Codec) [][]byte {
	var out [][]byte
	for i, tt := range dataCases {
		b, err := c.Append(nil, envelopeOf(i, tt.data()))
		require.NoError(t, err)
		out = append(out, b)
	}
	return out
}

// checkDecodeResult checks that a decode of damaged input either failed
// with a *DecodeError, or gave an event that encodes to bytes that decode
// and encode to the same bytes again.
func checkDecodeResult(t *testing.T, c events.Codec, e events.Envelope, err error, what string) bool {
	if err != nil {
		var de *events.DecodeError
		return assert.ErrorAs(t, err, &de, what) &&
			assert.True(t, errors.Is(err, events.ErrMalformed) || errors.Is(err, events.ErrUnknownType), "%s: %v", what, err)
	}
	b, err := c.Append(nil, e)
	if !assert.NoError(t, err, "%s decoded to an event that does not encode", what) {
		return false
	}
	again, err := c.Decode(b)
	if !assert.NoError(t, err, what) {
		return false
	}
	b2, err := c.Append(nil, again)
	return assert.NoError(t, err, what) && assert.Equal(t, b, b2, what)
}

func TestDamagedInputNeverPanics(t *testing.T) {
	// Replacement bytes that make each format's readers take other paths.
	tests := []struct {
		codec  events.Codec
		values []byte
	}{
		{events.NewMsgpackCodec(nil), []byte{0x00, 0x7f, 0xc0, 0xc4, 0xdc, 0xdf, 0xff}},
		{events.NewJSONCodec(nil), []byte{0x00, '"', '{', '[', '9', ',', '\\'}},
	}
	for _, tt := range tests {
		c := tt.codec
		t.Run(c.Name(), func(t *testing.T) {
			for i, valid := range sampleEncodings(t, c) {
				switch dataCases[i].name {
				case "opened full", "routed full", "resolved full":
					// Between them: lists, integers, a bool, uuids, every
					// kind of extra field, metadata. The fuzzers do the rest.
				default:
					continue
				}
				for n := range len(valid) {
					_, err := c.Decode(valid[:n])
					if !assert.Error(t, err, "a prefix of %d of %d bytes", n, len(valid)) {
						return
					}
					decodeError(t, err)
				}
				damaged := make([]byte, len(valid))
				for i := range valid {
					for _, v := range append(tt.values, valid[i]^0x01) {
						copy(damaged, valid)
						damaged[i] = v
						e, err := c.Decode(damaged)
						if !checkDecodeResult(t, c, e, err, fmt.Sprintf("byte %d of %q set to 0x%02x", i, valid, v)) {
							return
						}
					}
				}
			}
		})
	}
}

// A duration that time.Duration cannot hold is malformed, in both codecs,
// rather than wrapped around to a negative one.
func TestDurationsOutOfRangeAreMalformed(t *testing.T) {
	e := envelopeOf(1, &events.Routed{Contact: contactID, Queue: "billing", Wait: time.Second})
	const huge = 9_300_000_000_000 // ms: some 295 years
	line, err := events.NewJSONCodec(nil).Append(nil, e)
	require.NoError(t, err)
	line = []byte(strings.Replace(string(line), `"wait_ms":1000`, fmt.Sprintf(`"wait_ms":%d`, int64(huge)), 1))
	_, err = events.NewJSONCodec(nil).Decode(line)
	require.ErrorIs(t, err, events.ErrMalformed)
	assert.Contains(t, err.Error(), "wait_ms")

	c := events.NewMsgpackCodec(nil)
	b, err := c.Append(nil, e)
	require.NoError(t, err)
	b = replaceAfter(b, "wait_ms", nil, binary.BigEndian.AppendUint64([]byte{0xcf}, huge), 3) // 1000 is 0xcd 0x03 0xe8
	_, err = c.Decode(b)
	require.ErrorIs(t, err, events.ErrMalformed)
	assert.Contains(t, err.Error(), "out of range")
}

// An event time whose zone's offset has seconds, which RFC 3339 cannot
// write, goes through JSON as the same instant.
// A time whose zone is 24 hours or more from UTC, which Validate takes and
// RFC 3339 cannot write, is written in UTC: the codec reads what it wrote.
func TestJSONWritesAFarZoneInUTC(t *testing.T) {
	c := events.NewJSONCodec(nil)
	for _, hours := range []int{24, -24, 25} {
		e := envelopeOf(1, &events.Contacted{Contact: contactID, Channel: "chat"})
		e.At = time.Date(2026, 3, 2, 12, 0, 0, 0, time.FixedZone("far", hours*3600))
		b, err := c.Append(nil, e)
		require.NoError(t, err)
		got, err := c.Decode(b)
		require.NoError(t, err, "%d h: %s", hours, b)
		assert.True(t, got.At.Equal(e.At), "%d h: %s came back as %s", hours, e.At, got.At)
	}
}

func TestJSONKeepsTheInstantOfAnOffsetWithSeconds(t *testing.T) {
	lmt := time.FixedZone("LMT", 1*3600+39*60+49) // Helsinki's in 1900
	e := envelopeOf(1, &events.Contacted{Contact: contactID, Channel: "chat"})
	e.At = time.Date(1900, 1, 1, 12, 0, 0, 0, lmt)
	c := events.NewJSONCodec(nil)
	b, err := c.Append(nil, e)
	require.NoError(t, err)
	got, err := c.Decode(b)
	require.NoError(t, err)
	assert.True(t, got.At.Equal(e.At), "%s came back as %s", e.At, got.At)
}

// A batch message that claims more events than its payload could hold is
// refused without reserving room for them all.
func TestDecodeMessagesDoesNotTrustTheBatchCount(t *testing.T) {
	msg := message.NewMessage("m-1", bytes.Repeat([]byte{0x01}, 1<<20))
	msg.Metadata.Set(events.MetadataBatch, "1000000000")
	msg.Metadata.Set(events.MetadataCodec, "msgpack")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := events.DecodeMessages(msg)
	runtime.ReadMemStats(&after)
	require.ErrorIs(t, err, events.ErrMalformed)
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(16<<20), "bytes allocated")
}

// The range of event times ends at the nanoseconds around 1678 and 2262,
// in InTimeRange and in what the msgpack decoder reads.
func TestTimeRangeBounds(t *testing.T) {
	c := events.NewMsgpackCodec(nil)
	raw, err := c.Append(nil, envelopeOf(1, &events.Classified{Topic: "billing"}))
	require.NoError(t, err)
	first, end := time.Date(1678, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		at time.Time
		in bool
	}{
		{first.Add(-time.Nanosecond), false},
		{first, true},
		{end.Add(-time.Nanosecond), true},
		{end, false},
		{time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), false},
		{time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), false},
	} {
		assert.Equal(t, tt.in, events.InTimeRange(tt.at), tt.at)
		assert.Equal(t, tt.in, events.InTimeRange(tt.at.In(time.FixedZone("X", 5*3600))), tt.at)
		if tt.at.Year() < 1677 || tt.at.Year() > 2262 {
			continue // beyond int64 nanoseconds: no msgpack event holds it
		}
		at := binary.BigEndian.AppendUint64([]byte{0xd3}, uint64(tt.at.UnixNano()))
		e, err := c.Decode(replaceAfter(raw, "issue.classified", []byte{0x01}, at, 9))
		if !tt.in {
			assert.ErrorIs(t, err, events.ErrMalformed, tt.at)
			continue
		}
		require.NoError(t, err, tt.at)
		assert.True(t, e.At.Equal(tt.at), "%s decoded as %s", tt.at, e.At)
	}
}

// The range of event times is in UTC: a time in the last hour of 2261 in
// a zone behind UTC is already 2262 there, which no codec writes, and both
// refuse it, as InTimeRange says.
func TestTimeRangeIsInUTC(t *testing.T) {
	at := time.Date(2261, 12, 31, 23, 0, 0, 0, time.FixedZone("X", -5*3600))
	assert.False(t, events.InTimeRange(at))
	assert.True(t, events.InTimeRange(time.Date(2261, 12, 31, 23, 0, 0, 0, time.UTC)))
	e := envelopeOf(1, &events.Classified{Topic: "billing"})
	e.At = at
	for _, c := range codecsOf(nil) {
		_, err := c.Append(nil, e)
		assert.ErrorIs(t, err, events.ErrInvalidEvent, c.Name())
	}
}

// Members are read by their exact names: one that matches a member of the
// envelope only regardless of case is an unknown member, ignored, even
// when encoding/json fails on its value; of a member given twice, the last
// counts.
func TestJSONEnvelopeMembersAreReadByExactName(t *testing.T) {
	c := events.NewJSONCodec(nil)
	for _, input := range []string{
		strings.Replace(domainExample, `"version":1,`, `"version":1,"VERSION":"x",`, 1),
		strings.Replace(domainExample, `"version":1,`, `"VERSION":"x","version":1,`, 1),
		strings.Replace(domainExample, `"version":1,`, `"version":"x","version":1,`, 1),
	} {
		e, err := c.Decode([]byte(input))
		require.NoError(t, err, input)
		assert.Equal(t, uint64(1), e.Version, input)
	}
	last := strings.Replace(domainExample, `"version":1,`, `"version":1,"version":"x",`, 1)
	_, err := c.Decode([]byte(last))
	de := decodeError(t, err)
	assert.Equal(t, "version", de.Field)
	assert.Equal(t, strings.Index(last, `"x"`), de.Offset, "where the value that counts starts")
}

// A survey answer without a score is malformed, in both codecs: a score
// of 0 is an answer of NPS (a detractor), which a missing one must not
// read as. An explicit 0 is one.
func TestARatingWithoutAScoreIsMalformed(t *testing.T) {
	rated := envelopeOf(0, &events.Rated{Survey: events.SurveyNPS, Score: 0})
	j := events.NewJSONCodec(nil)
	b, err := j.Append(nil, rated)
	require.NoError(t, err)
	require.Contains(t, string(b), `"score":0`)
	got, err := j.Decode(b)
	require.NoError(t, err)
	assert.Equal(t, rated, got, "an explicit 0")
	for _, spoilt := range []string{
		strings.Replace(string(b), `,"score":0`, ``, 1),
		strings.Replace(string(b), `"score":0`, `"score":null`, 1),
	} {
		_, err := j.Decode([]byte(spoilt))
		assert.ErrorIs(t, err, events.ErrMalformed, spoilt)
		de := decodeError(t, err)
		assert.Equal(t, "data.score", de.Field, spoilt)
		assert.Contains(t, err.Error(), "missing")
	}

	m := events.NewMsgpackCodec(nil)
	b, err = m.Append(nil, rated)
	require.NoError(t, err)
	// The data map {survey: nps, score: 0} without its score member.
	i := bytes.Index(b, []byte("\xa6survey"))
	require.Equal(t, byte(0x82), b[i-1], "a map of two members")
	k := bytes.Index(b, []byte("\xa5score\x00"))
	require.Positive(t, k)
	spoilt := append(append(append([]byte{}, b[:i-1]...), 0x81), b[i:k]...)
	spoilt = append(spoilt, b[k+7:]...)
	_, err = m.Decode(spoilt)
	assert.ErrorIs(t, err, events.ErrMalformed)
	assert.Equal(t, "data.score", decodeError(t, err).Field)
	// A nil score is none, as JSON's null is; of two, the last wins.
	nilScore := bytes.Replace(b, []byte("\xa5score\x00"), []byte("\xa5score\xc0"), 1)
	_, err = m.Decode(nilScore)
	assert.ErrorIs(t, err, events.ErrMalformed)
	assert.Equal(t, "data.score", decodeError(t, err).Field)
	thenNil := append(append(append([]byte{}, b[:i-1]...), 0x83), b[i:k+7]...)
	thenNil = append(append(thenNil, []byte("\xa5score\xc0")...), b[k+7:]...)
	_, err = m.Decode(thenNil)
	assert.ErrorIs(t, err, events.ErrMalformed, "a score, then a nil one")
}

// JSON text that is not text is malformed, where it stands: encoding/json
// would read a byte that is not UTF-8, or an escape of half a surrogate
// pair, as U+FFFD, and two customers whose names differ there would be
// one. A whole pair, an escaped backslash before "u", and U+FFFD itself
// are text.
func TestJSONThatIsNotTextIsMalformed(t *testing.T) {
	c := events.NewJSONCodec(nil)
	withKey := func(key string) string {
		return strings.Replace(domainExample, `"email:anna@example.com"`, `"`+key+`"`, 1)
	}
	keyOf := func(e events.Envelope) string { return e.Data.(*events.Opened).Customer.Keys[1] }
	for _, tt := range []struct{ key, says string }{
		{"account:M\xfcller", "byte 0xfc is not UTF-8"},
		{`account:M\ud800ller`, `\ud800 is half a surrogate pair`},
		{`account:M\uDC00ller`, `\udc00 is half a surrogate pair`},
		{`account:M\ud83d\u0041`, `\ud83d is half a surrogate pair`},
		{`account:M\ud83d`, `\ud83d is half a surrogate pair`},
	} {
		input := withKey(tt.key)
		_, err := c.Decode([]byte(input))
		assert.ErrorIs(t, err, events.ErrMalformed, tt.key)
		assert.Contains(t, err.Error(), tt.says)
		assert.Equal(t, strings.Index(input, "account:")+len("account:M"), decodeError(t, err).Offset, tt.key)
	}
	for key, want := range map[string]string{
		`account:M\ud83d\ude00`: "account:M\U0001F600",
		`account:M\\ud800`:      `account:M\ud800`,
		"account:M\uFFFDller":   "account:M\uFFFDller",
		`account:M\ufffdller`:   "account:M\uFFFDller",
		`account:\"M\"\\`:       `account:"M"\`,
	} {
		e, err := c.Decode([]byte(withKey(key)))
		require.NoError(t, err, key)
		assert.Equal(t, want, keyOf(e), key)
	}
}

// A null among the customer's keys reads as an empty key, which Validate
// refuses: every customer that gave one would otherwise be one customer.
func TestANullKeyIsRefused(t *testing.T) {
	input := strings.Replace(domainExample, `"email:anna@example.com"`, `null`, 1)
	e, err := events.NewJSONCodec(nil).Decode([]byte(input))
	require.NoError(t, err)
	assert.ErrorContains(t, e.Validate(), "customer key 1 is empty")
	assert.ErrorIs(t, e.Validate(), events.ErrInvalidEvent)
}

// An event time is RFC 3339 (section 5.6) or malformed: time.Time's own
// parser takes a one-digit hour, a comma before the fraction, and offsets
// such as +24:00, which moved the time by a day.
func TestJSONTimesAreRFC3339(t *testing.T) {
	c := events.NewJSONCodec(nil)
	const at = `2026-03-02T09:15:00Z`
	for _, tt := range []struct{ at, says string }{
		{"2026-03-02T09:15:00+24:00", "offset +24:00 is out of range"},
		{"2026-03-02T09:15:00+23:60", "offset +23:60 is out of range"},
		{"2026-03-02T9:15:00Z", "is not RFC 3339"},
		{"2026-03-02T09:15:00,5Z", "is not RFC 3339"},
		{"2026-03-02T09:15:00.Z", "no digit after the dot"},
		{"2026-03-02 09:15:00Z", "is not RFC 3339"},
		{"2026-03-02T09:15:00+0200", "is not RFC 3339"},
		{"2026-03-02T09:15:00+02:00:30", "is not RFC 3339"},
		{"2026-03-02T09:15:00", "is not RFC 3339"},
		{"2026-3-2T09:15:00Z", "is not RFC 3339"},
		{"2026-02-30T09:15:00Z", "out of range"},
		{"2026-03-02T24:00:00Z", "out of range"},
		// Second 60 is a leap second, at 23:59:60 UTC only.
		{"2016-12-31T23:59:61Z", "second out of range"},
		{"2026-03-02T09:15:60Z", "second 60 is a leap second, which is 23:59:60 UTC only"},
		{"2026-03-02T12:00:60+02:00", "second 60 is a leap second"},
		{"2016-12-31T23:59:60+02:00", "second 60 is a leap second"},
	} {
		input := strings.Replace(domainExample, at, tt.at, 1)
		_, err := c.Decode([]byte(input))
		assert.ErrorIs(t, err, events.ErrMalformed, tt.at)
		assert.ErrorContains(t, err, tt.says, tt.at)
		assert.Equal(t, "at", decodeError(t, err).Field, tt.at)
	}
	for s, want := range map[string]time.Time{
		"2026-03-02t09:15:00z":                time.Date(2026, 3, 2, 9, 15, 0, 0, time.UTC),
		"2026-03-02T09:15:00.5+02:00":         time.Date(2026, 3, 2, 7, 15, 0, 5e8, time.UTC),
		"2026-03-02T09:15:00.123456789-23:59": time.Date(2026, 3, 3, 9, 14, 0, 123456789, time.UTC),
		"2026-03-02T09:15:00+00:00":           time.Date(2026, 3, 2, 9, 15, 0, 0, time.UTC),
		// A leap second, which Go's times do not have: the last
		// nanosecond before the next second, whatever its fraction.
		"2016-12-31T23:59:60Z":        time.Date(2016, 12, 31, 23, 59, 59, 999999999, time.UTC),
		"2016-12-31T23:59:60.25Z":     time.Date(2016, 12, 31, 23, 59, 59, 999999999, time.UTC),
		"2017-01-01T01:59:60.5+02:00": time.Date(2016, 12, 31, 23, 59, 59, 999999999, time.UTC),
	} {
		e, err := c.Decode([]byte(strings.Replace(domainExample, at, s, 1)))
		require.NoError(t, err, s)
		assert.Equal(t, want, e.At, s)
	}
}

// The JSON codec refuses to write text that is not UTF-8, which
// encoding/json would write as U+FFFD: two customers whose keys differ
// only there would read back as one. U+FFFD itself, and the text
// "\ufffd", are written and read back as they are.
func TestJSONDoesNotWriteWhatIsNotText(t *testing.T) {
	c := events.NewJSONCodec(nil)
	opened := func(key string, meta events.Meta) events.Envelope {
		e := envelopeOf(0, &events.Opened{Customer: events.Customer{Keys: []string{key}}, Channel: "phone", Topic: "billing", Contact: contactID})
		e.Meta = meta
		return e
	}
	raw := func(text string) events.Envelope {
		e := opened("account:Muller", nil)
		e.Data.(*events.Opened).Extra = events.Extra{"note": json.RawMessage(text)}
		return e
	}
	for _, e := range []events.Envelope{
		opened("account:M\xfcller", nil),
		opened("account:Muller", events.Meta{"tenant": "M\xfcller"}),
		raw("\"M\xfcller\""), // passed through by encoding/json as it is
		raw(`"M\ud800ller"`), // half a surrogate pair, likewise
	} {
		_, err := c.Append(nil, e)
		assert.ErrorIs(t, err, events.ErrInvalidEvent)
		assert.Regexp(t, `not UTF-8|half a surrogate pair`, err.Error())
	}
	for _, key := range []string{"account:M\uFFFDller", `account:M\ufffdller`, `account:M\\ufffd`} {
		e := opened(key, events.Meta{"note": key})
		b, err := c.Append(nil, e)
		require.NoError(t, err, key)
		got, err := c.Decode(b)
		require.NoError(t, err, key)
		assert.Equal(t, e, got, key)
	}
}

// An event whose envelope reads but whose data (or schema) does not comes
// back in its DecodeError as read, without data, in both codecs; an
// envelope that does not read gives none.
func TestADecodeErrorOfDataHoldsTheEnvelope(t *testing.T) {
	e := envelopeOf(0, &events.Routed{Contact: contactID, Queue: "billing", Wait: time.Second})
	want := e
	want.Data = nil
	j := events.NewJSONCodec(nil)
	b, err := j.Append(nil, e)
	require.NoError(t, err)
	m := events.NewMsgpackCodec(nil)
	mb, err := m.Append(nil, e)
	require.NoError(t, err)
	for name, spoilt := range map[string]struct {
		c events.Codec
		b []byte
	}{
		"json data":      {j, []byte(strings.Replace(string(b), `"wait_ms":1000`, `"wait_ms":"x"`, 1))},
		"json schema":    {j, []byte(strings.Replace(string(b), `"type":"issue.routed"`, `"type":"issue.routed","schema":9`, 1))},
		"msgpack data":   {m, replaceAfter(mb, "wait_ms", nil, []byte{0xa1, 'x'}, 3)},
		"msgpack schema": {m, replaceAfter(mb, "issue.routed", nil, []byte{0x09}, 1)},
	} {
		_, err := spoilt.c.Decode(spoilt.b)
		require.ErrorIs(t, err, events.ErrMalformed, name)
		de := decodeError(t, err)
		require.NotNil(t, de.Event, name)
		assert.Equal(t, want, *de.Event, name)
	}
	_, err = j.Decode([]byte(strings.Replace(string(b), e.ID.String(), "nope", 1)))
	require.ErrorIs(t, err, events.ErrMalformed)
	assert.Nil(t, decodeError(t, err).Event, "the envelope did not read")
}

// A line that holds a JSON value other than an object is told as what it
// is, where it starts.
func TestJSONNamesAValueThatIsNotAnObject(t *testing.T) {
	c := events.NewJSONCodec(nil)
	for in, want := range map[string]string{`null`: "null", ` [1]`: "an array", `5`: "a number", `"x"`: "a string", `true`: "a boolean"} {
		_, err := c.Decode([]byte(in))
		require.ErrorIs(t, err, events.ErrMalformed, in)
		assert.ErrorContains(t, err, "want an event object, found "+want, in)
		assert.Equal(t, strings.Index(in, strings.TrimSpace(in)), decodeError(t, err).Offset, in)
	}
	_, err := c.Decode([]byte(`nul`))
	assert.ErrorContains(t, err, "invalid character", "not JSON at all: the syntax error")
}

// A value of the wrong kind is named in the wire format's words, with its
// field: encoding/json's own message named the Go
// struct and type ("cannot unmarshal number 1500.5 into Go struct field
// routedJSON.wait_ms of type int64").
func TestJSONValuesOfTheWrongKindSayWhatIsWanted(t *testing.T) {
	const head = `{"id":"0193a4c2-7a9e-7c61-9d41-1a2b3c4d5e6f","issue":"0193a4c2-7a9e-7000-8000-000000000001",`
	for _, tc := range []struct{ rest, field, want string }{
		{`"version":2,"type":"issue.routed","at":"2026-03-02T09:15:00Z","data":{"contact":"0193a4c2-7a9e-7000-8000-0000000000c1","queue":"q","wait_ms":1500.5}}`,
			"data.wait_ms", "want a whole number, written without a point or an exponent, found the number 1500.5"},
		{`"version":2,"type":"issue.routed","at":"2026-03-02T09:15:00Z","data":{"contact":"0193a4c2-7a9e-7000-8000-0000000000c1","queue":7}}`,
			"data.queue", "want a string, found a number"},
		{`"version":2,"type":"issue.resolved","at":"2026-03-02T09:15:00Z","data":{"contact":"0193a4c2-7a9e-7000-8000-0000000000c1","bot":"yes"}}`,
			"data.bot", "want true or false, found a string"},
		{`"version":2,"type":"issue.opened","at":"2026-03-02T09:15:00Z","data":{"customer":{"keys":"email:a@b.c"},"channel":"chat","topic":"t","contact":"0193a4c2-7a9e-7000-8000-0000000000c1"}}`,
			"data.customer.keys", "want an array of strings, found a string"},
		{`"version":"2","type":"issue.classified","at":"2026-03-02T09:15:00Z","data":{"topic":"t"}}`,
			"version", "want a whole number from 1 to 9223372036854775807, found a string"},
		{`"version":2,"type":"issue.routed","at":"2026-03-02T09:15:00Z","data":{"contact":12,"queue":"q"}}`,
			"data.contact", "want an id, a UUID string, found a number"},
		// A whole number out of the field's range is whole all the same.
		{`"version":18446744073709551616,"type":"issue.classified","at":"2026-03-02T09:15:00Z","data":{"topic":"t"}}`,
			"version", "want a whole number from 1 to 9223372036854775807, found the number 18446744073709551616"},
		{`"version":2,"type":"issue.routed","at":"2026-03-02T09:15:00Z","data":{"contact":"0193a4c2-7a9e-7000-8000-0000000000c1","queue":"q","wait_ms":9223372036854775808}}`,
			"data.wait_ms", "want a whole number from -9223372036854775808 to 9223372036854775807, found the number 9223372036854775808"},
	} {
		in := head + tc.rest
		_, err := events.NewJSONCodec(nil).Decode([]byte(in))
		var de *events.DecodeError
		require.ErrorAs(t, err, &de, tc.field)
		assert.ErrorIs(t, err, events.ErrMalformed, tc.field)
		assert.Equal(t, tc.field, de.Field)
		assert.Contains(t, err.Error(), tc.want, tc.field)
		assert.NotContains(t, err.Error(), "Go ", tc.field)
	}
}

// An event of a type the reader does not know is of an unknown type
// whether it has data or not, as in msgpack, where a missing or null data
// was malformed, and without the envelope a reader that passes over bad
// events needs; an event of a known type without data is malformed, and
// its error holds the envelope as read.
func TestJSONEventWithoutDataOfAnUnknownType(t *testing.T) {
	c := events.NewJSONCodec(nil)
	head := `{"id":"0193a4c2-7a9e-7c61-9d41-1a2b3c4d5e6f","issue":"0193a4c2-7a9e-7000-8000-000000000001","version":2,"at":"2026-03-02T09:15:00Z",`
	for _, tail := range []string{`"type":"issue.merged"}`, `"type":"issue.merged","data":null}`} {
		_, err := c.Decode([]byte(head + tail))
		var unknown *events.UnknownTypeError
		require.ErrorAs(t, err, &unknown, tail)
		assert.Equal(t, events.Type("issue.merged"), unknown.Type)
		assert.Equal(t, uint64(2), unknown.Event.Version)
	}
	for _, tail := range []string{`"type":"issue.classified"}`, `"type":"issue.classified","data":null}`} {
		_, err := c.Decode([]byte(head + tail))
		require.ErrorIs(t, err, events.ErrMalformed, tail)
		de := decodeError(t, err)
		assert.Equal(t, "data", de.Field)
		assert.ErrorContains(t, err, "missing")
		require.NotNil(t, de.Event, "%s: the envelope as read", tail)
		assert.Equal(t, uint64(2), de.Event.Version)
	}
}

// A host type of a map keyed by a type that encoding/json reads no object
// into is told as such, not as an object where an object is wanted.
type anyKeyed struct {
	Tags map[any]any `json:"tags"`
}

func (*anyKeyed) EventType() events.Type { return "host.anykeyed" }

func TestJSONNamesAMapKeyItCannotRead(t *testing.T) {
	reg := events.NewRegistry()
	require.NoError(t, reg.Register("host.anykeyed", 1, func() events.Data { return new(anyKeyed) }))
	in := `{"id":"0193a4c2-7a9e-7c61-9d41-1a2b3c4d5e6f","issue":"0193a4c2-7a9e-7000-8000-000000000001","version":2,"type":"host.anykeyed","at":"2026-03-02T09:15:00Z","data":{"tags":{"a":1}}}`
	_, err := events.NewJSONCodec(reg).Decode([]byte(in))
	require.ErrorIs(t, err, events.ErrMalformed)
	assert.Equal(t, "data.tags", decodeError(t, err).Field)
	assert.ErrorContains(t, err, "found an object, which cannot be read into a map keyed by interface {}")
	assert.NotContains(t, err.Error(), "want an object")
}
