package pgstore_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/events/pgstore"
	"github.com/truefcr/truefcr/events/pgstore/pgtest"
	"github.com/truefcr/truefcr/events/storetest"
)

// Positions come from a counter row that rolls back with a failed append,
// so they have no gaps; event times travel in the payload, to the
// nanosecond.
var features = storetest.Features{GaplessPositions: true, Writers: 8}

func TestConformance(t *testing.T) {
	t.Run("FreshStoreWithoutGroupCommit", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) events.Store {
			s, _, _ := newStore(t, pgstore.Config{MaxGroup: 1})
			return s
		}, features)
	})
	t.Run("SharedStore", func(t *testing.T) {
		pool := pgtest.Pool(t)
		s, err := pgstore.New(context.Background(), pool, pgstore.Config{Schema: pgtest.Schema(t, pool)})
		require.NoError(t, err)
		storetest.Run(t, func(*testing.T) events.Store { return s }, features)
	})
	t.Run("WithOutbox", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) events.Store {
			s, _, _ := newStore(t, pgstore.Config{Outbox: &pgstore.OutboxConfig{}})
			return s
		}, features)
	})
}
