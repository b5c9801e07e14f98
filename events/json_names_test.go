package events_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
)

// Member names match exactly in the JSON codec, as in msgpack: a name that
// differs from a known one only in case is an unknown field, kept in the
// Extra of the data or of its customer object and passed over in the
// envelope, and never overrides the known one, whichever comes first.
func TestJSONMatchesMemberNamesExactly(t *testing.T) {
	j := events.NewJSONCodec(nil)
	m := events.NewMsgpackCodec(nil)
	const head = `{"id":"0193a4c2-7a9e-7c61-9d41-1a2b3c4d5e6f","issue":"0193a4c2-7a9e-7000-8000-000000000001",` +
		`"type":"issue.opened","at":"2026-03-02T09:15:00Z",`
	const contact = `"contact":"0193a4c2-7a9e-7000-8000-0000000000c1"`
	c2 := events.Extra{"ID": "C-2"}
	for _, tt := range []struct {
		name  string
		line  string
		extra events.Extra // of the customer
	}{
		{"variant after", head + `"version":1,"Version":7,"data":{"customer":{"id":"C-1","ID":"C-2"},"channel":"chat","topic":"billing/invoice-error","Topic":"Billing Dept",` + contact + `}}`, c2},
		{"escaped variant", head + `"version":1,"\u0056ersion":7,"data":{"customer":{"id":"C-1","\u0049D":"C-2"},"channel":"chat","topic":"billing/invoice-error","\u0054opic":"Billing Dept",` + contact + `}}`, c2},
		{"escaped names", head + `"version":1,"data":{"cust\u006fmer":{"\u0069d":"C-1","ID":"C-2"},"channel":"chat","topic":"billing/invoice-error","Topic":"Billing Dept",` + contact + `}}`, c2},
		{"the last of two customer objects", head + `"version":1,"data":{"customer":{"id":"C-2","ID":"C-3"},"channel":"chat","customer":{"id":"C-1"},"topic":"billing/invoice-error","Topic":"Billing Dept",` + contact + `}}`, nil},
		{"variant before", head + `"Version":7,"version":1,"data":{"customer":{"ID":"C-2","id":"C-1"},"Topic":"Billing Dept","channel":"chat","topic":"billing/invoice-error",` + contact + `}}`, c2},
		// A variant of a type that the known member cannot take.
		{"variant of another type", head + `"version":1,"data":{"customer":{"id":"C-1","ID":5},"channel":"chat","topic":"billing/invoice-error","Topic":"Billing Dept",` + contact + `}}`, events.Extra{"ID": json.Number("5")}},
		{"variant of another type, before", head + `"version":1,"data":{"customer":{"ID":[1],"id":"C-1"},"channel":"chat","topic":"billing/invoice-error","Topic":"Billing Dept",` + contact + `}}`, events.Extra{"ID": []any{json.Number("1")}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e, err := j.Decode([]byte(tt.line))
			require.NoError(t, err)
			assert.Equal(t, uint64(1), e.Version)
			d, ok := events.As[*events.Opened](e)
			require.True(t, ok)
			assert.Equal(t, "billing/invoice-error", d.Topic)
			assert.Equal(t, "C-1", d.Customer.ID)
			assert.Equal(t, tt.extra, d.Customer.Extra)
			assert.Equal(t, events.Extra{"Topic": "Billing Dept"}, d.Extra)

			// Both codecs read the event the same, and write it back so.
			b, err := m.Append(nil, e)
			require.NoError(t, err)
			viaMsgpack, err := m.Decode(b)
			require.NoError(t, err)
			assert.Equal(t, e, viaMsgpack)
			line, err := j.Append(nil, viaMsgpack)
			require.NoError(t, err)
			again, err := j.Decode(line)
			require.NoError(t, err)
			assert.Equal(t, e, again)
		})
	}
}

// Of two customer members, the last is the customer, whole: encoding/json
// would merge their members.
func TestJSONTakesTheLastOfTwoCustomers(t *testing.T) {
	line := `{"id":"0193a4c2-7a9e-7c61-9d41-1a2b3c4d5e6f","issue":"0193a4c2-7a9e-7000-8000-000000000001",` +
		`"version":1,"type":"issue.opened","at":"2026-03-02T09:15:00Z","data":{"customer":{"id":"C-2","keys":["email:x@example.com"],"x":1},` +
		`"channel":"chat","customer":{"id":"C-1"},"topic":"billing","contact":"0193a4c2-7a9e-7000-8000-0000000000c1"}}`
	e, err := events.NewJSONCodec(nil).Decode([]byte(line))
	require.NoError(t, err)
	assert.Equal(t, events.Customer{ID: "C-1"}, e.Data.(*events.Opened).Customer)
}

// An event whose unknown field differs from a known one only in case is
// stored and read back by a store that keeps JSON, where the known field
// is a uuid and the unknown one is not.
func TestJSONStoreReadsBackAFieldNamedLikeAKnownOne(t *testing.T) {
	ctx := context.Background()
	s := events.NewMemoryStore(events.WithMemoryCodec(events.NewJSONCodec(nil)))
	e := envelopeOf(1, &events.Routed{Contact: contactID, Queue: "billing", Extra: events.Extra{"Contact": "CRM-42"}})
	e.Version = 1
	_, err := s.Append(ctx, issueID, 0, []events.Envelope{e})
	require.NoError(t, err)
	got, err := s.Load(ctx, issueID)
	require.NoError(t, err)
	require.Len(t, got, 1)
	d, ok := events.As[*events.Routed](got[0])
	require.True(t, ok)
	assert.Equal(t, contactID, d.Contact)
	assert.Equal(t, events.Extra{"Contact": "CRM-42"}, d.Extra)
}

// A member of the envelope that does not decode is named in the error.
func TestJSONNamesTheEnvelopeMemberThatDoesNotDecode(t *testing.T) {
	line := `{"id":"0193a4c2-7a9e-7c61-9d41-1a2b3c4d5e6f","issue":"0193a4c2-7a9e-7000-8000-000000000001","version":"one",` +
		`"type":"issue.opened","at":"2026-03-02T09:15:00Z","data":{}}`
	_, err := events.NewJSONCodec(nil).Decode([]byte(line))
	require.ErrorIs(t, err, events.ErrMalformed)
	de := decodeError(t, err)
	assert.Equal(t, "version", de.Field)
	assert.True(t, strings.Contains(err.Error(), "version"))
}

// refusingCodec is msgpack that cannot read back the events of one
// version, as a store holding data that a later reader refuses.
type refusingCodec struct {
	events.Codec
	version uint64
}

func (c refusingCodec) Decode(b []byte) (events.Envelope, error) {
	e, err := c.Codec.Decode(b)
	if err == nil && e.Version == c.version {
		return events.Envelope{}, &events.DecodeError{Codec: "test", Field: "data", Err: events.ErrMalformed}
	}
	return e, err
}

// An event the MemoryStore cannot read back is reported with its
// position, by Load and by ReadAll.
func TestMemoryStoreNamesThePositionOfAnEventItCannotRead(t *testing.T) {
	ctx := context.Background()
	s := events.NewMemoryStore(events.WithMemoryCodec(refusingCodec{events.NewMsgpackCodec(nil), 2}))
	var evs []events.Envelope
	for i := range 3 {
		e := envelopeOf(i, &events.Contacted{Contact: contactID, Channel: "chat"})
		evs = append(evs, e)
	}
	_, err := s.Append(ctx, issueID, 0, evs)
	require.NoError(t, err)
	_, err = s.Load(ctx, issueID)
	require.ErrorIs(t, err, events.ErrMalformed)
	assert.Contains(t, err.Error(), "position 2")
	var got int
	for _, err := range s.ReadAll(ctx, 0) {
		if err != nil {
			require.ErrorIs(t, err, events.ErrMalformed)
			assert.Contains(t, err.Error(), "position 2")
			break
		}
		got++
	}
	assert.Equal(t, 1, got)
}

// A known member of the customer of the wrong type is named in the error.
func TestJSONNamesAWrongCustomerMember(t *testing.T) {
	line := `{"id":"0193a4c2-7a9e-7c61-9d41-1a2b3c4d5e6f","issue":"0193a4c2-7a9e-7000-8000-000000000001","version":1,` +
		`"type":"issue.opened","at":"2026-03-02T09:15:00Z","data":{"customer":{"id":5},"channel":"chat","topic":"t","contact":"0193a4c2-7a9e-7000-8000-0000000000c1"}}`
	_, err := events.NewJSONCodec(nil).Decode([]byte(line))
	require.ErrorIs(t, err, events.ErrMalformed)
	assert.ErrorContains(t, err, `field "data.customer.id"`)
}
