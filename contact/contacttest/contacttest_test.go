package contacttest_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/contact"
	"github.com/truefcr/truefcr/contact/contacttest"
	"github.com/truefcr/truefcr/events"
)

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	ctx    context.Context
	failed bool
	msgs   []string
}

func (r *recorder) Helper()                  {}
func (r *recorder) Name() string             { return "recorder" }
func (r *recorder) Context() context.Context { return r.ctx }
func (r *recorder) Errorf(f string, args ...any) {
	r.failed = true
	r.msgs = append(r.msgs, fmt.Sprintf(f, args...))
}
func (r *recorder) FailNow() { r.failed = true; runtime.Goexit() }

// fails reports whether f fails the recorder it is given.
func fails(t *testing.T, f func(tb testing.TB)) bool {
	r := &recorder{ctx: t.Context()}
	var wg sync.WaitGroup
	wg.Go(func() { f(r) })
	wg.Wait()
	return r.failed
}

func opened() *events.Opened {
	return &events.Opened{Customer: events.Customer{ID: "C-1"}, Channel: "chat", Topic: "billing", Contact: contacttest.Contact(1)}
}

// failingPublisher gives a scenario's Service a Publisher that fails.
func failingPublisher(c *contact.Config) {
	c.Publisher = contact.PublisherFunc(func(context.Context, []events.Envelope) error { return errors.New("broker down") })
}

func TestScenarioChecks(t *testing.T) {
	tests := []struct {
		name  string
		check func(tb testing.TB)
		fails bool
	}{
		{"Then with the right data", func(tb testing.TB) {
			contacttest.Given(tb, opened()).When(contact.Route{Queue: "q"}).Then(&events.Routed{Contact: contacttest.Contact(1), Queue: "q"})
		}, false},
		{"Then with other data", func(tb testing.TB) {
			contacttest.Given(tb, opened()).When(contact.Route{Queue: "q"}).Then(&events.Routed{Contact: contacttest.Contact(1), Queue: "other"})
		}, true},
		{"Then with too many events", func(tb testing.TB) {
			contacttest.Given(tb, opened()).When(contact.Route{Queue: "q"}).Then(&events.Routed{Contact: contacttest.Contact(1), Queue: "q"}, &events.Routed{})
		}, true},
		{"Then on a refusal", func(tb testing.TB) {
			contacttest.Given(tb, opened()).When(contact.Reopen{Channel: "phone"}).Then(&events.Reopened{Contact: contacttest.ID(1), Channel: "phone"})
		}, true},
		{"ThenError with the right sentinel", func(tb testing.TB) {
			contacttest.Given(tb, opened()).When(contact.Reopen{Channel: "phone"}).ThenError(contact.ErrNotResolved)
		}, false},
		{"ThenError with another sentinel", func(tb testing.TB) {
			contacttest.Given(tb, opened()).When(contact.Reopen{Channel: "phone"}).ThenError(contact.ErrAlreadyResolved)
		}, true},
		{"ThenError on a success", func(tb testing.TB) {
			contacttest.Given(tb, opened()).When(contact.Route{Queue: "q"}).ThenError(contact.ErrInvalidCommand)
		}, true},
		{"Given events that do not fit a stream", func(tb testing.TB) {
			contacttest.Given(tb, opened(), nil)
		}, true},
		{"Given a resolution of an issue never opened", func(tb testing.TB) {
			contacttest.Given(tb, &events.Resolved{Contact: contacttest.Contact(1), Agent: "maria"})
		}, true},
		{"Given a resolution of a contact the issue does not have", func(tb testing.TB) {
			contacttest.Given(tb, opened(), &events.Resolved{Contact: contacttest.Contact(2), Agent: "maria"})
		}, true},
		{"Given a second resolution", func(tb testing.TB) {
			resolved := &events.Resolved{Contact: contacttest.Contact(1), Agent: "maria"}
			contacttest.Given(tb, opened(), resolved, resolved)
		}, true},
		{"Given a history the lifecycle allows", func(tb testing.TB) {
			contacttest.Given(tb, opened(), &events.Routed{Contact: contacttest.Contact(1), Queue: "q"},
				&events.Resolved{Contact: contacttest.Contact(1), Agent: "maria"}, &events.Reopened{Contact: contacttest.Contact(2), Channel: "phone"})
		}, false},
		{"ThenRetried of a retry", func(tb testing.TB) {
			s := contacttest.Given(tb, opened())
			ctx := contact.WithIdempotencyKey(tb.Context(), "webhook:1")
			s.WhenContext(ctx, contact.Route{Queue: "q"}).Then(&events.Routed{Contact: contacttest.Contact(1), Queue: "q"})
			s.WhenContext(ctx, contact.Route{Queue: "q"}).ThenRetried(&events.Routed{Contact: contacttest.Contact(1), Queue: "q"})
		}, false},
		{"ThenRetried of a retry, with other data", func(tb testing.TB) {
			s := contacttest.Given(tb, opened())
			ctx := contact.WithIdempotencyKey(tb.Context(), "webhook:1")
			s.WhenContext(ctx, contact.Route{Queue: "q"}).Then(&events.Routed{Contact: contacttest.Contact(1), Queue: "q"})
			s.WhenContext(ctx, contact.Route{Queue: "q"}).ThenRetried(&events.Routed{Contact: contacttest.Contact(1), Queue: "other"})
		}, true},
		{"ThenRetried of a command that appended", func(tb testing.TB) {
			contacttest.Given(tb, opened()).When(contact.Route{Queue: "q"}).ThenRetried(&events.Routed{Contact: contacttest.Contact(1), Queue: "q"})
		}, true},
		{"ThenRetried on a refusal", func(tb testing.TB) {
			contacttest.Given(tb, opened()).When(contact.Reopen{Channel: "phone"}).ThenRetried()
		}, true},
		{"ThenRetried of an event the earlier run did not append", func(tb testing.TB) {
			routed := &events.Routed{Contact: contacttest.Contact(1), Queue: "q"}
			s := contacttest.Given(tb, opened(), routed) // version 2, with no key
			ctx := contact.WithIdempotencyKey(tb.Context(), "webhook:1")
			s.WhenContext(ctx, contact.Route{Queue: "q"}).Then(routed) // version 3, the key's
			o := s.WhenContext(ctx, contact.Route{Queue: "q"})
			stored, err := s.Store.Load(tb.Context(), contacttest.IssueID())
			require.NoError(tb, err)
			o.Events = stored[1:2]
			o.ThenRetried(routed)
		}, true},
		{"ThenRetried when the events returned are not those the store holds", func(tb testing.TB) {
			routed := &events.Routed{Contact: contacttest.Contact(1), Queue: "q"}
			s := contacttest.Given(tb, opened())
			ctx := contact.WithIdempotencyKey(tb.Context(), "webhook:1")
			s.WhenContext(ctx, contact.Route{Queue: "q"}).Then(routed)
			o := s.WhenContext(ctx, contact.Route{Queue: "q"})
			o.Events[0].At = o.Events[0].At.Add(time.Hour)
			o.ThenRetried(routed)
		}, true},
		{"ThenRetried of a command run without a key", func(tb testing.TB) {
			routed := &events.Routed{Contact: contacttest.Contact(1), Queue: "q"}
			s := contacttest.Given(tb, opened())
			s.When(contact.Route{Queue: "q"}).Then(routed)
			o := s.When(contact.Reopen{Channel: "phone"}) // refused: appends nothing
			stored, err := s.Store.Load(tb.Context(), contacttest.IssueID())
			require.NoError(tb, err)
			o.Events, o.Err = stored[1:2], nil // as if it had returned the routing
			o.ThenRetried(routed)
		}, true},
		{"Then of a command checked after the next one ran", func(tb testing.TB) {
			s := contacttest.Given(tb, opened())
			route := s.When(contact.Route{Queue: "q"})
			s.When(contact.Resolve{Agent: "maria"}).Then(&events.Resolved{Contact: contacttest.Contact(1), Agent: "maria"})
			route.Then(&events.Routed{Contact: contacttest.Contact(1), Queue: "q"})
		}, false},
		{"ThenError of a refusal checked after the next command appended", func(tb testing.TB) {
			s := contacttest.Given(tb, opened())
			refused := s.When(contact.Reopen{Channel: "phone"})
			s.When(contact.Route{Queue: "q"}).Then(&events.Routed{Contact: contacttest.Contact(1), Queue: "q"})
			refused.ThenError(contact.ErrNotResolved)
		}, false},
		{"Then when the events returned are not those the store holds", func(tb testing.TB) {
			o := contacttest.Given(tb, opened()).When(contact.Route{Queue: "q"})
			o.Events[0].Meta = events.Meta{"tenant": "other"}
			o.Then(&events.Routed{Contact: contacttest.Contact(1), Queue: "q"})
		}, true},
		{"Given an opening with keys the Service writes otherwise", func(tb testing.TB) {
			contacttest.Given(tb, &events.Opened{Customer: events.Customer{Keys: []string{"email:Anna@Example.COM"}}, Channel: "chat", Topic: "billing", Contact: contacttest.Contact(1)})
		}, true},
		{"Given an opening with a padded customer id", func(tb testing.TB) {
			contacttest.Given(tb, &events.Opened{Customer: events.Customer{ID: " C-1"}, Channel: "chat", Topic: "billing", Contact: contacttest.Contact(1)})
		}, true},
		{"ThenNotPublished when the publisher failed", func(tb testing.TB) {
			contacttest.Given(tb, opened()).With(failingPublisher).
				When(contact.Route{Queue: "q"}).ThenNotPublished(&events.Routed{Contact: contacttest.Contact(1), Queue: "q"})
		}, false},
		{"ThenNotPublished with other data", func(tb testing.TB) {
			contacttest.Given(tb, opened()).With(failingPublisher).
				When(contact.Route{Queue: "q"}).ThenNotPublished(&events.Routed{Contact: contacttest.Contact(1), Queue: "other"})
		}, true},
		{"ThenNotPublished when the publisher did not fail", func(tb testing.TB) {
			contacttest.Given(tb, opened()).When(contact.Route{Queue: "q"}).ThenNotPublished(&events.Routed{Contact: contacttest.Contact(1), Queue: "q"})
		}, true},
		{"ThenNotPublished on a refusal", func(tb testing.TB) {
			contacttest.Given(tb, opened()).With(failingPublisher).When(contact.Reopen{Channel: "phone"}).ThenNotPublished()
		}, true},
		{"Then when the publisher failed", func(tb testing.TB) {
			contacttest.Given(tb, opened()).With(failingPublisher).
				When(contact.Route{Queue: "q"}).Then(&events.Routed{Contact: contacttest.Contact(1), Queue: "q"})
		}, true},
		{"ThenError when the publisher failed", func(tb testing.TB) {
			contacttest.Given(tb, opened()).With(failingPublisher).When(contact.Route{Queue: "q"}).ThenError(contact.ErrNotPublished)
		}, true},
		{"a second command, on the stream the first left", func(tb testing.TB) {
			s := contacttest.Given(tb, opened())
			s.When(contact.Route{Queue: "q"}).Then(&events.Routed{Contact: contacttest.Contact(1), Queue: "q"})
			s.When(contact.Resolve{Agent: "maria"}).Then(&events.Resolved{Contact: contacttest.Contact(1), Agent: "maria"})
			s.When(contact.Resolve{Agent: "maria"}).ThenError(contact.ErrAlreadyResolved)
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.fails, fails(t, tt.check))
		})
	}
}

func TestGivenTimesAndIDs(t *testing.T) {
	s := contacttest.Given(t, opened(), &events.Routed{Contact: contacttest.Contact(1), Queue: "q"})
	stored, err := s.Store.Load(t.Context(), contacttest.IssueID())
	require.NoError(t, err)
	require.Len(t, stored, 2)
	assert.Equal(t, contacttest.Minute(1), stored[0].At)
	assert.Equal(t, contacttest.Minute(2), stored[1].At)

	evs := s.When(contact.FollowUp{Channel: "email"}).Then(&events.Contacted{Contact: contacttest.ID(1), Channel: "email"})
	assert.Equal(t, contacttest.Minute(3), evs[0].At, "the command runs a minute after the last given event")
	assert.Equal(t, contacttest.ID(2), evs[0].ID)
}

// Each command runs a minute after the event before it: after one that
// gave its own, later time, and when the one before was refused.
func TestWhenRunsAMinuteAfterTheEventBefore(t *testing.T) {
	s := contacttest.Given(t, opened())
	s.When(contact.Route{Queue: "q", At: contacttest.Minute(10)}).Then(&events.Routed{Contact: contacttest.Contact(1), Queue: "q"})
	evs := s.When(contact.Resolve{Agent: "maria"}).Then(&events.Resolved{Contact: contacttest.Contact(1), Agent: "maria"})
	assert.Equal(t, contacttest.Minute(11), evs[0].At)
	s.When(contact.Resolve{Agent: "maria"}).ThenError(contact.ErrAlreadyResolved)
	evs = s.When(contact.Reopen{Channel: "phone"}).Then(&events.Reopened{Contact: contacttest.ID(3), Channel: "phone"})
	assert.Equal(t, contacttest.Minute(12), evs[0].At, "the refused command took no minute")

	// A Clock that the test moves is taken as it is: set back, the
	// commands' times go backwards and are refused for it.
	s.Clock.Set(contacttest.Minute(-30))
	s.When(contact.Resolve{Agent: "maria"}).ThenError(contact.ErrOutOfOrder)
	s.When(contact.Resolve{Agent: "maria"}).ThenError(contact.ErrOutOfOrder)

	// After a command that gave its own time, the Clock stands there,
	// earlier than a minute after the Clock too; a test that moves it on
	// moves it from there.
	s = contacttest.Given(t, opened())
	s.When(contact.Route{Queue: "q", At: contacttest.Minute(1).Add(10 * time.Second)}).Then(&events.Routed{Contact: contacttest.Contact(1), Queue: "q"})
	evs = s.When(contact.Resolve{Agent: "maria"}).Then(&events.Resolved{Contact: contacttest.Contact(1), Agent: "maria"})
	assert.Equal(t, contacttest.Minute(2).Add(10*time.Second), evs[0].At)
	s = contacttest.Given(t, opened())
	s.When(contact.Route{Queue: "q", At: contacttest.Minute(30)}).Then(&events.Routed{Contact: contacttest.Contact(1), Queue: "q"})
	s.Clock.Advance(10 * time.Minute)
	evs = s.When(contact.Resolve{Agent: "maria"}).Then(&events.Resolved{Contact: contacttest.Contact(1), Agent: "maria"})
	assert.Equal(t, contacttest.Minute(41), evs[0].At)
}

// A retry under an idempotency key appends nothing: it takes no minute,
// and a Clock the test moved before it holds for the next command.
func TestWhenARetryLeavesTheClock(t *testing.T) {
	s := contacttest.Given(t, opened())
	ctx := contact.WithIdempotencyKey(t.Context(), "webhook:1")
	s.WhenContext(ctx, contact.Route{Queue: "q"}).Then(&events.Routed{Contact: contacttest.Contact(1), Queue: "q"})
	s.WhenContext(ctx, contact.Route{Queue: "q"}).ThenRetried(&events.Routed{Contact: contacttest.Contact(1), Queue: "q"})
	evs := s.When(contact.Resolve{Agent: "maria"}).Then(&events.Resolved{Contact: contacttest.Contact(1), Agent: "maria"})
	assert.Equal(t, contacttest.Minute(3), evs[0].At, "a minute after the stream's last event")

	s = contacttest.Given(t, opened())
	s.WhenContext(ctx, contact.Route{Queue: "q"}).Then(&events.Routed{Contact: contacttest.Contact(1), Queue: "q"})
	s.Clock.Set(contacttest.Minute(-30))
	s.WhenContext(ctx, contact.Route{Queue: "q"}).ThenRetried(&events.Routed{Contact: contacttest.Contact(1), Queue: "q"})
	s.When(contact.Resolve{Agent: "maria"}).ThenError(contact.ErrOutOfOrder)
}

// Given stamps the partition key that the Service stamps, so that the
// events of a scenario's commands carry it as in production.
func TestGivenStampsThePartitionKey(t *testing.T) {
	s := contacttest.Given(t, opened(), &events.Routed{Contact: contacttest.Contact(1), Queue: "q"})
	stored, err := s.Store.Load(t.Context(), contacttest.IssueID())
	require.NoError(t, err)
	for _, e := range stored {
		assert.Equal(t, "C-1", e.Meta[events.MetaPartitionKey])
	}
	evs := s.When(contact.Resolve{Agent: "maria"}).Then(&events.Resolved{Contact: contacttest.Contact(1), Agent: "maria"})
	assert.Equal(t, "C-1", evs[0].Meta[events.MetaPartitionKey])

	// An opening with a key of its own gives it to the issue's events,
	// as the Service gives them its opening's.
	s = contacttest.GivenEvents(t,
		events.Envelope{At: contacttest.Minute(1), Data: opened(), Meta: events.Meta{events.MetaPartitionKey: "tenant-7/C-1", "source": "import"}},
		events.Envelope{At: contacttest.Minute(2), Data: &events.Routed{Contact: contacttest.Contact(1), Queue: "q"}})
	stored, err = s.Store.Load(t.Context(), contacttest.IssueID())
	require.NoError(t, err)
	assert.Equal(t, events.Meta{events.MetaPartitionKey: "tenant-7/C-1", "source": "import"}, stored[0].Meta, "its own key kept")
	assert.Equal(t, events.Meta{events.MetaPartitionKey: "tenant-7/C-1"}, stored[1].Meta)
	evs = s.When(contact.Resolve{Agent: "maria"}).Then(&events.Resolved{Contact: contacttest.Contact(1), Agent: "maria"})
	assert.Equal(t, "tenant-7/C-1", evs[0].Meta[events.MetaPartitionKey])

	// An opening whose own key is empty gives none, as the Service's
	// issue of such an opening stamps none.
	s = contacttest.GivenEvents(t,
		events.Envelope{At: contacttest.Minute(1), Data: opened(), Meta: events.Meta{events.MetaPartitionKey: ""}},
		events.Envelope{At: contacttest.Minute(2), Data: &events.Routed{Contact: contacttest.Contact(1), Queue: "q"}})
	stored, err = s.Store.Load(t.Context(), contacttest.IssueID())
	require.NoError(t, err)
	assert.NotContains(t, stored[1].Meta, events.MetaPartitionKey)
	evs = s.When(contact.Resolve{Agent: "maria"}).Then(&events.Resolved{Contact: contacttest.Contact(1), Agent: "maria"})
	assert.NotContains(t, evs[0].Meta, events.MetaPartitionKey)
}

// GivenEvents takes the events' times from the test: an email answered
// after a wait of hours, which Given's minutes cannot hold.
func TestGivenEvents(t *testing.T) {
	mail := &events.Opened{Customer: events.Customer{ID: "C-1"}, Channel: "email", Topic: "billing", Contact: contacttest.Contact(1)}
	at := contacttest.Start()
	s := contacttest.GivenEvents(t,
		events.Envelope{At: at, Data: mail},
		events.Envelope{At: at.Add(3 * time.Hour), Data: &events.Routed{Contact: contacttest.Contact(1), Queue: "email", Wait: 3 * time.Hour}})
	stored, err := s.Store.Load(t.Context(), contacttest.IssueID())
	require.NoError(t, err)
	require.Len(t, stored, 2)
	assert.Equal(t, at.Add(3*time.Hour), stored[1].At)
	assert.Equal(t, uint64(2), stored[1].Version)
	evs := s.When(contact.Resolve{Agent: "maria"}).Then(&events.Resolved{Contact: contacttest.Contact(1), Agent: "maria"})
	assert.Equal(t, at.Add(3*time.Hour+time.Minute), evs[0].At, "a minute after the last given event")

	assert.True(t, fails(t, func(tb testing.TB) {
		contacttest.GivenEvents(tb, events.Envelope{Data: mail})
	}), "an event without a time")
	assert.True(t, fails(t, func(tb testing.TB) {
		contacttest.Given(tb, mail, &events.Routed{Contact: contacttest.Contact(1), Queue: "email", Wait: 3 * time.Hour})
	}), "a wait longer than the issue has existed")
}

// A command's context reaches the Service: its idempotency key makes the
// command run again return its event and append nothing.
func TestWhenContext(t *testing.T) {
	s := contacttest.Given(t, opened())
	ctx := contact.WithIdempotencyKey(t.Context(), "webhook:1")
	first := s.WhenContext(ctx, contact.Route{Queue: "q"}).Then(&events.Routed{Contact: contacttest.Contact(1), Queue: "q"})
	assert.Equal(t, "webhook:1", first[0].Meta[events.MetaIdempotencyKey])
	again := s.WhenContext(ctx, contact.Route{Queue: "q"}).ThenRetried(&events.Routed{Contact: contacttest.Contact(1), Queue: "q"})
	assert.Equal(t, first, again)
	assert.Equal(t, 2, s.Store.Len(), "appended once")
}

// A command may give its own time a day after the given events; a
// scenario that sets Config.MaxFuture has it apply.
func TestWhenTakesTheCommandsTime(t *testing.T) {
	tomorrow := contacttest.Minute(24 * 60)
	evs := contacttest.Given(t, opened()).
		When(contact.Classify{Topic: "billing/refund", At: tomorrow}).
		Then(&events.Classified{Topic: "billing/refund"})
	assert.Equal(t, tomorrow, evs[0].At)

	contacttest.Given(t, opened()).
		With(func(c *contact.Config) { c.MaxFuture = time.Hour }).
		When(contact.Classify{Topic: "billing/refund", At: tomorrow}).
		ThenError(contact.ErrInvalidCommand)
}

func TestWithConfiguresTheService(t *testing.T) {
	var published []events.Envelope
	evs := contacttest.Given(t).
		With(func(c *contact.Config) { c.Keys = contact.KeyRules{DefaultCountry: "44"} }).
		With(func(c *contact.Config) {
			c.Publisher = contact.PublisherFunc(func(_ context.Context, evs []events.Envelope) error {
				published = append(published, evs...)
				return nil
			})
		}).
		When(contact.Open{Customer: events.Customer{Keys: []string{"phone:020 7946 0958"}}, Channel: "phone", Topic: "billing"}).
		Then(&events.Opened{Customer: events.Customer{Keys: []string{"phone:+442079460958"}}, Channel: "phone", Topic: "billing", Contact: contacttest.ID(1)})
	assert.Equal(t, evs, published)
}

func TestClock(t *testing.T) {
	c := contacttest.NewClock(contacttest.Start())
	assert.Equal(t, contacttest.Start(), c.Now())
	assert.Equal(t, contacttest.Start(), c.Now(), "no step: the clock stands still")
	c.Advance(time.Hour)
	assert.Equal(t, contacttest.Start().Add(time.Hour), c.Now())
	c.SetStep(time.Second)
	assert.Equal(t, contacttest.Start().Add(time.Hour), c.Now())
	assert.Equal(t, contacttest.Start().Add(time.Hour+time.Second), c.Now())
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	c.Set(at)
	assert.Equal(t, at, c.Now())
}

func TestIDs(t *testing.T) {
	g := contacttest.NewIDs()
	for n := 1; n <= 3; n++ {
		id, err := g.NewID()
		require.NoError(t, err)
		assert.Equal(t, contacttest.ID(n), id)
	}
	assert.Equal(t, "00000000-0000-7000-8000-000000000003", contacttest.ID(3).String())
	assert.Equal(t, "00000000-0000-7000-80c0-000000000003", contacttest.Contact(3).String())
	assert.NotEqual(t, contacttest.ID(1), contacttest.IssueID())
}

func ExampleClock() {
	clock := contacttest.NewClock(contacttest.Start())
	clock.SetStep(30 * time.Second)
	fmt.Println(clock.Now().Format(time.TimeOnly))
	fmt.Println(clock.Now().Format(time.TimeOnly))
	// Output:
	// 09:00:00
	// 09:00:30
}

func ExampleIDs() {
	ids := contacttest.NewIDs()
	id, _ := ids.NewID()
	fmt.Println(id, id == contacttest.ID(1))
	// Output:
	// 00000000-0000-7000-8000-000000000001 true
}

// A command refused because another writer won the race appends nothing:
// it takes no minute, though the stream grew.
func TestWhenARefusalAfterARaceLeavesTheClock(t *testing.T) {
	s := contacttest.Given(t)
	raced := false
	s.With(func(c *contact.Config) {
		c.Customers = contact.CustomerResolverFunc(func(ctx context.Context, keys []string) (string, error) {
			if !raced {
				raced = true
				_, err := s.Store.Append(ctx, contacttest.IssueID(), 0, []events.Envelope{{
					ID: contacttest.ID(900), Issue: contacttest.IssueID(), Version: 1, At: contacttest.Start(),
					Data: &events.Opened{Customer: events.Customer{ID: "C-9"}, Channel: "chat", Topic: "billing", Contact: contacttest.Contact(9)},
				}})
				require.NoError(t, err)
			}
			return "C-1", nil
		})
	})
	out := s.When(contact.Open{Customer: events.Customer{Keys: []string{"email:a@example.com"}}, Channel: "chat", Topic: "billing", Contact: contacttest.Contact(1)})
	require.ErrorIs(t, out.Err, contact.ErrIssueExists)
	evs := s.When(contact.Route{Contact: contacttest.Contact(9), Queue: "q"}).Then(&events.Routed{Contact: contacttest.Contact(9), Queue: "q"})
	assert.Equal(t, contacttest.Minute(1), evs[0].At, "the refused Open took no minute")
}

// A command that appends nothing leaves the IDs as it found them, as it
// leaves the Clock: an opening refused after its contact id was made (the
// CustomerResolver failed) does not shift the ids of the commands after it.
func TestARefusedCommandTakesNoIDs(t *testing.T) {
	refuse := true
	s := contacttest.Given(t).With(func(c *contact.Config) {
		c.Customers = contact.CustomerResolverFunc(func(context.Context, []string) (string, error) {
			if refuse {
				return "", errors.New("CRM down")
			}
			return "C-1", nil
		})
	})
	open := contact.Open{Customer: events.Customer{Keys: []string{"email:anna@example.com"}}, Channel: "chat", Topic: "billing"}
	o := s.When(open)
	require.Error(t, o.Err)
	assert.ErrorContains(t, o.Err, "CRM down")
	assert.Empty(t, o.Events)

	refuse = false
	evs := s.When(open).Then(&events.Opened{Customer: events.Customer{ID: "C-1", Keys: []string{"email:anna@example.com"}},
		Channel: "chat", Topic: "billing", Contact: contacttest.ID(1)})
	assert.Equal(t, contacttest.ID(2), evs[0].ID, "the event's id is the next")
}
