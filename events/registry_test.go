package events_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/truefcr/truefcr/events"
)

// Escalated is a host application's own event type.
type Escalated struct {
	Contact string            `json:"contact"`
	Level   int               `json:"level"`
	Tags    []string          `json:"tags,omitempty"`
	Notes   map[string]string `json:"notes,omitempty"`
}

const typeEscalated events.Type = "acme.escalated"

func (*Escalated) EventType() events.Type { return typeEscalated }

// EscalatedV1 is the shape of Escalated at schema 1, whose "tier" became
// "level" at schema 2.
type EscalatedV1 struct {
	Contact string `json:"contact"`
	Tier    int    `json:"tier"`
}

func (*EscalatedV1) EventType() events.Type { return typeEscalated }

func codecsOf(reg *events.Registry) []events.Codec {
	return []events.Codec{events.NewMsgpackCodec(reg), events.NewJSONCodec(reg)}
}

func TestHostTypeRoundTrip(t *testing.T) {
	reg := events.NewRegistry()
	require.NoError(t, reg.Register(typeEscalated, 1, func() events.Data { return new(Escalated) }))
	want := envelopeOf(0, &Escalated{Contact: "c-1", Level: 3, Tags: []string{"vip", "legal"}, Notes: map[string]string{"b": "2", "a": "1"}})
	for _, c := range codecsOf(reg) {
		b, err := c.Append(nil, want)
		require.NoError(t, err, c.Name())
		got, err := c.Decode(b)
		require.NoError(t, err, c.Name())
		assert.Equal(t, want, got, c.Name())
		again, err := c.Append(nil, got)
		require.NoError(t, err)
		assert.Equal(t, b, again, "%s: the same event, the same bytes", c.Name())
	}
	schema, ok := reg.Schema(typeEscalated)
	assert.True(t, ok)
	assert.Equal(t, uint64(1), schema)
	assert.Contains(t, reg.Types(), typeEscalated)
}

func TestUpcasterRenamesAField(t *testing.T) {
	v1 := events.NewRegistry()
	require.NoError(t, v1.Register(typeEscalated, 1, func() events.Data { return new(EscalatedV1) }))

	v2 := events.NewRegistry()
	require.NoError(t, v2.Register(typeEscalated, 1, func() events.Data { return new(EscalatedV1) }))
	// Codecs made before the type moves on must follow the registry.
	early := codecsOf(v2)
	require.NoError(t, v2.Register(typeEscalated, 2, func() events.Data { return new(Escalated) }))
	require.NoError(t, v2.AddUpcaster(typeEscalated, 1, func(f map[string]any) (map[string]any, error) {
		f["level"] = f["tier"]
		delete(f, "tier")
		return f, nil
	}))

	old := envelopeOf(1, &EscalatedV1{Contact: "c-1", Tier: 2})
	want := old
	want.Data = &Escalated{Contact: "c-1", Level: 2}
	for i, writer := range codecsOf(v1) {
		b, err := writer.Append(nil, old)
		require.NoError(t, err)
		for _, reader := range []events.Codec{codecsOf(v2)[i], early[i]} {
			got, err := reader.Decode(b)
			require.NoError(t, err, reader.Name())
			assert.Equal(t, want, got, "%s reads schema 1 as schema 2", reader.Name())
		}
	}
}

func TestUpcasterOfABuiltInType(t *testing.T) {
	// A built-in type moves to schema 2: "medium" is renamed "channel".
	reg := events.NewRegistry()
	early := codecsOf(reg) // made while the type is still at schema 1
	require.NoError(t, reg.Register(events.TypeContacted, 2, func() events.Data { return new(events.Contacted) }))
	require.NoError(t, reg.AddUpcaster(events.TypeContacted, 1, func(f map[string]any) (map[string]any, error) {
		f["channel"] = f["medium"]
		delete(f, "medium")
		return f, nil
	}))
	old := envelopeOf(1, &events.Contacted{Contact: contactID, Extra: events.Extra{"medium": "chat"}})
	want := envelopeOf(1, &events.Contacted{Contact: contactID, Channel: "chat"})
	for i, writer := range codecsOf(nil) {
		b, err := writer.Append(nil, old)
		require.NoError(t, err)
		for _, reader := range []events.Codec{codecsOf(reg)[i], early[i]} {
			got, err := reader.Decode(b)
			require.NoError(t, err, reader.Name())
			assert.Equal(t, want, got, reader.Name())

			// Written again, it is at schema 2 and reads back the same.
			b2, err := reader.Append(nil, got)
			require.NoError(t, err)
			got2, err := reader.Decode(b2)
			require.NoError(t, err)
			assert.Equal(t, want, got2, reader.Name())

			// A reader that knows only schema 1 refuses schema 2.
			_, err = writer.Decode(b2)
			assert.ErrorIs(t, err, events.ErrMalformed, "%s reading schema 2 with schema 1", writer.Name())
		}
	}
}

// What an upcaster returns reads from msgpack as msgpack writes it, so that
// the event reads back the same once written; a number msgpack cannot
// write is refused on reading.
func TestMsgpackReadsUpcastExtraAsItWritesIt(t *testing.T) {
	var extra map[string]any
	reg := events.NewRegistry()
	require.NoError(t, reg.Register(events.TypeContacted, 2, func() events.Data { return new(events.Contacted) }))
	require.NoError(t, reg.AddUpcaster(events.TypeContacted, 1, func(f map[string]any) (map[string]any, error) {
		maps.Copy(f, extra)
		return f, nil
	}))
	b, err := events.NewMsgpackCodec(nil).Append(nil, envelopeOf(1, &events.Contacted{Contact: contactID, Channel: "chat"}))
	require.NoError(t, err)
	c := events.NewMsgpackCodec(reg)

	extra = map[string]any{
		"neg0": math.Copysign(0, -1), "padded": json.Number("2.50"), "exp": json.Number("1e2"),
		"min": float64(math.MinInt64), "big": float64(1e20), "list": []any{json.Number("0.50")},
	}
	got, err := c.Decode(b)
	require.NoError(t, err)
	assert.Equal(t, events.Extra{
		"neg0": json.Number("0"), "padded": json.Number("2.5"), "exp": json.Number("100"),
		"min": json.Number("-9223372036854776000"), "big": json.Number("100000000000000000000"), "list": []any{json.Number("0.5")},
	}, got.Data.(*events.Contacted).Extra)
	again, err := c.Append(nil, got)
	require.NoError(t, err)
	back, err := c.Decode(again)
	require.NoError(t, err)
	assert.Equal(t, got, back)

	extra = map[string]any{"x": json.Number("0.10000000000000001")}
	_, err = c.Decode(b)
	assert.ErrorIs(t, err, events.ErrMalformed)
	assert.ErrorContains(t, err, "what the upcasters of issue.contacted from schema 1 returned")
	assert.ErrorContains(t, err, "0.10000000000000001")
}

// wrapOpened is a host's type that embeds a built-in one; deeper embeds
// it one level down.
type wrapOpened struct {
	*events.Opened
	Note string `json:"note"`
}

type deeper struct {
	wrapOpened
	Tier int `json:"tier"`
}

func (deeper) EventType() events.Type { return "acme.deeper" }

// A host's type that embeds a built-in one is refused: the built-in type's
// encoding methods, promoted, would encode the embedded value alone and
// drop the host's own fields in both codecs.
func TestRegisterRefusesAHostTypeThatEmbedsABuiltInOne(t *testing.T) {
	reg := events.NewRegistry()
	err := reg.Register(events.TypeOpened, 2, func() events.Data { return &wrapOpened{Opened: new(events.Opened)} })
	require.ErrorContains(t, err, "*events_test.wrapOpened embeds *events.Opened")
	err = reg.Register("acme.deeper", 1, func() events.Data { return &deeper{} })
	require.ErrorContains(t, err, "embeds *events.Opened")
	_, err = reg.New(events.TypeOpened)
	require.NoError(t, err, "the built-in type stays")
	// The look for an embedded built-in type ends on a type that embeds
	// itself, which is refused as one (TestATypeThatEmbedsItselfIsRefused).
	err = reg.Register("acme.chain", 1, func() events.Data { return &chainNote{} })
	require.ErrorContains(t, err, "chainNote embeds itself")
}

// chainNote embeds a pointer to its own type.
type chainNote struct {
	*chainNote
	Text string `json:"text"`
}

func (*chainNote) EventType() events.Type { return "acme.chain" }

// Data of a Go type other than the one registered for its type name is
// refused by both codecs: it would not read back as it was written (a
// host's type under a built-in name it did not register, say).
func TestCodecsRefuseDataOfAnotherGoType(t *testing.T) {
	e := envelopeOf(0, &hostOpened{Channel: "phone", Who: "anna"})
	for _, c := range codecsOf(events.NewRegistry()) {
		_, err := c.Append(nil, e)
		require.ErrorIs(t, err, events.ErrInvalidEvent, c.Name())
		assert.ErrorContains(t, err, "is a *events_test.hostOpened, where the registry has a *events.Opened", c.Name())
	}
}

func TestBuiltInTypeReplacedByAHostType(t *testing.T) {
	// A host may take over a built-in type name with its own Go type.
	reg := events.NewRegistry()
	require.NoError(t, reg.Register(events.TypeOpened, 1, func() events.Data { return new(hostOpened) }))
	want := envelopeOf(0, &hostOpened{Channel: "phone", Who: "anna"})
	for _, c := range codecsOf(reg) {
		b, err := c.Append(nil, want)
		require.NoError(t, err)
		got, err := c.Decode(b)
		require.NoError(t, err, c.Name())
		assert.Equal(t, want, got, c.Name())
	}
}

type hostOpened struct {
	Channel string `json:"channel"`
	Who     string `json:"who"`
}

func (*hostOpened) EventType() events.Type { return events.TypeOpened }

// named is a host's type whose name is given, to register any name.
type named struct{ name events.Type }

func (n *named) EventType() events.Type { return n.name }

// registerNamed registers a type of the given name.
func registerNamed(reg *events.Registry, name events.Type) error {
	return reg.Register(name, 1, func() events.Data { return &named{name: name} })
}

func TestRegistryRefusesBadRegistrations(t *testing.T) {
	reg := events.NewRegistry()
	tests := []struct {
		name string
		err  error
	}{
		{"no name", reg.Register("", 1, func() events.Data { return new(Escalated) })},
		{"schema 0", reg.Register(typeEscalated, 0, func() events.Data { return new(Escalated) })},
		{"no constructor", reg.Register(typeEscalated, 1, nil)},
		{"constructor of another type", reg.Register("acme.other", 1, func() events.Data { return new(Escalated) })},
		{"constructor of nil", reg.Register(typeEscalated, 1, func() events.Data { return nil })},
		{"constructor of a nil pointer", reg.Register(typeEscalated, 1, func() events.Data { return (*Escalated)(nil) })},
		{"upcaster of an unknown type", reg.AddUpcaster("acme.unknown", 1, identityUpcast)},
		{"upcaster from the current schema", reg.AddUpcaster(events.TypeOpened, 1, identityUpcast)},
		{"name with a NUL", registerNamed(reg, "acme.esc\x00alated")},
		{"name not UTF-8", registerNamed(reg, "acme.escalated\xff")},
		{"name with a newline", registerNamed(reg, "acme.escalated\n")},
	}
	for _, tt := range tests {
		assert.Error(t, tt.err, tt.name)
	}
	assert.ErrorIs(t, tests[6].err, events.ErrUnknownType)
	assert.ErrorContains(t, tests[5].err, "makes no data")
	for _, tt := range tests[8:] {
		assert.ErrorContains(t, tt.err, "not UTF-8 text without control characters", tt.name)
	}
	err := reg.Register(typeNote, 1, func() events.Data { return note{} })
	assert.ErrorContains(t, err, `register event type "acme.note": the constructor makes a events_test.note, not a pointer`)
	require.NoError(t, registerNamed(events.NewRegistry(), "acme.escalated-ünïcode"), "UTF-8 text is a name")
	_, err = reg.New("acme.unknown")
	assert.ErrorIs(t, err, events.ErrUnknownType)
	assert.Len(t, reg.Types(), 9, "nothing was registered")
}

// note is an event type whose methods have a value receiver: the codecs
// cannot decode into the value its constructor would return.
type note struct{ Text string }

const typeNote events.Type = "acme.note"

func (note) EventType() events.Type { return typeNote }

// An upcaster sees the fields as the JSON wire format gives them, and what
// it returns is read as JSON, whichever codec read the event: numbers as
// float64, ids as strings.
func TestUpcasterSeesTheSameFieldsThroughBothCodecs(t *testing.T) {
	other := uuid.MustParse("0193a4c2-7a9e-7000-8000-0000000000c2")
	reg := events.NewRegistry()
	require.NoError(t, reg.Register(events.TypeRouted, 2, func() events.Data { return new(events.Routed) }))
	require.NoError(t, reg.AddUpcaster(events.TypeRouted, 1, func(f map[string]any) (map[string]any, error) {
		// Schema 1 counted the wait in seconds, under wait_ms.
		w, ok := f["wait_ms"].(float64)
		if !ok {
			return nil, fmt.Errorf("wait_ms is a %T", f["wait_ms"])
		}
		c, ok := f["contact"].(string)
		if !ok || c != contactID.String() {
			return nil, fmt.Errorf("contact is %#v", f["contact"])
		}
		f["wait_ms"] = w * 1000
		f["contact"] = other.String()
		return f, nil
	}))
	old := envelopeOf(1, &events.Routed{Contact: contactID, Queue: "billing", Wait: 42 * time.Millisecond})
	want := envelopeOf(1, &events.Routed{Contact: other, Queue: "billing", Wait: 42 * time.Second})
	for i, writer := range codecsOf(nil) {
		b, err := writer.Append(nil, old)
		require.NoError(t, err)
		got, err := codecsOf(reg)[i].Decode(b)
		require.NoError(t, err, writer.Name())
		assert.Equal(t, want, got, writer.Name())
	}
}

// measured is a host's type with fields that msgpack and JSON write
// differently.
type measured struct {
	Ratio float32   `json:"ratio"`
	Raw   []byte    `json:"raw"`
	Small [4]byte   `json:"small"`
	Count int64     `json:"count,string"`
	When  time.Time `json:"when"`
	ID    uuid.UUID `json:"id"`
	// Maps whose keys are not strings: msgpack writes them as they are.
	Codes  map[int]string           `json:"codes"`
	Nested map[string]map[uint8]int `json:"nested"`
}

func (*measured) EventType() events.Type { return "acme.measured" }

// An identity upcaster of a host's type leaves its fields as they were,
// through both codecs, maps with keys other than strings included.
func TestIdentityUpcasterOfAHostTypeThroughBothCodecs(t *testing.T) {
	v1, v2 := events.NewRegistry(), events.NewRegistry()
	require.NoError(t, v1.Register("acme.measured", 1, func() events.Data { return new(measured) }))
	require.NoError(t, v2.Register("acme.measured", 2, func() events.Data { return new(measured) }))
	require.NoError(t, v2.AddUpcaster("acme.measured", 1, identityUpcast))
	d := &measured{Ratio: 0.25, Raw: []byte("abc"), Small: [4]byte{1, 2, 3, 4}, Count: 7,
		When: time.Date(2026, 3, 2, 9, 0, 0, 5, time.UTC), ID: contactID,
		Codes: map[int]string{-1: "minus one", 404: "not found"}, Nested: map[string]map[uint8]int{"a": {1: 2, 200: 3}}}
	e := envelopeOf(1, d)
	for i, writer := range codecsOf(v1) {
		b, err := writer.Append(nil, e)
		require.NoError(t, err)
		got, err := codecsOf(v2)[i].Decode(b)
		require.NoError(t, err, writer.Name())
		m := got.Data.(*measured)
		assert.True(t, m.When.Equal(d.When), writer.Name())
		m.When = m.When.UTC() // msgpack gives host types' times in the local zone
		assert.Equal(t, d, m, writer.Name())
	}
}

// Under msgpack, an upcaster of a host's type sees a map whose keys are not
// strings with its keys normalised as its values are (int64).
func TestUpcasterSeesIntegerKeysOfAHostMap(t *testing.T) {
	v1, v2 := events.NewRegistry(), events.NewRegistry()
	require.NoError(t, v1.Register("acme.measured", 1, func() events.Data { return new(measured) }))
	require.NoError(t, v2.Register("acme.measured", 2, func() events.Data { return new(measured) }))
	var seen any
	require.NoError(t, v2.AddUpcaster("acme.measured", 1, func(f map[string]any) (map[string]any, error) {
		seen = f["codes"]
		return f, nil
	}))
	b, err := events.NewMsgpackCodec(v1).Append(nil, envelopeOf(1, &measured{Codes: map[int]string{7: "seven"}}))
	require.NoError(t, err)
	got, err := events.NewMsgpackCodec(v2).Decode(b)
	require.NoError(t, err)
	assert.Equal(t, map[any]any{int64(7): "seven"}, seen)
	assert.Equal(t, map[int]string{7: "seven"}, got.Data.(*measured).Codes)
}

// IsBuiltin tells the lifecycle types' own Go types from a host's, one
// that embeds a built-in type included.
func TestIsBuiltin(t *testing.T) {
	type embedding struct{ events.Opened }
	for _, d := range []events.Data{new(events.Opened), new(events.Routed), new(events.Consulted), new(events.Resolved),
		new(events.Reopened), new(events.Contacted), new(events.Abandoned), new(events.Rated), new(events.Classified)} {
		assert.True(t, events.IsBuiltin(d), "%T", d)
	}
	assert.False(t, events.IsBuiltin(new(Escalated)))
	assert.False(t, events.IsBuiltin(&embedding{}))
}

// A codec made before issue.opened moved to a new schema reads an
// opening whose customer nests as deep as the data may, as one made after
// it does: it told the opening by the registry's entry it had found, and
// skipped the new entry's data without the customer's allowance.
func TestEarlyCodecReadsADeepCustomerOfANewOpeningSchema(t *testing.T) {
	deep := any("x")
	for range 64 {
		deep = map[string]any{"k": deep}
	}
	e := envelopeOf(0, &events.Opened{Customer: events.Customer{ID: "C-1", Extra: events.Extra{"deep": deep}},
		Channel: "phone", Topic: "billing", Contact: contactID})
	reg := events.NewRegistry()
	early := codecsOf(reg)
	require.NoError(t, reg.Register(events.TypeOpened, 2, func() events.Data { return new(events.Opened) }))
	require.NoError(t, reg.AddUpcaster(events.TypeOpened, 1, identityUpcast))
	for i, writer := range codecsOf(nil) {
		b, err := writer.Append(nil, e)
		require.NoError(t, err)
		want, err := codecsOf(reg)[i].Decode(b)
		require.NoError(t, err, "%s, made after the new schema", writer.Name())
		got, err := early[i].Decode(b)
		require.NoError(t, err, "%s, made before it", writer.Name())
		assert.Equal(t, want, got)
	}
}

// Where what the upcasters return, or a host type's data, does not read,
// the msgpack codec names the member and says what was wrong in the wire
// format's words, as the JSON codec does; it named the data alone, and
// spoke of Go types.
func TestBothCodecsNameTheMemberThatDoesNotRead(t *testing.T) {
	rated := events.NewRegistry()
	require.NoError(t, rated.Register(events.TypeRated, 2, func() events.Data { return new(events.Rated) }))
	require.NoError(t, rated.AddUpcaster(events.TypeRated, 1, func(f map[string]any) (map[string]any, error) {
		switch f["survey"] {
		case "nps":
			delete(f, "score")
		case "csat":
			f["score"] = "five"
		}
		return f, nil
	}))
	escalated := events.NewRegistry()
	require.NoError(t, escalated.Register(typeEscalated, 1, func() events.Data { return new(Escalated) }))
	loose := events.NewRegistry()
	require.NoError(t, loose.Register(typeEscalated, 1, func() events.Data { return new(escalatedLoose) }))
	tests := []struct {
		name      string
		writer    *events.Registry
		reader    *events.Registry
		written   events.Data
		field     string
		wantError string
	}{
		{"a score the upcaster left out", nil, rated, &events.Rated{Survey: events.SurveyNPS, Score: 3, Contact: contactID}, "data.score", "missing"},
		{"a score the upcaster made a string", nil, rated, &events.Rated{Survey: events.SurveyCSAT, Score: 5, Contact: contactID}, "data.score", "want a whole number"},
		{"a host type's level of another type", loose, escalated, &escalatedLoose{Contact: "c-1", Level: "high"}, "data.level", "want a whole number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i, writer := range codecsOf(tt.writer) {
				b, err := writer.Append(nil, envelopeOf(1, tt.written))
				require.NoError(t, err)
				_, err = codecsOf(tt.reader)[i].Decode(b)
				var de *events.DecodeError
				require.ErrorAs(t, err, &de, writer.Name())
				assert.Equal(t, tt.field, de.Field, "%s: %v", writer.Name(), err)
				assert.Contains(t, err.Error(), tt.wantError, writer.Name())
				assert.NotContains(t, err.Error(), "Go ", writer.Name())
				assert.ErrorIs(t, err, events.ErrMalformed, writer.Name())
			}
		})
	}
}

// escalatedLoose is Escalated as a careless producer writes it, its
// level a string.
type escalatedLoose struct {
	Contact string `json:"contact"`
	Level   string `json:"level"`
}

func (*escalatedLoose) EventType() events.Type { return typeEscalated }

// keeper is a host type that keeps the bytes its UnmarshalJSON is given,
// which encoding/json does not allow, but which a host may well do.
type keeper struct{ raw []byte }

func (*keeper) EventType() events.Type         { return "acme.kept" }
func (k *keeper) MarshalJSON() ([]byte, error) { return k.raw, nil }
func (k *keeper) UnmarshalJSON(b []byte) error { k.raw = b; return nil }

// A host type's UnmarshalJSON is given bytes of its own, not the
// caller's, which the caller may reuse (a LineReader's buffer, a
// message's payload).
func TestJSONHostTypeGetsBytesOfItsOwn(t *testing.T) {
	reg := events.NewRegistry()
	require.NoError(t, reg.Register("acme.kept", 1, func() events.Data { return new(keeper) }))
	c := events.NewJSONCodec(reg)
	src, err := c.Append(nil, envelopeOf(1, &keeper{raw: []byte(`{"n":1}`)}))
	require.NoError(t, err)
	e, err := c.Decode(src)
	require.NoError(t, err)
	for i := range src {
		src[i] = 'x'
	}
	assert.Equal(t, `{"n":1}`, string(e.Data.(*keeper).raw))
}

// strictLevel is a host type whose msgpack decoder checks the whole
// object: a level outside 1 to 5 is refused.
type strictLevel struct {
	Contact string `json:"contact"`
	Level   int    `json:"level"`
}

func (*strictLevel) EventType() events.Type { return "acme.strict" }

func (s *strictLevel) DecodeMsgpack(dec *msgpack.Decoder) error {
	type plain strictLevel
	if err := dec.Decode((*plain)(s)); err != nil {
		return err
	}
	if s.Level < 1 || s.Level > 5 {
		return fmt.Errorf("level %d is out of range 1..5", s.Level)
	}
	return nil
}

// nestedLevel is a host type with a member that is an object.
type nestedLevel struct {
	Contact string `json:"contact"`
	Nested  struct {
		X int `json:"x"`
	} `json:"nested"`
}

func (*nestedLevel) EventType() events.Type { return "acme.nested" }

// The msgpack codec names a host type's member only where that member
// does not read for its type, with the path within it, as JSON does; a
// type's own check of the whole object keeps its error and names the data.
func TestMsgpackNamesAHostMemberOnlyWhereItIsTheOne(t *testing.T) {
	reg := events.NewRegistry()
	require.NoError(t, reg.Register("acme.strict", 1, func() events.Data { return new(strictLevel) }))
	require.NoError(t, reg.Register("acme.nested", 1, func() events.Data { return new(nestedLevel) }))
	loose := events.NewRegistry()
	require.NoError(t, loose.Register("acme.strict", 1, func() events.Data { return new(looseStrict) }))
	require.NoError(t, loose.Register("acme.nested", 1, func() events.Data { return new(looseNested) }))
	c := events.NewMsgpackCodec(reg)
	for _, tt := range []struct {
		written   events.Data
		field     string
		wantError string
	}{
		{&looseStrict{Contact: "c", Level: 9}, "data", "level 9 is out of range 1..5"},
		{&looseNested{Contact: "c", Nested: map[string]any{"x": "s"}}, "data.nested.x", "want a whole number, found a string"},
	} {
		b, err := events.NewMsgpackCodec(loose).Append(nil, envelopeOf(1, tt.written))
		require.NoError(t, err)
		_, err = c.Decode(b)
		var de *events.DecodeError
		require.ErrorAs(t, err, &de)
		assert.Equal(t, tt.field, de.Field, "%v", err)
		assert.Contains(t, err.Error(), tt.wantError)
	}
}

// looseStrict and looseNested write what strictLevel and nestedLevel read.
type looseStrict struct {
	Contact string `json:"contact"`
	Level   int    `json:"level"`
}

func (*looseStrict) EventType() events.Type { return "acme.strict" }

type looseNested struct {
	Contact string         `json:"contact"`
	Nested  map[string]any `json:"nested"`
}

func (*looseNested) EventType() events.Type { return "acme.nested" }

// errTierGone is a host's own error, returned by its upcaster.
var errTierGone = errors.New("tier no longer exists")

// An upcaster's own error reaches the caller wrapped, beside
// events.ErrMalformed, through both codecs: a host can tell it apart with
// errors.Is, where the codecs flattened it to text.
func TestAnUpcastersErrorIsWrapped(t *testing.T) {
	reg := events.NewRegistry()
	require.NoError(t, reg.Register(typeEscalated, 2, func() events.Data { return new(Escalated) }))
	require.NoError(t, reg.AddUpcaster(typeEscalated, 1, func(map[string]any) (map[string]any, error) {
		return nil, fmt.Errorf("tier 7: %w", errTierGone)
	}))
	v1 := events.NewRegistry()
	require.NoError(t, v1.Register(typeEscalated, 1, func() events.Data { return new(EscalatedV1) }))
	for i, writer := range codecsOf(v1) {
		b, err := writer.Append(nil, envelopeOf(1, &EscalatedV1{Contact: "c-1", Tier: 7}))
		require.NoError(t, err)
		_, err = codecsOf(reg)[i].Decode(b)
		assert.ErrorIs(t, err, errTierGone, writer.Name())
		assert.ErrorIs(t, err, events.ErrMalformed, writer.Name())
		assert.ErrorContains(t, err, "tier 7: tier no longer exists", writer.Name())
	}
}

// An upcaster that panics on one odd old event fails that event's
// decoding, through both codecs and the JSON Lines reader, with the
// panic's value and stack, rather than ending the process; the events
// around it decode.
func TestAnUpcastersPanicFailsTheEvent(t *testing.T) {
	reg := events.NewRegistry()
	require.NoError(t, reg.Register(typeEscalated, 2, func() events.Data { return new(Escalated) }))
	require.NoError(t, reg.AddUpcaster(typeEscalated, 1, func(f map[string]any) (map[string]any, error) {
		if f["tier"] == nil {
			panic("no tier")
		}
		f["level"] = f["tier"]
		delete(f, "tier")
		return f, nil
	}))
	v1 := events.NewRegistry()
	require.NoError(t, v1.Register(typeEscalated, 1, func() events.Data { return new(looseEscalatedV1) }))
	for i, writer := range codecsOf(v1) {
		good, err := writer.Append(nil, envelopeOf(1, &looseEscalatedV1{Contact: "c-1", Tier: ptr(7)}))
		require.NoError(t, err)
		odd, err := writer.Append(nil, envelopeOf(1, &looseEscalatedV1{Contact: "c-2"}))
		require.NoError(t, err)
		reader := codecsOf(reg)[i]

		_, err = reader.Decode(odd)
		var pe *events.UpcasterPanicError
		require.ErrorAs(t, err, &pe, writer.Name())
		assert.Equal(t, "no tier", pe.Value)
		assert.Equal(t, typeEscalated, pe.Type)
		assert.Equal(t, uint64(1), pe.From)
		assert.Contains(t, string(pe.Stack), "TestAnUpcastersPanicFailsTheEvent", "the stack where it panicked")
		var de *events.DecodeError
		require.ErrorAs(t, err, &de, writer.Name())
		assert.ErrorIs(t, err, events.ErrMalformed)
		assert.ErrorContains(t, err, "upcast acme.escalated from schema 1: the upcaster panicked: no tier")

		got, err := reader.Decode(good)
		require.NoError(t, err, "the codec goes on: %s", writer.Name())
		assert.Equal(t, 7, got.Data.(*Escalated).Level)
	}

	// JSON Lines: the odd line is reported with its number, the others read.
	jsonV1 := events.NewJSONCodec(v1)
	var lines []byte
	for _, d := range []*looseEscalatedV1{{Contact: "c-1", Tier: ptr(1)}, {Contact: "c-2"}, {Contact: "c-3", Tier: ptr(3)}} {
		b, err := jsonV1.Append(nil, envelopeOf(1, d))
		require.NoError(t, err)
		lines = append(append(lines, b...), '\n')
	}
	lr := events.NewLineReader(bytes.NewReader(lines), events.NewJSONCodec(reg))
	var levels []int
	var failed []error
	for e, err := range lr.All() {
		if err != nil {
			failed = append(failed, err)
			continue
		}
		levels = append(levels, e.Data.(*Escalated).Level)
	}
	assert.Equal(t, []int{1, 3}, levels)
	require.Len(t, failed, 1)
	var le *events.LineError
	require.ErrorAs(t, failed[0], &le)
	assert.Equal(t, 2, le.Line)
	assert.ErrorContains(t, failed[0], "panicked: no tier")
}

// looseEscalatedV1 is EscalatedV1 whose tier may be missing, as in an odd
// old event.
type looseEscalatedV1 struct {
	Contact string `json:"contact"`
	Tier    *int   `json:"tier,omitempty"`
}

func (*looseEscalatedV1) EventType() events.Type { return typeEscalated }

func ptr[T any](v T) *T { return &v }

// marshalPanics's MarshalJSON panics, as a host's value handed back by an
// upcaster might.
type marshalPanics struct{}

func (marshalPanics) MarshalJSON() ([]byte, error) { panic("MarshalJSON") }

// What an upcaster returns cannot end the process either: no fields, a
// cycle (which the encoders would follow until the stack overflows, a
// fatal error no recover catches) and a value whose encoding panics each
// fail the event's decoding, through both codecs, for a host's type and
// a built-in one.
func TestAnUpcastersHostileReturnFailsTheEvent(t *testing.T) {
	with := func(odd func() any) events.Upcaster {
		return func(f map[string]any) (map[string]any, error) {
			f["odd"] = odd()
			return f, nil
		}
	}
	cases := []struct {
		name, want string
		up         events.Upcaster
	}{
		{"no fields", "returned no fields", func(map[string]any) (map[string]any, error) { return nil, nil }},
		{"a cycle", "nested deeper than", with(func() any {
			m := map[string]any{}
			m["self"] = m
			return m
		})},
		{"a panicking encoding", "panicked: MarshalJSON", with(func() any { return marshalPanics{} })},
	}
	v1 := events.NewRegistry()
	require.NoError(t, v1.Register(typeEscalated, 1, func() events.Data { return new(looseEscalatedV1) }))
	for _, c := range cases {
		reg := events.NewRegistry()
		require.NoError(t, reg.Register(typeEscalated, 2, func() events.Data { return new(Escalated) }))
		require.NoError(t, reg.AddUpcaster(typeEscalated, 1, c.up))
		require.NoError(t, reg.Register(events.TypeClassified, 2, func() events.Data { return new(events.Classified) }))
		require.NoError(t, reg.AddUpcaster(events.TypeClassified, 1, c.up))
		for i, writer := range codecsOf(v1) {
			for _, old := range []events.Data{&looseEscalatedV1{Contact: "c-1", Tier: ptr(7)}, &events.Classified{Topic: "billing"}} {
				b, err := writer.Append(nil, envelopeOf(1, old))
				require.NoError(t, err)
				_, err = codecsOf(reg)[i].Decode(b)
				if _, host := old.(*looseEscalatedV1); host && writer.Name() == "msgpack" && c.name == "a panicking encoding" {
					assert.NoError(t, err)
					continue
				}
				var de *events.DecodeError
				require.ErrorAs(t, err, &de, "%s, %s, %T", c.name, writer.Name(), old)
				assert.ErrorContains(t, err, c.want, "%s, %s, %T", c.name, writer.Name(), old)
			}
		}
	}
}
