package events_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/truefcr/truefcr/events"
)

// roundtrip through both codecs.
func ctBoth(t *testing.T, reg *events.Registry, d events.Data) {
	for _, c := range []events.Codec{events.NewMsgpackCodec(reg), events.NewJSONCodec(reg)} {
		b, err := c.Append(nil, hostEvent(d))
		require.NoError(t, err, "%T", c)
		got, err := c.Decode(b)
		require.NoError(t, err, "%T", c)
		require.Equal(t, d.EventType(), got.Data.EventType(), "%T", c)
	}
}

// 1. forced inline of a type with its own marshaler: missed ---
type CtA struct {
	CtB `json:",inline"`
	CtC // makes MarshalMsgpack ambiguous on CtA, so CtA has none
}
type CtB struct{ *CtA }
type CtC struct{}

func (CtB) MarshalMsgpack() ([]byte, error) { return []byte{0xc0}, nil }
func (CtC) MarshalMsgpack() ([]byte, error) { return []byte{0xc0}, nil }

type ctH struct {
	Sub *CtA `json:"sub"`
}

func (*ctH) EventType() events.Type { return "ct.h" }

// A type told to inline an embedded struct that embeds it back is
// refused, whatever marshaler the embedded one has: told so, the encoder
// looks at its fields all the same.
func TestCT1InlineIsFollowed(t *testing.T) {
	reg := events.NewRegistry()
	err := reg.Register("ct.h", 1, func() events.Data { return new(ctH) })
	require.ErrorContains(t, err, "embeds itself")
}

// 2. decoder-only method: getFields does not recurse, yet refused ---
type ctDec struct {
	*ctDec
	V int `json:"v"`
}

func (*ctDec) EventType() events.Type { return "ct.dec" }
func (r *ctDec) UnmarshalMsgpack(b []byte) error {
	var m map[string]any
	if err := msgpack.Unmarshal(b, &m); err != nil {
		return err
	}
	v, _ := m["v"].(int8)
	r.V = int(v)
	return nil
}

func TestCT2DecoderOnly(t *testing.T) {
	reg := events.NewRegistry()
	require.NoError(t, reg.Register("ct.dec", 1, func() events.Data { return new(ctDec) }))
	ctBoth(t, reg, &ctDec{V: 7})
}

// 3. own msgpack codec on the type itself ---
type ctOwn struct {
	*ctOwn
	V int `json:"v"`
}

func (*ctOwn) EventType() events.Type            { return "ct.own" }
func (r ctOwn) MarshalMsgpack() ([]byte, error)  { return msgpack.Marshal(r.V) }
func (r *ctOwn) UnmarshalMsgpack(b []byte) error { return msgpack.Unmarshal(b, &r.V) }

func TestCT3OwnCodec(t *testing.T) {
	reg := events.NewRegistry()
	require.NoError(t, reg.Register("ct.own", 1, func() events.Data { return new(ctOwn) }))
	ctBoth(t, reg, &ctOwn{V: 7})
}

// 4. unexported / "-" fields that msgpack never looks at ---
type ctLoop struct {
	*ctLoop
	V int
}
type ctHidden struct {
	Name  string  `json:"name"`
	cache *ctLoop //nolint:unused
	Skip  *ctLoop `json:"-"`
}

func (*ctHidden) EventType() events.Type { return "ct.hidden" }

func TestCT4Hidden(t *testing.T) {
	reg := events.NewRegistry()
	require.NoError(t, reg.Register("ct.hidden", 1, func() events.Data { return new(ctHidden) }))
	ctBoth(t, reg, &ctHidden{Name: "x", cache: &ctLoop{}, Skip: &ctLoop{}})
}

// 5. nil pointer of such a type inside an any body ---
type ctNilHolder struct {
	P *ctLoop `json:"p"`
}

func TestCT5NilInBody(t *testing.T) {
	reg := events.NewRegistry()
	require.NoError(t, reg.Register("acme.cycle", 1, func() events.Data { return new(cycleNote) }))
	ctBoth(t, reg, &cycleNote{Body: &ctNilHolder{}})
}

// 6. interface field prefilled by the constructor ---
// What the constructor puts in an interface field is what the decoder
// reads into: one that embeds itself is refused.
func TestCT6PrefilledIsLookedAt(t *testing.T) {
	reg := events.NewRegistry()
	err := reg.Register("acme.cycle", 1, func() events.Data { return &cycleNote{Body: &ctLoop{}} })
	require.ErrorContains(t, err, "the constructor makes a value of events_test.ctLoop, which embeds itself")
}

// 8. noinline (json fallback tag) makes it work and is accepted ---
type ctNoInl struct {
	*ctNoInl `json:",noinline"`
	V        int `json:"v"`
}

func (*ctNoInl) EventType() events.Type { return "ct.noinl" }

func TestCT8NoInline(t *testing.T) {
	// Not inlined, the msgpack codec writes the embedded pointer as a
	// field of its own, which it could not allocate on reading: a type
	// that is not exported is refused for that.
	reg := events.NewRegistry()
	require.ErrorContains(t, reg.Register("ct.noinl", 1, func() events.Data { return new(ctNoInl) }),
		"events_test.ctNoInl embeds *events_test.ctNoInl, a nil pointer to a struct type that is not exported")
	require.NoError(t, reg.Register("ct.noinl.exported", 1, func() events.Data { return new(CtNoInlExported) }))
	c := events.NewMsgpackCodec(reg)
	b, err := c.Append(nil, hostEvent(&CtNoInlExported{CtNoInlExported: &CtNoInlExported{V: 2}, V: 3}))
	require.NoError(t, err)
	got, err := c.Decode(b)
	require.NoError(t, err)
	assert.Equal(t, &CtNoInlExported{CtNoInlExported: &CtNoInlExported{V: 2}, V: 3}, got.Data)
}

// CtNoInlExported embeds itself, exported, and is told not to inline it.
type CtNoInlExported struct {
	*CtNoInlExported `json:",noinline"`
	V                int `json:"v"`
}

func (*CtNoInlExported) EventType() events.Type { return "ct.noinl.exported" }
