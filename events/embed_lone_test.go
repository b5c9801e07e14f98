package events_test

import (
	"encoding/json"
	"errors"
	"math/big"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/truefcr/truefcr/events"
)

// roundTrips registers d's type, made new and zero, and checks that both
// codecs write d and read it back equal (agree).
func roundTrips(t *testing.T, d events.Data) {
	t.Helper()
	typ := reflect.TypeOf(d).Elem()
	agree(t, func() events.Data { return reflect.New(typ).Interface().(events.Data) }, d)
}

// Lone embedded fields: the codecs write the whole value through the
// methods of the one field it has, where they read it back so.

// loneStamp gets the codec methods of the time.Time it embeds, which
// write the time alone.
type loneStamp struct {
	time.Time
	By string `json:"by"`
}

// loneAudit embeds it alone, and declares every codec method itself.
type loneAudit struct{ loneStamp }

type loneAuditWire struct {
	At time.Time `json:"at"`
	By string    `json:"by"`
}

func (*loneAudit) EventType() events.Type { return "lone.audit" }
func (a loneAudit) MarshalJSON() ([]byte, error) {
	return json.Marshal(loneAuditWire{a.Time, a.By})
}
func (a loneAudit) MarshalMsgpack() ([]byte, error) {
	return msgpack.Marshal(loneAuditWire{a.Time, a.By})
}
func (a *loneAudit) UnmarshalJSON(b []byte) error {
	var w loneAuditWire
	err := json.Unmarshal(b, &w)
	a.Time, a.By = w.At, w.By
	return err
}
func (a *loneAudit) UnmarshalMsgpack(b []byte) error {
	var w loneAuditWire
	err := msgpack.Unmarshal(b, &w)
	a.Time, a.By = w.At.UTC(), w.By
	return err
}

// loneMeta is skipped by both codecs, and gives no codec method.
type loneMeta struct{ Source string }

// loneUserID is a typed id beside a field the codecs skip.
type loneUserID struct {
	uuid.UUID
	loneMeta `json:"-" msgpack:"-"`
}

type loneHoldsUserID struct {
	ID loneUserID `json:"id"`
}

func (*loneHoldsUserID) EventType() events.Type { return "lone.holds.user.id" }

// loneCode reads itself as it writes itself, as text.
type loneCode string

func (c loneCode) MarshalText() ([]byte, error) { return []byte(strings.ToUpper(string(c))), nil }
func (c *loneCode) UnmarshalText(b []byte) error {
	*c = loneCode(strings.ToLower(string(b)))
	return nil
}

type loneCodeID struct{ loneCode }

type loneHoldsCode struct {
	ID loneCodeID `json:"id"`
}

func (*loneHoldsCode) EventType() events.Type { return "lone.holds.code" }

// Types that each codec writes whole through a lone embedded field's
// methods, or through their own, are taken and read back.
func TestRegisterTakesWhatALoneFieldWritesWhole(t *testing.T) {
	roundTrips(t, &loneAudit{loneStamp{time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC), "ana"}})
	roundTrips(t, &loneHoldsUserID{ID: loneUserID{UUID: uuid.MustParse("0193a4c2-7a9e-7000-8000-0000000000c1")}})
	roundTrips(t, &loneHoldsCode{ID: loneCodeID{"abc"}})
}

// loneWriteOnly writes itself as text, but does not read itself: a field
// of it is read back as the string it is, a struct of it alone is not.
type loneWriteOnly string

func (c loneWriteOnly) MarshalText() ([]byte, error) { return []byte(strings.ToUpper(string(c))), nil }

type loneWriteOnlyID struct{ loneWriteOnly }

type loneHoldsWriteOnly struct {
	ID loneWriteOnlyID `json:"id"`
}

func (*loneHoldsWriteOnly) EventType() events.Type { return "lone.holds.write.only" }

// loneWraps embeds an interface of a codec method alone: encoding/json
// calls it through the nil it holds in a value the decoder made.
type loneWraps struct{ json.Marshaler }

type loneHoldsWraps struct {
	W loneWraps `json:"w"`
}

func (*loneHoldsWraps) EventType() events.Type { return "lone.holds.wraps" }

func TestRegisterRefusesALoneFieldThatDoesNotReadWhatItWrites(t *testing.T) {
	for _, tc := range []struct {
		new  func() events.Data
		want string
	}{
		{func() events.Data { return new(loneHoldsWriteOnly) },
			"loneHoldsWriteOnly.ID (events_test.loneWriteOnlyID) gets MarshalText from the events_test.loneWriteOnly it embeds"},
		{func() events.Data { return new(loneHoldsWraps) },
			"loneHoldsWraps.W (events_test.loneWraps) gets MarshalJSON from the json.Marshaler it embeds"},
	} {
		d := tc.new()
		err := events.NewRegistry().Register(d.EventType(), 1, tc.new)
		assert.ErrorContains(t, err, tc.want)
	}
}

// Values held in a map are written through their value's methods alone:
// the codecs cannot take their address.
type inMapBig struct {
	M map[string]big.Int `json:"m"`
}

func (*inMapBig) EventType() events.Type { return "in.map.big" }

type inMapField struct {
	M map[string]struct {
		Pair [2]big.Int `json:"pair"`
	} `json:"m"`
}

func (*inMapField) EventType() events.Type { return "in.map.field" }

type inMapPtr struct {
	M map[string]*big.Int `json:"m"`
	L []big.Int           `json:"l"`
	N big.Int             `json:"n"`
	// The same type in a map, after it was looked into where it is
	// addressable.
	Later map[string][]big.Int `json:"later"`
}

func (*inMapPtr) EventType() events.Type { return "in.map.ptr" }

type inMapAfter struct {
	N big.Int            `json:"n"`
	M map[string]big.Int `json:"m"`
}

func (*inMapAfter) EventType() events.Type { return "in.map.after" }

func TestRegisterRefusesAPointerWriterHeldInAMap(t *testing.T) {
	for _, tc := range []struct {
		new  func() events.Data
		want string
	}{
		{func() events.Data { return new(inMapBig) }, "inMapBig.M[] (big.Int) is held by value"},
		{func() events.Data { return new(inMapField) }, "inMapField.M[].Pair[] (big.Int) is held by value"},
		{func() events.Data { return new(inMapAfter) }, "inMapAfter.M[] (big.Int) is held by value"},
	} {
		d := tc.new()
		err := events.NewRegistry().Register(d.EventType(), 1, tc.new)
		assert.ErrorContains(t, err, tc.want)
		assert.ErrorContains(t, err, "hold a *big.Int there")
	}
	roundTrips(t, &inMapPtr{M: map[string]*big.Int{"a": big.NewInt(5)}, L: []big.Int{*big.NewInt(6)}, N: *big.NewInt(7),
		Later: map[string][]big.Int{"b": {*big.NewInt(8)}}})
}

// Map keys are written through their value's methods alone too, and
// read through UnmarshalText.
type ptrTextInt int

func (k *ptrTextInt) MarshalText() ([]byte, error) { return []byte("k" + strconv.Itoa(int(*k))), nil }
func (k *ptrTextInt) UnmarshalText(b []byte) error {
	n, err := strconv.Atoi(strings.TrimPrefix(string(b), "k"))
	*k = ptrTextInt(n)
	return err
}

type ptrTextString string

func (k *ptrTextString) MarshalText() ([]byte, error) { return []byte("s" + string(*k)), nil }
func (k *ptrTextString) UnmarshalText(b []byte) error {
	*k = ptrTextString(strings.TrimPrefix(string(b), "s"))
	return nil
}

// ptrJSONInt has a MarshalJSON of a pointer receiver, which neither codec
// calls for a key.
type ptrJSONInt int

func (k *ptrJSONInt) MarshalJSON() ([]byte, error) { return []byte(`"j"`), nil }

type keyedByPtrText struct {
	M map[ptrTextInt]int `json:"m"`
}

func (*keyedByPtrText) EventType() events.Type { return "keyed.ptr.text" }

type keyedByPtrString struct {
	M map[ptrTextString]int `json:"m"`
}

func (*keyedByPtrString) EventType() events.Type { return "keyed.ptr.string" }

type keyedByPtrJSON struct {
	M map[ptrJSONInt]int `json:"m"`
}

func (*keyedByPtrJSON) EventType() events.Type { return "keyed.ptr.json" }

func TestRegisterRefusesAKeyWrittenThroughAPointer(t *testing.T) {
	for _, tc := range []struct {
		new  func() events.Data
		want string
	}{
		// encoding/json writes it as a number and reads it through
		// UnmarshalText; msgpack refuses to write it.
		{func() events.Data { return new(keyedByPtrText) }, "keyedByPtrText.M[key] (events_test.ptrTextInt) is held by value"},
		// encoding/json writes the string and reads it through
		// UnmarshalText, which takes its prefix.
		{func() events.Data { return new(keyedByPtrString) }, "keyedByPtrString.M[key] (events_test.ptrTextString) is held by value"},
	} {
		d := tc.new()
		err := events.NewRegistry().Register(d.EventType(), 1, tc.new)
		assert.ErrorContains(t, err, tc.want)
		assert.ErrorContains(t, err, "a MarshalText of a value receiver")
		assert.NotContains(t, err.Error(), "hold a *")
	}
	roundTrips(t, &keyedByPtrJSON{M: map[ptrJSONInt]int{3: 1}})
}

// A type that a map holds as its value is checked again as its key, the
// other way the codecs write it.
type taggedID struct {
	uuid.UUID
	Label string `json:"label"`
}

type taggedWire struct {
	ID    uuid.UUID `json:"id"`
	Label string    `json:"label"`
}

func (k taggedID) MarshalJSON() ([]byte, error) { return json.Marshal(taggedWire{k.UUID, k.Label}) }
func (k taggedID) MarshalMsgpack() ([]byte, error) {
	return msgpack.Marshal(taggedWire{k.UUID, k.Label})
}
func (k *taggedID) UnmarshalJSON(b []byte) error {
	var w taggedWire
	err := json.Unmarshal(b, &w)
	*k = taggedID{w.ID, w.Label}
	return err
}
func (k *taggedID) UnmarshalMsgpack(b []byte) error {
	var w taggedWire
	err := msgpack.Unmarshal(b, &w)
	*k = taggedID{w.ID, w.Label}
	return err
}

type valueThenKey struct {
	ByName map[string]taggedID `json:"by_name"`
	Counts map[taggedID]int    `json:"counts"`
}

func (*valueThenKey) EventType() events.Type { return "value.then.key" }

func TestRegisterChecksAKeyOfATypeSeenAsAValue(t *testing.T) {
	err := events.NewRegistry().Register("value.then.key", 1, func() events.Data { return new(valueThenKey) })
	assert.ErrorContains(t, err, "valueThenKey.Counts[key] (events_test.taggedID) gets MarshalText and UnmarshalText from the uuid.UUID it embeds")
	id := taggedID{uuid.MustParse("0193a4c2-7a9e-7000-8000-0000000000c1"), "ana"}
	roundTrips(t, &valueOnly{ByName: map[string]taggedID{"a": id}})
}

type valueOnly struct {
	ByName map[string]taggedID `json:"by_name"`
}

func (*valueOnly) EventType() events.Type { return "value.only" }

// Scalars that write themselves one way and read themselves another.

// writeOnlyInt writes itself as text, and has nothing to read that.
type writeOnlyInt int

func (k writeOnlyInt) MarshalText() ([]byte, error) { return []byte("k" + strconv.Itoa(int(k))), nil }

// upperString writes itself in capitals, and would be read as written.
type upperString string

func (k upperString) MarshalText() ([]byte, error) { return []byte(strings.ToUpper(string(k))), nil }

// readOnlyInt reads itself from text, but is written as a number.
type readOnlyInt int

func (k *readOnlyInt) UnmarshalText(b []byte) error {
	n, err := strconv.Atoi(string(b))
	*k = readOnlyInt(n)
	return err
}

// checkedName reads itself, refusing what is not a name; it is written as
// the string it is, which it reads back.
type checkedName string

func (k *checkedName) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		return errors.New("empty name")
	}
	*k = checkedName(b)
	return nil
}

type oneWayField struct {
	F writeOnlyInt `json:"f"`
}

func (*oneWayField) EventType() events.Type { return "one.way.field" }

type oneWayKey struct {
	M map[writeOnlyInt]int `json:"m"`
}

func (*oneWayKey) EventType() events.Type { return "one.way.key" }

type oneWayString struct {
	S []upperString `json:"s"`
}

func (*oneWayString) EventType() events.Type { return "one.way.string" }

type readOnlyField struct {
	F *readOnlyInt `json:"f"`
}

func (*readOnlyField) EventType() events.Type { return "read.only.field" }

type checkedNames struct {
	N checkedName         `json:"n"`
	M map[checkedName]int `json:"m"`
}

func (*checkedNames) EventType() events.Type { return "checked.names" }

func TestRegisterRefusesAScalarThatDoesNotReadWhatItWrites(t *testing.T) {
	for _, tc := range []struct {
		new  func() events.Data
		want string
	}{
		{func() events.Data { return new(oneWayField) }, "oneWayField.F (events_test.writeOnlyInt) has MarshalText but not UnmarshalText"},
		{func() events.Data { return new(oneWayKey) }, "oneWayKey.M[key] (events_test.writeOnlyInt) has MarshalText but not UnmarshalText"},
		{func() events.Data { return new(oneWayString) }, "oneWayString.S[] (events_test.upperString) has MarshalText but not UnmarshalText"},
		{func() events.Data { return new(readOnlyField) }, "readOnlyField.F (events_test.readOnlyInt) has UnmarshalText but not MarshalText"},
	} {
		d := tc.new()
		assert.ErrorContains(t, events.NewRegistry().Register(d.EventType(), 1, tc.new), tc.want)
	}
	roundTrips(t, &checkedNames{N: "ana", M: map[checkedName]int{"bo": 1}})
}

func TestRegisterSaysHowAStringKeyIsWritten(t *testing.T) {
	err := events.NewRegistry().Register("keyed.ptr.string", 1, func() events.Data { return new(keyedByPtrString) })
	assert.ErrorContains(t, err, "that returns the string itself (encoding/json writes a key of a string kind as it is, and reads it through UnmarshalText)")
}

// A struct key whose lone embedded field writes itself through a pointer
// receiver: the key, held by value, has no MarshalText to call.
type ptrTextInner struct{ N int }

func (k *ptrTextInner) MarshalText() ([]byte, error) { return []byte(strconv.Itoa(k.N)), nil }
func (k *ptrTextInner) UnmarshalText(b []byte) error {
	n, err := strconv.Atoi(string(b))
	k.N = n
	return err
}

type ptrTextOuter struct{ ptrTextInner }

type keyedByLonePtrText struct {
	M map[ptrTextOuter]int `json:"m"`
}

func (*keyedByLonePtrText) EventType() events.Type { return "keyed.lone.ptr.text" }

func TestRegisterRefusesAStructKeyWrittenThroughAPointer(t *testing.T) {
	err := events.NewRegistry().Register("keyed.lone.ptr.text", 1, func() events.Data { return new(keyedByLonePtrText) })
	assert.ErrorContains(t, err, "keyedByLonePtrText.M[key] (events_test.ptrTextOuter) is held by value")
}

// lenientInt reads itself from JSON, a number or a quoted one, as a
// protobuf enum of proto2 does; it is written as the number it is.
type lenientInt int

func (l *lenientInt) UnmarshalJSON(b []byte) error {
	n, err := strconv.Atoi(strings.Trim(string(b), `"`))
	*l = lenientInt(n)
	return err
}

type lenientHost struct {
	L lenientInt         `json:"l"`
	M map[lenientInt]int `json:"m"`
}

func (*lenientHost) EventType() events.Type { return "lenient.host" }

// A type's own JSON method may read its kind: taken, and read back.
func TestRegisterTakesAScalarThatReadsItsKind(t *testing.T) {
	roundTrips(t, &lenientHost{L: 3, M: map[lenientInt]int{4: 1}})
}

// colour writes its name, and has nothing to read it.
type colour int

func (c colour) MarshalJSON() ([]byte, error) {
	return []byte(`"` + [...]string{"red", "green"}[c] + `"`), nil
}

type colourHost struct {
	C colour `json:"c"`
}

func (*colourHost) EventType() events.Type { return "colour.host" }

func TestRegisterRefusesAScalarThatWritesItselfOnly(t *testing.T) {
	err := events.NewRegistry().Register("colour.host", 1, func() events.Data { return new(colourHost) })
	assert.ErrorContains(t, err, "colourHost.C (events_test.colour) has MarshalJSON but not UnmarshalJSON")
}
