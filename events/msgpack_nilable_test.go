package events_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/truefcr/truefcr/events"
)

// Host types with a field of type any that the constructor fills with a
// pointer or a map, so that the decoders know the type to read there.
type anyDetails struct {
	Note string `json:"note"`
}

type anyInner struct {
	P any `json:"p"`
}

type anyHost struct {
	Payload any       `json:"payload"`
	Tags    any       `json:"tags"`
	Meta    any       `json:"meta"`
	Pair    [2]any    `json:"pair"`
	Inner   *anyInner `json:"inner"`
	Shaped  anyShape  `json:"shaped"`
	N       int       `json:"n"`
}

// anyShape is an interface with methods: the msgpack decoder cannot read
// nil into what it holds.
type anyShape interface{ Area() int }

type anySquare struct {
	Side int `json:"side"`
}

func (s *anySquare) Area() int { return s.Side * s.Side }

func (*anyHost) EventType() events.Type { return "any.host" }

func newAnyHost() events.Data {
	return &anyHost{Payload: &anyDetails{}, Tags: &map[string]int{}, Meta: map[string]any{}, Pair: [2]any{&anyDetails{}, &anyDetails{}},
		Inner: &anyInner{P: &anyDetails{}}, Shaped: &anySquare{}}
}

// anyHostNoPayload is what a writer of the type without its any fields
// writes: an event in which they are absent.
type anyHostNoPayload struct {
	N int `json:"n"`
}

func (*anyHostNoPayload) EventType() events.Type { return "any.host" }

// An any field holding a pointer or a map reads nil as nil in both codecs
// (the msgpack decoder panicked, setting what the field holds), what it
// holds where the event has a value, and keeps the constructor's where
// the event lacks the field.
func TestAnyFieldsReadNil(t *testing.T) {
	reg := events.NewRegistry()
	require.NoError(t, reg.Register("any.host", 1, newAnyHost))
	codecs := []events.Codec{events.NewMsgpackCodec(reg), events.NewJSONCodec(reg)}
	for _, d := range []*anyHost{
		{N: 3, Shaped: &anySquare{2}},
		{Payload: &anyDetails{"a"}, Tags: &map[string]int{"x": 1}, Meta: map[string]any{"y": "z"}, Pair: [2]any{nil, &anyDetails{"b"}},
			Inner: &anyInner{P: &anyDetails{"c"}}, Shaped: &anySquare{3}, N: 4},
		{Inner: &anyInner{}, Shaped: &anySquare{}},
	} {
		for _, c := range codecs {
			b, err := c.Append(nil, hostEvent(d))
			require.NoError(t, err, "%T", c)
			got, err := c.Decode(b)
			require.NoError(t, err, "%T %+v", c, d)
			assert.Equal(t, d, got.Data, "%T", c)
		}
	}
	other := events.NewRegistry()
	require.NoError(t, other.Register("any.host", 1, func() events.Data { return new(anyHostNoPayload) }))
	for i, c := range []events.Codec{events.NewMsgpackCodec(other), events.NewJSONCodec(other)} {
		b, err := c.Append(nil, hostEvent(&anyHostNoPayload{N: 5}))
		require.NoError(t, err)
		got, err := codecs[i].Decode(b)
		require.NoError(t, err, "%T", c)
		want := newAnyHost().(*anyHost)
		want.N = 5
		assert.Equal(t, want, got.Data, "%T: the constructor's values, where the event lacks the fields", c)
	}
}

// A field of an interface with methods holds no stand-in: an event with
// nil there is an error of the event in msgpack, not the end of the
// process; encoding/json reads it as nil.
func TestMethodInterfaceFieldWithNilIsADecodeError(t *testing.T) {
	reg := events.NewRegistry()
	require.NoError(t, reg.Register("any.host", 1, newAnyHost))
	d := &anyHost{N: 3}
	m := events.NewMsgpackCodec(reg)
	b, err := m.Append(nil, hostEvent(d))
	require.NoError(t, err)
	_, err = m.Decode(b)
	require.ErrorIs(t, err, events.ErrMalformed)
	assert.Equal(t, "data", decodeError(t, err).Field)
	j := events.NewJSONCodec(reg)
	b, err = j.Append(nil, hostEvent(d))
	require.NoError(t, err)
	got, err := j.Decode(b)
	require.NoError(t, err)
	assert.Equal(t, d, got.Data)
}

// agree registers newData, writes each of ds with both codecs and checks
// that each reads back equal to what was written.
func agree(t *testing.T, newData func() events.Data, ds ...events.Data) {
	t.Helper()
	reg := events.NewRegistry()
	require.NoError(t, reg.Register(newData().EventType(), 1, newData))
	for _, d := range ds {
		for _, c := range []events.Codec{events.NewMsgpackCodec(reg), events.NewJSONCodec(reg)} {
			b, err := c.Append(nil, hostEvent(d))
			require.NoError(t, err, "%T", c)
			got, err := c.Decode(b)
			require.NoError(t, err, "%T", c)
			assert.Equal(t, d, got.Data, "%T", c)
		}
	}
}

// selfReader reads and writes itself, any field included: what it reads
// stays, the constructor's pointer is not put back over it.
type selfReader struct {
	Kind    string `json:"kind"`
	Payload any    `json:"payload"`
}

type selfReaderWire struct {
	Kind    string      `json:"kind"`
	Payload *anyDetails `json:"payload"`
}

func (*selfReader) EventType() events.Type { return "self.reader" }

func (s selfReader) wire() selfReaderWire {
	w := selfReaderWire{Kind: s.Kind}
	w.Payload, _ = s.Payload.(*anyDetails)
	return w
}

func (s *selfReader) from(w selfReaderWire) {
	s.Kind, s.Payload = w.Kind, nil
	if w.Payload != nil {
		s.Payload = w.Payload
	}
}

func (s selfReader) MarshalJSON() ([]byte, error)    { return json.Marshal(s.wire()) }
func (s selfReader) MarshalMsgpack() ([]byte, error) { return msgpack.Marshal(s.wire()) }
func (s *selfReader) UnmarshalJSON(b []byte) error {
	var w selfReaderWire
	err := json.Unmarshal(b, &w)
	s.from(w)
	return err
}
func (s *selfReader) UnmarshalMsgpack(b []byte) error {
	var w selfReaderWire
	err := msgpack.Unmarshal(b, &w)
	s.from(w)
	return err
}

// loopHost's constructor points back at its value through a field the
// codecs skip.
type loopHost struct {
	Payload any       `json:"payload"`
	Back    *loopHost `json:"-"`
}

func (*loopHost) EventType() events.Type { return "loop.host" }

// ptrPtrHost holds a pointer to a pointer in a field of type any:
// encoding/json reads null into the pointer it points to.
type ptrPtrHost struct {
	Payload any `json:"payload"`
}

func (*ptrPtrHost) EventType() events.Type { return "ptr.ptr.host" }

// listHost's constructor fills a list whose elements the msgpack decoder
// reads into.
type listHost struct {
	Items []anyInner `json:"items"`
}

func (*listHost) EventType() events.Type { return "list.host" }

func TestAnyFieldsReadNilWhereTheyHide(t *testing.T) {
	agree(t, func() events.Data { return &selfReader{Payload: &anyDetails{}} },
		&selfReader{Kind: "a", Payload: &anyDetails{"x"}}, &selfReader{Kind: "b"})
	loop := func() events.Data {
		l := &loopHost{Payload: &anyDetails{}}
		l.Back = l
		return l
	}
	reg := events.NewRegistry()
	require.NoError(t, reg.Register("loop.host", 1, loop))
	for _, payload := range []any{&anyDetails{"x"}, nil} {
		for _, c := range []events.Codec{events.NewMsgpackCodec(reg), events.NewJSONCodec(reg)} {
			b, err := c.Append(nil, hostEvent(&loopHost{Payload: payload}))
			require.NoError(t, err, "%T", c)
			got, err := c.Decode(b)
			require.NoError(t, err, "%T", c)
			assert.Equal(t, payload, got.Data.(*loopHost).Payload, "%T", c)
		}
	}
	var none *anyDetails
	some := &anyDetails{"y"}
	agree(t, func() events.Data {
		p := &anyDetails{}
		return &ptrPtrHost{Payload: &p}
	}, &ptrPtrHost{Payload: &none}, &ptrPtrHost{Payload: &some})
	// The decoder reads into the constructor's list elements, or into
	// copies of them as it grows the list, and makes the others.
	list := func() events.Data { return &listHost{Items: []anyInner{{P: &anyDetails{}}}} }
	agree(t, list, &listHost{Items: []anyInner{{P: &anyDetails{"z"}}}}, &listHost{Items: []anyInner{{P: nil}}},
		&listHost{Items: []anyInner{{P: &anyDetails{"a"}}, {P: nil}}}, &listHost{Items: []anyInner{{P: nil}, {P: nil}}})
	// A field that points into the constructor's list, which the decoder
	// copies as it grows it.
	agree(t, func() events.Data {
		h := &firstOfList{Items: []anyInner{{P: &anyDetails{}}}}
		h.First = &h.Items[0]
		return h
	}, &firstOfList{Items: []anyInner{{P: &anyDetails{"a"}}, {P: map[string]any{"note": "b"}}}, First: &anyInner{P: &anyDetails{"a"}}},
		&firstOfList{Items: []anyInner{{P: nil}, {P: nil}}, First: &anyInner{P: nil}})
}

type firstOfList struct {
	Items []anyInner `json:"items"`
	First *anyInner  `json:"first"`
}

func (*firstOfList) EventType() events.Type { return "first.of.list" }

// twoAny's first field has its address.
type twoAny struct {
	A any `json:"a"`
	B any `json:"b"`
}

type aliasAnyHost struct {
	First *any    `json:"first"`
	Both  *twoAny `json:"both"`
}

func (*aliasAnyHost) EventType() events.Type { return "alias.any.host" }

// A pointer to a struct's first field is not the struct: both get their
// stand-ins.
func TestAnyFieldsBehindAPointerToTheirFirstField(t *testing.T) {
	newData := func() events.Data {
		tw := &twoAny{A: &anyDetails{}, B: &anyDetails{}}
		return &aliasAnyHost{First: &tw.A, Both: tw}
	}
	reg := events.NewRegistry()
	require.NoError(t, reg.Register("alias.any.host", 1, newData))
	for _, c := range []events.Codec{events.NewMsgpackCodec(reg), events.NewJSONCodec(reg)} {
		var a any = &anyDetails{"a"}
		b, err := c.Append(nil, hostEvent(&aliasAnyHost{First: &a, Both: &twoAny{A: a}}))
		require.NoError(t, err, "%T", c)
		got, err := c.Decode(b)
		require.NoError(t, err, "%T", c)
		h := got.Data.(*aliasAnyHost)
		assert.Equal(t, &anyDetails{"a"}, h.Both.A, "%T", c)
		assert.Nil(t, h.Both.B, "%T", c)
	}
}

// A field pointing into a list that the decoder grows shares its stand-in
// with the element's copy: nil in one place and a value in the other is an
// error of the event, not a guess (encoding/json does not read it back
// either).
func TestAnyFieldSharedThroughAGrownList(t *testing.T) {
	reg := events.NewRegistry()
	require.NoError(t, reg.Register("first.of.list", 1, func() events.Data {
		h := &firstOfList{Items: []anyInner{{P: &anyDetails{}}}}
		h.First = &h.Items[0]
		return h
	}))
	m := events.NewMsgpackCodec(reg)
	for _, d := range []*firstOfList{
		{Items: []anyInner{{P: &anyDetails{"a"}}, {P: nil}}, First: &anyInner{P: nil}},
		{Items: []anyInner{{P: nil}, {P: nil}}, First: &anyInner{P: &anyDetails{"a"}}},
	} {
		b, err := m.Append(nil, hostEvent(d))
		require.NoError(t, err)
		_, err = m.Decode(b)
		require.ErrorIs(t, err, events.ErrMalformed)
		assert.ErrorContains(t, err, "the event has nil, and a value, in two places that share what the constructor put in a field of type any")
	}
}

// twoViews holds one list twice: the decoder grows it for one, and cuts
// it for the other.
type twoViews struct {
	A *listHost `json:"a"`
	B *listHost `json:"b"`
}

func (*twoViews) EventType() events.Type { return "two.views" }

func TestNoStandInPastAListsLength(t *testing.T) {
	reg := events.NewRegistry()
	require.NoError(t, reg.Register("two.views", 1, func() events.Data {
		l := &listHost{Items: []anyInner{{P: &anyDetails{}}, {P: &anyDetails{}}}}
		return &twoViews{A: l, B: l}
	}))
	m := events.NewMsgpackCodec(reg)
	three := &listHost{Items: []anyInner{{P: &anyDetails{"a"}}, {P: &anyDetails{"b"}}, {P: &anyDetails{"c"}}}}
	b, err := m.Append(nil, hostEvent(&twoViews{A: three, B: &listHost{Items: []anyInner{{P: &anyDetails{"d"}}}}}))
	require.NoError(t, err)
	got, err := m.Decode(b)
	require.NoError(t, err)
	items := got.Data.(*twoViews).A.Items
	for i, it := range items[:cap(items)] {
		assert.NotContains(t, fmt.Sprintf("%T", it.P), "nilableAny", "element %d of %d (length %d)", i, cap(items), len(items))
	}
}

// Interface fields that nothing can set (embedded, not exported) are left
// alone by the walks before and after the decoder.
type roAny interface{}

type roHost struct {
	N int `json:"n"`
	stamper
	roAny
}

func (*roHost) EventType() events.Type { return "ro.host" }

type roWriter struct {
	N int `json:"n"`
}

func (*roWriter) EventType() events.Type { return "ro.host" }

func TestReadOnlyInterfaceFieldsStay(t *testing.T) {
	local := time.Unix(1700000000, 0)
	reg := events.NewRegistry()
	require.NoError(t, reg.Register("ro.host", 1, func() events.Data {
		return &roHost{stamper: &stampAt{local}, roAny: &anyDetails{"x"}}
	}))
	writer := events.NewRegistry()
	require.NoError(t, writer.Register("ro.host", 1, func() events.Data { return new(roWriter) }))
	b, err := events.NewMsgpackCodec(writer).Append(nil, hostEvent(&roWriter{N: 3}))
	require.NoError(t, err)
	got, err := events.NewMsgpackCodec(reg).Decode(b)
	require.NoError(t, err)
	h := got.Data.(*roHost)
	assert.Equal(t, 3, h.N)
	assert.Equal(t, local, h.stamper.(*stampAt).At)
	assert.Equal(t, &anyDetails{"x"}, h.roAny)
}

// payloadsWriter writes its payload member once for each of Vals, in an
// event of type typ, as a writer of another language may write a member
// more than once: the later value counts.
type payloadsWriter struct {
	typ  events.Type
	Vals []any
}

func (w *payloadsWriter) EventType() events.Type { return w.typ }

func (w *payloadsWriter) EncodeMsgpack(e *msgpack.Encoder) error {
	if err := e.EncodeMapLen(len(w.Vals)); err != nil {
		return err
	}
	for _, v := range w.Vals {
		if err := e.EncodeString("payload"); err != nil {
			return err
		}
		if err := e.Encode(v); err != nil {
			return err
		}
	}
	return nil
}

// writePayloads returns the msgpack bytes of an event of type typ whose
// payload member is each of vals in turn.
func writePayloads(t *testing.T, typ events.Type, vals ...any) []byte {
	t.Helper()
	reg := events.NewRegistry()
	require.NoError(t, reg.Register(typ, 1, func() events.Data { return &payloadsWriter{typ: typ} }))
	b, err := events.NewMsgpackCodec(reg).Append(nil, hostEvent(&payloadsWriter{typ: typ, Vals: vals}))
	require.NoError(t, err)
	return b
}

type dupHost struct {
	Payload any `json:"payload"`
}

func (*dupHost) EventType() events.Type { return "dup.host" }

// A member given twice counts with its later value, nil or not.
func TestAnyFieldGivenTwiceKeepsTheLater(t *testing.T) {
	reader := events.NewRegistry()
	require.NoError(t, reader.Register("dup.host", 1, func() events.Data { return &dupHost{Payload: &anyDetails{}} }))
	x, y := &anyDetails{"x"}, &anyDetails{"y"}
	for _, tc := range []struct {
		first, second *anyDetails
		want          any
	}{{x, nil, nil}, {nil, y, y}, {x, y, y}, {nil, nil, nil}} {
		got, err := events.NewMsgpackCodec(reader).Decode(writePayloads(t, "dup.host", tc.first, tc.second))
		require.NoError(t, err, "%v then %v", tc.first, tc.second)
		if tc.want == nil {
			assert.Nil(t, got.Data.(*dupHost).Payload, "%v then %v", tc.first, tc.second)
		} else {
			assert.Equal(t, tc.want, got.Data.(*dupHost).Payload, "%v then %v", tc.first, tc.second)
		}
	}
}

// ptrPtrPair holds one pointer to a pointer in two fields: nil in one and
// a value in the other, in an order the stand-ins cannot see, is an error
// of the event rather than a guess.
type ptrPtrPair struct {
	B any `json:"b"`
	A any `json:"a"`
}

func (*ptrPtrPair) EventType() events.Type { return "ptr.ptr.pair" }

type ptrPtrPairWriter struct {
	B *anyDetails `json:"b"`
	A *anyDetails `json:"a"`
}

func (*ptrPtrPairWriter) EventType() events.Type { return "ptr.ptr.pair" }

func TestAnyFieldsSharingAPointerToAPointer(t *testing.T) {
	writer := events.NewRegistry()
	require.NoError(t, writer.Register("ptr.ptr.pair", 1, func() events.Data { return new(ptrPtrPairWriter) }))
	reader := events.NewRegistry()
	require.NoError(t, reader.Register("ptr.ptr.pair", 1, func() events.Data {
		p := &anyDetails{}
		return &ptrPtrPair{B: &p, A: &p}
	}))
	b, err := events.NewMsgpackCodec(writer).Append(nil, hostEvent(&ptrPtrPairWriter{B: nil, A: &anyDetails{"x"}}))
	require.NoError(t, err)
	_, err = events.NewMsgpackCodec(reader).Decode(b)
	assert.ErrorContains(t, err, "the event has nil, and a value, in two places")
	b, err = events.NewMsgpackCodec(writer).Append(nil, hostEvent(&ptrPtrPairWriter{B: &anyDetails{"y"}, A: &anyDetails{"x"}}))
	require.NoError(t, err)
	got, err := events.NewMsgpackCodec(reader).Decode(b)
	require.NoError(t, err)
	assert.Equal(t, &anyDetails{"x"}, *(got.Data.(*ptrPtrPair).A.(**anyDetails)))
}

// A list behind a field of type any, whose elements hold fields of type
// any: the decoder grows the list, copying their stand-ins.
type anyList struct {
	X any `json:"x"`
}

func (*anyList) EventType() events.Type { return "any.list" }

type anyListWriter struct {
	X []anyInner `json:"x"`
}

func (*anyListWriter) EventType() events.Type { return "any.list" }

func TestStandInsInAListBehindAnAnyField(t *testing.T) {
	writer := events.NewRegistry()
	require.NoError(t, writer.Register("any.list", 1, func() events.Data { return new(anyListWriter) }))
	reader := events.NewRegistry()
	require.NoError(t, reader.Register("any.list", 1, func() events.Data {
		return &anyList{X: &[]anyInner{{P: &anyDetails{}}}}
	}))
	b, err := events.NewMsgpackCodec(writer).Append(nil, hostEvent(&anyListWriter{X: []anyInner{{P: &anyDetails{"a"}}, {P: &anyDetails{"b"}}}}))
	require.NoError(t, err)
	got, err := events.NewMsgpackCodec(reader).Decode(b)
	require.NoError(t, err)
	items := *got.Data.(*anyList).X.(*[]anyInner)
	require.Len(t, items, 2)
	assert.Equal(t, &anyDetails{"a"}, items[0].P)
}

// twoParts has two members, so that a value read over another shows what
// the first left.
type twoParts struct {
	Note  string `json:"note"`
	Extra int    `json:"extra,omitempty"`
}

type tripleHost struct {
	Payload any `json:"payload"`
}

func (*tripleHost) EventType() events.Type { return "triple.host" }

// A value, nil, then a value: the nil between leaves nothing of the first.
func TestAnyFieldValueNilValue(t *testing.T) {
	b := writePayloads(t, "triple.host", &twoParts{"x", 7}, nil, &twoParts{"y", 0})
	plain := events.NewRegistry()
	require.NoError(t, plain.Register("triple.host", 1, func() events.Data { return &tripleHost{Payload: &twoParts{}} }))
	got, err := events.NewMsgpackCodec(plain).Decode(b)
	require.NoError(t, err)
	assert.Equal(t, &twoParts{Note: "y"}, got.Data.(*tripleHost).Payload)
	ptrPtr := events.NewRegistry()
	require.NoError(t, ptrPtr.Register("triple.host", 1, func() events.Data {
		p := &twoParts{}
		return &tripleHost{Payload: &p}
	}))
	got, err = events.NewMsgpackCodec(ptrPtr).Decode(b)
	require.NoError(t, err)
	assert.Equal(t, &twoParts{Note: "y"}, *got.Data.(*tripleHost).Payload.(**twoParts))
}

type keepHost struct {
	Payload any       `json:"payload"`
	Keep    *twoParts `json:"-"`
}

func (*keepHost) EventType() events.Type { return "triple.host" }

// A value after a nil reads into a new value, as into a field of the
// pointer's type: the constructor's defaults do not show through, nor is
// what the constructor shares with another field overwritten.
func TestAnyFieldValueAfterNilIsNew(t *testing.T) {
	nilThenY := writePayloads(t, "triple.host", nil, &twoParts{"y", 0})
	xNilY := writePayloads(t, "triple.host", &twoParts{"x", 7}, nil, &twoParts{"y", 0})

	plain := events.NewRegistry()
	require.NoError(t, plain.Register("triple.host", 1, func() events.Data { return &tripleHost{Payload: &twoParts{Extra: 5}} }))
	got, err := events.NewMsgpackCodec(plain).Decode(nilThenY)
	require.NoError(t, err)
	assert.Equal(t, &twoParts{Note: "y"}, got.Data.(*tripleHost).Payload)

	ptrPtr := events.NewRegistry()
	require.NoError(t, ptrPtr.Register("triple.host", 1, func() events.Data {
		p := &twoParts{Extra: 5}
		return &tripleHost{Payload: &p}
	}))
	got, err = events.NewMsgpackCodec(ptrPtr).Decode(nilThenY)
	require.NoError(t, err)
	assert.Equal(t, &twoParts{Note: "y"}, *got.Data.(*tripleHost).Payload.(**twoParts))

	shared := events.NewRegistry()
	require.NoError(t, shared.Register("triple.host", 1, func() events.Data {
		p := &twoParts{}
		return &keepHost{Payload: p, Keep: p}
	}))
	got, err = events.NewMsgpackCodec(shared).Decode(xNilY)
	require.NoError(t, err)
	h := got.Data.(*keepHost)
	assert.Equal(t, &twoParts{Note: "y"}, h.Payload)
	assert.Equal(t, &twoParts{Note: "x", Extra: 7}, h.Keep, "what the first value was read into")
}

type listItem struct {
	V any `json:"v"`
}

type listHolder struct {
	Items []listItem `json:"items"`
}

type keepListHost struct {
	Payload any         `json:"payload"`
	Keep    *listHolder `json:"-"`
}

func (*keepListHost) EventType() events.Type { return "keep.list.host" }

// A value grows a list inside what the field held, then a nil and a value
// read into a new one: the first's copied stand-ins are swept all the
// same, as a field that the codecs skip still shows them.
func TestStandInsInWhatAFieldHeldBeforeANil(t *testing.T) {
	first := map[string]any{"items": []any{map[string]any{"v": map[string]any{"note": "a"}}, map[string]any{"v": nil}}}
	b := writePayloads(t, "keep.list.host", first, nil, map[string]any{"items": []any{}})
	reader := events.NewRegistry()
	require.NoError(t, reader.Register("keep.list.host", 1, func() events.Data {
		p := &listHolder{Items: make([]listItem, 1)}
		p.Items[0].V = &anyDetails{}
		return &keepListHost{Payload: p, Keep: p}
	}))
	got, err := events.NewMsgpackCodec(reader).Decode(b)
	require.NoError(t, err)
	h := got.Data.(*keepListHost)
	assert.Equal(t, &listHolder{Items: []listItem{}}, h.Payload)
	assert.Equal(t, &anyDetails{Note: "a"}, h.Keep.Items[0].V, "what the first value was read into")
}
