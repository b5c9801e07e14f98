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
// of a host's value that unmarshalMsgpack decoded into v (made by
// newData), that v does not hold: the msgpack decoder sets an integer
// field without checking that the number fits it (300 reads into a uint8
// as 44, -1 into a uint64 as its largest value), where encoding/json
// refuses it. It compares the numbers of b with those that v writes
// back, member by member, element by element, as each is written: where
// v writes an integer, b must hold the same number there; a map of
// integer keys must write back each integer key of b (not another one it
// wrapped onto); and where v omits a member that b holds as an integer
// other than 0, a fresh value, given 1 there, must not write it back (an
// integer field tagged omitempty, which the number left at 0). What v
// writes in another form (a float, a string, a value that writes itself
// otherwise) is not compared, nor what lies under a struct that another
// writer wrote as a list; a value that reads itself and writes back
// another integer in its place (one that clamps what it reads) is
// refused. Of a key given twice, see compare; of the members that v
// omits, the first maxOmitted are probed. Map keys and member names are
// compared as the decoder reads them: a string, a binary and nil ("") by
// their text, an integer by its value however it is written. Types that
// hold no integer, and data whose integers are all from 0 to 127, which
// every integer field holds, are not looked at.
func numbersKept(b []byte, v any, newData func() Data) error {
	if t := reflect.TypeOf(v); t == nil || t.Kind() != reflect.Pointer || !holdsIntegers(t) || msgpackcheck.SmallInts(b) {
		return nil
	}
	back, err := marshalMsgpack(v)
	if err != nil {
		return nil // what v cannot write, its decoding has no number to lose
	}
	w := fitsWalk{read: b, held: back}
	if err := w.compare(0, 0); err != nil {
		return err
	}
	return w.omitsLost(newData)
}

// decodeLoose decodes b into generic values, with every number as an
// int64, a uint64 or a float64 (see decodeGeneric).
func decodeLoose(b []byte) (v any, err error) {
	dec := msgpack.NewDecoder(bytes.NewReader(b))
	dec.UseLooseInterfaceDecoding(true)
	dec.SetMapDecoder(decodeAnyMap)
	return v, decodeGeneric(func() (err error) { v, err = dec.DecodeInterface(); return err })
}

// fitsWalk compares read, the msgpack data of a host's value, with held,
// what the value decoded from it writes back (numbersKept), at the place
// that path leads to. Both are well-formed: the decoder read the one, and
// the encoder wrote the other. omitted gathers the places of the members
// that held omits where read has an integer other than 0, for omitsLost.
type fitsWalk struct {
	read, held []byte
	path       []fitsStep
	omitted    []fitsOmitted
}

// maxOmitted is how many omitted members (fitsWalk.omitted) the check
// gathers at most: each holds its whole path, and data of many members
// that the type does not have, deep down, would otherwise cost hundreds
// of times its size. Beyond them, omitted members are not probed.
const maxOmitted = 4096

// fitsOmitted is a member that held omits, at path, with the number that
// read has there.
type fitsOmitted struct {
	path []fitsStep // the member's own step last
	num  integer
}

// fitsStep is a step into a value: the entry of a map whose key is
// written as key, or element index of a list (key nil).
type fitsStep struct {
	key   []byte
	index int
}

// mpHead is the head of a msgpack value: its kind, and what it tells.
type mpHead struct {
	kind  byte    // mpMap, mpList, mpInt, mpFloat, mpStr, mpBin, mpNil, or mpOther
	n     int     // a map's entries, a list's elements, a string's or a binary's bytes
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
	mpBin
	mpNil
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
	case 0xc4, 0xc5, 0xc6:
		n := 1 << (c - 0xc4)
		return mpHead{kind: mpBin, n: int(be(n)), body: off + 1 + n}
	case 0xc0:
		return mpHead{kind: mpNil, body: off + 1}
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

// keyText returns the text of a map key written as key: a string's or a
// binary's bytes, or none for nil, which the decoder reads as a member
// name or a string key alike; ok is false for any other key.
func keyText(key []byte) (text []byte, ok bool) {
	switch h := headAt(key, 0); h.kind {
	case mpStr, mpBin:
		return key[min(h.body, len(key)):min(h.body+h.n, len(key))], true
	case mpNil:
		return nil, true
	}
	return nil, false
}

// sameKey reports whether the map keys a and b, as written, are the same
// key: the same text, the same whole number, or the same bytes.
func sameKey(a, b []byte) bool {
	if ta, ok := keyText(a); ok {
		tb, ok := keyText(b)
		return ok && bytes.Equal(ta, tb)
	}
	if ha, hb := headAt(a, 0), headAt(b, 0); ha.kind == mpInt && hb.kind == mpInt {
		return ha.num == hb.num
	}
	return bytes.Equal(a, b)
}

// keyOf returns a map key, as written, as a string that is the same for
// the same key however it is written (sameKey).
func keyOf(key []byte) string {
	if text, ok := keyText(key); ok {
		return "s" + string(text)
	}
	if h := headAt(key, 0); h.kind == mpInt {
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

// fitsEntry is an entry of a map: its key, as written, the offset of its
// value, whether its key is given more than once in the map, and whether
// it is the last entry of its key.
type fitsEntry struct {
	key         []byte
	value       int
	twice, last bool
}

// fitsEntries are the entries of a map, with an index of their keys
// (keyOf) when there are more than a few.
type fitsEntries struct {
	list  []fitsEntry
	byKey map[string]int
}

// entriesOf returns the entries of the map whose head h is at b, with
// the keys given twice marked; small is room for a few.
func entriesOf(b []byte, h mpHead, small []fitsEntry) fitsEntries {
	es := fitsEntries{list: small[:0]}
	off := h.body
	for i := 0; i < h.n && off < len(b); i++ {
		v := skip(b, off)
		es.list = append(es.list, fitsEntry{key: b[off:v], value: v})
		off = skip(b, v)
	}
	for i := range es.list {
		es.list[i].last = true
	}
	if len(es.list) > cap(small) {
		es.byKey = make(map[string]int, len(es.list))
		last := make(map[string]int, len(es.list))
		for i, e := range es.list {
			k := keyOf(e.key)
			if j, ok := last[k]; ok {
				es.list[i].twice, es.list[j].twice, es.list[j].last = true, true, false
			} else {
				es.byKey[k] = i
			}
			last[k] = i
		}
		return es
	}
	for i := range es.list {
		for j := range i {
			if sameKey(es.list[i].key, es.list[j].key) {
				es.list[i].twice, es.list[j].twice, es.list[j].last = true, true, false
			}
		}
	}
	return es
}

// find returns the index of the first entry of key from index from on,
// -1 for none.
func (es *fitsEntries) find(key []byte, from int) int {
	if es.byKey != nil {
		i, ok := es.byKey[keyOf(key)]
		switch {
		case !ok:
			return -1
		case i >= from:
			return i
		case !es.list[i].twice:
			return -1
		}
	}
	for i := from; i < len(es.list); i++ {
		if sameKey(es.list[i].key, key) {
			return i
		}
	}
	return -1
}

// compare compares the values at read[ro:] and held[ho:], and returns as
// an error an integer of held that read has at the same place as another
// number, or an integer key of read that
// held, a map of integer keys, does not have; it gathers in w.omitted
// the members that held omits where read has an integer other than 0
// (omitsLost). Of a key that read gives twice, the last value counts, as
// the decoder keeps it; a key that held writes twice (a field and an
// embedded one of one name) holds read's value if either does.
func (w *fitsWalk) compare(ro, ho int) error {
	rh, hh := headAt(w.read, ro), headAt(w.held, ho)
	switch {
	case hh.kind == mpMap && rh.kind == mpMap:
		var rSmall, hSmall [16]fitsEntry
		reads, helds := entriesOf(w.read, rh, rSmall[:]), entriesOf(w.held, hh, hSmall[:])
		textKeys := false // held has a key of text: a map of names, or a struct
		for _, he := range helds.list {
			if _, text := keyText(he.key); text {
				textKeys = true
				break
			}
		}
		// In read's order, so that the first fault found is the same at
		// every decoding; of a key given twice, the value that the
		// decoder kept, the last.
		for _, re := range reads.list {
			if !re.last {
				continue
			}
			j := helds.find(re.key, 0)
			if j < 0 {
				switch _, text := keyText(re.key); {
				case headAt(re.key, 0).kind == mpInt && !textKeys:
					// A map writes back every entry it read: this key was
					// read as another, which it wrapped onto.
					return fmt.Errorf("%s: the key %v does not fit the map's key type", w.named(nil), headAt(re.key, 0).num)
				case text && len(w.omitted) < maxOmitted:
					if vh := headAt(w.read, re.value); vh.kind == mpInt && vh.num != (integer{}) {
						path := append(slices.Clone(w.path), fitsStep{key: re.key})
						w.omitted = append(w.omitted, fitsOmitted{path, vh.num})
					}
				}
				continue
			}
			// Held may write the key more than once (a field and an
			// embedded one of one name): read's value must be one of
			// those it wrote.
			w.path = append(w.path, fitsStep{key: re.key})
			omitted := len(w.omitted)
			var first error
			for ; j >= 0; j = helds.find(re.key, j+1) {
				w.omitted = w.omitted[:omitted]
				err := w.compare(re.value, helds.list[j].value)
				if err == nil {
					first = nil
					break
				}
				if first == nil {
					first = err
				}
			}
			w.path = w.path[:len(w.path)-1]
			if first != nil {
				return first
			}
		}
	case hh.kind == mpList && rh.kind == mpList:
		roff, hoff := rh.body, hh.body
		for i := range min(rh.n, hh.n) {
			w.path = append(w.path, fitsStep{index: i})
			err := w.compare(roff, hoff)
			w.path = w.path[:len(w.path)-1]
			if err != nil {
				return err
			}
			roff, hoff = skip(w.read, roff), skip(w.held, hoff)
		}
	case hh.kind == mpInt:
		// A float field's float, even a whole one, may round; what is
		// not a number was read as the value writes itself.
		switch {
		case rh.kind == mpInt && rh.num == hh.num:
		case rh.kind == mpInt:
			return fmt.Errorf("%s: the number %v does not fit the field, which read it as %v", w.named(nil), rh.num, hh.num)
		case rh.kind == mpFloat:
			if n, whole := intOf(rh.float); !whole || n != hh.num {
				return fmt.Errorf("%s: the number %v does not fit the field, which read it as %v", w.named(nil), rh.float, hh.num)
			}
		}
	}
	return nil
}

// stepKey returns the map key written as key, as a value: a string, an
// int64 or a uint64 (above int64's range), or what msgpack reads.
func stepKey(key []byte) any {
	if text, ok := keyText(key); ok {
		return string(text)
	}
	switch h := headAt(key, 0); h.kind {
	case mpInt:
		if h.num.neg {
			return -int64(h.num.mag-1) - 1
		}
		if h.num.mag <= math.MaxInt64 {
			return int64(h.num.mag)
		}
		return h.num.mag
	}
	k, err := decodeLoose(key)
	if err != nil {
		return fmt.Sprintf("%x", key)
	}
	return k
}

// omitsLost reports, as an error, a member of w.omitted that a fresh
// value made by newData writes back, given data that holds 1 there: an
// integer field, tagged omitempty, that the number read there left at 0.
// It gives the fresh value every such member at once (with nil for the
// list elements between them), so that it decodes and encodes once.
func (w *fitsWalk) omitsLost(newData func() Data) error {
	if len(w.omitted) == 0 || newData == nil {
		return nil
	}
	var probe any = map[string]any{}
	for _, o := range w.omitted {
		probe = probeSet(probe, o.path)
	}
	b, err := encodeHost(probe, false)
	if err != nil {
		return nil
	}
	fresh := newData()
	if decodeHost(fresh, func() error { return msgpackDecode(b, fresh) }) != nil {
		return nil
	}
	back, err := marshalMsgpack(fresh)
	if err != nil {
		return nil
	}
	got, err := decodeLoose(back)
	if err != nil {
		return nil
	}
	indexes := map[uintptr]map[any]any{}
	for _, o := range w.omitted {
		if v, ok := probeGet(got, o.path, indexes); ok {
			if n, _ := intOf(v); isInt(v) && n == (integer{mag: 1}) {
				w.path = o.path[:len(o.path)-1]
				return fmt.Errorf("%s: the number %v does not fit the field, which read it as 0", w.named(o.path[len(o.path)-1].key), o.num)
			}
		}
	}
	return nil
}

// probeSet returns v, a generic value, with 1 set at path, making the
// maps and lists on the way.
func probeSet(v any, path []fitsStep) any {
	if len(path) == 0 {
		return int64(1)
	}
	s := path[0]
	if s.key == nil {
		l, _ := v.([]any)
		for len(l) <= s.index {
			l = append(l, nil)
		}
		l[s.index] = probeSet(l[s.index], path[1:])
		return l
	}
	switch k := stepKey(s.key).(type) {
	case string:
		m, ok := v.(map[string]any)
		if !ok {
			m = map[string]any{}
		}
		m[k] = probeSet(m[k], path[1:])
		return m
	default:
		m, ok := v.(map[any]any)
		if !ok {
			m = map[any]any{}
		}
		m[k] = probeSet(m[k], path[1:])
		return m
	}
}

// probeGet returns what the generic value v holds at path; indexes keeps
// the maps of keys that are not all strings by their keys' numbers
// (keyNumber), made once for each such map.
func probeGet(v any, path []fitsStep, indexes map[uintptr]map[any]any) (any, bool) {
	for _, s := range path {
		switch g := v.(type) {
		case []any:
			if s.key != nil || s.index >= len(g) {
				return nil, false
			}
			v = g[s.index]
		case map[string]any:
			k, ok := stepKey(s.key).(string)
			if !ok {
				return nil, false
			}
			if v, ok = g[k]; !ok {
				return nil, false
			}
		case map[any]any:
			at := reflect.ValueOf(g).Pointer()
			index, ok := indexes[at]
			if !ok {
				index = make(map[any]any, len(g))
				for gk, gv := range g {
					index[keyNumber(gk)] = gv
				}
				indexes[at] = index
			}
			if v, ok = index[keyNumber(stepKey(s.key))]; !ok {
				return nil, false
			}
		default:
			return nil, false
		}
	}
	return v, true
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

// String writes n in decimal.
func (n integer) String() string {
	if n.neg {
		return "-" + strconv.FormatUint(n.mag, 10)
	}
	return strconv.FormatUint(n.mag, 10)
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
