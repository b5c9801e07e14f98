package transporttest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/contact"
	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/internal/simulate"
	"github.com/truefcr/truefcr/projections"
)

var errRejected = errors.New("commit rejected")

// rejecting is a store that refuses every nth append before touching its
// storage.
type rejecting struct {
	events.Store
	every int
	calls atomic.Int64
}

func (s *rejecting) Append(ctx context.Context, issue uuid.UUID, expected uint64, evs []events.Envelope) ([]events.Envelope, error) {
	if s.calls.Add(1)%int64(s.every) == 0 {
		return nil, errRejected
	}
	return s.Store.Append(ctx, issue, expected, evs)
}

// A store that rejects commits: the Service returns the store's error,
// appends and publishes nothing, and the command succeeds when tried again.
func TestFaultStoreRejectsCommit(t *testing.T) {
	log := simLog(t, 24, 1000)
	ctx := context.Background()
	store := &rejecting{Store: events.NewMemoryStore(), every: 7}
	l := newLine(t, store)
	var published atomic.Int64
	pub, err := events.NewPublisher(events.PublisherConfig{Publisher: l.bus, Topic: func(events.Envelope) string { return faultTopic }})
	require.NoError(t, err)
	svc := newService(t, store, contact.PublisherFunc(func(ctx context.Context, evs []events.Envelope) error {
		published.Add(int64(len(evs)))
		return pub.Publish(ctx, evs)
	}))
	cfg, fcr := l.runnerConfig(nil, projections.NewMemoryCheckpoints())
	runner, err := projections.NewRunner(cfg)
	require.NoError(t, err)
	r := start(t, runner)
	r.waitCaughtUp(t)

	c := simulate.NewCRM(log)
	rejected := 0
	for _, e := range log {
		before, err := store.Load(ctx, e.Issue)
		require.NoError(t, err)
		pubBefore := published.Load()
		cmd, err := command(c, e)
		require.NoError(t, err)
		evs, err := svc.Execute(ctx, e.Issue, cmd)
		if err != nil {
			rejected++
			require.ErrorIs(t, err, errRejected)
			assert.Empty(t, evs)
			after, lerr := store.Load(ctx, e.Issue)
			require.NoError(t, lerr)
			assert.Len(t, after, len(before), "nothing of issue %s was written", e.Issue)
			assert.Equal(t, pubBefore, published.Load(), "nothing was published")
			evs, err = svc.Execute(ctx, e.Issue, cmd)
		}
		require.NoError(t, err)
		require.Len(t, evs, 1)
	}
	require.Positive(t, rejected)
	r.waitApplied(t, int(published.Load()))
	require.NoError(t, r.stop())

	undisturbed := events.NewMemoryStore()
	record(ctx, t, newService(t, undisturbed, nil), log)
	assert.Equal(t, reference(t, undisturbed), fcr.Report())
	assert.Equal(t, reference(t, store), fcr.Report())
}

// racing makes the first two loads of chosen issues wait for each other,
// so that two writers decide on the same version and race to append.
type racing struct {
	events.Store
	mu        sync.Mutex
	gates     map[uuid.UUID]*gate
	conflicts atomic.Int64
}

type gate struct {
	loads int
	open  chan struct{}
}

func (s *racing) race(issue uuid.UUID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gates[issue] = &gate{open: make(chan struct{})}
}

func (s *racing) Load(ctx context.Context, issue uuid.UUID) ([]events.Envelope, error) {
	evs, err := s.Store.Load(ctx, issue)
	s.mu.Lock()
	g := s.gates[issue]
	if g != nil {
		if g.loads++; g.loads == 2 {
			close(g.open)
			delete(s.gates, issue)
		}
	}
	s.mu.Unlock()
	if g != nil {
		select {
		case <-g.open:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return evs, err
}

func (s *racing) Append(ctx context.Context, issue uuid.UUID, expected uint64, evs []events.Envelope) ([]events.Envelope, error) {
	out, err := s.Store.Append(ctx, issue, expected, evs)
	if errors.Is(err, events.ErrVersionConflict) {
		s.conflicts.Add(1)
	}
	return out, err
}

// Two writers race on the same issue: both reopen it (one wins, the other
// is refused once it sees the reopen), then both follow up (both land, one
// after the other). The runner sees exactly what was committed.
func TestFaultWritersRaceOnOneIssue(t *testing.T) {
	log := simLog(t, 25, 1000)
	ctx := context.Background()
	store := &racing{Store: events.NewMemoryStore(), gates: map[uuid.UUID]*gate{}}
	l := newLine(t, store)
	cfg, fcr := l.runnerConfig(nil, projections.NewMemoryCheckpoints())
	runner, err := projections.NewRunner(cfg)
	require.NoError(t, err)
	r := start(t, runner)
	r.waitCaughtUp(t)
	record(ctx, t, l.svc, log)

	end := log[len(log)-1].At
	var resolved []uuid.UUID
	for _, e := range log {
		if e.Version != 1 {
			continue
		}
		is, err := l.svc.Load(ctx, e.Issue)
		require.NoError(t, err)
		if is.Status == contact.StatusResolved && len(resolved) < 20 {
			resolved = append(resolved, e.Issue)
		}
	}
	require.Len(t, resolved, 20)

	both := func(issue uuid.UUID, cmds [2]contact.Command) [2]error {
		store.race(issue)
		var errs [2]error
		var wg sync.WaitGroup
		for i, cmd := range cmds {
			wg.Go(func() { _, errs[i] = l.svc.Execute(ctx, issue, cmd) })
		}
		wg.Wait()
		return errs
	}
	for _, issue := range resolved {
		errs := both(issue, [2]contact.Command{
			contact.Reopen{Channel: "phone", At: end.Add(time.Hour)},
			contact.Reopen{Channel: "chat", At: end.Add(time.Hour)},
		})
		if errs[0] != nil {
			errs[0], errs[1] = errs[1], errs[0]
		}
		require.NoError(t, errs[0], "one reopen lands")
		require.ErrorIs(t, errs[1], contact.ErrNotResolved, "the other sees the issue reopened")

		errs = both(issue, [2]contact.Command{
			contact.FollowUp{Channel: "email", At: end.Add(2 * time.Hour)},
			contact.FollowUp{Channel: "web", At: end.Add(2 * time.Hour)},
		})
		require.NoError(t, errs[0])
		require.NoError(t, errs[1])
	}
	assert.Equal(t, int64(2*len(resolved)), store.conflicts.Load(), "every race was lost once")
	for _, issue := range resolved {
		evs, err := store.Load(ctx, issue)
		require.NoError(t, err)
		for i, e := range evs {
			require.Equal(t, uint64(i+1), e.Version)
		}
		assert.Equal(t, []events.Type{events.TypeReopened, events.TypeContacted, events.TypeContacted},
			[]events.Type{evs[len(evs)-3].Type(), evs[len(evs)-2].Type(), evs[len(evs)-1].Type()})
	}

	r.waitApplied(t, int(int64(len(log))+int64(3*len(resolved))))
	require.NoError(t, r.stop())
	assert.Equal(t, reference(t, store), fcr.Report())
}
