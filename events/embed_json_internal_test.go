package events

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// ambTags and ambNames are the tags and names of the random struct types
// of TestJSONAmbiguousAgreesWithEncodingJSON.
var (
	ambTags  = []string{``, `json:"X"`, `json:"Y"`, `json:"-"`, `json:"X,omitempty"`, `json:"a\\b"`, `json:",omitempty"`, `json:"Z"`}
	ambNames = []string{"X", "Y", "Z"}
)

// ambType returns a random struct type of int fields named from ambNames
// and structs embedded (by value or pointer) down to depth 3, each with
// a tag of ambTags or none.
func ambType(r *rand.Rand, depth int) reflect.Type {
	var fs []reflect.StructField
	used := map[string]bool{}
	for i := range 1 + r.IntN(3) {
		var f reflect.StructField
		if depth < 3 && r.IntN(2) == 0 {
			et := ambType(r, depth+1)
			if r.IntN(4) == 0 {
				et = reflect.PointerTo(et)
			}
			f = reflect.StructField{Name: fmt.Sprintf("E%d_%d", depth, i), Type: et, Anonymous: true}
			if r.IntN(4) == 0 {
				f.Tag = reflect.StructTag(ambTags[r.IntN(len(ambTags))])
			}
		} else {
			f = reflect.StructField{Name: ambNames[r.IntN(len(ambNames))], Type: reflect.TypeFor[int](),
				Tag: reflect.StructTag(ambTags[r.IntN(len(ambTags))])}
		}
		if !used[f.Name] {
			used[f.Name] = true
			fs = append(fs, f)
		}
	}
	return reflect.StructOf(fs)
}

// ambFill sets every int of v to 1 and allocates every pointer.
func ambFill(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		ambFill(v.Elem())
	case reflect.Struct:
		for i := range v.NumField() {
			ambFill(v.Field(i))
		}
	case reflect.Int:
		v.SetInt(1)
	}
}

// ambNamesOf adds to out the member names of t's fields, embedded ones
// included, as encoding/json names each before it weighs them.
func ambNamesOf(t reflect.Type, out map[string]bool) {
	for i := range t.NumField() {
		sf := t.Field(i)
		if sf.Tag.Get("json") == "-" {
			continue
		}
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if !validJSONName(name) {
			name = ""
		}
		if jsonInlines(sf) {
			ft := sf.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			ambNamesOf(ft, out)
			continue
		}
		if name == "" {
			name = sf.Name
		}
		out[name] = true
	}
}

// jsonAmbiguous finds a name exactly where encoding/json, writing a value
// whose every field is set, leaves out a name that a field has: on
// random struct types of fields named alike, tagged or not, embedded by
// value or pointer, at several depths.
func TestJSONAmbiguousAgreesWithEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	ambiguous := 0
	for range 5000 {
		typ := ambType(r, 0)
		v := reflect.New(typ)
		ambFill(v.Elem())
		b, err := json.Marshal(v.Interface())
		if err != nil {
			t.Fatal(err)
		}
		var written map[string]any
		if err := json.Unmarshal(b, &written); err != nil {
			t.Fatal(err)
		}
		names := map[string]bool{}
		ambNamesOf(typ, names)
		lost := ""
		for n := range names {
			if _, ok := written[n]; !ok {
				lost = n
			}
		}
		got, _ := jsonAmbiguous(typ)
		if (got != "") != (lost != "") {
			t.Fatalf("%v: jsonAmbiguous gives %q, encoding/json wrote %s (leaving out %q)", typ, got, b, lost)
		}
		if got != "" {
			ambiguous++
		}
	}
	assert.Greater(t, ambiguous, 100, "types with ambiguous fields among the random ones")
}
