package events_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
)

// domainExample is the example event of the wire format's definition.
const domainExample = `{"id":"0193a4c2-7a9e-7c61-9d41-1a2b3c4d5e6f","issue":"0193a4c2-7a9e-7000-8000-000000000001",` +
	`"version":1,"type":"issue.opened","at":"2026-03-02T09:15:00Z",` +
	`"data":{"customer":{"keys":["phone:+358401234567","email:anna@example.com"]},` +
	`"channel":"phone","topic":"billing/invoice-error",` +
	`"contact":"0193a4c2-7a9e-7000-8000-0000000000c1"},` +
	`"meta":{"correlation_id":"c-1"}}`

func TestJSONCodecReadsAndWritesTheDomainExample(t *testing.T) {
	c := events.NewJSONCodec(nil)
	e, err := c.Decode([]byte(domainExample))
	require.NoError(t, err)

	assert.Equal(t, uuid.MustParse("0193a4c2-7a9e-7c61-9d41-1a2b3c4d5e6f"), e.ID)
	assert.Equal(t, uuid.MustParse("0193a4c2-7a9e-7000-8000-000000000001"), e.Issue)
	assert.Equal(t, uint64(1), e.Version)
	assert.Equal(t, events.TypeOpened, e.Type())
	assert.Equal(t, time.Date(2026, 3, 2, 9, 15, 0, 0, time.UTC), e.At)
	assert.Equal(t, events.Meta{"correlation_id": "c-1"}, e.Meta)
	assert.Equal(t, &events.Opened{
		Customer: events.Customer{Keys: []string{"phone:+358401234567", "email:anna@example.com"}},
		Channel:  "phone",
		Topic:    "billing/invoice-error",
		Contact:  uuid.MustParse("0193a4c2-7a9e-7000-8000-0000000000c1"),
	}, e.Data)

	out, err := c.Append(nil, e)
	require.NoError(t, err)
	assert.Equal(t, domainExample, string(out))
}

func TestMsgpackRoundTripOfTheDomainExample(t *testing.T) {
	e, err := events.NewJSONCodec(nil).Decode([]byte(domainExample))
	require.NoError(t, err)
	c := events.NewMsgpackCodec(nil)
	b, err := c.Append(nil, e)
	require.NoError(t, err)
	got, err := c.Decode(b)
	require.NoError(t, err)
	assert.Equal(t, e, got)
	t.Logf("msgpack %d bytes, json %d bytes", len(b), len(domainExample))
}

// RFC 3339 allows the T between date and time and the Z of UTC in lower
// case; such a time reads as its upper-case form, and is written back in
// upper case.
func TestJSONCodecReadsLowerCaseTAndZ(t *testing.T) {
	c := events.NewJSONCodec(nil)
	for _, at := range []string{"2026-03-02t09:15:00z", "2026-03-02t11:15:00+02:00", "2026-03-02T09:15:00z"} {
		e, err := c.Decode([]byte(strings.Replace(domainExample, "2026-03-02T09:15:00Z", at, 1)))
		require.NoError(t, err, at)
		assert.Equal(t, time.Date(2026, 3, 2, 9, 15, 0, 0, time.UTC), e.At, at)
		out, err := c.Append(nil, e)
		require.NoError(t, err)
		assert.Equal(t, domainExample, string(out), at)
	}
	for _, at := range []string{"2026-03-02 09:15:00Z", "2026-03-02x09:15:00Z", "2026-03-02T09:15:00y"} {
		_, err := c.Decode([]byte(strings.Replace(domainExample, "2026-03-02T09:15:00Z", at, 1)))
		var de *events.DecodeError
		require.ErrorAs(t, err, &de, at)
		assert.Equal(t, "at", de.Field, at)
		assert.ErrorIs(t, err, events.ErrMalformed, at)
	}
}

// A meta member whose value is null is no member, as a null elsewhere in
// the wire format is no value; an empty string stays one.
func TestJSONCodecReadsANullMetaValueAsNone(t *testing.T) {
	c := events.NewJSONCodec(nil)
	withMeta := func(meta string) string {
		return strings.Replace(domainExample, `"meta":{"correlation_id":"c-1"}`, `"meta":`+meta, 1)
	}
	for meta, want := range map[string]events.Meta{
		`{"correlation_id":"c-1","tenant":null}`: {"correlation_id": "c-1"},
		`{"tenant":null}`:                        nil,
		`{"tenant":"","x":null}`:                 {"tenant": ""},
		`{ "tenant" : null , "y":"null"}`:        {"y": "null"},
	} {
		e, err := c.Decode([]byte(withMeta(meta)))
		require.NoError(t, err, meta)
		assert.Equal(t, want, e.Meta, meta)
	}
	_, err := c.Decode([]byte(withMeta(`{"tenant":1}`)))
	assert.ErrorIs(t, err, events.ErrMalformed, "a number is no string")
}

// So does msgpack, which no writer of this package writes so.
func TestMsgpackCodecReadsANilMetaValueAsNone(t *testing.T) {
	c := events.NewMsgpackCodec(nil)
	e, err := events.NewJSONCodec(nil).Decode([]byte(domainExample))
	require.NoError(t, err)
	e.Meta = events.Meta{"tenant": "zzzz"}
	b, err := c.Append(nil, e)
	require.NoError(t, err)
	at := strings.Index(string(b), "zzzz")
	require.Positive(t, at)
	nilled := append(append(append([]byte{}, b[:at-1]...), 0xc0), b[at+4:]...) // the value's fixstr header and bytes
	got, err := c.Decode(nilled)
	require.NoError(t, err)
	assert.Nil(t, got.Meta)
}

// StoredExtra gives what an event's Extra reads back as from the msgpack
// codec, without the event.
func TestStoredExtraIsWhatMsgpackReadsBack(t *testing.T) {
	x := events.Extra{
		"short": json.Number("1e18"), "trailing": json.Number("2.50"), "one": json.Number("1.0"),
		"negzero": math.Copysign(0, -1), "big": 1e21, "small": 1e-7, "int": 7, "text": "a<b>&\u2028",
		"nested": map[string]any{"l": []any{json.Number("5e3"), nil, true, map[string]any{"x": 2.5}}},
	}
	got, err := events.StoredExtra(x)
	require.NoError(t, err)
	c := events.NewMsgpackCodec(nil)
	id := uuid.MustParse("0193a4c2-7a9e-7000-8000-000000000001")
	b, err := c.Append(nil, events.Envelope{ID: id, Issue: id, Version: 1, At: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC),
		Data: &events.Opened{Customer: events.Customer{ID: "c", Extra: x}, Channel: "chat", Topic: "t", Contact: id}})
	require.NoError(t, err)
	e, err := c.Decode(b)
	require.NoError(t, err)
	assert.Equal(t, e.Data.(*events.Opened).Customer.Extra, got)
	assert.Equal(t, json.Number("1000000000000000000"), got["short"])

	_, err = events.StoredExtra(events.Extra{"bad": math.Inf(1)})
	assert.EqualError(t, err, events.CheckExtra(events.Extra{"bad": math.Inf(1)}).Error(), "CheckExtra's error")
	none, err := events.StoredExtra(nil)
	assert.NoError(t, err)
	assert.Nil(t, none)
}
