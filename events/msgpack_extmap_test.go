package events_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/truefcr/truefcr/events"
)

type extMapInner struct {
	M map[string]int `json:"m"`
}

type extMapEmbedded struct {
	E map[string]int `json:"e"`
}

// extMapTree is a map of maps, as deep as its data goes.
type extMapTree map[string]extMapTree

// extMapHost holds maps in every place where the msgpack decoder reads
// one: a field, a list's element, a map's value, under a pointer, in what
// a field of type any holds, in an embedded struct.
type extMapHost struct {
	M     map[string]int            `json:"m"`
	Tree  extMapTree                `json:"tree"`
	List  []map[string]int          `json:"list"`
	Deep  map[string]map[string]int `json:"deep"`
	Ptr   *extMapInner              `json:"ptr"`
	Held  any                       `json:"held"`
	When  time.Time                 `json:"when"`
	Items []any                     `json:"items"`
	extMapEmbedded
}

func (*extMapHost) EventType() events.Type { return "acme.fits" }

func newExtMapHost() events.Data {
	return &extMapHost{Held: &extMapInner{}, Items: []any{&extMapInner{}}}
}

// extMapAfterExt embeds a struct that the msgpack package writes as an
// extension, as a field of its own.
type extMapAfterExt struct {
	ExtMapStamp
	Tree extMapTree `json:"tree"`
}

// ExtMapStamp is registered with the msgpack package as an extension,
// without methods of its own; inlined, its two fields would make the
// struct's list three long.
type ExtMapStamp struct{ S, T string }

func init() {
	msgpack.RegisterExtEncoder(43, ExtMapStamp{}, func(e *msgpack.Encoder, v reflect.Value) ([]byte, error) {
		return []byte(v.Interface().(ExtMapStamp).S), nil
	})
	msgpack.RegisterExtDecoder(43, ExtMapStamp{}, func(d *msgpack.Decoder, v reflect.Value, n int) error {
		b := make([]byte, n)
		err := d.ReadFull(b)
		v.Set(reflect.ValueOf(ExtMapStamp{S: string(b)}))
		return err
	})
}

func (*extMapAfterExt) EventType() events.Type { return "acme.fits" }

// extHidingAMap is an extension whose data starts with the head of a map
// of four billion entries.
var extHidingAMap = []byte("\xd8\x30\xdf\xff\xff\xff\xff\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00")

// An extension where the decoder reads a map of a type that does not
// read itself is refused, and named, wherever it lies in a host's data:
// the decoder skipped its header, made a map at the length its data
// declared (a million entries, the decoder's limit: some 56 MB), and read
// on through bytes that no check walked; in a tree of such maps, each
// 18 bytes deeper asked for 56 MB more.
func TestAnExtensionWhereAMapIsReadIsRefused(t *testing.T) {
	ext := func(z *fitsBytes) *fitsBytes { z.buf.Write(extHidingAMap); return z }
	// An extension whose data is a map of four billion entries, whose
	// first is such an extension, twenty deep.
	tree := []byte{0xc0}
	for range 20 {
		inner := append([]byte("\xdf\xff\xff\xff\xff\xa1a"), tree...)
		tree = append(binary.BigEndian.AppendUint32([]byte{0xc9}, uint32(len(inner))), 0x30)
		tree = append(tree, inner...)
	}
	afterExt := func() events.Data { return new(extMapAfterExt) }
	for _, tc := range []struct {
		raw     []byte
		field   string
		newData func() events.Data
	}{
		{ext(newFitsBytes().m(1).s("m")).bytes(), `"m"`, newExtMapHost},
		{append(newFitsBytes().m(1).s("tree").bytes(), tree...), `"tree"`, newExtMapHost},
		{ext(newFitsBytes().m(1).s("list").l(2).m(0)).bytes(), `"list[1]"`, newExtMapHost},
		{ext(newFitsBytes().m(1).s("deep").m(2).s("a").m(0).s("b")).bytes(), `"deep.b"`, newExtMapHost},
		{ext(newFitsBytes().m(1).s("ptr").m(1).s("m")).bytes(), `"ptr.m"`, newExtMapHost},
		{ext(newFitsBytes().m(1).s("held").m(1).s("m")).bytes(), `"held.m"`, newExtMapHost},
		{ext(newFitsBytes().m(1).s("e")).bytes(), `"e"`, newExtMapHost},
		{ext(newFitsBytes().m(1).s("extMapEmbedded").m(1).s("e")).bytes(), `"extMapEmbedded.e"`, newExtMapHost},
		{ext(newFitsBytes().m(1).s("items").l(1).m(1).s("m")).bytes(), `"items[0].m"`, newExtMapHost},
		// A struct written as a list, field by field.
		{ext(newFitsBytes().l(9).null()).null().null().null().null().null().null().null().bytes(), `"[1]"`, newExtMapHost},
		// After a struct written as an extension, which is one field.
		{append(newFitsBytes().l(2).bytes(), append([]byte("\xd5\x2bhi"), tree...)...), `"[1]"`, afterExt},
	} {
		assertRefusedAt(t, tc.raw, tc.newData, tc.field)
	}
}

// assertRefusedAt asserts that the msgpack codec refuses raw, read into
// the type newData makes, as an extension at field, and allocates less
// than 32 MB doing so (the decoder made a map of a million entries, 56
// MB, from an extension's head).
func assertRefusedAt(t *testing.T, raw []byte, newData func() events.Data, field string) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := fitsDecode(t, raw, newData)
	runtime.ReadMemStats(&after)
	assert.ErrorIs(t, err, events.ErrMalformed, field)
	assert.ErrorContains(t, err, "msgpack: "+field+" is an extension")
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(32<<20), "%s: bytes allocated", field)
}

// An extension that is not where the decoder reads a map is read as
// before, though its data starts with a map's head: a time of 536870912
// nanoseconds is written so.
func TestAnExtensionElsewhereIsReadAsBefore(t *testing.T) {
	when := time.Date(2026, 3, 2, 9, 15, 0, 536870912, time.UTC)
	b, err := msgpack.Marshal(when)
	require.NoError(t, err)
	require.Equal(t, []byte{0xd7, 0xff, 0x80}, b[:3], "the time's data starts with a map's head")

	reg := events.NewRegistry()
	require.NoError(t, reg.Register("acme.fits", 1, newExtMapHost))
	c := events.NewMsgpackCodec(reg)
	in := &extMapHost{
		M: map[string]int{"a": 1}, Tree: extMapTree{"t": {"u": nil}}, List: []map[string]int{{"l": 2}},
		Deep: map[string]map[string]int{"d": {"e": 3}}, Ptr: &extMapInner{M: map[string]int{"p": 4}},
		Held: &extMapInner{M: map[string]int{"h": 5}}, When: when, extMapEmbedded: extMapEmbedded{E: map[string]int{"x": 6}},
	}
	b, err = c.Append(nil, fitsEnvelope(in))
	require.NoError(t, err)
	got, err := c.Decode(b)
	require.NoError(t, err)
	assert.Equal(t, in, got.Data)

	// A time in a map of any, and a map that reads itself from an
	// extension.
	timed := fitsAny{"t": when}
	back, err := fitsRoundTrip(t, &timed, func() events.Data { return new(fitsAny) })
	require.NoError(t, err)
	assert.True(t, when.Equal((*back.(*fitsAny))["t"].(time.Time)), "read back %v", back)
	own := &extMapOwn{X: extMapSelf{"k": "v"}}
	back, err = fitsRoundTrip(t, own, func() events.Data { return new(extMapOwn) })
	require.NoError(t, err)
	assert.Equal(t, own, back)
}

// extMapSelf is a map that writes and reads itself as an extension whose
// data starts with a map's head.
type extMapSelf map[string]string

func (m extMapSelf) EncodeMsgpack(e *msgpack.Encoder) error {
	return encodeAsExt(e, 7, map[string]string(m))
}

// encodeAsExt writes v with e as an extension of type id whose data is v
// as msgpack writes it.
func encodeAsExt(e *msgpack.Encoder, id int8, v any) error {
	b, err := msgpack.Marshal(v)
	if err == nil {
		err = e.EncodeExtHeader(id, len(b))
	}
	if err == nil {
		_, err = e.Writer().Write(b)
	}
	return err
}

func (m *extMapSelf) DecodeMsgpack(d *msgpack.Decoder) error {
	if _, _, err := d.DecodeExtHeader(); err != nil {
		return err
	}
	var plain map[string]string
	if err := d.Decode(&plain); err != nil {
		return err
	}
	*m = plain
	return nil
}

type extMapOwn struct {
	X extMapSelf `json:"x"`
}

func (*extMapOwn) EventType() events.Type { return "acme.fits" }

// fitsRoundTrip writes d with the msgpack codec and reads it back into
// the type newData makes.
func fitsRoundTrip(t *testing.T, d events.Data, newData func() events.Data) (events.Data, error) {
	t.Helper()
	reg := events.NewRegistry()
	require.NoError(t, reg.Register("acme.fits", 1, newData))
	c := events.NewMsgpackCodec(reg)
	b, err := c.Append(nil, fitsEnvelope(d))
	require.NoError(t, err)
	got, err := c.Decode(b)
	return got.Data, err
}

func (z *fitsBytes) l(n int) *fitsBytes { z.e.EncodeArrayLen(n); return z }

// Register refuses a constructor that puts a value, not a pointer, in a
// list's element of type any, which the msgpack decoder reads into, as
// it does a field's: it filled the maps of a struct there from the data
// (through an extension's header too) before it failed to set it.
func TestRegisterRefusesAValueInAListOfAny(t *testing.T) {
	reg := events.NewRegistry()
	err := reg.Register("acme.fits", 1, func() events.Data {
		return &extMapHost{Items: []any{extMapInner{M: map[string]int{}}}}
	})
	assert.ErrorContains(t, err, "Items[] holds a events_test.extMapInner, by value")
	// Within the list's capacity too.
	err = reg.Register("acme.fits", 1, func() events.Data {
		return &extMapHost{Items: append(make([]any, 0, 2), nil, extMapInner{})[:1]}
	})
	assert.ErrorContains(t, err, "by value")
	require.NoError(t, reg.Register("acme.fits", 1, newExtMapHost))
}

// extMapBag is a map registered with the msgpack package as an
// extension, whose decoder panics reading it as a generic value.
type extMapBag map[string]string

func init() {
	msgpack.RegisterExtDecoder(45, extMapBag{}, func(d *msgpack.Decoder, v reflect.Value, n int) error {
		b := make([]byte, n)
		err := d.ReadFull(b)
		v.Set(reflect.ValueOf(extMapBag{"k": string(b)}))
		return err
	})
}

type extMapNumber struct {
	X int `json:"x"`
}

func (*extMapNumber) EventType() events.Type { return "acme.fits" }

// An extension of a map type that a host registered with the msgpack
// package, wherever a codec reads generic values (a built-in event's
// member it does not know, a host's data read to name the member at
// fault, or for an upcaster), is an error of the event: the decoder
// panicked reading it, and the process ended.
func TestAnExtensionThatPanicsTheDecoderIsAnError(t *testing.T) {
	bag := []byte("\xd4\x2dA") // extension 45, one byte
	raw := append([]byte("\x81\xa1x"), bag...)
	_, err := fitsDecode(t, raw, func() events.Data { return new(extMapNumber) })
	assert.ErrorIs(t, err, events.ErrMalformed)
	_, err = fitsUpcastDecode(t, raw)
	assert.ErrorIs(t, err, events.ErrMalformed)
	assert.ErrorContains(t, err, "panicked in the decoder")

	// A built-in event with an unknown member.
	c := events.NewMsgpackCodec(nil)
	b, err := c.Append(nil, fitsEnvelope(&events.Resolved{Contact: uuid.New(), Extra: events.Extra{"note": "zq"}}))
	require.NoError(t, err)
	at := bytes.Index(b, []byte("\xa2zq"))
	require.Positive(t, at)
	copy(b[at:], bag) // as long as the string it stands for
	_, err = c.Decode(b)
	assert.ErrorIs(t, err, events.ErrMalformed)
	assert.ErrorContains(t, err, "panicked in the decoder")
}

// ExtMapPair has a codec registered with msgpack.Register that writes
// and reads a map: the decoder does not inline it, though nothing in its
// type or its zero value's form says so.
type ExtMapPair struct{ A, B int }

// ExtMapOne is ExtMapPair's like, of one field named b.
type ExtMapOne struct {
	B int `msgpack:"b"`
}

// ExtMapOut has an encoder registered as an extension, and no decoder:
// the decoder reads it field by field.
type ExtMapOut struct {
	M map[string]int `json:"m"`
}

// ExtMapB has a map named b.
type ExtMapB struct {
	M map[string]int `msgpack:"b"`
}

func init() {
	pairs := func(e *msgpack.Encoder, v reflect.Value) error {
		if err := e.EncodeMapLen(v.NumField()); err != nil {
			return err
		}
		for i := range v.NumField() {
			_ = e.EncodeString(string(rune('a' + i)))
			_ = e.EncodeInt(v.Field(i).Int())
		}
		return nil
	}
	read := func(d *msgpack.Decoder, v reflect.Value) error {
		n, err := d.DecodeMapLen()
		for i := 0; i < n && err == nil; i++ {
			var k string
			var x int64
			if k, err = d.DecodeString(); err == nil {
				x, err = d.DecodeInt64()
			}
			if j := int(k[0] - 'a'); err == nil && j < v.NumField() {
				v.Field(j).SetInt(x)
			}
		}
		return err
	}
	msgpack.Register(ExtMapPair{}, pairs, read)
	msgpack.Register(ExtMapOne{}, pairs, read)
	msgpack.RegisterExtEncoder(46, ExtMapOut{}, func(*msgpack.Encoder, reflect.Value) ([]byte, error) { return []byte{1}, nil })
}

type extMapPairHost struct {
	ExtMapPair
	X map[string]int `json:"x"`
}

func (*extMapPairHost) EventType() events.Type { return "acme.fits" }

type extMapShadowHost struct {
	ExtMapOne
	ExtMapB
}

func (*extMapShadowHost) EventType() events.Type { return "acme.fits" }

type extMapOutHost struct {
	O ExtMapOut `json:"o"`
}

func (*extMapOutHost) EventType() events.Type { return "acme.fits" }

// An embedded struct that the decoder keeps whole, though nothing in its
// type says so (a codec registered with msgpack.Register), changes the
// fields that the walk finds: the second of two fields in a list, where
// a walk that inlined it counted three; a map named b, where b would be
// the embedded struct's number; an encoder registered alone, for a
// struct that the decoder reads field by field.
func TestAnExtensionIsRefusedPastAStructKeptWhole(t *testing.T) {
	for _, tc := range []struct {
		field   string
		raw     []byte
		newData func() events.Data
	}{
		{`"[1]"`, append([]byte{0x92, 0x80}, extHidingAMap...), func() events.Data { return new(extMapPairHost) }},
		{`"b"`, append(newFitsBytes().m(1).s("b").bytes(), extHidingAMap...), func() events.Data { return new(extMapShadowHost) }},
		{`"o.m"`, append(newFitsBytes().m(1).s("o").m(1).s("m").bytes(), extHidingAMap...), func() events.Data { return new(extMapOutHost) }},
	} {
		assertRefusedAt(t, tc.raw, tc.newData, tc.field)
	}
	// What the codec writes of them, it reads back.
	in := &extMapPairHost{ExtMapPair{1, 2}, map[string]int{"x": 3}}
	back, err := fitsRoundTrip(t, in, func() events.Data { return new(extMapPairHost) })
	require.NoError(t, err)
	assert.Equal(t, in, back)
}

// ExtMapReg has a codec registered with msgpack.Register that writes and
// reads a map: the decoder keeps it whole, where nothing in its type
// says so. Its one field is named m.
type ExtMapReg struct {
	S string `json:"m,omitempty"`
}

// ExtMapDeeper's map is named m too, one level deeper (encoding/json
// takes ExtMapReg's).
type ExtMapDeeper struct{ ExtMapDeep }

type ExtMapDeep struct {
	M map[string]int `json:"m,omitempty"`
}

func init() {
	msgpack.Register(ExtMapReg{}, func(e *msgpack.Encoder, v reflect.Value) error {
		_ = e.EncodeMapLen(1)
		_ = e.EncodeString("m")
		return e.EncodeString(v.Field(0).String())
	}, func(d *msgpack.Decoder, v reflect.Value) error {
		n, err := d.DecodeMapLen()
		for i := 0; i < n && err == nil; i++ {
			var s string
			if _, err = d.DecodeString(); err == nil {
				s, err = d.DecodeString()
			}
			v.Field(0).SetString(s)
		}
		return err
	})
}

// extMapAllOmitted embeds both, tagged omitempty: a zero value is
// written as an empty map whether ExtMapReg is inlined or not.
type extMapAllOmitted struct {
	ExtMapReg    `json:",omitempty"`
	ExtMapDeeper `json:",omitempty"`
}

// extMapAsList embeds both in a struct written as a list, whose zero
// value tells how many fields it has, not which.
type extMapAsList struct {
	_msgpack struct{} `msgpack:",as_array"`
	ExtMapReg
	ExtMapDeeper
}

func (*extMapAllOmitted) EventType() events.Type { return "acme.fits" }
func (*extMapAsList) EventType() events.Type     { return "acme.fits" }

// So does one that a zero value of its container would not show: all
// of it omitted when empty, or in a struct written as a list. The decoder
// kept ExtMapReg whole, inlined ExtMapDeeper, and read its m through the
// extension.
func TestAnExtensionIsRefusedPastAStructKeptWholeThatAZeroValueHides(t *testing.T) {
	raw := append(newFitsBytes().m(1).s("m").bytes(), 0xc7, 0x05, 0x01, 0xdf, 0x00, 0x0f, 0x42, 0x40)
	for _, newData := range []func() events.Data{
		func() events.Data { return new(extMapAllOmitted) },
		func() events.Data { return new(extMapAsList) },
	} {
		assertRefusedAt(t, raw, newData, `"m"`)
	}
	in := &extMapAllOmitted{ExtMapReg{"x"}, ExtMapDeeper{ExtMapDeep{map[string]int{"a": 1}}}}
	back, err := fitsRoundTrip(t, in, func() events.Data { return new(extMapAllOmitted) })
	require.NoError(t, err)
	assert.Equal(t, in, back)
}

// ExtMapBase is embedded by the types of
// TestTimesThatLookLikeMapsAreReadBack.
type ExtMapBase struct {
	ID uuid.UUID `json:"id"`
	At time.Time `json:"at"`
}

// ExtMapBaseOmit has all its fields tagged omitempty.
type ExtMapBaseOmit struct {
	ID uuid.UUID  `json:"id,omitempty"`
	At *time.Time `json:"at,omitempty"`
}

// extMapLower is not exported: embedded by pointer, the constructor
// allocates it.
type extMapLower struct {
	Seq int       `json:"seq"`
	At  time.Time `json:"lower_at"`
}

// ExtMapStatus cannot write its zero value.
type ExtMapStatus int

func (s ExtMapStatus) MarshalText() ([]byte, error) {
	if s != 1 {
		return nil, fmt.Errorf("status %d", int(s))
	}
	return []byte("open"), nil
}

func (s *ExtMapStatus) UnmarshalText(b []byte) error {
	if string(b) != "open" {
		return fmt.Errorf("status %q", b)
	}
	*s = 1
	return nil
}

// The types of TestTimesThatLookLikeMapsAreReadBack: with an array
// tagged omitempty (which the encoder writes when zero all the same), a
// list tagged omitempty, embedded structs of every kind, a field that
// cannot write its zero value, one whose zero value cannot say whether it
// is empty, a struct written as a list, embedded structs that read
// themselves (one of them embedding itself), a struct and a map with
// codecs registered with the msgpack package; each with times.
type (
	extMapOrder struct {
		ID     uuid.UUID `json:"id,omitempty"`
		Labels []string  `json:"labels,omitempty"`
		At     time.Time `json:"at"`
		ExtMapBase
	}
	extMapLowered struct {
		*extMapLower
		At2 time.Time      `json:"at2"`
		M   map[string]int `json:"m,omitempty"`
	}
	extMapStatused struct {
		ExtMapBase
		Status ExtMapStatus   `json:"status"`
		M      map[string]int `json:"m,omitempty"`
	}
	extMapListed struct {
		_msgpack struct{} `msgpack:",as_array"`
		ExtMapBase
		M map[string]int `json:"m"`
	}
	extMapOmitted struct {
		ExtMapBaseOmit `json:",omitempty"`
		At2            time.Time      `json:"at2"`
		M              map[string]int `json:"m,omitempty"`
	}
	extMapInvoice struct {
		ExtMapTotals
		At time.Time `json:"at"`
	}
	extMapBoth struct {
		ExtMapSelfTree `json:"tree"`
		ExtMapOther    `json:"other"`
		At             time.Time      `json:"at"`
		M              map[string]int `json:"m"`
	}
	extMapWindowed struct {
		W ExtMapWindow `json:"w"`
	}
	extMapTagged struct {
		Tags ExtMapTags `json:"tags"`
		At   time.Time  `json:"at"`
	}
)

// ExtMapSelfTree reads and writes itself, and embeds a pointer to
// itself; ExtMapOther reads and writes itself too, so that, embedded side
// by side, neither's methods are promoted.
type (
	ExtMapSelfTree struct {
		*ExtMapSelfTree
		V int
	}
	ExtMapOther struct{ S string }
)

func (s ExtMapSelfTree) MarshalMsgpack() ([]byte, error)  { return msgpack.Marshal(s.V) }
func (s *ExtMapSelfTree) UnmarshalMsgpack(b []byte) error { return msgpack.Unmarshal(b, &s.V) }
func (o ExtMapOther) MarshalMsgpack() ([]byte, error)     { return msgpack.Marshal(o.S) }
func (o *ExtMapOther) UnmarshalMsgpack(b []byte) error    { return msgpack.Unmarshal(b, &o.S) }

// ExtMapWindow has a codec registered with msgpack.Register that writes
// it as a list, whose first value is a time where its first field is a
// map.
type ExtMapWindow struct {
	Extra map[string]int `json:"extra"`
	From  time.Time      `json:"from"`
}

// ExtMapTags is a map that the msgpack package writes and reads as an
// extension, whose data is a map.
type ExtMapTags map[string]string

func init() {
	msgpack.Register(ExtMapWindow{}, func(e *msgpack.Encoder, v reflect.Value) error {
		w := v.Interface().(ExtMapWindow)
		return e.Encode([]any{w.From, w.Extra})
	}, func(d *msgpack.Decoder, v reflect.Value) error {
		var l []msgpack.RawMessage
		if err := d.Decode(&l); err != nil || len(l) != 2 {
			return fmt.Errorf("a window: %v", err)
		}
		var w ExtMapWindow
		err := errors.Join(msgpack.Unmarshal(l[0], &w.From), msgpack.Unmarshal(l[1], &w.Extra))
		v.Set(reflect.ValueOf(w))
		return err
	})
	msgpack.RegisterExtEncoder(47, ExtMapTags{}, func(e *msgpack.Encoder, v reflect.Value) ([]byte, error) {
		return msgpack.Marshal(map[string]string(v.Interface().(ExtMapTags)))
	})
	msgpack.RegisterExtDecoder(47, ExtMapTags{}, func(d *msgpack.Decoder, v reflect.Value, n int) error {
		var m map[string]string
		err := d.Decode(&m)
		v.Set(reflect.ValueOf(ExtMapTags(m)))
		return err
	})
}

func (*extMapBoth) EventType() events.Type     { return "acme.fits" }
func (*extMapWindowed) EventType() events.Type { return "acme.fits" }
func (*extMapTagged) EventType() events.Type   { return "acme.fits" }

// ExtMapMoney's IsZero fails on a zero value, which the encoder asks of
// a field tagged omitempty before it writes anything of its struct.
type ExtMapMoney struct {
	Cur    *ExtMapBase `json:"cur"`
	Amount int64       `json:"amount"`
}

func (m ExtMapMoney) IsZero() bool { return m.Cur.ID == uuid.Nil && m.Amount == 0 }

type ExtMapTotals struct {
	Total ExtMapMoney `json:"total,omitempty"`
}

func (*extMapInvoice) EventType() events.Type { return "acme.fits" }

func (*extMapOrder) EventType() events.Type    { return "acme.fits" }
func (*extMapLowered) EventType() events.Type  { return "acme.fits" }
func (*extMapStatused) EventType() events.Type { return "acme.fits" }
func (*extMapListed) EventType() events.Type   { return "acme.fits" }
func (*extMapOmitted) EventType() events.Type  { return "acme.fits" }

// Times whose data starts with a map's head (of 536870912 nanoseconds),
// nil (805306368) or a large map's (931135488, 939524095) are read back,
// in types whose fields the walk tells as the decoder does.
func TestTimesThatLookLikeMapsAreReadBack(t *testing.T) {
	for _, ns := range []int{536870912, 805306368, 931135488, 939524095} {
		at := time.Date(2026, 3, 2, 9, 15, 0, ns, time.UTC)
		b, err := msgpack.Marshal(at)
		require.NoError(t, err)
		require.True(t, b[2]&0xf0 == 0x80 || b[2] == 0xc0 || b[2] == 0xde || b[2] == 0xdf, "% x", b)
		base := ExtMapBase{ID: uuid.New(), At: at}
		for _, tc := range []struct {
			in      events.Data
			newData func() events.Data
		}{
			{&extMapOrder{ID: uuid.New(), Labels: []string{"a"}, At: at, ExtMapBase: base}, func() events.Data { return new(extMapOrder) }},
			{&extMapLowered{&extMapLower{Seq: 1, At: at}, at, map[string]int{"a": 1}}, func() events.Data { return &extMapLowered{extMapLower: &extMapLower{}} }},
			{&extMapStatused{base, 1, map[string]int{"a": 1}}, func() events.Data { return new(extMapStatused) }},
			{&extMapListed{ExtMapBase: base, M: map[string]int{"a": 1}}, func() events.Data { return new(extMapListed) }},
			{&extMapOmitted{ExtMapBaseOmit{ID: uuid.New(), At: &at}, at, map[string]int{"a": 1}}, func() events.Data { return new(extMapOmitted) }},
			{&extMapInvoice{ExtMapTotals{ExtMapMoney{&base, 5}}, at}, func() events.Data { return new(extMapInvoice) }},
			{&extMapBoth{ExtMapSelfTree{nil, 1}, ExtMapOther{"x"}, at, map[string]int{"a": 1}}, func() events.Data { return new(extMapBoth) }},
			{&extMapWindowed{ExtMapWindow{map[string]int{"a": 1}, at.UTC()}}, func() events.Data { return new(extMapWindowed) }},
			// The msgpack package reads such a map into one that is not nil
			// alone (v5.4.1).
			{&extMapTagged{ExtMapTags{"a": "b"}, at}, func() events.Data { return &extMapTagged{Tags: ExtMapTags{}} }},
		} {
			back, err := fitsRoundTrip(t, tc.in, tc.newData)
			require.NoError(t, err, "%T, %d ns", tc.in, ns)
			assert.Equal(t, tc.in, back)
		}
	}
}

// extMapHanding reads itself by handing what it reads to the decoder's
// own reading of maps, which reads a map through an extension's header.
type extMapHanding map[string]int

func (m extMapHanding) EncodeMsgpack(e *msgpack.Encoder) error {
	return e.Encode(map[string]int(m))
}

func (m *extMapHanding) DecodeMsgpack(d *msgpack.Decoder) error {
	return d.Decode((*map[string]int)(m))
}

// extMapWrapping writes itself, when it holds something, as an extension
// whose data is a map, and reads that by handing it to the decoder's own
// reading of maps.
type extMapWrapping map[string]int

func (m extMapWrapping) EncodeMsgpack(e *msgpack.Encoder) error {
	if len(m) == 0 {
		return e.Encode(map[string]int(m)) // an extension only when it holds something
	}
	return encodeAsExt(e, 9, map[string]int(m))
}

func (m *extMapWrapping) DecodeMsgpack(d *msgpack.Decoder) error {
	return d.Decode((*map[string]int)(m))
}

// extMapDeepHanding is extMapHanding of maps.
type extMapDeepHanding map[string]map[string]int

func (m extMapDeepHanding) EncodeMsgpack(e *msgpack.Encoder) error {
	return e.Encode(map[string]map[string]int(m))
}

func (m *extMapDeepHanding) DecodeMsgpack(d *msgpack.Decoder) error {
	return d.Decode((*map[string]map[string]int)(m))
}

// extMapHandingTree is extMapHanding of itself, as deep as its data goes.
type extMapHandingTree map[string]extMapHandingTree

func (m extMapHandingTree) EncodeMsgpack(e *msgpack.Encoder) error {
	return e.Encode(map[string]extMapHandingTree(m))
}

func (m *extMapHandingTree) DecodeMsgpack(d *msgpack.Decoder) error {
	return d.Decode((*map[string]extMapHandingTree)(m))
}

type extMapHands struct {
	H extMapHanding     `json:"h"`
	W extMapWrapping    `json:"w"`
	D extMapDeepHanding `json:"d"`
	T extMapHandingTree `json:"t"`
}

func (*extMapHands) EventType() events.Type { return "acme.fits" }

// A map that reads itself by handing its data to the decoder's own
// reading of maps has an extension there refused, as one that does not
// read itself: the decoder read a map through its header. One that reads
// an extension of its own (extMapSelf), or writes one (extMapWrapping), is
// read, as before.
func TestAnExtensionIsRefusedWhereAMapHandsItsDataToTheDecoder(t *testing.T) {
	raw := append(newFitsBytes().m(1).s("h").bytes(), extHidingAMap...)
	assertRefusedAt(t, raw, func() events.Data { return new(extMapHands) }, `"h"`)
	// A whole map in an extension is read as a map, and walked as one.
	inner := append([]byte("\x81\xa1k"), extHidingAMap...)
	raw = append(newFitsBytes().m(1).s("d").bytes(), append([]byte{0xc7, byte(len(inner)), 0x09}, inner...)...)
	assertRefusedAt(t, raw, func() events.Data { return new(extMapHands) }, `"d.k"`)
	// So is a map of its own.
	raw = append(newFitsBytes().m(1).s("d").bytes(), inner...)
	assertRefusedAt(t, raw, func() events.Data { return new(extMapHands) }, `"d.k"`)
	// In its plain maps, an extension holding a whole map with numbers
	// that the checks outside extensions would look at is refused.
	raw = append(newFitsBytes().m(1).s("d").m(1).s("c").bytes(), 0xc7, 0x06, 0x2f, 0x81, 0xa1, 'd', 0xcd, 0x01, 0x2c)
	_, err := fitsDecode(t, raw, func() events.Data { return new(extMapHands) })
	assert.ErrorContains(t, err, `msgpack: "d.c" is an extension`)
	// Whole maps in extensions, nested in one another: read as deep as
	// data may nest outside extensions (msgpackcheck.MaxDepth), counting
	// the levels around them, and refused beyond, as such data would be
	// without extensions.
	nested := func(levels int) []byte {
		tree := []byte{0xc0}
		for range levels {
			in := append([]byte("\x81\xa1a"), tree...)
			tree = append(binary.BigEndian.AppendUint32([]byte{0xc9}, uint32(len(in))), 0x09)
			tree = append(tree, in...)
		}
		return append(newFitsBytes().m(1).s("t").bytes(), tree...)
	}
	got, err := fitsDecode(t, nested(60), func() events.Data { return new(extMapHands) })
	require.NoError(t, err)
	assert.Len(t, got.(*extMapHands).T, 1)
	_, err = fitsDecode(t, nested(70), func() events.Data { return new(extMapHands) })
	assert.ErrorContains(t, err, "no more than 64 deep")

	in := &extMapHands{H: extMapHanding{"a": 1}, W: extMapWrapping{"b": 2}, D: extMapDeepHanding{"c": {"d": 3}},
		T: extMapHandingTree{"e": {"f": nil}}}
	back, err := fitsRoundTrip(t, in, func() events.Data { return new(extMapHands) })
	require.NoError(t, err)
	assert.Equal(t, in, back)
}

// extMapWritesExt writes itself as an extension whose data is a map, and
// has no reader of its own: the decoder reads the map through the
// extension's header.
type extMapWritesExt map[string]int

func (m extMapWritesExt) EncodeMsgpack(e *msgpack.Encoder) error {
	return encodeAsExt(e, 5, map[string]int(m))
}

type extMapWritten struct {
	M extMapWritesExt `json:"m"`
	I map[string]int8 `json:"i"`
}

func (*extMapWritten) EventType() events.Type { return "acme.fits" }

// A map written as an extension whose data is one whole map, by a type's
// own writer, is read back where its text and numbers need no check that
// data outside extensions has (numbers from 0 to 127); any other is
// refused: 300 would be read into an int8 as 44.
func TestAWholeMapInAnExtensionIsReadWhereItNeedsNoCheck(t *testing.T) {
	in := &extMapWritten{M: extMapWritesExt{"a": 1}}
	back, err := fitsRoundTrip(t, in, func() events.Data { return new(extMapWritten) })
	require.NoError(t, err)
	assert.Equal(t, in, back)

	in = &extMapWritten{M: extMapWritesExt{"a": 300}}
	_, err = fitsRoundTrip(t, in, func() events.Data { return new(extMapWritten) })
	assert.ErrorContains(t, err, `msgpack: "m" is an extension`)
	raw := append(newFitsBytes().m(1).s("i").bytes(), 0xc7, 0x06, 0x05, 0x81, 0xa1, 'a', 0xcd, 0x01, 0x2c)
	_, err = fitsDecode(t, raw, func() events.Data { return new(extMapWritten) })
	assert.ErrorContains(t, err, `msgpack: "i" is an extension`)
	raw = append(newFitsBytes().m(1).s("i").bytes(), 0xc7, 0x05, 0x05, 0x81, 0xa1, 0xff, 0xa1, 'x')
	_, err = fitsDecode(t, raw, func() events.Data { return new(extMapWritten) })
	assert.ErrorContains(t, err, `msgpack: "i" is an extension`, "a key that is not UTF-8")
}

// extMapWrittenTree writes itself as an extension whose data is its map,
// at every level, and has no reader of its own.
type extMapWrittenTree map[string]extMapWrittenTree

func (m extMapWrittenTree) EncodeMsgpack(e *msgpack.Encoder) error {
	return encodeAsExt(e, 5, map[string]extMapWrittenTree(m))
}

type extMapWrittenTreeHost struct {
	T extMapWrittenTree `json:"t"`
}

func (*extMapWrittenTreeHost) EventType() events.Type { return "acme.fits" }

// Whole maps in extensions where a plain map is read nest no deeper, with
// the data around them, than data may outside extensions: deeper, the
// codec would read what it then refuses to write.
func TestWholeMapsInExtensionsNestNoDeeperThanData(t *testing.T) {
	tree := func(levels int) *extMapWrittenTreeHost {
		in := &extMapWrittenTreeHost{T: extMapWrittenTree{}}
		at := in.T
		for range levels {
			next := extMapWrittenTree{}
			at["a"] = next
			at = next
		}
		return in
	}
	in := tree(60)
	back, err := fitsRoundTrip(t, in, func() events.Data { return new(extMapWrittenTreeHost) })
	require.NoError(t, err)
	assert.Equal(t, in, back)
	_, err = fitsRoundTrip(t, tree(70), func() events.Data { return new(extMapWrittenTreeHost) })
	assert.ErrorContains(t, err, `msgpack: "t.a.a`)
}
