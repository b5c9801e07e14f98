package events_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
)

// nilOf returns the nil value of d's type: a nil *events.Opened for an
// *events.Opened.
func nilOf(d events.Data) events.Data {
	return reflect.Zero(reflect.TypeOf(d)).Interface().(events.Data)
}

// hostMap is a host's data type that is not a pointer but can be nil.
type hostMap map[string]string

func (hostMap) EventType() events.Type { return "acme.tags" }

// hostRef is a host's data type held in an interface as its one pointer:
// its zero value has a nil interface data word and is data all the same.
type hostRef struct{ note *string }

func (hostRef) EventType() events.Type { return "acme.ref" }

// hostList is a host's data type that is a slice: a nil one is empty,
// and data.
type hostList []string

func (hostList) EventType() events.Type { return "acme.list" }

// hostOne is a host's data type held in an interface as its one element,
// a pointer.
type hostOne [1]*string

func (hostOne) EventType() events.Type { return "acme.one" }

// hostMark is a host's data type of no size.
type hostMark struct{}

func (hostMark) EventType() events.Type { return "acme.mark" }

func TestHasData(t *testing.T) {
	tests := []struct {
		data events.Data
		want bool
	}{
		{nil, false},
		{(*events.Opened)(nil), false},
		{(*events.Classified)(nil), false},
		{&events.Classified{}, true},
		{(*Escalated)(nil), false},
		{&Escalated{}, true},
		{hostMap(nil), false},
		{hostMap{}, true},
		{hostRef{}, true},
		{(*hostRef)(nil), false},
		{hostMark{}, true},
		{hostList(nil), true},
		{hostList{}, true},
		{hostOne{}, true},
	}
	for _, tt := range tests {
		e := envelopeOf(0, tt.data)
		assert.Equal(t, tt.want, e.HasData(), "%T %v", tt.data, tt.data)
		assert.Equal(t, tt.want, events.IsData(tt.data), "%T %v", tt.data, tt.data)
		assert.Equal(t, tt.want, e.NoData() == "", "NoData of %T %v: %q", tt.data, tt.data, e.NoData())
	}
	assert.Equal(t, "no data", envelopeOf(0, nil).NoData())
	assert.Equal(t, "no data (a nil *events.Opened)", envelopeOf(0, (*events.Opened)(nil)).NoData())
	_, ok := events.As[*events.Opened](envelopeOf(0, (*events.Opened)(nil)))
	assert.False(t, ok, "a nil *Opened is not one to read")
	opened, ok := events.As[*events.Opened](envelopeOf(0, &events.Opened{Topic: "t"}))
	assert.True(t, ok)
	assert.Equal(t, "t", opened.Topic)
}

// TestNilDataIsRefused: an envelope whose data is a nil pointer of an
// event type has no data. Validate, both codecs and the memory store
// refuse it, as they refuse an envelope with no data at all, rather than
// panic or write an event that cannot be read back.
func TestNilDataIsRefused(t *testing.T) {
	ctx := context.Background()
	seen := map[events.Type]bool{}
	for i, tt := range dataCases {
		d := nilOf(tt.data())
		if seen[d.EventType()] {
			continue
		}
		seen[d.EventType()] = true
		t.Run(string(d.EventType()), func(t *testing.T) {
			e := envelopeOf(i, d)
			e.Version = 1
			says := fmt.Sprintf("no data (a nil %T)", d)

			err := e.Validate()
			assert.ErrorIs(t, err, events.ErrInvalidEvent)
			assert.ErrorContains(t, err, says)

			for _, c := range codecsOf(nil) {
				out, err := c.Append([]byte("prefix"), e)
				assert.ErrorIs(t, err, events.ErrInvalidEvent, c.Name())
				assert.ErrorContains(t, err, says, c.Name())
				assert.Equal(t, "prefix", string(out), "%s: dst is returned unchanged", c.Name())
			}

			s := events.NewMemoryStore()
			_, err = s.Append(ctx, e.Issue, 0, []events.Envelope{e})
			assert.ErrorIs(t, err, events.ErrInvalidEvent)
			assert.ErrorContains(t, err, says)
			assert.Zero(t, s.Len(), "the store appended nothing")
		})
	}
	require.Len(t, seen, 9, "every lifecycle type was tried")
}

// hostTags and hostNames are host data types of map and slice kind, held
// through a pointer as Register asks.
type hostTags map[string]string
type hostNames []string

func (*hostTags) EventType() events.Type  { return "acme.tags" }
func (*hostNames) EventType() events.Type { return "acme.names" }

// A host's data of map or slice kind whose value is nil (what new makes)
// is written as null, and both codecs read it back as that nil value:
// before, they refused null as missing data, so that a store took such
// an event and could not read it. At an earlier schema, whose upcasters
// take an object, null is still missing data.
func TestANilMapOrSliceOfAHostIsReadBack(t *testing.T) {
	reg := events.NewRegistry()
	require.NoError(t, reg.Register("acme.tags", 1, func() events.Data { return new(hostTags) }))
	require.NoError(t, reg.Register("acme.names", 1, func() events.Data { return new(hostNames) }))
	for _, c := range []events.Codec{events.NewMsgpackCodec(reg), events.NewJSONCodec(reg)} {
		for _, d := range []events.Data{new(hostTags), new(hostNames), &hostTags{}, &hostNames{}, &hostTags{"tier": "gold"}, &hostNames{"anna"}} {
			store := events.NewMemoryStore(events.WithMemoryCodec(c))
			e := hostEvent(d)
			_, err := store.Append(context.Background(), e.Issue, 0, []events.Envelope{e})
			require.NoError(t, err)
			got, err := store.Load(context.Background(), e.Issue)
			require.NoError(t, err, "%s %#v", c.Name(), d)
			require.Len(t, got, 1)
			assert.Equal(t, d, got[0].Data, c.Name())
		}
	}

	v2 := events.NewRegistry()
	require.NoError(t, v2.Register("acme.tags", 2, func() events.Data { return new(hostTags) }))
	require.NoError(t, v2.AddUpcaster("acme.tags", 1, func(f map[string]any) (map[string]any, error) { return f, nil }))
	for _, c := range [][2]events.Codec{
		{events.NewMsgpackCodec(reg), events.NewMsgpackCodec(v2)},
		{events.NewJSONCodec(reg), events.NewJSONCodec(v2)},
	} {
		b, err := c[0].Append(nil, hostEvent(new(hostTags)))
		require.NoError(t, err)
		_, err = c[1].Decode(b)
		assert.ErrorContains(t, err, "missing", "%s: null at schema 1, read at 2", c[0].Name())
	}
}
