package pgstore

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/events/pgstore/pgtest"
)

// In a transaction of several appends to one stream, one that lost its
// claim reports the version the stream had at its turn, not the version
// that the appends after it moved the stream to.
func TestGroupedConflictReportsTheVersionAtItsTurn(t *testing.T) {
	pool := pgtest.Pool(t)
	s, err := New(t.Context(), pool, Config{Schema: pgtest.Schema(t, pool)})
	require.NoError(t, err)
	x := uuid.New()
	_, err = s.Append(t.Context(), x, 0, contacts(x, 0, 5))
	require.NoError(t, err)

	unitAt := func(expected uint64) *unit {
		b := []Batch{{Issue: x, Expected: expected, Events: contacts(x, expected, 1)}}
		cols, err := s.prepare(b)
		require.NoError(t, err)
		return &unit{batches: b, cols: cols}
	}
	// In this order: 6 loses (the stream is at 5), 5 wins (to 6), 5 loses
	// (the stream is at 6 by then), 6 wins (to 7).
	units := []*unit{unitAt(6), unitAt(5), unitAt(5), unitAt(6)}
	s.commit(t.Context(), units)
	for i, want := range []uint64{5, 0, 6, 0} {
		if want == 0 {
			assert.NoError(t, units[i].err, "unit %d", i)
			continue
		}
		var conflict *events.VersionConflictError
		require.ErrorAs(t, units[i].err, &conflict, "unit %d", i)
		assert.Equal(t, want, conflict.Actual, "unit %d: %v", i, units[i].err)
	}
	stored, err := s.Load(t.Context(), x)
	require.NoError(t, err)
	assert.Len(t, stored, 7)
}

// contacts returns n events of issue, versions from+1 … from+n: an opening
// when from is 0, then contacts.
func contacts(issue uuid.UUID, from uint64, n int) []events.Envelope {
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	c := uuid.New()
	out := make([]events.Envelope, n)
	for i := range out {
		v := from + uint64(i) + 1
		out[i] = events.Envelope{ID: uuid.New(), Issue: issue, Version: v, At: at.Add(time.Duration(v) * time.Minute),
			Data: &events.Contacted{Contact: c, Channel: "chat"}}
		if v == 1 {
			out[i].Data = &events.Opened{Customer: events.Customer{ID: "C-1"}, Channel: "phone", Topic: "billing", Contact: c}
		}
	}
	return out
}
