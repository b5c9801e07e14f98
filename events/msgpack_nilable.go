package events

import (
	"errors"
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
// afterwards the field gets the constructor's value back, read into (or a
// new value, read after a nil), or nil where the event has nil. A field
// of an interface with methods cannot hold the stand-in: an event with
// nil there stays a DecodeError. Like the constructor's other values, a
// stand-in reaches only what the constructor made: an element past the
// capacity of its list is the decoder's, with nil in its fields of type
// any, which both codecs read as generic values (a map[string]any).

// nilableAny stands in an any field while the decoder reads a host's
// value: the decoder reads what the event has there through it, into
// what the field held, or zeroes it where the event has nil. Read again
// (a member given twice), the later reading counts: nil, or a value, read
// over the one before it, or, after a nil, into a new value, as into a
// field of the pointer's type (into the pointer's target, where it held
// a pointer to a pointer, as in encoding/json). encoding/json reads a
// value after a nil as it reads one into an empty interface: as a
// map[string]any.
type nilableAny struct {
	read *standInRead // nil once the decoder zeroed the stand-in
}

// standInRead is what a stand-in reads into, and what it read.
type standInRead struct {
	held   reflect.Value // what the field held: a pointer or a map
	into   reflect.Value // held, or a pointer to its map, or a new value after a nil
	reads  int           // values read
	sawNil bool          // a nil was read before a value
}

// standInReads finds a stand-in's standInRead once the decoder zeroed
// the stand-in, for a value read after that nil; restore forgets it.
var standInReads sync.Map // *nilableAny → *standInRead

// errSharedStandIn is the error of an event that has nil, and a value, in
// two places that share one stand-in, or one pointer to a pointer that
// the constructor put in fields of type any: which came last, which
// encoding/json would keep, is not known.
var errSharedStandIn = errors.New("the event has nil, and a value, in two places that share what the constructor put in a field of type any (a field pointing into a list that the decoder grew, or a pointer to a pointer in two fields)")

// DecodeMsgpack reads what the event has in the field into what the
// field held.
func (n *nilableAny) DecodeMsgpack(d *msgpack.Decoder) error {
	if n.read == nil { // zeroed by a nil read before
		r, ok := standInReads.Load(n)
		if !ok {
			return errSharedStandIn
		}
		n.read = r.(*standInRead)
		n.read.sawNil = true
		switch h := n.read.held; {
		case h.Kind() == reflect.Map:
			n.read.into.Elem().SetZero() // a new map
		case h.Elem().Kind() == reflect.Pointer:
			n.read.into.Elem().SetZero() // the decoder makes a new target
		default:
			n.read.into = reflect.New(h.Type().Elem())
		}
	}
	n.read.reads++
	return d.Decode(n.read.into.Interface())
}

// mixed reports whether in's stand-in read a value and nil.
func (in *standIn) mixed() bool { return in.read.reads > 0 && (in.n.read == nil || in.read.sawNil) }

// standIn is a field of type any that a stand-in took the place of.
type standIn struct {
	field reflect.Value // the field, settable
	n     *nilableAny
	read  *standInRead // n.read, kept when the decoder zeroes n
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
		for _, i := range writtenFields(t) {
			if holdsInterface(t.Field(i).Type, seen) {
				return true
			}
		}
	}
	return false
}

// standIns puts a stand-in in place of every field of type any that
// eachInterface finds in what root points to, the value that the decoder
// will read into, that holds a pointer or a map that is not nil, and
// returns them. (The copies that the decoder makes of them as it grows a
// list, restore finds.)
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
	eachInterface(root, func(v reflect.Value) reflect.Value {
		e := v.Elem()
		if _, twice := e.Interface().(*nilableAny); twice {
			return reflect.Value{} // reached again, through a pointer into a list
		}
		if k := e.Kind(); v.NumMethod() == 0 && (k == reflect.Pointer || k == reflect.Map) && !e.IsNil() {
			into := e
			if k == reflect.Map {
				into = reflect.New(e.Type())
				into.Elem().Set(e)
			}
			r := &standInRead{held: e, into: into}
			n := &nilableAny{read: r}
			standInReads.Store(n, r)
			out = append(out, standIn{field: v, n: n, read: r})
			v.Set(reflect.ValueOf(n))
		}
		if e.Kind() == reflect.Pointer {
			return e // the decoder reads into it
		}
		return reflect.Value{}
	})
	return out
}

// eachInterface calls fn with every interface value that the msgpack
// decoder may set, in what root points to: following pointers (each
// once), the fields that it reads, the elements of arrays, and those of
// lists up to their capacity (it reads into those, or into copies of them
// as it grows a list); not the values of maps, which it makes, nor what a
// type that reads itself holds. fn returns a pointer to go on into, or
// the zero Value.
func eachInterface(root reflect.Value, fn func(v reflect.Value) reflect.Value) {
	visited := map[visit]bool{}
	var walk func(v reflect.Value, depth int)
	walk = func(v reflect.Value, depth int) {
		if depth > maxEmbedWalk || readsItself(v.Type()) {
			return
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
			for _, i := range writtenFields(v.Type()) {
				walk(v.Field(i), depth+1)
			}
		case reflect.Array:
			for i := range v.Len() {
				walk(v.Index(i), depth+1)
			}
		case reflect.Slice:
			for i := range v.Cap() {
				walk(v.Slice(0, v.Cap()).Index(i), depth+1)
			}
		case reflect.Interface:
			if v.IsNil() || !v.CanSet() {
				return // read only: the decoder does not set it either
			}
			if next := fn(v); next.IsValid() {
				walk(next, depth+1)
			}
		}
	}
	walk(root, 0)
}

// restore gives each field of s back what the stand-in read: nil where
// the event had nil (where it held a pointer to a pointer, as in
// encoding/json, the pointer it points to), else what the field held,
// read into. A field that no longer holds its stand-in was set by a
// reader of its own, and is left as it is. The decoder may have copied a
// stand-in elsewhere (a list element that a field pointed into, which it
// copied as it grew the list): what root points to is swept for those.
// Where two places that the sweep reaches hold one stand-in that read a
// value and nil, or stand-ins that share a pointer to a pointer read a
// value and nil, restore cannot tell which came last, and returns
// errSharedStandIn (every place settled to what the stand-in read last).
// It cannot tell, either, one place that read a value and then nil (a
// member given twice) while another place merely holds a copy of the
// stand-in (a field pointing into a list that the decoder grew): that too
// is errSharedStandIn.
func restore(root reflect.Value, s []standIn) error {
	if len(s) == 0 {
		return nil
	}
	byN := make(map[*nilableAny]*standIn, len(s))
	for i := range s {
		byN[s[i].n] = &s[i]
		standInReads.Delete(s[i].n)
	}
	// The places that hold each stand-in, found once each by address.
	places := map[*nilableAny][]reflect.Value{}
	found := map[uintptr]bool{}
	sweep := func(v reflect.Value) reflect.Value {
		n, ok := v.Elem().Interface().(*nilableAny)
		if !ok || byN[n] == nil {
			if v.Elem().Kind() == reflect.Pointer {
				return v.Elem()
			}
			return reflect.Value{}
		}
		if !found[v.UnsafeAddr()] {
			found[v.UnsafeAddr()] = true
			places[n] = append(places[n], v)
		}
		if into := byN[n].read.into; into.Kind() == reflect.Pointer {
			return into // what it read into may hold copies too
		}
		return reflect.Value{}
	}
	eachInterface(root, sweep)
	// What a stand-in held before it read into a new value (a value, a nil,
	// a value) may hold copies too, which a field the sweep does not follow
	// (one tagged "-") may show.
	for i := range s {
		if h, into := s[i].read.held, s[i].read.into; h.Kind() == reflect.Pointer && into.Pointer() != h.Pointer() {
			eachInterface(h, sweep)
		}
	}
	var err error
	ptrs := map[uintptr][2]bool{} // by pointer to a pointer held: read nil, read a value
	for i := range slices.Backward(s) {
		in := &s[i]
		if in.mixed() && len(places[in.n]) > 1 {
			err = errSharedStandIn
		}
		if in.read.held.Kind() == reflect.Pointer && in.read.held.Elem().Kind() == reflect.Pointer {
			got := ptrs[in.read.held.Pointer()]
			if in.n.read == nil {
				got[0] = true
			} else if in.read.reads > 0 {
				got[1] = true
			}
			ptrs[in.read.held.Pointer()] = got
		}
		if in.field.Interface() == any(in.n) {
			in.settle(in.field)
		}
		for _, v := range places[in.n] {
			in.settle(v)
		}
	}
	for _, got := range ptrs {
		if got[0] && got[1] {
			err = errSharedStandIn
		}
	}
	return err
}

// settle sets field, which holds in's stand-in, to what it read.
func (in *standIn) settle(field reflect.Value) {
	switch {
	case in.n.read == nil && in.read.held.Kind() == reflect.Pointer && in.read.held.Elem().Kind() == reflect.Pointer:
		in.read.held.Elem().SetZero()
		field.Set(in.read.held)
	case in.n.read == nil:
		field.SetZero()
	case in.read.held.Kind() == reflect.Map:
		field.Set(in.read.into.Elem())
	default:
		field.Set(in.read.into)
	}
}
