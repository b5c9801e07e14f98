package events

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// unfillableEmbed returns what keeps the codecs from decoding into v, of
// type t, the value that a host type's constructor makes, or a value of
// a type that it holds (v is then the zero Value, as it is where the
// decoder makes the value itself): a nil embedded pointer to a struct
// type that is not exported, through which a codec would set fields. A
// decoder cannot allocate it (reflect refuses to set a field that is not
// exported), so that an event written could not be read back: the
// msgpack decoder panics, encoding/json fails. A struct that both
// decoders let read itself is not looked into. "" for nothing. seen holds
// the types looked into without a value.
func unfillableEmbed(v reflect.Value, t reflect.Type, seen map[reflect.Type]bool) string {
	if !v.IsValid() {
		if seen[t] {
			return ""
		}
		seen[t] = true
	}
	switch t.Kind() {
	case reflect.Pointer:
		if v.IsValid() && !v.IsNil() {
			return unfillableEmbed(v.Elem(), t.Elem(), seen)
		}
		return unfillableEmbed(reflect.Value{}, t.Elem(), seen)
	case reflect.Slice, reflect.Array:
		return unfillableEmbed(reflect.Value{}, t.Elem(), seen)
	case reflect.Map:
		return unfillableEmbed(reflect.Value{}, t.Elem(), seen)
	case reflect.Struct:
		if ownUnmarshaler(t) && implementsAny(t, jsonDecoders) {
			return "" // each decoder lets it read itself
		}
		for i := range t.NumField() {
			f := t.Field(i)
			var fv reflect.Value
			if v.IsValid() {
				fv = v.Field(i)
			}
			if decodedEmbed(t, f) && (!fv.IsValid() || fv.IsNil()) {
				return fmt.Sprintf("%s embeds %s, a nil pointer to a struct type that is not exported", t, f.Type)
			}
			if !decoded(f) {
				continue
			}
			if msg := unfillableEmbed(fv, f.Type, seen); msg != "" {
				return msg
			}
		}
	}
	return ""
}

// decoded reports whether a codec decodes into field f: it is exported or
// embedded, and one of its tags (msgpack's, else json's, as the msgpack
// codec reads them; json's, as the JSON codec does) does not name it "-".
func decoded(f reflect.StructField) bool {
	if !f.IsExported() && !f.Anonymous {
		return false
	}
	msgpackName, _ := codecTag(f)
	jsonName, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	return msgpackName != "-" || jsonName != "-"
}

// decodedEmbed reports whether f, a field of struct type t, is an
// embedded pointer to a struct type that is not exported and that a codec
// decodes into: one that a tag names, or whose fields it promotes (a
// field of its own that t has none of the same name). One that it is
// told not to inline, the msgpack codec writes as a field of its own
// name, as it does one of a type that writes itself: such a field is
// left alone here, where only the decoder tells whether it can fill it.
func decodedEmbed(t reflect.Type, f reflect.StructField) bool {
	if !f.Anonymous || f.IsExported() || f.Type.Kind() != reflect.Pointer || f.Type.Elem().Kind() != reflect.Struct || !decoded(f) {
		return false
	}
	msgpackName, options := codecTag(f)
	jsonName, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if msgpackName != "" && msgpackName != "-" || jsonName != "" && jsonName != "-" {
		return true
	}
	elem := f.Type.Elem()
	if slices.Contains(options, "noinline") || ownMarshaler(elem) || ownUnmarshaler(elem) {
		return false
	}
	own := map[string]bool{}
	for i := range t.NumField() {
		if g := t.Field(i); !g.Anonymous && decoded(g) {
			own[fieldName(g)] = true
		}
	}
	for i := range elem.NumField() {
		if g := elem.Field(i); !g.Anonymous && decoded(g) && !own[fieldName(g)] {
			return true
		}
	}
	return false
}

// fieldName returns the name under which the codecs write field f: its
// tag's, else its own.
func fieldName(f reflect.StructField) string {
	if name, _ := codecTag(f); name != "" {
		return name
	}
	return f.Name
}

// jsonDecoders are the interfaces through which encoding/json lets a value
// read itself.
var jsonDecoders = []reflect.Type{reflect.TypeFor[json.Unmarshaler](), reflect.TypeFor[encoding.TextUnmarshaler]()}
