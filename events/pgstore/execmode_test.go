package pgstore_test

import (
	"context"
	"slices"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/events/pgstore"
	"github.com/truefcr/truefcr/events/pgstore/pgtest"
)

// A store works on a pool of any query mode, those that describe no
// statement too (QueryExecModeExec, QueryExecModeSimpleProtocol), which
// connection poolers such as PgBouncer call for: pgx must then find a
// type for each parameter from its Go value alone. With an outbox, it
// writes a message for each event.
func TestStoreOnEveryQueryMode(t *testing.T) {
	ctx := context.Background()
	_, pool, cfg := newStore(t, pgstore.Config{Outbox: &pgstore.OutboxConfig{}})
	outbox := 0
	for _, mode := range []pgx.QueryExecMode{
		pgx.QueryExecModeCacheStatement, pgx.QueryExecModeCacheDescribe, pgx.QueryExecModeDescribeExec,
		pgx.QueryExecModeExec, pgx.QueryExecModeSimpleProtocol,
	} {
		t.Run(mode.String(), func(t *testing.T) {
			pc := pool.Config()
			pc.ConnConfig.DefaultQueryExecMode = mode
			p, err := pgxpool.NewWithConfig(ctx, pc)
			require.NoError(t, err)
			defer p.Close()
			s, err := pgstore.New(ctx, p, cfg)
			require.NoError(t, err)

			a, b := uuid.New(), uuid.New()
			first, err := s.Append(ctx, a, 0, stream(a, 0, 2))
			require.NoError(t, err)
			batch, err := s.AppendBatch(ctx, []pgstore.Batch{
				{Issue: a, Expected: 2, Events: stream(a, 2, 1)},
				{Issue: b, Events: stream(b, 0, 2)},
			})
			require.NoError(t, err)
			_, err = s.Append(ctx, b, 1, stream(b, 1, 1))
			require.ErrorIs(t, err, events.ErrVersionConflict, "the stream is at version 2")

			got, err := s.Load(ctx, a)
			require.NoError(t, err)
			require.Equal(t, slices.Concat(first, batch[0]), got)
			got, err = s.Load(ctx, b)
			require.NoError(t, err)
			require.Equal(t, batch[1], got)

			outbox += 5
			var n int
			require.NoError(t, p.QueryRow(ctx, "SELECT count(*) FROM "+pgtest.Ident(cfg.Schema, pgstore.DefaultTable+"_outbox")).Scan(&n))
			require.Equal(t, outbox, n, "one outbox message per stored event")
		})
	}
}
