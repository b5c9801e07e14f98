package contact_test

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/contact"
	"github.com/truefcr/truefcr/contact/contacttest"
	"github.com/truefcr/truefcr/events"
)

// model: every reopen ends every contact known before it; an
// introduction (opened, contacted, reopened) un-ends its contact.
// endedModel is the rule of Contact.Ended at its plainest: a reopen ends
// every contact the issue has, then introduces its own; an introduction
// (an opening, a follow-up, a reopen) un-ends its contact.
type endedModel struct {
	order []uuid.UUID
	ended map[uuid.UUID]bool
}

func (m *endedModel) touch(id uuid.UUID) {
	if _, ok := m.ended[id]; !ok {
		m.order = append(m.order, id)
		m.ended[id] = false
	}
}

func (m *endedModel) apply(d events.Data) {
	switch d := d.(type) {
	case *events.Opened:
		m.touch(d.Contact)
		m.ended[d.Contact] = false
	case *events.Contacted:
		m.touch(d.Contact)
		m.ended[d.Contact] = false
	case *events.Reopened:
		for _, id := range m.order {
			m.ended[id] = true
		}
		m.touch(d.Contact)
		m.ended[d.Contact] = false
	case *events.Routed:
		m.touch(d.Contact)
	case *events.Consulted:
		m.touch(d.Contact)
	case *events.Abandoned:
		m.touch(d.Contact)
	}
}

func randomData(r *rand.Rand, ncontacts int) events.Data {
	c := contacttest.Contact(1 + r.IntN(ncontacts))
	switch r.IntN(7) {
	case 0:
		return &events.Routed{Contact: c, Queue: "q"}
	case 1:
		return &events.Contacted{Contact: c, Channel: "email"}
	case 2, 3:
		return &events.Reopened{Contact: c, Channel: "phone"}
	case 4:
		return &events.Resolved{Contact: c}
	case 5:
		return &events.Consulted{Contact: c, Agent: "a", Expert: "b"}
	}
	return &events.Abandoned{Contact: c}
}

// Contact.Ended, marked about once a contact, is the model's, over random
// streams that name contacts before introducing them, reopen on contacts
// named before, and grow past the contact index.
func TestEndedMatchesTheModel(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for iter := range 5000 {
		ncontacts := 1 + r.IntN(6)
		if iter%10 == 0 {
			ncontacts = 1 + r.IntN(60) // the index
		}
		n := 1 + r.IntN(25)
		if iter%10 == 0 {
			n = 40 + r.IntN(120)
		}
		data := []events.Data{&events.Opened{Customer: events.Customer{ID: "C"}, Channel: "chat", Topic: "t", Contact: contacttest.Contact(1 + r.IntN(ncontacts))}}
		for range n {
			data = append(data, randomData(r, ncontacts))
		}
		m := &endedModel{ended: map[uuid.UUID]bool{}}
		is := &contact.Issue{}
		for i, d := range data {
			m.apply(d)
			require.NoError(t, is.Apply(events.Envelope{ID: contacttest.ID(i + 1), Issue: contacttest.IssueID(), Version: uint64(i + 1), At: contacttest.Minute(i + 1), Data: d}))
			got := make([]uuid.UUID, len(is.Contacts))
			for j, c := range is.Contacts {
				got[j] = c.ID
				if c.Ended != m.ended[c.ID] {
					t.Fatalf("iter %d after event %d (%T): contact %s ended %v, model %v; stream %s", iter, i, d, c.ID, c.Ended, m.ended[c.ID], show(data[:i+1]))
				}
			}
			require.Equal(t, m.order, got)
		}
	}
}

func show(data []events.Data) string {
	s := ""
	for _, d := range data {
		s += " " + describe(d)
	}
	return s
}

func describe(d events.Data) string {
	name := func(id uuid.UUID) string { return id.String()[len(id.String())-2:] }
	switch d := d.(type) {
	case *events.Opened:
		return "open(" + name(d.Contact) + ")"
	case *events.Routed:
		return "route(" + name(d.Contact) + ")"
	case *events.Contacted:
		return "contact(" + name(d.Contact) + ")"
	case *events.Reopened:
		return "reopen(" + name(d.Contact) + ")"
	case *events.Resolved:
		return "resolve(" + name(d.Contact) + ")"
	case *events.Consulted:
		return "consult(" + name(d.Contact) + ")"
	case *events.Abandoned:
		return "abandon(" + name(d.Contact) + ")"
	}
	return "?"
}

// A copy with its own contacts (as TestIssueOfManyContactsCopied makes
// one) shares the original's revived list: the copy's introduction of a
// contact overwrites the original's, and the original's next reopen
// leaves its own revived contact not ended.
// A copy of an issue (its Contacts cloned, as a caller that keeps both
// does) that introduces a contact does not take the place the original's
// next introduction needs, where the two shared one array.
func TestACopyOfAnIssueEndsItsOwnContacts(t *testing.T) {
	issue := contacttest.IssueID()
	c := contacttest.Contact
	data := []events.Data{
		&events.Opened{Customer: events.Customer{ID: "C"}, Channel: "chat", Topic: "t", Contact: c(1)},
		// mention 2..6 before the reopen
		&events.Routed{Contact: c(2), Queue: "q"},
		&events.Routed{Contact: c(3), Queue: "q"},
		&events.Routed{Contact: c(4), Queue: "q"},
		&events.Routed{Contact: c(5), Queue: "q"},
		&events.Routed{Contact: c(6), Queue: "q"},
		&events.Resolved{Contact: c(1)},
		&events.Reopened{Contact: c(7), Channel: "phone"},
		// introduce three: revived has length 3, capacity 4
		&events.Contacted{Contact: c(2), Channel: "email"},
		&events.Contacted{Contact: c(3), Channel: "email"},
		&events.Contacted{Contact: c(4), Channel: "email"},
	}
	is, err := contact.Rebuild(issue, stream(issue, data...))
	require.NoError(t, err)
	copied := *is
	copied.Contacts = slices.Clone(is.Contacts)
	apply := func(is *contact.Issue, d events.Data) {
		require.NoError(t, is.Apply(events.Envelope{ID: contacttest.ID(9000), Issue: issue, Version: is.Version + 1, At: is.LastAt.Add(time.Minute), Data: d}))
	}
	apply(is, &events.Contacted{Contact: c(5), Channel: "email"})
	apply(&copied, &events.Contacted{Contact: c(6), Channel: "email"})
	apply(is, &events.Resolved{Contact: c(7)})
	apply(is, &events.Reopened{Contact: c(8), Channel: "phone"})
	got, _ := is.Contact(c(5))
	require.True(t, got.Ended, "contact 5 came before the original's second reopen")
}
