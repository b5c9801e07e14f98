package pgstore_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	evs "github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/events/pgstore"
	"github.com/truefcr/truefcr/events/pgstore/pgtest"
)

func TestHeadFollowsAppends(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t, pgstore.Config{})
	ctx := context.Background()

	head, err := s.Head(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(0), head, "an empty store")

	a, b := uuid.New(), uuid.New()
	_, err = s.Append(ctx, a, 0, stream(a, 0, 3))
	require.NoError(t, err)
	got, err := s.Append(ctx, b, 0, stream(b, 0, 2))
	require.NoError(t, err)

	head, err = s.Head(ctx)
	require.NoError(t, err)
	assert.Equal(t, got[len(got)-1].Position, head)
	assert.Equal(t, uint64(5), head)
}

// A head of positions behind the events (a restore, a reset by hand)
// makes every append collide with a stored position: the error says so,
// and what to set the head to, and nothing is stored.
func TestAnAppendBehindTheHeadSaysWhatToSet(t *testing.T) {
	t.Parallel()
	s, pool, cfg := newStore(t, pgstore.Config{})
	ctx := context.Background()
	a, b := uuid.New(), uuid.New()
	_, err := s.Append(ctx, a, 0, stream(a, 0, 3))
	require.NoError(t, err)
	head := pgtest.Ident(cfg.Schema, pgstore.DefaultTable+"_head")
	_, err = pool.Exec(ctx, `UPDATE `+head+` SET position = 1`)
	require.NoError(t, err)

	_, err = s.Append(ctx, b, 0, stream(b, 0, 1))
	require.Error(t, err)
	assert.ErrorContains(t, err, head+" is at position 1, behind the last event of "+pgtest.Ident(cfg.Schema, pgstore.DefaultTable)+", at 3 (restored, or reset by hand?): set it to 3")
	evs, err := s.Load(ctx, b)
	require.NoError(t, err)
	assert.Empty(t, evs)
}

// A stream whose last events are missing from a partly restored events
// table, while its version in the streams table stands, is not in
// conflict with an append at that version: the collision is with the
// head, and the error says so.
func TestAnAppendToAStreamRestoredBehindItsVersionBlamesTheHead(t *testing.T) {
	t.Parallel()
	s, pool, cfg := newStore(t, pgstore.Config{})
	ctx := context.Background()
	a, b := uuid.New(), uuid.New()
	_, err := s.Append(ctx, a, 0, stream(a, 0, 3))
	require.NoError(t, err)
	_, err = s.Append(ctx, b, 0, stream(b, 0, 3))
	require.NoError(t, err)
	events := pgtest.Ident(cfg.Schema, pgstore.DefaultTable)
	head := pgtest.Ident(cfg.Schema, pgstore.DefaultTable+"_head")
	_, err = pool.Exec(ctx, `DELETE FROM `+events+` WHERE issue = $1 AND version = 3`, a)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `UPDATE `+head+` SET position = 1`)
	require.NoError(t, err)

	_, err = s.Append(ctx, a, 3, stream(a, 3, 1))
	require.Error(t, err)
	assert.NotErrorIs(t, err, evs.ErrVersionConflict)
	assert.ErrorContains(t, err, head+" is at position 1, behind the last event of "+events+", at 6 (restored, or reset by hand?): set it to 6")
}
