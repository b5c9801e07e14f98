package events

import (
	"bytes"
	"math/rand"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/vmihailenco/msgpack/v5"
)

// mapStringDecode is the decoder's own reading of an object of members,
// which decodeObject replaced.
func mapStringDecode(raw string, md func(*msgpack.Decoder) (any, error)) (map[string]any, error) {
	var fields map[string]any
	dec := msgpack.NewDecoder(strings.NewReader(raw))
	dec.SetMapDecoder(md)
	return fields, dec.Decode(&fields)
}

// objectGen writes random msgpack maps for
// TestDecodeObjectReadsWhatTheDecoderRead.
type objectGen struct{ r *rand.Rand }

// key writes a random map key: text, a binary or nil (of an object's
// members, strOnly), or also a number, a bool or a time.
func (g objectGen) key(e *msgpack.Encoder, strOnly bool) {
	n := g.r.Intn(12)
	if strOnly && n > 6 {
		n = g.r.Intn(7)
	}
	switch n {
	case 0, 1, 2, 3:
		e.EncodeString([]string{"a", "b", "", "c", "é"}[g.r.Intn(5)])
	case 4:
		e.EncodeBytes([]byte([]string{"a", "b", "x"}[g.r.Intn(3)]))
	case 5:
		e.EncodeNil()
	case 6:
		e.EncodeString("a")
	case 7:
		e.EncodeInt(int64(g.r.Intn(300) - 150))
	case 8:
		e.EncodeUint(uint64(g.r.Intn(1 << 20)))
	case 9:
		e.EncodeBool(g.r.Intn(2) == 0)
	case 10:
		e.EncodeFloat64(g.r.Float64())
	case 11:
		e.EncodeTime(time.Unix(int64(g.r.Intn(1e9)), int64(g.r.Intn(1e9))))
	}
}

// val writes a random value, nesting maps and lists down to a few levels.
func (g objectGen) val(e *msgpack.Encoder, depth int) {
	n := g.r.Intn(12)
	if depth > 4 && n >= 9 {
		n = 0
	}
	switch n {
	case 0:
		e.EncodeNil()
	case 1:
		e.EncodeInt(g.r.Int63() >> g.r.Intn(63) * int64(1-2*g.r.Intn(2)))
	case 2:
		e.EncodeUint(g.r.Uint64() >> g.r.Intn(64))
	case 3:
		e.EncodeString("s" + strings.Repeat("x", g.r.Intn(40)))
	case 4:
		e.EncodeBytes(bytes.Repeat([]byte{byte(g.r.Intn(256))}, g.r.Intn(20)))
	case 5:
		e.EncodeFloat32(g.r.Float32())
	case 6:
		e.EncodeFloat64(g.r.NormFloat64() * 1e20)
	case 7:
		e.EncodeTime(time.Unix(int64(g.r.Intn(1e10)), int64(g.r.Intn(1e9))))
	case 8:
		e.EncodeBool(true)
	case 9, 10:
		g.m(e, depth+1, false)
	case 11:
		k := g.r.Intn(4)
		e.EncodeArrayLen(k)
		for range k {
			g.val(e, depth+1)
		}
	}
}

// m writes a random map, of member names alone with strOnly.
func (g objectGen) m(e *msgpack.Encoder, depth int, strOnly bool) {
	k := g.r.Intn(6)
	e.EncodeMapLen(k)
	for range k {
		g.key(e, strOnly)
		g.val(e, depth)
	}
}

// decodeObject reads every object of members as the decoder's own reading
// of a map[string]any did, with both map readers, on random maps of keys
// and values of every kind (nil keys at the top, nested maps and lists,
// times, extensions and numbers of every width included).
func TestDecodeObjectReadsWhatTheDecoderRead(t *testing.T) {
	g := objectGen{rand.New(rand.NewSource(1))}
	diffs := map[string]int{}
	for i := range 20000 {
		var buf bytes.Buffer
		e := msgpack.NewEncoder(&buf)
		e.UseCompactInts(g.r.Intn(2) == 0)
		switch {
		case i%50 == 0:
			e.EncodeNil()
		default:
			g.m(e, 0, i%2 == 0)
		}
		raw := buf.String()
		for name, md := range map[string]func(*msgpack.Decoder) (any, error){"any": decodeAnyMap, "data": decodeDataMap} {
			o, oerr := mapStringDecode(raw, md)
			n, nerr := decodeObject(raw, md)
			if (oerr == nil) != (nerr == nil) || !reflect.DeepEqual(o, n) {
				diffs[name]++
				if diffs[name] <= 3 {
					t.Errorf("%s % x:\n old %#v %v\n new %#v %v", name, raw, o, oerr, n, nerr)
				}
			}
		}
	}
	assert.Empty(t, diffs)
}
