package events_test

import (
	"encoding/json"
	"fmt"
	"math/big"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
)

// sameValue compares two decoded data, json.Numbers by value.
func sameValue(a, b reflect.Value) bool {
	if a.Type() == reflect.TypeOf(json.Number("")) && b.Type() == a.Type() {
		x, ok1 := new(big.Rat).SetString(a.String())
		y, ok2 := new(big.Rat).SetString(b.String())
		if !ok1 || !ok2 {
			return a.String() == b.String()
		}
		return x.Cmp(y) == 0
	}
	if a.Kind() != b.Kind() {
		return false
	}
	switch a.Kind() {
	case reflect.Interface, reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		if a.Kind() == reflect.Interface && a.Elem().Type() != b.Elem().Type() {
			return false
		}
		return sameValue(a.Elem(), b.Elem())
	case reflect.Map:
		if a.Len() != b.Len() {
			return false
		}
		for it := a.MapRange(); it.Next(); {
			bv := b.MapIndex(it.Key())
			if !bv.IsValid() || !sameValue(it.Value(), bv) {
				return false
			}
		}
		return true
	case reflect.Slice:
		if a.IsNil() != b.IsNil() || a.Len() != b.Len() {
			return false
		}
		for i := range a.Len() {
			if !sameValue(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Struct:
		if a.Type() == reflect.TypeOf(big.Int{}) {
			x, y := a.Addr().Interface().(*big.Int), b.Addr().Interface().(*big.Int)
			return x.Cmp(y) == 0
		}
		for i := range a.NumField() {
			if !sameValue(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a.Interface(), b.Interface())
}

// hugeExp reports whether s has an exponent of more than three digits,
// which big.Rat takes long to expand.
func hugeExp(s string) bool {
	i := strings.IndexAny(s, "eE")
	return i >= 0 && len(s)-i > 4
}

// fuzzHead is the envelope of the events that FuzzIdentityUpcast reads.
const fuzzHead = `{"id":"0193a4c2-7a9e-7c61-9d41-1a2b3c4d5e6f","issue":"0193a4c2-7a9e-7000-8000-000000000001","version":2,"at":"2026-03-02T09:15:00Z",`

// FuzzIdentityUpcast reads events whose data holds the JSON value v (in
// an issue.contacted's Extra, an issue.opened's customer and data, a
// field of a host's type) without an upcaster and through one that
// returns its fields as they are, under each codec: the two reads must
// give the same data, numbers compared by value.
func FuzzIdentityUpcast(f *testing.F) {
	for _, s := range []string{"1", "1152921504606846977", "1e21", "1000000000000000000000", "1152921504606846976.0", "[[1152921504606846977]]", `{"a":-9223372036854775808}`, "18446744073709551615", "0.1", "-0", "1" + strings.Repeat("0", 400)} {
		for _, which := range []uint8{0, 1, 2, 6, 10, 14, 18} { // Extra, an opening, each field of bigHost
			f.Add(s, which)
		}
	}
	upB := events.NewRegistry()
	for _, t := range []events.Type{events.TypeContacted, events.TypeOpened} {
		if err := upB.Register(t, 2, func() events.Data {
			if t == events.TypeOpened {
				return new(events.Opened)
			}
			return new(events.Contacted)
		}); err != nil {
			f.Fatal(err)
		}
		if err := upB.AddUpcaster(t, 1, identityUpcast); err != nil {
			f.Fatal(err)
		}
	}
	v1, v2 := events.NewRegistry(), events.NewRegistry()
	require.NoError(f, v1.Register("acme.big", 1, func() events.Data { return new(bigHost) }))
	require.NoError(f, v2.Register("acme.big", 2, func() events.Data { return new(bigHost) }))
	require.NoError(f, v2.AddUpcaster("acme.big", 1, identityUpcast))
	f.Fuzz(func(t *testing.T, v string, which uint8) {
		if len(v) > 2000 || hugeExp(v) || knownClass(v) {
			return
		}
		var data, typ string
		var plainJ, upJ, plainM, upM events.Codec
		switch which % 4 {
		case 0:
			typ, data = "issue.contacted", `{"contact":"0193a4c2-7a9e-7000-8000-0000000000c1","channel":"chat","x":`+v+`}`
			plainJ, upJ, plainM, upM = events.NewJSONCodec(nil), events.NewJSONCodec(upB), events.NewMsgpackCodec(nil), events.NewMsgpackCodec(upB)
		case 1:
			typ, data = "issue.opened", `{"customer":{"id":"c","x":`+v+`},"channel":"chat","topic":"t","contact":"0193a4c2-7a9e-7000-8000-0000000000c1","y":`+v+`}`
			plainJ, upJ, plainM, upM = events.NewJSONCodec(nil), events.NewJSONCodec(upB), events.NewMsgpackCodec(nil), events.NewMsgpackCodec(upB)
		default:
			field := []string{"i", "u", "f", "b", "n"}[int(which/4)%5]
			typ, data = "acme.big", `{"`+field+`":`+v+`}`
			plainJ, upJ, plainM, upM = events.NewJSONCodec(v1), events.NewJSONCodec(v2), events.NewMsgpackCodec(v1), events.NewMsgpackCodec(v2)
		}
		line := []byte(fuzzHead + `"type":"` + typ + `","data":` + data + `}`)
		check := func(name string, plain, up events.Codec, b []byte) {
			p, err := plain.Decode(b)
			if err != nil {
				return
			}
			u, err := up.Decode(b)
			if err != nil {
				t.Fatalf("%s: %s: readable without the upcaster, not with it: %v", name, v, err)
			}
			if !sameValue(reflect.ValueOf(p.Data), reflect.ValueOf(u.Data)) {
				t.Fatalf("%s: %s: without %s, with %s", name, v, fmt.Sprintf("%#v", p.Data), fmt.Sprintf("%#v", u.Data))
			}
		}
		check("json", plainJ, upJ, line)
		e, err := plainJ.Decode(line)
		if err != nil {
			return
		}
		b, err := plainM.Append(nil, e)
		if err != nil {
			return
		}
		check("msgpack", plainM, upM, b)
	})
}

// knownClass reports whether v holds a number written with a point or an
// exponent and 16 digits or more, which an upcaster gets as the float64
// nearest it, and which is read as the upcaster returns it (Upcaster).
func knownClass(v string) bool {
	dec := json.NewDecoder(strings.NewReader(v))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		n, ok := tok.(json.Number)
		if !ok {
			continue
		}
		digits := 0
		for _, c := range string(n) {
			if c >= '0' && c <= '9' {
				digits++
			}
		}
		if strings.ContainsAny(string(n), ".eE") && digits >= 16 {
			return true
		}
	}
}

// FuzzIdentityUpcastMsgpack reads an issue.contacted whose Extra holds the
// msgpack value v, as another writer may write it, without an upcaster
// and through one that returns its fields as they are.
func FuzzIdentityUpcastMsgpack(f *testing.F) {
	c := events.NewMsgpackCodec(nil)
	b, err := c.Append(nil, envelopeOf(1, &events.Contacted{Contact: contactID, Channel: "chat", Extra: events.Extra{"x": "AAAA"}}))
	if err != nil {
		f.Fatal(err)
	}
	prefix := b[:len(b)-len("\xa4AAAA")]
	upB := events.NewRegistry()
	require.NoError(f, upB.Register(events.TypeContacted, 2, func() events.Data { return new(events.Contacted) }))
	require.NoError(f, upB.AddUpcaster(events.TypeContacted, 1, identityUpcast))
	up := events.NewMsgpackCodec(upB)
	f.Add([]byte{0xcf, 0x10, 0, 0, 0, 0, 0, 0, 1})
	f.Add([]byte{0xcb, 0x43, 0xb0, 0, 0, 0, 0, 0, 0}) // a whole float64 beyond 2^53
	f.Add([]byte("\xc7\x00,"))                        // an empty extension of a type a test registers
	f.Add([]byte{0x81, 0xc0, 0x30})                   // a nil key
	f.Add([]byte{0x91, 0xcb, 0x41, 0x30, 0x30, 0x30, 0x00, 0x00, 0x00, 0x00})
	f.Add([]byte{0x81, 0xa1, 'a', 0xd3, 0x80, 0, 0, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, v []byte) {
		raw := append(append([]byte{}, prefix...), v...)
		p, err := c.Decode(raw)
		if err != nil {
			return
		}
		u, err := up.Decode(raw)
		if err != nil && strings.Contains(err.Error(), "not UTF-8") {
			// A map whose key comes twice, first over a string that is not
			// UTF-8: the reader without an upcaster keeps the last value
			// and never checks the first; the upcast path refuses it.
			return
		}
		if err != nil {
			t.Fatalf("%x: readable without the upcaster, not with it: %v", v, err)
		}
		if !sameValue(reflect.ValueOf(p.Data), reflect.ValueOf(u.Data)) {
			t.Fatalf("%x: without %#v, with %#v", v, p.Data.(*events.Contacted).Extra, u.Data.(*events.Contacted).Extra)
		}
	})
}
