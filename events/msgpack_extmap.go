package events

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/truefcr/truefcr/internal/msgpackcheck"
)

// extAtMap reports, as an error, an extension in b, the msgpack data of a
// host's value, where the decoder reads it into a map of a type that does
// not read itself, v pointing to the value that it decodes into. Such a
// decoder skips the extension's header and reads a map from its data,
// and then on past it: a map's head there makes it allocate at the length
// that head declares (a few bytes of data can ask for gigabytes), and
// the entries it goes on to read are bytes that no check walked, where a
// list's head lies about its length as freely. A map's data is never an
// extension as the codecs write it (but a type's own writer may write
// one, whose data is one whole map: see wholeMapInExt and mapInExt). Data
// in which no extension's header is followed by a map's head or nil, the
// only ones that the decoder reads as a map, is not looked at further.
//
// The walk follows the data as the decoder reads it into v: the fields of
// a struct by the names and in the order that the decoder gives them
// (msgpackFieldsOf), what a field of type any holds (the decoder reads
// into what such a field holds: a pointer's value, a map), and nothing
// under a value that reads itself, which is its own to guard: through
// methods, or through a decoder registered with the msgpack package (as
// an extension, or with msgpack.Register) of a struct, or of a map that
// does not read a map through an extension's header as msgpack's own
// does; but where a map type reads itself by handing what it reads to
// the decoder's own reading of maps (handsMapThroughExt), its map is
// walked as the type's, and so is an extension whose data is one whole
// map (which the decoder reads no further, and which the type's writer
// may write), nested no deeper with the data around it than msgpackcheck
// lets data nest; another extension there is refused. (What such a type's reader does
// other than hand its data on, say read it as another map type, or a
// struct's reader that hands a map field's data on, is its own to
// guard.) Where the walk cannot tell a struct's
// fields as the decoder does (msgpackFields.sure), an extension followed
// by a map's head or nil anywhere in that struct's data is refused. What
// the msgpack package holds for a type is found by trying, once a type
// (inlinedAlone, structDecoder, readsMapThroughExt, handsMapThroughExt),
// which runs a host's encoders and decoders on zero values and a few
// bytes.
func extAtMap(b []byte, v any) error {
	rv := reflect.ValueOf(v)
	if !rv.IsValid() || !msgpackcheck.MapHeadsInExts(b) {
		return nil
	}
	w := extMapWalk{b: b}
	_, err := w.value(0, rv.Type(), rv, 0)
	return err
}

// extMapWalk walks the data b for extAtMap, path leading to the value at
// hand.
type extMapWalk struct {
	b    []byte
	path []fitsStep
}

// maxPointerSteps is how many pointers in a row extMapWalk follows before
// it stops: a type such as "type P *P" leads through pointers for ever.
const maxPointerSteps = 64

// value walks the value at b[off:] as the decoder reads it into a value
// of type t, which held is before the decoder reads into it (invalid if
// there is none: a map's key or value, a list's element beyond those
// held), and returns the offset after it.
func (w *extMapWalk) value(off int, t reflect.Type, held reflect.Value, steps int) (int, error) {
	if off >= len(w.b) {
		return off, nil
	}
	c := w.b[off]
	if ownUnmarshaler(t) || steps > maxPointerSteps {
		if !handsMapThroughExt(t) {
			return skip(w.b, off), nil
		}
		// What it reads, the decoder's own reading of maps reads: a map
		// is walked as the type's, and so is an extension's data that
		// is one whole map (wholeMapInExt), which its own writer may
		// write.
		if h := headAt(w.b, off); h.kind == mpMap {
			return w.entries(h, derefAll(t))
		}
		if !isExt(c) {
			return skip(w.b, off), nil
		}
		data, end, whole := wholeMapInExt(w.b, off, w.depth())
		if !whole {
			return 0, fmt.Errorf("msgpack: %s is an extension (code 0x%02x) whose data is not one whole map (nested, with the data around it, no more than %d deep), where the decoder reads %s, a map whose reader hands it to the decoder's own, through its header",
				w.named(), c, msgpackcheck.MaxDepth, t)
		}
		return w.mapInExt(data, end, derefAll(t))
	}
	switch t.Kind() {
	case reflect.Pointer:
		if c == 0xc0 {
			return off + 1, nil
		}
		var elem reflect.Value
		if held.IsValid() && !held.IsNil() {
			elem = held.Elem()
		}
		return w.value(off, t.Elem(), elem, steps+1)
	case reflect.Interface:
		if !held.IsValid() || held.IsNil() {
			// The decoder reads what it finds as a value of its own, and
			// an extension as one registered with msgpack, never as a map.
			return skip(w.b, off), nil
		}
		// The decoder reads into what the field holds: into a pointer's
		// value, a map (see standIns), even a value it cannot set, whose
		// maps it fills before it fails.
		e := held.Elem()
		return w.value(off, e.Type(), e, steps+1)
	case reflect.Map:
		if isExt(c) && readsMapThroughExt(t) {
			// Which a writer of the type's own may write: its data, one
			// whole map, is read if it holds text alone, and numbers
			// that every integer type holds, as the checks of data
			// outside extensions would not see it.
			if data, end, whole := wholeMapInExt(w.b, off, w.depth()); whole && msgpackcheck.CheckTextAt(w.b[data:end], w.depth()) == nil && msgpackcheck.SmallInts(w.b[data:end]) {
				return w.mapInExt(data, end, t)
			}
			return 0, fmt.Errorf("msgpack: %s is an extension (code 0x%02x), where the decoder reads %s, a map that does not read itself", w.named(), c, t)
		}
		if h := headAt(w.b, off); h.kind == mpMap {
			return w.entries(h, t)
		}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 || t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String {
			break // bytes or strings, read by readers of their own
		}
		h := headAt(w.b, off)
		if h.kind != mpList {
			break
		}
		off = h.body
		for i := 0; i < h.n; i++ {
			var elem reflect.Value
			if held.IsValid() && (t.Kind() == reflect.Array && i < held.Len() || t.Kind() == reflect.Slice && i < held.Cap()) {
				// The decoder reads into the elements a list holds up to
				// its capacity, and into those of an array.
				if t.Kind() == reflect.Slice {
					held = held.Slice(0, held.Cap())
				}
				elem = held.Index(i)
			}
			var err error
			if off, err = w.at(fitsStep{index: i}, off, t.Elem(), elem); err != nil {
				return 0, err
			}
		}
		return off, nil
	case reflect.Struct:
		// (A struct that a decoder registered with the msgpack package
		// reads, fields leaves alone.)
		return w.fields(off, t, held)
	}
	return skip(w.b, off), nil
}

// mapInExt walks the map at b[data:], one whole map that is the data of
// an extension ending at end (wholeMapInExt), which the decoder reads,
// through the extension's header, into a map of type t, and returns end.
func (w *extMapWalk) mapInExt(data, end int, t reflect.Type) (int, error) {
	_, err := w.entries(headAt(w.b, data), t)
	return end, err
}

// entries walks the entries of the map whose head is h, read into a map
// of type t, and returns the offset after them.
func (w *extMapWalk) entries(h mpHead, t reflect.Type) (int, error) {
	off := h.body
	for i := 0; i < h.n; i++ {
		key := off
		var err error
		if off, err = w.value(off, t.Key(), reflect.Value{}, 0); err != nil {
			return 0, err
		}
		if off, err = w.at(fitsStep{key: w.b[key:off]}, off, t.Elem(), reflect.Value{}); err != nil {
			return 0, err
		}
	}
	return off, nil
}

// at walks the value at b[off:], as value does, under step s of the path.
func (w *extMapWalk) at(s fitsStep, off int, t reflect.Type, held reflect.Value) (int, error) {
	w.path = append(w.path, s)
	off, err := w.value(off, t, held, 0)
	w.path = w.path[:len(w.path)-1]
	return off, err
}

// wholeMapInExt returns where the data of the extension at b[off:]
// starts and where the extension ends, and reports whether that data is
// one well-formed map, which ends where the extension does and nests no
// deeper than msgpackcheck lets data nest, standing depth levels below
// the top (see msgpackcheck.SkipAt).
func wholeMapInExt(b []byte, off, depth int) (data, end int, ok bool) {
	switch b[off] {
	case 0xc7:
		data = off + 3
	case 0xc8:
		data = off + 4
	case 0xc9:
		data = off + 6
	default: // a fixext
		data = off + 2
	}
	end = skip(b, off)
	if data >= end || headAt(b, data).kind != mpMap {
		return data, end, false
	}
	after, err := msgpackcheck.SkipAt(b[:end], data, depth)
	return data, end, err == nil && after == end
}

// fields walks the struct of type t at b[off:], held as held, whose
// members the decoder reads by name, or, in a list, field by field.
func (w *extMapWalk) fields(off int, t reflect.Type, held reflect.Value) (int, error) {
	fs := msgpackFieldsOf(t)
	if !structDecoder(t, len(fs.list)) {
		return skip(w.b, off), nil // a decoder of its own reads it
	}
	if !fs.sure {
		// Where it cannot tell the fields as the decoder does, any
		// extension that the decoder may read as a map is refused.
		end := skip(w.b, off)
		if msgpackcheck.MapHeadsInExts(w.b[off:end]) {
			return 0, fmt.Errorf("msgpack: %s holds an extension followed by a map's head, in %s, whose fields the codec cannot tell as its decoder does", w.named(), t)
		}
		return end, nil
	}
	h := headAt(w.b, off)
	switch {
	case h.kind == mpList && h.n > 0 && h.n == len(fs.list):
		off = h.body
		for i, f := range fs.list {
			ft, fh := fieldAt(t, held, f.index)
			var err error
			if off, err = w.at(fitsStep{index: i}, off, ft, fh); err != nil {
				return 0, err
			}
		}
		return off, nil
	case h.kind == mpMap:
		off = h.body
		for i := 0; i < h.n; i++ {
			key := off
			off = skip(w.b, off)
			name, ok := keyText(w.b[key:off])
			index, known := fs.byName[string(name)]
			if !ok || !known {
				off = skip(w.b, off) // unknown: skipped; a key that is no name: refused by the decoder
				continue
			}
			ft, fh := fieldAt(t, held, index)
			var err error
			if off, err = w.at(fitsStep{key: w.b[key:off]}, off, ft, fh); err != nil {
				return 0, err
			}
		}
		return off, nil
	}
	return skip(w.b, off), nil
}

// fieldAt returns the type of the field of struct type t at index, which
// the decoder reads into through the embedded structs it names, and what
// it holds in held (invalid if nothing).
func fieldAt(t reflect.Type, held reflect.Value, index []int) (reflect.Type, reflect.Value) {
	for i, x := range index {
		if i > 0 && t.Kind() == reflect.Pointer {
			// The decoder sets a nil embedded pointer to a new struct.
			t = t.Elem()
			if held.IsValid() {
				held = held.Elem()
			}
		}
		if held.IsValid() {
			held = held.Field(x)
		}
		t = t.Field(x).Type
	}
	return t, held
}

// depth returns how many levels below the top of the data the value at
// hand stands, as msgpackcheck counts them from the data's members (-1):
// a level for each step of the path.
func (w *extMapWalk) depth() int { return len(w.path) - 1 }

// named names the place that w's path leads to, as numbersKept's errors
// do.
func (w *extMapWalk) named() string { return (&fitsWalk{path: w.path}).named(nil) }

// isExt reports whether c is the code of an extension.
func isExt(c byte) bool { return c >= 0xc7 && c <= 0xc9 || c >= 0xd4 && c <= 0xd8 }

// msgpackFields is what the msgpack decoder makes of a struct type's
// fields (as its getFields does, with json tags where there is no
// msgpack tag): the index path of the field that each member name is
// read into, and each field with its name, in the order of a struct
// written as a list. sure says that they are the decoder's: no embedded
// struct was left for which inlinedAlone could not tell, and no more
// than maxInlined levels of inlining were passed.
type msgpackFields struct {
	byName map[string][]int
	list   []msgpackField
	sure   bool
}

// msgpackField is a field that the msgpack decoder reads: its name and
// its index path.
type msgpackField struct {
	name  string
	index []int
}

// msgpackFieldsCache caches msgpackFieldsOf by type.
var msgpackFieldsCache sync.Map // reflect.Type → *msgpackFields

// msgpackFieldsOf returns the msgpackFields of struct type t.
func msgpackFieldsOf(t reflect.Type) *msgpackFields {
	if fs, ok := msgpackFieldsCache.Load(t); ok {
		return fs.(*msgpackFields)
	}
	fs := msgpackFieldsIn(t, 0)
	msgpackFieldsCache.Store(t, fs)
	return fs
}

// maxInlined is how deeply msgpackFieldsIn follows embedded structs that
// the decoder inlines: Register refuses a type whose embedded structs
// lead back to it (embedLoop).
const maxInlined = 64

// msgpackFieldsIn makes the msgpackFields of struct type t, inlined depth
// deep into another, as the decoder's getFields makes its fields: tags
// parsed as it parses them (parsedTag); an embedded struct inlined when
// told to, or when the codec inlines it alone (inlinedAlone) and none of
// its fields' names is taken; the embedded struct's own name and aliases
// kept for reading.
func msgpackFieldsIn(t reflect.Type, depth int) *msgpackFields {
	fs := &msgpackFields{byName: map[string][]int{}, sure: depth <= maxInlined}
	if !fs.sure {
		return fs
	}
	add := func(f msgpackField) {
		fs.byName[f.name] = f.index
		fs.list = append(fs.list, f)
	}
	taken := func(name string) bool { _, ok := fs.byName[name]; return ok }
	for i := range t.NumField() {
		f := t.Field(i)
		tag := parsedTag(f)
		name := tag.Name
		if name == "-" || !f.IsExported() && !f.Anonymous {
			continue
		}
		if name == "" {
			name = f.Name
		}
		field := msgpackField{name, []int{i}}
		if f.Anonymous && !tag.HasOption("noinline") {
			st := derefAll(f.Type)
			var inner *msgpackFields
			if st.Kind() == reflect.Struct && (tag.HasOption("inline") || !ownMarshaler(st) && !ownUnmarshaler(st)) {
				// One the decoder may inline; of another, which it never
				// does, the fields do not count (and may lead back to
				// it for ever).
				inner = msgpackFieldsIn(st, depth+1)
				fs.sure = fs.sure && inner.sure
			}
			inline := false
			switch {
			case tag.HasOption("inline"):
				// Inlined as told: each field that no earlier one is
				// named as.
				for _, in := range inner.fields() {
					if !taken(in.name) {
						add(msgpackField{in.name, slices.Concat(field.index, in.index)})
					}
				}
				inline = true
			case inner != nil && !slices.ContainsFunc(inner.list, func(in msgpackField) bool { return taken(in.name) }):
				// Inlined when the codec inlines it alone, and none of
				// its fields is named as one before.
				alone, known := inlinedAlone(st, len(inner.list))
				fs.sure = fs.sure && known
				if alone {
					for _, in := range inner.list {
						add(msgpackField{in.name, slices.Concat(field.index, in.index)})
					}
					inline = true
				}
			}
			if inline {
				fs.byName[name] = field.index // the embedded struct whole, by its own name
				continue
			}
		}
		add(field)
		if alias, ok := tag.Options["alias"]; ok {
			fs.byName[alias] = field.index
		}
	}
	return fs
}

// fields returns fs's fields; none for a nil fs.
func (fs *msgpackFields) fields() []msgpackField {
	if fs == nil {
		return nil
	}
	return fs.list
}

// inlinedAloneCache caches inlinedAlone by type.
var inlinedAloneCache sync.Map // reflect.Type → [2]bool

// probeName is the member name of inlinedAlone's probe, which no Go
// field has.
const probeName = "\x01"

// inlinedAlone reports whether the msgpack codec inlines an embedded
// struct of type st (or a pointer to it), of n fields (msgpackFieldsIn),
// that no field before it shares a name with: whether its getFields finds
// st's encoder and decoder to be its own for structs, and not methods of
// st's or codecs registered with the msgpack package (as an extension, or
// with msgpack.Register). It asks the encoder, which uses getFields'
// fields as the decoder does: a struct made to embed st alone, under a
// name no field has, is written with that name first where st is not
// inlined; where st is inlined, its fields come first, or nothing at all
// (all left out when empty, or one whose IsZero failed on a zero value).
// Where reflect.StructOf cannot make that struct (st holds a method of
// another package that is not exported), it asks st's codecs themselves
// (structCodecs). known is false where neither can tell.
func inlinedAlone(st reflect.Type, n int) (inlined, known bool) {
	if v, ok := inlinedAloneCache.Load(st); ok {
		r := v.([2]bool)
		return r[0], r[1]
	}
	if ownMarshaler(st) || ownUnmarshaler(st) {
		inlinedAloneCache.Store(st, [2]bool{false, true})
		return false, true
	}
	var alone reflect.Type
	if probe(func() error {
		alone = reflect.StructOf([]reflect.StructField{{Name: "Probe", Type: st, Anonymous: true, Tag: `msgpack:"` + probeName + `"`}})
		return nil
	}) != nil {
		inlined, known = structCodecs(st, n)
	} else {
		var buf bytes.Buffer
		enc := msgpack.NewEncoder(&buf)
		enc.SetCustomStructTag("json")
		// Not inlined, the probe's name comes before any value that may
		// fail to be written.
		_ = probe(func() error { return enc.EncodeValue(reflect.New(alone).Elem()) })
		b := buf.Bytes()
		switch h := headAt(b, 0); {
		case len(b) == 0, h.kind == mpMap && h.n == 0:
			inlined, known = true, true
		case h.kind == mpMap:
			name, ok := keyText(b[h.body:skip(b, h.body)])
			inlined, known = string(name) != probeName, ok
		}
	}
	inlinedAloneCache.Store(st, [2]bool{inlined, known})
	return inlined, known
}

// structCodecs reports whether the msgpack codec writes and reads values
// of struct type st, of n fields, with its own codecs for structs, and
// not ones registered with the msgpack package: told to write structs as
// lists, its encoder writes a list of n values (as no registered encoder
// would, that ignores the option), and its decoder is its own
// (structDecoder). known is false where the encoder writes a list of
// another length.
func structCodecs(st reflect.Type, n int) (own, known bool) {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.SetCustomStructTag("json")
	enc.UseArrayEncodedStructs(true)
	// The list's head comes before any value that may fail to be written.
	_ = probe(func() error { return enc.EncodeValue(reflect.New(st).Elem()) })
	switch h := headAt(buf.Bytes(), 0); {
	case buf.Len() == 0:
		return false, false
	case h.kind != mpList:
		return false, true
	case h.n != n:
		return false, false
	}
	return structDecoder(st, n), true
}

// structDecoders caches structDecoder by type.
var structDecoders sync.Map // reflect.Type → bool

// structDecoder reports whether the msgpack decoder reads values of
// struct type t, of n fields (msgpackFieldsIn), with its own decoder for
// structs, and not one registered with the msgpack package (as an
// extension, or with msgpack.Register), which reads what it will: its own
// decoder refuses a list of n+1 or of n+2 nils (one of them at least,
// whatever number of fields it counts) as the number of fields that
// changed.
func structDecoder(t reflect.Type, n int) bool {
	if v, ok := structDecoders.Load(t); ok {
		return v.(bool)
	}
	own := false
	for _, k := range []int{n + 1, n + 2} {
		list := binary.BigEndian.AppendUint32([]byte{0xdd}, uint32(k))
		list = append(list, bytes.Repeat([]byte{0xc0}, k)...)
		err := probe(func() error { return msgpackDecode(list, reflect.New(t).Interface()) })
		own = own || err != nil && strings.Contains(err.Error(), "number of fields in array-encoded struct has changed")
	}
	structDecoders.Store(t, own)
	return own
}

// mapsThroughExt caches readsMapThroughExt by type.
var mapsThroughExt sync.Map // reflect.Type → bool

// readsMapThroughExt reports whether the msgpack decoder reads a value of
// map type t, which has no methods to read itself, through an
// extension's header, whatever the extension's type, as its own decoder
// of maps does: not one registered for t as an extension, which reads
// the extension itself, and refuses another's.
func readsMapThroughExt(t reflect.Type) bool {
	if v, ok := mapsThroughExt.Load(t); ok {
		return v.(bool)
	}
	reads := true
	for _, ext := range [][]byte{{0xd4, 0x00, 0x80}, {0xd4, 0x01, 0x80}} {
		reads = reads && probe(func() error { return msgpackDecode(ext, reflect.New(t).Interface()) }) == nil
	}
	mapsThroughExt.Store(t, reads)
	return reads
}

// handsMapThrough caches handsMapThroughExt by type.
var handsMapThrough sync.Map // reflect.Type → bool

// handsMapThroughExt reports whether t, a map type (or a pointer to one)
// that reads itself, may hand what it reads to the decoder's own reading
// of maps, which reads a map through an extension's header: it reads an
// empty map, and one in an extension of any type (readsMapThroughExt),
// alike. (One that reads an extension of its own does not read a bare
// map.)
func handsMapThroughExt(t reflect.Type) bool {
	mt := derefAll(t)
	if mt.Kind() != reflect.Map {
		return false
	}
	if v, ok := handsMapThrough.Load(mt); ok {
		return v.(bool)
	}
	hands := readsMapThroughExt(mt) && probe(func() error { return msgpackDecode([]byte{0x80}, reflect.New(mt).Interface()) }) == nil
	handsMapThrough.Store(mt, hands)
	return hands
}

// probe returns try(), with a panic as its error.
func probe(try func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%v", p)
		}
	}()
	return try()
}

// derefAll returns t under all its pointers.
func derefAll(t reflect.Type) reflect.Type {
	for n := 0; t.Kind() == reflect.Pointer && n < maxPointerSteps; n++ {
		t = t.Elem()
	}
	return t
}
