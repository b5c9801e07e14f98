package contact

import (
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/truefcr/truefcr/events"
)

// The limits of a command's input (see Command).
const (
	// MaxText is the most bytes that a name, a reason, an identity key or
	// a key or value of the host's metadata may have.
	MaxText = 1024
	// MaxList is the most skills, secondary topics, identity keys or
	// metadata entries a command may carry, and the most fields a
	// customer may have beyond its id and keys (Customer.Extra).
	MaxList = 256
	// MaxExtra is the most bytes that a customer's fields beyond its id
	// and keys (Customer.Extra) may take, written as JSON as stored.
	MaxExtra = 16 << 10
)

// Command is a request to change an issue: Open, Route, Consult, Resolve,
// Reopen, FollowUp, Reply (one of the two before, as the issue stands),
// Abandon, Rate or Classify. Each is checked against the issue's current
// state and its own input, and yields one event or is refused with a
// *CommandError.
//
// Names (channels, topics, queues, agents, codes, reasons, customer ids),
// identity keys, the host's metadata (WithMeta) and the correlation and
// causation ids are UTF-8 text without control characters, of at most
// MaxText bytes; the names that reports count by (queues, agents, skills,
// experts, codes, a topic's segments) are refused padded with spaces or
// zero-width characters (a byte-order mark, a zero-width space), blank or
// (a skill) empty, as they would count apart from the name without them, and a customer id
// is stored without them; a command carries at most MaxList skills,
// secondary topics, identity keys or metadata entries. A customer's other fields
// (Customer.Extra) are at most MaxList, named by such text and none "id"
// or "keys", and take at most MaxExtra bytes as JSON as stored, their
// text UTF-8 and nested at most 64 deep (events.CheckExtra); the Service
// writes them as msgpack reads them back (its numbers as json.Number,
// "2.50" as "2.5", "1.0" as "1", "1e18" in full), whatever the store's
// codec, so that the event it returns is the one stored. So every event stays
// far within the line that events.LineReader reads (events.MaxLineBytes),
// and an export of the store in JSON Lines can be read back.
//
// Every command may carry the time its event happened (At), for imports and
// replays; a zero At means the Service's clock (or the issue's latest
// event, when that is ahead of it by at most MaxClockSkew). Commands that refer to a
// contact (Route, Consult, Abandon) mean the issue's latest contact when
// Contact is uuid.Nil; Resolve means its latest contact that was not
// abandoned in the queue.
//
// The set of commands is closed: it is the contact lifecycle.
type Command interface {
	// Op names the command in errors: "open", "route", "resolve"…
	Op() string
	eventTime() time.Time
	// yields returns the type of the event the command appends (Reply's
	// usual one; see appends).
	yields() events.Type
	decide(d *decider) (events.Data, error)
}

// Open opens a new issue: the first contact about a problem arrived.
type Open struct {
	// Customer needs an id or at least one identity key; keys are normalised.
	Customer events.Customer
	Channel  string
	Topic    string
	// Contact is the id of the first contact; a new one when uuid.Nil.
	Contact uuid.UUID
	At      time.Time
}

// Route routes a contact to a queue and, optionally, an agent; routing a
// contact again is a transfer. The durations of this and the other
// commands are kept in whole milliseconds, as events carry them: a finer
// part is dropped, so that the event the Service returns is the one the
// store holds. A duration may be neither negative nor longer than the
// issue has existed (since its opening) by more than an hour: such a
// number is in another unit, or from another issue.
type Route struct {
	Contact uuid.UUID
	Queue   string
	Agent   string
	Skills  []string
	// Wait is how long the customer waited in the queue.
	Wait time.Duration
	At   time.Time
}

// Consult records that the agent of a contact consulted an expert.
type Consult struct {
	Contact  uuid.UUID
	Agent    string
	Expert   string
	Duration time.Duration
	At       time.Time
}

// Resolve resolves the issue on one of its contacts, by an agent or a bot:
// with Contact uuid.Nil, its latest contact that was not abandoned in the
// queue (a helpdesk that closes a ticket after a caller gave up on a second
// call resolves it on the first). The contact must not have been abandoned
// in the queue (it need not have been routed: a bot or an agent may answer
// it unrouted), unless every contact of the issue was: an issue whose
// customer gave up in the queue every time can be resolved on one of those
// contacts (after a callback, or when the helpdesk closes it), and true FCR
// then counts its problem as having no contact
// (projections.FCRReport.NoContact).
//
// After a reopen, "every contact" is every contact since the latest
// reopen: the resolution that the reopen undid ended the contacts before
// it (Contact.Ended), and Resolve, Route, Consult and Abandon refuse them
// (ErrContactEnded), as a transfer or a second resolution recorded on one
// would count again for a contact already counted. Rate may still name
// one: surveys come late.
type Resolve struct {
	Contact uuid.UUID
	Agent   string
	Bot     bool
	Code    string
	// Handle is the handle time of the resolving contact.
	Handle time.Duration
	At     time.Time
}

// Reopen records that the customer came back about a resolved issue.
type Reopen struct {
	// Contact is the id of the new contact; a new one when uuid.Nil.
	Contact uuid.UUID
	Channel string
	Reason  string
	At      time.Time
}

// FollowUp records a further inbound contact on an issue that is still
// open (issue.contacted). A contact about a resolved issue is a Reopen.
type FollowUp struct {
	// Contact is the id of the new contact; a new one when uuid.Nil.
	Contact uuid.UUID
	Channel string
	At      time.Time
}

// Reply records that the customer came back about the issue on a new
// contact: a follow-up while the issue is open (issue.contacted, as
// FollowUp appends), a reopen once it is resolved (issue.reopened, as
// Reopen appends, with Reason). The Service decides which on the issue as
// it stands when the command runs, so that a host that learns of a
// customer's message (a webhook of its helpdesk) need not load the issue
// first and race a resolution; run again with the same idempotency key, it
// returns the event it appended the first time, whichever it was. Its
// Reason counts in its idempotency fingerprint even when it becomes a
// follow-up: build it from what a retry sends again. A reopen at or after
// the FCR's window W past the issue's last resolution comes once its
// verdict is final: the FCR counts it as orphaned, not as a contact (the
// other projections count it). A host that wants such a late reply to
// count opens a new issue for it instead, as a new problem.
type Reply struct {
	// Contact is the id of the new contact; a new one when uuid.Nil.
	Contact uuid.UUID
	Channel string
	// Reason is the reason of a reopen; a follow-up has no such field,
	// and goes without it (the host cannot know which it will be).
	Reason string
	At     time.Time
}

// Abandon records that a contact was abandoned in the queue before anyone
// answered it.
type Abandon struct {
	Contact uuid.UUID
	// Queue is the queue the customer gave up in, when the contact was
	// never routed: the service level counts the abandonment under it
	// (the "queue" data field of issue.abandoned). Empty for none.
	Queue string
	Wait  time.Duration
	At    time.Time
}

// Rate records a survey answer: csat 1–5, nps 0–10 or ces 1–7, about one
// contact of the issue or, when Contact is uuid.Nil, about the issue.
type Rate struct {
	Survey  events.Survey
	Score   int
	Contact uuid.UUID
	At      time.Time
}

// Classify sets the issue's topic and secondary topics.
type Classify struct {
	Topic  string
	Topics []string
	At     time.Time
}

// Op returns "open".
func (Open) Op() string { return "open" }

// Op returns "route".
func (Route) Op() string { return "route" }

// Op returns "consult".
func (Consult) Op() string { return "consult" }

// Op returns "resolve".
func (Resolve) Op() string { return "resolve" }

// Op returns "reopen".
func (Reopen) Op() string { return "reopen" }

// Op returns "follow up".
func (FollowUp) Op() string { return "follow up" }

// Op returns "reply".
func (Reply) Op() string { return "reply" }

// Op returns "abandon".
func (Abandon) Op() string { return "abandon" }

// Op returns "rate".
func (Rate) Op() string { return "rate" }

// Op returns "classify".
func (Classify) Op() string { return "classify" }

func (Open) yields() events.Type     { return events.TypeOpened }
func (Route) yields() events.Type    { return events.TypeRouted }
func (Consult) yields() events.Type  { return events.TypeConsulted }
func (Resolve) yields() events.Type  { return events.TypeResolved }
func (Reopen) yields() events.Type   { return events.TypeReopened }
func (FollowUp) yields() events.Type { return events.TypeContacted }
func (Reply) yields() events.Type    { return events.TypeContacted }
func (Abandon) yields() events.Type  { return events.TypeAbandoned }
func (Rate) yields() events.Type     { return events.TypeRated }
func (Classify) yields() events.Type { return events.TypeClassified }

func (c Open) eventTime() time.Time     { return c.At }
func (c Route) eventTime() time.Time    { return c.At }
func (c Consult) eventTime() time.Time  { return c.At }
func (c Resolve) eventTime() time.Time  { return c.At }
func (c Reopen) eventTime() time.Time   { return c.At }
func (c FollowUp) eventTime() time.Time { return c.At }
func (c Reply) eventTime() time.Time    { return c.At }
func (c Abandon) eventTime() time.Time  { return c.At }
func (c Rate) eventTime() time.Time     { return c.At }
func (c Classify) eventTime() time.Time { return c.At }

func (c Open) decide(d *decider) (events.Data, error) {
	if d.is.Status != StatusNone {
		return nil, d.refuse(ErrIssueExists, "already opened at %s", stamp(d.is.OpenedAt))
	}
	customer, err := d.customer(c.Customer)
	if err != nil {
		return nil, err
	}
	if err := d.check(channelProblem(c.Channel), topicProblem("topic", c.Topic)); err != nil {
		return nil, err
	}
	id, err := d.newContact(c.Contact)
	if err != nil {
		return nil, err
	}
	return &events.Opened{Customer: customer, Channel: c.Channel, Topic: c.Topic, Contact: id}, nil
}

func (c Route) decide(d *decider) (events.Data, error) {
	if err := d.open(); err != nil {
		return nil, err
	}
	ct, err := d.current(c.Contact)
	if err != nil {
		return nil, err
	}
	if ct.Abandoned {
		return nil, d.refuse(ErrAbandoned, "contact %s was abandoned in the queue", ct.ID)
	}
	problems := []string{required("queue", c.Queue), name("agent", c.Agent), d.duration("wait", c.Wait), tooMany("skills", len(c.Skills))}
	for i, sk := range c.Skills {
		if sk == "" {
			problems = append(problems, fmt.Sprintf("skill %d of %d is empty", i+1, len(c.Skills)))
			continue
		}
		problems = append(problems, name("skill", sk))
	}
	if err := d.check(problems...); err != nil {
		return nil, err
	}
	return &events.Routed{Contact: ct.ID, Queue: c.Queue, Agent: c.Agent, Skills: list(c.Skills), Wait: wholeMS(c.Wait)}, nil
}

func (c Consult) decide(d *decider) (events.Data, error) {
	if err := d.open(); err != nil {
		return nil, err
	}
	ct, err := d.current(c.Contact)
	if err != nil {
		return nil, err
	}
	if ct.Abandoned {
		return nil, d.refuse(ErrAbandoned, "contact %s was abandoned in the queue", ct.ID)
	}
	if err := d.check(required("agent", c.Agent), required("expert", c.Expert), d.duration("duration", c.Duration)); err != nil {
		return nil, err
	}
	return &events.Consulted{Contact: ct.ID, Agent: c.Agent, Expert: c.Expert, Duration: wholeMS(c.Duration)}, nil
}

// kept returns the latest contact of the issue that was not abandoned,
// and false when every one was, of those a reopen did not end.
func (d *decider) kept() (uuid.UUID, bool) {
	for i := len(d.is.Contacts) - 1; i >= 0; i-- {
		if c := &d.is.Contacts[i]; !c.Abandoned && !c.Ended {
			return c.ID, true
		}
	}
	return uuid.Nil, false
}

func (c Resolve) decide(d *decider) (events.Data, error) {
	if err := d.open(); err != nil {
		return nil, err
	}
	id := c.Contact
	if kept, ok := d.kept(); id == uuid.Nil && ok {
		id = kept // the latest contact that was not abandoned
	}
	ct, err := d.current(id)
	if err != nil {
		return nil, err
	}
	if other, ok := d.kept(); ct.Abandoned && ok {
		return nil, d.refuse(ErrAbandoned, "contact %s was abandoned in the queue; resolve the issue on one that was not, such as %s", ct.ID, other)
	}
	if err := d.check(name("agent", c.Agent), name("code", c.Code), d.duration("handle time", c.Handle)); err != nil {
		return nil, err
	}
	return &events.Resolved{Contact: ct.ID, Agent: c.Agent, Bot: c.Bot, Code: c.Code, Handle: wholeMS(c.Handle)}, nil
}

func (c Reopen) decide(d *decider) (events.Data, error) {
	if err := d.known(); err != nil {
		return nil, err
	}
	if err := d.notYet(c.Contact); err != nil {
		return nil, err // a retry, which the issue's status would misname
	}
	if d.is.Status != StatusResolved {
		return nil, d.refuse(ErrNotResolved, "not resolved: the issue is open, and a further contact on an open issue is a follow-up")
	}
	if err := d.check(channelProblem(c.Channel), printable("reason", c.Reason)); err != nil {
		return nil, err
	}
	id, err := d.newContact(c.Contact)
	if err != nil {
		return nil, err
	}
	return &events.Reopened{Contact: id, Channel: c.Channel, Reason: c.Reason}, nil
}

func (c FollowUp) decide(d *decider) (events.Data, error) {
	if err := d.known(); err != nil {
		return nil, err
	}
	if err := d.notYet(c.Contact); err != nil {
		return nil, err // a retry, which the issue's status would misname
	}
	if d.is.Status == StatusResolved {
		return nil, d.refuse(ErrAlreadyResolved, "already resolved at %s: a contact about a resolved issue is a reopen", stamp(d.is.ResolvedAt))
	}
	if err := d.check(channelProblem(c.Channel)); err != nil {
		return nil, err
	}
	id, err := d.newContact(c.Contact)
	if err != nil {
		return nil, err
	}
	return &events.Contacted{Contact: id, Channel: c.Channel}, nil
}

func (c Reply) decide(d *decider) (events.Data, error) {
	// Whichever it becomes: a retry may find the issue otherwise.
	if err := d.check(printable("reason", c.Reason)); err != nil {
		return nil, err
	}
	if d.is.Status == StatusResolved {
		return Reopen{Contact: c.Contact, Channel: c.Channel, Reason: c.Reason, At: c.At}.decide(d)
	}
	return FollowUp{Contact: c.Contact, Channel: c.Channel, At: c.At}.decide(d)
}

// appends returns the types of the events cmd may append.
func appends(cmd Command) []events.Type {
	switch cmd.(type) {
	case Reply, *Reply:
		return []events.Type{events.TypeContacted, events.TypeReopened}
	}
	return []events.Type{cmd.yields()}
}

// joinTypes names the types ts: "a", "a or b".
func joinTypes(ts []events.Type) string {
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = string(t)
	}
	return strings.Join(names, " or ")
}

func (c Abandon) decide(d *decider) (events.Data, error) {
	if err := d.open(); err != nil {
		return nil, err
	}
	ct, err := d.current(c.Contact)
	if err != nil {
		return nil, err
	}
	switch {
	case ct.Abandoned:
		return nil, d.refuse(ErrAbandoned, "contact %s was already abandoned", ct.ID)
	case ct.Answered():
		return nil, d.refuse(ErrAnswered, "contact %s was already answered (routed to %s)", ct.ID, ct.Queue)
	case ct.Handled():
		return nil, d.refuse(ErrAnswered, "contact %s was already handled (consulted on or resolved on)", ct.ID)
	}
	if err := d.check(d.duration("wait", c.Wait), name("queue", c.Queue)); err != nil {
		return nil, err
	}
	ab := &events.Abandoned{Contact: ct.ID, Wait: wholeMS(c.Wait)}
	if c.Queue != "" {
		ab.Extra = events.Extra{"queue": c.Queue}
	}
	return ab, nil
}

func (c Rate) decide(d *decider) (events.Data, error) {
	if err := d.known(); err != nil {
		return nil, err
	}
	lo, hi, ok := c.Survey.Scale()
	if !ok {
		return nil, d.refuse(ErrInvalidCommand, "survey %q is not csat, nps or ces", c.Survey)
	}
	if c.Score < lo || c.Score > hi {
		return nil, d.refuse(ErrInvalidCommand, "%s score %d is outside %d–%d", c.Survey, c.Score, lo, hi)
	}
	if c.Contact != uuid.Nil {
		if _, err := d.contact(c.Contact); err != nil {
			return nil, err
		}
	}
	return &events.Rated{Survey: c.Survey, Score: c.Score, Contact: c.Contact}, nil
}

func (c Classify) decide(d *decider) (events.Data, error) {
	if err := d.known(); err != nil {
		return nil, err
	}
	problems := []string{topicProblem("topic", c.Topic), tooMany("secondary topics", len(c.Topics))}
	for _, t := range c.Topics {
		problems = append(problems, topicProblem("secondary topic", t))
	}
	if err := d.check(problems...); err != nil {
		return nil, err
	}
	return &events.Classified{Topic: c.Topic, Topics: list(c.Topics)}, nil
}
