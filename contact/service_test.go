package contact_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/contact"
	"github.com/truefcr/truefcr/contact/contacttest"
	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/projections"
)

// newService returns a Service on a new memory store with the test clock
// and ids, and the store.
func newService(t *testing.T, edit ...func(*contact.Config)) (*contact.Service, *events.MemoryStore) {
	t.Helper()
	store := events.NewMemoryStore()
	cfg := contact.Config{Store: store, Clock: contacttest.NewClock(contacttest.Start()), IDs: contacttest.NewIDs()}
	for _, e := range edit {
		e(&cfg)
	}
	svc, err := contact.NewService(cfg)
	require.NoError(t, err)
	return svc, store
}

func TestNewServiceRefusesBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  contact.Config
		want string
	}{
		{"no store", contact.Config{}, "no Store"},
		{"bad default country", contact.Config{Store: events.NewMemoryStore(), Keys: contact.KeyRules{DefaultCountry: "0"}}, `default country "0"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, err := contact.NewService(tt.cfg)
			assert.Nil(t, svc)
			assert.ErrorIs(t, err, contact.ErrInvalidConfig)
			assert.ErrorContains(t, err, tt.want)
		})
	}
}

func TestServiceDefaults(t *testing.T) {
	svc, err := contact.NewService(contact.Config{Store: events.NewMemoryStore()})
	require.NoError(t, err)
	id, evs, err := svc.Open(t.Context(), contact.Open{Customer: events.Customer{ID: "C-1"}, Channel: "chat", Topic: "billing"})
	require.NoError(t, err)
	require.Len(t, evs, 1)
	assert.Equal(t, uuid.Version(7), id.Version(), "issue ids are UUIDv7")
	assert.Equal(t, uuid.Version(7), evs[0].ID.Version(), "event ids are UUIDv7")
	assert.False(t, evs[0].At.IsZero(), "the system clock gives the time")
}

func TestServiceOpenMakesAnIssueID(t *testing.T) {
	svc, store := newService(t)
	id, evs, err := svc.Open(t.Context(), contact.Open{Customer: events.Customer{ID: "C-1"}, Channel: "chat", Topic: "billing"})
	require.NoError(t, err)
	assert.Equal(t, contacttest.ID(1), id)
	require.Len(t, evs, 1)
	assert.Equal(t, events.Envelope{
		ID: contacttest.ID(3), Issue: id, Version: 1, At: contacttest.Start(), Position: 1,
		Data: &events.Opened{Customer: events.Customer{ID: "C-1"}, Channel: "chat", Topic: "billing", Contact: contacttest.ID(2)},
		Meta: events.Meta{events.MetaPartitionKey: "C-1"},
	}, evs[0])
	stored, err := store.Load(t.Context(), id)
	require.NoError(t, err)
	assert.Equal(t, evs, stored, "what Open returns is what the store holds")

	is, err := svc.Load(t.Context(), id)
	require.NoError(t, err)
	assert.Equal(t, contact.StatusOpen, is.Status)
}

func TestServiceRefusedOpenReturnsNoID(t *testing.T) {
	svc, store := newService(t)
	id, evs, err := svc.Open(t.Context(), contact.Open{Channel: "chat", Topic: "billing"})
	assert.ErrorIs(t, err, contact.ErrInvalidCommand)
	assert.Equal(t, uuid.Nil, id)
	assert.Empty(t, evs)
	assert.Zero(t, store.Len())

	// The error names no issue: none was opened.
	_, _, err = svc.Open(t.Context(), contact.Open{Customer: events.Customer{ID: "C-1"}, Channel: "Phone", Topic: "billing"})
	var ce *contact.CommandError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, uuid.Nil, ce.Issue)
	assert.True(t, strings.HasPrefix(err.Error(), "open issue: channel"), "%v", err)
	// An opening given its id names it.
	_, err = svc.Execute(t.Context(), contacttest.IssueID(), contact.Open{Customer: events.Customer{ID: "C-1"}, Channel: "Phone", Topic: "billing"})
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, contacttest.IssueID(), ce.Issue)
}

// No command, or a nil pointer to one, is refused with a CommandError
// that says so, by Execute and by Decide, and appends nothing.
func TestServiceExecuteNilCommand(t *testing.T) {
	svc, store := newService(t)
	for _, cmd := range []contact.Command{nil, (*contact.Open)(nil), (*contact.Route)(nil), (*contact.Resolve)(nil), (*contact.Rate)(nil)} {
		_, err := svc.Execute(t.Context(), contacttest.IssueID(), cmd)
		var ce *contact.CommandError
		require.ErrorAs(t, err, &ce, "%T", cmd)
		assert.ErrorIs(t, err, contact.ErrInvalidCommand)
		assert.Contains(t, err.Error(), "no command")
		_, err = contact.Decide(&contact.Issue{}, cmd, time.Now(), contact.UUIDv7{}, contact.KeyRules{})
		assert.ErrorIs(t, err, contact.ErrInvalidCommand, "%T", cmd)
	}
	assert.Zero(t, store.Len())
}

func TestServiceMeta(t *testing.T) {
	tests := []struct {
		name     string
		customer events.Customer
		want     string
	}{
		{"customer id", events.Customer{ID: "C-7", Keys: []string{"email:anna@example.com"}}, "C-7"},
		{"least normalised key", events.Customer{Keys: []string{"email:Anna@Example.com", "phone:+358401234567"}}, "email:anna@example.com"},
		{"the same keys in another order", events.Customer{Keys: []string{"phone:+358401234567", "email:Anna@Example.com"}}, "email:anna@example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, _ := newService(t)
			ctx := contact.WithCausationID(contact.WithCorrelationID(t.Context(), "corr-1"), "msg-9")
			id, evs, err := svc.Open(ctx, contact.Open{Customer: tt.customer, Channel: "chat", Topic: "billing"})
			require.NoError(t, err)
			want := events.Meta{events.MetaPartitionKey: tt.want, events.MetaCorrelationID: "corr-1", events.MetaCausationID: "msg-9"}
			assert.Equal(t, want, evs[0].Meta)
			assert.Equal(t, tt.want, contact.PartitionKey(evs[0].Data.(*events.Opened).Customer), "what an import stamps")

			evs, err = svc.Route(t.Context(), id, contact.Route{Queue: "billing"})
			require.NoError(t, err)
			assert.Equal(t, events.Meta{events.MetaPartitionKey: tt.want}, evs[0].Meta, "later events keep the partition key")
		})
	}
}

// An issue's later events keep the partition key of its opening, even one
// that today's rule would not choose (an issue opened before it changed).
func TestServiceKeepsTheOpeningsPartitionKey(t *testing.T) {
	svc, store := newService(t)
	id := uuid.New()
	opened := events.Envelope{ID: uuid.New(), Issue: id, Version: 1, At: contacttest.Start(),
		Data: &events.Opened{Customer: events.Customer{Keys: []string{"phone:+358401234567", "email:anna@example.com"}},
			Channel: "chat", Topic: "billing", Contact: uuid.New()},
		Meta: events.Meta{events.MetaPartitionKey: "phone:+358401234567"}}
	_, err := store.Append(t.Context(), id, 0, []events.Envelope{opened})
	require.NoError(t, err)
	evs, err := svc.Route(t.Context(), id, contact.Route{Queue: "billing"})
	require.NoError(t, err)
	assert.Equal(t, events.Meta{events.MetaPartitionKey: "phone:+358401234567"}, evs[0].Meta)

	// An opening without one (imported) leaves every event of the issue to
	// go by the issue id.
	other := uuid.New()
	opened.ID, opened.Issue, opened.Meta = uuid.New(), other, nil
	_, err = store.Append(t.Context(), other, 0, []events.Envelope{opened})
	require.NoError(t, err)
	evs, err = svc.Route(t.Context(), other, contact.Route{Queue: "billing"})
	require.NoError(t, err)
	assert.Equal(t, events.PartitionKey(opened), events.PartitionKey(evs[0]))
}

// A host's metadata (tenant, source) reaches the events beside the
// Service's own keys, which it cannot replace.
func TestServiceStampsTheHostsMeta(t *testing.T) {
	svc, _ := newService(t)
	given := events.Meta{events.MetaTenant: "acme", events.MetaPartitionKey: "mine", events.MetaCorrelationID: "mine"}
	ctx := contact.WithMeta(t.Context(), given)
	ctx = contact.WithMeta(ctx, events.Meta{events.MetaSource: "zendesk"})
	given[events.MetaTenant] = "changed later"
	ctx = contact.WithCausationID(ctx, "msg-9")
	id, evs, err := svc.Open(ctx, contact.Open{Customer: events.Customer{ID: "C-7"}, Channel: "chat", Topic: "billing"})
	require.NoError(t, err)
	assert.Equal(t, events.Meta{events.MetaTenant: "acme", events.MetaSource: "zendesk",
		events.MetaPartitionKey: "C-7", events.MetaCausationID: "msg-9"}, evs[0].Meta)
	evs, err = svc.Route(contact.WithMeta(t.Context(), events.Meta{events.MetaTenant: "acme"}), id, contact.Route{Queue: "billing"})
	require.NoError(t, err)
	assert.Equal(t, events.Meta{events.MetaTenant: "acme", events.MetaPartitionKey: "C-7"}, evs[0].Meta)
	assert.Equal(t, events.Meta{events.MetaTenant: "acme", events.MetaSource: "zendesk", events.MetaPartitionKey: "mine", events.MetaCorrelationID: "mine"},
		contact.Meta(ctx), "what ctx carries")
	assert.Nil(t, contact.Meta(t.Context()))
}

// A call abandoned in a queue counts there: the queue's service level
// has the caller who gave up as well as the one answered.
func TestServiceAbandonInAQueue(t *testing.T) {
	svc, store := newService(t)
	ctx := t.Context()
	answered, _, err := svc.Open(ctx, contact.Open{Customer: events.Customer{ID: "C-1"}, Channel: "phone", Topic: "billing"})
	require.NoError(t, err)
	_, err = svc.Route(ctx, answered, contact.Route{Queue: "billing", Wait: 10 * time.Second})
	require.NoError(t, err)
	gaveUp, _, err := svc.Open(ctx, contact.Open{Customer: events.Customer{ID: "C-2"}, Channel: "phone", Topic: "billing"})
	require.NoError(t, err)
	_, err = svc.Abandon(ctx, gaveUp, contact.Abandon{Queue: "billing"})
	require.NoError(t, err)

	sl, err := projections.NewServiceLevel(projections.ServiceConfig{})
	require.NoError(t, err)
	for e, err := range store.ReadAll(ctx, 0) {
		require.NoError(t, err)
		require.NoError(t, sl.Apply(e))
	}
	billing := sl.Report().ByQueue["billing"]
	assert.Equal(t, int64(2), billing.Offered)
	assert.Equal(t, int64(1), billing.Abandoned)
	assert.Equal(t, int64(1), billing.ServiceLevel.Hits)
	assert.Equal(t, int64(2), billing.ServiceLevel.Total)
}

// A caller who withheld the number opens an issue under the other keys;
// with none, the Open is refused and says why.
func TestServiceOpenDropsAWithheldNumber(t *testing.T) {
	svc, _ := newService(t)
	_, evs, err := svc.Open(t.Context(), contact.Open{
		Customer: events.Customer{Keys: []string{"phone:anonymous", "email:Anna@Example.com"}}, Channel: "phone", Topic: "billing"})
	require.NoError(t, err)
	assert.Equal(t, []string{"email:anna@example.com"}, evs[0].Data.(*events.Opened).Customer.Keys)

	_, _, err = svc.Open(t.Context(), contact.Open{Customer: events.Customer{Keys: []string{"phone:Withheld"}}, Channel: "phone", Topic: "billing"})
	require.ErrorIs(t, err, contact.ErrInvalidCommand)
	assert.ErrorContains(t, err, "neither an id nor an identity key: a withheld number, or a key of invisible characters only, identifies no one")
}

func TestContextIDs(t *testing.T) {
	ctx := t.Context()
	assert.Empty(t, contact.CorrelationID(ctx))
	assert.Empty(t, contact.CausationID(ctx))
	ctx = contact.WithCausationID(contact.WithCorrelationID(ctx, "a"), "b")
	assert.Equal(t, "a", contact.CorrelationID(ctx))
	assert.Equal(t, "b", contact.CausationID(ctx))
	assert.Empty(t, contact.IdempotencyKey(ctx))
	assert.Equal(t, "k", contact.IdempotencyKey(contact.WithIdempotencyKey(ctx, "k")))
}

func TestServiceCustomerResolver(t *testing.T) {
	var got [][]string
	resolver := contact.CustomerResolverFunc(func(_ context.Context, keys []string) (string, error) {
		got = append(got, keys)
		if keys[0] == "phone:+358401234567" {
			return "CRM-42", nil
		}
		return "", nil
	})
	svc, _ := newService(t, func(c *contact.Config) {
		c.Customers = resolver
		c.Keys = contact.KeyRules{DefaultCountry: "358"}
	})

	_, evs, err := svc.Open(t.Context(), contact.Open{Customer: events.Customer{Keys: []string{"phone:040 123 4567"}}, Channel: "phone", Topic: "billing"})
	require.NoError(t, err)
	assert.Equal(t, events.Customer{ID: "CRM-42", Keys: []string{"phone:+358401234567"}}, evs[0].Data.(*events.Opened).Customer)
	assert.Equal(t, "CRM-42", evs[0].Meta[events.MetaPartitionKey])

	_, evs, err = svc.Open(t.Context(), contact.Open{Customer: events.Customer{Keys: []string{"email:new@example.com"}}, Channel: "chat", Topic: "billing"})
	require.NoError(t, err)
	assert.Equal(t, events.Customer{Keys: []string{"email:new@example.com"}}, evs[0].Data.(*events.Opened).Customer, "an unknown customer keeps no id")

	_, _, err = svc.Open(t.Context(), contact.Open{Customer: events.Customer{ID: "C-1", Keys: []string{"email:x@example.com"}}, Channel: "chat", Topic: "billing"})
	require.NoError(t, err)
	assert.Equal(t, [][]string{{"phone:+358401234567"}, {"email:new@example.com"}}, got, "asked with normalised keys, and only without an id")
}

// What a host adds to the customer object (Customer.Extra) is stored with
// the opening, through the resolver too.
func TestServiceKeepsTheCustomersExtra(t *testing.T) {
	for _, resolver := range []bool{false, true} {
		svc, _ := newService(t, func(c *contact.Config) {
			if resolver {
				c.Customers = contact.CustomerResolverFunc(func(context.Context, []string) (string, error) { return "CRM-7", nil })
			}
		})
		_, evs, err := svc.Open(t.Context(), contact.Open{Customer: events.Customer{Keys: []string{"email:a@example.com"}, Extra: events.Extra{"name": "Anna"}}, Channel: "chat", Topic: "billing"})
		require.NoError(t, err)
		assert.Equal(t, events.Extra{"name": "Anna"}, evs[0].Data.(*events.Opened).Customer.Extra, "resolver %v", resolver)
	}
}

// A customer id of spaces alone is no id: the resolver is asked.
// A customer id from the resolver is checked as one given: the Service
// writes no opening that Check would refuse.
func TestServiceCustomerResolverIDWithAControlCharacter(t *testing.T) {
	svc, store := newService(t, func(c *contact.Config) {
		c.Customers = contact.CustomerResolverFunc(func(context.Context, []string) (string, error) { return "C\u200e1", nil })
	})
	_, _, err := svc.Open(t.Context(), contact.Open{Customer: events.Customer{Keys: []string{"email:anna@example.com"}}, Channel: "chat", Topic: "billing"})
	require.ErrorIs(t, err, contact.ErrInvalidCommand)
	assert.EqualError(t, err, `open issue: the customer resolver gave a customer id "C\u200e1" holds the control of the direction of text U+200E`)
	assert.Equal(t, 0, store.Len())
}

func TestServiceCustomerResolverBlankID(t *testing.T) {
	asked := 0
	svc, _ := newService(t, func(c *contact.Config) {
		c.Customers = contact.CustomerResolverFunc(func(context.Context, []string) (string, error) {
			asked++
			return "CRM-7", nil
		})
	})
	_, evs, err := svc.Open(t.Context(), contact.Open{Customer: events.Customer{ID: "  ", Keys: []string{"email:a@example.com"}}, Channel: "chat", Topic: "billing"})
	require.NoError(t, err)
	assert.Equal(t, 1, asked)
	assert.Equal(t, "CRM-7", evs[0].Meta[events.MetaPartitionKey])
}

// A command stamped further after the clock's time than MaxFuture (an
// hour by default) is refused and appends nothing: the issue's later
// commands, stamped by the clock, would otherwise all be out of order.
func TestServiceRefusesEventTimesInTheFuture(t *testing.T) {
	start := contacttest.Start()
	tests := []struct {
		name      string
		maxFuture time.Duration
		ahead     time.Duration
		refused   bool
	}{
		{"an hour by default, within", 0, time.Hour, false},
		{"an hour by default, beyond", 0, time.Hour + time.Second, true},
		{"set longer", 48 * time.Hour, 47 * time.Hour, false},
		{"set shorter", time.Minute, 2 * time.Minute, true},
		{"no limit", -1, 50 * 365 * 24 * time.Hour, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, store := newService(t, func(c *contact.Config) { c.MaxFuture = tt.maxFuture })
			id, _, err := svc.Open(t.Context(), contact.Open{Customer: events.Customer{ID: "C-1"}, Channel: "chat", Topic: "billing"})
			require.NoError(t, err)
			_, err = svc.Execute(t.Context(), id, contact.Route{Queue: "q", At: start.Add(tt.ahead)})
			if !tt.refused {
				require.NoError(t, err)
				assert.Equal(t, 2, store.Len())
				return
			}
			assert.ErrorIs(t, err, contact.ErrInvalidCommand)
			assert.ErrorContains(t, err, "event time "+start.Add(tt.ahead).Format(time.RFC3339)+" is more than")
			assert.ErrorContains(t, err, "clock's time, "+start.Format(time.RFC3339))
			assert.Equal(t, 1, store.Len(), "a refused command appends nothing")
			_, err = svc.Execute(t.Context(), id, contact.Route{Queue: "q"})
			assert.NoError(t, err, "the issue goes on at the clock's time")
		})
	}
}

// An opening stamped too far ahead is refused before anything is asked or
// made for it: the resolver is not called, and no issue id is used up.
func TestServiceRefusesAFutureOpeningFirst(t *testing.T) {
	asked := 0
	svc, store := newService(t, func(c *contact.Config) {
		c.Customers = contact.CustomerResolverFunc(func(context.Context, []string) (string, error) { asked++; return "CRM-1", nil })
	})
	_, _, err := svc.Open(t.Context(), contact.Open{Customer: events.Customer{Keys: []string{"email:a@example.com"}}, Channel: "chat", Topic: "billing",
		At: contacttest.Start().Add(48 * time.Hour)})
	assert.ErrorIs(t, err, contact.ErrInvalidCommand)
	assert.ErrorContains(t, err, "open issue: event time 2026-03-04T09:00:00Z is more than 1h0m0s after")
	assert.Zero(t, asked)
	assert.Zero(t, store.Len())
	id, _, err := svc.Open(t.Context(), contact.Open{Customer: events.Customer{Keys: []string{"email:a@example.com"}}, Channel: "chat", Topic: "billing"})
	require.NoError(t, err)
	assert.Equal(t, contacttest.ID(1), id, "the refused opening used no id")

	// With an idempotency key, the refusal names the issue that the key
	// opens (IssueForKey), as every other refusal of such an Open does.
	ctx := contact.WithIdempotencyKey(t.Context(), "webhook:9")
	_, err = svc.Execute(ctx, uuid.Nil, contact.Open{Customer: events.Customer{Keys: []string{"email:a@example.com"}}, Channel: "chat", Topic: "billing",
		At: contacttest.Start().Add(48 * time.Hour)})
	ce := (*contact.CommandError)(nil)
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, contact.IssueForKey("webhook:9"), ce.Issue)
	assert.ErrorContains(t, err, "open issue "+contact.IssueForKey("webhook:9").String()+": event time")
}

func TestServiceCustomerResolverFails(t *testing.T) {
	boom := errors.New("crm down")
	svc, store := newService(t, func(c *contact.Config) {
		c.Customers = contact.CustomerResolverFunc(func(context.Context, []string) (string, error) { return "", boom })
	})
	_, _, err := svc.Open(t.Context(), contact.Open{Customer: events.Customer{Keys: []string{"email:a@example.com"}}, Channel: "chat", Topic: "billing"})
	assert.ErrorIs(t, err, boom)
	assert.Zero(t, store.Len())

	_, _, err = svc.Open(t.Context(), contact.Open{Customer: events.Customer{Keys: []string{"email:nobody"}}, Channel: "chat", Topic: "billing"})
	assert.ErrorIs(t, err, contact.ErrInvalidKey, "keys are checked before the resolver is asked")
}

// The resolver is asked only once the lifecycle accepted the Open: an Open
// it refuses is refused for its own reason, however the CRM fares.
func TestServiceAsksTheResolverAfterDeciding(t *testing.T) {
	asked := 0
	failing := func(c *contact.Config) {
		c.Customers = contact.CustomerResolverFunc(func(context.Context, []string) (string, error) {
			asked++
			return "", errors.New("crm down")
		})
	}
	anna := events.Customer{Keys: []string{"email:anna@example.com"}}
	var ce *contact.CommandError

	o := contacttest.Given(t, opened()).With(failing).When(contact.Open{Customer: anna, Channel: "chat", Topic: "billing"})
	require.ErrorAs(t, o.Err, &ce)
	assert.ErrorIs(t, o.Err, contact.ErrIssueExists)

	o = contacttest.Given(t).With(failing).When(contact.Open{Customer: anna, Channel: "Chat", Topic: "billing"})
	require.ErrorAs(t, o.Err, &ce)
	assert.ErrorIs(t, o.Err, contact.ErrInvalidCommand)
	assert.Zero(t, asked)

	o = contacttest.Given(t).With(failing).When(contact.Open{Customer: anna, Channel: "chat", Topic: "billing"})
	assert.ErrorContains(t, o.Err, "resolve customer [email:anna@example.com]: crm down")
	assert.Equal(t, 1, asked)
}

func TestServicePublishes(t *testing.T) {
	var published [][]events.Envelope
	svc, store := newService(t, func(c *contact.Config) {
		c.Publisher = contact.PublisherFunc(func(_ context.Context, evs []events.Envelope) error {
			published = append(published, evs)
			return nil
		})
	})
	id, opened, err := svc.Open(t.Context(), contact.Open{Customer: events.Customer{ID: "C-1"}, Channel: "chat", Topic: "billing"})
	require.NoError(t, err)
	resolved, err := svc.Resolve(t.Context(), id, contact.Resolve{Agent: "maria"})
	require.NoError(t, err)
	_, err = svc.Resolve(t.Context(), id, contact.Resolve{Agent: "maria"})
	require.ErrorIs(t, err, contact.ErrAlreadyResolved)

	assert.Equal(t, [][]events.Envelope{opened, resolved}, published, "one call per command, with exactly its events; none for a refusal")
	stored, err := store.Load(t.Context(), id)
	require.NoError(t, err)
	assert.Equal(t, append(append([]events.Envelope{}, opened...), resolved...), stored)
}

func TestServicePublisherFails(t *testing.T) {
	boom := errors.New("broker down")
	svc, store := newService(t, func(c *contact.Config) {
		c.Publisher = contact.PublisherFunc(func(context.Context, []events.Envelope) error { return boom })
	})
	id, evs, err := svc.Open(t.Context(), contact.Open{Customer: events.Customer{ID: "C-1"}, Channel: "chat", Topic: "billing"})
	assert.ErrorIs(t, err, contact.ErrNotPublished)
	assert.ErrorIs(t, err, boom)
	assert.ErrorContains(t, err, "open issue "+id.String())
	require.Len(t, evs, 1, "the appended events are returned")
	assert.Equal(t, 1, store.Len(), "and stay appended")
}

// raceStore makes writers race: every Load waits, once it has read, until
// n Loads have read, so that n writers decide on the same version.
type raceStore struct {
	events.Store
	n         int
	mu        sync.Mutex
	loaded    int
	release   chan struct{}
	conflicts atomic.Int32
}

func newRaceStore(inner events.Store, n int) *raceStore {
	return &raceStore{Store: inner, n: n, release: make(chan struct{})}
}

func (s *raceStore) Load(ctx context.Context, issue uuid.UUID) ([]events.Envelope, error) {
	evs, err := s.Store.Load(ctx, issue)
	s.mu.Lock()
	s.loaded++
	if s.loaded == s.n {
		close(s.release)
	}
	s.mu.Unlock()
	select {
	case <-s.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return evs, err
}

func (s *raceStore) Append(ctx context.Context, issue uuid.UUID, expected uint64, evs []events.Envelope) ([]events.Envelope, error) {
	out, err := s.Store.Append(ctx, issue, expected, evs)
	if errors.Is(err, events.ErrVersionConflict) {
		s.conflicts.Add(1)
	}
	return out, err
}

// race runs two commands on one opened and routed issue at once.
func race(t *testing.T, a, b contact.Command) (errA, errB error, store *raceStore) {
	t.Helper()
	mem := events.NewMemoryStore()
	issue := contacttest.IssueID()
	_, err := mem.Append(t.Context(), issue, 0, stream(issue, opened(), routed()))
	require.NoError(t, err)
	store = newRaceStore(mem, 2)
	svc, err := contact.NewService(contact.Config{Store: store, Clock: contacttest.NewClock(contacttest.Minute(5)), IDs: contacttest.NewIDs()})
	require.NoError(t, err)

	var wg sync.WaitGroup
	wg.Go(func() { _, errA = svc.Execute(t.Context(), issue, a) })
	wg.Go(func() { _, errB = svc.Execute(t.Context(), issue, b) })
	wg.Wait()
	return errA, errB, store
}

func TestServiceRetriesALostRace(t *testing.T) {
	errA, errB, store := race(t,
		contact.Route{Queue: "payments", Agent: "olli"},
		contact.Consult{Agent: "maria", Expert: "ella"})
	require.NoError(t, errA)
	require.NoError(t, errB)
	assert.Equal(t, int32(1), store.conflicts.Load(), "one writer lost the race")

	evs, err := store.Store.Load(t.Context(), contacttest.IssueID())
	require.NoError(t, err)
	require.Len(t, evs, 4, "both commands are appended")
	types := []events.Type{evs[2].Type(), evs[3].Type()}
	assert.ElementsMatch(t, []events.Type{events.TypeRouted, events.TypeConsulted}, types)
}

func TestServiceRedecidesAfterALostRace(t *testing.T) {
	errA, errB, store := race(t, contact.Resolve{Agent: "maria"}, contact.Resolve{Agent: "maria"})
	assert.Equal(t, int32(1), store.conflicts.Load())
	errs := []error{errA, errB}
	if errA != nil {
		errs = []error{errB, errA}
	}
	assert.NoError(t, errs[0], "the winner resolves")
	assert.ErrorIs(t, errs[1], contact.ErrAlreadyResolved, "the loser is decided again on the new state")
	assert.Equal(t, 3, store.Store.(*events.MemoryStore).Len())
}

// conflictStore loses every race, and calls onAppend, if set, at each.
type conflictStore struct {
	events.Store
	appends  int
	onAppend func()
}

func (s *conflictStore) Append(_ context.Context, issue uuid.UUID, expected uint64, _ []events.Envelope) ([]events.Envelope, error) {
	s.appends++
	if s.onAppend != nil {
		s.onAppend()
	}
	return nil, &events.VersionConflictError{Issue: issue, Expected: expected, Actual: expected + 1}
}

func TestServiceRetriesAreBounded(t *testing.T) {
	tests := []struct {
		name     string
		retries  int
		attempts int
	}{
		{"default", 0, 1 + contact.DefaultRetries},
		{"one", 1, 2},
		{"five", 5, 6},
		{"none", -1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &conflictStore{Store: events.NewMemoryStore()}
			svc, err := contact.NewService(contact.Config{Store: store, Retries: tt.retries, Clock: contacttest.NewClock(contacttest.Start()), IDs: contacttest.NewIDs()})
			require.NoError(t, err)
			_, _, err = svc.Open(t.Context(), contact.Open{Customer: events.Customer{ID: "C-1"}, Channel: "chat", Topic: "billing"})
			assert.ErrorIs(t, err, events.ErrVersionConflict)
			assert.Equal(t, tt.attempts, store.appends)
			// Said so, that a host tells it from one lost race.
			n := fmt.Sprintf("%d attempts", tt.attempts)
			if tt.attempts == 1 {
				n = "1 attempt"
			}
			assert.ErrorContains(t, err, "version conflict: gave up after "+n+", the last of which lost the race for the issue to another writer (Config.Retries)")
		})
	}
}

// A command whose context ends while it waits to retry after a lost race
// stops, and says both.
func TestServiceStopsWaitingToRetryWhenItsContextEnds(t *testing.T) {
	store := &conflictStore{Store: events.NewMemoryStore()}
	svc, err := contact.NewService(contact.Config{Store: store, Clock: contacttest.NewClock(contacttest.Start()), IDs: contacttest.NewIDs()})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	store.onAppend = cancel // the first lost race ends the caller's context
	_, _, err = svc.Open(ctx, contact.Open{Customer: events.Customer{ID: "C-1"}, Channel: "chat", Topic: "billing"})
	require.ErrorIs(t, err, events.ErrVersionConflict)
	require.ErrorIs(t, err, context.Canceled)
	assert.ErrorContains(t, err, "(after 1 attempt; while waiting to retry: context canceled)")
	assert.Equal(t, 1, store.appends, "no retry after the context ended")
}

// A duration finer than a millisecond is kept in whole milliseconds, as
// the store writes it: the event the Service returns, and publishes, is
// the one a replay reads.
func TestServiceReturnsTheDurationsItStores(t *testing.T) {
	var published []events.Envelope
	svc, store := newService(t, func(c *contact.Config) {
		c.Publisher = contact.PublisherFunc(func(_ context.Context, evs []events.Envelope) error {
			published = append(published, evs...)
			return nil
		})
	})
	codec := events.NewMsgpackCodec(nil)
	id, _, err := svc.Open(t.Context(), contact.Open{Customer: events.Customer{ID: "C-1"}, Channel: "phone", Topic: "billing"})
	require.NoError(t, err)
	var got []events.Envelope
	for _, cmd := range []contact.Command{
		contact.Route{Queue: "q", Wait: 20000500 * time.Microsecond},
		contact.Consult{Agent: "ann", Expert: "olli", Duration: 1999 * time.Microsecond},
		contact.Resolve{Agent: "ann", Handle: time.Minute + time.Nanosecond},
	} {
		evs, err := svc.Execute(t.Context(), id, cmd)
		require.NoError(t, err)
		got = append(got, evs...)
	}
	assert.Equal(t, 20*time.Second, got[0].Data.(*events.Routed).Wait)
	assert.Equal(t, time.Millisecond, got[1].Data.(*events.Consulted).Duration)
	assert.Equal(t, time.Minute, got[2].Data.(*events.Resolved).Handle)
	stored, err := store.Load(t.Context(), id)
	require.NoError(t, err)
	for i, e := range got {
		b, err := codec.Append(nil, e)
		require.NoError(t, err)
		read, err := codec.Decode(b)
		require.NoError(t, err)
		read.Position = e.Position
		assert.Equal(t, e.Data, read.Data, "what the codec writes")
		assert.Equal(t, stored[i+1].Data, e.Data)
		assert.Equal(t, published[i+1].Data, e.Data)
	}
}

// Decide without an id generator makes UUIDv7 ids, where it panicked.
func TestDecideWithoutIDs(t *testing.T) {
	d, err := contact.Decide(nil, contact.Open{Customer: events.Customer{ID: "C-1"}, Channel: "chat", Topic: "billing"}, time.Now(), nil, contact.KeyRules{})
	require.NoError(t, err)
	assert.Equal(t, uuid.Version(7), d.(*events.Opened).Contact.Version())
}

// An issue opened centuries before a command has existed longer than a
// Duration holds: a short wait is no longer than that, and an epoch taken
// for a wait is not either, as it is shorter than the issue's life.
func TestServiceDurationsOfAnIssueOpenedCenturiesAgo(t *testing.T) {
	store := events.NewMemoryStore()
	svc, err := contact.NewService(contact.Config{Store: store, MaxFuture: -1})
	require.NoError(t, err)
	ctx := t.Context()
	id, _, err := svc.Open(ctx, contact.Open{Customer: events.Customer{ID: "C-1"}, Channel: "phone", Topic: "billing", At: time.Date(1700, 1, 1, 0, 0, 0, 0, time.UTC)})
	require.NoError(t, err)
	_, err = svc.Route(ctx, id, contact.Route{Queue: "billing", Wait: time.Second, At: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)})
	require.NoError(t, err)
	_, err = svc.Route(ctx, id, contact.Route{Queue: "billing", Wait: 1_700_000_000_000 * time.Millisecond, At: time.Date(2100, 1, 2, 0, 0, 0, 0, time.UTC)})
	require.NoError(t, err)
	evs, err := store.Load(ctx, id)
	require.NoError(t, err)
	assert.Len(t, evs, 3)
}

// The event a command returns is the one the store holds, empty lists
// included: the codecs give an empty list back as none.
func TestServiceReturnsTheEventTheStoreHolds(t *testing.T) {
	for _, codec := range []events.Codec{events.NewMsgpackCodec(nil), events.NewJSONCodec(nil)} {
		store := events.NewMemoryStore(events.WithMemoryCodec(codec))
		svc, err := contact.NewService(contact.Config{Store: store})
		require.NoError(t, err)
		ctx := t.Context()
		id, _, err := svc.Open(ctx, contact.Open{Customer: events.Customer{ID: "C-1"}, Channel: "phone", Topic: "billing"})
		require.NoError(t, err)
		routed, err := svc.Route(ctx, id, contact.Route{Queue: "billing", Skills: []string{}})
		require.NoError(t, err)
		classified, err := svc.Classify(ctx, id, contact.Classify{Topic: "orders", Topics: []string{}})
		require.NoError(t, err)
		evs, err := store.Load(ctx, id)
		require.NoError(t, err)
		require.Len(t, evs, 3)
		require.Len(t, routed, 1)
		require.Len(t, classified, 1)
		assert.Equal(t, evs[1].Data, routed[0].Data, "%T", codec)
		assert.Equal(t, evs[2].Data, classified[0].Data, "%T", codec)
	}
}

// A command on no issue says that it names none, and appends nothing.
func TestServiceCommandWithoutIssueID(t *testing.T) {
	svc, store := newService(t)
	_, err := svc.Resolve(t.Context(), uuid.Nil, contact.Resolve{Agent: "ann"})
	require.ErrorIs(t, err, contact.ErrUnknownIssue)
	assert.EqualError(t, err, "resolve issue: no issue id")
	assert.Zero(t, store.Len())
}

// The host's metadata is held to what names are: printable, at most
// MaxText bytes a key or value and MaxList entries. A refused command
// appends nothing.
func TestServiceRefusesMetadataThatCannotBeReadBack(t *testing.T) {
	many := events.Meta{}
	for i := range contact.MaxList + 1 {
		many[fmt.Sprintf("k%d", i)] = "v"
	}
	for _, tt := range []struct {
		name string
		meta events.Meta
		want string
	}{
		{"a value too long", events.Meta{"tenant": strings.Repeat("x", events.MaxLineBytes)}, `metadata "tenant" "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"… is 16777216 bytes long, more than 1024`},
		{"a key too long", events.Meta{strings.Repeat("k", contact.MaxText+1): "x"}, "metadata key \"kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk\"… is 1025 bytes long"},
		{"a value not UTF-8", events.Meta{"tenant": "t\xff"}, `metadata "tenant" "t\xff" is not UTF-8`},
		{"a key with a control character", events.Meta{"ten\nant": "t"}, `metadata key "ten\nant" holds the control character U+000A`},
		{"too many entries", many, "257 metadata entries, more than 256"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			svc, store := newService(t)
			ctx := contact.WithMeta(t.Context(), tt.meta)
			_, _, err := svc.Open(ctx, contact.Open{Customer: events.Customer{ID: "C-1"}, Channel: "chat", Topic: "billing"})
			require.ErrorIs(t, err, contact.ErrInvalidCommand)
			assert.ErrorContains(t, err, tt.want)
			assert.Zero(t, store.Len())
		})
	}
}

// The correlation and causation ids are held to the same rules as the
// host's metadata, which they join: an id the store could take but not
// give back would leave an issue that no command could load again.
func TestServiceRefusesIDsThatCannotBeReadBack(t *testing.T) {
	for _, tt := range []struct {
		name string
		ctx  func(context.Context) context.Context
		want string
	}{
		{"a correlation id not UTF-8", func(ctx context.Context) context.Context { return contact.WithCorrelationID(ctx, "corr-\xff") },
			`correlation id "corr-\xff" is not UTF-8`},
		{"a causation id not UTF-8", func(ctx context.Context) context.Context { return contact.WithCausationID(ctx, "msg-\xff") },
			`causation id "msg-\xff" is not UTF-8`},
		{"a correlation id too long", func(ctx context.Context) context.Context {
			return contact.WithCorrelationID(ctx, strings.Repeat("c", events.MaxLineBytes))
		}, "is 16777216 bytes long, more than 1024"},
		{"a causation id with a line break", func(ctx context.Context) context.Context { return contact.WithCausationID(ctx, "msg\n1") },
			`causation id "msg\n1" holds the control character U+000A`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			svc, store := newService(t)
			_, _, err := svc.Open(tt.ctx(t.Context()), contact.Open{Customer: events.Customer{ID: "C-1"}, Channel: "chat", Topic: "billing"})
			require.ErrorIs(t, err, contact.ErrInvalidCommand)
			assert.ErrorContains(t, err, tt.want)
			assert.Zero(t, store.Len())
		})
	}
}

// failingLoadStore fails every Load with err, or with an error of its own
// that names the issue as this module's stores do.
type failingLoadStore struct {
	events.Store
	err   error
	named bool
}

func (s failingLoadStore) Load(_ context.Context, issue uuid.UUID) ([]events.Envelope, error) {
	if s.named {
		return nil, fmt.Errorf("load issue %s: %w", issue, s.err)
	}
	return nil, s.err
}

// An error of the store's Load names the issue once, whether the store
// named it or not.
func TestServiceLoadErrorsNameTheIssueOnce(t *testing.T) {
	issue := uuid.New()
	for _, named := range []bool{false, true} {
		svc, err := contact.NewService(contact.Config{Store: failingLoadStore{Store: events.NewMemoryStore(), err: context.Canceled, named: named}})
		require.NoError(t, err)
		_, err = svc.Resolve(t.Context(), issue, contact.Resolve{Agent: "ann"})
		require.ErrorIs(t, err, context.Canceled)
		assert.Equal(t, 1, strings.Count(err.Error(), issue.String()), err.Error())
		_, err = svc.Load(t.Context(), issue)
		require.ErrorIs(t, err, context.Canceled)
		assert.Equal(t, "load issue "+issue.String()+": context canceled", err.Error())
	}
}

// The event an Open returns holds its own copy of the customer's other
// fields: the caller's map may change after.
func TestOpenCopiesTheCustomersFields(t *testing.T) {
	svc, _ := newService(t)
	x := events.Extra{"tier": "gold", "address": map[string]any{"city": "Oulu"}, "tags": []any{"vip"}}
	_, evs, err := svc.Open(t.Context(), contact.Open{Customer: events.Customer{ID: "C-1", Extra: x}, Channel: "chat", Topic: "billing"})
	require.NoError(t, err)
	x["tier"] = "lead"
	x["address"].(map[string]any)["city"] = "Turku"
	x["tags"].([]any)[0] = "blocked"
	assert.Equal(t, events.Extra{"tier": "gold", "address": map[string]any{"city": "Oulu"}, "tags": []any{"vip"}},
		evs[0].Data.(*events.Opened).Customer.Extra)
}

// The events the Service returns are those the store holds, down to their
// representation: a customer whose only key was withheld has nil keys,
// extra numbers are json.Number, whatever the host's Go values; a retry
// under the command's idempotency key returns them too. With the msgpack
// codec and the JSON codec.
func TestServiceReturnsTheEventsAsStored(t *testing.T) {
	for _, codec := range []events.Codec{events.NewMsgpackCodec(nil), events.NewJSONCodec(nil)} {
		t.Run(codec.Name(), func(t *testing.T) {
			store := events.NewMemoryStore(events.WithMemoryCodec(codec))
			svc, _ := newService(t, func(c *contact.Config) { c.Store = store })
			open := contact.Open{
				Customer: events.Customer{ID: "C-1", Keys: []string{"phone:anonymous"}, Extra: events.Extra{
					"tier": 3, "score": json.Number("2.50"), "ratio": 0.25, "tags": []any{"vip", 7}, "crm": map[string]any{"since": int64(2019)},
				}},
				Channel: "phone", Topic: "billing",
			}
			ctx := contact.WithIdempotencyKey(t.Context(), "webhook:1")
			first, err := svc.Execute(ctx, uuid.Nil, open)
			require.NoError(t, err)
			require.Len(t, first, 1)
			stored, err := store.Load(t.Context(), first[0].Issue)
			require.NoError(t, err)
			assert.Equal(t, stored, first)
			c := first[0].Data.(*events.Opened).Customer
			assert.Nil(t, c.Keys)
			assert.Equal(t, events.Extra{
				"tier": json.Number("3"), "score": json.Number("2.5"), "ratio": json.Number("0.25"),
				"tags": []any{"vip", json.Number("7")}, "crm": map[string]any{"since": json.Number("2019")},
			}, c.Extra)

			again, err := svc.Execute(ctx, uuid.Nil, open)
			require.NoError(t, err)
			assert.Equal(t, first, again)
		})
	}
}

// beatenStore lets a rival command append right before each of its
// caller's appends, as a burst of commands on one issue does.
type beatenStore struct {
	events.Store
	before func()
}

func (s *beatenStore) Append(ctx context.Context, issue uuid.UUID, expected uint64, evs []events.Envelope) ([]events.Envelope, error) {
	if s.before != nil {
		s.before()
	}
	return s.Store.Append(ctx, issue, expected, evs)
}

// Ten commands on one issue at once go through with the default retries:
// the last of them may lose to each of the nine others.
func TestServiceDefaultRetriesTakeTenCommandsAtOnce(t *testing.T) {
	mem := events.NewMemoryStore()
	issue := contacttest.IssueID()
	_, err := mem.Append(t.Context(), issue, 0, stream(issue, opened(), routed()))
	require.NoError(t, err)
	clock := contacttest.NewClock(contacttest.Minute(5))
	rival, err := contact.NewService(contact.Config{Store: mem, Clock: clock, IDs: contacttest.NewIDs()})
	require.NoError(t, err)
	others := 9
	store := &beatenStore{Store: mem}
	store.before = func() {
		if others == 0 {
			return
		}
		others--
		_, err := rival.Execute(t.Context(), issue, contact.Rate{Survey: events.SurveyCSAT, Score: 5})
		require.NoError(t, err)
	}
	svc, err := contact.NewService(contact.Config{Store: store, Clock: clock, IDs: contacttest.NewIDs()})
	require.NoError(t, err)

	out, err := svc.Execute(t.Context(), issue, contact.Consult{Agent: "maria", Expert: "ella"})
	require.NoError(t, err, "the tenth of ten commands at once goes through")
	assert.Equal(t, uint64(12), out[0].Version, "after the opening, the routing and the nine ratings")
}

// Two Services on one store whose clocks disagree: a command that gives
// no time of its own happens after the events of the stream it was
// decided on, and is stamped at the latest of them when the other
// Service's clock ran ahead by at most MaxClockSkew; further ahead, it is
// refused as out of order, and the error says that the time was the
// Clock's.
func TestServiceStampsACommandWithoutATimeAfterAnotherServicesClock(t *testing.T) {
	for _, tt := range []struct {
		name  string
		ahead time.Duration
		ok    bool
	}{
		{"50 ms ahead", 50 * time.Millisecond, true},
		{"MaxClockSkew ahead", contact.MaxClockSkew, true},
		{"further ahead", contact.MaxClockSkew + time.Millisecond, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			store := events.NewMemoryStore()
			ahead, err := contact.NewService(contact.Config{Store: store, Clock: contacttest.NewClock(contacttest.Start().Add(tt.ahead)), IDs: contacttest.NewIDs()})
			require.NoError(t, err)
			behind, err := contact.NewService(contact.Config{Store: store, Clock: contacttest.NewClock(contacttest.Start()), IDs: contacttest.NewIDs()})
			require.NoError(t, err)
			id, opened, err := ahead.Open(t.Context(), contact.Open{Customer: events.Customer{ID: "C-1"}, Channel: "phone", Topic: "billing"})
			require.NoError(t, err)

			out, err := behind.Route(t.Context(), id, contact.Route{Queue: "billing", Agent: "maria"})
			if tt.ok {
				require.NoError(t, err)
				assert.Equal(t, opened[0].At, out[0].At, "stamped at the opening, the latest event")
				return
			}
			require.ErrorIs(t, err, contact.ErrOutOfOrder)
			assert.ErrorContains(t, err, "that time is the Clock's, 1.001s behind, more than MaxClockSkew")
			assert.Equal(t, 1, store.Len(), "a refused command appends nothing")
			// A command that gives its own time is refused as before.
			_, err = behind.Route(t.Context(), id, contact.Route{Queue: "billing", Agent: "maria", At: contacttest.Start()})
			require.ErrorIs(t, err, contact.ErrOutOfOrder)
			assert.NotContains(t, err.Error(), "Clock's")
		})
	}
}

// recordingResolver is a CustomerRecorder that keeps what it was given,
// and fails to record when fail is set.
type recordingResolver struct {
	id       string
	recorded []events.Customer
	hostIDs  []bool
	fail     bool
}

func (r *recordingResolver) ResolveCustomer(context.Context, []string) (string, error) {
	return r.id, nil
}

func (r *recordingResolver) RecordCustomer(_ context.Context, c events.Customer, hostID bool) error {
	if r.fail {
		return errors.New("the table is down")
	}
	r.recorded = append(r.recorded, c)
	r.hostIDs = append(r.hostIDs, hostID)
	slices.Reverse(c.Keys) // a copy of the event's
	return nil
}

// A CustomerRecorder is given the customer of each opening appended, as
// the event holds it, and of none that failed; its failure leaves the
// opening appended and published, and says so.
func TestServiceRecordsTheCustomerOfEachOpeningAppended(t *testing.T) {
	rec := &recordingResolver{id: "C-7"}
	var published int
	svc, store := newService(t, func(c *contact.Config) {
		c.Customers = rec
		c.Publisher = contact.PublisherFunc(func(context.Context, []events.Envelope) error { published++; return nil })
	})
	ctx := t.Context()
	issue, opened, err := svc.Open(ctx, contact.Open{Customer: events.Customer{Keys: []string{"email:Anna@Example.com", "phone:+358401234599"}}, Channel: "chat", Topic: "t"})
	require.NoError(t, err)
	require.Equal(t, []events.Customer{{ID: "C-7", Keys: []string{"phone:+358401234599", "email:anna@example.com"}}}, rec.recorded, "as the event holds it")
	assert.Equal(t, []string{"email:anna@example.com", "phone:+358401234599"}, opened[0].Data.(*events.Opened).Customer.Keys,
		"the event's own keys, which the recorder reversed in its copy")
	_, err = svc.Route(ctx, issue, contact.Route{Queue: "q"})
	require.NoError(t, err)
	assert.Len(t, rec.recorded, 1, "openings only")

	_, _, err = svc.Open(ctx, contact.Open{Customer: events.Customer{ID: "CRM-1", Keys: []string{"phone:+358401234567"}}, Channel: "phone", Topic: "t"})
	require.NoError(t, err)
	assert.Equal(t, events.Customer{ID: "CRM-1", Keys: []string{"phone:+358401234567"}}, rec.recorded[1], "with the host's id too")
	assert.Equal(t, []bool{false, true}, rec.hostIDs, "the resolver's id, then the host's")
	_, _, err = svc.Open(contact.WithIdempotencyKey(ctx, "webhook-1"), contact.Open{Customer: events.Customer{ID: "CRM-2", Keys: []string{"phone:+358401234577"}}, Channel: "phone", Topic: "t"})
	require.NoError(t, err)
	_, _, err = svc.Open(contact.WithIdempotencyKey(ctx, "webhook-1"), contact.Open{Customer: events.Customer{ID: "CRM-2", Keys: []string{"phone:+358401234577"}}, Channel: "phone", Topic: "t"})
	require.NoError(t, err)
	assert.Equal(t, []bool{false, true, true, false}, rec.hostIDs, "a replay's host id is as stale as a resolver's")
	rec.recorded, rec.hostIDs = rec.recorded[:2], rec.hostIDs[:2]

	_, _, err = svc.Open(ctx, contact.Open{Customer: events.Customer{Keys: []string{"phone:+358401234567"}}, Channel: "bogus channel", Topic: "t"})
	require.ErrorIs(t, err, contact.ErrInvalidCommand)
	assert.Len(t, rec.recorded, 2, "a refused opening is not recorded")

	rec.fail = true
	n := store.Len()
	_, evs, err := svc.Open(ctx, contact.Open{Customer: events.Customer{Keys: []string{"phone:+358401234568"}}, Channel: "phone", Topic: "t"})
	require.ErrorIs(t, err, contact.ErrCustomerNotRecorded)
	assert.ErrorContains(t, err, "the table is down")
	require.Len(t, evs, 1, "the opening is appended")
	assert.Equal(t, n+1, store.Len())
	assert.Equal(t, 6, published, "and published")
}

// A customer's extra data that holds itself (a host's map) is refused,
// naming the field, and appends nothing, with an idempotency key too:
// copying it, and printing it for the key's fingerprint, never ended, and
// the process died of a stack overflow.
func TestAnOpeningWhoseExtraHoldsItselfIsRefused(t *testing.T) {
	svc, store := newService(t)
	loop := map[string]any{}
	loop["self"] = loop
	deep := map[string]any{}
	for range 100 {
		deep = map[string]any{"d": deep}
	}
	for _, extra := range []events.Extra{{"loop": loop}, {"deep": deep}} {
		for _, ctx := range []context.Context{t.Context(), contact.WithIdempotencyKey(t.Context(), "crm:1")} {
			_, _, err := svc.Open(ctx, contact.Open{Customer: events.Customer{ID: "C-1", Extra: extra}, Channel: "chat", Topic: "t"})
			require.ErrorIs(t, err, contact.ErrInvalidCommand)
			assert.ErrorContains(t, err, "customer field")
		}
	}
	assert.Zero(t, store.Len())
}
