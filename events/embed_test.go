package events_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

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

type emNoInline struct {
	*emInner `msgpack:",noinline"`
	Name     string `json:"name"`
}

func (*emNoInline) EventType() events.Type { return "em.noinline" }

// emMid promotes the fields of EmBase.
type emMid struct{ EmBase }

// EmBase is exported.
type EmBase struct {
	Note string `json:"note"`
}

type emDeep struct {
	*emMid
	N int `json:"n"`
}

func (*emDeep) EventType() events.Type { return "em.deep" }

// emOtherNames is named otherwise by each codec.
type emOtherNames struct {
	Name string `msgpack:"name" json:"nm"`
}

type emByCodec struct {
	Name string `json:"name"`
	*emOtherNames
}

func (*emByCodec) EventType() events.Type { return "em.by.codec" }

type emDashComma struct {
	*emInner `json:"-,"`
	N        int `json:"n"`
}

func (*emDashComma) EventType() events.Type { return "em.dash.comma" }

// EmJSONBase reads itself from JSON, through a pointer.
type EmJSONBase struct {
	ID string `json:"id"`
}

func (b *EmJSONBase) UnmarshalJSON(p []byte) error {
	var r struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(p, &r); err != nil {
		return err
	}
	b.ID = r.ID
	return nil
}

type emGetsUnmarshal struct {
	*EmJSONBase
	N int `json:"n"`
}

func (*emGetsUnmarshal) EventType() events.Type { return "em.gets.unmarshal" }

type emWithTime struct {
	time.Time
	Note string `json:"note"`
}

func (*emWithTime) EventType() events.Type { return "em.with.time" }

type emHoldsTimed struct {
	When emWithTime `json:"when"`
}

func (*emHoldsTimed) EventType() events.Type { return "em.holds.timed" }

// emOwnUnmarshal declares the method that the field it embeds has.
type emOwnUnmarshal struct {
	*EmJSONBase
	N int `json:"n"`
}

func (*emOwnUnmarshal) EventType() events.Type { return "em.own.unmarshal" }

func (o *emOwnUnmarshal) UnmarshalJSON(p []byte) error {
	var r struct {
		ID string `json:"id"`
		N  int    `json:"n"`
	}
	if err := json.Unmarshal(p, &r); err != nil {
		return err
	}
	o.EmJSONBase, o.N = &EmJSONBase{ID: r.ID}, r.N
	return nil
}

func (o *emOwnUnmarshal) MarshalJSON() ([]byte, error) {
	id := ""
	if o.EmJSONBase != nil {
		id = o.ID
	}
	return json.Marshal(struct {
		ID string `json:"id"`
		N  int    `json:"n"`
	}{id, o.N})
}

type emShift struct {
	time.Time
	Agent string `json:"agent"`
}

type emHoldsShifts struct {
	Shift *emShift   `json:"shift"`
	List  []*emShift `json:"list"`
}

func (*emHoldsShifts) EventType() events.Type { return "em.holds.shifts" }

type emGenericHost[T any] struct {
	time.Time
	V T `json:"v"`
}

func (*emGenericHost[T]) EventType() events.Type { return "em.generic.host" }

type emStamped[T any] struct {
	time.Time
	V T `json:"v"`
}

type emHoldsGeneric struct {
	Items []emStamped[string] `json:"items"`
}

func (*emHoldsGeneric) EventType() events.Type { return "em.holds.generic" }

// emOwnAll embeds a time.Time, and declares the methods that each codec
// calls first: the time's MarshalText and the others are never called.
type emOwnAll struct {
	time.Time
	N int `json:"n"`
}

func (*emOwnAll) EventType() events.Type { return "em.own.all" }

type emOwnAllWire struct {
	At time.Time `json:"at"`
	N  int       `json:"n"`
}

func (o emOwnAll) MarshalJSON() ([]byte, error)    { return json.Marshal(emOwnAllWire{o.Time, o.N}) }
func (o emOwnAll) MarshalMsgpack() ([]byte, error) { return msgpack.Marshal(emOwnAllWire{o.Time, o.N}) }
func (o *emOwnAll) UnmarshalJSON(b []byte) error {
	var w emOwnAllWire
	err := json.Unmarshal(b, &w)
	o.Time, o.N = w.At, w.N
	return err
}
func (o *emOwnAll) UnmarshalMsgpack(b []byte) error {
	var w emOwnAllWire
	err := msgpack.Unmarshal(b, &w)
	o.Time, o.N = w.At.UTC(), w.N
	return err
}

// emGenericOwn declares its own codec methods, generic as it is.
type emGenericOwn[T any] struct {
	V T `json:"v"`
}

func (*emGenericOwn[T]) EventType() events.Type { return "em.generic.own" }
func (o emGenericOwn[T]) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]T{"v": o.V})
}

func (o *emGenericOwn[T]) UnmarshalJSON(b []byte) error {
	var m map[string]T
	err := json.Unmarshal(b, &m)
	o.V = m["v"]
	return err
}

// emLoop holds itself through a field that the msgpack codec skips, and
// the JSON codec does not.
type emLoop struct {
	Next *emLoop `msgpack:"-" json:"next"`
	V    int     `json:"v"`
}

func (*emLoop) EventType() events.Type { return "em.loop" }

// emStringer has an interface field of methods.
type emStringer struct {
	Reason fmt.Stringer `json:"reason"`
	N      int          `json:"n"`
}

func (*emStringer) EventType() events.Type { return "em.stringer" }

type emCode string

func (c emCode) String() string { return string(c) }

// emPtrShift declares its codec methods on a pointer, and embeds a
// time.Time, whose methods of a value the codecs call for a value of it
// (msgpack always, encoding/json in a map).
type emPtrShift struct {
	time.Time
	Agent string `json:"agent"`
}

func (s *emPtrShift) MarshalJSON() ([]byte, error)           { return json.Marshal(s.Agent) }
func (s *emPtrShift) UnmarshalJSON(b []byte) error           { return json.Unmarshal(b, &s.Agent) }
func (s *emPtrShift) EncodeMsgpack(e *msgpack.Encoder) error { return e.EncodeString(s.Agent) }
func (s *emPtrShift) DecodeMsgpack(d *msgpack.Decoder) (err error) {
	s.Agent, err = d.DecodeString()
	return err
}

type emHoldsPtrShifts struct {
	ByName map[string]emPtrShift `json:"by_name"`
}

func (*emHoldsPtrShifts) EventType() events.Type { return "em.holds.ptr.shifts" }

// emPtrID embeds a pointer alone, whose methods crash on the nil the
// decoder starts from.
type emPtrID struct{ *uuid.UUID }

// emTenant loses its tenant to the uuid's methods, and emNestedID, which
// embeds it alone, with it.
type emTenant struct {
	uuid.UUID
	Tenant string `json:"tenant"`
}

type emNestedID struct{ emTenant }

// emSkippedEmbed gets MarshalJSON from a field that both codecs skip,
// which does not stop its promotion.
type emSkippedEmbed struct {
	N         int `json:"n"`
	emJSONish `json:"-" msgpack:"-"`
}

type emJSONish struct{}

func (emJSONish) MarshalJSON() ([]byte, error) { return []byte(`"j"`), nil }

type emHoldsPtrID struct {
	ID emPtrID `json:"id"`
}

func (*emHoldsPtrID) EventType() events.Type { return "em.holds.ptr.id" }

type emHoldsNestedID struct {
	ID emNestedID `json:"id"`
}

func (*emHoldsNestedID) EventType() events.Type { return "em.holds.nested.id" }

type emHoldsSkipped struct {
	S emSkippedEmbed `json:"s"`
}

func (*emHoldsSkipped) EventType() events.Type { return "em.holds.skipped" }

// EmUserID is a typed id: all that the codecs write of it is the
// uuid.UUID it embeds, whose methods write and read it whole.
type EmUserID struct{ uuid.UUID }

type emByUser struct {
	By  map[EmUserID]int `json:"by"`
	One EmUserID         `json:"one"`
}

func (*emByUser) EventType() events.Type { return "em.by.user" }

type emHoldsAny struct {
	X any `json:"x"`
}

type emKeyedByShift struct {
	By map[emShift]int `json:"by"`
}

func (*emKeyedByShift) EventType() events.Type { return "em.keyed.by.shift" }

// emSkipAny chains through an interface field that the msgpack codec
// skips: pointers to interfaces to pointers, no field or element between.
type emSkipAny struct {
	X any `msgpack:"-" json:"x"`
}

func (*emSkipAny) EventType() events.Type { return "em.skip.any" }

// emSkipNode chains through a field that the msgpack codec skips.
type emSkipNode struct {
	Next *emSkipNode `msgpack:"-" json:"next"`
	V    int         `json:"v"`
}

func (*emSkipNode) EventType() events.Type { return "em.skip.node" }

type emArray struct {
	Two [2]EmOuter `json:"two"`
}

func (*emArray) EventType() events.Type { return "em.array" }

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
		{"in a field's type", func() events.Data { return new(emNested) }, "events_test.emNested.One (events_test.EmOuter) embeds *events_test.emInner"},
		// The constructor cannot allocate what the elements of a list hold.
		{"in a list's elements", func() events.Data { return &emInList{Many: []EmOuter{{&emInner{}}}} }, "events_test.emInList.Many[] (events_test.EmOuter) embeds *events_test.emInner"},
		// A field before it has a name of its fields: the msgpack codec
		// does not inline it, and writes it as a field of its own.
		{"shadowed by a field before it", func() events.Data { return new(emShadowedAfter) }, "events_test.emShadowedAfter embeds *events_test.emInner"},
		{"told not to inline", func() events.Data { return new(emNoInline) }, "events_test.emNoInline embeds *events_test.emInner"},
		{"promoting the fields of its own embedded struct", func() events.Data { return new(emDeep) }, "events_test.emDeep embeds *events_test.emMid"},
		// Shadowed for msgpack, not for JSON, which names it "nm".
		{"shadowed for one codec", func() events.Data { return new(emByCodec) }, "events_test.emByCodec embeds *events_test.emOtherNames"},
		// encoding/json names a field tagged "-," "-".
		{`tagged "-,"`, func() events.Data { return new(emDashComma) }, "events_test.emDashComma embeds *events_test.emInner"},
		{"an interface field's value", func() events.Data { return &emInterface{Body: &EmOuter{}} }, "events_test.emInterface.Body (events_test.EmOuter) embeds *events_test.emInner"},
	}
	for _, tc := range refused {
		reg := events.NewRegistry()
		d := tc.new()
		err := reg.Register(d.EventType(), 1, tc.new)
		require.Error(t, err, tc.name)
		assert.ErrorContains(t, err, tc.want+", a nil pointer to a struct type that is not exported", tc.name)
		assert.ErrorContains(t, err, "could not be read back", tc.name)
		_, known := reg.Schema(d.EventType())
		assert.False(t, known, "%s: a refused type is not registered", tc.name)
	}
	assert.ErrorContains(t, events.NewRegistry().Register("em.list", 1, func() events.Data { return new(emInList) }),
		`export the type, embed it by value, or tag it "-"`, "no constructor allocates a list's elements")

	taken := []struct {
		name      string
		new       func() events.Data
		written   events.Data
		wantName  string // what decoding reads back into the embedded struct's Name
		wantEmpty bool   // the embedded pointer stays nil
	}{
		{"allocated by the constructor", func() events.Data { return &emPtr{emInner: &emInner{}} }, &emPtr{&emInner{"Ana"}, 2}, "Ana", false},
		{"allocated in a field's value", func() events.Data { return &emOne{One: EmOuter{&emInner{}}} }, &emOne{One: EmOuter{&emInner{"Ana"}}}, "Ana", false},
		{"allocated in an array's elements", func() events.Data { return &emArray{Two: [2]EmOuter{{&emInner{}}, {&emInner{}}}} },
			&emArray{Two: [2]EmOuter{{&emInner{"Ana"}}, {&emInner{"Bo"}}}}, "Ana", false},
		{"tagged -", func() events.Data { return new(emSkipped) }, &emSkipped{&emInner{"Ana"}, 2}, "", true},
		{"embedded by value", func() events.Data { return new(emByValue) }, &emByValue{emInner{"Ana"}, 2}, "Ana", false},
		{"no fields to set", func() events.Data { return new(emEmpty) }, &emEmpty{&emNoFields{"x"}, 2}, "", true},
		// Its one field has a namesake after it in the host's type, which
		// the decoders fill instead, however the embedded one was written.
		{"shadowed", func() events.Data { return new(emShadowed) }, &emShadowed{&emInner{"Bo"}, "Ana"}, "", true},
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
			case *emArray:
				require.NotNil(t, d.Two[1].emInner, "%s %T", tc.name, c)
				assert.Equal(t, "Bo", d.Two[1].Name, "%s %T", tc.name, c)
				inner = d.Two[0].emInner
			case *emSkipped:
				inner = d.emInner
			case *emByValue:
				inner = &d.emInner
			case *emShadowed:
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

// A type that gets a codec's method from a field it embeds is refused,
// naming the method and the field: the codecs would call it for the whole
// value, writing the embedded time alone, or reading through a nil
// pointer. One that declares the method itself is taken.
func TestRegisterRefusesACodecMethodFromAnEmbeddedField(t *testing.T) {
	for _, tc := range []struct {
		new  func() events.Data
		want string
	}{
		{func() events.Data { return new(emGetsUnmarshal) }, "events_test.emGetsUnmarshal gets UnmarshalJSON from the *events_test.EmJSONBase it embeds"},
		{func() events.Data { return new(emWithTime) }, "events_test.emWithTime gets MarshalJSON, UnmarshalJSON, MarshalBinary and UnmarshalBinary from the time.Time it embeds"},
		{func() events.Data { return new(emHoldsTimed) }, "events_test.emHoldsTimed.When (events_test.emWithTime) gets MarshalJSON, UnmarshalJSON, MarshalBinary and UnmarshalBinary from the time.Time it embeds"},
		// Behind a pointer, in a list of pointers.
		{func() events.Data { return new(emHoldsShifts) }, "events_test.emHoldsShifts.Shift (events_test.emShift) gets MarshalJSON"},
		{func() events.Data { return new(emGenericHost[string]) }, "events_test.emGenericHost[string] gets MarshalJSON"},
		{func() events.Data { return new(emHoldsGeneric) }, "events_test.emHoldsGeneric.Items[] (events_test.emStamped[string]) gets MarshalJSON"},
		// Embedded alone, but by pointer; through a type embedded alone;
		// skipped by its tags, yet promoting.
		{func() events.Data { return new(emHoldsPtrID) }, "events_test.emHoldsPtrID.ID (events_test.emPtrID) gets MarshalText, UnmarshalText, MarshalBinary and UnmarshalBinary from the *uuid.UUID"},
		{func() events.Data { return new(emHoldsNestedID) }, "events_test.emHoldsNestedID.ID (events_test.emNestedID) gets MarshalText, UnmarshalText, MarshalBinary and UnmarshalBinary from the uuid.UUID"},
		{func() events.Data { return new(emHoldsSkipped) }, "events_test.emHoldsSkipped.S (events_test.emSkippedEmbed) gets MarshalJSON from the events_test.emJSONish"},
		// A map's key is written by its value's own methods.
		{func() events.Data { return new(emKeyedByShift) }, "events_test.emKeyedByShift.By[key] (events_test.emShift) gets MarshalText, UnmarshalText, MarshalBinary and UnmarshalBinary"},
		// Its own methods are a pointer's; a value of it gets the time's.
		{func() events.Data { return new(emHoldsPtrShifts) }, "events_test.emHoldsPtrShifts.ByName[] (events_test.emPtrShift) gets MarshalText and MarshalBinary from the time.Time it embeds"},
	} {
		d := tc.new()
		err := events.NewRegistry().Register(d.EventType(), 1, tc.new)
		assert.ErrorContains(t, err, tc.want)
		assert.ErrorContains(t, err, "which the codecs would call for the whole value, writing or reading that field alone: make the embedded field a named one")
	}

	// Types whose codec methods are their own, of each codec's first
	// choice: taken, and written and read back whole.
	for _, tc := range []struct {
		new     func() events.Data
		written events.Data
	}{
		{func() events.Data { return new(emOwnAll) }, &emOwnAll{time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC), 2}},
		{func() events.Data { return new(emGenericOwn[int]) }, &emGenericOwn[int]{V: 3}},
	} {
		reg := events.NewRegistry()
		require.NoError(t, reg.Register(tc.written.EventType(), 1, tc.new))
		for _, c := range []events.Codec{events.NewMsgpackCodec(reg), events.NewJSONCodec(reg)} {
			b, err := c.Append(nil, hostEvent(tc.written))
			require.NoError(t, err, "%T %T", tc.written, c)
			got, err := c.Decode(b)
			require.NoError(t, err, "%T %T", tc.written, c)
			assert.Equal(t, tc.written, got.Data, "%T %T", tc.written, c)
		}
	}

	reg := events.NewRegistry()
	require.NoError(t, reg.Register("em.by.user", 1, func() events.Data { return new(emByUser) }))
	id := EmUserID{uuid.New()}
	for _, c := range []events.Codec{events.NewMsgpackCodec(reg), events.NewJSONCodec(reg)} {
		b, err := c.Append(nil, hostEvent(&emByUser{By: map[EmUserID]int{id: 2}, One: id}))
		require.NoError(t, err, "%T", c)
		got, err := c.Decode(b)
		require.NoError(t, err, "%T", c)
		assert.Equal(t, &emByUser{By: map[EmUserID]int{id: 2}, One: id}, got.Data, "%T: a typed id is written whole", c)
	}

	reg = events.NewRegistry()
	require.NoError(t, reg.Register("em.own.unmarshal", 1, func() events.Data { return new(emOwnUnmarshal) }))
	c := events.NewJSONCodec(reg)
	b, err := c.Append(nil, hostEvent(&emOwnUnmarshal{&EmJSONBase{ID: "a"}, 2}))
	require.NoError(t, err)
	got, err := c.Decode(b)
	require.NoError(t, err)
	assert.Equal(t, &emOwnUnmarshal{&EmJSONBase{ID: "a"}, 2}, got.Data)
}

// What Register cannot see (a constructor that makes another value than
// the one it looked at) and a decoder cannot fill is the event's decode
// error, naming the type, where the msgpack decoder's panic ended the
// process.
func TestDecodingWhatTheDecoderCannotFillIsAnError(t *testing.T) {
	reg := events.NewRegistry()
	calls := 0
	newData := func() events.Data {
		if calls++; calls == 1 {
			return &emInterface{Body: &EmOuter{&emInner{}}}
		}
		return &emInterface{Body: &EmOuter{}}
	}
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

// A constructor's value that holds itself through what the codecs skip is
// walked once, and taken.
func TestRegisterWalksAValueThatHoldsItselfOnce(t *testing.T) {
	newData := func() events.Data {
		l := &emLoop{V: 1}
		l.Next = l
		return l
	}
	done := make(chan error, 1)
	go func() { done <- events.NewRegistry().Register("em.loop", 1, newData) }()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Register walked the cycle for good")
	}
}

// A constructor's value nested deeper than the codecs read (through a field
// that the msgpack codec skips, which its own check does not follow) is
// refused as such, at once, where its path was built anew at every step.
func TestRegisterRefusesAConstructorsValueNestedTooDeep(t *testing.T) {
	newData := func() events.Data {
		head := &emSkipNode{}
		for n := head; n != nil; n = n.Next {
			if n.V++; n.V < 100000 {
				n.Next = &emSkipNode{V: n.V}
			}
		}
		return head
	}
	start := time.Now()
	err := events.NewRegistry().Register("em.skip.node", 1, newData)
	assert.ErrorContains(t, err, "events_test.emSkipNode.Next.Next…Next.Next.Next.Next: the constructor's value goes on for more than 10000 steps")
	assert.Less(t, time.Since(start), 10*time.Second)

	// Through pointers and interfaces alone: a stack overflow, which ends
	// the process, at a million.
	chain := func() events.Data {
		var x any = 1
		for range 1000000 {
			y := x
			x = &y
		}
		return &emSkipAny{X: x}
	}
	assert.ErrorContains(t, events.NewRegistry().Register("em.skip.any", 1, chain), "goes on for more than 10000 steps")

	// Arrays held by interfaces, which a path of pointers, maps and lists
	// does not count: nested too deep for the msgpack encoder's walk too.
	arrays := func() events.Data {
		var x any = 1
		for range 2000000 {
			x = [1]any{x}
		}
		return &emInterface{Body: &emHoldsAny{X: x}}
	}
	assert.ErrorContains(t, events.NewRegistry().Register("em.interface", 1, arrays), "nested too deep")
}

// What the constructor puts in an interface field by value, the msgpack
// decoder cannot set, and encoding/json replaces with a map: refused.
func TestRegisterRefusesAValueInAnInterfaceField(t *testing.T) {
	err := events.NewRegistry().Register("em.interface", 1, func() events.Data { return &emInterface{Body: EmBase{}} })
	assert.ErrorContains(t, err, "events_test.emInterface.Body holds a events_test.EmBase, by value")
	assert.ErrorContains(t, err, "put a pointer to a value there (a *events_test.EmBase), or nothing")
	err = events.NewRegistry().Register("em.interface", 1, func() events.Data { return &emInterface{Body: map[string]int{}} })
	assert.ErrorContains(t, err, "events_test.emInterface.Body holds a map[string]int, by value")
	assert.ErrorContains(t, err, "(a *map[string]int)")
	for _, typedNil := range []any{(*EmBase)(nil), map[string]int(nil)} {
		err := events.NewRegistry().Register("em.interface", 1, func() events.Data { return &emInterface{Body: typedNil} })
		assert.ErrorContains(t, err, ", nil, which the msgpack decoder cannot set", "%T", typedNil)
	}
	assert.NoError(t, events.NewRegistry().Register("em.interface", 1, func() events.Data { return &emInterface{Body: &EmBase{}} }))
	assert.NoError(t, events.NewRegistry().Register("em.interface", 1, func() events.Data { return &emInterface{Body: map[string]any{}} }))
}

// An interface field of methods that the constructor leaves nil cannot be
// decoded into: the event's decode error, in both codecs, where the
// msgpack decoder's panic reached the caller.
func TestDecodingIntoANilInterfaceOfMethodsIsAnError(t *testing.T) {
	reg := events.NewRegistry()
	require.NoError(t, reg.Register("em.stringer", 1, func() events.Data { return new(emStringer) }))
	for _, c := range []events.Codec{events.NewMsgpackCodec(reg), events.NewJSONCodec(reg)} {
		b, err := c.Append(nil, hostEvent(&emStringer{Reason: emCode("late"), N: 1}))
		require.NoError(t, err, "%T", c)
		var de *events.DecodeError
		require.NotPanics(t, func() { _, err = c.Decode(b) }, "%T", c)
		assert.True(t, errors.As(err, &de), "%T: %v", c, err)
	}
}

// A host's unmarshaler that panics is the host's to see: only panics
// raised in the decoders are errors of the event.
func TestAHostsPanicInDecodingGoesOn(t *testing.T) {
	reg := events.NewRegistry()
	require.NoError(t, reg.Register("em.panics", 1, func() events.Data { return new(emPanics) }))
	for _, c := range []events.Codec{events.NewMsgpackCodec(reg), events.NewJSONCodec(reg)} {
		b, err := c.Append(nil, hostEvent(&emPanics{N: 1}))
		require.NoError(t, err, "%T", c)
		assert.PanicsWithValue(t, "invariant broken", func() { _, _ = c.Decode(b) }, "%T", c)
	}
}

type emPanics struct {
	N int `json:"n"`
}

func (*emPanics) EventType() events.Type        { return "em.panics" }
func (*emPanics) UnmarshalJSON([]byte) error    { panic("invariant broken") }
func (*emPanics) UnmarshalMsgpack([]byte) error { panic("invariant broken") }

// A host type with a large array of scalars, whose type alone is walked
// (TestHoldsRefs): what comes after it is still checked.
type emBigArray struct {
	Bytes [1 << 20]byte `json:"bytes"`
	EmOuter
}

func (*emBigArray) EventType() events.Type { return "em.bigarray" }

func TestRegisterLooksPastAnArrayOfScalars(t *testing.T) {
	reg := events.NewRegistry()
	err := reg.Register("em.bigarray", 1, func() events.Data { return &emBigArray{} })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "emBigArray.EmOuter")
	assert.Contains(t, err.Error(), "nil pointer to a struct type that is not exported")
}

type emText string
type emCounts map[string]int

type emEmbedsText struct {
	emText
	A string `json:"a"`
}

type emEmbedsTextPtr struct {
	*emText
	A string `json:"a"`
}

type emEmbedsMap struct {
	emCounts
	A string `json:"a"`
}

type emEmbedsTextSkipped struct {
	emText `json:"-"`
	A      string `json:"a"`
}

func (*emEmbedsText) EventType() events.Type        { return "em.text" }
func (*emEmbedsTextPtr) EventType() events.Type     { return "em.text" }
func (*emEmbedsMap) EventType() events.Type         { return "em.text" }
func (*emEmbedsTextSkipped) EventType() events.Type { return "em.text" }

// A host type that embeds a type that is not exported and not a struct
// (a string or a map type, or a pointer to one) is refused by Register,
// naming both types: the msgpack codec wrote the field, and its decoder
// panicked on setting it, so that a store took such events and could not
// read them back; encoding/json left the field out. Tagged "-", it is
// taken, and neither codec writes it.
func TestRegisterRefusesAnEmbeddedTypeThatIsNotExportedNorAStruct(t *testing.T) {
	text := emText("t")
	for _, tc := range []struct {
		new  func() events.Data
		want string
	}{
		{func() events.Data { return new(emEmbedsText) }, "events_test.emEmbedsText embeds events_test.emText,"},
		{func() events.Data { return new(emEmbedsTextPtr) }, "events_test.emEmbedsTextPtr embeds *events_test.emText,"},
		{func() events.Data { return &emEmbedsTextPtr{emText: &text} }, "events_test.emEmbedsTextPtr embeds *events_test.emText,"},
		{func() events.Data { return new(emEmbedsMap) }, "events_test.emEmbedsMap embeds events_test.emCounts,"},
	} {
		reg := events.NewRegistry()
		err := reg.Register("em.text", 1, tc.new)
		require.Error(t, err, tc.want)
		assert.ErrorContains(t, err, tc.want+" a type that is not exported and not a struct")
		_, known := reg.Schema("em.text")
		assert.False(t, known, "%s: a refused type is not registered", tc.want)
	}

	reg := events.NewRegistry()
	require.NoError(t, reg.Register("em.text", 1, func() events.Data { return new(emEmbedsTextSkipped) }))
	for _, c := range []events.Codec{events.NewMsgpackCodec(reg), events.NewJSONCodec(reg)} {
		b, err := c.Append(nil, hostEvent(&emEmbedsTextSkipped{emText: "t", A: "a"}))
		require.NoError(t, err)
		got, err := c.Decode(b)
		require.NoError(t, err, c.Name())
		assert.Equal(t, &emEmbedsTextSkipped{A: "a"}, got.Data, c.Name())
	}
}

// emDashField has a field tagged "-,", which encoding/json names "-".
type emDashField struct {
	A string `json:"a"`
	D string `json:"-,"`
}

// emDashBoth names the field for msgpack too.
type emDashBoth struct {
	A string `json:"a"`
	D string `json:"-," msgpack:"dash"`
}

// emSpaceDash has a field tagged " -", which encoding/json names " -"
// and the msgpack codec, trimming spaces as it parses tags, takes for
// "skip".
type emSpaceDash struct {
	D string `json:" -"`
}

func (*emDashField) EventType() events.Type { return "em.dash" }
func (*emDashBoth) EventType() events.Type  { return "em.dash" }
func (*emSpaceDash) EventType() events.Type { return "em.dash" }

// A field tagged json:"-," is refused, naming it: encoding/json writes it
// as a member named "-", and the msgpack codec, reading the json tag,
// skipped it, so that every event lost it under msgpack. With a msgpack
// tag of its own, both codecs keep it.
func TestRegisterRefusesAFieldTaggedDashCommaForJSONAlone(t *testing.T) {
	err := events.NewRegistry().Register("em.dash", 1, func() events.Data { return new(emDashField) })
	require.Error(t, err)
	assert.ErrorContains(t, err, `events_test.emDashField.D (string) is tagged json:"-,", which encoding/json writes as a member named "-"`)
	err = events.NewRegistry().Register("em.dash", 1, func() events.Data { return new(emSpaceDash) })
	assert.ErrorContains(t, err, `is tagged json:" -", which encoding/json writes as a member named " -"`)

	agree(t, func() events.Data { return new(emDashBoth) }, &emDashBoth{A: "a", D: "kept"})
}

type EmAmbA struct{ X string }
type EmAmbB struct{ X string }
type emAmbPair struct{ X, Y string }

// emAmbiguous embeds two structs with a field X each, at one depth.
type emAmbiguous struct {
	EmAmbA
	EmAmbB
	Y string
}

// emAmbTwice embeds one struct twice at one depth, through two others.
type emAmbTwice struct {
	EmAmbViaA
	EmAmbViaB
}
type EmAmbViaA struct{ emAmbPair }
type EmAmbViaB struct{ emAmbPair }

// emAmbTagged tags one of the two, which encoding/json then takes.
type emAmbTagged struct {
	EmAmbA
	EmAmbB `json:"b"`
	Y      string
}

func (*emAmbiguous) EventType() events.Type { return "em.amb" }
func (*emAmbTwice) EventType() events.Type  { return "em.amb" }
func (*emAmbTagged) EventType() events.Type { return "em.amb" }

// A host type with two fields of one name at the same depth of embedding,
// where encoding/json cannot tell which it means, is refused, naming the
// member and the types: encoding/json wrote and read neither, so that the
// JSON codec lost both without a word. Named apart, it is taken.
func TestRegisterRefusesFieldsThatEncodingJSONFindsAmbiguous(t *testing.T) {
	for _, tc := range []struct {
		new  func() events.Data
		want string
	}{
		{func() events.Data { return new(emAmbiguous) }, `events_test.emAmbiguous has two fields named "X" at the same depth (of events_test.EmAmbA and events_test.EmAmbB)`},
		{func() events.Data { return new(emAmbTwice) }, `events_test.emAmbTwice has two fields named "X" at the same depth (of events_test.emAmbPair and events_test.emAmbPair)`},
	} {
		err := events.NewRegistry().Register("em.amb", 1, tc.new)
		require.Error(t, err, tc.want)
		assert.ErrorContains(t, err, tc.want)
	}

	agree(t, func() events.Data { return new(emAmbTagged) }, &emAmbTagged{EmAmbA{"a"}, EmAmbB{"b"}, "y"})
}

type EmShadowA struct{ X int }
type EmShadowB struct{ X int }

// EmShadowInner has two fields named X at one depth: alone, encoding/json
// writes neither.
type EmShadowInner struct {
	EmShadowA
	EmShadowB
}

// emShadowOuter has an X of its own, which encoding/json then takes.
type emShadowOuter struct {
	EmShadowInner
	X int
}

func (*emShadowOuter) EventType() events.Type { return "em.shadow" }

// emDashSelf writes and reads itself in msgpack, and has a field tagged
// "-," that encoding/json writes as "-".
type emDashSelf struct {
	Dash string `json:"-,"`
}

func (*emDashSelf) EventType() events.Type { return "em.dash.self" }

func (d *emDashSelf) EncodeMsgpack(e *msgpack.Encoder) error {
	return e.Encode(map[string]string{"-": d.Dash})
}

func (d *emDashSelf) DecodeMsgpack(dec *msgpack.Decoder) error {
	var m map[string]string
	if err := dec.Decode(&m); err != nil {
		return err
	}
	d.Dash = m["-"]
	return nil
}

// What encoding/json and the msgpack codec both carry is taken: fields
// ambiguous in an embedded struct that the struct embedding it names
// itself, and a field tagged "-," of a type that writes and reads itself
// in msgpack.
func TestRegisterTakesWhatBothCodecsCarry(t *testing.T) {
	agree(t, func() events.Data { return new(emShadowOuter) }, &emShadowOuter{X: 7})
	agree(t, func() events.Data { return new(emDashSelf) }, &emDashSelf{Dash: "d"})
}
