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
// and in interface values. What a type that reads itself holds, and a
// time in another zone, were set so by a host's own decoding method, and
// are left as they are.
func timesInUTC(v reflect.Value) {
	if !mayHoldTimeOf(v.Type()) {
		return
	}
	visited := map[uintptr]bool{}
	var walk func(v reflect.Value, depth int)
	walk = func(v reflect.Value, depth int) {
		if depth > maxEmbedWalk || !mayHoldTimeOf(v.Type()) {
			return
		}
		if v.Type() == timeType {
			if t := v.Interface().(time.Time); t.Location() == time.Local && v.CanSet() {
				v.Set(reflect.ValueOf(t.UTC()))
			}
			return
		}
		if k := v.Kind(); k != reflect.Pointer && k != reflect.Interface && ownUnmarshaler(v.Type()) {
			return // it read itself: its times are as its reader set them
		}
		switch v.Kind() {
		case reflect.Pointer:
			if v.IsNil() || visited[v.Pointer()] {
				return
			}
			visited[v.Pointer()] = true
			walk(v.Elem(), depth+1)
		case reflect.Struct:
			for i := range v.NumField() {
				if v.Type().Field(i).IsExported() || v.Type().Field(i).Anonymous {
					walk(v.Field(i), depth+1)
				}
			}
		case reflect.Array, reflect.Slice:
			for i := range v.Len() {
				walk(v.Index(i), depth+1)
			}
		case reflect.Map:
			if v.IsNil() || !v.CanInterface() {
				return
			}
			keys := v.MapKeys()
			for _, k := range keys {
				val := settable(v.MapIndex(k))
				walk(val, depth+1)
				nk := settable(k)
				walk(nk, depth+1)
				if !nk.Equal(k) {
					v.SetMapIndex(k, reflect.Value{})
				}
				v.SetMapIndex(nk, val)
			}
		case reflect.Interface:
			if v.IsNil() {
				return
			}
			if e := v.Elem(); e.Kind() == reflect.Pointer {
				walk(e, depth+1)
			} else if v.CanSet() {
				c := settable(e)
				walk(c, depth+1)
				v.Set(c)
			}
		}
	}
	walk(v, 0)
}

// settable returns a settable copy of v.
func settable(v reflect.Value) reflect.Value {
	c := reflect.New(v.Type()).Elem()
	c.Set(v)
	return c
}
