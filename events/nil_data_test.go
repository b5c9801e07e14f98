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
