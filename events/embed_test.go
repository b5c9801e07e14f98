package events_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
)

// Host types that embed a pointer to a struct type that is not exported.
type emInner struct {
	Name string `json:"name"`
}

type emNoFields struct{ name string } //nolint:unused

type emPtr struct {
	*emInner
	N int `json:"n"`
}

func (*emPtr) EventType() events.Type { return "em.ptr" }

type emNamed struct {
	*emInner `json:"inner"`
	N        int `json:"n"`
}

func (*emNamed) EventType() events.Type { return "em.named" }

type emOmit struct {
	*emInner `json:",omitempty"`
	N        int `json:"n"`
}

func (*emOmit) EventType() events.Type { return "em.omit" }

type emSkipped struct {
	*emInner `json:"-"`
	N        int `json:"n"`
}

func (*emSkipped) EventType() events.Type { return "em.skipped" }

type emByValue struct {
	emInner `json:"inner"`
	N       int `json:"n"`
}

func (*emByValue) EventType() events.Type { return "em.value" }

type emEmpty struct {
	*emNoFields
	N int `json:"n"`
}

func (*emEmpty) EventType() events.Type { return "em.empty" }

type emShadowed struct {
	*emInner
	Name string `json:"name"`
}

func (*emShadowed) EventType() events.Type { return "em.shadowed" }

type emShadowedAfter struct {
	Name string `json:"name"`
	*emInner
}

func (*emShadowedAfter) EventType() events.Type { return "em.shadowed.after" }

// EmOuter is exported, and embeds such a pointer.
type EmOuter struct {
	*emInner
}

type emNested struct {
	One  EmOuter   `json:"one"`
	Many []EmOuter `json:"many"`
}

func (*emNested) EventType() events.Type { return "em.nested" }

type emOne struct {
	One EmOuter `json:"one"`
}

func (*emOne) EventType() events.Type { return "em.one" }

type emInList struct {
	Many []EmOuter `json:"many"`
}

func (*emInList) EventType() events.Type { return "em.list" }

type emInterface struct {
	Body any `json:"body"`
}

func (*emInterface) EventType() events.Type { return "em.interface" }

// A host type that embeds a nil pointer to a struct type that is not
// exported, through which the decoders would set fields, is refused by
// Register, naming both types: the msgpack decoder panicked on reading
// it, and encoding/json failed, so that events written could never be
// read back. Where the constructor allocates it, the decoders fill it, and
// where they would not set anything through it, it is taken.
func TestRegisterRefusesAnEmbeddedPointerThatTheDecodersCannotAllocate(t *testing.T) {
	refused := []struct {
		name string
		new  func() events.Data
		want string
	}{
		{"promoted fields", func() events.Data { return new(emPtr) }, "events_test.emPtr embeds *events_test.emInner"},
		{"named by its tag", func() events.Data { return new(emNamed) }, "events_test.emNamed embeds *events_test.emInner"},
		{"omitempty", func() events.Data { return new(emOmit) }, "events_test.emOmit embeds *events_test.emInner"},
		{"in a field's type", func() events.Data { return new(emNested) }, "events_test.EmOuter embeds *events_test.emInner"},
		// The constructor cannot allocate what the elements of a list hold.
		{"in a list's elements", func() events.Data { return &emInList{Many: []EmOuter{{&emInner{}}}} }, "events_test.EmOuter embeds *events_test.emInner"},
	}
	for _, tc := range refused {
		reg := events.NewRegistry()
		d := tc.new()
		err := reg.Register(d.EventType(), 1, tc.new)
		require.Error(t, err, tc.name)
		assert.ErrorContains(t, err, tc.want, tc.name)
		assert.ErrorContains(t, err, "a nil pointer to a struct type that is not exported", tc.name)
		assert.ErrorContains(t, err, "could not be read back", tc.name)
		_, known := reg.Schema(d.EventType())
		assert.False(t, known, "%s: a refused type is not registered", tc.name)
	}

	taken := []struct {
		name      string
		new       func() events.Data
		written   events.Data
		wantName  string // what decoding reads back into the embedded struct's Name
		wantEmpty bool   // the embedded pointer stays nil
	}{
		{"allocated by the constructor", func() events.Data { return &emPtr{emInner: &emInner{}} }, &emPtr{&emInner{"Ana"}, 2}, "Ana", false},
		{"allocated in a field's value", func() events.Data { return &emOne{One: EmOuter{&emInner{}}} }, &emOne{One: EmOuter{&emInner{"Ana"}}}, "Ana", false},
		{"tagged -", func() events.Data { return new(emSkipped) }, &emSkipped{&emInner{"Ana"}, 2}, "", true},
		{"embedded by value", func() events.Data { return new(emByValue) }, &emByValue{emInner{"Ana"}, 2}, "Ana", false},
		{"no fields to set", func() events.Data { return new(emEmpty) }, &emEmpty{&emNoFields{"x"}, 2}, "", true},
		// Its one field has a namesake in the host's type, which the
		// decoders fill instead.
		{"shadowed", func() events.Data { return new(emShadowed) }, &emShadowed{Name: "Ana"}, "", true},
		{"shadowed, declared after", func() events.Data { return new(emShadowedAfter) }, &emShadowedAfter{Name: "Ana"}, "", true},
	}
	for _, tc := range taken {
		reg := events.NewRegistry()
		require.NoError(t, reg.Register(tc.written.EventType(), 1, tc.new), tc.name)
		for _, c := range []events.Codec{events.NewMsgpackCodec(reg), events.NewJSONCodec(reg)} {
			b, err := c.Append(nil, hostEvent(tc.written))
			require.NoError(t, err, "%s %T", tc.name, c)
			got, err := c.Decode(b)
			require.NoError(t, err, "%s %T", tc.name, c)
			var inner *emInner
			switch d := got.Data.(type) {
			case *emPtr:
				inner = d.emInner
			case *emOne:
				inner = d.One.emInner
			case *emSkipped:
				inner = d.emInner
			case *emByValue:
				inner = &d.emInner
			case *emShadowed:
				assert.Equal(t, "Ana", d.Name, "%s %T", tc.name, c)
				inner = d.emInner
			case *emShadowedAfter:
				assert.Equal(t, "Ana", d.Name, "%s %T", tc.name, c)
				inner = d.emInner
			case *emEmpty:
				assert.Nil(t, d.emNoFields, "%s %T", tc.name, c)
				continue
			}
			if tc.wantEmpty {
				assert.Nil(t, inner, "%s %T", tc.name, c)
				continue
			}
			require.NotNil(t, inner, "%s %T", tc.name, c)
			assert.Equal(t, tc.wantName, inner.Name, "%s %T", tc.name, c)
		}
	}
}

// What Register cannot see (a value that the constructor puts in an
// interface field, into which the decoders read) and a decoder cannot
// fill is the event's decode error, naming the type, where the msgpack
// decoder's panic ended the process.
func TestDecodingWhatTheDecoderCannotFillIsAnError(t *testing.T) {
	reg := events.NewRegistry()
	newData := func() events.Data { return &emInterface{Body: &EmOuter{}} }
	require.NoError(t, reg.Register("em.interface", 1, newData))
	for _, c := range []events.Codec{events.NewMsgpackCodec(reg), events.NewJSONCodec(reg)} {
		b, err := c.Append(nil, hostEvent(&emInterface{Body: &EmOuter{&emInner{"Ana"}}}))
		require.NoError(t, err, "%T", c)
		var got events.Envelope
		require.NotPanics(t, func() { got, err = c.Decode(b) }, "%T", c)
		var de *events.DecodeError
		require.True(t, errors.As(err, &de), "%T: %v", c, err)
		assert.Nil(t, got.Data, "%T", c)
		assert.Regexp(t, `emInterface|emInner`, err.Error(), "%T: names a type", c)
	}
}
