package pgstore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events/pgstore"
	"github.com/truefcr/truefcr/events/pgstore/pgtest"
)

// TestReadAllNeverSkipsALateCommit races writers whose transactions commit
// in any order against a reader that polls ReadAll from the last position
// it saw, as a projection does. A store whose positions became visible out
// of commit order would make the reader step over events for good (a
// variant that takes positions from a plain sequence fails on the first
// trial).
func TestReadAllNeverSkipsALateCommit(t *testing.T) {
	const trials = 12
	pool := pgtest.Pool(t)
	schema := pgtest.Schema(t, pool)
	for trial := range trials {
		t.Run(fmt.Sprintf("trial_%d", trial), func(t *testing.T) {
			s, err := pgstore.New(context.Background(), pool,
				pgstore.Config{Schema: schema, Table: fmt.Sprintf("trial_%d", trial), ReadBatch: 7})
			require.NoError(t, err)
			racePollingReader(t, s)
		})
	}
}

func racePollingReader(t *testing.T, s *pgstore.Store) {
	const (
		writers = 6
		appends = 25 // per writer, each of 1 to 3 events
	)
	ctx := t.Context()
	want := 0
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		for i := range appends {
			want += 1 + (w+i)%3
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range appends {
				issue := uuid.New()
				if _, err := s.Append(ctx, issue, 0, stream(issue, 0, 1+(w+i)%3)); err != nil {
					errs <- fmt.Errorf("writer %d, append %d: %w", w, i, err)
					return
				}
			}
		}()
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	defer wg.Wait() // the writers end with the test, even when it fails early

	seen := make(map[uuid.UUID]int)
	var last uint64
	deadline := time.Now().Add(30 * time.Second)
	for done := false; !done; {
		select {
		case <-finished:
			done = true // every append has committed: one last poll must see the rest
		default:
		}
		for e, err := range s.ReadAll(ctx, last) {
			require.NoError(t, err)
			require.Greater(t, e.Position, last, "positions must increase along ReadAll")
			last = e.Position
			seen[e.ID]++
		}
		require.True(t, time.Now().Before(deadline), "the writers did not finish in time")
	}
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	stored, err := collect(s.ReadAll(ctx, 0))
	require.NoError(t, err)
	require.Len(t, stored, want)
	var missed, repeated []uint64
	for _, e := range stored {
		switch seen[e.ID] {
		case 0:
			missed = append(missed, e.Position)
		case 1:
		default:
			repeated = append(repeated, e.Position)
		}
	}
	assert.Empty(t, missed, "positions the polling reader never saw")
	assert.Empty(t, repeated, "positions the polling reader saw twice")
	assert.Len(t, seen, want, "the reader saw only stored events")
}
