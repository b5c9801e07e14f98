package events_test

import (
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
