package events

import (
	"encoding/json"
	"fmt"
	"reflect"
	"runtime/debug"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
	"unsafe"
)

// Upcaster rewrites the data fields of an event from one schema version of
// its type to the next: it receives a map of the wire names to values and
// returns the fields of the next version.
//
// For a built-in type, the fields are those of the JSON wire format
// whichever codec read the event: numbers as float64, ids as strings,
// objects as map[string]any (a msgpack key written as nil as "", as the
// codec reads it without an upcaster) and lists as []any; what it returns is read as
// JSON, and by the msgpack codec then as msgpack writes it: its Extra
// numbers in msgpack's form (2.50 as 2.5), and what msgpack cannot write
// refused as a malformed event. A float64 holds an integer's digits up
// to 2^53 only: an integer beyond, which it returns at the place (member,
// nested member, list element) where it was given, as the same float64,
// is read as it was written, every digit kept (a 19-digit id carried in
// Extra); any other number as it returns it. Under JSON, a number beyond
// a float64's range, which a float64 cannot carry, comes as a
// json.Number, for a built-in type and a host's alike.
//
// For a host's type the fields are what the codec that read the event
// decodes: encoding/json's values under JSON (with the same care for the
// numbers it leaves); under msgpack, integers as int64 (uint64 above its
// range), and floats, binaries and times as msgpack gives them (float32
// or float64, []byte, time.Time), objects as map[string]any, and maps
// whose keys are not all strings (a map[int]T, or one with a key written
// as nil, which stays nil) as map[any]any with their keys normalised as
// values are (an empty map, whose keys msgpack cannot tell, as
// map[string]any); what it returns is read back by the same codec, which
// refuses a number that does not fit its integer field. (Of a
// map[string]T written with both "" and a nil key, which the codec reads
// as a "" given twice, the value that such a map keeps through an
// upcaster is either.) An upcaster of a host's type that is read by both
// codecs accepts both.
//
// An error it returns fails the decoding: the codec's *DecodeError wraps
// it beside ErrMalformed, so that errors.Is finds a host's own sentinel.
// So does a panic, as an *UpcasterPanicError, and so do fields that
// cannot be encoded: nil, a cycle (a value nested deeper than 1000), a
// value whose encoding panics. One odd old event fails to decode, with
// its position, rather than ending the process.
type Upcaster func(fields map[string]any) (map[string]any, error)

// UpcasterPanicError is the error of an upcaster that panicked, which a
// *DecodeError wraps: the panic's value and the goroutine's stack where it
// panicked.
type UpcasterPanicError struct {
	Type  Type
	From  uint64 // the schema the upcaster reads
	Value any    // what it panicked with
	Stack []byte // runtime/debug.Stack() in the deferred recover
}

// Error says what the upcaster panicked with; the error that wraps it
// names the type and schema ("upcast T from schema N: ...").
func (e *UpcasterPanicError) Error() string {
	return fmt.Sprintf("the upcaster panicked: %v", e.Value)
}

// Registry says which event types exist, which schema version of each is
// current, and how older versions are upcast to it. NewRegistry returns one
// that knows the built-in types at schema 1; the zero Registry knows none
// and cannot be added to: make one with NewRegistry.
//
// Configure a Registry before sharing it: Register and AddUpcaster are not
// safe to call while codecs use it; everything else is.
type Registry struct {
	types map[Type]*typeInfo
	// builtin holds the entries of the built-in types by builtinIndex, so
	// that codecs find them without hashing the type's name.
	builtin [9]*typeInfo
}

// builtinIndex returns the index of a built-in type in Registry.builtin,
// or -1 for any other type. The compiler turns the switch into a search
// by length and content that is cheaper than a map lookup.
func builtinIndex(t Type) int {
	switch t {
	case TypeOpened:
		return 0
	case TypeRouted:
		return 1
	case TypeConsulted:
		return 2
	case TypeResolved:
		return 3
	case TypeReopened:
		return 4
	case TypeContacted:
		return 5
	case TypeAbandoned:
		return 6
	case TypeRated:
		return 7
	case TypeClassified:
		return 8
	}
	return -1
}

// set files the entry of type t.
func (r *Registry) set(t Type, info *typeInfo) {
	r.types[t] = info
	if i := builtinIndex(t); i >= 0 {
		r.builtin[i] = info
	}
}

type typeInfo struct {
	schema    uint64
	new       func() Data
	goType    reflect.Type        // what new returns
	typeWord  unsafe.Pointer      // its interface type word, for typeWord
	upcasters map[uint64]Upcaster // from version k to k+1
}

// readsNull reports whether the codecs read data written as null (JSON)
// or nil (msgpack), at the given schema, into a value of the type: a
// host's type that is a map or a slice under its pointer, whose nil value
// they write so, read back as that nil value. Of any other type, and of
// an earlier schema, whose upcasters take an object, the data is missing.
func (info *typeInfo) readsNull(schema uint64) bool {
	if schema != info.schema || info.goType.Kind() != reflect.Pointer {
		return false
	}
	k := info.goType.Elem().Kind()
	return k == reflect.Map || k == reflect.Slice
}

// NewRegistry returns a Registry of the nine built-in event types, each at
// schema version 1.
func NewRegistry() *Registry {
	r := &Registry{types: make(map[Type]*typeInfo)}
	for _, f := range []func() Data{
		func() Data { return new(Opened) },
		func() Data { return new(Routed) },
		func() Data { return new(Consulted) },
		func() Data { return new(Resolved) },
		func() Data { return new(Reopened) },
		func() Data { return new(Contacted) },
		func() Data { return new(Abandoned) },
		func() Data { return new(Rated) },
		func() Data { return new(Classified) },
	} {
		d := f()
		r.set(d.EventType(), &typeInfo{schema: 1, new: f, goType: reflect.TypeOf(d), typeWord: typeWord(d)})
	}
	return r
}

// Register adds an event type, or replaces one to raise its schema version.
// The name is UTF-8 text without control characters. newData returns a
// new, empty value of the type; it must be a pointer whose EventType is t.
// Upcasters already added for t are kept. A value of the type that holds
// itself, through what the encoders write, is refused by both codecs
// (what a type's own marshaler writes is not looked into; the msgpack
// codec calls MarshalMsgpack, EncodeMsgpack, MarshalBinary and
// MarshalText, the JSON codec MarshalJSON). A type that the codecs could
// not write whole or read back is refused, as is one that holds such a
// type: one that gets an encoding or decoding method (MarshalJSON,
// UnmarshalText, …) from a field it embeds, such as a time.Time, which
// the codecs would call for the whole value; and one that embeds a pointer
// to a struct type that is not exported, through which the decoders would
// set fields, and that newData leaves nil (reflect lets nobody allocate
// it); and one that embeds a type that is not exported and not a struct
// (a string or a map type, or a pointer to one) and not tagged "-", which
// the msgpack codec writes but cannot set; and a field tagged json:"-,"
// without a msgpack tag, which encoding/json writes as a member named
// "-" and the msgpack codec skips; and a struct with two fields of one
// name at the same depth of embedding, neither or both tagged with it,
// which encoding/json leaves out. What newData puts in an interface field
// (or an element of type any of a list, up to its capacity, which the
// msgpack decoder reads into too) tells the decoders what to read there:
// a pointer to a value, a map[string]any, or nothing (read as the
// generic values of JSON); a value of another type is refused, as
// the msgpack decoder cannot set it and encoding/json replaces it. A field
// of type any is read as nil where an event has nil; one of an interface
// with methods cannot be, in msgpack. What Register cannot see (a constructor that
// makes other values than the one it looked at, an interface field of
// methods that it leaves nil, or that an event has nil in) and a decoder
// cannot fill is the event's DecodeError, as is a number that does not
// fit its integer field (300 for a uint8, -1 for a uint64): both codecs
// refuse it and name the field, where the msgpack decoder alone would
// wrap it. (The msgpack codec tells by comparing the numbers it read with
// those that the value writes back: of a type that reads itself, a number
// written back in another form is not compared, and one written back as
// another number at its place is refused.) A type that is a map or a
// slice under its pointer, whose value is nil, is written as null (JSON)
// or nil (msgpack) and read back as nil. Msgpack data that holds an
// extension where the type has a map that does not read itself is refused
// too, naming the place: the msgpack decoder would read a map through the
// extension's header, at a length no check saw (a map type whose decoder
// a host registered with msgpack.Register, and that reads a map through
// an extension's header as msgpack's own does, counts as one that does
// not read itself, as does one whose own methods hand what they read to
// the decoder's reading of maps).
func (r *Registry) Register(t Type, schema uint64, newData func() Data) error {
	if t == "" || schema == 0 || newData == nil {
		return fmt.Errorf("register event type %q: need a name, a schema version of 1 or more and a constructor", t)
	}
	if !utf8.ValidString(string(t)) || strings.IndexFunc(string(t), unicode.IsControl) >= 0 {
		// A store's text column, a broker's header or a log line could
		// not carry it.
		return fmt.Errorf("register event type %q: the name is not UTF-8 text without control characters", t)
	}
	d := newData()
	if !IsData(d) {
		return fmt.Errorf("register event type %q: the constructor makes no data: it returns nil", t)
	}
	if reflect.ValueOf(d).Kind() != reflect.Pointer {
		// The codecs decode into what it returns.
		return fmt.Errorf("register event type %q: the constructor makes a %T, not a pointer", t, d)
	}
	if got := d.EventType(); got != t {
		return fmt.Errorf("register event type %q: constructor makes %q", t, got)
	}
	if inner, ok := embedsBuiltin(reflect.TypeOf(d).Elem(), nil); ok && !IsBuiltin(d) {
		// Its encoding methods would be promoted to the host's type,
		// and encode the embedded value alone.
		return fmt.Errorf("register event type %q: %T embeds %s, whose encoding the codecs would take for the whole, dropping the other fields: make it a named field", t, d, inner)
	}
	if loop := embedLoop(reflect.TypeOf(d)); loop != nil {
		// The msgpack codec could neither write nor read it: its
		// encoder's look at the fields would recurse until the stack
		// overflowed.
		return fmt.Errorf("register event type %q: %s embeds itself, through embedded structs that the msgpack codec inlines: tag the embedded field msgpack:\",noinline\" or make it a named field", t, loop)
	}
	if err := holdsItself(reflect.ValueOf(d)); err != nil {
		// What the constructor put in an interface field is what the
		// decoder reads into.
		return fmt.Errorf("register event type %q: the constructor makes %v", t, err)
	}
	if msg := unreadable(d); msg != "" {
		return fmt.Errorf("register event type %q: %s", t, msg)
	}
	info := &typeInfo{schema: schema, new: newData, goType: reflect.TypeOf(d), typeWord: typeWord(d)}
	if old, ok := r.types[t]; ok {
		info.upcasters = old.upcasters
	}
	r.set(t, info)
	return nil
}

// typeWord returns the type word of d, which values of d's dynamic type
// share (the codecs compare it before reflect.TypeOf, on every encoding).
func typeWord(d Data) unsafe.Pointer { return (*[2]unsafe.Pointer)(unsafe.Pointer(&d))[0] }

// embedsBuiltin returns the built-in data type that struct type t embeds,
// at any depth, if any; seen holds the types looked into already (a type
// may embed a pointer to itself).
func embedsBuiltin(t reflect.Type, seen map[reflect.Type]bool) (reflect.Type, bool) {
	if t.Kind() != reflect.Struct || seen[t] {
		return nil, false
	}
	if seen == nil {
		seen = make(map[reflect.Type]bool)
	}
	seen[t] = true
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.Anonymous {
			continue
		}
		ptr, elem := f.Type, f.Type
		if ptr.Kind() == reflect.Pointer {
			elem = ptr.Elem()
		} else {
			ptr = reflect.PointerTo(ptr)
		}
		if d, ok := reflect.Zero(ptr).Interface().(Data); ok && IsBuiltin(d) {
			return f.Type, true
		}
		if inner, ok := embedsBuiltin(elem, seen); ok {
			return inner, true
		}
	}
	return nil, false
}

// AddUpcaster adds the upcaster of type t from schema version from to from+1.
func (r *Registry) AddUpcaster(t Type, from uint64, up Upcaster) error {
	info, ok := r.types[t]
	if !ok {
		return fmt.Errorf("add upcaster for %q: %w", t, ErrUnknownType)
	}
	if from == 0 || from >= info.schema || up == nil {
		return fmt.Errorf("add upcaster for %q from schema %d: the type is at schema %d", t, from, info.schema)
	}
	if info.upcasters == nil {
		info.upcasters = make(map[uint64]Upcaster)
	}
	info.upcasters[from] = up
	return nil
}

// Schema returns the current schema version of t, and false if t is unknown.
func (r *Registry) Schema(t Type) (uint64, bool) {
	info, ok := r.types[t]
	if !ok {
		return 0, false
	}
	return info.schema, true
}

// New returns a new, empty Data of type t.
func (r *Registry) New(t Type) (Data, error) {
	info, ok := r.types[t]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownType, t)
	}
	return info.new(), nil
}

// Types returns the registered types in lexical order.
func (r *Registry) Types() []Type {
	ts := make([]Type, 0, len(r.types))
	for t := range r.types {
		ts = append(ts, t)
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
	return ts
}

// upcast brings fields of type t from schema version from to the current one.
func (r *Registry) upcast(t Type, from uint64, fields map[string]any) (map[string]any, error) {
	info := r.types[t]
	for v := from; v < info.schema; v++ {
		up, ok := info.upcasters[v]
		if !ok {
			return nil, fmt.Errorf("no upcaster for %s from schema %d to %d", t, v, v+1)
		}
		var err error
		if fields, err = callUpcaster(t, v, up, fields); err != nil {
			return nil, fmt.Errorf("upcast %s from schema %d: %w", t, v, err)
		}
		if fields == nil {
			return nil, fmt.Errorf("upcast %s from schema %d: the upcaster returned no fields", t, v)
		}
		if err := checkUpcast(reflect.ValueOf(fields), 0); err != nil {
			return nil, fmt.Errorf("upcast %s from schema %d: %w", t, v, err)
		}
	}
	return fields, nil
}

// maxUpcastDepth bounds how deep what an upcaster returns may nest, so
// that a cyclic value fails rather than overflowing the encoder's stack.
const maxUpcastDepth = 1000

// checkUpcast refuses a value nested deeper than maxUpcastDepth, such as
// a cycle, on which the encoders would overflow the stack.
func checkUpcast(v reflect.Value, depth int) error {
	if depth > maxUpcastDepth {
		return fmt.Errorf("the upcaster returned a value nested deeper than %d (a cycle?)", maxUpcastDepth)
	}
	switch v.Kind() {
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		return checkUpcast(v.Elem(), depth+1)
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			if err := checkUpcast(it.Value(), depth+1); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			if err := checkUpcast(v.Index(i), depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// callUpcaster returns up(fields), with a panic of up as its error.
func callUpcaster(t Type, from uint64, up Upcaster, fields map[string]any) (out map[string]any, err error) {
	returned := false
	defer func() {
		if v := recover(); v != nil || !returned { // !returned: panic(nil) under GODEBUG=panicnil=1
			out, err = nil, &UpcasterPanicError{Type: t, From: from, Value: v, Stack: debug.Stack()}
		}
	}()
	out, err = up(fields)
	returned = true
	return out, err
}

// lookup returns the type's entry, or nil.
func (r *Registry) lookup(t Type) *typeInfo {
	if i := builtinIndex(t); i >= 0 {
		return r.builtin[i]
	}
	return r.types[t]
}

// keepDigits puts back, in got, what the upcasters returned, the exact
// integer of exact (the fields as read, their numbers as json.Number) at
// each place (member, nested member, list element) where got holds the
// float64 that the upcasters were given for it and that float64 lost
// digits of it: they see numbers as float64, which holds an integer's
// digits up to 2^53 only, and a 19-digit id in Extra that they left as it
// was would otherwise lose its last ones. Any other number is as they
// return it, as it was before (30000.0 as 30000). It returns got, whose
// maps and lists it changes in place.
func keepDigits(got, exact any) any {
	switch g := got.(type) {
	case float64:
		if n, ok := exact.(json.Number); ok && lossyInt(n) {
			if f, err := n.Float64(); err == nil && f == g {
				return n
			}
		}
	case map[string]any:
		if x, ok := exact.(map[string]any); ok {
			for k, v := range g {
				if xv, ok := x[k]; ok {
					g[k] = keepDigits(v, xv)
				}
			}
		}
	case []any:
		if x, ok := exact.([]any); ok && len(x) == len(g) {
			for i := range g {
				g[i] = keepDigits(g[i], x[i])
			}
		}
	}
	return got
}

// lossyInt reports whether n is an integer, written as one, that its
// float64 does not give back as written: one whose digits a float64 does
// not hold, or one of 10^21 or more, which encoding/json writes with an
// exponent (1e+21), which an integer field does not read.
func lossyInt(n json.Number) bool {
	s := strings.TrimPrefix(string(n), "-")
	if len(s) < longInt || strings.TrimLeft(s, "0123456789") != "" {
		return false
	}
	f, err := n.Float64()
	if err != nil {
		return false
	}
	b, err := json.Marshal(f)
	return err == nil && string(b) != string(n)
}

// longInt is how many digits an integer has at least before its float64
// may not give it back: 2^53 has 16.
const longInt = 16

// hasLongDigits reports whether b holds a run of longInt digits or more,
// which may be an integer that a float64 does not hold (or a string's
// digits: a check that can only err towards keepDigits).
func hasLongDigits(b []byte) bool {
	run := 0
	for _, c := range b {
		if c >= '0' && c <= '9' {
			if run++; run >= longInt {
				return true
			}
		} else {
			run = 0
		}
	}
	return false
}

// upcastNumbers makes the numbers of v, decoded by encoding/json as
// json.Number, float64 as upcasters see them, but for one beyond a
// float64's range, which stays a json.Number, as the reader without an
// upcaster keeps it. It returns v, whose maps and lists it changes in
// place.
func upcastNumbers(v any) any {
	switch v := v.(type) {
	case json.Number:
		if f, err := v.Float64(); err == nil {
			return f
		}
	case map[string]any:
		for k, x := range v {
			v[k] = upcastNumbers(x)
		}
	case []any:
		for i := range v {
			v[i] = upcastNumbers(v[i])
		}
	}
	return v
}

// marshalUpcast encodes what the upcasters returned with marshal, with a
// panic (a value's MarshalJSON, say) as an error.
func marshalUpcast(marshal func(any) ([]byte, error), fields map[string]any) (b []byte, err error) {
	defer func() {
		if v := recover(); v != nil {
			b, err = nil, fmt.Errorf("encoding what the upcasters returned panicked: %v", v)
		}
	}()
	return marshal(fields)
}
