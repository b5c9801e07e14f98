package contact_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/contact"
	"github.com/truefcr/truefcr/contact/contacttest"
	"github.com/truefcr/truefcr/events"
)

// later sets the Service's clock after the events of the tests' streams.
func later(c *contact.Config) { c.Clock = contacttest.NewClock(contacttest.Minute(10)) }

// Every command run again with its idempotency key returns the event of
// its first run and appends nothing; run again without one, it appends
// again where its state lets it (a second answer to a survey, another
// routing), which is what the key is for.
func TestServiceIdempotencyKey(t *testing.T) {
	c2 := contacttest.ID(2)
	tests := []struct {
		name  string
		given []events.Data
		cmd   contact.Command
	}{
		{"route", []events.Data{opened()}, contact.Route{Queue: "billing", Agent: "maria"}},
		{"consult", []events.Data{opened(), routed()}, contact.Consult{Agent: "maria", Expert: "olli"}},
		{"resolve", []events.Data{opened(), routed()}, contact.Resolve{Agent: "maria"}},
		{"reopen", []events.Data{opened(), routed(), resolved()}, contact.Reopen{Contact: c2, Channel: "voice"}},
		{"follow up", []events.Data{opened()}, contact.FollowUp{Contact: c2, Channel: "voice"}},
		{"reply to an open issue", []events.Data{opened()}, contact.Reply{Contact: c2, Channel: "voice"}},
		{"reply to a resolved issue", []events.Data{opened(), routed(), resolved()}, contact.Reply{Contact: c2, Channel: "voice", Reason: "not fixed"}},
		{"abandon", []events.Data{opened()}, contact.Abandon{}},
		{"rate", []events.Data{opened(), routed(), resolved()}, contact.Rate{Survey: events.SurveyCSAT, Score: 2}},
		{"classify", []events.Data{opened()}, contact.Classify{Topic: "billing/refund"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, store := newService(t, later)
			issue := contacttest.IssueID()
			_, err := store.Append(t.Context(), issue, 0, stream(issue, tt.given...))
			require.NoError(t, err)
			ctx := contact.WithIdempotencyKey(t.Context(), "webhook:41")

			first, err := svc.Execute(ctx, issue, tt.cmd)
			require.NoError(t, err)
			require.Len(t, first, 1)
			assert.Equal(t, "webhook:41", first[0].Meta[events.MetaIdempotencyKey])
			again, err := svc.Execute(ctx, issue, tt.cmd)
			require.NoError(t, err)
			assert.Equal(t, first, again, "the event of the first run")
			evs, err := store.Load(t.Context(), issue)
			require.NoError(t, err)
			assert.Len(t, evs, len(tt.given)+1, "appended once")
		})
	}
}

// Without a key, a retried command appends again where its state allows:
// the case that the key is for.
func TestServiceWithoutAKeyAppendsAgain(t *testing.T) {
	svc, store := newService(t, later)
	issue := contacttest.IssueID()
	_, err := store.Append(t.Context(), issue, 0, stream(issue, opened(), routed(), resolved()))
	require.NoError(t, err)
	rate := contact.Rate{Survey: events.SurveyCSAT, Score: 2}
	_, err = svc.Rate(t.Context(), issue, rate)
	require.NoError(t, err)
	_, err = svc.Rate(t.Context(), issue, rate)
	require.NoError(t, err)
	evs, err := store.Load(t.Context(), issue)
	require.NoError(t, err)
	assert.Len(t, evs, 5, "two answers")
}

// An Open without an issue id and with a key opens IssueForKey(key): run
// again, it finds its issue and opens no other.
func TestServiceOpenWithAKey(t *testing.T) {
	svc, store := newService(t)
	ctx := contact.WithIdempotencyKey(t.Context(), "zendesk:ticket.created:7")
	open := contact.Open{Customer: events.Customer{ID: "C-1"}, Channel: "chat", Topic: "billing"}
	id, first, err := svc.Open(ctx, open)
	require.NoError(t, err)
	assert.Equal(t, contact.IssueForKey("zendesk:ticket.created:7"), id)
	assert.Equal(t, uuid.Version(5), id.Version())
	assert.NotEqual(t, contact.IssueForKey("zendesk:ticket.created:8"), id)

	again, evs, err := svc.Open(ctx, open)
	require.NoError(t, err)
	assert.Equal(t, id, again)
	assert.Equal(t, first, evs)
	assert.Equal(t, 1, store.Len(), "one issue opened")

	// A refused Open appends nothing and names its issue, which the key
	// gives; run again, corrected, it opens that issue.
	ctx = contact.WithIdempotencyKey(t.Context(), "zendesk:ticket.created:8")
	_, _, err = svc.Open(ctx, contact.Open{Customer: events.Customer{ID: "C-2"}, Topic: "billing"})
	require.ErrorIs(t, err, contact.ErrInvalidCommand)
	assert.ErrorContains(t, err, contact.IssueForKey("zendesk:ticket.created:8").String())
	id, _, err = svc.Open(ctx, contact.Open{Customer: events.Customer{ID: "C-2"}, Channel: "voice", Topic: "billing"})
	require.NoError(t, err)
	assert.Equal(t, contact.IssueForKey("zendesk:ticket.created:8"), id)
	assert.Equal(t, 2, store.Len())
}

// A key that names an event of another kind refuses the command, which
// appends nothing.
func TestServiceRefusesAReusedKey(t *testing.T) {
	svc, store := newService(t, later)
	issue := contacttest.IssueID()
	_, err := store.Append(t.Context(), issue, 0, stream(issue, opened()))
	require.NoError(t, err)
	ctx := contact.WithIdempotencyKey(t.Context(), "k-1")
	_, err = svc.Route(ctx, issue, contact.Route{Queue: "billing"})
	require.NoError(t, err)

	_, err = svc.Resolve(ctx, issue, contact.Resolve{Agent: "maria"})
	require.ErrorIs(t, err, contact.ErrKeyReused)
	var ce *contact.CommandError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, issue, ce.Issue)
	assert.EqualError(t, err, "resolve issue "+issue.String()+`: idempotency key "k-1" names version 2, an issue.routed event, where resolve appends issue.resolved`)
	assert.Equal(t, 2, store.Len(), "nothing appended")

	// The key is looked for in the issue's own stream: on another issue,
	// the command runs.
	other := contacttest.ID(77)
	_, err = store.Append(t.Context(), other, 0, stream(other, opened()))
	require.NoError(t, err)
	_, err = svc.Resolve(ctx, other, contact.Resolve{Agent: "maria"})
	require.NoError(t, err)
}

// A command run again with its key publishes its event again: the first
// run's Publisher failed, and the second delivers it.
func TestServiceIdempotencyKeyPublishesAgain(t *testing.T) {
	var published [][]events.Envelope
	fail := true
	svc, store := newService(t, later, func(c *contact.Config) {
		c.Publisher = contact.PublisherFunc(func(_ context.Context, evs []events.Envelope) error {
			if fail {
				return errors.New("broker down")
			}
			published = append(published, evs)
			return nil
		})
	})
	issue := contacttest.IssueID()
	_, err := store.Append(t.Context(), issue, 0, stream(issue, opened(), routed()))
	require.NoError(t, err)
	ctx := contact.WithIdempotencyKey(t.Context(), "k-1")
	first, err := svc.Resolve(ctx, issue, contact.Resolve{Agent: "maria"})
	require.ErrorIs(t, err, contact.ErrNotPublished)

	fail = false
	again, err := svc.Resolve(ctx, issue, contact.Resolve{Agent: "maria"})
	require.NoError(t, err)
	assert.Equal(t, first, again)
	assert.Equal(t, [][]events.Envelope{first}, published)
	assert.Equal(t, 3, store.Len())
}

// Two runs of one command at once, as two workers take one redelivered
// webhook: one appends, and the other, losing the race, finds its event,
// on its retry or, with none, when it looks after the conflict.
func TestServiceIdempotencyKeyRace(t *testing.T) {
	for _, retries := range []int{0, -1} {
		t.Run(fmt.Sprintf("retries %d", retries), func(t *testing.T) {
			mem := events.NewMemoryStore()
			issue := contacttest.IssueID()
			_, err := mem.Append(t.Context(), issue, 0, stream(issue, opened(), routed(), resolved()))
			require.NoError(t, err)
			store := newRaceStore(mem, 2)
			svc, err := contact.NewService(contact.Config{Store: store, Retries: retries, Clock: contacttest.NewClock(contacttest.Minute(5)), IDs: contacttest.NewIDs()})
			require.NoError(t, err)

			ctx := contact.WithIdempotencyKey(t.Context(), "survey:9")
			var got [2][]events.Envelope
			var errs [2]error
			var wg sync.WaitGroup
			for i := range 2 {
				wg.Go(func() { got[i], errs[i] = svc.Rate(ctx, issue, contact.Rate{Survey: events.SurveyCSAT, Score: 4}) })
			}
			wg.Wait()
			require.NoError(t, errs[0])
			require.NoError(t, errs[1])
			assert.EqualValues(t, 1, store.conflicts.Load(), "they raced")
			assert.Equal(t, got[0], got[1], "both return the one event")
			assert.Equal(t, 4, mem.Len(), "one answer")
		})
	}
}

// A key that names an event of the same kind that another command
// appended (other data, or the same data for another tenant) refuses the
// command: it is not the one that ran.
func TestServiceRefusesAKeyOfAnotherCommandOfTheSameKind(t *testing.T) {
	svc, store := newService(t, later)
	issue := contacttest.IssueID()
	_, err := store.Append(t.Context(), issue, 0, stream(issue, opened(), routed(), resolved()))
	require.NoError(t, err)
	acme := contact.WithMeta(t.Context(), events.Meta{events.MetaTenant: "acme"})
	ctx := contact.WithIdempotencyKey(acme, "k")
	_, err = svc.Rate(ctx, issue, contact.Rate{Survey: events.SurveyCSAT, Score: 1})
	require.NoError(t, err)

	_, err = svc.Rate(ctx, issue, contact.Rate{Survey: events.SurveyNPS, Score: 10})
	require.ErrorIs(t, err, contact.ErrKeyReused)
	assert.ErrorContains(t, err, `idempotency key "k" names version 4, which another rate command appended (its data or metadata differ)`)

	globex := contact.WithIdempotencyKey(contact.WithMeta(t.Context(), events.Meta{events.MetaTenant: "globex"}), "k")
	_, err = svc.Rate(globex, issue, contact.Rate{Survey: events.SurveyCSAT, Score: 1})
	require.ErrorIs(t, err, contact.ErrKeyReused)
	assert.Equal(t, 4, store.Len(), "nothing appended")

	// The same command, its time given in another zone, is the same.
	at := contacttest.Minute(12)
	ctx = contact.WithIdempotencyKey(acme, "k2")
	first, err := svc.Classify(ctx, issue, contact.Classify{Topic: "billing/refund", At: at})
	require.NoError(t, err)
	again, err := svc.Classify(ctx, issue, contact.Classify{Topic: "billing/refund", At: at.In(time.FixedZone("EET", 2*60*60))})
	require.NoError(t, err)
	assert.Equal(t, first, again)
}

// A key that is padded (with characters that show as nothing too, as a
// byte-order mark that a CSV export left before it), holds a control character or is too long refuses
// the command, which appends nothing.
func TestServiceRefusesABadIdempotencyKey(t *testing.T) {
	for key, want := range map[string]string{
		" k":                     `idempotency key " k" is blank or padded`,
		"\ufeffhook-1":           `idempotency key "\ufeffhook-1" is blank or padded`,
		"hook-1\u200b":           `idempotency key "hook-1\u200b" is blank or padded`,
		"\u200b":                 `idempotency key "\u200b" is blank or padded`,
		"k\n1":                   `idempotency key "k\n1" holds the control character U+000A`,
		strings.Repeat("k", 257): "idempotency key of 257 bytes is longer than 256",
	} {
		svc, store := newService(t, later)
		issue := contacttest.IssueID()
		_, err := store.Append(t.Context(), issue, 0, stream(issue, opened()))
		require.NoError(t, err)
		_, err = svc.Route(contact.WithIdempotencyKey(t.Context(), key), issue, contact.Route{Queue: "billing"})
		require.ErrorIs(t, err, contact.ErrInvalidCommand)
		assert.ErrorContains(t, err, want)
		assert.Equal(t, 1, store.Len())
	}
}

// What Decide makes the same is the same command to a key: a nil slice
// and an empty one, a duration's part finer than a millisecond, a pointer
// to the command, an opening's customer id padded or its keys spelt
// otherwise, given twice, in another order (a host that builds them from
// a map gives each delivery its own) or with a withheld number. Reasons that differ
// by an accent differ, and so do keys that normalise to others.
func TestServiceIdempotencyKeyTakesWhatDecideTakes(t *testing.T) {
	for _, tt := range []struct {
		name         string
		given        []events.Data
		first, again contact.Command
		same         bool
	}{
		{"nil and empty skills", []events.Data{opened()}, contact.Route{Queue: "billing"}, contact.Route{Queue: "billing", Skills: []string{}}, true},
		{"nil and empty topics", []events.Data{opened()}, contact.Classify{Topic: "billing/refund"}, &contact.Classify{Topic: "billing/refund", Topics: []string{}}, true},
		{"a wait finer than a millisecond", []events.Data{opened()},
			contact.Route{Queue: "billing", Wait: 1500 * time.Microsecond}, contact.Route{Queue: "billing", Wait: 1200 * time.Microsecond}, true},
		{"reasons that differ by an accent", []events.Data{opened(), routed(), resolved()},
			contact.Reopen{Contact: contacttest.ID(5), Channel: "phone", Reason: "café"}, contact.Reopen{Contact: contacttest.ID(5), Channel: "phone", Reason: "cafe"}, false},
		{"a customer id padded", nil,
			contact.Open{Customer: events.Customer{ID: "C-1"}, Channel: "phone", Topic: "billing", Contact: contacttest.ID(7)},
			contact.Open{Customer: events.Customer{ID: " C-1\t"}, Channel: "phone", Topic: "billing", Contact: contacttest.ID(7)}, true},
		{"keys spelt otherwise, twice, or withheld", nil,
			contact.Open{Customer: events.Customer{Keys: []string{"email:anna@example.com"}}, Channel: "phone", Topic: "billing", Contact: contacttest.ID(7)},
			contact.Open{Customer: events.Customer{Keys: []string{" email:Anna@Example.COM", "email:anna@example.com", "phone:anonymous"}}, Channel: "phone", Topic: "billing", Contact: contacttest.ID(7)}, true},
		{"keys in another order", nil,
			contact.Open{Customer: events.Customer{Keys: []string{"email:anna@example.com", "phone:+358401234567"}}, Channel: "phone", Topic: "billing", Contact: contacttest.ID(7)},
			contact.Open{Customer: events.Customer{Keys: []string{"phone:+358 40 123 4567", "email:Anna@example.com"}}, Channel: "phone", Topic: "billing", Contact: contacttest.ID(7)}, true},
		{"keys that normalise to others", nil,
			contact.Open{Customer: events.Customer{Keys: []string{"email:anna@example.com"}}, Channel: "phone", Topic: "billing", Contact: contacttest.ID(7)},
			contact.Open{Customer: events.Customer{Keys: []string{"email:anna@example.org"}}, Channel: "phone", Topic: "billing", Contact: contacttest.ID(7)}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			svc, store := newService(t, later)
			issue := contacttest.IssueID()
			if len(tt.given) > 0 {
				_, err := store.Append(t.Context(), issue, 0, stream(issue, tt.given...))
				require.NoError(t, err)
			}
			ctx := contact.WithIdempotencyKey(t.Context(), "webhook:1")
			first, err := svc.Execute(ctx, issue, tt.first)
			require.NoError(t, err)
			again, err := svc.Execute(ctx, issue, tt.again)
			if !tt.same {
				require.ErrorIs(t, err, contact.ErrKeyReused)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, first, again)
			assert.Equal(t, len(tt.given)+1, store.Len())
		})
	}
}

// A run that lost a race to another run of its command, and whose next
// load then failed (its deadline came), finds that run's event.
func TestServiceIdempotencyKeyLostRaceThenFailedLoad(t *testing.T) {
	mem := events.NewMemoryStore()
	issue := contacttest.IssueID()
	_, err := mem.Append(t.Context(), issue, 0, stream(issue, opened(), routed(), resolved()))
	require.NoError(t, err)
	rate := contact.Rate{Survey: events.SurveyCSAT, Score: 4}
	key := contact.WithIdempotencyKey(t.Context(), "survey:9")
	twin, err := contact.NewService(contact.Config{Store: mem, Clock: contacttest.NewClock(contacttest.Minute(5)), IDs: contacttest.NewIDs()})
	require.NoError(t, err)
	store := &twinStore{MemoryStore: mem, twin: func() {
		_, err := twin.Rate(key, issue, rate)
		require.NoError(t, err)
	}}
	svc, err := contact.NewService(contact.Config{Store: store, Clock: contacttest.NewClock(contacttest.Minute(5)), IDs: contacttest.NewIDs()})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(key, 200*time.Millisecond)
	defer cancel()
	evs, err := svc.Rate(ctx, issue, rate)
	require.NoError(t, err, "the other run's event is stored under the key")
	require.Len(t, evs, 1)
	assert.Equal(t, uint64(4), evs[0].Version)
	assert.Equal(t, 4, mem.Len())
}

// twinStore runs twin (another run of the command) before the first
// append, which then loses the race, and fails the second load, the
// retry's, at its context's end.
type twinStore struct {
	*events.MemoryStore
	twin   func()
	loads  int
	ranYet bool
}

func (s *twinStore) Load(ctx context.Context, issue uuid.UUID) ([]events.Envelope, error) {
	if s.loads++; s.loads == 2 {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return s.MemoryStore.Load(ctx, issue)
}

func (s *twinStore) Append(ctx context.Context, issue uuid.UUID, expected uint64, evs []events.Envelope) ([]events.Envelope, error) {
	if !s.ranYet {
		s.ranYet = true
		s.twin()
	}
	return s.MemoryStore.Append(ctx, issue, expected, evs)
}

// A customer's extra data counts as the wire format writes it: a number
// and a string of the same digits are two commands, and two pointers to
// the same text one.
func TestServiceIdempotencyKeyTakesExtraDataAsWritten(t *testing.T) {
	open := func(extra events.Extra) contact.Open {
		return contact.Open{Customer: events.Customer{ID: "C-1", Extra: extra}, Channel: "chat", Topic: "billing"}
	}
	svc, store := newService(t)
	ctx := contact.WithIdempotencyKey(t.Context(), "crm:7")
	_, _, err := svc.Open(ctx, open(events.Extra{"n": json.Number("1")}))
	require.NoError(t, err)
	_, _, err = svc.Open(ctx, open(events.Extra{"n": "1"}))
	require.ErrorIs(t, err, contact.ErrKeyReused)

	tier := func() *string { s := "gold"; return &s }
	ctx = contact.WithIdempotencyKey(t.Context(), "crm:8")
	_, first, err := svc.Open(ctx, open(events.Extra{"tier": tier()}))
	require.NoError(t, err)
	_, again, err := svc.Open(ctx, open(events.Extra{"tier": tier()}))
	require.NoError(t, err, "the same command, retried")
	assert.Equal(t, first[0].ID, again[0].ID, "the first run's event")
	assert.Equal(t, 2, store.Len())
}

// An event whose fingerprint is of another encoding (or has none, as an
// event another writer stamped with the key) is taken as the command's.
func TestServiceIdempotencyKeyOfAnotherFingerprint(t *testing.T) {
	svc, store := newService(t, later)
	issue := contacttest.IssueID()
	evs := stream(issue, opened(), routed(), resolved(), &events.Rated{Survey: events.SurveyCSAT, Score: 5})
	evs[3].Meta = events.Meta{events.MetaIdempotencyKey: "k", "idempotency_fingerprint": "0123abcd"}
	_, err := store.Append(t.Context(), issue, 0, evs)
	require.NoError(t, err)
	got, err := svc.Rate(contact.WithIdempotencyKey(t.Context(), "k"), issue, contact.Rate{Survey: events.SurveyCSAT, Score: 5})
	require.NoError(t, err)
	assert.Equal(t, uint64(4), got[0].Version)
	assert.Equal(t, 4, store.Len())
}

// A reply is a follow-up while the issue is open and a reopen once it is
// resolved, decided as the issue stands; run again with its key after the
// issue changed (resolved since), it returns the follow-up it appended,
// where a host that chose FollowUp or Reopen itself would now be refused.
func TestServiceReplyIsAFollowUpOrAReopen(t *testing.T) {
	svc, store := newService(t, later)
	issue := contacttest.IssueID()
	_, err := store.Append(t.Context(), issue, 0, stream(issue, opened(), routed()))
	require.NoError(t, err)
	ctx := contact.WithIdempotencyKey(t.Context(), "zendesk:comment:7")

	evs, err := svc.Reply(ctx, issue, contact.Reply{Channel: "email", Reason: "still broken"})
	require.NoError(t, err)
	require.Len(t, evs, 1)
	first := evs[0]
	assert.Equal(t, &events.Contacted{Contact: first.Data.(*events.Contacted).Contact, Channel: "email"}, first.Data,
		"a follow-up, whose event has no reason")
	_, err = svc.Resolve(t.Context(), issue, contact.Resolve{Agent: "maria"})
	require.NoError(t, err)

	again, err := svc.Reply(ctx, issue, contact.Reply{Channel: "email", Reason: "still broken"})
	require.NoError(t, err)
	assert.Equal(t, []events.Envelope{first}, again, "the follow-up of the first run, not a reopen")
	_, err = svc.FollowUp(ctx, issue, contact.FollowUp{Channel: "email"})
	require.ErrorIs(t, err, contact.ErrKeyReused, "another command under the key")

	evs, err = svc.Reply(t.Context(), issue, contact.Reply{Channel: "phone", Reason: "still broken"})
	require.NoError(t, err)
	require.Len(t, evs, 1)
	reopened, ok := evs[0].Data.(*events.Reopened)
	require.True(t, ok, "a reply to a resolved issue reopens it: %T", evs[0].Data)
	assert.Equal(t, "phone", reopened.Channel)
	assert.Equal(t, "still broken", reopened.Reason)
	is, err := svc.Load(t.Context(), issue)
	require.NoError(t, err)
	assert.Equal(t, contact.StatusOpen, is.Status)
	assert.Equal(t, 1, is.Reopens)
}

// A pointer to a Reply is the same command as the Reply, whichever event
// its first run appended: retried under its key after a reopen, it returns
// the reopen.
func TestServiceReplyByPointerIsTheSameCommand(t *testing.T) {
	for _, tt := range []struct {
		name         string
		first, again contact.Command
	}{
		{"pointer both times", &contact.Reply{Contact: c2, Channel: "email"}, &contact.Reply{Contact: c2, Channel: "email"}},
		{"value, then pointer", contact.Reply{Contact: c2, Channel: "email"}, &contact.Reply{Contact: c2, Channel: "email"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			svc, store := newService(t, later)
			issue := contacttest.IssueID()
			_, err := store.Append(t.Context(), issue, 0, stream(issue, opened(), routed(), resolved()))
			require.NoError(t, err)
			ctx := contact.WithIdempotencyKey(t.Context(), "zendesk:comment:9")
			first, err := svc.Execute(ctx, issue, tt.first)
			require.NoError(t, err)
			require.IsType(t, &events.Reopened{}, first[0].Data)
			again, err := svc.Execute(ctx, issue, tt.again)
			require.NoError(t, err, "the same command retried under its key")
			assert.Equal(t, first, again)
		})
	}
}

// The README's recipe for the later webhooks of a ticket: its opening under
// a key made of the ticket's id, with no issue id, then every later command
// on IssueForKey of that key; or an id of the host's own, opened through
// Execute.
func TestTheIssueOfATicketByItsKey(t *testing.T) {
	svc, _ := newService(t)
	const key = "zendesk:ticket:4711"
	open := contact.Open{Customer: events.Customer{ID: "C-1"}, Channel: "email", Topic: "billing"}
	id, _, err := svc.Open(contact.WithIdempotencyKey(t.Context(), key), open)
	require.NoError(t, err)
	assert.Equal(t, contact.IssueForKey(key), id)
	_, err = svc.Route(t.Context(), contact.IssueForKey(key), contact.Route{Queue: "billing"})
	require.NoError(t, err)
	_, err = svc.Route(contact.WithIdempotencyKey(t.Context(), "zendesk:event:1"), contact.IssueForKey(key), contact.Route{Queue: "billing", Agent: "maria"})
	require.NoError(t, err)
	id2, _, err := svc.Open(contact.WithIdempotencyKey(t.Context(), key), open)
	require.NoError(t, err, "the ticket's creation webhook again")
	assert.Equal(t, id, id2)
	_, err = svc.Reply(contact.WithIdempotencyKey(t.Context(), "zendesk:comment:1"), contact.IssueForKey(key), contact.Reply{Channel: "email"})
	require.NoError(t, err)
	// The alternative: an id of the host's own, through Execute.
	own := contact.IssueForKey("x") // any fixed uuid
	_, err = svc.Execute(t.Context(), own, open)
	require.NoError(t, err)
	is, err := svc.Load(t.Context(), own)
	require.NoError(t, err)
	assert.Equal(t, contact.StatusOpen, is.Status)
}

// An event stamped by the fingerprint of version "f1:" (which did not
// normalise an Open's customer) is compared with the command by that
// encoding: the same command is a retry, another one is refused. The
// fingerprint below is what that version gave for this Resolve.
func TestServiceIdempotencyKeyComparesFingerprintsOfVersion1(t *testing.T) {
	issue := uuid.MustParse("33333333-3333-3333-3333-333333333333")
	c := uuid.MustParse("22222222-2222-2222-2222-222222222222")
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	svc, store := newService(t, func(cfg *contact.Config) { cfg.Clock = contacttest.NewClock(t0.Add(time.Hour)) })
	_, err := store.Append(t.Context(), issue, 0, []events.Envelope{
		{ID: uuid.New(), Issue: issue, Version: 1, At: t0,
			Data: &events.Opened{Customer: events.Customer{ID: "c-1"}, Channel: "phone", Topic: "billing", Contact: c},
			Meta: events.Meta{events.MetaPartitionKey: "c-1"}},
		{ID: uuid.New(), Issue: issue, Version: 2, At: t0.Add(time.Minute),
			Data: &events.Resolved{Contact: c, Agent: "agent-a"},
			Meta: events.Meta{events.MetaPartitionKey: "c-1", events.MetaIdempotencyKey: "zendesk:42",
				"idempotency_fingerprint": "f1:051b9bde2aac86c736243ad5ad3a72b7"}},
	})
	require.NoError(t, err)
	ctx := contact.WithIdempotencyKey(t.Context(), "zendesk:42")
	again, err := svc.Execute(ctx, issue, contact.Resolve{Contact: c, Agent: "agent-a"})
	require.NoError(t, err, "the same command: a retry")
	require.Len(t, again, 1)
	assert.Equal(t, uint64(2), again[0].Version)
	_, err = svc.Execute(ctx, issue, contact.Resolve{Contact: c, Agent: "agent-b"})
	require.ErrorIs(t, err, contact.ErrKeyReused, "another command under the key")
	assert.Equal(t, 2, store.Len())
}

// An event stamped by the fingerprint of version "f2:" (in which the order
// of an Open's keys counted) is compared with the command by that
// encoding: the same command with its keys in the same order is a retry;
// another one is refused. The fingerprint below is what that version gave
// for this Open.
func TestServiceIdempotencyKeyComparesFingerprintsOfVersion2(t *testing.T) {
	issue := uuid.MustParse("33333333-3333-3333-3333-333333333333")
	c := uuid.MustParse("22222222-2222-2222-2222-222222222222")
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	svc, store := newService(t, func(cfg *contact.Config) { cfg.Clock = contacttest.NewClock(t0.Add(time.Hour)) })
	keys := []string{"email:anna@example.com", "phone:+358401234567"}
	open := func(keys ...string) contact.Open {
		return contact.Open{Customer: events.Customer{Keys: keys}, Channel: "chat", Topic: "billing", Contact: c, At: t0}
	}
	_, err := store.Append(t.Context(), issue, 0, []events.Envelope{
		{ID: uuid.New(), Issue: issue, Version: 1, At: t0,
			Data: &events.Opened{Customer: events.Customer{Keys: keys}, Channel: "chat", Topic: "billing", Contact: c},
			Meta: events.Meta{events.MetaPartitionKey: "email:anna@example.com", events.MetaIdempotencyKey: "zendesk:42",
				"idempotency_fingerprint": "f2:32e0f6d181e72cb8af3f0c019587f1ca"}},
	})
	require.NoError(t, err)
	ctx := contact.WithIdempotencyKey(t.Context(), "zendesk:42")
	again, err := svc.Execute(ctx, issue, open(keys...))
	require.NoError(t, err, "the same command: a retry")
	require.Len(t, again, 1)
	assert.Equal(t, uint64(1), again[0].Version)
	_, err = svc.Execute(ctx, issue, open(keys[0]))
	require.ErrorIs(t, err, contact.ErrKeyReused, "another command under the key")
	assert.Equal(t, 1, store.Len())
}

// An event stamped by the fingerprint of version "f3:" (which trimmed an
// Open's customer id of spaces only) is compared with the command by that
// encoding: the same command is a retry; another one is refused. The
// fingerprint below is what that version gave for this Open.
func TestServiceIdempotencyKeyComparesFingerprintsOfVersion3(t *testing.T) {
	issue := uuid.MustParse("33333333-3333-3333-3333-333333333333")
	c := uuid.MustParse("22222222-2222-2222-2222-222222222222")
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	svc, store := newService(t, func(cfg *contact.Config) { cfg.Clock = contacttest.NewClock(t0.Add(time.Hour)) })
	customer := events.Customer{ID: "C-1", Keys: []string{"email:anna@example.com"}}
	open := func(id string) contact.Open {
		return contact.Open{Customer: events.Customer{ID: id, Keys: customer.Keys}, Channel: "chat", Topic: "billing", Contact: c, At: t0}
	}
	_, err := store.Append(t.Context(), issue, 0, []events.Envelope{
		{ID: uuid.New(), Issue: issue, Version: 1, At: t0,
			Data: &events.Opened{Customer: customer, Channel: "chat", Topic: "billing", Contact: c},
			Meta: events.Meta{events.MetaPartitionKey: "C-1", events.MetaIdempotencyKey: "zendesk:42",
				"idempotency_fingerprint": "f3:40ba424d8a1506d93dc1b4fba0e64a88"}},
	})
	require.NoError(t, err)
	ctx := contact.WithIdempotencyKey(t.Context(), "zendesk:42")
	again, err := svc.Execute(ctx, issue, open(" C-1 "))
	require.NoError(t, err, "the same command: a retry")
	require.Len(t, again, 1)
	assert.Equal(t, uint64(1), again[0].Version)
	_, err = svc.Execute(ctx, issue, open("C-2"))
	require.ErrorIs(t, err, contact.ErrKeyReused, "another command under the key")
	assert.Equal(t, 1, store.Len())
}

// An Open's customer id padded with zero-width characters, which Decide
// trims as it trims spaces, is the same command: retried so, it returns
// the event of the first run.
func TestServiceIdempotencyKeyOfAnOpenWithAZeroWidthPaddedCustomerID(t *testing.T) {
	svc, store := newService(t)
	ctx := contact.WithIdempotencyKey(t.Context(), "webhook-1")
	issue, first, err := svc.Open(ctx, contact.Open{Customer: events.Customer{ID: "C-1"}, Channel: "web", Topic: "orders"})
	require.NoError(t, err)
	for _, id := range []string{"\u200bC-1", "C-1\ufeff", " \u2060C-1 "} {
		again, evs, err := svc.Open(ctx, contact.Open{Customer: events.Customer{ID: id}, Channel: "web", Topic: "orders"})
		require.NoError(t, err, "%q: the same command", id)
		assert.Equal(t, issue, again)
		require.Len(t, evs, 1)
		assert.Equal(t, first[0].ID, evs[0].ID, "%q", id)
	}
	_, _, err = svc.Open(ctx, contact.Open{Customer: events.Customer{ID: "C-2"}, Channel: "web", Topic: "orders"})
	require.ErrorIs(t, err, contact.ErrKeyReused)
	assert.Equal(t, 1, store.Len())
}

// An Open's keys padded with zero-width characters, which Decide trims as
// it trims spaces, are the same command: retried so, it returns the event
// of the first run.
func TestServiceIdempotencyKeyOfAnOpenWithZeroWidthPaddedKeys(t *testing.T) {
	svc, store := newService(t)
	ctx := contact.WithIdempotencyKey(t.Context(), "webhook-2")
	open := func(keys ...string) contact.Open {
		return contact.Open{Customer: events.Customer{Keys: keys}, Channel: "web", Topic: "orders"}
	}
	issue, first, err := svc.Open(ctx, open("account:A-1001", "email:anna@example.com"))
	require.NoError(t, err)
	for _, keys := range [][]string{{"\ufeffaccount:A-1001", "email:anna@example.com\u200b"}, {"email:\u2060anna@example.com ", "account:A-1001\u00ad"}} {
		again, evs, err := svc.Open(ctx, open(keys...))
		require.NoError(t, err, "%+q: the same command", keys)
		assert.Equal(t, issue, again)
		require.Len(t, evs, 1)
		assert.Equal(t, first[0].ID, evs[0].ID, "%+q", keys)
	}
	_, _, err = svc.Open(ctx, open("account:A-1002"))
	require.ErrorIs(t, err, contact.ErrKeyReused)
	assert.Equal(t, 1, store.Len())
}

// An Open that gives more keys than it may is refused as given, even when
// they normalise to the keys of an Open run before with its key: it is no
// retry of that one.
func TestServiceIdempotencyKeyOfAnOpenOfTooManyKeys(t *testing.T) {
	svc, store := newService(t)
	ctx := contact.WithIdempotencyKey(t.Context(), "zendesk:7")
	open := func(keys []string) contact.Open {
		return contact.Open{Customer: events.Customer{Keys: keys}, Channel: "chat", Topic: "billing", Contact: contacttest.ID(90)}
	}
	_, _, err := svc.Open(ctx, open([]string{"email:anna@example.com"}))
	require.NoError(t, err)
	tooMany := slices.Repeat([]string{"email:anna@example.com"}, contact.MaxList+1)
	_, _, err = svc.Open(ctx, open(tooMany))
	require.ErrorIs(t, err, contact.ErrKeyReused)
	assert.Equal(t, 1, store.Len())
}
