package simulate_test

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/google/uuid"

	"github.com/truefcr/truefcr/events"
)

// The lifecycle rules, checked here from the events alone, independently
// of how the generator plans them.

type contactState uint8

const (
	offered contactState = iota + 1
	answeredContact
	abandonedContact
	// endedContact: one from before the issue's latest reopen, which only
	// a survey answer may name.
	endedContact
)

type streamState struct {
	version  uint64
	last     events.Envelope
	resolved bool
	contacts map[uuid.UUID]contactState
}

// kept reports whether the issue has a contact that was not abandoned.
func (s *streamState) kept() bool {
	for _, st := range s.contacts {
		if st != abandonedContact && st != endedContact {
			return true
		}
	}
	return false
}

// checker follows a log event by event and reports the first rule that an
// event breaks.
type checker struct {
	streams  map[uuid.UUID]*streamState
	ids      map[uuid.UUID]bool
	contacts map[uuid.UUID]uuid.UUID // contact → issue
	lastAt   events.Envelope
	seen     int
}

func newChecker() *checker {
	return &checker{
		streams:  map[uuid.UUID]*streamState{},
		ids:      map[uuid.UUID]bool{},
		contacts: map[uuid.UUID]uuid.UUID{},
	}
}

var keyForm = regexp.MustCompile(`^(phone:\+[1-9][0-9]{6,14}|email:[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]+|account:A-[0-9]+)$`)

func (c *checker) check(e events.Envelope) error {
	err := c.step(e)
	if err != nil {
		return fmt.Errorf("event %d (issue %s version %d, %s at %s): %w", c.seen, e.Issue, e.Version, e.Type(), e.At, err)
	}
	c.seen++
	c.lastAt = e
	return nil
}

func (c *checker) step(e events.Envelope) error {
	if err := e.Validate(); err != nil {
		return err
	}
	if c.ids[e.ID] {
		return fmt.Errorf("event id %s used twice", e.ID)
	}
	c.ids[e.ID] = true
	if c.seen > 0 && e.At.Before(c.lastAt.At) {
		return fmt.Errorf("event time goes back from %s", c.lastAt.At)
	}
	s := c.streams[e.Issue]
	if s == nil {
		if e.Type() != events.TypeOpened {
			return fmt.Errorf("stream starts with %s", e.Type())
		}
		s = &streamState{contacts: map[uuid.UUID]contactState{}}
		c.streams[e.Issue] = s
	}
	if e.Version != s.version+1 {
		return fmt.Errorf("version %d follows %d", e.Version, s.version)
	}
	if s.version > 0 && e.At.Before(s.last.At) {
		return fmt.Errorf("stream time goes back from %s", s.last.At)
	}
	introduce := func(contact uuid.UUID) error {
		if other, ok := c.contacts[contact]; ok {
			return fmt.Errorf("contact %s already introduced on issue %s", contact, other)
		}
		c.contacts[contact] = e.Issue
		s.contacts[contact] = offered
		return nil
	}
	known := func(contact uuid.UUID) (contactState, error) {
		st, ok := s.contacts[contact]
		if !ok {
			return 0, fmt.Errorf("contact %s is not a contact of the issue", contact)
		}
		if st == endedContact {
			return 0, fmt.Errorf("contact %s ended before the issue's latest reopen", contact)
		}
		return st, nil
	}
	switch d := e.Data.(type) {
	case *events.Opened:
		if s.version != 0 {
			return fmt.Errorf("opened again")
		}
		if len(d.Customer.Keys) == 0 {
			return fmt.Errorf("customer without keys")
		}
		for _, k := range d.Customer.Keys {
			if !keyForm.MatchString(k) {
				return fmt.Errorf("customer key %q is not normalised", k)
			}
		}
		if !strings.Contains(d.Topic, "/") {
			return fmt.Errorf("topic %q is not hierarchical", d.Topic)
		}
		if err := introduce(d.Contact); err != nil {
			return err
		}
	case *events.Contacted:
		if s.resolved {
			return fmt.Errorf("follow-up on a resolved issue")
		}
		if err := introduce(d.Contact); err != nil {
			return err
		}
	case *events.Reopened:
		if !s.resolved {
			return fmt.Errorf("reopen of an open issue")
		}
		s.resolved = false
		for c := range s.contacts {
			s.contacts[c] = endedContact
		}
		if err := introduce(d.Contact); err != nil {
			return err
		}
	case *events.Routed:
		st, err := known(d.Contact)
		if err != nil {
			return err
		}
		if st == abandonedContact {
			return fmt.Errorf("route of abandoned contact %s", d.Contact)
		}
		s.contacts[d.Contact] = answeredContact
	case *events.Abandoned:
		st, err := known(d.Contact)
		if err != nil {
			return err
		}
		if st != offered {
			return fmt.Errorf("abandon of contact %s that was answered or abandoned", d.Contact)
		}
		s.contacts[d.Contact] = abandonedContact
	case *events.Consulted:
		st, err := known(d.Contact)
		if err != nil {
			return err
		}
		if st != answeredContact {
			return fmt.Errorf("consultation on contact %s that nobody answered", d.Contact)
		}
	case *events.Resolved:
		st, err := known(d.Contact)
		if err != nil {
			return err
		}
		// A helpdesk closes an issue on an abandoned contact only when
		// the customer gave up every time.
		if st == abandonedContact && s.kept() {
			return fmt.Errorf("resolution on abandoned contact %s of an issue with a contact that was not", d.Contact)
		}
		if s.resolved {
			return fmt.Errorf("resolution of a resolved issue")
		}
		if d.Agent != "" && !d.Bot && st != answeredContact {
			return fmt.Errorf("agent resolution on contact %s that no agent answered", d.Contact)
		}
		s.resolved = true
	case *events.Rated:
		// Validate checked the scale.
		if _, ok := s.contacts[d.Contact]; d.Contact != uuid.Nil && !ok {
			return fmt.Errorf("contact %s is not a contact of the issue", d.Contact)
		}
	case *events.Classified:
	default:
		return fmt.Errorf("unexpected event type %T", e.Data)
	}
	s.version = e.Version
	s.last = e
	return nil
}
