package events_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/truefcr/truefcr/events"
)

// cycleNote is a host's event type that holds any value.
type cycleNote struct {
	Body any `json:"body"`
}

func (*cycleNote) EventType() events.Type { return "acme.cycle" }

type cycleRing struct{ Next *cycleRing }

type cycleInner struct{ Self any }

type cycleOuter struct {
	cycleInner
	N int
}

type cycleBox struct{ Back *cycleNote }

// cycleTree has a parent link that neither codec writes.
type cycleTree struct {
	Name     string       `json:"name"`
	Parent   *cycleTree   `json:"-"`
	Children []*cycleTree `json:"children,omitempty"`
}

// cycleList is a linked list that both codecs write flat, by its own
// marshalers.
type cycleList struct{ Head *cycleRing }

func (l cycleList) flat() []int {
	var out []int
	for n, i := l.Head, 0; n != nil && i < 3; n, i = n.Next, i+1 {
		out = append(out, i)
	}
	return out
}
func (l cycleList) MarshalJSON() ([]byte, error)    { return json.Marshal(l.flat()) }
func (l cycleList) MarshalMsgpack() ([]byte, error) { return msgpack.Marshal(l.flat()) }

type cycleSecret struct {
	hidden map[string]any
	Shown  string
}

// hostEvent returns an event of a host's data d, version 1 of a new issue.
func hostEvent(d events.Data) events.Envelope {
	return events.Envelope{ID: uuid.New(), Issue: uuid.New(), Version: 1, At: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC), Data: d}
}

// A host type's value that holds itself is refused by both codecs, naming
// it, where the msgpack encoder overflowed its stack and ended the process
// (encoding/json finds the cycle itself); values that the encoders write
// without going round, deep or with links they do not follow, are written
// and read back.
func TestCodecsRefuseHostDataThatHoldsItself(t *testing.T) {
	reg := events.NewRegistry()
	require.NoError(t, reg.Register("acme.cycle", 1, func() events.Data { return new(cycleNote) }))
	codecs := []events.Codec{events.NewMsgpackCodec(reg), events.NewJSONCodec(reg)}

	loop := map[string]any{}
	loop["self"] = loop
	ring := &cycleRing{}
	ring.Next = ring
	outer := &cycleOuter{}
	outer.Self = outer
	boxed := &cycleNote{}
	boxed.Body = cycleBox{boxed}
	list := []any{nil}
	list[0] = list
	for name, d := range map[string]*cycleNote{
		"a map that holds itself":                 {Body: loop},
		"a ring of structs":                       {Body: ring},
		"through an unexported embedded struct":   {Body: outer},
		"through a map key":                       {Body: map[any]int{ring: 1}},
		"a struct in an interface, pointing back": boxed,
		"a list that holds itself":                {Body: list},
	} {
		for _, codec := range codecs {
			_, err := codec.Append(nil, hostEvent(d))
			require.ErrorIs(t, err, events.ErrInvalidEvent, "%T: %s", codec, name)
		}
		_, err := codecs[0].Append(nil, hostEvent(d))
		assert.ErrorContains(t, err, "a value that holds itself", name)
	}

	root := &cycleTree{Name: "root"}
	root.Children = []*cycleTree{{Name: "leaf", Parent: root}}
	secret := cycleSecret{hidden: map[string]any{}, Shown: "x"}
	secret.hidden["self"] = secret.hidden
	shared := map[string]any{"k": 1}
	for name, d := range map[string]*cycleNote{
		"a parent link tagged json:\"-\"":       {Body: root},
		"a list that its own marshalers write":  {Body: cycleList{ring}},
		"60 lists deep, to a uuid":              {Body: nestedList(60, uuid.New())},
		"60 lists deep, to a time":              {Body: nestedList(60, time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))},
		"an unexported field that holds itself": {Body: secret},
		"one map twice, side by side":           {Body: []any{shared, shared}},
		"a thousand flat structs":               {Body: make([]struct{ A, B int }, 1000)},
	} {
		for _, codec := range codecs {
			b, err := codec.Append(nil, hostEvent(d))
			require.NoError(t, err, "%T: %s", codec, name)
			_, err = codec.Decode(b)
			require.NoError(t, err, "%T: %s", codec, name)
		}
	}
}

// BenchmarkEncodeHostType encodes a host type's event whose data holds a
// map of JSON values, as a webhook's payload: the walk that looks for a
// value that holds itself goes over every value of it.
func BenchmarkEncodeHostType(b *testing.B) {
	codec, e := webhookEvent(b)
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = codec.Append(buf[:0], e); err != nil {
			b.Fatal(err)
		}
	}
}

// webhookEvent returns the msgpack codec of a registry that knows
// cycleNote, and an event of it whose data holds a map of JSON values, as
// a webhook's payload.
func webhookEvent(b *testing.B) (*events.MsgpackCodec, events.Envelope) {
	reg := events.NewRegistry()
	if err := reg.Register("acme.cycle", 1, func() events.Data { return new(cycleNote) }); err != nil {
		b.Fatal(err)
	}
	body := map[string]any{}
	for i := range 20 {
		body[string(rune('a'+i))] = map[string]any{"n": float64(i), "tags": []any{"x", "y"}}
	}
	return events.NewMsgpackCodec(reg), hostEvent(&cycleNote{Body: body})
}

// BenchmarkDecodeHostType decodes the event of BenchmarkEncodeHostType:
// after the msgpack decoder, the walks that read its times in UTC and
// that stand in for its fields of type any go over every value of it.
func BenchmarkDecodeHostType(b *testing.B) {
	codec, e := webhookEvent(b)
	buf, err := codec.Append(nil, e)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := codec.Decode(buf); err != nil {
			b.Fatal(err)
		}
	}
}
