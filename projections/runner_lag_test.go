package projections

import (
	"context"
	"errors"
	"iter"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
)

// plainStore hides every method but the Store's own and counts reads.
type plainStore struct {
	events.Store
	reads int
}

func (s *plainStore) ReadAll(ctx context.Context, after uint64) iter.Seq2[events.Envelope, error] {
	s.reads++
	return s.Store.ReadAll(ctx, after)
}

// headStore tells its head without reading any event.
type headStore struct {
	plainStore
	head uint64
}

func (s *headStore) Head(context.Context) (uint64, error) { return s.head, nil }

func TestRunnerLagUsesHeadWhenTheStoreHasOne(t *testing.T) {
	mem := events.NewMemoryStore()
	appendAll(t, mem, testLog(10))
	n := uint64(mem.Len())
	require.NotZero(t, n)

	for _, tc := range []struct {
		name      string
		store     interface{ readCount() int }
		wantHead  uint64
		wantReads int
	}{
		{"read", &plainStore{Store: mem}, n, 1},
		{"head", &headStore{plainStore: plainStore{Store: mem}, head: n + 7}, n + 7, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewRunner(RunnerConfig{Name: "lag", Projection: newTally(), Store: tc.store.(events.Store), Logger: quietLogger()})
			require.NoError(t, err)
			lag, err := r.Lag(context.Background())
			require.NoError(t, err)
			assert.Equal(t, Lag{Position: 0, Head: tc.wantHead, Behind: tc.wantHead, Pending: -1}, lag)
			assert.Equal(t, tc.wantReads, tc.store.readCount(), "reads of the store")
		})
	}
}

func (s *plainStore) readCount() int { return s.reads }

// failAfterStore fails its reads after n events.
type failAfterStore struct {
	events.Store
	n int
}

func (s failAfterStore) ReadAll(ctx context.Context, after uint64) iter.Seq2[events.Envelope, error] {
	return func(yield func(events.Envelope, error) bool) {
		i := 0
		for e, err := range s.Store.ReadAll(ctx, after) {
			if i == s.n {
				yield(events.Envelope{}, errors.New("disk on fire"))
				return
			}
			i++
			if !yield(e, err) || err != nil {
				return
			}
		}
	}
}

// An error of the store names where the read stopped: after the last
// event read, in a catch-up as in a Rebuild.
func TestRunnerStoreErrorsNameWhereTheReadStopped(t *testing.T) {
	store := events.NewMemoryStore()
	appendAll(t, store, testLog(20)[:30])
	r, err := NewRunner(RunnerConfig{Name: "tally", Projection: newTally(), Store: failAfterStore{store, 17}, Logger: quietLogger()})
	require.NoError(t, err)
	err = r.Run(t.Context())
	require.Error(t, err)
	assert.Contains(t, err.Error(), `runner "tally": read store after position 17: disk on fire`)
	err = r.Rebuild(t.Context())
	require.Error(t, err)
	assert.Contains(t, err.Error(), `runner "tally": rebuild: read store after position 17: disk on fire`)
}
