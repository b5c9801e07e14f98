package events

import (
	"reflect"
	"slices"
	"sync"

	"github.com/vmihailenco/msgpack/v5"
)

// The msgpack decoder reads into what an interface field holds: the
// constructor's pointer, or map, tells it the type to read. Where the
// event has nil there, it sets what the field holds to nil, which is not
// addressable, and panics, so that an event written with nothing in an
// optional field (Payload any, say) could not be read back. encoding/json
// sets the field to nil. For a field of type any, standIns puts in its
// place a stand-in that the decoder reads through (nilableAny), and
// afterwards the field gets the constructor's value back, read into, or
// nil where the event has nil. A field of an interface with methods
// cannot hold the stand-in: an event with nil there stays a DecodeError.

// nilableAny stands in an any field while the decoder reads a host's
// value: the decoder reads what the event has there into into, or zeroes
// the stand-in where the event has nil.
type nilableAny struct {
	into reflect.Value // the field's pointer, or a pointer to its map
	kept bool          // false once the decoder zeroed the stand-in
}

// DecodeMsgpack reads what the event has in the field into what the
// field held.
func (n *nilableAny) DecodeMsgpack(d *msgpack.Decoder) error { return d.Decode(n.into.Interface()) }

// standIn is a field of type any that a stand-in took the place of.
type standIn struct {
	field reflect.Value // the field, settable
	held  reflect.Value // what it held: a pointer or a map
	n     *nilableAny
}

// selfReaders caches ownUnmarshaler, by type, for readsItself.
var selfReaders sync.Map

// readsItself reports whether the msgpack decoder lets a value of type t,
// a struct or a list, array or map, read itself, so that it does not look
// inside; false for other kinds, which hold nothing to look at or are
// followed.
func readsItself(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Struct, reflect.Array, reflect.Slice, reflect.Map:
	default:
		return false
	}
	r, ok := selfReaders.Load(t)
	if !ok {
		r = ownUnmarshaler(t)
		selfReaders.Store(t, r)
	}
	return r.(bool)
}

// mayHoldAny caches, by type, whether a value of the type may hold a
// settable interface field (holdsInterface).
var mayHoldAny sync.Map

// holdsInterface reports whether a value of type t may hold, in place,
// behind pointers or in lists, a field of an interface type, which what it
// holds may be of any type; seen holds the types looked into.
func holdsInterface(t reflect.Type, seen map[reflect.Type]bool) bool {
	if seen[t] {
		return false
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.Interface:
		return true
	case reflect.Pointer, reflect.Array, reflect.Slice:
		return holdsInterface(t.Elem(), seen)
	case reflect.Struct:
		for i := range t.NumField() {
			if holdsInterface(t.Field(i).Type, seen) {
				return true
			}
		}
	}
	return false
}

// standIns puts a stand-in in place of every field of type any of what
// root points to, the value that the decoder will read into, that holds a
// pointer or a map that is not nil, and returns them. It follows what the
// decoder reads into: fields, elements of arrays, pointers, and what
// interfaces hold; not the values of maps, which the decoder makes, nor
// what a type that reads itself holds, nor the elements of lists (the
// decoder reads into a constructor's up to their capacity, but into
// copies of them when it grows the list, which the stand-ins would stay
// in: an event with nil where a constructor's list element holds a
// pointer in an any field is a DecodeError).
func standIns(root reflect.Value) []standIn {
	v := root.Elem()
	t := v.Type()
	may, ok := mayHoldAny.Load(t)
	if !ok {
		may = holdsInterface(t, map[reflect.Type]bool{})
		mayHoldAny.Store(t, may)
	}
	if !may.(bool) {
		return nil
	}
	var out []standIn
	visited := map[visit]bool{{root.Type(), root.Pointer()}: true}
	var walk func(v reflect.Value, depth int)
	walk = func(v reflect.Value, depth int) {
		if depth > maxEmbedWalk {
			return
		}
		if readsItself(v.Type()) {
			return // the decoder does not look inside
		}
		switch v.Kind() {
		case reflect.Pointer:
			at := visit{v.Type(), v.Pointer()}
			if v.IsNil() || visited[at] {
				return
			}
			visited[at] = true
			walk(v.Elem(), depth+1)
		case reflect.Struct:
			for i := range v.NumField() {
				walk(v.Field(i), depth+1)
			}
		case reflect.Array:
			for i := range v.Len() {
				walk(v.Index(i), depth+1)
			}
		case reflect.Interface:
			if v.IsNil() {
				return
			}
			e := v.Elem()
			if k := e.Kind(); v.NumMethod() == 0 && v.CanSet() && (k == reflect.Pointer || k == reflect.Map) && !e.IsNil() {
				into := e
				if k == reflect.Map {
					into = reflect.New(e.Type())
					into.Elem().Set(e)
				}
				n := &nilableAny{into: into, kept: true}
				out = append(out, standIn{field: v, held: e, n: n})
				v.Set(reflect.ValueOf(n))
			}
			if e.Kind() == reflect.Pointer {
				walk(e, depth+1) // the decoder reads into it
			}
		}
	}
	walk(v, 0)
	return out
}

// restore gives each field of s back what the stand-in read: nil where
// the event had nil (where it held a pointer to a pointer, as in
// encoding/json, the pointer it points to), else what the field held,
// read into. A field that no longer holds its stand-in was set by a
// reader of its own, and is left as it is.
func restore(s []standIn) {
	for _, in := range slices.Backward(s) {
		if in.field.Interface() != any(in.n) {
			continue
		}
		switch {
		case !in.n.kept && in.held.Kind() == reflect.Pointer && in.held.Elem().Kind() == reflect.Pointer:
			in.held.Elem().SetZero()
			in.field.Set(in.held)
		case !in.n.kept:
			in.field.SetZero()
		case in.held.Kind() == reflect.Map:
			in.field.Set(in.n.into.Elem())
		default:
			in.field.Set(in.held)
		}
	}
}
