package pgstore

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/events/pgstore/pgtest"
)

// The outcome of a transaction is what the data says once the transaction
// ended: a server that crashed before it logged a transaction's id hands
// the id out again, and txid_status then tells of another transaction.
func TestOutcomeGoesByTheData(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.Pool(t)
	s, err := New(ctx, pool, Config{Schema: pgtest.Schema(t, pool)})
	require.NoError(t, err)

	// The id of another transaction, which committed: ours "reused" it.
	xid := func() int64 {
		tx, err := pool.Begin(ctx)
		require.NoError(t, err)
		var x int64
		require.NoError(t, tx.QueryRow(ctx, `SELECT txid_current()`).Scan(&x))
		require.NoError(t, tx.Commit(ctx))
		return x
	}
	issue, contact := uuid.New(), uuid.New()
	opened := events.Envelope{ID: uuid.New(), Issue: issue, Version: 1, At: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC),
		Data: &events.Opened{Customer: events.Customer{ID: "C-1"}, Channel: "chat", Topic: "billing", Contact: contact}}

	assert.Equal(t, "aborted", s.outcome(ctx, xid(), issue, 1, opened.ID), "a committed id, but no event")
	_, err = s.Append(ctx, issue, 0, []events.Envelope{opened})
	require.NoError(t, err)
	assert.Equal(t, "committed", s.outcome(ctx, xid(), issue, 1, opened.ID))
	assert.Equal(t, "aborted", s.outcome(ctx, xid(), issue, 1, uuid.New()), "another writer's event at that version")

	// A transaction still in progress, whose event is not stored yet, is
	// waited for.
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	var running int64
	require.NoError(t, tx.QueryRow(ctx, `SELECT txid_current()`).Scan(&running))
	done := make(chan string, 1)
	go func() { done <- s.outcome(ctx, running, issue, 2, uuid.New()) }()
	select {
	case got := <-done:
		require.NoError(t, tx.Rollback(ctx))
		t.Fatalf("outcome %q while the transaction runs", got)
	case <-time.After(50 * time.Millisecond):
	}
	require.NoError(t, tx.Rollback(ctx))
	assert.Equal(t, "aborted", <-done)

	// An id the server has not handed out: one that a crash took back.
	assert.Equal(t, "aborted", s.outcome(ctx, xid()+1_000_000, issue, 2, uuid.New()))
}
