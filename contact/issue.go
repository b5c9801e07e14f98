package contact

import (
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/truefcr/truefcr/events"
)

// Status is where an issue is in its lifecycle.
type Status uint8

// The statuses of an issue. The zero Status is an issue that was never opened.
const (
	StatusNone Status = iota
	StatusOpen
	StatusResolved
)

// String returns "none", "open" or "resolved".
func (s Status) String() string {
	switch s {
	case StatusOpen:
		return "open"
	case StatusResolved:
		return "resolved"
	}
	return "none"
}

// ContactKind says how a contact came to belong to its issue.
type ContactKind uint8

// The kinds of contact.
const (
	KindFirst    ContactKind = iota + 1 // issue.opened
	KindFollowUp                        // issue.contacted, on an open issue
	KindReopen                          // issue.reopened, on a resolved issue
)

// String returns "first", "follow-up" or "reopen".
func (k ContactKind) String() string {
	switch k {
	case KindFirst:
		return "first"
	case KindFollowUp:
		return "follow-up"
	case KindReopen:
		return "reopen"
	}
	return "unknown"
}

// Contact is one inbound contact of an issue, as its events tell it.
type Contact struct {
	ID      uuid.UUID
	Kind    ContactKind
	Channel string
	At      time.Time
	// Routings counts issue.routed events: more than one is a transfer.
	Routings int
	// Queue and Agent are those of the latest routing.
	Queue, Agent string
	Consults     int
	// Resolutions counts the issue.resolved events on the contact.
	Resolutions int
	Abandoned   bool
	// Ended: the contact came before the issue's latest reopen, whose
	// resolution ended it. The Service refuses to route, consult,
	// resolve on or abandon it (ErrContactEnded).
	Ended bool
}

// Answered reports whether the contact was routed to someone.
func (c Contact) Answered() bool { return c.Routings > 0 }

// Handled reports whether someone dealt with the contact: it was routed,
// consulted on or resolved on (by a bot, say, with no routing).
func (c Contact) Handled() bool { return c.Routings > 0 || c.Consults > 0 || c.Resolutions > 0 }

// Issue is one customer problem, rebuilt from its events. Its zero value is
// an issue that was never opened. Apply events to it in version order.
// Its fields are for reading: an issue of many contacts indexes them, and
// an index does not follow Contacts changed by hand. A plain copy of an
// issue (next := *is) shares the original's contacts until it applies an
// event: Apply on the copy leaves the original as it was, but Apply on the
// original changes the copy's contacts. Clone makes a copy that either
// can be advanced apart from.
type Issue struct {
	ID       uuid.UUID
	Version  uint64
	Status   Status
	Customer events.Customer
	// Channel is the channel of the first contact.
	Channel string
	// Topic is the contact reason; Topics are the secondary ones.
	Topic    string
	Topics   []string
	Contacts []Contact

	OpenedAt, ResolvedAt, LastAt time.Time
	// ResolvedOn, ResolvedBy and ResolvedByBot describe the latest
	// resolution while the issue is resolved; they are cleared by a reopen.
	ResolvedOn    uuid.UUID
	ResolvedBy    string
	ResolvedByBot bool
	Reopens       int
	// PartitionKey is the events.MetaPartitionKey of the issue's opening,
	// which the Service gives its later events, so that an issue's stream
	// stays on one partition.
	PartitionKey string

	// reopenedOn and reopenedAt are the contact and time of the latest
	// reopen, for the refusal of a contact it ended.
	reopenedOn uuid.UUID
	reopenedAt time.Time
	// endedTo: a reopen ended every contact of Contacts[:endedTo] but
	// those of revived, introduced (after a mention) since the reopen: the
	// next reopen ends those and the contacts from endedTo on, so that
	// each contact is marked about once, however many reopens there are.
	endedTo int
	revived []int
	// revivedOf is the issue whose revived this is: a copy of the issue
	// shares the original's, and takes its own before it appends.
	revivedOf *Issue
	// contactsOf is likewise the issue whose Contacts these are: a copy
	// takes its own before it changes or appends one (ownContacts).
	contactsOf *Issue

	// byContact finds contacts by id once the issue has many
	// (contactIndexFrom): an issue of thousands (a long email thread, a
	// bot answering itself) would otherwise cost a scan of them at every
	// event, and rebuilding it time quadratic in them.
	byContact *contactIndex
}

// contactIndexFrom is how many contacts an issue has before it finds them
// through an index rather than a scan.
const contactIndexFrom = 32

// contactIndex maps the ids of the first n contacts of issue of to their
// places + 1 (0 for none). A copy of the issue shares the index of the
// original, which indexes the original's contacts: it makes its own.
type contactIndex struct {
	of *Issue
	at map[uuid.UUID]int
	n  int
}

// Rebuild returns the issue whose stream is evs, in version order.
func Rebuild(id uuid.UUID, evs []events.Envelope) (*Issue, error) {
	is := &Issue{ID: id}
	for _, e := range evs {
		if err := is.Apply(e); err != nil {
			return nil, err
		}
	}
	return is, nil
}

// Apply advances the issue by one event, which must be the next of its
// stream and carry data (events.Envelope.HasData); an error wraps
// events.ErrInvalidEvent and leaves the issue as it was. Events are
// facts: Apply does not judge them as the commands do, and event types
// it does not know only advance the version.
func (is *Issue) Apply(e events.Envelope) error {
	id := is.ID
	if id == uuid.Nil && is.Version == 0 {
		id = e.Issue // the first event names the issue
	}
	switch {
	case e.Issue != id:
		return fmt.Errorf("apply event %s to issue %s: it belongs to issue %s: %w", e.ID, id, e.Issue, events.ErrInvalidEvent)
	case e.Version != is.Version+1:
		return fmt.Errorf("apply event %s to issue %s: version %d, want %d: %w", e.ID, id, e.Version, is.Version+1, events.ErrInvalidEvent)
	case !e.HasData():
		return fmt.Errorf("apply event %s to issue %s: version %d has %s: %w", e.ID, id, e.Version, e.NoData(), events.ErrInvalidEvent)
	}
	is.ID = id
	is.Version = e.Version
	is.LastAt = e.At
	is.ownContacts()
	switch d := e.Data.(type) {
	case *events.Opened:
		is.Status = StatusOpen
		is.Customer = d.Customer
		is.PartitionKey = e.Meta[events.MetaPartitionKey]
		is.Channel, is.Topic = d.Channel, d.Topic
		is.OpenedAt = e.At
		is.addContact(d.Contact, KindFirst, d.Channel, e.At)
	case *events.Routed:
		c := is.contact(d.Contact)
		c.Routings++
		c.Queue, c.Agent = d.Queue, d.Agent
	case *events.Consulted:
		is.contact(d.Contact).Consults++
	case *events.Resolved:
		if c := is.knownContact(d.Contact); c != nil {
			c.Resolutions++
		}
		is.Status = StatusResolved
		is.ResolvedAt = e.At
		is.ResolvedOn, is.ResolvedBy, is.ResolvedByBot = d.Contact, d.Agent, d.Bot
	case *events.Reopened:
		is.Status = StatusOpen
		is.Reopens++
		is.ResolvedAt, is.ResolvedOn, is.ResolvedBy, is.ResolvedByBot = time.Time{}, uuid.Nil, "", false
		// The resolution it undid ended every contact before it.
		for i := is.endedTo; i < len(is.Contacts); i++ {
			is.Contacts[i].Ended = true
		}
		for _, i := range is.revived {
			is.Contacts[i].Ended = true
		}
		is.endedTo, is.revived, is.revivedOf = len(is.Contacts), nil, is
		is.addContact(d.Contact, KindReopen, d.Channel, e.At)
		is.reopenedOn, is.reopenedAt = d.Contact, e.At
	case *events.Contacted:
		is.addContact(d.Contact, KindFollowUp, d.Channel, e.At)
	case *events.Abandoned:
		is.contact(d.Contact).Abandoned = true
	case *events.Classified:
		is.Topic, is.Topics = d.Topic, d.Topics
	}
	return nil
}

// Contact returns the issue's contact with the given id.
func (is *Issue) Contact(id uuid.UUID) (Contact, bool) {
	if c := is.find(id); c != nil {
		return *c, true
	}
	return Contact{}, false
}

// Latest returns the issue's most recent contact, false if it has none.
func (is *Issue) Latest() (Contact, bool) {
	if len(is.Contacts) == 0 {
		return Contact{}, false
	}
	return is.Contacts[len(is.Contacts)-1], true
}

// addContact records a new contact; one already known only gets its kind
// and channel (an imported stream may mention a contact before introducing
// it), and is not ended: it came now.
func (is *Issue) addContact(id uuid.UUID, kind ContactKind, channel string, at time.Time) {
	c := is.contact(id)
	if c.Ended {
		// Mentioned before a reopen, introduced after it: the next
		// reopen ends it again.
		if is.revivedOf != is {
			is.revived, is.revivedOf = slices.Clone(is.revived), is
		}
		is.revived = append(is.revived, is.place(id))
	}
	c.Kind, c.Channel, c.At, c.Ended = kind, channel, at, false
}

// Clone returns a copy of the issue that shares nothing that Apply
// changes with it: the issue and its clone can each be advanced, and read
// while the other is, and neither sees the other's events.
func (is *Issue) Clone() *Issue {
	c := new(Issue)
	*c = *is
	c.ownContacts()
	return c
}

// ownContacts gives a copy of an issue its own Contacts, at the first
// event that Apply applies to it, which may change one or append one: the
// copy shares the original's until then, and an append within their
// capacity would write where the original appends next.
func (is *Issue) ownContacts() {
	if is.contactsOf != is {
		is.Contacts, is.contactsOf = slices.Clip(slices.Clone(is.Contacts)), is
	}
}

// contact returns the contact with id, adding it when it is unknown.
func (is *Issue) contact(id uuid.UUID) *Contact {
	if c := is.knownContact(id); c != nil {
		return c
	}
	is.Contacts = append(is.Contacts, Contact{ID: id})
	return &is.Contacts[len(is.Contacts)-1]
}

// knownContact returns the issue's contact id, or nil. It indexes the
// contacts of an issue that has many: Apply calls it, and Contact, which
// may be called by several goroutines at once, only reads the index.
func (is *Issue) knownContact(id uuid.UUID) *Contact {
	if len(is.Contacts) >= contactIndexFrom {
		x := is.byContact
		if x == nil || x.of != is || x.n > len(is.Contacts) {
			x = &contactIndex{of: is, at: make(map[uuid.UUID]int, len(is.Contacts))}
			is.byContact = x
		}
		// Contacts are only ever appended: index those added since.
		for ; x.n < len(is.Contacts); x.n++ {
			if c := is.Contacts[x.n].ID; x.at[c] == 0 {
				x.at[c] = x.n + 1 // the first of an id, as a scan finds it
			}
		}
	}
	return is.find(id)
}

// find returns the issue's contact id, or nil, as place finds it.
func (is *Issue) find(id uuid.UUID) *Contact {
	if i := is.place(id); i >= 0 {
		return &is.Contacts[i]
	}
	return nil
}

// place returns the place in Contacts of the issue's contact id, or -1,
// through the index where it is the issue's own, without changing it.
func (is *Issue) place(id uuid.UUID) int {
	from := 0
	if x := is.byContact; x != nil && x.of == is && x.n <= len(is.Contacts) {
		if i := x.at[id] - 1; i >= 0 && is.Contacts[i].ID == id {
			return i
		}
		from = x.n // the contacts before are indexed, and id is not among them
	}
	for i := from; i < len(is.Contacts); i++ {
		if is.Contacts[i].ID == id {
			return i
		}
	}
	return -1
}
