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

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
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
// did not commit it: the error came before the COMMIT, or the database
// answered the COMMIT with an error, or it was never sent. A broken
// connection may have lost the answer to a COMMIT that happened.
func TestRetryAloneOnlyWhenNothingWasCommitted(t *testing.T) {
	check := &pgconn.PgError{Severity: "ERROR", SeverityUnlocalized: "ERROR", Code: "23514", Message: `violates check constraint "host_rule"`}
	shutdown := &pgconn.PgError{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: "57P01", Message: "terminating connection due to administrator command"}
	assert.True(t, retryAlone(fmt.Errorf("insert events: %w", check)))
	assert.True(t, retryAlone(io.ErrUnexpectedEOF), "a connection lost before the COMMIT")
	assert.True(t, retryAlone(shutdown), "a server shut down before the COMMIT")
	assert.True(t, retryAlone(&commitUnknown{check}), "a COMMIT refused")
	assert.True(t, retryAlone(&commitUnknown{pgx.ErrTxCommitRollback}), "a COMMIT of a failed transaction")
	assert.False(t, retryAlone(&commitUnknown{shutdown}), "a server shut down at the COMMIT, which it may have made")
	assert.False(t, retryAlone(&commitUnknown{io.ErrUnexpectedEOF}), "the answer to a COMMIT was lost")
	assert.False(t, retryAlone(&commitUnknown{fmt.Errorf("commit: %w", net.ErrClosed)}))
}

// An append whose COMMIT the database may have made says so to its
// caller (events.ErrOutcomeUnknown); one that surely left nothing does not.
func TestFailSaysWhenTheOutcomeIsUnknown(t *testing.T) {
	s := &Store{}
	one := []Batch{{Issue: uuid.New()}}
	check := &pgconn.PgError{Severity: "ERROR", SeverityUnlocalized: "ERROR", Code: "23514"}
	for _, c := range []struct {
		err, cause error
		unknown    bool
	}{
		{&commitUnknown{io.ErrUnexpectedEOF}, io.ErrUnexpectedEOF, true},
		{&commitUnknown{fmt.Errorf("commit: %w", net.ErrClosed)}, net.ErrClosed, true},
		{&commitUnknown{pgx.ErrTxCommitRollback}, pgx.ErrTxCommitRollback, false},
		{&commitUnknown{check}, check, false},
		{io.ErrUnexpectedEOF, io.ErrUnexpectedEOF, false}, // before the COMMIT
	} {
		err := s.fail(context.Background(), one, c.err)
		assert.Equal(t, c.unknown, errors.Is(err, events.ErrOutcomeUnknown), "%v", err)
		assert.ErrorIs(t, err, c.cause)
	}
}

// When every caller of a group gave up, an append that failed because the
// transaction was cancelled reports its caller's own error (a deadline);
// one that failed for its own reason (a conflict) keeps it.
func TestGroupCallersThatGaveUpKeepTheirOwnErrors(t *testing.T) {
	g := &group{max: 3}
	f := &fakeCommits{release: make(chan struct{}), started: make(chan struct{})}
	units := []*unit{{}, {}, {}, {}}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); g.run(context.Background(), units[0], f.commit) }()
	<-f.started // units[0] commits alone and holds the lead

	conflict := &events.VersionConflictError{Expected: 1, Actual: 2}
	grouped := func(ctx context.Context, us []*unit) {
		<-ctx.Done() // every caller gave up
		us[0].err = conflict
		us[1].err = fmt.Errorf("append to issue: %w", ctx.Err())
		// A statement cancelled by a cancel request (pgx's
		// CancelRequestContextWatcherHandler).
		us[2].err = fmt.Errorf("append to issue: %w", &pgconn.PgError{Code: "57014", Message: "canceling statement due to user request"})
	}
	for i, u := range units[1:] {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		wg.Add(1)
		go func() { defer wg.Done(); g.run(ctx, u, grouped) }()
		require.Eventually(t, func() bool { return g.queued() == i+1 }, 5*time.Second, time.Millisecond)
	}
	close(f.release)
	wg.Wait()
	assert.ErrorIs(t, units[1].err, events.ErrVersionConflict)
	assert.NotErrorIs(t, units[1].err, context.DeadlineExceeded)
	assert.ErrorIs(t, units[2].err, context.DeadlineExceeded)
	assert.ErrorIs(t, units[3].err, context.DeadlineExceeded)
}

// An append whose caller gave up is told the caller's reason rather than
// the cancellation that followed, unless its COMMIT may have happened,
// which it is told all the same.
func TestGaveUpKeepsAnUnknownOutcome(t *testing.T) {
	unknown := fmt.Errorf("append to issue x: %w: %w", events.ErrOutcomeUnknown, io.ErrUnexpectedEOF)
	err := gaveUp(context.DeadlineExceeded, unknown)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorIs(t, err, events.ErrOutcomeUnknown)

	err = gaveUp(context.DeadlineExceeded, fmt.Errorf("insert: %w", context.Canceled))
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.NotErrorIs(t, err, context.Canceled, "the group's cancellation, not the caller's")
	assert.ErrorContains(t, err, "insert: context canceled")

	other := errors.New("check constraint")
	assert.Equal(t, other, gaveUp(context.DeadlineExceeded, other))
}
