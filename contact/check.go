package contact

import (
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/internal/text"
)

// CommandOf returns the command whose decision is the recorded event e: the
// inverse of Decide, with every id and the event time explicit. It fails
// for an event type that is not part of the lifecycle.
func CommandOf(e events.Envelope) (Command, error) {
	if !e.HasData() {
		return nil, fmt.Errorf("event %s of issue %s: %s: %w", e.ID, e.Issue, e.NoData(), events.ErrInvalidEvent)
	}
	switch d := e.Data.(type) {
	case *events.Opened:
		return Open{Customer: d.Customer, Channel: d.Channel, Topic: d.Topic, Contact: d.Contact, At: e.At}, nil
	case *events.Routed:
		return Route{Contact: d.Contact, Queue: d.Queue, Agent: d.Agent, Skills: d.Skills, Wait: d.Wait, At: e.At}, nil
	case *events.Consulted:
		return Consult{Contact: d.Contact, Agent: d.Agent, Expert: d.Expert, Duration: d.Duration, At: e.At}, nil
	case *events.Resolved:
		return Resolve{Contact: d.Contact, Agent: d.Agent, Bot: d.Bot, Code: d.Code, Handle: d.Handle, At: e.At}, nil
	case *events.Reopened:
		return Reopen{Contact: d.Contact, Channel: d.Channel, Reason: d.Reason, At: e.At}, nil
	case *events.Contacted:
		return FollowUp{Contact: d.Contact, Channel: d.Channel, At: e.At}, nil
	case *events.Abandoned:
		// The queue is the "queue" data field that Decide writes; one
		// that is not a string is not Decide's, and stays out.
		queue, _ := d.Extra["queue"].(string)
		return Abandon{Contact: d.Contact, Queue: queue, Wait: d.Wait, At: e.At}, nil
	case *events.Rated:
		return Rate{Survey: d.Survey, Score: d.Score, Contact: d.Contact, At: e.At}, nil
	case *events.Classified:
		return Classify{Topic: d.Topic, Topics: d.Topics, At: e.At}, nil
	}
	return nil, fmt.Errorf("event %s of issue %s: %q is not a lifecycle event: %w", e.ID, e.Issue, e.Type(), events.ErrUnknownType)
}

// noIDs refuses to make ids: a recorded event names all of its own.
type noIDs struct{}

func (noIDs) NewID() (uuid.UUID, error) {
	return uuid.Nil, fmt.Errorf("a recorded event must name its contact: %w", ErrInvalidCommand)
}

// Check reports whether the recorded event e may come next in the issue's
// stream: it is valid (events.Envelope.Validate: a routing names its
// contact…), belongs to the issue, has the next version, and the command it
// records would have been accepted by the issue as it stands (no second
// resolution, no routing of a contact of another issue, no time going
// backwards, no wait longer than the issue has existed by more than an
// hour, no name with a control character, no withheld caller number among
// an opening's keys…), and that an opening's customer is as the Service
// writes it: its id unpadded (ErrInvalidCommand), its keys as keys
// normalises them, each once (ErrInvalidKey), since the projections
// compare them as recorded.
// It is how an imported log is checked against the
// lifecycle rules that the Service enforces on commands, so that a log
// written before a rule existed may fail it (but for an empty skill in a
// routing, which the Service wrote before it refused one, and which
// means nothing): such an event records a command that the Service
// refuses today, or a customer that it writes
// otherwise today (an id or keys padded with zero-width characters, which
// it trims since its fingerprints of versions f4 and f5). Data fields that the wire format does not name
// are not judged, but for an abandonment's "queue", a string, which the
// Service writes and judges as Abandon.Queue. It does not apply e. A nil Issue is one that was never
// opened, as the zero Issue is.
func (is *Issue) Check(e events.Envelope, keys KeyRules) error {
	if is == nil {
		is = new(Issue)
	}
	if err := e.Validate(); err != nil {
		return err
	}
	id := is.ID
	if id == uuid.Nil && is.Version == 0 {
		id = e.Issue
	}
	switch {
	case e.Issue != id:
		return fmt.Errorf("event %s belongs to issue %s, not %s: %w", e.ID, e.Issue, id, events.ErrInvalidEvent)
	case e.Version != is.Version+1:
		return fmt.Errorf("event %s of issue %s has version %d, want %d: %w", e.ID, id, e.Version, is.Version+1, events.ErrInvalidEvent)
	}
	cmd, err := CommandOf(e)
	if err != nil {
		return err
	}
	if r, ok := cmd.(Route); ok && len(r.Skills) <= MaxList && slices.Contains(r.Skills, "") {
		// The Service wrote empty skills before it refused them, which
		// mean nothing: a log of then is taken. (It counted them toward
		// MaxList.)
		r.Skills = slices.DeleteFunc(slices.Clone(r.Skills), func(s string) bool { return s == "" })
		cmd = r
	}
	probe := is
	if is.ID == uuid.Nil {
		// Errors name the issue; a fresh Issue learns its id from e.
		cp := *is
		cp.ID = id
		probe = &cp
	}
	if o, ok := e.Data.(*events.Opened); ok && probe.Status == StatusNone {
		// The Service drops a withheld number; recorded, it would make
		// every caller who withheld theirs one customer.
		for _, k := range o.Customer.Keys {
			if _, err := keys.Parse(k); errors.Is(err, ErrWithheld) {
				return &CommandError{Op: cmd.Op(), Issue: e.Issue, Reason: err.Error() + "; drop it from the opening", Err: err}
			}
		}
		// The projections compare customers as recorded: a key spelt
		// otherwise than the Service writes it would be another customer.
		if id := o.Customer.ID; text.Trim(id) != id {
			return &CommandError{Op: cmd.Op(), Issue: e.Issue, Err: ErrInvalidCommand,
				Reason: fmt.Sprintf("customer id %q is padded; the Service writes %q", id, text.Trim(id))}
		}
		if want, err := keys.NormalizeAll(o.Customer.Keys); err == nil && !slices.Equal(want, o.Customer.Keys) {
			return &CommandError{Op: cmd.Op(), Issue: e.Issue, Err: ErrInvalidKey,
				Reason: fmt.Sprintf("customer keys %q are not as the Service writes them, %q (KeyRules.NormalizeAll)", o.Customer.Keys, want)}
		}
	}
	_, err = Decide(probe, cmd, e.At, noIDs{}, keys)
	return err
}
