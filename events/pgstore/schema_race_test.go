package pgstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events/pgstore"
	"github.com/truefcr/truefcr/events/pgstore/pgtest"
	"github.com/truefcr/truefcr/internal/pglock"
)

// waitForWaiters waits until n sessions wait for the advisory lock key,
// which pg_locks shows as its two halves.
func waitForWaiters(t *testing.T, pool *pgxpool.Pool, key int64, n int) {
	t.Helper()
	for range 500 {
		var w int
		require.NoError(t, pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_locks
			WHERE locktype = 'advisory' AND NOT granted AND classid::bigint = $1 AND objid::bigint = $2 AND objsubid = 1`,
			int64(uint32(uint64(key)>>32)), int64(uint32(key))).Scan(&w))
		if w >= n {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no %d waiters", n)
}

// A store without an outbox that waited for the schema's lock while
// another, with one, created the tables finds the outbox, as a store
// opened on them later does, and refuses to append; it appended events
// that were never forwarded.
func TestAStoreWithoutOutboxThatWaitedForItsCreationOnlyReads(t *testing.T) {
	ctx := context.Background()
	admin := pgtest.Pool(t)
	schema := pgtest.Schema(t, admin)
	conn, err := admin.Acquire(ctx)
	require.NoError(t, err)
	tx, err := conn.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, pglock.Schema(schema))
	require.NoError(t, err)

	writerDone := make(chan error, 1)
	go func() {
		_, err := pgstore.New(ctx, admin, pgstore.Config{Schema: schema, Outbox: &pgstore.OutboxConfig{}})
		writerDone <- err
	}()
	waitForWaiters(t, admin, pglock.Schema(schema), 1)
	type res struct {
		s   *pgstore.Store
		err error
	}
	plainDone := make(chan res, 1)
	go func() {
		s, err := pgstore.New(ctx, admin, pgstore.Config{Schema: schema})
		plainDone <- res{s, err}
	}()
	waitForWaiters(t, admin, pglock.Schema(schema), 2)
	require.NoError(t, tx.Rollback(ctx))
	conn.Release()
	require.NoError(t, <-writerDone)
	r := <-plainDone
	require.NoError(t, r.err)

	var outboxExists bool
	require.NoError(t, admin.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, pgtest.Ident(schema, pgstore.DefaultTable+"_outbox")).Scan(&outboxExists))
	require.True(t, outboxExists, "the tables had an outbox when the store opened")

	issue := uuid.New()
	_, err = r.s.Append(ctx, issue, 0, stream(issue, 0, 1))
	var msgs int
	require.NoError(t, admin.QueryRow(ctx, `SELECT count(*) FROM `+pgtest.Ident(schema, pgstore.DefaultTable+"_outbox")).Scan(&msgs))
	t.Logf("append error: %v; outbox messages: %d", err, msgs)
	assert.ErrorIs(t, err, pgstore.ErrInvalidConfig, "a store without the outbox its tables have refuses to append")
}

// A role that may only read and write tables of a newer version is told
// so (ErrSchemaVersion), as their owner is, rather than refused the DDL
// it would not run.
func TestARoleThatMayOnlyReadAndWriteHearsOfNewerTables(t *testing.T) {
	pgtest.RefusesNewerTables(t, pgstore.DefaultTable+"_schema", pgstore.ErrSchemaVersion, func(pool *pgxpool.Pool, schema string) error {
		_, err := pgstore.New(context.Background(), pool, pgstore.Config{Schema: schema})
		return err
	})
}
