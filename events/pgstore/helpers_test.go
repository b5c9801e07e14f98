package pgstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/events/pgstore"
	"github.com/truefcr/truefcr/events/pgstore/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// newStore returns a store in a schema of the test's own, and its pool.
func newStore(t testing.TB, cfg pgstore.Config) (*pgstore.Store, *pgxpool.Pool, pgstore.Config) {
	t.Helper()
	pool := pgtest.Pool(t)
	cfg.Schema = pgtest.Schema(t, pool)
	s, err := pgstore.New(context.Background(), pool, cfg)
	require.NoError(t, err)
	return s, pool, cfg
}

var baseTime = time.Date(2026, 3, 2, 9, 15, 0, 0, time.UTC)

// stream returns n events of a new issue, versions from+1 … from+n: an
// opening when from is 0, then contacts.
func stream(issue uuid.UUID, from uint64, n int) []events.Envelope {
	contact := uuid.New()
	out := make([]events.Envelope, n)
	for i := range out {
		v := from + uint64(i) + 1
		out[i] = events.Envelope{
			ID: uuid.New(), Issue: issue, Version: v,
			At:   baseTime.Add(time.Duration(v) * time.Minute),
			Data: &events.Contacted{Contact: contact, Channel: "chat"},
			Meta: events.Meta{events.MetaPartitionKey: "cust-" + issue.String()[:8]},
		}
		if v == 1 {
			out[i].Data = &events.Opened{Customer: events.Customer{ID: "cust-1", Keys: []string{"phone:+358401234567"}},
				Channel: "phone", Topic: "billing/invoice-error", Contact: contact}
		}
	}
	return out
}

// appendIssues appends n new issues of per events each to s, one Append
// an issue, and returns the events as stored.
func appendIssues(t testing.TB, s *pgstore.Store, n, per int) []events.Envelope {
	t.Helper()
	var all []events.Envelope
	for range n {
		issue := uuid.New()
		out, err := s.Append(context.Background(), issue, 0, stream(issue, 0, per))
		require.NoError(t, err)
		all = append(all, out...)
	}
	return all
}

// withoutPositions returns evs with Position cleared, to compare events
// as given with events as stored.
func withoutPositions(evs []events.Envelope) []events.Envelope {
	out := make([]events.Envelope, len(evs))
	for i, e := range evs {
		e.Position = 0
		out[i] = e
	}
	return out
}
