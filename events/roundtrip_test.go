package events_test

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/truefcr/truefcr/events"
)

var (
	contactID = uuid.MustParse("0193a4c2-7a9e-7000-8000-0000000000c1")
	issueID   = uuid.MustParse("0193a4c2-7a9e-7000-8000-000000000001")
	eventID   = uuid.MustParse("0193a4c2-7a9e-7c61-9d41-1a2b3c4d5e6f")
	eventTime = time.Date(2026, 3, 2, 9, 15, 0, 123456789, time.UTC)
)

// extras holds unknown data fields of every JSON type, as both codecs
// decode them.
func extras() events.Extra {
	return events.Extra{
		"priority": json.Number("2"),
		"ratio":    json.Number("0.25"),
		"tweet":    json.Number("1152921504606846977"), // beyond float64's 2^53
		"vip":      true,
		"note":     "called twice",
		"nothing":  nil,
		"labels":   []any{"urgent", json.Number("3"), false},
		"crm":      map[string]any{"case": "CS-1001", "score": json.Number("-1.5"), "tags": []any{"a"}},
	}
}

// dataCases holds every built-in type with its optional fields set, and
// with only its required ones.
var dataCases = []struct {
	name string
	data func() events.Data
}{
	{"opened full", func() events.Data {
		return &events.Opened{
			Customer: events.Customer{ID: "C-1001", Keys: []string{"phone:+358401234567", "email:anna@example.com", "account:A-1001"},
				Extra: events.Extra{"name": "Anna", "since": json.Number("2019")}},
			Channel: "phone", Topic: "billing/invoice-error", Contact: contactID, Extra: extras(),
		}
	}},
	{"opened by id only", func() events.Data {
		return &events.Opened{Customer: events.Customer{ID: "C-1001"}, Channel: "chat", Topic: "billing", Contact: contactID}
	}},
	{"opened by one key", func() events.Data {
		return &events.Opened{Customer: events.Customer{Keys: []string{"phone:+358401234567"}}, Channel: "chat", Topic: "billing", Contact: contactID}
	}},
	{"routed full", func() events.Data {
		return &events.Routed{Contact: contactID, Queue: "billing", Agent: "agent-7", Skills: []string{"fi", "billing", "sv"}, Wait: 42500 * time.Millisecond, Extra: extras()}
	}},
	{"routed minimal", func() events.Data { return &events.Routed{Contact: contactID, Queue: "billing"} }},
	{"consulted full", func() events.Data {
		return &events.Consulted{Contact: contactID, Agent: "agent-7", Expert: "expert-1", Duration: 90 * time.Second, Extra: extras()}
	}},
	{"consulted minimal", func() events.Data {
		return &events.Consulted{Contact: contactID, Agent: "agent-7", Expert: "expert-1"}
	}},
	{"resolved full", func() events.Data {
		return &events.Resolved{Contact: contactID, Agent: "bot-1", Bot: true, Code: "refund", Handle: 5 * time.Minute, Extra: extras()}
	}},
	{"resolved minimal", func() events.Data { return &events.Resolved{Contact: contactID} }},
	{"reopened full", func() events.Data {
		return &events.Reopened{Contact: contactID, Channel: "social", Reason: "still wrong", Extra: extras()}
	}},
	{"reopened minimal", func() events.Data { return &events.Reopened{Contact: contactID, Channel: "web"} }},
	{"contacted full", func() events.Data {
		return &events.Contacted{Contact: contactID, Channel: "email", Extra: extras()}
	}},
	{"abandoned full", func() events.Data {
		return &events.Abandoned{Contact: contactID, Wait: 3 * time.Minute, Extra: extras()}
	}},
	{"abandoned minimal", func() events.Data { return &events.Abandoned{Contact: contactID} }},
	{"rated full", func() events.Data {
		return &events.Rated{Survey: events.SurveyNPS, Score: 0, Contact: contactID, Extra: extras()}
	}},
	{"rated about the issue", func() events.Data { return &events.Rated{Survey: events.SurveyCES, Score: 7} }},
	{"classified full", func() events.Data {
		return &events.Classified{Topic: "billing/refund", Topics: []string{"billing", "refund"}, Extra: extras()}
	}},
	{"classified minimal", func() events.Data { return &events.Classified{Topic: "billing"} }},
}

// envelopeOf wraps data in an envelope, with metadata for some cases.
func envelopeOf(i int, d events.Data) events.Envelope {
	e := events.Envelope{ID: eventID, Issue: issueID, Version: uint64(i + 1), At: eventTime.Add(time.Duration(i) * time.Hour), Data: d}
	if i%2 == 0 {
		e.Meta = events.Meta{events.MetaCorrelationID: "corr-1", events.MetaPartitionKey: "C-1001", "ümlaut": "ä"}
	}
	return e
}

func TestEveryTypeRoundTripsThroughBothCodecs(t *testing.T) {
	mp, js := events.NewMsgpackCodec(nil), events.NewJSONCodec(nil)
	for i, tt := range dataCases {
		t.Run(tt.name, func(t *testing.T) {
			want := envelopeOf(i, tt.data())
			for _, c := range []events.Codec{mp, js} {
				b, err := c.Append(nil, want)
				require.NoError(t, err, c.Name())
				got, err := c.Decode(b)
				require.NoError(t, err, c.Name())
				assert.Equal(t, want, got, c.Name())
			}

			// msgpack → json → msgpack gives the same event and bytes.
			b1, err := mp.Append(nil, want)
			require.NoError(t, err)
			e1, err := mp.Decode(b1)
			require.NoError(t, err)
			j, err := js.Append(nil, e1)
			require.NoError(t, err)
			e2, err := js.Decode(j)
			require.NoError(t, err)
			b2, err := mp.Append(nil, e2)
			require.NoError(t, err)
			assert.Equal(t, b1, b2, "msgpack bytes after a trip through json")
			assert.Equal(t, want, e2)
		})
	}
}

func TestDecodedStringsDoNotAliasTheInput(t *testing.T) {
	c := events.NewMsgpackCodec(nil)
	want := envelopeOf(0, dataCases[0].data())
	b, err := c.Append(nil, want)
	require.NoError(t, err)
	got, err := c.Decode(b)
	require.NoError(t, err)
	for i := range b {
		b[i] = 0xff // the caller reuses its buffer
	}
	assert.Equal(t, want, got)
}

// Decode reads an event of up to 384 bytes in place and copies what its
// strings need into the allocation of its data; a longer one is copied
// first. Whatever the type, the metadata and the size, on either side of
// every step of that room, nothing it returns shares the caller's bytes.
func TestDecodedStringsDoNotAliasTheInputAtAnySize(t *testing.T) {
	c := events.NewMsgpackCodec(nil)
	for i, tt := range dataCases {
		for _, withMeta := range []bool{false, true} {
			for pad := 0; pad <= 450; pad += 3 {
				want := envelopeOf(i, tt.data())
				want.Meta = nil
				if withMeta {
					want.Meta = events.Meta{events.MetaCorrelationID: "corr-1", "pad": strings.Repeat("ü", pad/2)}
				} else if pad > 0 {
					// The data alone grows, by a field it does not know.
					x := events.Extra{"pad": strings.Repeat("x", pad)}
					want = envelopeOf(i, withExtra(t, tt.data(), x))
					want.Meta = nil
				}
				b, err := c.Append(nil, want)
				require.NoError(t, err)
				got, err := c.Decode(b)
				require.NoError(t, err, "%s, %d bytes", tt.name, len(b))
				for j := range b {
					b[j] = 0xff // the caller reuses its buffer
				}
				require.Equal(t, want, got, "%s, %d bytes", tt.name, len(b))
			}
		}
	}
}

// A built-in event without metadata or Extra costs Decode one
// allocation up to 384 bytes, and two beyond.
func TestMsgpackDecodeAllocatesOnce(t *testing.T) {
	c := events.NewMsgpackCodec(nil)
	long := &events.Contacted{Contact: contactID, Channel: strings.Repeat("c", 400)}
	cases := []events.Data{long}
	for _, tt := range dataCases {
		if x := reflect.ValueOf(tt.data()).Elem().FieldByName("Extra"); !x.IsValid() || x.Len() == 0 {
			cases = append(cases, tt.data())
		}
	}
	require.Greater(t, len(cases), 5)
	for i, d := range cases {
		e := envelopeOf(i, d)
		e.Meta = nil
		b, err := c.Append(nil, e)
		require.NoError(t, err)
		want := 1.0
		if d == long {
			require.Greater(t, len(b), 384)
			want = 2
		}
		allocs := testing.AllocsPerRun(50, func() {
			if _, err := c.Decode(b); err != nil {
				t.Fatal(err)
			}
		})
		assert.Equal(t, want, allocs, "%s, %d bytes", d.EventType(), len(b))
	}
}

// withExtra returns d with Extra x, for the built-in types that keep one.
func withExtra(t *testing.T, d events.Data, x events.Extra) events.Data {
	t.Helper()
	v := reflect.ValueOf(d).Elem().FieldByName("Extra")
	require.True(t, v.IsValid(), "%T has an Extra", d)
	v.Set(reflect.ValueOf(x))
	return d
}

func TestDecodedSlicesCanGrow(t *testing.T) {
	c := events.NewMsgpackCodec(nil)
	two := &events.Opened{Customer: events.Customer{Keys: []string{"phone:+1", "email:a@b"}}, Channel: "chat", Topic: "t", Contact: contactID}
	b, err := c.Append(nil, envelopeOf(1, two))
	require.NoError(t, err)
	first, err := c.Decode(b)
	require.NoError(t, err)
	second, err := c.Decode(b)
	require.NoError(t, err)

	o := first.Data.(*events.Opened)
	o.Customer.Keys[1] = "changed"
	o.Customer.Keys = append(o.Customer.Keys, "account:A-1")
	assert.Equal(t, []string{"phone:+1", "changed", "account:A-1"}, o.Customer.Keys)
	assert.Equal(t, two, second.Data, "one decoded event's slices are its own")
}

func TestMsgpackDecodesWhatAnyMsgpackLibraryReads(t *testing.T) {
	// The encoding is plain msgpack: a generic decoder reads the envelope.
	b, err := events.NewMsgpackCodec(nil).Append(nil, envelopeOf(0, dataCases[0].data()))
	require.NoError(t, err)
	var generic []any
	require.NoError(t, msgpack.Unmarshal(b, &generic))
	require.Len(t, generic, 9)
	assert.Equal(t, "issue.opened", generic[4])
	data, ok := generic[8].(map[string]any)
	require.True(t, ok, "data is a map keyed by wire names")
	assert.Equal(t, "billing/invoice-error", data["topic"])
	assert.Equal(t, "called twice", data["note"])
}

func TestExtraHasTheTypesOfJSONInBothCodecs(t *testing.T) {
	in := events.Extra{
		"n": 3, "big": int64(1) << 40, "neg": int8(-4), "half": float32(0.5),
		"list": []int{1, 2}, "obj": map[string]int{"a": 1}, "byKey": map[int]string{7: "x"},
		"bytes": []byte{1, 2}, "at": time.Date(2026, 3, 2, 9, 15, 0, 0, time.UTC),
		"struct": struct {
			Name string `json:"name"`
		}{"x"},
	}
	want := events.Extra{
		"n": json.Number("3"), "big": json.Number("1099511627776"), "neg": json.Number("-4"), "half": json.Number("0.5"),
		"list": []any{json.Number("1"), json.Number("2")}, "obj": map[string]any{"a": json.Number("1")}, "byKey": map[string]any{"7": "x"},
		"bytes": "AQI=", "at": "2026-03-02T09:15:00Z",
		"struct": map[string]any{"name": "x"},
	}
	for _, c := range codecsOf(nil) {
		b, err := c.Append(nil, envelopeOf(1, &events.Contacted{Contact: contactID, Channel: "chat", Extra: in}))
		require.NoError(t, err, c.Name())
		got, err := c.Decode(b)
		require.NoError(t, err, c.Name())
		assert.Equal(t, want, got.Data.(*events.Contacted).Extra, c.Name())
	}
}

// An unknown field's number keeps its digits through JSON, msgpack and
// JSON again: a 19-digit id would lose its last digits as a float64.
func TestExtraNumbersKeepTheirDigits(t *testing.T) {
	line := []byte(`{"id":"0193a4c2-7a9e-7c61-9d41-1a2b3c4d5e6f","issue":"0193a4c2-7a9e-7000-8000-000000000001",` +
		`"version":2,"type":"issue.contacted","at":"2026-03-02T09:15:00Z",` +
		`"data":{"contact":"0193a4c2-7a9e-7000-8000-0000000000c1","channel":"chat","tweet_id":1152921504606846977,"score":-0.125}}`)
	js, mp := events.NewJSONCodec(nil), events.NewMsgpackCodec(nil)
	e, err := js.Decode(line)
	require.NoError(t, err)
	assert.Equal(t, events.Extra{"tweet_id": json.Number("1152921504606846977"), "score": json.Number("-0.125")}, e.Data.(*events.Contacted).Extra)
	b, err := mp.Append(nil, e)
	require.NoError(t, err)
	e, err = mp.Decode(b)
	require.NoError(t, err)
	out, err := js.Append(nil, e)
	require.NoError(t, err)
	assert.Contains(t, string(out), `"tweet_id":1152921504606846977`)
	assert.Contains(t, string(out), `"score":-0.125`)
}

// msgpack writes an Extra number as an integer when it is one, however
// written, else as a float64, so that one value has one encoding; a number
// that neither holds with every digit is refused by msgpack and kept by
// JSON, which writes the text it read.
func TestExtraNumbersInMsgpack(t *testing.T) {
	js, mp := events.NewJSONCodec(nil), events.NewMsgpackCodec(nil)
	for _, tt := range []struct {
		in   any
		want json.Number // as msgpack reads it back; "" for refused
	}{
		{json.Number("2"), "2"}, {json.Number("2.0"), "2"}, {json.Number("2e0"), "2"}, {float64(2), "2"},
		{json.Number("1E2"), "100"}, {json.Number("-0"), "0"}, {json.Number("0.10"), "0.1"},
		{json.Number("-9223372036854775808"), "-9223372036854775808"}, {json.Number("18446744073709551615"), "18446744073709551615"},
		{json.Number("1e21"), "1e+21"}, {json.Number("0.1"), "0.1"}, {json.Number("3.141592653589793"), "3.141592653589793"},
		{json.Number("1e19"), "10000000000000000000"}, {float64(1 << 63), "9223372036854775808"},
		{json.Number("1234567890123456789.0"), "1234567890123456789"}, {json.Number("-9.223372036854775808e18"), "-9223372036854775808"},
		{json.Number("0e99999999999"), "0"}, {json.Number("1e20"), "100000000000000000000"}, {float64(1e20), "100000000000000000000"},
		// -2^63 as a float64 prints beyond int64: it stays a float64.
		{float64(math.MinInt64), "-9223372036854776000"}, {json.Number("-9223372036854776000"), "-9223372036854776000"},
		{json.Number("-9223372036854775809"), ""}, {json.Number("123456789012345678901234567890"), ""},
		{json.Number("1e400"), ""}, {json.Number("1e-400"), ""}, {json.Number("0.1000000000000000000001"), ""},
		{json.Number("0.10000000000000001"), ""}, {json.Number("1.23456789012345678901e19"), ""},
	} {
		e := envelopeOf(1, &events.Contacted{Contact: contactID, Channel: "chat", Extra: events.Extra{"x": tt.in}})
		b, err := mp.Append(nil, e)
		if tt.want == "" {
			assert.ErrorIs(t, err, events.ErrInvalidEvent, "%v", tt.in)
			assert.ErrorContains(t, err, `field "x"`)
			line, err := js.Append(nil, e)
			require.NoError(t, err, "%v", tt.in)
			assert.Contains(t, string(line), `"x":`+string(tt.in.(json.Number)), "JSON keeps the text")
			continue
		}
		require.NoError(t, err, "%v", tt.in)
		got, err := mp.Decode(b)
		require.NoError(t, err)
		assert.Equal(t, events.Extra{"x": tt.want}, got.Data.(*events.Contacted).Extra, "%v", tt.in)
		again, err := mp.Append(nil, got)
		require.NoError(t, err)
		assert.Equal(t, b, again, "%v: the same bytes once read back", tt.in)
	}
}

// However a value is written, msgpack writes it with the same bytes.
func TestExtraNumbersHaveOneMsgpackForm(t *testing.T) {
	mp := events.NewMsgpackCodec(nil)
	for _, spellings := range [][]any{
		{json.Number("2"), json.Number("2.0"), json.Number("2e0"), json.Number("0.2e1"), float64(2)},
		{json.Number("10000000000000000000"), json.Number("1e19"), json.Number("1.0e19"), float64(1e19)},
		{json.Number("100000000000000000000"), json.Number("1e20"), float64(1e20)},
		{json.Number("0.5"), json.Number("5e-1"), json.Number("0.50"), float64(0.5)},
	} {
		var first []byte
		for _, v := range spellings {
			b, err := mp.Append(nil, envelopeOf(1, &events.Contacted{Contact: contactID, Channel: "chat", Extra: events.Extra{"x": v}}))
			require.NoError(t, err, "%v", v)
			if first == nil {
				first = b
			}
			assert.Equal(t, first, b, "%v is written as %v is", v, spellings[0])
		}
	}
}

func TestExtraThatJSONCannotCarryIsRefused(t *testing.T) {
	tests := []struct {
		name  string
		value any
	}{
		{"NaN", math.NaN()},
		{"infinity", math.Inf(1)},
		{"a channel", make(chan int)},
		{"a json.Number that is no number", json.Number("12abc")},
	}
	for _, tt := range tests {
		for _, c := range codecsOf(nil) {
			_, err := c.Append(nil, envelopeOf(1, &events.Contacted{Contact: contactID, Channel: "chat", Extra: events.Extra{"x": tt.value}}))
			assert.ErrorIs(t, err, events.ErrInvalidEvent, "%s: %s", c.Name(), tt.name)
		}
	}
}

func TestMsgpackExtraFromOtherWriters(t *testing.T) {
	c := events.NewMsgpackCodec(nil)
	b, err := c.Append(nil, envelopeOf(1, &events.Contacted{Contact: contactID, Channel: "chat", Extra: events.Extra{"x": "AAAA"}}))
	require.NoError(t, err)
	// "x" is the last field: replace its value with what another writer sent.
	prefix := b[:len(b)-len("\xa4AAAA")]
	tests := []struct {
		name  string
		value []byte
		want  any // nil: refused
	}{
		{"int8", []byte{0xd0, 0xfb}, json.Number("-5")},
		{"uint64", []byte{0xcf, 0, 0, 0, 1, 0, 0, 0, 0}, json.Number("4294967296")},
		{"uint64 beyond int64", []byte{0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, json.Number("18446744073709551615")},
		{"float32", []byte{0xca, 0x3f, 0x00, 0x00, 0x00}, json.Number("0.5")},
		// A whole number reads as the integer msgpack writes for it.
		{"whole float64", []byte{0xcb, 0x41, 0x30, 0x30, 0x30, 0x00, 0x00, 0x00, 0x00}, json.Number("1060912")},
		{"whole float64 beyond int64", []byte{0xcb, 0x43, 0xe0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, json.Number("9223372036854775808")},
		{"whole float64 beyond uint64", []byte{0xcb, 0x7e, 0x37, 0xe4, 0x3c, 0x88, 0x00, 0x75, 0x9c}, json.Number("1e+300")},
		{"negative zero", []byte{0xcb, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, json.Number("0")},
		{"array of ints", []byte{0x92, 0x01, 0x02}, []any{json.Number("1"), json.Number("2")}},
		{"map with integer keys", []byte{0x81, 0x01, 0xa1, 'a'}, nil},
		{"bytes", []byte{0xc4, 0x01, 0x00}, nil},
		{"NaN", []byte{0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Decode(append(append([]byte{}, prefix...), tt.value...))
			if tt.want == nil {
				assert.ErrorIs(t, err, events.ErrMalformed)
				assert.ErrorContains(t, err, `field "x"`)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, events.Extra{"x": tt.want}, got.Data.(*events.Contacted).Extra)
		})
	}
}

// The largest version, which JSON writes as any other, reads back from
// msgpack too.
func TestTheLargestVersionRoundTrips(t *testing.T) {
	e := envelopeOf(1, &events.Contacted{Contact: contactID, Channel: "chat"})
	e.Version = math.MaxUint64
	for _, c := range codecsOf(nil) {
		b, err := c.Append(nil, e)
		require.NoError(t, err, c.Name())
		got, err := c.Decode(b)
		require.NoError(t, err, c.Name())
		assert.Equal(t, uint64(math.MaxUint64), got.Version, c.Name())
	}
}

// A type name that needs escaping in JSON, even a rune that Go would
// escape as \U, is written as valid JSON and read back.
func TestJSONWritesAnyTypeNameAsJSON(t *testing.T) {
	reg := events.NewRegistry()
	typ := events.Type("x.\U000F0000\"\\<")
	require.NoError(t, registerNamed(reg, typ))
	c := events.NewJSONCodec(reg)
	b, err := c.Append(nil, envelopeOf(1, &named{name: typ}))
	require.NoError(t, err)
	assert.True(t, json.Valid(b), "%s", b)
	got, err := c.Decode(b)
	require.NoError(t, err)
	assert.Equal(t, typ, got.Data.EventType())
}

// An upcaster sees numbers as float64, which holds an integer's digits up
// to 2^53 only; the numbers it leaves where they were are read as they
// were written, every digit kept, whichever codec read the event. One it
// changed is read as it returned it.
func TestUpcastingKeepsTheDigitsOfTheNumbersItLeaves(t *testing.T) {
	old := events.Envelope{ID: uuid.New(), Issue: uuid.New(), Version: 2, At: time.Date(2026, 3, 2, 9, 15, 0, 0, time.UTC),
		Data: &events.Contacted{Contact: uuid.New(), Channel: "chat", Extra: events.Extra{
			"tweet_id": json.Number("1152921504606846977"),
			"thread":   map[string]any{"root_id": json.Number("1152921504606846979"), "ids": []any{json.Number("1152921504606846981")}},
			"count":    json.Number("9007199254740993"),
		}}}
	reg := events.NewRegistry()
	require.NoError(t, reg.Register(events.TypeContacted, 2, func() events.Data { return new(events.Contacted) }))
	require.NoError(t, reg.AddUpcaster(events.TypeContacted, 1, func(f map[string]any) (map[string]any, error) {
		f["count"] = f["count"].(float64) * 2 // changed: as returned
		return f, nil
	}))
	throughUpcast(t, nil, reg, old, func(codec string, _, e events.Envelope) {
		x := e.Data.(*events.Contacted).Extra
		assert.Equal(t, json.Number("1152921504606846977"), x["tweet_id"], codec)
		assert.Equal(t, map[string]any{"root_id": json.Number("1152921504606846979"), "ids": []any{json.Number("1152921504606846981")}}, x["thread"], codec)
		assert.Equal(t, json.Number("18014398509481984"), x["count"], "%s: 2^53+1 as a float64, doubled", codec)
	})
}

// digitsHost is a host's type with an integer field.
type digitsHost struct {
	N int64 `json:"n"`
}

func (digitsHost) EventType() events.Type { return "acme.digits" }

// A host's type read by JSON through an upcaster that leaves an int64
// field as it was keeps its digits too.
func TestUpcastingKeepsTheDigitsOfAHostsInteger(t *testing.T) {
	v1, v2 := events.NewRegistry(), events.NewRegistry()
	require.NoError(t, v1.Register("acme.digits", 1, func() events.Data { return new(digitsHost) }))
	require.NoError(t, v2.Register("acme.digits", 2, func() events.Data { return new(digitsHost) }))
	require.NoError(t, v2.AddUpcaster("acme.digits", 1, identityUpcast))
	e := events.Envelope{ID: uuid.New(), Issue: uuid.New(), Version: 1, At: time.Date(2026, 3, 2, 9, 15, 0, 0, time.UTC),
		Data: &digitsHost{N: 1152921504606846977}}
	throughUpcast(t, v1, v2, e, func(codec string, _, got events.Envelope) {
		assert.Equal(t, int64(1152921504606846977), got.Data.(*digitsHost).N, codec)
	})
}

// A number that is not an integer beyond what a float64 holds is read as
// the upcaster returns it: "30000.0" rounded by one to 30000 is a whole
// number of milliseconds, as it was before the upcaster's numbers kept
// their digits.
func TestUpcastingReadsOtherNumbersAsReturned(t *testing.T) {
	line := []byte(`{"id":"0193a4c2-7a9e-7c61-9d41-1a2b3c4d5e6f","issue":"0193a4c2-7a9e-7000-8000-000000000001",` +
		`"version":2,"type":"issue.routed","at":"2026-03-02T09:15:00Z",` +
		`"data":{"contact":"0193a4c2-7a9e-7000-8000-0000000000c1","queue":"q","wait_ms":30000.0,"note_id":1152921504606846977}}`)
	reg := events.NewRegistry()
	require.NoError(t, reg.Register(events.TypeRouted, 2, func() events.Data { return new(events.Routed) }))
	require.NoError(t, reg.AddUpcaster(events.TypeRouted, 1, func(f map[string]any) (map[string]any, error) {
		f["wait_ms"] = math.Round(f["wait_ms"].(float64))
		return f, nil
	}))
	e, err := events.NewJSONCodec(reg).Decode(line)
	require.NoError(t, err)
	r := e.Data.(*events.Routed)
	assert.Equal(t, 30*time.Second, r.Wait)
	assert.Equal(t, events.Extra{"note_id": json.Number("1152921504606846977")}, r.Extra)
}

// Integers that a float64 holds but encoding/json writes with an exponent
// (10^21 and more), and big integers as deep as values may nest, come out
// of an upcaster that leaves them as the codec reads them without one
// (msgpack holds 10^21 as a float64, and reads it back as 1e+21).
func TestUpcastingKeepsTheDigitsOfHugeAndDeepIntegers(t *testing.T) {
	deep := any(json.Number("1152921504606846977"))
	for range 64 {
		deep = []any{deep}
	}
	old := events.Envelope{ID: uuid.New(), Issue: uuid.New(), Version: 2, At: time.Date(2026, 3, 2, 9, 15, 0, 0, time.UTC),
		Data: &events.Contacted{Contact: uuid.New(), Channel: "chat", Extra: events.Extra{
			"huge": json.Number("1000000000000000000000"),
			"deep": deep,
		}}}
	reg := events.NewRegistry()
	require.NoError(t, reg.Register(events.TypeContacted, 2, func() events.Data { return new(events.Contacted) }))
	require.NoError(t, reg.AddUpcaster(events.TypeContacted, 1, identityUpcast))
	throughUpcast(t, nil, reg, old, func(codec string, plain, e events.Envelope) {
		x := e.Data.(*events.Contacted).Extra
		assert.Equal(t, plain.Data.(*events.Contacted).Extra["huge"], x["huge"], codec)
		if codec == "json" {
			assert.Equal(t, json.Number("1000000000000000000000"), x["huge"])
		}
		v := x["deep"]
		for range 64 {
			l, ok := v.([]any)
			require.True(t, ok, codec)
			v = l[0]
		}
		assert.Equal(t, json.Number("1152921504606846977"), v, codec)
	})
}
