package events

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/truefcr/truefcr/internal/msgpackcheck"
)

// numbersKept reports, as an error, a whole number of b, the msgpack data
// of a host's value that unmarshalMsgpack decoded into v, that v does not
// hold: the msgpack decoder sets an integer field without checking that
// the number fits it (300 reads into a uint8 as 44, -1 into a uint64 as
// its largest value, 1.5 into an int as 1), where encoding/json refuses
// it. It compares the numbers of b with those that v writes back, member
// by member, element by element: where v writes an integer, b must hold
// the same number there, and where v omits a member that b holds as a
// number other than 0, v must not be a value that writes that member
// when it holds 1 (an integer field tagged omitempty, which the number
// left at 0). What v writes in another form (a float, a string, a value
// that writes itself otherwise) is not compared. Types that hold no
// integer, and data whose integers are all from 0 to 127, which every
// integer field holds, are not looked at.
func numbersKept(b []byte, v any) error {
	if t := reflect.TypeOf(v); t == nil || t.Kind() != reflect.Pointer || !holdsIntegers(t) || msgpackcheck.SmallInts(b) {
		return nil
	}
	back, err := marshalMsgpack(v)
	if err != nil {
		return nil // what v cannot write, its decoding has no number to lose
	}
	w := fitsWalk{t: reflect.TypeOf(v), read: b, held: back}
	_, _, err = w.compare(0, 0)
	return err
}

// decodeLoose decodes b into generic values, with every number as an
// int64, a uint64 or a float64.
func decodeLoose(b []byte) (any, error) {
	dec := msgpack.NewDecoder(bytes.NewReader(b))
	dec.UseLooseInterfaceDecoding(true)
	dec.SetMapDecoder(decodeAnyMap)
	return dec.DecodeInterface()
}

// fitsWalk compares read, the msgpack data of a host's value of type t,
// with held, what the value decoded from it writes back (numbersKept), at
// the place that path leads to. Both are well-formed: the decoder read
// the one, and the encoder wrote the other.
type fitsWalk struct {
	t          reflect.Type
	read, held []byte
	path       []fitsStep
}

// fitsStep is a step into a value: the entry of a map whose key is
// written as key, or element index of a list (key nil).
type fitsStep struct {
	key   []byte
	index int
}

// mpHead is the head of a msgpack value: its kind, and what it tells.
type mpHead struct {
	kind  byte    // mpMap, mpList, mpInt, mpFloat, mpStr, or mpOther
	n     int     // a map's entries, a list's elements, a string's bytes
	num   integer // an integer's value
	float float64 // a float's value
	body  int     // the offset after the head: a string's bytes, a map's first key
}

// The kinds of mpHead.
const (
	mpOther byte = iota
	mpMap
	mpList
	mpInt
	mpFloat
	mpStr
)

// headAt reads the head of the value at b[off:], which is well-formed.
func headAt(b []byte, off int) mpHead {
	if off >= len(b) {
		return mpHead{}
	}
	c := b[off]
	be := func(n int) uint64 {
		var v uint64
		for i := range n {
			if off+1+i < len(b) {
				v = v<<8 | uint64(b[off+1+i])
			}
		}
		return v
	}
	signed := func(n int) mpHead {
		u := be(n)
		shift := 64 - 8*uint(n)
		x := int64(u<<shift) >> shift
		return mpHead{kind: mpInt, num: integerOf(x), body: off + 1 + n}
	}
	switch {
	case c <= 0x7f:
		return mpHead{kind: mpInt, num: integer{mag: uint64(c)}, body: off + 1}
	case c >= 0xe0:
		return mpHead{kind: mpInt, num: integerOf(int64(int8(c))), body: off + 1}
	case c&0xf0 == 0x80:
		return mpHead{kind: mpMap, n: int(c & 0x0f), body: off + 1}
	case c&0xf0 == 0x90:
		return mpHead{kind: mpList, n: int(c & 0x0f), body: off + 1}
	case c&0xe0 == 0xa0:
		return mpHead{kind: mpStr, n: int(c & 0x1f), body: off + 1}
	}
	switch c {
	case 0xcc, 0xcd, 0xce, 0xcf:
		n := 1 << (c - 0xcc)
		return mpHead{kind: mpInt, num: integer{mag: be(n)}, body: off + 1 + n}
	case 0xd0, 0xd1, 0xd2, 0xd3:
		return signed(1 << (c - 0xd0))
	case 0xca:
		return mpHead{kind: mpFloat, float: float64(math.Float32frombits(uint32(be(4)))), body: off + 5}
	case 0xcb:
		return mpHead{kind: mpFloat, float: math.Float64frombits(be(8)), body: off + 9}
	case 0xd9, 0xda, 0xdb:
		n := 1 << (c - 0xd9)
		return mpHead{kind: mpStr, n: int(be(n)), body: off + 1 + n}
	case 0xdc, 0xdd:
		n := 2 << (c - 0xdc)
		return mpHead{kind: mpList, n: int(be(n)), body: off + 1 + n}
	case 0xde, 0xdf:
		n := 2 << (c - 0xde)
		return mpHead{kind: mpMap, n: int(be(n)), body: off + 1 + n}
	}
	return mpHead{kind: mpOther, body: off}
}

// integerOf returns x as an integer.
func integerOf(x int64) integer {
	if x < 0 {
		return integer{true, uint64(-(x + 1)) + 1}
	}
	return integer{false, uint64(x)}
}

// skip returns the offset after the value at b[off:], or len(b).
func skip(b []byte, off int) int {
	end, err := msgpackcheck.Skip(b, off)
	if err != nil {
		return len(b)
	}
	return end
}

// sameKey reports whether the map keys a and b, as written, are the same
// key: the same text, the same whole number, or the same bytes.
func sameKey(a, b []byte) bool {
	ha, hb := headAt(a, 0), headAt(b, 0)
	switch {
	case ha.kind == mpStr && hb.kind == mpStr:
		return bytes.Equal(a[ha.body:min(ha.body+ha.n, len(a))], b[hb.body:min(hb.body+hb.n, len(b))])
	case ha.kind == mpInt && hb.kind == mpInt:
		return ha.num == hb.num
	}
	return bytes.Equal(a, b)
}

// keyOf returns a map key, as written, as a string that is the same for
// the same key however it is written (sameKey).
func keyOf(key []byte) string {
	switch h := headAt(key, 0); h.kind {
	case mpStr:
		return "s" + string(key[h.body:min(h.body+h.n, len(key))])
	case mpInt:
		var b [10]byte
		b[0] = 'i'
		if h.num.neg {
			b[1] = 1
		}
		binary.BigEndian.PutUint64(b[2:], h.num.mag)
		return string(b[:])
	}
	return "r" + string(key)
}

// fitsEntry is an entry of a map of read: its key, as written, the
// offset of its value, and whether held has the key.
type fitsEntry struct {
	key   []byte
	value int
	found bool
}

// compare compares the values at read[ro:] and held[ho:], and returns the
// offsets after them, and as an error an integer of held that read has
// at the same place as another number, a key of held that read does not
// have as an integer, or a member that held omits where it lost read's
// number (omitsLost).
func (w *fitsWalk) compare(ro, ho int) (int, int, error) {
	rh, hh := headAt(w.read, ro), headAt(w.held, ho)
	rEnd, hEnd := skip(w.read, ro), skip(w.held, ho)
	switch {
	case hh.kind == mpMap && rh.kind == mpMap:
		var small [16]fitsEntry
		entries := small[:0]
		off := rh.body
		for range rh.n {
			v := skip(w.read, off)
			entries = append(entries, fitsEntry{key: w.read[off:v], value: v})
			off = skip(w.read, v)
		}
		var byKey map[string]int // of a large map, its entries by keyOf
		if len(entries) > len(small) {
			byKey = make(map[string]int, len(entries))
			for i, e := range entries {
				byKey[keyOf(e.key)] = i
			}
		}
		off = hh.body
		for range hh.n {
			v := skip(w.held, off)
			key := w.held[off:v]
			i := -1
			if byKey != nil {
				if j, ok := byKey[keyOf(key)]; ok {
					i = j
				}
			}
			for j := 0; byKey == nil && i < 0 && j < len(entries); j++ {
				if sameKey(entries[j].key, key) {
					i = j
				}
			}
			switch {
			case i >= 0:
				entries[i].found = true
				w.path = append(w.path, fitsStep{key: key})
				_, _, err := w.compare(entries[i].value, v)
				w.path = w.path[:len(w.path)-1]
				if err != nil {
					return rEnd, hEnd, err
				}
			case headAt(key, 0).kind == mpInt:
				return rEnd, hEnd, fmt.Errorf("%s: a key does not fit the map's key type, which read it as %v", w.named(nil), stepKey(key))
			}
			off = skip(w.held, v)
		}
		for _, e := range entries {
			if e.found || headAt(e.key, 0).kind != mpStr {
				continue
			}
			if vh := headAt(w.read, e.value); vh.kind == mpInt && vh.num != (integer{}) && w.omitsLost(e.key) {
				return rEnd, hEnd, fmt.Errorf("%s: the number %v does not fit the field, which read it as 0", w.named(e.key), vh.num)
			}
		}
	case hh.kind == mpList && rh.kind == mpList:
		roff, hoff := rh.body, hh.body
		for i := range min(rh.n, hh.n) {
			w.path = append(w.path, fitsStep{index: i})
			var err error
			roff, hoff, err = w.compare(roff, hoff)
			w.path = w.path[:len(w.path)-1]
			if err != nil {
				return rEnd, hEnd, err
			}
		}
	case hh.kind == mpInt:
		// A float field's float, even a whole one, may round; what is
		// not a number was read as the value writes itself.
		switch {
		case rh.kind == mpInt && rh.num == hh.num:
		case rh.kind == mpInt:
			return rEnd, hEnd, fmt.Errorf("%s: the number %v does not fit the field, which read it as %v", w.named(nil), rh.num, hh.num)
		case rh.kind == mpFloat:
			if n, whole := intOf(rh.float); !whole || n != hh.num {
				return rEnd, hEnd, fmt.Errorf("%s: the number %v does not fit the field, which read it as %v", w.named(nil), rh.float, hh.num)
			}
		}
	}
	return rEnd, hEnd, nil
}

// stepKey returns the map key written as key, as a value.
func stepKey(key []byte) any {
	k, err := decodeLoose(key)
	if err != nil {
		return fmt.Sprintf("%x", key)
	}
	return k
}

// omitsLost reports whether a fresh value of the walk's type, given data
// that holds 1 as the member written as key at the walk's place (and
// nothing else), writes it back: a member that an integer field holds,
// and omits at 0.
func (w *fitsWalk) omitsLost(key []byte) bool {
	k, _ := stepKey(key).(string)
	var probe any = map[string]any{k: int64(1)}
	for i := len(w.path) - 1; i >= 0; i-- {
		if w.path[i].key == nil {
			probe = []any{probe}
			continue
		}
		switch s := stepKey(w.path[i].key).(type) {
		case string:
			probe = map[string]any{s: probe}
		default:
			probe = map[any]any{s: probe}
		}
	}
	b, err := marshalMsgpack(probe)
	if err != nil {
		return false
	}
	fresh := reflect.New(w.t.Elem()).Interface()
	if decodeHost(fresh, func() error { return msgpackDecode(b, fresh) }) != nil {
		return false
	}
	back, err := marshalMsgpack(fresh)
	if err != nil {
		return false
	}
	got, err := decodeLoose(back)
	if err != nil {
		return false
	}
	for _, s := range w.path {
		switch g := got.(type) {
		case []any:
			if len(g) == 0 || s.key != nil {
				return false
			}
			got = g[0]
		case map[string]any:
			key, _ := stepKey(s.key).(string)
			got = g[key]
		case map[any]any:
			k := keyNumber(stepKey(s.key))
			got = nil
			for gk, gv := range g {
				if keyNumber(gk) == k {
					got = gv
				}
			}
		default:
			return false
		}
	}
	m, ok := got.(map[string]any)
	if !ok {
		return false
	}
	n, whole := intOf(m[k])
	return whole && isInt(m[k]) && n == integer{mag: 1}
}

// named names the place of the walk, with the member written as key
// under it where key is not nil, in an error: "the data" for the data
// itself.
func (w *fitsWalk) named(key []byte) string {
	var b strings.Builder
	path := w.path
	if key != nil {
		path = append(slices.Clip(path), fitsStep{key: key})
	}
	for _, s := range path {
		if s.key == nil {
			fmt.Fprintf(&b, "[%d]", s.index)
			continue
		}
		switch k := stepKey(s.key).(type) {
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(k)
		default:
			fmt.Fprintf(&b, "[%v]", k)
		}
	}
	if b.Len() == 0 {
		return "the data"
	}
	return strconv.Quote(b.String())
}

// integer is a whole number of any sign, as its sign and magnitude.
type integer struct {
	neg bool
	mag uint64
}

// isInt reports whether x is an integer that the msgpack decoder reads.
func isInt(x any) bool {
	k := reflect.ValueOf(x).Kind()
	return k >= reflect.Int && k <= reflect.Uint64
}

// intOf returns x, a number that the msgpack decoder reads, as a
// whole number, when it is one: an integer, or a float that holds a whole
// number in the range of int64 or uint64.
func intOf(x any) (integer, bool) {
	v := reflect.ValueOf(x)
	switch v.Kind() {
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return integerOf(v.Int()), true
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return integer{false, v.Uint()}, true
	case reflect.Float32, reflect.Float64:
		switch f := v.Float(); {
		case f != math.Trunc(f) || math.IsInf(f, 0):
		case f >= 0 && f < 1<<64:
			return integer{false, uint64(f)}, true
		case f < 0 && f >= -(1<<63):
			return intOf(int64(f))
		}
	}
	return integer{}, false
}

// keyNumber returns k as the key of byKey: a whole number as a whole,
// anything else as it is.
func keyNumber(k any) any {
	if n, ok := intOf(k); ok {
		return n
	}
	return k
}

// integerTypes caches holdsIntegers by type.
var integerTypes sync.Map // reflect.Type → bool

// holdsIntegers reports whether a value of type t may hold an integer
// that the msgpack decoder sets from what it reads: a field of an integer
// kind, under any pointer, element or member; a value that decodes
// itself, or an interface value (which the constructor may have pointed
// at one), counts as one that may.
func holdsIntegers(t reflect.Type) bool {
	if r, ok := integerTypes.Load(t); ok {
		return r.(bool)
	}
	r := holdsIntegersIn(t, map[reflect.Type]bool{})
	integerTypes.Store(t, r)
	return r
}

// holdsIntegersIn is holdsIntegers, with the types being looked into.
func holdsIntegersIn(t reflect.Type, in map[reflect.Type]bool) bool {
	if in[t] {
		return false // looked at where it began
	}
	in[t] = true
	if ownUnmarshaler(t) || implementsAny(t, jsonDecoders) {
		return true
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Interface:
		return true
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return holdsIntegersIn(t.Elem(), in)
	case reflect.Map:
		return holdsIntegersIn(t.Key(), in) || holdsIntegersIn(t.Elem(), in)
	case reflect.Struct:
		for i := range t.NumField() {
			if holdsIntegersIn(t.Field(i).Type, in) {
				return true
			}
		}
	}
	return false
}
