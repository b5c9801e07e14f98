package events_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/truefcr/truefcr/events"
)

// fitsAny writes whatever members it holds: data of another writer, or of
// an earlier schema, for fitsTyped to read.
type fitsAny map[string]any

func (*fitsAny) EventType() events.Type { return "acme.fits" }

type fitsInner struct {
	Counts []uint16 `json:"counts"`
	Top    uint8    `json:"top,omitempty"`
}

// fitsTyped reads fitsAny's members into integer fields of every width.
type fitsTyped struct {
	N     uint8                `json:"n,omitempty"`
	U     uint64               `json:"u,omitempty"`
	I     int32                `json:"i,omitempty"`
	J     int64                `json:"j,omitempty"`
	K     int                  `json:"k,omitempty"`
	F     float64              `json:"f,omitempty"`
	Keyed map[uint8]string     `json:"keyed,omitempty"`
	Deep  map[string]fitsInner `json:"deep,omitempty"`
	Many  map[string]fitsInner `json:"many,omitempty"`
	Any   any                  `json:"any,omitempty"`
}

func (*fitsTyped) EventType() events.Type { return "acme.fits" }

// fitsCodecs returns the writer's and the reader's codec of each kind.
func fitsCodecs(t *testing.T) [][2]events.Codec {
	t.Helper()
	w, r := events.NewRegistry(), events.NewRegistry()
	require.NoError(t, w.Register("acme.fits", 1, func() events.Data { return new(fitsAny) }))
	require.NoError(t, r.Register("acme.fits", 1, func() events.Data { return new(fitsTyped) }))
	return [][2]events.Codec{
		{events.NewMsgpackCodec(w), events.NewMsgpackCodec(r)},
		{events.NewJSONCodec(w), events.NewJSONCodec(r)},
	}
}

func fitsEnvelope(d events.Data) events.Envelope {
	return events.Envelope{ID: uuid.New(), Issue: uuid.New(), Version: 1,
		At: time.Date(2026, 3, 2, 9, 15, 0, 0, time.UTC), Data: d}
}

// Both codecs refuse a number that does not fit its integer field, and
// name the member; the msgpack decoder alone would have wrapped it, to 0
// for some, which a field tagged omitempty then does not write back.
func TestANumberThatDoesNotFitItsFieldIsRefusedByBothCodecs(t *testing.T) {
	for _, tc := range []struct {
		data  fitsAny
		field string
	}{
		{fitsAny{"n": 300}, `"data.n"`},
		{fitsAny{"n": 256}, `"data.n"`}, // read as 0, which omitempty leaves out
		{fitsAny{"i": int64(1) << 32}, `"data.i"`},
		{fitsAny{"deep": map[string]any{"a": map[string]any{"top": 512}}}, `"data.deep.top"`},
		{fitsAny{"n": -1}, `"data.n"`},
		{fitsAny{"u": -1}, `"data.u"`},
		{fitsAny{"i": int64(1) << 40}, `"data.i"`},
		{fitsAny{"j": uint64(1) << 63}, `"data.j"`},
		{fitsAny{"k": 1.5}, `"data.k"`},
		{fitsAny{"deep": map[string]any{"a": map[string]any{"counts": []any{1, 70000}}}}, `"data.deep.counts"`},
		{fitsAny{"keyed": map[any]any{300: "x"}}, `"keyed"`},
		{fitsAny{"keyed": manyKeys(300)}, `"keyed"`}, // a map of more entries than are looked through one by one
		{fitsAny{"deep": manyInners(map[string]any{"counts": []any{1, 2, -3}})}, `"data.deep.counts"`},
	} {
		for _, c := range fitsCodecs(t) {
			if c[0].Name() == "json" && tc.field == `"keyed"` {
				continue // JSON keys are text: encoding/json writes no map[any]any
			}
			b, err := c[0].Append(nil, fitsEnvelope(&tc.data))
			require.NoError(t, err)
			got, err := c[1].Decode(b)
			require.Error(t, err, "%s read %v as %+v", c[0].Name(), tc.data, got.Data)
			assert.ErrorIs(t, err, events.ErrMalformed)
			assert.Contains(t, err.Error(), tc.field, c[0].Name())
		}
	}
}

// manyKeys returns a map of 40 keys that fit a uint8, and extra.
func manyKeys(extra int) map[any]any {
	m := map[any]any{extra: "extra"}
	for i := range 40 {
		m[i*6] = "k"
	}
	return m
}

// manyInners returns a map of 40 fitsInner members that fit, and one
// more whose members are last.
func manyInners(last map[string]any) map[string]any {
	m := map[string]any{"zz": last}
	for i := range 40 {
		m[fmt.Sprintf("m%02d", i)] = map[string]any{"counts": []any{i, 65535 - i}, "top": 200 + i}
	}
	return m
}

// What fits is read as it was written: the extremes of each width, a
// negative integer into an int, an integer into a float, and members that
// the type does not have.
func TestNumbersThatFitTheirFieldsAreRead(t *testing.T) {
	data := fitsAny{
		"n": 255, "u": uint64(math.MaxUint64), "i": math.MinInt32, "j": int64(math.MinInt64), "k": -2,
		"f":     3, // a whole number into a float field
		"keyed": map[any]any{0: "zero", 255: "top"},
		"deep":  map[string]any{"a": map[string]any{"counts": []any{0, 65535}}},
		"any":   uint64(1) << 63,
		"many":  manyInners(map[string]any{"counts": []any{}}),
		"other": int64(1) << 62, // a member fitsTyped does not have
	}
	want := &fitsTyped{N: 255, U: math.MaxUint64, I: math.MinInt32, J: math.MinInt64, K: -2,
		F: 3, Keyed: map[uint8]string{0: "zero", 255: "top"},
		Deep: map[string]fitsInner{"a": {Counts: []uint16{0, 65535}}}, Any: uint64(1) << 63,
		Many: map[string]fitsInner{"zz": {Counts: []uint16{}}}}
	for i := range 40 {
		want.Many[fmt.Sprintf("m%02d", i)] = fitsInner{Counts: []uint16{uint16(i), uint16(65535 - i)}, Top: uint8(200 + i)}
	}
	for _, c := range fitsCodecs(t) {
		d := data
		if c[0].Name() == "json" {
			d = fitsAny{}
			for k, v := range data {
				d[k] = v
			}
			delete(d, "keyed") // encoding/json writes no map[any]any
		}
		b, err := c[0].Append(nil, fitsEnvelope(&d))
		require.NoError(t, err)
		got, err := c[1].Decode(b)
		require.NoError(t, err, c[0].Name())
		w := *want
		if c[0].Name() == "json" {
			w.Keyed = nil
			w.Any = float64(uint64(1) << 63) // encoding/json reads a number into any as a float64
		}
		assert.True(t, reflect.DeepEqual(&w, got.Data), "%s: got %+v", c[0].Name(), got.Data)
	}
}

type fitsLevelV1 struct {
	Level int `json:"level"`
}

func (*fitsLevelV1) EventType() events.Type { return "acme.escalation" }

type fitsLevelV2 struct {
	Level uint8 `json:"level"` // schema 2: a percentage
}

func (*fitsLevelV2) EventType() events.Type { return "acme.escalation" }

// What an upcaster returns is read by the same rules: a number it makes
// too large for the field is refused, not wrapped.
func TestAnUpcastNumberThatDoesNotFitIsRefused(t *testing.T) {
	v1, v2 := events.NewRegistry(), events.NewRegistry()
	require.NoError(t, v1.Register("acme.escalation", 1, func() events.Data { return new(fitsLevelV1) }))
	require.NoError(t, v2.Register("acme.escalation", 2, func() events.Data { return new(fitsLevelV2) }))
	require.NoError(t, v2.AddUpcaster("acme.escalation", 1, func(f map[string]any) (map[string]any, error) {
		switch l := f["level"].(type) { // msgpack gives an int64, JSON a float64
		case int64:
			f["level"] = l * 100
		case float64:
			f["level"] = l * 100
		}
		return f, nil
	}))
	for _, c := range [][2]events.Codec{
		{events.NewMsgpackCodec(v1), events.NewMsgpackCodec(v2)},
		{events.NewJSONCodec(v1), events.NewJSONCodec(v2)},
	} {
		for level, ok := range map[int]bool{2: true, 3: false} { // 200 fits a uint8, 300 does not
			b, err := c[0].Append(nil, fitsEnvelope(&fitsLevelV1{Level: level}))
			require.NoError(t, err)
			got, err := c[1].Decode(b)
			if ok {
				require.NoError(t, err, c[0].Name())
				assert.Equal(t, &fitsLevelV2{Level: 200}, got.Data, c[0].Name())
				continue
			}
			require.Error(t, err, "%s read level 300 as %+v", c[0].Name(), got.Data)
			assert.Contains(t, err.Error(), `"data.level"`, c[0].Name())
		}
	}
}

// The two codecs agree, on integers of every size and sign read into
// fields of every width: both read a number that fits its field, as it
// was, and both refuse one that does not.
func TestBothCodecsReadTheIntegersThatFitAlike(t *testing.T) {
	edges := []any{int64(0), int64(1), int64(-1), int64(127), int64(128), int64(255), int64(256), int64(-128), int64(-129),
		int64(65535), int64(65536), int64(math.MaxInt32), int64(math.MaxInt32) + 1, int64(math.MinInt32), int64(math.MinInt32) - 1,
		int64(1) << 32, int64(math.MaxInt64), int64(math.MinInt64), uint64(math.MaxInt64) + 1, uint64(math.MaxUint64), 0.5, -2.5}
	fits := func(field string, x any) bool {
		switch n := x.(type) {
		case int64:
			switch field {
			case "n":
				return n >= 0 && n <= math.MaxUint8
			case "u":
				return n >= 0
			case "i":
				return n >= math.MinInt32 && n <= math.MaxInt32
			}
			return true
		case uint64:
			return field == "u" || n <= math.MaxInt64 && (field == "j" || field == "k")
		}
		return false // not a whole number
	}
	codecs := fitsCodecs(t)
	for _, field := range []string{"n", "u", "i", "j", "k"} {
		for _, x := range edges {
			want := fits(field, x)
			for _, c := range codecs {
				b, err := c[0].Append(nil, fitsEnvelope(&fitsAny{field: x}))
				require.NoError(t, err)
				got, err := c[1].Decode(b)
				if !want {
					assert.Error(t, err, "%s read %v into %s as %+v", c[0].Name(), x, field, got.Data)
					continue
				}
				if assert.NoError(t, err, "%s: %v into %s", c[0].Name(), x, field) {
					v := reflect.ValueOf(got.Data).Elem().FieldByName(map[string]string{"n": "N", "u": "U", "i": "I", "j": "J", "k": "K"}[field])
					assert.Equal(t, fmt.Sprint(x), fmt.Sprint(v.Interface()), "%s: %v into %s", c[0].Name(), x, field)
				}
			}
		}
	}
}

// fitsWideWriter writes its keyed member with every integer as an int64
// (0xd3), as a writer other than this codec may, where the codec writes
// the smallest form.
type fitsWideWriter struct{ keys []int64 }

func (*fitsWideWriter) EventType() events.Type { return "acme.fits" }

func (w *fitsWideWriter) EncodeMsgpack(e *msgpack.Encoder) error {
	e.UseCompactInts(false)
	if err := e.EncodeMapLen(1); err != nil {
		return err
	}
	if err := e.EncodeString("keyed"); err != nil {
		return err
	}
	if err := e.EncodeMapLen(len(w.keys)); err != nil {
		return err
	}
	for _, k := range w.keys {
		if err := e.EncodeInt64(k); err != nil {
			return err
		}
		if err := e.EncodeString("v"); err != nil {
			return err
		}
	}
	return nil
}

// Keys written in another form than the codec's own are the same keys:
// a large map of keys that fit is read, and one whose key does not is
// refused.
func TestMapKeysWrittenInAnotherFormAreCompared(t *testing.T) {
	w, r := events.NewRegistry(), events.NewRegistry()
	require.NoError(t, w.Register("acme.fits", 1, func() events.Data { return new(fitsWideWriter) }))
	require.NoError(t, r.Register("acme.fits", 1, func() events.Data { return new(fitsTyped) }))
	var keys []int64
	for i := range 40 {
		keys = append(keys, int64(i*6))
	}
	for _, extra := range []int64{255, 300} {
		b, err := events.NewMsgpackCodec(w).Append(nil, fitsEnvelope(&fitsWideWriter{keys: append(slices.Clip(keys), extra)}))
		require.NoError(t, err)
		got, err := events.NewMsgpackCodec(r).Decode(b)
		if extra == 300 {
			assert.ErrorContains(t, err, `"keyed"`)
			continue
		}
		require.NoError(t, err)
		assert.Len(t, got.Data.(*fitsTyped).Keyed, 41)
	}
}

type fitsPayload struct {
	A uint16 `json:"a"`
}

// fitsHolder reads its payload into what the constructor put there.
type fitsHolder struct {
	Payload any `json:"payload"`
}

func (*fitsHolder) EventType() events.Type { return "acme.fits" }

// A member that the constructor's value does not have, beside numbers
// that fit, is read as before: the check of omitted members gives the
// constructor's value, not a zero one, the members it probes.
func TestAnUnknownMemberBesideTheConstructorsValueIsRead(t *testing.T) {
	w, r := events.NewRegistry(), events.NewRegistry()
	require.NoError(t, w.Register("acme.fits", 1, func() events.Data { return new(fitsAny) }))
	require.NoError(t, r.Register("acme.fits", 1, func() events.Data { return &fitsHolder{Payload: &fitsPayload{}} }))
	data := fitsAny{"payload": map[string]any{"a": 200, "retired": 5}}
	for _, c := range [][2]events.Codec{
		{events.NewMsgpackCodec(w), events.NewMsgpackCodec(r)},
		{events.NewJSONCodec(w), events.NewJSONCodec(r)},
	} {
		b, err := c[0].Append(nil, fitsEnvelope(&data))
		require.NoError(t, err)
		got, err := c[1].Decode(b)
		require.NoError(t, err, c[0].Name())
		assert.Equal(t, &fitsPayload{A: 200}, got.Data.(*fitsHolder).Payload, c[0].Name())
	}
}

// A map key that wraps onto another key of the data is refused, naming
// a key as the data has it, the same at every decoding of the same
// bytes: the map had kept one entry of the two.
func TestAMapKeyThatWrapsOntoAnotherIsRefused(t *testing.T) {
	msgpackPair := fitsCodecs(t)[0]
	w, r := msgpackPair[0], msgpackPair[1]
	for _, keyed := range []map[any]any{{44: "real", 300: "wrapped"}, {300: "a", 400: "b", 500: "c", 600: "d"}} {
		b, err := w.Append(nil, fitsEnvelope(&fitsAny{"keyed": keyed}))
		require.NoError(t, err)
		msgs := map[string]bool{}
		for range 20 {
			got, err := r.Decode(b)
			require.Error(t, err, "read %v as %+v", keyed, got.Data)
			msgs[err.Error()] = true
		}
		assert.Len(t, msgs, 1, "%v", msgs)
		for m := range msgs {
			assert.Regexp(t, `"keyed": the key (300|400|500|600) does not fit the map's key type`, m)
		}
	}
}

// Ten bytes of data, an extension whose bytes start with the head of a
// map of 800 million entries, are refused without ending the process:
// the msgpack decoder reads a map through an extension's head, and the
// codec, naming the member at fault once the host's type refused the
// data, read it as a map[string]any, which the decoder made at that
// length. As a member of a built-in type's data, which reads it into an
// interface, it is an extension like another.
func TestAnExtensionHoldingAMapHeadLongerThanTheDataEndsNothing(t *testing.T) {
	hostile := []byte("\xd70\xdf0000000")
	_, err := fitsDecode(t, hostile, func() events.Data { return new(fitsTyped) })
	assert.ErrorIs(t, err, events.ErrMalformed)

	builtin := events.NewMsgpackCodec(nil)
	contacted, err := builtin.Append(nil, fitsEnvelope(&events.Contacted{Contact: uuid.New(), Channel: "chat", Extra: events.Extra{"x": 1.0}}))
	require.NoError(t, err)
	i := bytes.LastIndex(contacted, []byte{0xa1, 'x'}) // the data ends with member x
	require.Positive(t, i)
	_, _ = builtin.Decode(append(contacted[:i+2:i+2], hostile...))
}

// fitsRaw writes the msgpack bytes it holds as its data, as another
// writer may.
type fitsRaw struct{ b []byte }

func (*fitsRaw) EventType() events.Type            { return "acme.fits" }
func (r *fitsRaw) MarshalMsgpack() ([]byte, error) { return r.b, nil }

// fitsDecode decodes raw, an event's data, with the msgpack codec into
// the type newData makes.
func fitsDecode(t *testing.T, raw []byte, newData func() events.Data) (events.Data, error) {
	t.Helper()
	w, r := events.NewRegistry(), events.NewRegistry()
	require.NoError(t, w.Register("acme.fits", 1, func() events.Data { return new(fitsRaw) }))
	require.NoError(t, r.Register("acme.fits", 1, newData))
	b, err := events.NewMsgpackCodec(w).Append(nil, fitsEnvelope(&fitsRaw{raw}))
	require.NoError(t, err)
	got, err := events.NewMsgpackCodec(r).Decode(b)
	return got.Data, err
}

// fitsBytes writes msgpack values one after another.
type fitsBytes struct {
	buf bytes.Buffer
	e   *msgpack.Encoder
}

func newFitsBytes() *fitsBytes {
	z := &fitsBytes{}
	z.e = msgpack.NewEncoder(&z.buf)
	z.e.UseCompactInts(true)
	return z
}
func (z *fitsBytes) m(n int) *fitsBytes      { z.e.EncodeMapLen(n); return z }
func (z *fitsBytes) s(s string) *fitsBytes   { z.e.EncodeString(s); return z }
func (z *fitsBytes) bin(s string) *fitsBytes { z.e.EncodeBytes([]byte(s)); return z }
func (z *fitsBytes) i(n int64) *fitsBytes    { z.e.EncodeInt(n); return z }
func (z *fitsBytes) null() *fitsBytes        { z.e.EncodeNil(); return z }
func (z *fitsBytes) bytes() []byte           { return z.buf.Bytes() }

// Member names and string keys written as binaries, or a key as nil,
// which the decoder reads as strings, are compared as those strings.
func TestKeysWrittenAsBinariesOrNilAreCompared(t *testing.T) {
	typed := func() events.Data { return new(fitsTyped) }
	for name, raw := range map[string][]byte{
		"member name as a binary": newFitsBytes().m(1).bin("n").i(300).bytes(),
		"map key as a binary":     newFitsBytes().m(1).s("deep").m(1).bin("a").m(1).s("top").i(300).bytes(),
		"map key as nil":          newFitsBytes().m(1).s("deep").m(1).null().m(1).s("top").i(300).bytes(),
	} {
		d, err := fitsDecode(t, raw, typed)
		assert.Error(t, err, "%s: read 300 as %+v", name, d)
	}
	d, err := fitsDecode(t, newFitsBytes().m(1).bin("n").i(200).bytes(), typed)
	require.NoError(t, err)
	assert.Equal(t, uint8(200), d.(*fitsTyped).N)
}

type fitsBase struct {
	Level uint16 `json:"level"`
	Kind  string `json:"kind"`
}

// fitsShadow has a field of the msgpack name of one it embeds: the
// msgpack codec writes the name twice, and its decoder keeps the last
// value.
type fitsShadow struct {
	fitsBase
	Level uint16 `msgpack:"level"`
}

func (*fitsShadow) EventType() events.Type { return "acme.shadow" }

type fitsDefaults struct {
	Levels map[uint16]string `json:"levels"`
}

func (*fitsDefaults) EventType() events.Type { return "acme.fits" }

// fitsTruncating writes a value cut short, which its reader takes as it
// is.
type fitsTruncating struct{ raw msgpack.RawMessage }

func (o *fitsTruncating) UnmarshalMsgpack(b []byte) error { o.raw = b; return nil }
func (o fitsTruncating) MarshalMsgpack() ([]byte, error)  { return []byte{0x81, 0xd9}, nil }

type fitsWithTruncating struct {
	O fitsTruncating `json:"o"`
}

func (*fitsWithTruncating) EventType() events.Type { return "acme.fits" }

// What both codecs read, the msgpack codec reads whatever the numbers:
// a name written twice for a field and an embedded one, a constructor's
// map entry that the data does not have, a member given twice (the last
// counts, and fits), and a value that writes itself cut short.
func TestTheIntegerCheckRefusesNothingThatFits(t *testing.T) {
	agree(t, func() events.Data { return new(fitsShadow) }, &fitsShadow{fitsBase: fitsBase{Kind: "k"}, Level: 300})

	d, err := fitsDecode(t, newFitsBytes().m(1).s("levels").m(1).i(200).s("high").bytes(),
		func() events.Data { return &fitsDefaults{Levels: map[uint16]string{1: "low"}} })
	require.NoError(t, err)
	assert.Equal(t, map[uint16]string{1: "low", 200: "high"}, d.(*fitsDefaults).Levels)

	d, err = fitsDecode(t, newFitsBytes().m(2).s("k").i(300).s("k").i(5).bytes(), func() events.Data { return new(fitsTyped) })
	require.NoError(t, err)
	assert.Equal(t, 5, d.(*fitsTyped).K)

	assert.NotPanics(t, func() {
		_, err := fitsDecode(t, newFitsBytes().m(1).s("o").m(1).s("k").i(300).bytes(), func() events.Data { return new(fitsWithTruncating) })
		assert.NoError(t, err)
	})
}

// The integer check, after the decoder read any data into a type of
// integers of every width, maps, lists and an interface, does not panic.
func FuzzTheIntegerCheck(f *testing.F) {
	for _, raw := range [][]byte{
		newFitsBytes().m(1).s("n").i(300).bytes(),
		newFitsBytes().m(2).s("k").i(300).s("k").i(5).bytes(),
		newFitsBytes().m(1).s("deep").m(1).bin("a").m(1).s("top").i(300).bytes(),
		newFitsBytes().m(1).s("keyed").m(2).i(44).s("a").i(300).s("b").bytes(),
		{0x81, 0xa1, 'o', 0x81, 0xd9},
	} {
		f.Add(raw)
	}
	w, r := events.NewRegistry(), events.NewRegistry()
	require.NoError(f, w.Register("acme.fits", 1, func() events.Data { return new(fitsRaw) }))
	require.NoError(f, r.Register("acme.fits", 1, func() events.Data { return new(fitsTyped) }))
	writer, reader := events.NewMsgpackCodec(w), events.NewMsgpackCodec(r)
	f.Fuzz(func(t *testing.T, raw []byte) {
		b, err := writer.Append(nil, fitsEnvelope(&fitsRaw{raw}))
		if err != nil {
			return // data that no reader takes
		}
		_, _ = reader.Decode(b) // must not panic
	})
}

type fitsWideInner struct {
	N int64 `json:"n"`
}

// fitsShadowNarrow has two fields that the msgpack codec names "n": an
// embedded int64, and its own uint8. It writes "n" twice.
type fitsShadowNarrow struct {
	fitsWideInner
	N uint8 `msgpack:"n"`
}

func (*fitsShadowNarrow) EventType() events.Type { return "acme.fits" }

// fitsLevel is an enum written by name that reads its name or its number,
// as older writers wrote it, as a value and as a map key.
type fitsLevel int8

var fitsLevels = []string{"low", "mid", "high"}

func parseFitsLevel(s string) (fitsLevel, error) {
	for i, n := range fitsLevels {
		if n == s {
			return fitsLevel(i), nil
		}
	}
	if n, err := strconv.Atoi(s); err == nil && n >= 0 && n < len(fitsLevels) {
		return fitsLevel(n), nil
	}
	return 0, fmt.Errorf("no level %q", s)
}

func (l fitsLevel) MarshalText() ([]byte, error) { return []byte(fitsLevels[l]), nil }
func (l *fitsLevel) UnmarshalText(b []byte) (err error) {
	*l, err = parseFitsLevel(string(b))
	return err
}
func (l fitsLevel) EncodeMsgpack(e *msgpack.Encoder) error { return e.EncodeString(fitsLevels[l]) }
func (l *fitsLevel) DecodeMsgpack(d *msgpack.Decoder) error {
	v, err := d.DecodeInterfaceLoose()
	if err != nil {
		return err
	}
	*l, err = parseFitsLevel(fmt.Sprint(v))
	return err
}

type fitsByLevel struct {
	Counts map[fitsLevel]int `json:"counts"`
	Note   int               `json:"note"`
}

func (*fitsByLevel) EventType() events.Type { return "acme.fits" }

// A number read twice is judged by the value the decoder kept: a member
// given twice by the last, which must fit (300 is refused, not read as
// 44); a member that the value writes twice, a field and an embedded one
// of one name, by either. A map keyed by an enum that reads its number
// and writes its name is read, its keys not being integers written back.
func TestNumbersReadTwiceOrKeyedByNameAreJudgedAsRead(t *testing.T) {
	_, err := fitsDecode(t, newFitsBytes().m(2).s("n").i(1).s("n").i(300).bytes(), func() events.Data { return new(fitsTyped) })
	assert.ErrorContains(t, err, `"data.n"`)

	_, err = fitsDecode(t, newFitsBytes().m(1).s("n").i(300).bytes(), func() events.Data { return new(fitsShadowNarrow) })
	if err == nil {
		d, _ := fitsDecode(t, newFitsBytes().m(1).s("n").i(300).bytes(), func() events.Data { return new(fitsShadowNarrow) })
		assert.Equal(t, int64(300), d.(*fitsShadowNarrow).fitsWideInner.N, "300 read without an error must be the int64's")
	}

	d, err := fitsDecode(t, newFitsBytes().m(2).s("counts").m(1).i(2).i(7).s("note").i(1000).bytes(), func() events.Data { return new(fitsByLevel) })
	require.NoError(t, err)
	assert.Equal(t, &fitsByLevel{Counts: map[fitsLevel]int{2: 7}, Note: 1000}, d)
}

// Data that is an extension holding a map of a member whose list declares
// two billion elements, or lists nested five million deep, is refused
// without ending the process: the decoder reads a map through an
// extension's head and then what follows, which no check had walked, and
// made the list at its length or recursed until the stack overflowed.
// Through the naming of the member at fault, and through an upcaster.
func TestAnExtensionThatHidesAMapFromTheCheckIsRefused(t *testing.T) {
	for _, raw := range hidingExtensions() {
		_, err := fitsDecode(t, raw, func() events.Data { return new(fitsTyped) })
		assert.ErrorIs(t, err, events.ErrMalformed)
		_, err = fitsUpcastDecode(t, raw)
		assert.ErrorIs(t, err, events.ErrMalformed)
	}
}

// hidingExtensions returns data that is an extension whose bytes start a
// map, of a member whose list declares two billion elements, or lists
// nested five million deep.
func hidingExtensions() [][]byte {
	deep := append([]byte("\x81\xa1a"), bytes.Repeat([]byte{0x91}, 5_000_000)...)
	deep = append(deep, 0xc0)
	nested := binary.BigEndian.AppendUint32([]byte{0xc9}, uint32(len(deep)))
	nested = append(append(nested, 0x30), deep...)
	return [][]byte{
		[]byte("\xd8\x30\x81\xa1a\xdd\x7f\xff\xff\xff\x00\x00\x00\x00\x00\x00\x00\x00"),
		nested,
	}
}

// fitsUpcastDecode decodes raw, an event's data at schema 1, with the
// msgpack codec into a fitsTyped of schema 2, through an upcaster that
// returns the fields as they are.
func fitsUpcastDecode(t *testing.T, raw []byte) (events.Data, error) {
	t.Helper()
	w, r := events.NewRegistry(), events.NewRegistry()
	require.NoError(t, w.Register("acme.fits", 1, func() events.Data { return new(fitsRaw) }))
	require.NoError(t, r.Register("acme.fits", 2, func() events.Data { return new(fitsTyped) }))
	require.NoError(t, r.AddUpcaster("acme.fits", 1, func(f map[string]any) (map[string]any, error) { return f, nil }))
	b, err := events.NewMsgpackCodec(w).Append(nil, fitsEnvelope(&fitsRaw{raw}))
	require.NoError(t, err)
	got, err := events.NewMsgpackCodec(r).Decode(b)
	return got.Data, err
}

// A member named nil at the top of a host's data is read as "", as the
// decoder reads a member name: at the type's schema, through an
// upcaster, and when the member at fault is named.
func TestAMemberNamedNilIsReadAsTheEmptyName(t *testing.T) {
	nilKey := []byte("\x82\xc0\x01\xa1n\x05") // {nil: 1, "n": 5}
	got, err := fitsDecode(t, nilKey, func() events.Data { return new(fitsTyped) })
	require.NoError(t, err)
	assert.Equal(t, uint8(5), got.(*fitsTyped).N)

	up, err := fitsUpcastDecode(t, nilKey)
	require.NoError(t, err)
	assert.Equal(t, uint8(5), up.(*fitsTyped).N)

	_, err = fitsDecode(t, []byte("\x82\xc0\x01\xa1n\xa1x"), func() events.Data { return new(fitsTyped) })
	assert.ErrorContains(t, err, `"data.n"`)
}

// Data that is an extension is refused for a host type that is a map and
// does not read itself, unless it holds one whole map: the decoder read a
// map through the extension's head and then a list of two billion
// elements, or lists nested five million deep, from bytes that no check
// had walked.
func TestDataThatIsAnExtensionIsRefusedForAMapType(t *testing.T) {
	for _, raw := range hidingExtensions() {
		_, err := fitsDecode(t, raw, func() events.Data { return new(fitsAny) })
		assert.ErrorIs(t, err, events.ErrMalformed)
		assert.ErrorContains(t, err, "the data is an extension")
		assert.ErrorContains(t, err, "a map that does not read itself")
	}
	// One whose data is one whole map, which the decoder reads no
	// further, is read as that map (see
	// TestAWholeMapInAnExtensionIsReadWhereItNeedsNoCheck).
	got, err := fitsDecode(t, []byte{0xd4, 0x30, 0x80}, func() events.Data { return new(fitsAny) })
	require.NoError(t, err)
	assert.Empty(t, *got.(*fitsAny))
}

// fitsExtended is registered with the msgpack package as an extension,
// without methods of its own.
type fitsExtended struct{ S string }

func (*fitsExtended) EventType() events.Type { return "acme.fits" }

func init() {
	msgpack.RegisterExtEncoder(42, fitsExtended{}, func(e *msgpack.Encoder, v reflect.Value) ([]byte, error) {
		return []byte(v.Interface().(fitsExtended).S), nil
	})
	msgpack.RegisterExtDecoder(42, fitsExtended{}, func(d *msgpack.Decoder, v reflect.Value, n int) error {
		b := make([]byte, n)
		err := d.ReadFull(b)
		v.Set(reflect.ValueOf(fitsExtended{S: string(b)}))
		return err
	})
}

// A host type that the msgpack package writes as an extension is read
// back: only a map type that does not read itself has its extension data
// refused.
func TestATypeRegisteredAsAnExtensionIsReadBack(t *testing.T) {
	reg := events.NewRegistry()
	require.NoError(t, reg.Register("acme.fits", 1, func() events.Data { return new(fitsExtended) }))
	c := events.NewMsgpackCodec(reg)
	b, err := c.Append(nil, fitsEnvelope(&fitsExtended{S: "hi"}))
	require.NoError(t, err)
	got, err := c.Decode(b)
	require.NoError(t, err)
	assert.Equal(t, &fitsExtended{S: "hi"}, got.Data)
}
