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
// own decoding method, and are left as they are. A time written in the
// Local zone is read in UTC too, the same instant: the JSON codec reads
// it with its offset.
func timesInUTC(v reflect.Value) {
	if mayHoldTimeOf(v.Type()) {
		u := utcWalk{}
		u.walk(v, 0)
	}
}

// utcWalk is a walk of timesInUTC.
type utcWalk struct {
	visited map[visit]bool // pointers followed
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
		at := visit{v.Type(), v.Pointer()}
		if v.IsNil() || u.visited[at] {
			return false
		}
		if u.visited == nil {
			u.visited = map[visit]bool{}
		}
		u.visited[at] = true
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
		// A map's entries are not addressable: each that may hold a
		// time is walked as a copy, and put back where it changed. The
		// decoder made them: what it read into an empty interface stays
		// as read (see below). An entry whose key is not equal to itself
		// (a NaN) cannot be put back, and is left as it is.
		key, elem := v.Type().Key(), v.Type().Elem()
		keyed, valued := mayHoldTimeOf(key), elem.Kind() != reflect.Interface && mayHoldTimeOf(elem)
		if !keyed && !valued {
			return false
		}
		var changes [][3]reflect.Value // the key, the new key, the value
		for it := v.MapRange(); it.Next(); {
			k := it.Key()
			if !k.Equal(k) {
				continue
			}
			nk, nv := settable(k), settable(it.Value())
			kc := keyed && u.walk(nk, depth+1)
			if vc := valued && u.walk(nv, depth+1); kc || vc {
				changes = append(changes, [3]reflect.Value{k, nk, nv})
			}
		}
		for _, c := range changes {
			if !c[1].Equal(c[0]) {
				v.SetMapIndex(c[0], reflect.Value{})
			}
			v.SetMapIndex(c[1], c[2])
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
