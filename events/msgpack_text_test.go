package events_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
)

// mpStr is the msgpack of s, shorter than 32 bytes.
func mpStr(s string) []byte { return append([]byte{0xa0 | byte(len(s))}, s...) }

// mpEnvelope is a msgpack envelope around the given meta and data, written
// by hand: what another writer may send.
func mpEnvelope(typ string, meta, data []byte) []byte {
	b := []byte{0x99, 0x01, 0xc4, 16}
	b = append(b, eventID[:]...)
	b = append(b, 0xc4, 16)
	b = append(b, issueID[:]...)
	b = append(b, 0x01)
	b = append(b, mpStr(typ)...)
	b = append(b, 0x01)
	b = append(b, 0xd3, 0x18, 0x98, 0x8f, 0x74, 0xa9, 0x8e, 0x40, 0x00)
	if meta == nil {
		meta = []byte{0xc0}
	}
	return append(append(b, meta...), data...)
}

// mpOpened is the msgpack data of an opening with the given key, channel
// and customer member.
func mpOpened(key, channel, member string) []byte {
	data := append([]byte{0x84}, mpStr("customer")...)
	data = append(data, 0x82)
	data = append(data, mpStr("keys")...)
	data = append(data, 0x91)
	data = append(data, mpStr(key)...)
	data = append(data, mpStr(member)...)
	data = append(data, mpStr("x")...)
	data = append(data, mpStr("channel")...)
	data = append(data, mpStr(channel)...)
	data = append(data, mpStr("topic")...)
	data = append(data, mpStr("t")...)
	data = append(data, mpStr("contact")...)
	data = append(data, 0xc4, 16)
	return append(data, contactID[:]...)
}

// Text that is not UTF-8, which JSON cannot carry, is malformed in msgpack
// too, wherever it is: a name, a key, the type, meta, or an unknown
// member of data; so that an event msgpack reads can always be exported.
func TestMsgpackRefusesTextThatIsNotUTF8(t *testing.T) {
	mc := events.NewMsgpackCodec(nil)
	good := mpEnvelope("issue.opened", nil, mpOpened("account:M\u00fcller", "phone", "tier"))
	e, err := mc.Decode(good)
	require.NoError(t, err)
	_, err = events.NewJSONCodec(nil).Append(nil, e)
	require.NoError(t, err, "the same event in UTF-8 exports")

	for _, tt := range []struct {
		name  string
		input []byte
		field string
	}{
		{"a key", mpEnvelope("issue.opened", nil, mpOpened("account:M\xfcller", "phone", "tier")), "data.customer.keys"},
		{"a channel", mpEnvelope("issue.opened", nil, mpOpened("account:a", "ph\xffne", "tier")), "data.channel"},
		{"a member of the customer", mpEnvelope("issue.opened", nil, mpOpened("account:a", "phone", "ti\xffer")), "data.customer"},
		{"a meta key", mpEnvelope("issue.opened", append(append([]byte{0x81}, mpStr("tenant\xfe")...), mpStr("x")...), mpOpened("account:a", "phone", "tier")), "meta"},
		{"a meta value", mpEnvelope("issue.opened", append(append([]byte{0x81}, mpStr("tenant")...), mpStr("\xfe")...), mpOpened("account:a", "phone", "tier")), "meta"},
		{"the type", mpEnvelope("issue.open\xff", nil, mpOpened("account:a", "phone", "tier")), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := mc.Decode(tt.input)
			require.ErrorIs(t, err, events.ErrMalformed)
			assert.ErrorContains(t, err, "is not UTF-8")
			assert.ErrorContains(t, err, tt.field)
		})
	}
}

// A name is checked when it first comes, and the decoder's cache of names
// holds UTF-8 only: the same bad name is refused every time.
func TestMsgpackRefusesABadNameEveryTime(t *testing.T) {
	mc := events.NewMsgpackCodec(nil)
	bad := mpEnvelope("issue.opened", nil, mpOpened("account:a", "ch\xffnnel", "tier"))
	for range 3 {
		_, err := mc.Decode(bad)
		require.ErrorIs(t, err, events.ErrMalformed)
	}
}

// Damage to an event of a type the reader does not know is malformed, as
// in JSON, not an unknown type that a reader told to skip those would
// pass on; and an event without a type is malformed.
func TestMsgpackDamageOfAnUnknownTypeIsMalformed(t *testing.T) {
	reg := events.NewRegistry()
	require.NoError(t, reg.Register(typeEscalated, 1, func() events.Data { return new(Escalated) }))
	e := envelopeOf(0, &Escalated{Contact: "c-1", Level: 2, Tags: []string{"a"}})
	for _, pair := range []struct{ w, r events.Codec }{
		{events.NewMsgpackCodec(reg), events.NewMsgpackCodec(nil)},
		{events.NewJSONCodec(reg), events.NewJSONCodec(nil)},
	} {
		b, err := pair.w.Append(nil, e)
		require.NoError(t, err)
		_, err = pair.r.Decode(b)
		var unknown *events.UnknownTypeError
		require.True(t, errors.As(err, &unknown), "%s: whole, an unknown type: %v", pair.r.Name(), err)
		for _, cut := range []int{len(b) - 3, len(b) - 10} {
			_, err := pair.r.Decode(b[:cut])
			assert.ErrorIs(t, err, events.ErrMalformed, "%s, cut to %d of %d", pair.r.Name(), cut, len(b))
			assert.False(t, errors.As(err, &unknown), "%s, cut: not an unknown type", pair.r.Name())
		}
		_, err = pair.r.Decode(append(append([]byte{}, b...), 0xc1, 'x'))
		assert.ErrorIs(t, err, events.ErrMalformed, "%s, with bytes after it", pair.r.Name())
	}
	_, err := events.NewMsgpackCodec(nil).Decode(mpEnvelope("", nil, mpOpened("account:a", "phone", "tier")))
	require.ErrorIs(t, err, events.ErrMalformed)
	assert.ErrorContains(t, err, `field "type"`)
}

// nested returns a leaf in n lists, one in the other.
func nested(n int) any {
	var v any = "leaf"
	for range n {
		v = []any{v}
	}
	return v
}

// An Extra value may nest as deep on every path that reads it: alone at
// its type's schema, or with the whole data to upcast it; and no deeper.
func TestMsgpackExtraNestsAsDeepOnEveryPath(t *testing.T) {
	reg := events.NewRegistry()
	require.NoError(t, reg.Register(events.TypeClassified, 2, func() events.Data { return new(events.Classified) }))
	require.NoError(t, reg.AddUpcaster(events.TypeClassified, 1, identityUpcast))
	old, upcasting := events.NewMsgpackCodec(nil), events.NewMsgpackCodec(reg)

	e := envelopeOf(1, &events.Classified{Topic: "a/b", Extra: events.Extra{"deep": nested(64)}})
	b, err := old.Append(nil, e)
	require.NoError(t, err)
	_, err = old.Decode(b)
	require.NoError(t, err, "read at its schema")
	_, err = upcasting.Decode(b)
	require.NoError(t, err, "read to be upcast")

	// One level more: the writer refuses it, and both paths of the
	// reader, given it by another writer, as too deep.
	_, err = old.Append(nil, envelopeOf(1, &events.Classified{Topic: "a/b", Extra: events.Extra{"deep": nested(65)}}))
	require.ErrorContains(t, err, "nesting too deep")
	at := bytes.Index(b, bytes.Repeat([]byte{0x91}, 64))
	require.Positive(t, at)
	deeper := append(append(append([]byte{}, b[:at]...), 0x91), b[at:]...)
	for _, c := range []*events.MsgpackCodec{old, upcasting} {
		_, err := c.Decode(deeper)
		assert.ErrorIs(t, err, events.ErrMalformed)
		assert.ErrorContains(t, err, "nesting too deep")
	}
}

// A member given twice, the second time null, is no member, the last
// winning: the same in both codecs, for data and for meta.
func TestCodecsReadAMemberGivenTwiceTheSame(t *testing.T) {
	jc, mc := events.NewJSONCodec(nil), events.NewMsgpackCodec(nil)
	const head = `{"id":"0193a4c2-7a9e-7c61-9d41-1a2b3c4d5e6f","issue":"0193a4c2-7a9e-7000-8000-000000000001","version":1,`
	je, err := jc.Decode([]byte(head + `"type":"issue.routed","at":"2026-03-02T09:15:00Z","data":{"contact":"0193a4c2-7a9e-7000-8000-0000000000c1","queue":"q","queue":"r","agent":"ann","agent":null,"wait_ms":5,"wait_ms":null},"meta":{"a":"x","a":null,"b":"y"}}`))
	require.NoError(t, err)
	assert.Equal(t, &events.Routed{Contact: contactID, Queue: "r"}, je.Data)
	assert.Equal(t, events.Meta{"b": "y"}, je.Meta)

	data := []byte{0x87}
	data = append(data, mpStr("contact")...)
	data = append(data, 0xc4, 16)
	data = append(data, contactID[:]...)
	for _, kv := range [][2]string{{"queue", "q"}, {"queue", "r"}, {"agent", "ann"}} {
		data = append(append(data, mpStr(kv[0])...), mpStr(kv[1])...)
	}
	data = append(append(data, mpStr("agent")...), 0xc0)
	data = append(append(data, mpStr("wait_ms")...), 0x05)
	data = append(append(data, mpStr("wait_ms")...), 0xc0)
	meta := append([]byte{0x83}, mpStr("a")...)
	meta = append(append(meta, mpStr("x")...), mpStr("a")...)
	meta = append(append(meta, 0xc0), mpStr("b")...)
	meta = append(meta, mpStr("y")...)
	me, err := mc.Decode(mpEnvelope("issue.routed", meta, data))
	require.NoError(t, err)
	assert.Equal(t, je.Data, me.Data)
	assert.Equal(t, je.Meta, me.Meta)
}

// mpClassified is the msgpack data of a classification with one member
// more.
func mpClassified(member string) []byte {
	data := append([]byte{0x82}, mpStr("topic")...)
	data = append(data, mpStr("a/b")...)
	data = append(data, mpStr(member)...)
	return append(data, mpStr("v")...)
}

// The paths that read data generically, an upcast and a host's type,
// refuse text that is not UTF-8 as the built-in reader does, member names
// included, rather than pass it on or turn it into U+FFFD.
func TestMsgpackGenericPathsRefuseTextThatIsNotUTF8(t *testing.T) {
	upcasting := events.NewRegistry()
	require.NoError(t, upcasting.Register(events.TypeClassified, 2, func() events.Data { return new(events.Classified) }))
	require.NoError(t, upcasting.AddUpcaster(events.TypeClassified, 1, identityUpcast))
	for _, member := range []string{"no\xffte", "note"} {
		b := mpEnvelope("issue.classified", nil, mpClassified(member))
		_, errAtSchema := events.NewMsgpackCodec(nil).Decode(b)
		_, errUpcast := events.NewMsgpackCodec(upcasting).Decode(b)
		if member == "note" {
			assert.NoError(t, errAtSchema)
			assert.NoError(t, errUpcast)
			continue
		}
		assert.ErrorIs(t, errAtSchema, events.ErrMalformed)
		assert.ErrorIs(t, errUpcast, events.ErrMalformed, "upcast")
		assert.ErrorContains(t, errUpcast, "not UTF-8")
	}

	host := events.NewRegistry()
	require.NoError(t, host.Register(typeEscalated, 1, func() events.Data { return new(Escalated) }))
	mc := events.NewMsgpackCodec(host)
	_, err := mc.Append(nil, envelopeOf(1, &Escalated{Contact: "c-\xff", Level: 1}))
	assert.ErrorIs(t, err, events.ErrInvalidEvent, "the encoder writes no text that the decoder refuses")
	b, err := mc.Append(nil, envelopeOf(1, &Escalated{Contact: "c-1", Level: 1}))
	require.NoError(t, err)
	_, err = mc.Decode(b)
	assert.NoError(t, err)
	b = bytes.Replace(b, []byte("c-1"), []byte("c-\xff"), 1) // as another writer may
	_, err = mc.Decode(b)
	assert.ErrorIs(t, err, events.ErrMalformed, "a host's type")
	assert.ErrorContains(t, err, "not UTF-8")
}

// A msgpack nil where the envelope needs a value (the event's id, its
// issue, its time, a known type's data) is missing, as JSON's null is
// there: it was read as the zero uuid, 1970 or empty data.
func TestMsgpackNilIsMissingAsJSONNullIs(t *testing.T) {
	data := append(append([]byte{0x81}, mpStr("topic")...), mpStr("billing")...)
	good := mpEnvelope("issue.classified", nil, data)
	typ := len(mpStr("issue.classified"))
	// Offsets in good: id 2–19, issue 20–37, version 38, type, schema,
	// at (9 bytes), meta, data.
	at := 39 + typ + 1
	splice := func(from, n int) []byte {
		return append(append(append([]byte{}, good[:from]...), 0xc0), good[from+n:]...)
	}
	codec := events.NewMsgpackCodec(nil)
	_, err := codec.Decode(good)
	require.NoError(t, err, "the envelope before the nils")
	for field, b := range map[string][]byte{
		"id":    splice(2, 18),
		"issue": splice(20, 18),
		"at":    splice(at, 9),
		"data":  splice(len(good)-len(data), len(data)),
	} {
		_, err := codec.Decode(b)
		require.ErrorIs(t, err, events.ErrMalformed, field)
		assert.Equal(t, field, decodeError(t, err).Field, field)
		assert.ErrorContains(t, err, "missing", field)
	}
	// Of a type the reader does not know, nil data is no data: the event
	// is of an unknown type, as in JSON.
	_, err = codec.Decode(mpEnvelope("issue.merged", nil, []byte{0xc0}))
	var unknown *events.UnknownTypeError
	require.ErrorAs(t, err, &unknown)
}
