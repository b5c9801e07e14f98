package events

import (
	"encoding"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"github.com/vmihailenco/msgpack/v5"
)

// holdsItself reports whether v, a host type's data, reaches itself
// through what the msgpack encoder walks: pointers, interfaces, maps (their
// keys too), lists, and the fields it writes (exported ones, those of
// embedded structs, not those tagged json:"-"). The encoder, which keeps
// no track of where it has been, would overflow its stack on such a value
// and end the process; encoding/json finds the cycle itself. A value of a
// type with its own marshaler is not looked into: what it writes is its
// own.
func holdsItself(v reflect.Value) bool {
	var path [16]cycleKey
	w := cycleWalk{path: path[:0]}
	return w.walk(v)
}

// cycleKey is a pointer, map or list on the path of the walk: the kind
// and where it points (and, of a list, its length, as encoding/json keys
// them: two lists of one array differ by it).
type cycleKey struct {
	kind reflect.Kind
	ptr  unsafe.Pointer
	n    int
}

// cycleWalk holds the path of the walk, as deep as the value nests (and
// the decoders read no deeper than 64 levels), so a list is enough.
type cycleWalk struct{ path []cycleKey }

// walkAny walks v, a value held by an interface: JSON's values without
// reflection, the common case of a host's data, others with it.
func (w *cycleWalk) walkAny(v any) bool {
	switch v := v.(type) {
	case nil, string, float64, bool, json.Number, int, int64, uint64:
		return false
	case map[string]any:
		if v == nil {
			return false
		}
		if !w.push(cycleKey{reflect.Map, *(*unsafe.Pointer)(unsafe.Pointer(&v)), 0}) {
			return true
		}
		for _, e := range v {
			if w.walkAny(e) {
				return true
			}
		}
		w.pop()
		return false
	case []any:
		if v == nil {
			return false
		}
		if !w.push(cycleKey{reflect.Slice, unsafe.Pointer(unsafe.SliceData(v)), len(v)}) {
			return true
		}
		for _, e := range v {
			if w.walkAny(e) {
				return true
			}
		}
		w.pop()
		return false
	}
	return w.walk(reflect.ValueOf(v))
}

func (w *cycleWalk) walk(v reflect.Value) bool {
	if !v.IsValid() || !mayHoldItself(v.Type()) {
		return false
	}
	switch v.Kind() {
	case reflect.Interface:
		return !v.IsNil() && w.walkAny(v.Elem().Interface())
	case reflect.Pointer:
		if v.IsNil() {
			return false
		}
		return w.enter(cycleKey{reflect.Pointer, v.UnsafePointer(), 0}, func() bool { return w.walk(v.Elem()) })
	case reflect.Map:
		if v.IsNil() {
			return false
		}
		return w.enter(cycleKey{reflect.Map, v.UnsafePointer(), 0}, func() bool {
			for it := v.MapRange(); it.Next(); {
				if w.walk(it.Key()) || w.walk(it.Value()) {
					return true
				}
			}
			return false
		})
	case reflect.Slice:
		if v.IsNil() {
			return false
		}
		return w.enter(cycleKey{reflect.Slice, v.UnsafePointer(), v.Len()}, func() bool { return w.elems(v) })
	case reflect.Array:
		return w.elems(v)
	case reflect.Struct:
		for _, i := range writtenFields(v.Type()) {
			if w.walk(v.Field(i)) {
				return true
			}
		}
	}
	return false
}

// enter walks, by in, what k points to, unless k is on the path already:
// the value holds itself.
func (w *cycleWalk) enter(k cycleKey, in func() bool) bool {
	if !w.push(k) {
		return true
	}
	found := in()
	w.pop()
	return found
}

// push puts k on the path, and reports false when it is there already:
// the value holds itself. Once a walk finds that, the path is not used
// again.
func (w *cycleWalk) push(k cycleKey) bool {
	if slices.Contains(w.path, k) {
		return false
	}
	w.path = append(w.path, k)
	return true
}

func (w *cycleWalk) pop() { w.path = w.path[:len(w.path)-1] }

func (w *cycleWalk) elems(v reflect.Value) bool {
	for i := range v.Len() {
		if w.walk(v.Index(i)) {
			return true
		}
	}
	return false
}

// mayHold caches mayHoldItself by type.
var mayHold sync.Map // reflect.Type → bool

// mayHoldItself reports whether a value of type t may reach itself, as
// the walk goes: whether t holds, in what the encoder walks, a pointer,
// an interface, a map or a list that may hold one of those. Most types of
// events (strings, numbers, times, flat structs) may not, and are not
// walked.
func mayHoldItself(t reflect.Type) bool {
	if v, ok := mayHold.Load(t); ok {
		return v.(bool)
	}
	mayHold.Store(t, true) // a type that refers to itself, while it is looked at
	may := false
	switch {
	case ownMarshaler(t):
	case t.Kind() == reflect.Interface:
		may = true
	case t.Kind() == reflect.Pointer, t.Kind() == reflect.Slice, t.Kind() == reflect.Array:
		may = mayHoldItself(t.Elem())
	case t.Kind() == reflect.Map:
		may = mayHoldItself(t.Key()) || mayHoldItself(t.Elem())
	case t.Kind() == reflect.Struct:
		for _, i := range writtenFields(t) {
			may = may || mayHoldItself(t.Field(i).Type)
		}
	}
	mayHold.Store(t, may)
	return may
}

// ownMarshaler reports whether t, or a pointer to it, writes itself.
func ownMarshaler(t reflect.Type) bool {
	for _, t := range []reflect.Type{t, reflect.PointerTo(t)} {
		switch {
		case t.Implements(reflect.TypeFor[json.Marshaler]()),
			t.Implements(reflect.TypeFor[encoding.TextMarshaler]()),
			t.Implements(reflect.TypeFor[encoding.BinaryMarshaler]()),
			t.Implements(reflect.TypeFor[msgpack.Marshaler]()),
			t.Implements(reflect.TypeFor[msgpack.CustomEncoder]()):
			return true
		}
	}
	return false
}

// fieldsOf caches writtenFields by type.
var fieldsOf sync.Map // reflect.Type → []int

// writtenFields returns the indexes of the fields of struct type t that
// the encoder writes: exported ones and embedded structs (whose exported
// fields it promotes), but those tagged json:"-".
func writtenFields(t reflect.Type) []int {
	if v, ok := fieldsOf.Load(t); ok {
		return v.([]int)
	}
	out := []int{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() && !f.Anonymous {
			continue
		}
		if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name == "-" && !strings.HasPrefix(f.Tag.Get("json"), "-,") {
			continue
		}
		out = append(out, i)
	}
	fieldsOf.Store(t, out)
	return out
}
