package events_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/events/storetest"
)

func TestMemoryStoreConformance(t *testing.T) {
	tests := []struct {
		name  string
		store func() *events.MemoryStore
	}{
		{"msgpack", func() *events.MemoryStore { return events.NewMemoryStore() }},
		{"msgpack, a nil option passed over", func() *events.MemoryStore { return events.NewMemoryStore(nil) }},
		{"json", func() *events.MemoryStore {
			return events.NewMemoryStore(events.WithMemoryCodec(events.NewJSONCodec(nil)))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			storetest.Run(t, func(*testing.T) events.Store { return tt.store() },
				storetest.Features{GaplessPositions: true})
		})
	}
}

func TestMemoryStoreKeepsEventsOfAnySize(t *testing.T) {
	ctx := t.Context()
	s := events.NewMemoryStore()
	issue := uuid.New()
	var want []events.Envelope
	for i, size := range []int{10, 100 << 10, 10, 3 << 20, 10, 5000, 4000} {
		e := envelopeOf(i, &events.Contacted{Contact: contactID, Channel: "chat", Extra: events.Extra{"blob": strings.Repeat("x", size)}})
		e.ID, e.Issue = uuid.New(), issue
		got, err := s.Append(ctx, issue, uint64(i), []events.Envelope{e})
		require.NoError(t, err)
		want = append(want, got...)
	}
	loaded, err := s.Load(ctx, issue)
	require.NoError(t, err)
	assert.Equal(t, want, loaded)
	var read []events.Envelope
	for e, err := range s.ReadAll(ctx, 0) {
		require.NoError(t, err)
		read = append(read, e)
	}
	assert.Equal(t, want, read)
	assert.Equal(t, len(want), s.Len())
}

// Reading the store decodes each msgpack event without copying its bytes:
// one allocation an event, its data.
func TestMemoryStoreReadsWithoutCopying(t *testing.T) {
	ctx := t.Context()
	store := events.NewMemoryStore()
	evs := bridgeEvents(50)
	for _, e := range evs {
		e.Meta = nil
		_, err := store.Append(ctx, e.Issue, e.Version-1, []events.Envelope{e})
		require.NoError(t, err)
	}
	n := 0
	allocs := testing.AllocsPerRun(20, func() {
		n = 0
		for _, err := range store.ReadAll(ctx, 0) {
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
	})
	require.Equal(t, len(evs), n)
	assert.LessOrEqual(t, allocs/float64(n), 1.1, "allocations an event read")
	var got []events.Envelope
	for e, err := range store.ReadAll(ctx, 0) {
		require.NoError(t, err)
		got = append(got, e)
	}
	assert.Equal(t, "chat", got[3].Data.(*events.Contacted).Channel)
}
