package contact_test

import (
	"fmt"
	"slices"
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

// stream numbers data as the events of one issue, a minute apart.
func stream(issue uuid.UUID, data ...events.Data) []events.Envelope {
	evs := make([]events.Envelope, len(data))
	for i, d := range data {
		evs[i] = events.Envelope{ID: contacttest.ID(100 + i), Issue: issue, Version: uint64(i + 1), At: contacttest.Minute(i + 1), Data: d}
	}
	return evs
}

func TestRebuildLifecycle(t *testing.T) {
	issue := contacttest.IssueID()
	evs := stream(issue,
		opened(),
		routed(),
		&events.Routed{Contact: c1, Queue: "payments", Agent: "olli"},
		&events.Consulted{Contact: c1, Agent: "olli", Expert: "ella"},
		&events.Resolved{Contact: c1, Agent: "olli", Code: "fixed"},
		&events.Rated{Survey: events.SurveyCSAT, Score: 2},
		&events.Reopened{Contact: c2, Channel: "phone"},
		&events.Abandoned{Contact: c2, Wait: time.Minute},
		&events.Contacted{Contact: contacttest.Contact(3), Channel: "email"},
		&events.Classified{Topic: "billing/refund", Topics: []string{"orders"}},
	)
	is, err := contact.Rebuild(issue, evs)
	require.NoError(t, err)

	assert.Equal(t, issue, is.ID)
	assert.Equal(t, uint64(10), is.Version)
	assert.Equal(t, contact.StatusOpen, is.Status)
	assert.Equal(t, "open", is.Status.String())
	assert.Equal(t, events.Customer{Keys: []string{"email:anna@example.com"}}, is.Customer)
	assert.Equal(t, "chat", is.Channel)
	assert.Equal(t, "billing/refund", is.Topic)
	assert.Equal(t, []string{"orders"}, is.Topics)
	assert.Equal(t, contacttest.Minute(1), is.OpenedAt)
	assert.Equal(t, contacttest.Minute(10), is.LastAt)
	assert.True(t, is.ResolvedAt.IsZero(), "a reopen clears the resolution")
	assert.Equal(t, 1, is.Reopens)

	assert.Equal(t, []contact.Contact{
		{ID: c1, Kind: contact.KindFirst, Channel: "chat", At: contacttest.Minute(1), Routings: 2, Queue: "payments", Agent: "olli", Consults: 1, Resolutions: 1, Ended: true},
		{ID: c2, Kind: contact.KindReopen, Channel: "phone", At: contacttest.Minute(7), Abandoned: true},
		{ID: contacttest.Contact(3), Kind: contact.KindFollowUp, Channel: "email", At: contacttest.Minute(9)},
	}, is.Contacts)
	first, ok := is.Contact(c1)
	require.True(t, ok)
	assert.True(t, first.Answered())
	latest, ok := is.Latest()
	require.True(t, ok)
	assert.Equal(t, "follow-up", latest.Kind.String())
}

func TestRebuildResolved(t *testing.T) {
	issue := contacttest.IssueID()
	is, err := contact.Rebuild(issue, stream(issue, opened(), &events.Resolved{Contact: c1, Agent: "faq-bot", Bot: true}))
	require.NoError(t, err)
	assert.Equal(t, contact.StatusResolved, is.Status)
	assert.Equal(t, contacttest.Minute(2), is.ResolvedAt)
	assert.Equal(t, c1, is.ResolvedOn)
	assert.Equal(t, "faq-bot", is.ResolvedBy)
	assert.True(t, is.ResolvedByBot)
}

func TestRebuildNothing(t *testing.T) {
	is, err := contact.Rebuild(contacttest.IssueID(), nil)
	require.NoError(t, err)
	assert.Equal(t, contact.StatusNone, is.Status)
	assert.Equal(t, "none", is.Status.String())
	_, ok := is.Latest()
	assert.False(t, ok)
}

func TestApplyRefusesEventsOutOfSequence(t *testing.T) {
	issue := contacttest.IssueID()
	evs := stream(issue, opened(), routed())
	tests := []struct {
		name string
		evs  []events.Envelope
		want string
	}{
		{"gap", []events.Envelope{evs[1]}, "version 2, want 1"},
		{"repeat", []events.Envelope{evs[0], evs[0]}, "version 1, want 2"},
		{"other issue", stream(contacttest.ID(7), opened()), "belongs to issue " + contacttest.ID(7).String()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := contact.Rebuild(issue, tt.evs)
			assert.ErrorIs(t, err, events.ErrInvalidEvent)
			assert.ErrorContains(t, err, tt.want)
		})
	}
}

// TestApplyRefusesEventsWithoutData: an event whose data is nil, or a
// nil pointer of an event type, is refused with an error that says so,
// and leaves the issue as it was; CommandOf refuses it too.
func TestApplyRefusesEventsWithoutData(t *testing.T) {
	issue := contacttest.IssueID()
	tests := []struct {
		data events.Data
		want string
	}{
		{nil, "no data"},
		{(*events.Opened)(nil), "no data (a nil *events.Opened)"},
		{(*events.Routed)(nil), "no data (a nil *events.Routed)"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%T", tt.data), func(t *testing.T) {
			var is contact.Issue
			err := is.Apply(stream(issue, tt.data)[0])
			assert.ErrorIs(t, err, events.ErrInvalidEvent)
			assert.ErrorContains(t, err, tt.want)
			assert.Equal(t, contact.Issue{}, is, "the refused event changed nothing, not even the id")

			_, err = contact.Rebuild(issue, stream(issue, opened(), tt.data))
			assert.ErrorIs(t, err, events.ErrInvalidEvent)
			assert.ErrorContains(t, err, "version 2 has "+tt.want)

			_, err = contact.CommandOf(stream(issue, tt.data)[0])
			assert.ErrorIs(t, err, events.ErrInvalidEvent)
			assert.ErrorContains(t, err, tt.want)
		})
	}
}

func TestDecideDoesNotChangeTheIssue(t *testing.T) {
	issue := contacttest.IssueID()
	is, err := contact.Rebuild(issue, stream(issue, opened()))
	require.NoError(t, err)
	data, err := contact.Decide(is, contact.FollowUp{Channel: "phone"}, contacttest.Minute(5), contacttest.NewIDs(), contact.KeyRules{})
	require.NoError(t, err)
	assert.Equal(t, &events.Contacted{Contact: contacttest.ID(1), Channel: "phone"}, data)
	assert.Len(t, is.Contacts, 1)
	assert.Equal(t, uint64(1), is.Version)

	_, err = contact.Decide(is, contact.FollowUp{Channel: "phone"}, time.Time{}, contacttest.NewIDs(), contact.KeyRules{})
	assert.ErrorIs(t, err, contact.ErrInvalidCommand, "no event time")
}

// manyContacts is the stream of an issue whose contacts come one after
// the other, each routed when it comes, and the first one's routed again
// at the end, with their ids: enough of them that the issue indexes them.
func manyContacts(issue uuid.UUID, n int) ([]events.Envelope, []uuid.UUID) {
	ids := make([]uuid.UUID, n)
	data := []events.Data{}
	for i := range ids {
		ids[i] = contacttest.Contact(1 + i)
		if i == 0 {
			data = append(data, &events.Opened{Customer: events.Customer{Keys: []string{"email:anna@example.com"}}, Channel: "email", Topic: "billing", Contact: ids[0]})
		} else {
			data = append(data, &events.Contacted{Contact: ids[i], Channel: "email"})
		}
		data = append(data, &events.Routed{Contact: ids[i], Queue: fmt.Sprintf("q%d", i), Agent: "olli"})
	}
	data = append(data, &events.Routed{Contact: ids[0], Queue: "again", Agent: "ella"})
	return stream(issue, data...), ids
}

// An issue of hundreds of contacts finds each of them, as Apply and as
// Contact look them up, old or new, and no id that is not one of them.
func TestIssueOfManyContactsFindsEach(t *testing.T) {
	issue := contacttest.IssueID()
	evs, ids := manyContacts(issue, 300)
	is, err := contact.Rebuild(issue, evs)
	require.NoError(t, err)
	require.Len(t, is.Contacts, len(ids))
	for i, id := range ids {
		c, ok := is.Contact(id)
		require.True(t, ok, "contact %d", i)
		assert.Equal(t, id, c.ID)
		if i == 0 {
			assert.Equal(t, 2, c.Routings)
			assert.Equal(t, "again", c.Queue, "the first contact's routing at the end reached it")
			continue
		}
		assert.Equal(t, 1, c.Routings, "contact %d", i)
		assert.Equal(t, fmt.Sprintf("q%d", i), c.Queue)
	}
	_, ok := is.Contact(contacttest.Contact(1000))
	assert.False(t, ok)

	// A contact added since the last lookup that indexed is found too.
	require.NoError(t, is.Apply(events.Envelope{ID: contacttest.ID(9000), Issue: issue, Version: is.Version + 1, At: is.LastAt.Add(time.Minute),
		Data: &events.Contacted{Contact: contacttest.Contact(1000), Channel: "chat"}}))
	c, ok := is.Contact(contacttest.Contact(1000))
	require.True(t, ok)
	assert.Equal(t, "chat", c.Channel)
}

// A copy of an issue of many contacts, with contacts of its own, goes its
// own way: contacts added to one are not found in the other, and each
// finds its own.
func TestIssueOfManyContactsCopied(t *testing.T) {
	issue := contacttest.IssueID()
	evs, ids := manyContacts(issue, 100)
	is, err := contact.Rebuild(issue, evs)
	require.NoError(t, err)
	copied := *is
	apply := func(is *contact.Issue, d events.Data) {
		require.NoError(t, is.Apply(events.Envelope{ID: contacttest.ID(9000), Issue: issue, Version: is.Version + 1, At: is.LastAt.Add(time.Minute), Data: d}))
	}
	contacted := func(c uuid.UUID) events.Data { return &events.Contacted{Contact: c, Channel: "chat"} }
	routed := func(c uuid.UUID) events.Data { return &events.Routed{Contact: c, Queue: "new", Agent: "ella"} }
	// Interleaved, so that each copy looks up contacts the other added.
	apply(is, contacted(contacttest.Contact(500)))
	apply(&copied, contacted(contacttest.Contact(600)))
	apply(&copied, routed(contacttest.Contact(600)))
	apply(is, routed(contacttest.Contact(500)))
	for _, tt := range []struct {
		is         *contact.Issue
		own, other uuid.UUID
	}{{is, contacttest.Contact(500), contacttest.Contact(600)}, {&copied, contacttest.Contact(600), contacttest.Contact(500)}} {
		c, ok := tt.is.Contact(tt.own)
		require.True(t, ok)
		assert.Equal(t, "new", c.Queue)
		_, ok = tt.is.Contact(tt.other)
		assert.False(t, ok, "a contact of the other copy")
		for _, id := range ids {
			_, ok := tt.is.Contact(id)
			require.True(t, ok)
		}
		assert.Len(t, tt.is.Contacts, len(ids)+1)
	}
}

// resolvedIssue returns an issue opened on chat on its first contact,
// followed up by email on its second and resolved on the first.
func resolvedIssue(t *testing.T) (is *contact.Issue, first, second uuid.UUID) {
	issue := contacttest.IssueID()
	first, second = contacttest.Contact(1), contacttest.Contact(2)
	is, err := contact.Rebuild(issue, stream(issue,
		&events.Opened{Customer: events.Customer{ID: "c"}, Channel: "chat", Topic: "billing", Contact: first},
		&events.Contacted{Contact: second, Channel: "email"},
		&events.Resolved{Contact: first},
	))
	require.NoError(t, err)
	return is, first, second
}

// applyNext applies d to is as its next event, a minute after its last.
func applyNext(t *testing.T, is *contact.Issue, d events.Data) {
	t.Helper()
	require.NoError(t, is.Apply(events.Envelope{ID: contacttest.ID(9000), Issue: is.ID, Version: is.Version + 1, At: is.LastAt.Add(time.Minute), Data: d}))
}

// Events applied to a plain copy of an issue (the next event tried on a
// copy) leave the original as it was, and a copy taken before as well: a
// reopen ends contacts, a routing and a resolution count on one, a
// follow-up appends one, in place in the array they shared.
func TestIssueCopyKeepsItsContacts(t *testing.T) {
	is, first, second := resolvedIssue(t)
	before := *is
	want := slices.Clone(is.Contacts)
	apply := func(is *contact.Issue, d events.Data) { applyNext(t, is, d) }
	next := before
	apply(&next, &events.Routed{Contact: second, Queue: "q", Agent: "ella"})
	apply(&next, &events.Resolved{Contact: second})
	apply(&next, &events.Reopened{Contact: contacttest.Contact(3), Channel: "phone"})
	apply(&next, &events.Abandoned{Contact: contacttest.Contact(3)})
	assert.Equal(t, want, before.Contacts, "the copy taken before")
	assert.Equal(t, want, is.Contacts, "the original")
	c, _ := next.Contact(first)
	assert.True(t, c.Ended, "the advanced copy's contact before the reopen")
	c, _ = next.Contact(second)
	assert.Equal(t, 1, c.Routings)

	// A copy that applied an event of any type, one that changes no
	// contact included, has contacts of its own.
	classified := *is
	apply(&classified, &events.Classified{Topic: "billing/refund"})
	apply(is, &events.Routed{Contact: second, Queue: "q", Agent: "ella"})
	assert.Equal(t, want, classified.Contacts, "a copy that applied a reclassification")

	// Each of two copies appends within the capacity that they share,
	// the original last: neither sees the other's contact.
	is.Contacts = slices.Grow(is.Contacts, 4)
	a, b := *is, *is
	apply(&a, &events.Contacted{Contact: contacttest.Contact(4), Channel: "chat"})
	apply(&b, &events.Contacted{Contact: contacttest.Contact(5), Channel: "chat"})
	apply(is, &events.Contacted{Contact: contacttest.Contact(6), Channel: "chat"})
	for _, tt := range []struct {
		is  *contact.Issue
		own int
	}{{&a, 4}, {&b, 5}, {is, 6}} {
		require.Len(t, tt.is.Contacts, 3)
		assert.Equal(t, contacttest.Contact(tt.own), tt.is.Contacts[2].ID)
	}
}

// A clone keeps its contacts as they were while the original is advanced,
// and may be read meanwhile (the race detector checks it); a clone
// advanced leaves the original as it was.
func TestIssueClone(t *testing.T) {
	is, _, second := resolvedIssue(t)
	apply := func(is *contact.Issue, d events.Data) { applyNext(t, is, d) }
	want := slices.Clone(is.Contacts)
	saved := is.Clone()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 100 {
			c, _ := saved.Contact(second)
			assert.Zero(t, c.Routings)
		}
	}()
	apply(is, &events.Routed{Contact: second, Queue: "q", Agent: "ella"})
	apply(is, &events.Reopened{Contact: contacttest.Contact(3), Channel: "phone"})
	<-done
	assert.Equal(t, want, saved.Contacts, "the clone, after the original was advanced")

	now := slices.Clone(is.Contacts)
	next := is.Clone()
	apply(next, &events.Routed{Contact: contacttest.Contact(3), Queue: "q", Agent: "ella"})
	apply(next, &events.Contacted{Contact: contacttest.Contact(4), Channel: "chat"})
	assert.Equal(t, now, is.Contacts, "the original, after the clone was advanced")
	assert.Len(t, next.Contacts, len(now)+1)
}

// Contact only reads: goroutines may look up the contacts of one issue of
// many at once (the race detector checks it).
func TestIssueOfManyContactsReadConcurrently(t *testing.T) {
	issue := contacttest.IssueID()
	evs, ids := manyContacts(issue, 100)
	// Up to the last contact's arrival: it is not indexed yet, and is
	// found past the index.
	is, err := contact.Rebuild(issue, evs[:len(evs)-2])
	require.NoError(t, err)
	require.Len(t, is.Contacts, len(ids))
	var wg sync.WaitGroup
	found := make([]int, 4)
	for g := range found {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, id := range ids {
				if _, ok := is.Contact(id); ok {
					found[g]++
				}
			}
		}()
	}
	wg.Wait()
	for _, n := range found {
		assert.Equal(t, len(ids), n)
	}
}

func TestIssueEndedAfterReopen(t *testing.T) {
	// Enough contacts that the issue finds them through its index.
	var evs []events.Data
	evs = append(evs, &events.Opened{Customer: events.Customer{ID: "C-1"}, Channel: "chat", Topic: "billing", Contact: contacttest.Contact(1)})
	for i := 2; i <= 40; i++ {
		evs = append(evs, &events.Contacted{Contact: contacttest.Contact(i), Channel: "email"})
	}
	evs = append(evs, &events.Resolved{Contact: contacttest.Contact(40)},
		&events.Reopened{Contact: contacttest.Contact(41), Channel: "phone"},
		&events.Contacted{Contact: contacttest.Contact(42), Channel: "email"})
	envs := make([]events.Envelope, len(evs))
	for i, d := range evs {
		envs[i] = events.Envelope{ID: contacttest.ID(i + 1), Issue: contacttest.IssueID(), Version: uint64(i + 1), At: contacttest.Minute(i + 1), Data: d}
	}
	is, err := contact.Rebuild(contacttest.IssueID(), envs)
	require.NoError(t, err)
	ended := func(i int) bool {
		c, ok := is.Contact(contacttest.Contact(i))
		require.True(t, ok, "contact %d", i)
		return c.Ended
	}
	for i := 1; i <= 40; i++ {
		assert.True(t, ended(i), "contact %d came before the reopen", i)
	}
	assert.False(t, ended(41), "the reopen's contact")
	assert.False(t, ended(42), "a follow-up after the reopen")
}

// An imported stream may name a contact before the event that introduces
// it: the contact keeps its first place in Contacts, and whether a reopen
// ended it follows the order of the events, not that place.
func TestEndedFollowsTheEventsNotThePlaces(t *testing.T) {
	c3, c4 := contacttest.Contact(3), contacttest.Contact(4)
	rebuild := func(evs ...events.Data) *contact.Issue {
		t.Helper()
		envs := make([]events.Envelope, len(evs))
		for i, d := range evs {
			envs[i] = events.Envelope{ID: contacttest.ID(i + 1), Issue: contacttest.IssueID(), Version: uint64(i + 1), At: contacttest.Minute(i + 1), Data: d}
		}
		is, err := contact.Rebuild(contacttest.IssueID(), envs)
		require.NoError(t, err)
		return is
	}
	decide := func(is *contact.Issue, cmd contact.Command) (events.Data, error) {
		return contact.Decide(is, cmd, contacttest.Minute(100), nil, contact.KeyRules{})
	}

	// The reopen's contact was named early: c2, resolved before the
	// reopen, is ended all the same.
	is := rebuild(opened(),
		&events.Routed{Contact: c3, Queue: "billing"},
		&events.Contacted{Contact: c2, Channel: "email"},
		&events.Resolved{Contact: c2, Agent: "maria"},
		&events.Reopened{Contact: c3, Channel: "phone"})
	_, err := decide(is, contact.Route{Contact: c2, Queue: "billing"})
	assert.ErrorIs(t, err, contact.ErrContactEnded)
	d, err := decide(is, contact.Resolve{Agent: "maria"})
	require.NoError(t, err)
	assert.Equal(t, c3, d.(*events.Resolved).Contact, "the reopen's contact, not one it ended")

	// A second reopen, on a contact named before the first, ends the
	// first's contact.
	is = rebuild(opened(),
		&events.Routed{Contact: c4, Queue: "billing"},
		&events.Resolved{Contact: c1},
		&events.Reopened{Contact: c2, Channel: "phone"},
		&events.Resolved{Contact: c2},
		&events.Reopened{Contact: c4, Channel: "email"})
	_, err = decide(is, contact.Resolve{Contact: c2})
	assert.ErrorIs(t, err, contact.ErrContactEnded)
	assert.ErrorContains(t, err, "reopened on contact "+c4.String())

	// A follow-up named before a reopen and introduced after it is not
	// ended.
	is = rebuild(opened(),
		&events.Routed{Contact: c3, Queue: "billing"},
		&events.Resolved{Contact: c1},
		&events.Reopened{Contact: c2, Channel: "phone"},
		&events.Contacted{Contact: c3, Channel: "email"})
	_, err = decide(is, contact.Route{Contact: c3, Queue: "billing"})
	assert.NoError(t, err)

	// That follow-up, introduced after the first reopen, is ended by the
	// next one.
	is = rebuild(opened(),
		&events.Routed{Contact: c3, Queue: "billing"},
		&events.Resolved{Contact: c1},
		&events.Reopened{Contact: c2, Channel: "phone"},
		&events.Contacted{Contact: c3, Channel: "email"},
		&events.Resolved{Contact: c3},
		&events.Reopened{Contact: c4, Channel: "chat"})
	for _, c := range []uuid.UUID{c1, c2, c3} {
		_, err = decide(is, contact.Route{Contact: c, Queue: "billing"})
		assert.ErrorIs(t, err, contact.ErrContactEnded, "contact %s", c)
	}
	_, err = decide(is, contact.Route{Contact: c4, Queue: "billing"})
	assert.NoError(t, err)
}
