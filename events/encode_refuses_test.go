package events_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
)

// Each codec writes only what it reads back: what the decoders refuse
// (text that is not UTF-8, Extra nested deeper than they read) and what
// they would read as something else (an Extra member named like a field)
// is refused at encode, by both, so that a store never holds an event it
// cannot read, whichever codec it keeps.
func TestCodecsRefuseToWriteWhatTheyCannotReadBack(t *testing.T) {
	deep := nestedList(70, "x")
	type mutant struct {
		name, says string
		e          events.Envelope
	}
	var mutants []mutant
	for i, tt := range dataCases {
		// Every text field of the data, the customer's included.
		for _, path := range textFields(reflect.TypeOf(tt.data()).Elem(), "") {
			d := tt.data()
			setText(reflect.ValueOf(d).Elem(), path, "x\xff")
			mutants = append(mutants, mutant{tt.name + " " + strings.Join(path, "."), "not UTF-8", envelopeOf(i, d)})
		}
		withX := func(name, says string, x events.Extra, customer bool) {
			d := tt.data()
			field := "Extra"
			v := reflect.ValueOf(d).Elem()
			if customer {
				if v.FieldByName("Customer").IsValid() {
					v = v.FieldByName("Customer")
				} else {
					return
				}
			}
			if !v.FieldByName(field).IsValid() {
				return
			}
			v.FieldByName(field).Set(reflect.ValueOf(x))
			mutants = append(mutants, mutant{tt.name + " " + name, says, envelopeOf(i, d)})
		}
		for _, customer := range []bool{false, true} {
			withX("extra value", "not UTF-8", events.Extra{"note": "a\xff"}, customer)
			withX("extra key", "not UTF-8", events.Extra{"no\xffte": "a"}, customer)
			withX("extra member's key", "not UTF-8", events.Extra{"note": map[string]any{"k\xff": "a"}}, customer)
			withX("extra nested 70 deep", "nesting too deep", events.Extra{"note": deep}, customer)
		}
		withX("extra named like a field", "is a field of the type", events.Extra{firstWireName(tt.data()): "c"}, false)
		withX("customer extra named like a field", "is a field of the type", events.Extra{"id": "C-2"}, true)
		e := envelopeOf(i, tt.data())
		e.Meta = events.Meta{"k": "v\xff"}
		mutants = append(mutants, mutant{tt.name + " meta value", "not UTF-8", e})
		e = envelopeOf(i, tt.data())
		e.Meta = events.Meta{"k\xff": "v"}
		mutants = append(mutants, mutant{tt.name + " meta key", "not UTF-8", e})
		// Both decoders refuse version 0: a message or a line no one
		// could read.
		e = envelopeOf(i, tt.data())
		e.Version = 0
		mutants = append(mutants, mutant{tt.name + " version 0", "versions start at 1", e})
	}
	require.Greater(t, len(mutants), 100)
	for _, m := range mutants {
		for _, c := range codecsOf(nil) {
			b, err := c.Append([]byte("kept"), m.e)
			require.ErrorIs(t, err, events.ErrInvalidEvent, "%s: %s", c.Name(), m.name)
			assert.ErrorContains(t, err, m.says, "%s: %s", c.Name(), m.name)
			assert.Equal(t, "kept", string(b), "%s: %s: nothing written", c.Name(), m.name)
		}
	}
}

// JSON reads no Extra nested deeper than msgpack reads, nor writes.
func TestJSONRefusesExtraNestedTooDeep(t *testing.T) {
	c := events.NewJSONCodec(nil)
	b, err := c.Append(nil, envelopeOf(1, &events.Contacted{Contact: contactID, Channel: "chat"}))
	require.NoError(t, err)
	nest := func(n int) string { return strings.Repeat("[", n) + "1" + strings.Repeat("]", n) }
	within := strings.Replace(string(b), `"channel":"chat"`, `"channel":"chat","x":`+nest(64), 1)
	_, err = c.Decode([]byte(within))
	require.NoError(t, err, "64 deep below the member")
	beyond := strings.Replace(string(b), `"channel":"chat"`, `"channel":"chat","x":`+nest(65), 1)
	_, err = c.Decode([]byte(beyond))
	require.ErrorIs(t, err, events.ErrMalformed)
	assert.ErrorContains(t, err, "nesting too deep")

	// msgpack reads the one and not the other alike.
	e, err := c.Decode([]byte(within))
	require.NoError(t, err)
	_, err = events.NewMsgpackCodec(nil).Append(nil, e)
	require.NoError(t, err)
}

// textFields returns the paths of the string and []string fields of the
// struct type t, through its struct fields.
func textFields(t reflect.Type, _ string) [][]string {
	var out [][]string
	for i := range t.NumField() {
		f := t.Field(i)
		switch {
		case f.Type.Kind() == reflect.String, f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.String:
			out = append(out, []string{f.Name})
		case f.Type.Kind() == reflect.Struct && f.Type.PkgPath() == "github.com/truefcr/truefcr/events":
			for _, p := range textFields(f.Type, "") {
				out = append(out, append([]string{f.Name}, p...))
			}
		}
	}
	return out
}

// setText sets the field at path of the struct v to s, or to a list
// holding s.
func setText(v reflect.Value, path []string, s string) {
	for _, name := range path {
		v = v.FieldByName(name)
	}
	if v.Kind() == reflect.String {
		v.SetString(s)
		return
	}
	v.Set(reflect.ValueOf([]string{"ok", s}).Convert(v.Type()))
}

// firstWireName returns the wire name of the first field of d's type.
func firstWireName(d events.Data) string {
	t := reflect.TypeOf(d).Elem()
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name != "" && name != "-" {
			return name
		}
	}
	panic(t.Name() + " has no wire name")
}

// CheckExtra says what both codecs would refuse of an Extra's values.
func TestCheckExtra(t *testing.T) {
	deep := nestedList(65, "x")
	assert.NoError(t, events.CheckExtra(events.Extra{"name": "Ann", "n": 3, "tags": []string{"vip"}, "at": map[string]int{"a": 1}}))
	assert.NoError(t, events.CheckExtra(nil))
	for _, tt := range []struct {
		x    events.Extra
		want string
	}{
		{events.Extra{"name": "Ann\xe4"}, `field "name": "Ann\xe4" is not UTF-8`},
		{events.Extra{"na\xffme": "Ann"}, `field "na\xffme" is not UTF-8`},
		{events.Extra{"tree": deep}, `field "tree": nesting too deep`},
		{events.Extra{"n": json.Number("0.10000000000000001")}, `field "n": number 0.10000000000000001`},
		{events.Extra{"f": func() {}}, `field "f": json: unsupported type`},
	} {
		assert.ErrorContains(t, events.CheckExtra(tt.x), tt.want)
	}
}

// A value of a host's Go type in Extra ([]string, a map of strings…) is
// written as encoding/json encodes it, which would turn text that is not
// UTF-8 into U+FFFD: both codecs refuse it instead, as CheckExtra does.
func TestCodecsRefuseTypedExtraValuesThatAreNotUTF8(t *testing.T) {
	for _, x := range []events.Extra{
		{"tags": []string{"vip", "a\xff"}},
		{"notes": map[string]string{"k": "a\xff"}},
		{"notes": map[string]string{"k\xff": "a"}},
	} {
		assert.ErrorContains(t, events.CheckExtra(x), "not UTF-8", "%#v", x)
		for _, c := range codecsOf(nil) {
			_, err := c.Append(nil, envelopeOf(1, &events.Contacted{Contact: contactID, Channel: "chat", Extra: x}))
			require.ErrorIs(t, err, events.ErrInvalidEvent, "%s %#v", c.Name(), x)
			assert.ErrorContains(t, err, "not UTF-8", "%s %#v", c.Name(), x)
		}
	}
}

// What a value of the customer's Extra cannot be written as, both codecs
// say of that field of the customer.
func TestCodecsNameTheCustomerFieldTheyCannotWrite(t *testing.T) {
	d := &events.Opened{Customer: events.Customer{ID: "C-1", Extra: events.Extra{"since": time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}},
		Channel: "chat", Topic: "billing", Contact: contactID}
	for _, c := range codecsOf(nil) {
		_, err := c.Append(nil, envelopeOf(1, d))
		require.ErrorIs(t, err, events.ErrInvalidEvent, c.Name())
		assert.ErrorContains(t, err, `data: customer: field "since": `, c.Name())
	}
}

// encoding/json writes each byte of text that is not UTF-8 as the escape
// \ufffd, and a U+FFFD itself as it is: an Extra value that carries the
// escape (a json.RawMessage, as Python writes one) cannot be told from
// replaced bytes, and both codecs refuse it; the character itself passes.
func TestCodecsAndTheReplacementCharacter(t *testing.T) {
	escaped := events.Extra{"raw": json.RawMessage(`{"name":"J\ufffdrg"}`)}
	assert.ErrorContains(t, events.CheckExtra(escaped), `field "raw": holds text that is not UTF-8`)
	itself := events.Extra{"raw": json.RawMessage(`{"name":"J\uFFFDrg"}`), "name": "J\uFFFDrg"}
	require.NoError(t, events.CheckExtra(itself))
	for _, c := range codecsOf(nil) {
		_, err := c.Append(nil, envelopeOf(1, &events.Contacted{Contact: contactID, Channel: "chat", Extra: escaped}))
		require.ErrorIs(t, err, events.ErrInvalidEvent, c.Name())
		assert.ErrorContains(t, err, `field "raw": holds text that is not UTF-8`, c.Name())

		b, err := c.Append(nil, envelopeOf(1, &events.Contacted{Contact: contactID, Channel: "chat", Extra: itself}))
		require.NoError(t, err, c.Name())
		got, err := c.Decode(b)
		require.NoError(t, err, c.Name())
		assert.Equal(t, events.Extra{"raw": map[string]any{"name": "J\uFFFDrg"}, "name": "J\uFFFDrg"}, got.Data.(*events.Contacted).Extra, c.Name())
	}
	// Text that is not UTF-8 in a value of a Go type is the customer
	// field's, in both codecs' words.
	d := &events.Opened{Customer: events.Customer{ID: "C-1", Extra: events.Extra{"profile": map[string]string{"name": "J\xffrg"}}},
		Channel: "chat", Topic: "billing", Contact: contactID}
	for _, c := range codecsOf(nil) {
		_, err := c.Append(nil, envelopeOf(1, d))
		require.ErrorIs(t, err, events.ErrInvalidEvent, c.Name())
		assert.ErrorContains(t, err, `data: customer: field "profile": holds text that is not UTF-8`, c.Name())
	}
}

// An opening whose customer has a field nested 64 deep, which both codecs
// write and read at its schema, reads the same once a host has raised the
// schema and upcasts it: the generic path counts the customer's members
// from themselves too.
func TestACustomerFieldNested64DeepReadsAfterAnUpcast(t *testing.T) {
	upcasting := events.NewRegistry()
	require.NoError(t, upcasting.Register(events.TypeOpened, 2, func() events.Data { return new(events.Opened) }))
	require.NoError(t, upcasting.AddUpcaster(events.TypeOpened, 1, identityUpcast))
	for _, where := range []string{"customer", "data"} {
		d := &events.Opened{Customer: events.Customer{ID: "C-1"}, Channel: "chat", Topic: "billing", Contact: contactID}
		x := events.Extra{"deep": nestedList(64, "x")}
		if where == "customer" {
			d.Customer.Extra = x
		} else {
			d.Extra = x
		}
		for i, c := range codecsOf(nil) {
			b, err := c.Append(nil, envelopeOf(1, d))
			require.NoError(t, err, "%s %s", c.Name(), where)
			want, err := c.Decode(b)
			require.NoError(t, err, "%s %s", c.Name(), where)
			got, err := codecsOf(upcasting)[i].Decode(b)
			require.NoError(t, err, "%s %s, upcast", c.Name(), where)
			assert.Equal(t, want.Data, got.Data, "%s %s, upcast", c.Name(), where)
		}
		x["deep"] = nestedList(65, "x")
		for _, c := range codecsOf(nil) {
			_, err := c.Append(nil, envelopeOf(1, d))
			assert.ErrorContains(t, err, "nesting too deep", "%s %s", c.Name(), where)
		}
	}
}

// nestedList returns leaf in lists n deep.
func nestedList(n int, leaf any) any {
	v := leaf
	for range n {
		v = []any{v}
	}
	return v
}
