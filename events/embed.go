package events

import (
	"cmp"
	"encoding"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"unicode"
)

// unreadable returns what keeps the codecs from writing whole, or reading
// back, a value of the host type whose constructor made d, or of a type it
// holds; "" for nothing:
//   - a struct that gets an encoding or decoding method from a field it
//     embeds, which a codec would call for the whole value: it writes or
//     reads that field alone (or, of a nil embedded pointer, panics);
//   - a nil embedded pointer to a struct type that is not exported,
//     through which a codec would set what it reads: a decoder cannot
//     allocate it (reflect refuses to set a field that is not exported),
//     so that the msgpack decoder panics and encoding/json fails;
//   - an embedded field of a type that is not exported and not a struct
//     (writtenUnsettable), which the msgpack codec writes and its decoder
//     cannot set;
//   - a field tagged json:"-," (and no msgpack tag), which encoding/json
//     writes as "-" and the msgpack codec skips;
//   - fields that encoding/json finds ambiguous (jsonAmbiguous), and so
//     writes and reads none of;
//   - a value held where the codecs cannot take its address (in a map)
//     whose codec methods have pointer receivers (pointerWriter);
//   - a scalar or a map key that writes itself one way and reads itself
//     another (surelyOneWay);
//   - what the constructor puts in an interface field but a pointer, or a
//     map[string]any;
//   - a constructor's value nested deeper than maxEmbedWalk.
func unreadable(d Data) string {
	w := embedWalk{seen: map[seenType]bool{}, visits: map[visit]bool{}, refs: map[reflect.Type]bool{}}
	t := reflect.TypeOf(d).Elem()
	return w.walk(reflect.ValueOf(d).Elem(), t, &step{name: t.String()})
}

// step is one step of the path from a host's type to a value it holds:
// a field's name, "[]" for an element, under the step before it.
type step struct {
	up    *step
	name  string
	depth int
	// byValue says that the value is held where the codecs cannot take
	// its address (a map's value, or what one holds in place), so that
	// they write it through its value's methods alone.
	byValue bool
	// inlined says that the value is an embedded struct (or a pointer to
	// one) whose fields encoding/json takes as its container's, and
	// weighs against theirs (jsonAmbiguous).
	inlined bool
}

// down returns the step name under p, held as p is; "" for a step
// through a pointer or an interface, which the path does not show.
func (p *step) down(name string) *step { return p.downBy(name, p.byValue) }

// downBy is down, with the value held by value or not.
func (p *step) downBy(name string, byValue bool) *step {
	return &step{up: p, name: name, depth: p.depth + 1, byValue: byValue}
}

// String writes the path, as "Host.Field[].Inner".
func (p *step) String() string {
	var names []string
	for s := p; s != nil; s = s.up {
		if s.name != "" {
			names = append(names, s.name)
		}
	}
	slices.Reverse(names)
	out := names[0]
	for _, n := range names[1:] {
		if n != "[]" && n != "[key]" {
			out += "."
		}
		out += n
	}
	return out
}

// short is String of a path cut to its first and last few names.
func (p *step) short() string {
	s := p.String()
	if names := strings.Split(s, "."); len(names) > 8 {
		s = strings.Join(names[:4], ".") + "…" + strings.Join(names[len(names)-4:], ".")
	}
	return s
}

// maxEmbedWalk is how deep walk goes into the constructor's value before
// it refuses it as nested too deep: deeper than the codecs read.
const maxEmbedWalk = 10000

// embedWalk walks a host type's value, and the types it holds, for
// unreadable.
type embedWalk struct {
	seen   map[seenType]bool     // types looked into without a value
	visits map[visit]bool        // pointers of the constructor's value followed
	refs   map[reflect.Type]bool // holdsRefs of types asked about
}

// holdsRefs reports whether a value of type t holds, in place, a pointer
// or an interface value: what walk follows of the constructor's value
// (of a slice or a map it walks the type alone).
func (w *embedWalk) holdsRefs(t reflect.Type) bool {
	if r, ok := w.refs[t]; ok {
		return r
	}
	w.refs[t] = false // a struct cannot hold itself in place
	r := false
	switch t.Kind() {
	case reflect.Pointer, reflect.Interface:
		r = true
	case reflect.Array:
		r = t.Len() > 0 && w.holdsRefs(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if w.holdsRefs(t.Field(i).Type) {
				r = true
				break
			}
		}
	}
	w.refs[t] = r
	return r
}

// seenType is a type looked into, held by value (step.byValue) or not,
// as a map's key or not: each is checked in its own way.
type seenType struct {
	t                     reflect.Type
	byValue, key, inlined bool
}

// visit is a pointer of a type.
type visit struct {
	t reflect.Type
	p uintptr
}

// walk is unreadable of v, of type t, at path from the host's type: the
// value that the constructor made, or the zero Value where the decoder
// makes the value itself. A value that both decoders let read itself is
// not looked into, nor a pointer of the constructor's value followed
// before (shared, or holding itself through what the codecs skip).
func (w *embedWalk) walk(v reflect.Value, t reflect.Type, path *step) string {
	if path.depth > maxEmbedWalk {
		return fmt.Sprintf("%s: the constructor's value goes on for more than %d steps", path.short(), maxEmbedWalk)
	}
	key := path.name == "[key]"
	switch {
	case !v.IsValid():
		at := seenType{t, path.byValue, key, path.inlined}
		if w.seen[at] {
			return ""
		}
		w.seen[at] = true
	case t.Kind() == reflect.Pointer && !v.IsNil():
		at := visit{t, uintptr(v.UnsafePointer())}
		if w.visits[at] {
			return ""
		}
		w.visits[at] = true
	}
	if t.Kind() == reflect.Struct {
		if ms, from := promotedCodecs(t, key); len(ms) > 0 {
			list := strings.Join(ms, ", ")
			if n := len(ms); n > 1 {
				list = strings.Join(ms[:n-1], ", ") + " and " + ms[n-1]
			}
			return fmt.Sprintf("%s gets %s from the %s it embeds, which the codecs would call for the whole value, writing or reading that field alone: make the embedded field a named one, or declare %s on %s",
				at(path, t), list, from, list, t)
		}
	}
	if path.byValue {
		if name := pointerWriter(t, key); name != "" {
			fix := fmt.Sprintf("hold a *%s there, or give %s a %s of a value receiver", t, t, name)
			switch {
			case key && t.Kind() == reflect.String:
				fix = fmt.Sprintf("give %s a %s of a value receiver that returns the string itself (encoding/json writes a key of a string kind as it is, and reads it through UnmarshalText)", t, name)
			case key:
				fix = fmt.Sprintf("give %s a %s of a value receiver", t, name)
			}
			return fmt.Sprintf("%s is held by value, where the codecs cannot take its address to call its %s, which has a pointer receiver: they would write it as its kind or fields, or fail: %s",
				at(path, t), name, fix)
		}
	}
	if k := t.Kind(); key || k >= reflect.Bool && k <= reflect.Complex128 || k == reflect.String {
		// (A struct may write itself as its fields and more, and read
		// that.) A key is read through UnmarshalText.
		orders := codecOrders
		if key {
			orders = keyOrders
		}
		if has, lacks := surelyOneWay(t, orders); has != "" {
			return fmt.Sprintf("%s has %s but not %s: the codec would read what the one writes, or write what the other reads, as its kind (%s), which fails unless that is the kind's own form (a name is not a number): give it both, or neither",
				at(path, t), has, lacks, t.Kind())
		}
	}
	if t.Kind() != reflect.Pointer && ownUnmarshaler(t) && implementsAny(t, jsonDecoders) {
		return "" // each decoder lets it read itself
	}
	switch t.Kind() {
	case reflect.Pointer:
		elem := path.downBy("", false)
		elem.inlined = path.inlined
		if v.IsValid() && !v.IsNil() {
			return w.walk(v.Elem(), t.Elem(), elem)
		}
		return w.walk(reflect.Value{}, t.Elem(), elem)
	case reflect.Interface:
		// The decoders read into what the constructor put there, through
		// a pointer: the msgpack decoder cannot set a value, and
		// encoding/json replaces it, a map too, with what it reads (a
		// map[string]any for an object, which may stand there).
		if v.IsValid() && !v.IsNil() {
			e := v.Elem()
			if k := e.Kind(); (k != reflect.Pointer || e.IsNil()) && !(e.Type() == reflect.TypeFor[map[string]any]() && !e.IsNil()) {
				how := "by value"
				if k == reflect.Pointer || k == reflect.Map && e.IsNil() {
					how = "nil"
				}
				return fmt.Sprintf("%s holds a %s, %s, which the msgpack decoder cannot set and encoding/json replaces with what it reads: put a pointer to a value there (a *%s), or nothing",
					path, e.Type(), how, cmp.Or(strings.TrimPrefix(e.Type().String(), "*"), "T"))
			}
			return w.walk(e, e.Type(), path.down(""))
		}
	case reflect.Array:
		// Its elements are decoded in place. Those of a type that holds no
		// pointer or interface value differ in nothing that the walk looks
		// at: the type is walked once.
		if v.IsValid() && v.Len() > 0 && w.holdsRefs(t.Elem()) {
			for i := range v.Len() {
				if msg := w.walk(v.Index(i), t.Elem(), path.down("[]")); msg != "" {
					return msg
				}
			}
			return ""
		}
		return w.walk(reflect.Value{}, t.Elem(), path.down("[]"))
	case reflect.Map:
		// A key is written by its value's own methods (encoding/json's
		// TextMarshaler, msgpack's first choice), as a value is.
		if msg := w.walk(reflect.Value{}, t.Key(), path.downBy("[key]", true)); msg != "" {
			return msg
		}
		return w.walk(reflect.Value{}, t.Elem(), path.downBy("[]", true))
	case reflect.Slice:
		// The msgpack decoder reads into the elements a list holds up to
		// its capacity, as into an array's, and into new ones beyond.
		if v.IsValid() && v.Cap() > 0 && w.holdsRefs(t.Elem()) {
			held := v.Slice(0, v.Cap())
			for i := range held.Len() {
				e := held.Index(i)
				if k := e.Kind(); (k == reflect.Interface || k == reflect.Pointer) && e.IsNil() {
					continue // as the type's walk below finds it
				}
				if msg := w.walk(e, t.Elem(), path.downBy("[]", false)); msg != "" {
					return msg
				}
			}
		}
		return w.walk(reflect.Value{}, t.Elem(), path.downBy("[]", false))
	case reflect.Struct:
		if name, from := jsonAmbiguous(t); name != "" && !path.inlined && !implementsAny(t, jsonCodecs) {
			return fmt.Sprintf("%s has two fields named %q at the same depth (of %s), which encoding/json, finding neither the one it means, leaves out of what it writes and reads: tag one of them with that name, or name an embedded field",
				at(path, t), name, strings.Join(from, " and "))
		}
		for i := range t.NumField() {
			f := t.Field(i)
			var fv reflect.Value
			if v.IsValid() {
				fv = v.Field(i)
			}
			msgpackSkips, jsonSkips := skipped(f)
			if msgpackSkips && jsonSkips || !f.IsExported() && !f.Anonymous {
				continue
			}
			if f.Anonymous && !f.IsExported() && !msgpackSkips && !ownUnmarshaler(t) && writtenUnsettable(f.Type) {
				return fmt.Sprintf("%s embeds %s, a type that is not exported and not a struct, which the msgpack codec writes as a field but cannot set when it reads (reflect refuses to set a field that is not exported), and encoding/json does not write: export the type, make it a named field, or tag it \"-\"",
					at(path, t), f.Type)
			}
			if fillsEmbed(t, i, msgpackSkips, jsonSkips) && (!fv.IsValid() || fv.IsNil()) {
				fix := "export the type, embed it by value, tag it \"-\", or have the constructor allocate it"
				if strings.Contains(path.String(), "[") {
					fix = "export the type, embed it by value, or tag it \"-\"" // the decoder makes the value
				}
				return fmt.Sprintf("%s embeds %s, a nil pointer to a struct type that is not exported, which the decoders would fill but cannot allocate, so that an event written could not be read back: %s",
					at(path, t), f.Type, fix)
			}
			if msgpackSkips && !jsonSkips && f.Tag.Get("msgpack") == "" && !(ownMarshaler(t) && ownUnmarshaler(t)) {
				// Tagged "-,": encoding/json names it "-", and the msgpack
				// codec, reading the json tag, skips it.
				jsonName, _, _ := strings.Cut(f.Tag.Get("json"), ",")
				return fmt.Sprintf("%s is tagged json:%q, which encoding/json writes as a member named %q and the msgpack codec takes for \"skip\", so that one codec would lose what the other keeps: tag it json:\"-\" to skip it in both, or name it otherwise",
					at(path.down(f.Name), f.Type), f.Tag.Get("json"), jsonName)
			}
			field := path.down(f.Name)
			field.inlined = jsonInlines(f)
			if msg := w.walk(fv, f.Type, field); msg != "" {
				return msg
			}
		}
	}
	return ""
}

// jsonInlines reports whether encoding/json takes the fields of field f,
// an embedded struct (or pointer to one) that its tag does not name, as
// those of the struct that embeds it.
func jsonInlines(f reflect.StructField) bool {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	return f.Anonymous && f.Tag.Get("json") != "-" && !validJSONName(name) && structBelow(f.Type)
}

// structBelow reports whether t is a struct type, or a pointer to one.
func structBelow(t reflect.Type) bool {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Kind() == reflect.Struct
}

// at names a value of type t at path: path, with its type where path is
// not the type's name.
func at(path *step, t reflect.Type) string {
	if p := path.String(); p != t.String() {
		return p + " (" + t.String() + ")"
	}
	return t.String()
}

// writtenUnsettable reports whether the msgpack codec writes a field of
// type t that is embedded and not exported as a field of its own, which
// its decoder then cannot set: any type but a struct (which it inlines,
// or fills through its exported fields) and an interface (whose value it
// refuses to write), under any number of pointers.
func writtenUnsettable(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Kind() != reflect.Struct && t.Kind() != reflect.Interface
}

// skipped reports whether the msgpack codec and the JSON codec skip field
// f, by its tag: msgpack's, else json's, named "-", as the msgpack codec
// reads it; json's "-" exactly (encoding/json names a field tagged "-,"
// "-").
func skipped(f reflect.StructField) (msgpackSkips, jsonSkips bool) {
	name, _ := codecTag(f)
	return name == "-", f.Tag.Get("json") == "-"
}

// fillsEmbed reports whether field i of struct type t is an embedded
// pointer to a struct type that is not exported, through which the
// msgpack decoder or encoding/json, where it does not skip the field and
// t does not read itself, would set what it reads.
func fillsEmbed(t reflect.Type, i int, msgpackSkips, jsonSkips bool) bool {
	f := t.Field(i)
	if !f.Anonymous || f.IsExported() || f.Type.Kind() != reflect.Pointer || f.Type.Elem().Kind() != reflect.Struct {
		return false
	}
	return !msgpackSkips && !ownUnmarshaler(t) && msgpackFills(t, i) ||
		!jsonSkips && !implementsAny(t, jsonDecoders) && jsonFills(t, i)
}

// msgpackFills reports whether the msgpack decoder sets fields through
// field i of t, an embedded pointer to a struct: it writes it as a field
// of its own (told not to inline it, a struct of its own codec, or one
// that a field before it shares a name with), or inlines fields of it
// that no other field of t is named as.
func msgpackFills(t reflect.Type, i int) bool {
	f := t.Field(i)
	elem := f.Type.Elem()
	_, options := codecTag(f)
	if slices.Contains(options, "noinline") {
		return true
	}
	names := msgpackNames(elem, nil)
	own := map[string]bool{}
	for k := range t.NumField() {
		if g := t.Field(k); k != i && !g.Anonymous && g.IsExported() {
			if name, _ := codecTag(g); name != "-" {
				own[fieldName(g)] = true
			}
		}
	}
	if !slices.Contains(options, "inline") {
		if ownMarshaler(elem) || ownUnmarshaler(elem) {
			return true
		}
		for k := range i {
			if g := t.Field(k); !g.Anonymous && own[fieldName(g)] && slices.Contains(names, fieldName(g)) {
				return true // shadowed by a field before it: not inlined
			}
		}
	}
	return slices.ContainsFunc(names, func(n string) bool { return !own[n] })
}

// msgpackNames returns the names of the fields that the msgpack codec
// reads into a struct of type t, those of the structs that it inlines
// too; seen holds the types looked into.
func msgpackNames(t reflect.Type, seen []reflect.Type) []string {
	if slices.Contains(seen, t) {
		return nil
	}
	seen = append(seen, t)
	var out []string
	for _, i := range writtenFields(t) {
		f := t.Field(i)
		name, options := codecTag(f)
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if f.Anonymous && name == "" && !slices.Contains(options, "noinline") && ft.Kind() == reflect.Struct &&
			(slices.Contains(options, "inline") || !ownMarshaler(ft) && !ownUnmarshaler(ft)) {
			out = append(out, msgpackNames(ft, seen)...)
			continue
		}
		out = append(out, fieldName(f))
	}
	return out
}

// jsonFills reports whether encoding/json sets fields through field i of
// t, an embedded pointer to a struct: it names it (a named field), or
// promotes a field of it (at any depth) that no field of t's own is named
// as.
func jsonFills(t reflect.Type, i int) bool {
	f := t.Field(i)
	if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name != "" {
		return true
	}
	own := map[string]bool{}
	for k := range t.NumField() {
		g := t.Field(k)
		if k == i || g.Tag.Get("json") == "-" {
			continue
		}
		name, _, _ := strings.Cut(g.Tag.Get("json"), ",")
		if g.IsExported() && !g.Anonymous || g.Anonymous && name != "" {
			own[cmp.Or(name, g.Name)] = true
		}
	}
	return slices.ContainsFunc(jsonNames(f.Type.Elem(), nil), func(n string) bool { return !own[n] })
}

// jsonNames returns the names of the fields that encoding/json reads into
// a struct of type t, those it promotes from embedded structs too; seen
// holds the types looked into.
func jsonNames(t reflect.Type, seen []reflect.Type) []string {
	if slices.Contains(seen, t) {
		return nil
	}
	seen = append(seen, t)
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case f.Anonymous && name == "" && ft.Kind() == reflect.Struct:
			out = append(out, jsonNames(ft, seen)...)
		case f.IsExported():
			out = append(out, cmp.Or(name, f.Name))
		}
	}
	return out
}

// fieldName returns the name under which the msgpack codec writes field
// f: its tag's, else its own.
func fieldName(f reflect.StructField) string {
	name, _ := codecTag(f)
	return cmp.Or(name, f.Name)
}

// codecOrders are, for each codec and way, the interfaces through which
// it lets a value write or read itself, in the order it looks for them:
// the first that a type has is the one it calls. They come in pairs, a
// codec's writing order and then its reading one. Of a value, the codecs
// look at its own methods (msgpack first, always, and encoding/json where
// it cannot take its address: a map's value or key, what an interface
// holds), of a pointer at the pointer's; encoding/json decodes through a
// pointer alone. A pointer does not escape its value's choice in msgpack
// either: its encoders are cached for the whole process, and a pointer
// type takes its value type's once that is cached, so that a type held
// only by pointer writes as its value does once a value of it was written
// anywhere.
var codecOrders = []codecOrder{
	{[]reflect.Type{reflect.TypeFor[json.Marshaler](), reflect.TypeFor[encoding.TextMarshaler]()}, true},
	{jsonDecoders, false},
	{msgpackEncoders, true},
	{msgpackDecoders, true},
}

// codecOrder is the order in which a codec looks for the interfaces
// through which a value writes, or reads, itself.
type codecOrder struct {
	order   []reflect.Type
	ofValue bool // looked up in a value's own methods too
}

// keyOrders are codecOrders for a map's key: encoding/json writes a key
// that is not a string through its value's MarshalText alone, and reads it
// through UnmarshalText.
var keyOrders = []codecOrder{
	{[]reflect.Type{reflect.TypeFor[encoding.TextMarshaler]()}, true},
	{[]reflect.Type{reflect.TypeFor[encoding.TextUnmarshaler]()}, false},
	{msgpackEncoders, true},
	{msgpackDecoders, true},
}

// promotedCodecs returns the codec methods that struct type t, or a
// pointer to it, gets from a field it embeds rather than declares and that
// a codec would call (the first of its order that t, or a pointer to it,
// has), and the type of that field; none for none. A method declared on t
// is its own, though a field it embeds has one of the name: the compiler
// writes the method that promotion gives t as a wrapper of its own
// making, which the runtime places in no file ("<autogenerated>"), where
// it places a declared one, of a generic type too, in its source.
//
// A field held by value that is all the codecs write of t gives t its
// methods as they are: they write and read the whole value (a typed id,
// say, that embeds a uuid.UUID alone), where the field's own type does:
// a struct where it declares them, a type of another kind where it reads
// itself as it writes itself (else the codecs would read the struct that
// it wrote as the field's kind).
func promotedCodecs(t reflect.Type, key bool) (methods []string, from reflect.Type) {
	orders := codecOrders
	if key {
		orders = keyOrders
	}
	var written []reflect.StructField
	for i := range t.NumField() {
		f := t.Field(i)
		msgpackSkips, jsonSkips := skipped(f)
		switch {
		case !(msgpackSkips && jsonSkips):
			if f.Anonymous || f.IsExported() {
				written = append(written, f)
			}
		case f.Anonymous && hasCodecMethods(f.Type, orders):
			written = append(written, f) // its tags do not keep its methods from t
		}
	}
	// lone is the one field written, embedded by value, whose own methods
	// are t's; inner are those it gets by promotion, from innerFrom.
	var lone, innerFrom reflect.Type
	var inner []string
	if len(written) == 1 && written[0].Anonymous {
		switch ft := written[0].Type; ft.Kind() {
		case reflect.Pointer, reflect.Interface:
			// Its methods are called through what it holds, nil in a
			// value the decoder makes.
		case reflect.Struct:
			lone = ft
			inner, innerFrom = promotedCodecs(ft, key)
		default:
			if readsAsWritten(ft, orders) {
				return nil, nil
			}
		}
	}
	for _, c := range orders {
		receivers := []reflect.Type{reflect.PointerTo(t)}
		if c.ofValue {
			receivers = append(receivers, t)
		}
		for _, r := range receivers {
			for _, iface := range c.order {
				if !r.Implements(iface) {
					continue
				}
				name := iface.Method(0).Name
				if f := promotedFrom(t, r, name, iface); f != nil && !slices.Contains(methods, name) {
					switch {
					case f != lone:
						methods, from = append(methods, name), cmp.Or(from, f)
					case slices.Contains(inner, name):
						methods, from = append(methods, name), cmp.Or(from, innerFrom)
					}
				}
				break // the one the codec calls
			}
		}
	}
	return methods, from
}

// pointerWriter returns the method through which a codec would have a
// value of type t, or a map key of it, write itself, had it its address:
// one of a pointer receiver, where t has none of that codec's; "" for
// none.
func pointerWriter(t reflect.Type, key bool) string {
	if t.Kind() == reflect.Pointer || t.Kind() == reflect.Interface {
		return ""
	}
	orders := codecOrders
	if key {
		orders = keyOrders
	}
	for i := 0; i < len(orders); i += 2 {
		order := orders[i].order
		if slices.ContainsFunc(order, t.Implements) {
			continue
		}
		if k := slices.IndexFunc(order, reflect.PointerTo(t).Implements); k >= 0 {
			return order[k].Method(0).Name
		}
	}
	return ""
}

// hasCodecMethods reports whether t, or a pointer to it, has a method of
// orders.
func hasCodecMethods(t reflect.Type, orders []codecOrder) bool {
	for _, c := range orders {
		if implementsAny(t, c.order) {
			return true
		}
	}
	return false
}

// readsAsWritten reports whether each codec of orders (a writing order,
// then its reading one) lets t read itself exactly where it lets t write
// itself.
func readsAsWritten(t reflect.Type, orders []codecOrder) bool {
	for i := 0; i+1 < len(orders); i += 2 {
		if implementsAny(t, orders[i].order) != implementsAny(t, orders[i+1].order) {
			return false
		}
	}
	return true
}

// textWays are the methods through which a value writes itself as text
// or bytes, or reads itself from them alone.
var textWays = []reflect.Type{reflect.TypeFor[encoding.TextMarshaler](), reflect.TypeFor[encoding.BinaryMarshaler](),
	reflect.TypeFor[encoding.TextUnmarshaler](), reflect.TypeFor[encoding.BinaryUnmarshaler]()}

// surelyOneWay returns the method that t, or a pointer to it, has of a
// codec of orders to write or read itself, and lacks, its counterpart (an
// order's interfaces and its other way's pair up by place), where Register
// refuses t, a scalar or a map key, as the codec may not read back what it
// wrote: t writes itself through a method and has nothing to read that,
// which the codec reads as t's kind (a number written as a name fails, a
// string is read as the other text; a writer of the kind's own form, a
// number written to one decimal, would read back, but Register cannot tell
// the two apart); or t reads itself from text or bytes alone and is not a
// string, which the codec writes as t's kind (a number it cannot read). A
// string read through UnmarshalText is written as it is, and may read that
// (a name checked as it is read); a type's own JSON or msgpack reading
// method may read its kind (a protobuf enum of proto2 does).
func surelyOneWay(t reflect.Type, orders []codecOrder) (has, lacks string) {
	for i := 0; i+1 < len(orders); i += 2 {
		w, r := orders[i].order, orders[i+1].order
		switch kw, kr := firstOf(t, w), firstOf(t, r); {
		case kw >= 0 && kr < 0:
			return w[kw].Method(0).Name, r[kw].Method(0).Name
		case kr >= 0 && kw < 0 && slices.Contains(textWays, r[kr]) && t.Kind() != reflect.String:
			return r[kr].Method(0).Name, w[kr].Method(0).Name
		}
	}
	return "", ""
}

// firstOf returns the index of the first of ifaces that t, or a pointer
// to it, implements; -1 for none.
func firstOf(t reflect.Type, ifaces []reflect.Type) int {
	return slices.IndexFunc(ifaces, func(i reflect.Type) bool { return implementsAny(t, []reflect.Type{i}) })
}

// promotedFrom returns the type of the field of struct type t that gives
// r, t or a pointer to it, method name, of iface, by promotion; nil when t
// declares it.
func promotedFrom(t, r reflect.Type, name string, iface reflect.Type) reflect.Type {
	m, ok := r.MethodByName(name)
	if !ok {
		return nil
	}
	if r != t {
		if own, ok := t.MethodByName(name); ok {
			m = own // of a value receiver: the pointer's is a wrapper of it
		}
	}
	pc := m.Func.Pointer()
	fn := runtime.FuncForPC(pc)
	if fn == nil {
		return nil
	}
	if file, _ := fn.FileLine(pc); file != "<autogenerated>" {
		return nil
	}
	for i := range t.NumField() {
		if f := t.Field(i); f.Anonymous && implementsAny(f.Type, []reflect.Type{iface}) {
			return f.Type
		}
	}
	return nil
}

// jsonCodecs are the methods by which a value writes or reads itself in
// encoding/json, whatever its fields.
var jsonCodecs = []reflect.Type{reflect.TypeFor[json.Marshaler](), reflect.TypeFor[encoding.TextMarshaler](),
	reflect.TypeFor[json.Unmarshaler](), reflect.TypeFor[encoding.TextUnmarshaler]()}

// jsonAmbiguous returns a member name that encoding/json leaves out of
// struct type t as ambiguous, with the types that the fields of that
// name belong to: more than one field of the name at the shallowest
// depth of embedding that it is found at, where not exactly one of those
// is tagged with it (encoding/json's typeFields and dominantField, as of
// Go 1.26; a type embedded twice at one depth makes its fields such
// pairs too). "" for none.
func jsonAmbiguous(t reflect.Type) (string, []string) {
	type found struct {
		depth  int
		tagged bool
		from   reflect.Type
	}
	byName := map[string][]found{}
	level := []reflect.Type{t}
	visited := map[reflect.Type]bool{}
	for depth := 0; len(level) > 0; depth++ {
		count := map[reflect.Type]int{}
		for _, lt := range level {
			count[lt]++
		}
		var next []reflect.Type
		for _, lt := range level {
			if visited[lt] {
				continue
			}
			visited[lt] = true
			for i := range lt.NumField() {
				sf := lt.Field(i)
				ft := sf.Type
				if sf.Anonymous {
					if ft.Kind() == reflect.Pointer {
						ft = ft.Elem()
					}
					if !sf.IsExported() && ft.Kind() != reflect.Struct {
						continue
					}
				} else if !sf.IsExported() {
					continue
				}
				tag := sf.Tag.Get("json")
				if tag == "-" {
					continue
				}
				name, _, _ := strings.Cut(tag, ",")
				if !validJSONName(name) {
					name = ""
				}
				if jsonInlines(sf) {
					next = append(next, ft)
					continue
				}
				key, f := cmp.Or(name, sf.Name), found{depth, name != "", lt}
				byName[key] = append(byName[key], f)
				if count[lt] > 1 {
					byName[key] = append(byName[key], f)
				}
			}
		}
		level = next
	}
	for _, name := range slices.Sorted(maps.Keys(byName)) {
		fs := byName[name]
		if len(fs) < 2 {
			continue
		}
		slices.SortStableFunc(fs, func(a, b found) int {
			if a.depth != b.depth {
				return cmp.Compare(a.depth, b.depth)
			}
			if a.tagged != b.tagged {
				if a.tagged {
					return -1
				}
				return 1
			}
			return 0
		})
		if fs[0].depth == fs[1].depth && fs[0].tagged == fs[1].tagged {
			var from []string
			for _, f := range fs {
				if f.depth == fs[0].depth && f.tagged == fs[0].tagged {
					from = append(from, f.from.String())
				}
			}
			return name, from
		}
	}
	return "", nil
}

// validJSONName reports whether encoding/json takes name, from a json
// tag, as a member's name (its isValidTag).
func validJSONName(name string) bool {
	if name == "" {
		return false
	}
	for _, c := range name {
		switch {
		case strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c):
		case !unicode.IsLetter(c) && !unicode.IsDigit(c):
			return false
		}
	}
	return true
}

// jsonDecoders are the interfaces through which encoding/json lets a value
// read itself.
var jsonDecoders = []reflect.Type{reflect.TypeFor[json.Unmarshaler](), reflect.TypeFor[encoding.TextUnmarshaler]()}
