package events

import (
	"reflect"
	"sync"
	"time"
)

// The msgpack decoder reads a time as time.Unix does, in the machine's
// Local zone: msgpack's time carries no zone. A host's value is read with
// its times in UTC instead, as an envelope's time is: in both codecs, an
// event with UTC times reads back equal to the value written, and what it
// reads does not depend on the zone of the machine that reads it.

var timeType = reflect.TypeFor[time.Time]()

// mayHoldTime caches, by type, holdsTime's answer.
var mayHoldTime sync.Map

// holdsTime reports whether a value of type t may hold a time.Time: in
// place, behind pointers, in lists and maps, or in an interface value;
// seen holds the types looked into.
func holdsTime(t reflect.Type, seen map[reflect.Type]bool) bool {
	if t == timeType || t.Kind() == reflect.Interface {
		return true
	}
	if seen[t] {
		return false
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.Pointer, reflect.Array, reflect.Slice:
		return holdsTime(t.Elem(), seen)
	case reflect.Map:
		return holdsTime(t.Key(), seen) || holdsTime(t.Elem(), seen)
	case reflect.Struct:
		for i := range t.NumField() {
			if holdsTime(t.Field(i).Type, seen) {
				return true
			}
		}
	}
	return false
}

// mayHoldTimeOf is holdsTime of t, cached.
func mayHoldTimeOf(t reflect.Type) bool {
	may, ok := mayHoldTime.Load(t)
	if !ok {
		may = holdsTime(t, map[reflect.Type]bool{})
		mayHoldTime.Store(t, may)
	}
	return may.(bool)
}

// timesInUTC sets every time.Time in the Local zone that v, a value the
// msgpack decoder read, holds where it can be set, to the same instant in
// UTC: in place, behind pointers, in lists, arrays and maps (keys too),
// and behind the pointers that interface values hold. What a type that
// reads itself holds, and a time in another zone, were set so by a host's
// own decoding method, and are left as they are.
func timesInUTC(v reflect.Value) {
	if mayHoldTimeOf(v.Type()) {
		u := utcWalk{}
		u.walk(v, 0)
	}
}

// utcWalk is a walk of timesInUTC.
type utcWalk struct {
	visited map[uintptr]bool // pointers followed
}

// walk sets the Local times of v in UTC, and reports whether it changed
// any: where v is a copy, the caller puts it back then.
func (u *utcWalk) walk(v reflect.Value, depth int) bool {
	if depth > maxEmbedWalk || !mayHoldTimeOf(v.Type()) {
		return false
	}
	if v.Type() == timeType {
		if t := v.Interface().(time.Time); t.Location() == time.Local && v.CanSet() {
			v.Set(reflect.ValueOf(t.UTC()))
			return true
		}
		return false
	}
	if readsItself(v.Type()) {
		return false // its times are as its reader set them
	}
	changed := false
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() || u.visited[v.Pointer()] {
			return false
		}
		if u.visited == nil {
			u.visited = map[uintptr]bool{}
		}
		u.visited[v.Pointer()] = true
		u.walk(v.Elem(), depth+1) // in place: nothing to put back
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Type().Field(i); f.IsExported() || f.Anonymous {
				changed = u.walk(v.Field(i), depth+1) || changed
			}
		}
	case reflect.Array, reflect.Slice:
		for i := range v.Len() {
			changed = u.walk(v.Index(i), depth+1) || changed
		}
	case reflect.Map:
		if v.IsNil() || !v.CanInterface() {
			return false
		}
		keyed := mayHoldTimeOf(v.Type().Key())
		for _, k := range v.MapKeys() {
			val := settable(v.MapIndex(k))
			if !keyed {
				if u.walk(val, depth+1) {
					v.SetMapIndex(k, val)
				}
				continue
			}
			u.walk(val, depth+1)
			nk := settable(k)
			if u.walk(nk, depth+1) {
				v.SetMapIndex(k, reflect.Value{})
			}
			v.SetMapIndex(nk, val)
		}
	case reflect.Interface:
		if v.IsNil() {
			return false
		}
		// What the constructor's pointer held: the generic values that
		// the decoder reads into an empty interface (a time among them)
		// are left as they are, as the JSON codec's differ from them
		// anyway (a time is a string there).
		if e := v.Elem(); e.Kind() == reflect.Pointer {
			u.walk(e, depth+1)
		}
	}
	return changed
}

// settable returns a settable copy of v.
func settable(v reflect.Value) reflect.Value {
	c := reflect.New(v.Type()).Elem()
	c.Set(v)
	return c
}
