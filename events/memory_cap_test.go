package events

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An append beyond what the store holds is refused whole, where its 32-bit
// links would have wrapped: the store is as it was.
func TestMemoryStoreRefusesAnAppendBeyondItsCapacity(t *testing.T) {
	defer func(c int) { memoryStoreCap = c }(memoryStoreCap)
	memoryStoreCap = 3
	s := NewMemoryStore()
	issue := uuid.MustParse("0193a4c2-7a9e-7000-8000-000000000001")
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	ev := func(v uint64) Envelope {
		return Envelope{ID: uuid.New(), Issue: issue, Version: v, At: at, Data: &Contacted{Contact: uuid.New(), Channel: "chat"}}
	}
	_, err := s.Append(context.Background(), issue, 0, []Envelope{ev(1), ev(2)})
	require.NoError(t, err)
	_, err = s.Append(context.Background(), issue, 2, []Envelope{ev(3), ev(4)})
	require.ErrorIs(t, err, ErrStoreFull)
	assert.ErrorContains(t, err, "2 events would take the memory store beyond the 3 it holds")
	assert.Equal(t, 2, s.Len(), "nothing of the refused append")
	_, err = s.Append(context.Background(), issue, 2, []Envelope{ev(3)})
	require.NoError(t, err, "up to the last place")
	stream, err := s.Load(context.Background(), issue)
	require.NoError(t, err)
	assert.Len(t, stream, 3)
}
