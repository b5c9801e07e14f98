package events

import (
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"
)

type mfLeaf struct{ A, B int }
type MfPtrLeaf struct{ P int }
type mfShadowed struct{ A, C int }
type mfTold struct{ A, D int }
type mfNoInline struct{ E int }
type mfNamed struct{ F int }
type mfLower struct{ G int }
type mfDeep struct{ mfDeeper }
type mfDeeper struct{ H int }

// MfOwn and MfOwn2 write and read themselves (exported, as the encoder
// calls their methods), which keeps the decoder
// from inlining them; embedded side by side, neither's methods are
// promoted.
type MfOwn struct{ X int }
type MfOwn2 struct{ X int }

func (o MfOwn) MarshalMsgpack() ([]byte, error)   { return []byte{byte(o.X)}, nil }
func (o *MfOwn) UnmarshalMsgpack(b []byte) error  { o.X = int(b[0]); return nil }
func (o MfOwn2) MarshalMsgpack() ([]byte, error)  { return []byte{byte(o.X)}, nil }
func (o *MfOwn2) UnmarshalMsgpack(b []byte) error { o.X = int(b[0]); return nil }

// mfHost has a field of every kind that the msgpack decoder names its own
// way.
type mfHost struct {
	Plain  int
	Tagged int `json:"tagged"`
	Both   int `msgpack:"mp" json:"js"`
	Skip   int `json:"-"`
	hidden int
	mfLeaf
	*MfPtrLeaf
	mfShadowed // A is mfLeaf's: named whole
	MfOwn      // reads itself: named whole
	MfOwn2
	mfTold     `msgpack:",inline"`   // A is mfLeaf's: D alone
	mfNoInline `msgpack:",noinline"` // named whole
	mfNamed    `json:"named"`        // inlined, and named whole
	mfLower
	mfDeep
	MfExt      // written as an extension: named whole
	Alias  int `msgpack:"al,alias:other"`
	Colon  int `json:"ns:colon"` // an option, no name
	Spaced int `json:" spaced "`
	Bare   int `msgpack:"bare,alias"` // an alias of no name
}

// MfExt is registered with the msgpack package as an extension, which
// keeps the decoder from inlining it.
type MfExt struct{ X int }

func init() {
	msgpack.RegisterExtEncoder(44, MfExt{}, func(e *msgpack.Encoder, v reflect.Value) ([]byte, error) {
		return []byte{byte(v.Interface().(MfExt).X)}, nil
	})
	msgpack.RegisterExtDecoder(44, MfExt{}, func(d *msgpack.Decoder, v reflect.Value, n int) error {
		b := make([]byte, n)
		if err := d.ReadFull(b); err != nil {
			return err
		}
		if len(b) != 1 {
			return fmt.Errorf("MfExt of %d bytes, want 1", len(b))
		}
		v.Set(reflect.ValueOf(MfExt{X: int(b[0])}))
		return nil
	})
}

// msgpackFieldsOf reads member names into the fields, and lists the
// fields in the order, that the msgpack decoder does: each name, given a
// number (or, for a struct named whole, a map that sets its first field),
// sets the field at its index path and nothing else, and a value written
// by the encoder names the fields of the list, in its order.
func TestMsgpackFieldsAreTheDecoders(t *testing.T) {
	typ := reflect.TypeFor[mfHost]()
	fs := msgpackFieldsOf(typ)
	assert.True(t, fs.sure, "the encoder wrote what the fields say")
	var order []string
	for _, f := range fs.list {
		order = append(order, f.name)
	}
	assert.Equal(t, []string{"Plain", "tagged", "mp", "A", "B", "P", "mfShadowed", "MfOwn", "MfOwn2", "D", "mfNoInline",
		"F", "G", "H", "MfExt", "al", "Colon", "spaced", "bare"}, order)

	written, err := encodeHost(&mfHost{MfPtrLeaf: &MfPtrLeaf{}}, false)
	require.NoError(t, err)
	h := headAt(written, 0)
	require.Equal(t, mpMap, h.kind)
	var names []string
	for i, off := 0, h.body; i < h.n; i++ {
		end := skip(written, off)
		name, _ := keyText(written[off:end])
		names = append(names, string(name))
		off = skip(written, end)
	}
	assert.Equal(t, order, names, "the encoder's order")

	for name, index := range fs.byName {
		want := reflect.New(typ)
		at := want.Elem()
		for i, x := range index {
			if i > 0 && at.Kind() == reflect.Pointer {
				at.Set(reflect.New(at.Type().Elem()))
				at = at.Elem()
			}
			at = at.Field(x)
		}
		if at.Kind() == reflect.Pointer {
			at.Set(reflect.New(at.Type().Elem()))
			at = at.Elem()
		}
		var value any = 7
		switch {
		case at.Type() == reflect.TypeFor[MfExt]():
			raw, err := msgpack.Marshal(MfExt{X: 7})
			require.NoError(t, err)
			value = msgpack.RawMessage(raw)
			at.Field(0).SetInt(7)
		case at.Type() == reflect.TypeFor[MfOwn]() || at.Type() == reflect.TypeFor[MfOwn2]():
			at.Field(0).SetInt(7) // read by its own reader from the number
		case at.Kind() == reflect.Struct:
			first := msgpackFieldsOf(at.Type()).list[0]
			value = map[string]any{first.name: 7}
			at.FieldByIndex(first.index).SetInt(7)
		default:
			at.SetInt(7)
		}
		data, err := encodeHost(map[string]any{name: value}, true)
		require.NoError(t, err)
		got := reflect.New(typ)
		require.NoError(t, msgpackDecode(data, got.Interface()), name)
		assert.Equal(t, want.Interface(), got.Interface(), "%s read into %v", name, index)
	}
	// The list's names, and the names of the embedded structs that are
	// inlined, and an alias.
	assert.ElementsMatch(t, append(order, "mfLeaf", "MfPtrLeaf", "mfTold", "named", "mfLower", "mfDeep", "other", ""),
		slices.Collect(maps.Keys(fs.byName)))
}

// Past maxInlined levels of embedded structs, which the decoder inlines
// however deep, the fields are not sure, and an extension followed by a
// map's head anywhere in the struct's data is refused.
func TestFieldsInlinedTooDeepAreNotSure(t *testing.T) {
	typ := reflect.TypeFor[struct {
		M map[string]int `json:"m"`
	}]()
	for i := range maxInlined + 2 {
		typ = reflect.StructOf([]reflect.StructField{{Name: fmt.Sprintf("E%d", i), Type: typ, Anonymous: true}})
	}
	assert.False(t, msgpackFieldsOf(typ).sure)
	data := []byte("\x81\xa1m\xd8\x30\xdf\xff\xff\xff\xff\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00")
	assert.ErrorContains(t, extAtMap(data, reflect.New(typ).Interface()), "holds an extension followed by a map's head")
	// A few levels are inlined as the decoder inlines them.
	typ = reflect.TypeFor[struct {
		M map[string]int `json:"m"`
	}]()
	for i := range 3 {
		typ = reflect.StructOf([]reflect.StructField{{Name: fmt.Sprintf("E%d", i), Type: typ, Anonymous: true}})
	}
	assert.True(t, msgpackFieldsOf(typ).sure)
	assert.ErrorContains(t, extAtMap(data, reflect.New(typ).Interface()), `msgpack: "m" is an extension`)
}

// mfPanicky's marshaler panics on a zero value.
type mfPanicky struct{ p *int }

func (x mfPanicky) MarshalMsgpack() ([]byte, error) { return []byte{byte(*x.p)}, nil }
func (x *mfPanicky) UnmarshalMsgpack([]byte) error  { return nil }

// The fields of a struct follow from its type, and the codec's answer
// for each embedded struct alone: they are sure without writing a zero
// value of the whole, which a field's marshaler may not survive.
func TestFieldsAreSureWithoutAZeroValue(t *testing.T) {
	type host struct {
		P  mfPanicky      `json:"p"`
		At time.Time      `json:"at"`
		M  map[string]int `json:"m"`
	}
	assert.True(t, msgpackFieldsOf(reflect.TypeFor[host]()).sure)
	type embeds struct {
		mfLeaf
		P mfPanicky `json:"p"`
	}
	fs := msgpackFieldsOf(reflect.TypeFor[embeds]())
	assert.True(t, fs.sure)
	assert.Equal(t, []int{0, 1}, fs.byName["B"], "mfLeaf inlined")
}

// mfRegistered has a codec registered with msgpack.Register, which keeps
// the codec from inlining it; mfAllOmitted's fields are all left out
// when empty.
type mfRegistered struct{ A int }
type mfAllOmitted struct {
	A int `json:"a,omitempty"`
}

func init() {
	msgpack.Register(mfRegistered{}, func(e *msgpack.Encoder, v reflect.Value) error {
		return e.Encode(map[string]int{"A": int(v.Field(0).Int())})
	}, func(d *msgpack.Decoder, v reflect.Value) error {
		var m map[string]int
		err := d.Decode(&m)
		v.Field(0).SetInt(int64(m["A"]))
		return err
	})
}

// mfSlogged holds a method of another package that is not exported
// (slog.Attr's isEmpty), which reflect.StructOf cannot embed.
type mfSlogged struct {
	slog.Attr
	X int
}

// mfRegisteredSlog is mfSlogged's like, with a codec registered with
// msgpack.Register.
type mfRegisteredSlog struct {
	slog.Attr
	X int
}

// mfMoney's IsZero fails on a zero value, which the encoder asks of a
// field tagged omitempty before it writes anything of the struct.
type mfMoney struct {
	Cur *mfLeaf `json:"cur"`
}

func (m mfMoney) IsZero() bool { return m.Cur.A == 0 }

type mfTotals struct {
	Total mfMoney `json:"total,omitempty"`
}

func init() {
	msgpack.Register(mfRegisteredSlog{}, func(e *msgpack.Encoder, v reflect.Value) error {
		return e.EncodeInt(v.FieldByName("X").Int())
	}, func(d *msgpack.Decoder, v reflect.Value) error {
		x, err := d.DecodeInt64()
		v.FieldByName("X").SetInt(x)
		return err
	})
}

// inlinedAlone answers as the codec inlines: a plain struct, one of its
// fields all left out when empty, one whose zero value cannot be written,
// one that reflect.StructOf cannot embed, but not one of its own methods,
// one registered as an extension or with msgpack.Register.
func TestInlinedAloneIsTheCodecs(t *testing.T) {
	for typ, want := range map[reflect.Type]bool{
		reflect.TypeFor[mfLeaf]():           true,
		reflect.TypeFor[mfAllOmitted]():     true,
		reflect.TypeFor[mfTotals]():         true,
		reflect.TypeFor[mfSlogged]():        true,
		reflect.TypeFor[MfOwn]():            false,
		reflect.TypeFor[MfExt]():            false,
		reflect.TypeFor[mfRegistered]():     false,
		reflect.TypeFor[mfRegisteredSlog](): false,
	} {
		inlined, known := inlinedAlone(typ, len(msgpackFieldsOf(typ).list))
		assert.True(t, known, "%v", typ)
		assert.Equal(t, want, inlined, "%v", typ)
	}
}
