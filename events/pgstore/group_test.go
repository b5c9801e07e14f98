package pgstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeCommits records which units each commit carried; the first commit
// blocks until release is closed, so that others queue up behind it.
type fakeCommits struct {
	release chan struct{}
	started chan struct{}

	mu     sync.Mutex
	groups [][]*unit
}

func (f *fakeCommits) commit(_ context.Context, units []*unit) {
	f.mu.Lock()
	f.groups = append(f.groups, units)
	first := len(f.groups) == 1
	f.mu.Unlock()
	if first {
		close(f.started)
		<-f.release
	}
}

func (g *group) queued() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.queue)
}

func TestGroupCommitsWaitingAppendsTogether(t *testing.T) {
	g := &group{max: 3}
	f := &fakeCommits{release: make(chan struct{}), started: make(chan struct{})}
	ctx := context.Background()
	units := make([]*unit, 6)
	for i := range units {
		units[i] = &unit{}
	}

	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); g.run(ctx, units[0], f.commit) }()
	<-f.started // units[0] commits alone and holds the lead

	cancelled, cancel := context.WithCancel(ctx)
	for i, u := range units[1:] {
		c := ctx
		if i == 1 {
			c = cancelled // units[2] gives up while it waits
		}
		wg.Add(1)
		go func() { defer wg.Done(); g.run(c, u, f.commit) }()
		require.Eventually(t, func() bool { return g.queued() == i+1 }, 5*time.Second, time.Millisecond)
	}
	cancel()
	require.Eventually(t, func() bool { return g.queued() == 4 }, 5*time.Second, time.Millisecond)
	close(f.release)
	wg.Wait()

	require.Len(t, f.groups, 3)
	assert.Equal(t, []*unit{units[0]}, f.groups[0])
	assert.Equal(t, []*unit{units[1], units[3], units[4]}, f.groups[1], "at most max appends, in arrival order")
	assert.Equal(t, []*unit{units[5]}, f.groups[2])
	assert.True(t, errors.Is(units[2].err, context.Canceled))
	for _, i := range []int{0, 1, 3, 4, 5} {
		assert.NoError(t, units[i].err, "unit %d", i)
	}
	assert.False(t, g.leading, "the lead is released when nobody waits")
}

// A group is committed again unit by unit only when the database surely
// did not commit it: it answered with an error, or nothing was sent. A
// broken connection may have lost the answer to a commit that happened.
func TestRefusedTellsARefusalFromAnUnknownOutcome(t *testing.T) {
	check := &pgconn.PgError{Code: "23514", Message: `violates check constraint "host_rule"`}
	assert.True(t, refused(check))
	assert.True(t, refused(fmt.Errorf("insert events: %w", check)))
	assert.False(t, refused(io.ErrUnexpectedEOF), "the answer to a commit was lost")
	assert.False(t, refused(fmt.Errorf("commit: %w", net.ErrClosed)))
	assert.False(t, refused(context.Canceled))
}
