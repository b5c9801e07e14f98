package events

import (
	"bytes"
	"fmt"
	"maps"
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
	read, err := decodeLoose(b)
	if err != nil {
		return nil // the decoder read it: no generic reading to compare
	}
	held, err := decodeLoose(back)
	if err != nil {
		return nil
	}
	w := fitsWalk{t: reflect.TypeOf(v)}
	return w.compare(read, held)
}

// decodeLoose decodes b into generic values, with every number as an
// int64, a uint64 or a float64.
func decodeLoose(b []byte) (any, error) {
	dec := msgpack.NewDecoder(bytes.NewReader(b))
	dec.UseLooseInterfaceDecoding(true)
	dec.SetMapDecoder(decodeAnyMap)
	return dec.DecodeInterface()
}

// fitsWalk compares what a host's data held with what its value, of type
// t, writes back (numbersKept), at the place that path leads to.
type fitsWalk struct {
	t    reflect.Type
	path []fitsStep
}

// fitsStep is a step into a generic value: a member of a map of string
// keys, an entry of another map, or an element of a list (elem).
type fitsStep struct {
	key  any
	elem bool
}

// compare reports, as an error, an integer of held that read has at the
// same place as another number, or a member that held omits where it
// lost read's number (omitsLost).
func (w *fitsWalk) compare(read, held any) error {
	switch h := held.(type) {
	case map[string]any:
		r, ok := read.(map[string]any)
		if !ok {
			return nil
		}
		for _, k := range slices.Sorted(maps.Keys(r)) {
			hv, ok := h[k]
			if !ok {
				if n, whole := intOf(r[k]); whole && n != (integer{}) && w.omitsLost(k) {
					return fmt.Errorf("%s: the number %v does not fit the field, which read it as 0", w.named(k), r[k])
				}
				continue
			}
			if err := w.down(fitsStep{key: k}, r[k], hv); err != nil {
				return err
			}
		}
	case map[any]any:
		r, ok := read.(map[any]any)
		if !ok {
			return nil
		}
		byKey := make(map[any]any, len(r)) // read's entries by their keys' numbers
		for k, rv := range r {
			byKey[keyNumber(k)] = rv
		}
		for k, hv := range h {
			rv, ok := byKey[keyNumber(k)]
			if !ok {
				if isInt(k) {
					return fmt.Errorf("%s: a key does not fit the map's key type, which read it as %v", w.named(nil), k)
				}
				continue
			}
			if err := w.down(fitsStep{key: k}, rv, hv); err != nil {
				return err
			}
		}
	case []any:
		r, ok := read.([]any)
		if !ok {
			return nil
		}
		for i := range min(len(r), len(h)) {
			if err := w.down(fitsStep{key: i, elem: true}, r[i], h[i]); err != nil {
				return err
			}
		}
	default:
		if !isInt(held) || !isNumber(read) {
			// A float field's float, even a whole one, may round; what
			// is not a number was read as the value writes itself.
			return nil
		}
		hn, _ := intOf(held)
		if rn, whole := intOf(read); whole && rn == hn {
			return nil
		}
		return fmt.Errorf("%s: the number %v does not fit the field, which read it as %v", w.named(nil), read, held)
	}
	return nil
}

// down is compare at step s under the walk's place.
func (w *fitsWalk) down(s fitsStep, read, held any) error {
	w.path = append(w.path, s)
	err := w.compare(read, held)
	w.path = w.path[:len(w.path)-1]
	return err
}

// omitsLost reports whether a fresh value of the walk's type, given data
// that holds 1 as member k at the walk's place (and nothing else), writes
// it back: a member that an integer field holds, and omits at 0.
func (w *fitsWalk) omitsLost(k string) bool {
	var probe any = map[string]any{k: int64(1)}
	for i := len(w.path) - 1; i >= 0; i-- {
		switch s := w.path[i]; {
		case s.elem:
			probe = []any{probe}
		case reflect.TypeOf(s.key).Kind() == reflect.String:
			probe = map[string]any{s.key.(string): probe}
		default:
			probe = map[any]any{s.key: probe}
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
			if len(g) == 0 {
				return false
			}
			got = g[0]
		case map[string]any:
			key, _ := s.key.(string)
			got = g[key]
		case map[any]any:
			got = g[s.key]
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

// named names the place of the walk, with member k under it where k is
// not nil, in an error: "the data" for the data itself.
func (w *fitsWalk) named(k any) string {
	var b strings.Builder
	for _, s := range append(w.path, fitsStep{key: k}) {
		switch {
		case s.key == nil:
		case s.elem || reflect.TypeOf(s.key).Kind() != reflect.String:
			fmt.Fprintf(&b, "[%v]", s.key)
		default:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s.key.(string))
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

// isNumber reports whether x is a number that the msgpack decoder reads.
func isNumber(x any) bool {
	switch reflect.ValueOf(x).Kind() {
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return true
	}
	return false
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
		if n := v.Int(); n < 0 {
			return integer{true, uint64(-(n + 1)) + 1}, true
		} else {
			return integer{false, uint64(n)}, true
		}
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
