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

// mayHoldTime caches holdsTime's answers, by type and whether interface
// values count.
var mayHoldTime sync.Map

// timeQuestion is a question of mayHoldTime.
type timeQuestion struct {
	t       reflect.Type
	viaIfce bool
}

// holdsTime reports whether a value of type t may hold a time.Time that
// the msgpack decoder read: in place, behind pointers, in lists and maps,
// in fields that it reads, and, where viaIfce, behind the pointer that an
// interface value holds (one that a constructor put there; the values of
// a map, which the decoder makes, hold none); seen holds the types looked
// into.
func holdsTime(t reflect.Type, viaIfce bool, seen map[reflect.Type]bool) bool {
	if t == timeType {
		return true
	}
	if t.Kind() == reflect.Interface {
		return viaIfce
	}
	if seen[t] {
		return false
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.Pointer, reflect.Array, reflect.Slice:
		return holdsTime(t.Elem(), viaIfce, seen)
	case reflect.Map:
		return holdsTime(t.Key(), false, seen) || holdsTime(t.Elem(), false, seen)
	case reflect.Struct:
		for _, i := range writtenFields(t) {
			if holdsTime(t.Field(i).Type, viaIfce, seen) {
				return true
			}
		}
	}
	return false
}

// mayHoldTimeOf is holdsTime of t, cached.
func mayHoldTimeOf(t reflect.Type, viaIfce bool) bool {
	q := timeQuestion{t, viaIfce}
	may, ok := mayHoldTime.Load(q)
	if !ok {
		may = holdsTime(t, viaIfce, map[reflect.Type]bool{})
		mayHoldTime.Store(q, may)
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
	if mayHoldTimeOf(v.Type(), true) {
		u := utcWalk{}
		u.walk(v, true, 0)
	}
}

// utcWalk is a walk of timesInUTC.
type utcWalk struct {
	visited map[visit]bool // pointers followed
}

// walk sets the Local times of v in UTC, and reports whether it changed
// any: where v is a copy, the caller puts it back then. viaIfce says
// whether v may hold interface values that a constructor filled (not in a
// map the decoder made).
func (u *utcWalk) walk(v reflect.Value, viaIfce bool, depth int) bool {
	if depth > maxEmbedWalk || !mayHoldTimeOf(v.Type(), viaIfce) {
		return false
	}
	if v.Type() == timeType {
		if !v.CanSet() {
			return false // read only: the decoder did not set it either
		}
		if t := v.Interface().(time.Time); t.Location() == time.Local {
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
		u.walk(v.Elem(), viaIfce, depth+1) // in place: nothing to put back
	case reflect.Struct:
		for _, i := range writtenFields(v.Type()) {
			changed = u.walk(v.Field(i), viaIfce, depth+1) || changed
		}
	case reflect.Array, reflect.Slice:
		for i := range v.Len() {
			changed = u.walk(v.Index(i), viaIfce, depth+1) || changed
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
		keyed, valued := mayHoldTimeOf(key, false), mayHoldTimeOf(elem, false)
		if !keyed && !valued {
			return false
		}
		var changes [][3]reflect.Value // the key, the new key, the value
		for it := v.MapRange(); it.Next(); {
			k := it.Key()
			if !k.Equal(k) {
				continue
			}
			var nk, nv reflect.Value
			kc := keyed && u.walk(settableTo(&nk, k), false, depth+1)
			if vc := valued && u.walk(settableTo(&nv, it.Value()), false, depth+1); kc || vc {
				if !kc {
					nk = k
				}
				if !vc {
					nv = it.Value()
				}
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
		if e := v.Elem(); viaIfce && e.Kind() == reflect.Pointer {
			u.walk(e, true, depth+1)
		}
	}
	return changed
}

// settableTo sets *c to a settable copy of v, and returns it.
func settableTo(c *reflect.Value, v reflect.Value) reflect.Value {
	*c = settable(v)
	return *c
}

// settable returns a settable copy of v.
func settable(v reflect.Value) reflect.Value {
	c := reflect.New(v.Type()).Elem()
	c.Set(v)
	return c
}
