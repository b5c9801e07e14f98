package events_test

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/truefcr/truefcr/events"
)

type cyNode struct {
	Next *cyNode
	V    int
}
type cyPP *cyPP
type cyKey struct{ P *cyNode }
type cyEPInner struct{ Back any }
type cyEP struct{ *cyEPInner }
type cyJSONOnly struct{ Next *cyJSONOnly }

func (cyJSONOnly) MarshalJSON() ([]byte, error) { return []byte(`1`), nil }

type cyTagged struct {
	Back *cyTagged `json:"-" msgpack:"back"`
}
type cyMpSkip struct {
	Name   string    `json:"name"`
	Parent *cyMpSkip `msgpack:"-"`
}
type cyBin struct{ Next *cyBin }

func (cyBin) MarshalBinary() ([]byte, error) { return []byte("b"), nil }

type cyCust struct{ Next *cyCust }

func (cyCust) EncodeMsgpack(e *msgpack.Encoder) error { return e.EncodeInt(1) }

type cyItems []any
type cyEmbSlice struct {
	cyItems
	N int
}
type cyAttrs map[string]any
type cyEmbMap struct{ cyAttrs }
type cyEmbAny struct{ any }
type cySelf struct{ X any }

// top-level types
type cyProfile struct {
	Attrs map[string]any `json:"attrs"`
}
type cyCustomer struct {
	Profile cyProfile  `json:"profile"`
	Billing *cyProfile `json:"billing"`
}

func (*cyCustomer) EventType() events.Type { return "cy.customer" }

type cyTwo struct {
	A []any `json:"a"`
	B []any `json:"b"`
}
type cyDiamond struct {
	L *cyDia `json:"l"`
	R *cyDia `json:"r"`
}
type cyDia struct {
	Shared *cyLeaf `json:"shared"`
}
type cyLeaf struct {
	Tags []any `json:"tags"`
}
type cyArrHolder struct {
	Arr   *[2]cyLeafP `json:"arr"`
	First *cyLeafP    `json:"first"`
}
type cyLeafP struct {
	Tags []any `json:"tags"`
}

func cyCases() map[string]func() events.Data {
	n := func(b any) events.Data { return &cycleNote{Body: b} }
	return map[string]func() events.Data{
		// cycles
		"c_ptrany": func() events.Data { var p any; p = &p; return n(p) },
		"c_PP":     func() events.Data { var p cyPP; p = cyPP(&p); return n(p) },
		"c_slice_iface": func() events.Data {
			s := make([]any, 2)
			s[1] = []any{"x", s}
			return n(s)
		},
		"c_mapkey_struct": func() events.Data {
			r := &cyNode{}
			r.Next = r
			return n(map[cyKey]int{{r}: 1})
		},
		"c_emb_ptr": func() events.Data { e := &cyEP{&cyEPInner{}}; e.Back = e; return n(e) },
		"c_array":   func() events.Data { p := &[2]any{}; p[1] = p; return n(p) },
		"c_map_list": func() events.Data {
			m := map[string]any{}
			m["l"] = []any{1.0, m}
			return n(m)
		},
		"c_self_field":   func() events.Data { s := &cySelf{}; s.X = s; return n(s) },
		"c_jsononly":     func() events.Data { r := &cyJSONOnly{}; r.Next = r; return n(r) },
		"c_json_dash_mp": func() events.Data { r := &cyTagged{}; r.Back = r; return n(r) },
		"c_emb_slice":    func() events.Data { e := &cyEmbSlice{cyItems: cyItems{nil}}; e.cyItems[0] = e; return n(e) },
		"c_emb_map":      func() events.Data { e := &cyEmbMap{cyAttrs{}}; e.cyAttrs["s"] = e; return n(e) },
		"c_emb_any":      func() events.Data { e := &cyEmbAny{}; e.any = e; return n(e) },
		// leaves with own marshalers
		"l_binary": func() events.Data { r := &cyBin{}; r.Next = r; return n(r) },
		"l_custom": func() events.Data { r := &cyCust{}; r.Next = r; return n(r) },
		// legit values
		"f_emb_slice_flat": func() events.Data { return n(&cyEmbSlice{cyItems: cyItems{"a", 1.0}}) },
		"f_emb_map_flat":   func() events.Data { return n(&cyEmbMap{cyAttrs{"k": "v"}}) },
		"f_emb_any_flat":   func() events.Data { return n(&cyEmbAny{"x"}) },
		"f_first_field": func() events.Data {
			c := &cyCustomer{Profile: cyProfile{Attrs: map[string]any{"k": "v"}}}
			c.Billing = &c.Profile
			return c
		},
		"f_array_elem": func() events.Data {
			a := &[2]cyLeafP{{Tags: []any{"a"}}, {}}
			return n(&cyArrHolder{Arr: a, First: &a[0]})
		},
		"f_same_slice_two_fields": func() events.Data { s := []any{"x", 1.0}; return n(&cyTwo{A: s, B: s}) },
		"f_dag": func() events.Data {
			l := &cyLeaf{Tags: []any{"t"}}
			return n(&cyDiamond{L: &cyDia{l}, R: &cyDia{l}})
		},
		"f_map_twice": func() events.Data { m := map[string]any{"k": 1.0}; return n([]any{m, map[string]any{"a": m, "b": m}}) },
		"f_mp_skip_parent": func() events.Data {
			r := &cyMpSkip{Name: "r"}
			r.Parent = r
			return n(r)
		},
	}
}

// The ways a host's value can hold itself that the msgpack encoder
// would follow for ever are refused, naming it; values that it writes
// without going round (links it does not follow, shared values, types
// that write themselves) are written and read back. Before the walk, each
// of the first ended the process.
func TestMsgpackRefusesEveryWayAValueHoldsItself(t *testing.T) {
	reg := events.NewRegistry()
	require.NoError(t, reg.Register("acme.cycle", 1, func() events.Data { return new(cycleNote) }))
	require.NoError(t, reg.Register("cy.customer", 1, func() events.Data { return new(cyCustomer) }))
	codec := events.NewMsgpackCodec(reg)
	names := slices.Sorted(maps.Keys(cyCases()))
	for _, name := range names {
		e := hostEvent(cyCases()[name]())
		b, err := codec.Append(nil, e)
		switch {
		case strings.HasPrefix(name, "c_"):
			require.ErrorIs(t, err, events.ErrInvalidEvent, name)
			assert.ErrorContains(t, err, "a value that holds itself", name)
		case name == "f_emb_map_flat":
			// The encoder panics on the map of an embedded type that is
			// not exported: an error, not the end of the process.
			assert.ErrorContains(t, err, "the msgpack encoder cannot write *events_test.cycleNote", name)
		default:
			require.NoError(t, err, name)
			_, err = codec.Decode(b)
			require.NoError(t, err, name)
		}
	}
}

// cyRec embeds itself; cyMutualA and cyMutualB embed each other.
type cyRec struct {
	*cyRec
	V int
}

type cyMutualA struct{ *cyMutualB }

type cyMutualB struct {
	*cyMutualA
	V int
}

func (*cyRec) EventType() events.Type { return "cy.rec" }

type cyHolder struct {
	Sub *cyMutualA `json:"sub"`
}

func (*cyHolder) EventType() events.Type { return "cy.holder" }

// A type that embeds itself, through structs that the msgpack encoder
// inlines, ends the encoder's look at its fields in a stack overflow,
// however empty the value, on writing and on reading: it is refused when
// it is registered, and a value of it that a host's value holds is
// refused when written.
func TestATypeThatEmbedsItselfIsRefused(t *testing.T) {
	reg := events.NewRegistry()
	err := reg.Register("cy.rec", 1, func() events.Data { return new(cyRec) })
	require.ErrorContains(t, err, "events_test.cyRec embeds itself")
	err = reg.Register("cy.holder", 1, func() events.Data { return new(cyHolder) })
	require.ErrorContains(t, err, "events_test.cyMutualA embeds itself")

	require.NoError(t, reg.Register("acme.cycle", 1, func() events.Data { return new(cycleNote) }))
	for _, body := range []any{&cyRec{V: 1}, cyMutualB{V: 2}} {
		e := hostEvent(&cycleNote{Body: body})
		_, err := events.NewMsgpackCodec(reg).Append(nil, e)
		require.ErrorIs(t, err, events.ErrInvalidEvent, "%T", body)
		assert.ErrorContains(t, err, "which embeds itself", "%T", body)
	}
}

// cyFaulty's marshaler dereferences nil: a fault of the host's, which
// the codec does not turn into an error of the event.
type cyFaulty struct{ p *int }

func (c cyFaulty) MarshalMsgpack() ([]byte, error) { return []byte{byte(*c.p)}, nil }

func TestAHostMarshalersFaultIsNotHidden(t *testing.T) {
	reg := events.NewRegistry()
	require.NoError(t, reg.Register("acme.cycle", 1, func() events.Data { return new(cycleNote) }))
	e := hostEvent(&cycleNote{Body: cyFaulty{}})
	assert.Panics(t, func() { _, _ = events.NewMsgpackCodec(reg).Append(nil, e) })
}
