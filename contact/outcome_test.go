package contact_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/contact"
	"github.com/truefcr/truefcr/contact/contacttest"
	"github.com/truefcr/truefcr/events"
)

// lostStore is a MemoryStore whose next Append, once armed, fails as an
// append whose answer was lost (events.ErrOutcomeUnknown): it appends the
// events first (commit), or never (none), or at the landing-th Load after
// it (a commit that lands late), or right before the next Append
// (late-append).
type lostStore struct {
	*events.MemoryStore
	mu        sync.Mutex
	armed     bool
	mode      string // "commit", "none" or "late"
	landing   int
	pending   func()
	failLoads bool
	// thenFailLoads makes every Load fail after the lost append.
	thenFailLoads bool
}

func (s *lostStore) Append(ctx context.Context, issue uuid.UUID, expected uint64, evs []events.Envelope) ([]events.Envelope, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.armed {
		if s.pending != nil && s.mode == "late-append" {
			// It lands right before this append, which then conflicts.
			s.pending()
			s.pending = nil
		}
		return s.MemoryStore.Append(ctx, issue, expected, evs)
	}
	s.armed, s.failLoads = false, s.thenFailLoads
	lost := fmt.Errorf("append to issue %s: %w: unexpected EOF", issue, events.ErrOutcomeUnknown)
	switch s.mode {
	case "commit":
		if _, err := s.MemoryStore.Append(ctx, issue, expected, evs); err != nil {
			return nil, err
		}
	case "late", "late-append":
		s.pending = func() { _, _ = s.MemoryStore.Append(context.Background(), issue, expected, evs) }
	}
	return nil, lost
}

func (s *lostStore) Load(ctx context.Context, issue uuid.UUID) ([]events.Envelope, error) {
	s.mu.Lock()
	if s.pending != nil && s.mode == "late" {
		if s.landing--; s.landing <= 0 {
			s.pending()
			s.pending = nil
		}
	}
	fail := s.failLoads
	s.mu.Unlock()
	if fail {
		return nil, errors.New("store down")
	}
	return s.MemoryStore.Load(ctx, issue)
}

// A command whose append's outcome is lost takes effect once: the Service
// finds its event when the store stored it, at once or later, and decides
// it again when the store did not.
func TestServiceResolvesALostAppend(t *testing.T) {
	for _, c := range []struct {
		name    string
		mode    string
		landing int
	}{
		{"committed", "commit", 0},
		{"not committed", "none", 0},
		{"committed before the Service looks", "late", 1},
		{"too late to commit: the Service's next append wins", "late", 2},
		{"committed right before the Service appends again, on its last attempt", "late-append", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			store := &lostStore{MemoryStore: events.NewMemoryStore()}
			svc, _ := newService(t, func(cfg *contact.Config) { cfg.Store, cfg.Retries = store, 1 })
			id, _, err := svc.Open(t.Context(), contact.Open{Customer: events.Customer{ID: "C-1"}, Channel: "chat", Topic: "billing"})
			require.NoError(t, err)
			store.mu.Lock()
			store.armed, store.mode, store.landing = true, c.mode, c.landing
			store.mu.Unlock()

			evs, err := svc.FollowUp(t.Context(), id, contact.FollowUp{Channel: "voice"})
			require.NoError(t, err)
			require.Len(t, evs, 1)
			stored, err := store.MemoryStore.Load(t.Context(), id)
			require.NoError(t, err)
			require.Len(t, stored, 2, "the follow-up is stored once")
			assert.Equal(t, stored[1].ID, evs[0].ID, "Execute returns the event stored")
			assert.Equal(t, stored[1].Position, evs[0].Position)
			assert.IsType(t, &events.Contacted{}, stored[1].Data)
		})
	}
}

// When the stream cannot be read after a lost append, the error says that
// the command may have taken effect.
func TestServiceReportsAnUnknownOutcome(t *testing.T) {
	store := &lostStore{MemoryStore: events.NewMemoryStore()}
	svc, _ := newService(t, func(cfg *contact.Config) { cfg.Store = store })
	id, _, err := svc.Open(t.Context(), contact.Open{Customer: events.Customer{ID: "C-1"}, Channel: "chat", Topic: "billing"})
	require.NoError(t, err)
	store.mu.Lock()
	store.armed, store.mode, store.thenFailLoads = true, "commit", true
	store.mu.Unlock()
	_, err = svc.FollowUp(t.Context(), id, contact.FollowUp{Channel: "voice"})
	require.ErrorIs(t, err, events.ErrOutcomeUnknown)
	assert.ErrorContains(t, err, "store down")
	var cmdErr *contact.CommandError
	assert.False(t, errors.As(err, &cmdErr), "not a refusal: %v", err)
	var uo *contact.UnknownOutcomeError
	require.ErrorAs(t, err, &uo)
	assert.Equal(t, id, uo.Issue)
	stored, err := store.MemoryStore.Load(t.Context(), id)
	require.NoError(t, err)
	require.Len(t, stored, 2)
	assert.Equal(t, []uuid.UUID{stored[1].ID}, uo.Events, "the event to look for")
}

// An Open whose outcome is unknown returns the id it chose, which the
// caller needs to find out.
func TestServiceOpenWithAnUnknownOutcomeReturnsItsID(t *testing.T) {
	store := &lostStore{MemoryStore: events.NewMemoryStore()}
	svc, _ := newService(t, func(cfg *contact.Config) { cfg.Store = store })
	store.mu.Lock()
	store.armed, store.mode, store.thenFailLoads = true, "commit", true
	store.mu.Unlock()
	id, evs, err := svc.Open(t.Context(), contact.Open{Customer: events.Customer{ID: "C-1"}, Channel: "chat", Topic: "billing"})
	require.ErrorIs(t, err, events.ErrOutcomeUnknown)
	assert.Empty(t, evs)
	require.NotEqual(t, uuid.Nil, id)
	stored, err := store.MemoryStore.Load(t.Context(), id)
	require.NoError(t, err)
	assert.Len(t, stored, 1, "the issue was opened")
}

// A resolver that fails refuses an Open whose id the Service was to
// choose: the error names no issue.
func TestServiceResolverFailureNamesNoIssue(t *testing.T) {
	svc, _ := newService(t, func(c *contact.Config) {
		c.Customers = contact.CustomerResolverFunc(func(context.Context, []string) (string, error) { return "", errors.New("crm down") })
	})
	_, _, err := svc.Open(t.Context(), contact.Open{Customer: events.Customer{Keys: []string{"email:a@example.com"}}, Channel: "chat", Topic: "billing"})
	assert.EqualError(t, err, "open issue: resolve customer [email:a@example.com]: crm down")
}

// failingStore is a MemoryStore whose appends, or loads, fail with the
// error given.
type failingStore struct {
	*events.MemoryStore
	append, load error
}

func (s failingStore) Append(ctx context.Context, issue uuid.UUID, expected uint64, evs []events.Envelope) ([]events.Envelope, error) {
	if s.append != nil {
		return nil, s.append
	}
	return s.MemoryStore.Append(ctx, issue, expected, evs)
}

func (s failingStore) Load(ctx context.Context, issue uuid.UUID) ([]events.Envelope, error) {
	if s.load != nil {
		return nil, s.load
	}
	return s.MemoryStore.Load(ctx, issue)
}

// An Open whose id the Service chose, and that fails after that (a new
// contact or event id, the load of its stream or the append), opened
// nothing: its error names no issue, as a refused one's does, rather than
// the id it drew.
func TestServiceFailedMintedOpeningNamesNoIssue(t *testing.T) {
	tests := []struct {
		name         string
		ids          int // the ids drawn before they fail
		append, load error
		want         string
	}{
		{"contact id", 1, nil, nil, "open issue: new contact id: entropy exhausted"},
		{"event id", 2, nil, nil, "open issue: new event id: entropy exhausted"},
		{"load", 3, nil, errors.New("connection refused"), "open issue: load its new stream: connection refused"},
		{"append", 3, errors.New("disk full"), nil, "open issue: disk full"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var drawn []uuid.UUID
			store := events.NewMemoryStore()
			svc, _ := newService(t, func(c *contact.Config) {
				c.IDs = contact.IDFunc(func() (uuid.UUID, error) {
					if len(drawn) == tt.ids {
						return uuid.Nil, errors.New("entropy exhausted")
					}
					drawn = append(drawn, uuid.New())
					return drawn[len(drawn)-1], nil
				})
				c.Store = failingStore{store, tt.append, tt.load}
			})
			issue, evs, err := svc.Open(t.Context(), contact.Open{Customer: events.Customer{ID: "c-1"}, Channel: "chat", Topic: "billing"})
			require.Error(t, err)
			assert.Equal(t, tt.want, err.Error())
			assert.Equal(t, uuid.Nil, issue)
			assert.Empty(t, evs)
			assert.Zero(t, store.Len(), "nothing appended")
		})
	}
}

// The CustomerResolver is given a copy of the opening's keys: one that
// sorts or rewrites its argument changes neither the event stored nor its
// partition key.
func TestServiceResolverGetsACopyOfTheKeys(t *testing.T) {
	svc, store := newService(t, func(c *contact.Config) {
		c.Customers = contact.CustomerResolverFunc(func(_ context.Context, keys []string) (string, error) {
			keys[0], keys[1] = "email:SHOUTED@EXAMPLE.COM", keys[0]
			return "", nil
		})
	})
	issue, evs, err := svc.Open(t.Context(), contact.Open{
		Customer: events.Customer{Keys: []string{"phone:+358401234567", "email:b@example.com"}}, Channel: "chat", Topic: "billing",
	})
	require.NoError(t, err)
	want := []string{"phone:+358401234567", "email:b@example.com"}
	require.Len(t, evs, 1)
	assert.Equal(t, want, evs[0].Data.(*events.Opened).Customer.Keys)
	assert.Equal(t, contact.PartitionKey(events.Customer{Keys: want}), evs[0].Meta[events.MetaPartitionKey])
	stored, err := store.Load(t.Context(), issue)
	require.NoError(t, err)
	assert.Equal(t, evs, stored)
	assert.NoError(t, new(contact.Issue).Check(stored[0], contact.KeyRules{}))
}

// An opening with a host's id whose append's answer was lost, found
// stored as this run's own (not an earlier run's), is recorded with the
// host's id as such.
func TestAnOpeningFoundAfterALostAnswerIsRecordedAsTheHostGaveIt(t *testing.T) {
	store := &lostStore{MemoryStore: events.NewMemoryStore(), armed: true, mode: "commit"}
	rec := &recordingResolver{}
	svc, err := contact.NewService(contact.Config{Store: store, Clock: contacttest.NewClock(contacttest.Start()), IDs: contacttest.NewIDs(), Customers: rec})
	require.NoError(t, err)
	for _, ctx := range []context.Context{t.Context(), contact.WithIdempotencyKey(t.Context(), "crm:9")} {
		store.armed = true
		_, _, err = svc.Open(ctx, contact.Open{Customer: events.Customer{ID: "CRM-9", Keys: []string{"phone:+358401234567"}}, Channel: "phone", Topic: "t"})
		require.NoError(t, err)
	}
	assert.Equal(t, []bool{true, true}, rec.hostIDs)
}
