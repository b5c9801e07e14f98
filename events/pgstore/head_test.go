package pgstore_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events/pgstore"
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
