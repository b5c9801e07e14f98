package events

import (
	"encoding"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"
	"unsafe"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/tagparser/v2"
)

// holdsItself returns what keeps v, a host type's data, from being
// written by the msgpack encoder, nil for nothing: v reaches itself
// through what the encoder walks (or reaches a type that embeds itself): pointers, interfaces, maps (their
// keys too), lists, and the fields it writes (exported ones, those of
// embedded types, not those it is told to skip). The encoder, which keeps
// no track of where it has been, would overflow its stack on such a value
// and end the process; encoding/json finds the cycle itself. A value of a
// type that the encoder lets marshal itself is not looked into: what it
// writes is its own. A path longer than maxCyclePath, which the codec
// would refuse as nested too deep once written, is refused as such.
func holdsItself(v reflect.Value) error {
	var path [16]cycleKey
	w := cycleWalk{path: path[:0]}
	if !w.walk(v) {
		return nil
	}
	switch {
	case w.loop != nil:
		return fmt.Errorf("a value of %s, which embeds itself: the msgpack encoder's look at its fields never ends", w.loop)
	case len(w.path) >= maxCyclePath || w.tooDeep:
		return errors.New("a value nested too deep")
	}
	return errors.New("a value that holds itself")
}

// maxCyclePath is the longest path of pointers, maps and lists that the
// walk follows: far more levels than the 64 that the decoders read.
// maxWalkDepth is how deep it goes in all, arrays, structs and interfaces
// held by value included, whose nesting the path does not count.
const (
	maxCyclePath = 256
	maxWalkDepth = 4 * maxCyclePath
)

// cycleKey is a pointer, map or list on the path of the walk: its type,
// where it points and, of a list, its length (as encoding/json keys them:
// a pointer to a struct and to its first field share an address, two
// lists of one array differ by their length).
type cycleKey struct {
	t   reflect.Type
	ptr unsafe.Pointer
	n   int
}

// cycleWalk holds the path of the walk, and the type met that embeds
// itself, if any.
type cycleWalk struct {
	path    []cycleKey
	loop    reflect.Type
	depth   int  // of walk's calls
	tooDeep bool // it went past maxWalkDepth
}

var (
	anyMapType  = reflect.TypeFor[map[string]any]()
	anyListType = reflect.TypeFor[[]any]()
)

// walkAny walks v, a value held by an interface: JSON's values without
// reflection, the common case of a host's data, others with it.
func (w *cycleWalk) walkAny(v any) bool {
	switch v := v.(type) {
	case nil, string, float64, bool, int, int64, uint64:
		return false
	case map[string]any:
		if v == nil {
			return false
		}
		if !w.push(cycleKey{anyMapType, *(*unsafe.Pointer)(unsafe.Pointer(&v)), 0}) {
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
		if !w.push(cycleKey{anyListType, unsafe.Pointer(unsafe.SliceData(v)), len(v)}) {
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

// walk is walkValue within maxWalkDepth: deeper, it reports true.
func (w *cycleWalk) walk(v reflect.Value) bool {
	if w.depth++; w.depth > maxWalkDepth {
		w.tooDeep = true
		return true
	}
	found := w.walkValue(v)
	w.depth--
	return found
}

func (w *cycleWalk) walkValue(v reflect.Value) bool {
	if !v.IsValid() || !mayHoldItself(v.Type()) {
		return false
	}
	if (v.Type() == anyMapType || v.Type() == anyListType) && v.CanInterface() {
		return w.walkAny(v.Interface())
	}
	switch v.Kind() {
	case reflect.Interface:
		switch {
		case v.IsNil():
			return false
		case v.CanInterface():
			return w.walkAny(v.Elem().Interface())
		}
		return w.walk(v.Elem()) // of a field that is not exported
	case reflect.Pointer:
		if v.IsNil() {
			return false
		}
		if !w.push(cycleKey{v.Type(), v.UnsafePointer(), 0}) {
			return true
		}
		if w.walk(v.Elem()) {
			return true
		}
		w.pop()
	case reflect.Map:
		if v.IsNil() {
			return false
		}
		if !w.push(cycleKey{v.Type(), v.UnsafePointer(), 0}) {
			return true
		}
		keys, elems := mayHoldItself(v.Type().Key()), mayHoldItself(v.Type().Elem())
		for it := v.MapRange(); it.Next(); {
			if keys && w.walk(it.Key()) || elems && w.walk(it.Value()) {
				return true
			}
		}
		w.pop()
	case reflect.Slice:
		if v.IsNil() {
			return false
		}
		if !w.push(cycleKey{v.Type(), v.UnsafePointer(), v.Len()}) {
			return true
		}
		if w.elems(v) {
			return true
		}
		w.pop()
	case reflect.Array:
		return w.elems(v)
	case reflect.Struct:
		if inlinesItself(v.Type(), nil) {
			w.loop = v.Type()
			return true
		}
		for _, i := range writtenFields(v.Type()) {
			if w.walk(v.Field(i)) {
				return true
			}
		}
	}
	return false
}

// push puts k on the path, and reports false when it is there already
// (the value holds itself) or the path is longer than maxCyclePath. Once a
// walk finds either, the path is not used again.
func (w *cycleWalk) push(k cycleKey) bool {
	if len(w.path) >= maxCyclePath || slices.Contains(w.path, k) {
		return false
	}
	w.path = append(w.path, k)
	return true
}

func (w *cycleWalk) pop() { w.path = w.path[:len(w.path)-1] }

func (w *cycleWalk) elems(v reflect.Value) bool {
	if !mayHoldItself(v.Type().Elem()) {
		return false
	}
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
// the walk goes: whether t holds, in what the encoder walks, an interface,
// or a pointer, map or list that may hold one. Most types of events
// (strings, numbers, times, flat structs) may not, and are not walked.
func mayHoldItself(t reflect.Type) bool {
	if v, ok := mayHold.Load(t); ok {
		return v.(bool)
	}
	var seen []reflect.Type
	return mayHoldType(t, &seen)
}

// mayHoldType is mayHoldItself of t, seen holding the types being looked
// at, which a type that refers to itself meets again: it may hold itself.
func mayHoldType(t reflect.Type, seen *[]reflect.Type) bool {
	if v, ok := mayHold.Load(t); ok {
		return v.(bool)
	}
	if slices.Contains(*seen, t) {
		return true
	}
	*seen = append(*seen, t)
	may := false
	switch {
	case ownMarshaler(t):
	case t.Kind() == reflect.Interface:
		may = true
	case t.Kind() == reflect.Pointer, t.Kind() == reflect.Slice, t.Kind() == reflect.Array:
		may = mayHoldType(t.Elem(), seen)
	case t.Kind() == reflect.Map:
		may = mayHoldType(t.Key(), seen) || mayHoldType(t.Elem(), seen)
	case t.Kind() == reflect.Struct:
		for _, i := range writtenFields(t) {
			if mayHoldType(t.Field(i).Type, seen) {
				may = true
				break
			}
		}
	}
	*seen = (*seen)[:len(*seen)-1]
	if len(*seen) == 0 || !may {
		// Only a result that no type being looked at assumed is kept: a
		// type that refers to itself may hold itself while it is looked
		// at, and that answer is the outer type's.
		mayHold.Store(t, may)
	}
	return may
}

// ownMarshaler reports whether the msgpack encoder lets t, or a pointer
// to it, write itself (encoding/json's MarshalJSON it does not call).
func ownMarshaler(t reflect.Type) bool { return implementsAny(t, msgpackEncoders) }

// ownUnmarshaler reports whether the msgpack decoder lets t, or a
// pointer to it, read itself.
func ownUnmarshaler(t reflect.Type) bool { return implementsAny(t, msgpackDecoders) }

// The interfaces through which the msgpack encoder and decoder let a
// value write and read itself.
var (
	msgpackEncoders = []reflect.Type{reflect.TypeFor[msgpack.CustomEncoder](), reflect.TypeFor[msgpack.Marshaler](),
		reflect.TypeFor[encoding.BinaryMarshaler](), reflect.TypeFor[encoding.TextMarshaler]()}
	msgpackDecoders = []reflect.Type{reflect.TypeFor[msgpack.CustomDecoder](), reflect.TypeFor[msgpack.Unmarshaler](),
		reflect.TypeFor[encoding.BinaryUnmarshaler](), reflect.TypeFor[encoding.TextUnmarshaler]()}
)

// implementsAny reports whether t, or a pointer to it, implements one of
// ifaces.
func implementsAny(t reflect.Type, ifaces []reflect.Type) bool {
	for _, t := range []reflect.Type{t, reflect.PointerTo(t)} {
		for _, i := range ifaces {
			if t.Implements(i) {
				return true
			}
		}
	}
	return false
}

// codecTag returns the name and the options of the tag of field f as the
// msgpack codec reads them (parsedTag); an option with a value
// ("alias:other") by its key alone.
func codecTag(f reflect.StructField) (name string, options []string) {
	tag := parsedTag(f)
	return tag.Name, slices.Sorted(maps.Keys(tag.Options))
}

// parsedTag returns the tag of field f, msgpack's, else json's, parsed
// as the msgpack codec parses it: "ns:tree" is an option without a name,
// and spaces around a name or an option do not count.
func parsedTag(f reflect.StructField) *tagparser.Tag {
	tag := f.Tag.Get("msgpack")
	if tag == "" {
		tag = f.Tag.Get("json")
	}
	return tagparser.Parse(tag)
}

// fieldsOf caches writtenFields by type.
var fieldsOf sync.Map // reflect.Type → []int

// writtenFields returns the indexes of the fields of struct type t that
// the encoder writes: exported ones and embedded ones (whose fields it
// promotes), but those that its tag (msgpack's, else json's, as the
// codec's encoder reads them) names "-".
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
		if name, _ := codecTag(f); name == "-" {
			continue
		}
		out = append(out, i)
	}
	fieldsOf.Store(t, out)
	return out
}

// loops caches embedLoop by type.
var loops sync.Map // reflect.Type → reflect.Type (nil: none)

// embedLoop returns a struct type reachable from t (through its fields,
// elements and keys) whose embedded structs, which the msgpack encoder
// inlines (embedded structs or pointers to them, of no marshaler of their
// own, not tagged "-" or noinline), lead back to itself: the encoder's
// look at its fields, on writing and on reading, recurses until the stack
// overflows. nil for none.
func embedLoop(t reflect.Type) reflect.Type {
	if v, ok := loops.Load(t); ok {
		loop, _ := v.(reflect.Type) // nil when none
		return loop
	}
	var seen []reflect.Type
	loop := reachLoop(t, &seen)
	loops.Store(t, loop)
	return loop
}

// reachLoop is embedLoop over the types reachable from t that seen does
// not hold yet.
func reachLoop(t reflect.Type, seen *[]reflect.Type) reflect.Type {
	if slices.Contains(*seen, t) {
		return nil
	}
	*seen = append(*seen, t)
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return reachLoop(t.Elem(), seen)
	case reflect.Map:
		if l := reachLoop(t.Key(), seen); l != nil {
			return l
		}
		return reachLoop(t.Elem(), seen)
	case reflect.Struct:
		if ownMarshaler(t) && ownUnmarshaler(t) {
			return nil // the encoder and the decoder never look at its fields
		}
		if inlinesItself(t, nil) {
			return t
		}
		for _, i := range writtenFields(t) {
			if l := reachLoop(t.Field(i).Type, seen); l != nil {
				return l
			}
		}
	}
	return nil
}

// inlinesItself reports whether struct type t, whose inlined embedded
// structs led here through stack, inlines a type on the stack, itself
// included.
func inlinesItself(t reflect.Type, stack []reflect.Type) bool {
	if slices.Contains(stack, t) {
		return true
	}
	stack = append(stack, t)
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.Anonymous {
			continue
		}
		name, options := codecTag(f)
		if name == "-" || slices.Contains(options, "noinline") {
			continue
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		// Told to inline, the encoder looks at the fields whatever codec
		// the type has; else it inlines a struct whose encoder and decoder
		// are both its own.
		inline := slices.Contains(options, "inline") || !ownMarshaler(ft) && !ownUnmarshaler(ft)
		if ft.Kind() == reflect.Struct && inline && inlinesItself(ft, stack) {
			return true
		}
	}
	return false
}
