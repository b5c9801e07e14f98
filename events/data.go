package events

import (
	"time"

	"github.com/google/uuid"
)

// Customer identifies who raised an issue: a stable customer id, identity
// keys ("phone:+358401234567", "email:anna@example.com", "account:A-1001",
// or any "kind:value"), or both. Opened.Validate refuses a key that is
// blank (white space and characters that show as nothing only), which
// would make everyone who gives it one customer; the id is compared as
// given (package contact trims it, and writes none that is blank).
type Customer struct {
	ID   string   `json:"id,omitempty"`
	Keys []string `json:"keys,omitempty"`
	// Extra holds the members of the customer object that this type does
	// not know, kept and written back as a data object's are.
	Extra Extra `json:"-"`
}

// Extra holds the data fields of an event that its Go type does not know.
// They are kept as decoded and written back unchanged, so that a newer
// writer's fields survive an older reader. Both codecs refuse, when they
// read and when they write, a value nested more than 64 deep below its
// member and text that is not UTF-8, and refuse to write a member named
// like one of the type's own fields, which would come back as that field.
// A value of a Go type is written as encoding/json writes it, which
// writes each byte that is not UTF-8 as the escape \ufffd: such an
// escape in what a value writes (a json.RawMessage, a MarshalJSON) cannot
// be told from it, and is refused as well; U+FFFD itself, or escaped in
// upper case, passes. Either codec decodes them as
// encoding/json does with UseNumber: strings, bools, nil, []any,
// map[string]any and numbers as json.Number (an id of 19 digits would lose
// its last ones as a float64). A value a host sets is written as
// encoding/json encodes it.
//
// JSON writes a number's text as read. msgpack writes a number as an
// integer when it is one within int64 or uint64, however written ("2.0",
// "2e0", float64(2)), else as a float64, and reads it back as an integer's
// digits or as encoding/json writes a float64 ("2", "0.1", "1e+21"; a
// whole float64 that another writer sent, as the integer it would write):
// the same value, every digit kept. It refuses a number that is neither
// and not written as the float64 nearest it prints ("0.10000000000000001",
// which a float64 reads as 0.1; one beyond a float64's range), which JSON
// keeps. The fields that an Upcaster sees are the exception: their numbers
// are float64 (an integer beyond 2^53 may lose digits); what it returns is
// read as the codec that read the event reads it, and by msgpack as
// msgpack writes it (2.50 as 2.5), what msgpack cannot write (such a
// number, or values nested deeper than it reads) refused.
type Extra map[string]any

// Opened is issue.opened: the first contact about a problem arrived.
type Opened struct {
	Customer Customer  `json:"customer"`
	Channel  string    `json:"channel"`
	Topic    string    `json:"topic"`
	Contact  uuid.UUID `json:"contact"`
	Extra    Extra     `json:"-"`
}

// Routed is issue.routed: a contact was routed to a queue and an agent.
// Routing the same contact again is a transfer.
type Routed struct {
	Contact uuid.UUID `json:"contact"`
	Queue   string    `json:"queue"`
	Agent   string    `json:"agent,omitempty"`
	Skills  []string  `json:"skills,omitempty"`
	// Wait is how long the customer waited in the queue (wait_ms).
	Wait  time.Duration
	Extra Extra `json:"-"`
}

// Consulted is issue.consulted: during a contact the agent consulted an
// expert or a supervisor.
type Consulted struct {
	Contact uuid.UUID `json:"contact"`
	Agent   string    `json:"agent"`
	Expert  string    `json:"expert"`
	// Duration is how long the consultation took (duration_ms).
	Duration time.Duration
	Extra    Extra `json:"-"`
}

// Resolved is issue.resolved: the issue was resolved on a contact, by an
// agent or by a bot.
type Resolved struct {
	Contact uuid.UUID `json:"contact"`
	Agent   string    `json:"agent,omitempty"`
	Bot     bool      `json:"bot,omitempty"`
	Code    string    `json:"code,omitempty"`
	// Handle is the handle time of the resolving contact (handle_ms). 0
	// is none: "handle_ms":0 and no handle_ms read the same, and are
	// written as none.
	Handle time.Duration
	Extra  Extra `json:"-"`
}

// Reopened is issue.reopened: the customer came back about a resolved issue.
type Reopened struct {
	Contact uuid.UUID `json:"contact"`
	Channel string    `json:"channel"`
	Reason  string    `json:"reason,omitempty"`
	Extra   Extra     `json:"-"`
}

// Contacted is issue.contacted: a further inbound contact on an issue that
// is still open (a follow-up).
type Contacted struct {
	Contact uuid.UUID `json:"contact"`
	Channel string    `json:"channel"`
	Extra   Extra     `json:"-"`
}

// Abandoned is issue.abandoned: a contact was abandoned in the queue before
// anyone answered it. It counts for abandonment, never as a contact for FCR.
// The wire format names no queue: a host that knows it may send it as the
// data member "queue" (Extra["queue"], a string), under which the service
// level counts an abandonment that no routing put in a queue.
type Abandoned struct {
	Contact uuid.UUID `json:"contact"`
	// Wait is how long the customer waited before giving up (wait_ms).
	Wait  time.Duration
	Extra Extra `json:"-"`
}

// Survey names a satisfaction survey and so the scale of its scores.
type Survey string

// The surveys and their scales.
const (
	SurveyCSAT Survey = "csat" // 1–5
	SurveyNPS  Survey = "nps"  // 0–10
	SurveyCES  Survey = "ces"  // 1–7
)

// Scale returns the lowest and highest score of the survey, and false for
// a survey that is not one of csat, nps and ces.
func (s Survey) Scale() (lo, hi int, ok bool) {
	switch s {
	case SurveyCSAT:
		return 1, 5, true
	case SurveyNPS:
		return 0, 10, true
	case SurveyCES:
		return 1, 7, true
	}
	return 0, 0, false
}

// Rated is issue.rated: a survey answer. Contact is uuid.Nil when the answer
// is about the issue rather than one contact. Both codecs refuse data
// without a score as malformed: 0 is an answer of NPS, which a missing
// score must not read as.
type Rated struct {
	Survey  Survey    `json:"survey"`
	Score   int       `json:"score"`
	Contact uuid.UUID `json:"contact,omitzero"`
	Extra   Extra     `json:"-"`
}

// Classified is issue.classified: the topic was set or changed
// after the contact, with optional secondary topics.
type Classified struct {
	Topic  string   `json:"topic"`
	Topics []string `json:"topics,omitempty"`
	Extra  Extra    `json:"-"`
}

// EventType implements Data.
func (*Opened) EventType() Type { return TypeOpened }

// EventType implements Data.
func (*Routed) EventType() Type { return TypeRouted }

// EventType implements Data.
func (*Consulted) EventType() Type { return TypeConsulted }

// EventType implements Data.
func (*Resolved) EventType() Type { return TypeResolved }

// EventType implements Data.
func (*Reopened) EventType() Type { return TypeReopened }

// EventType implements Data.
func (*Contacted) EventType() Type { return TypeContacted }

// EventType implements Data.
func (*Abandoned) EventType() Type { return TypeAbandoned }

// EventType implements Data.
func (*Rated) EventType() Type { return TypeRated }

// EventType implements Data.
func (*Classified) EventType() Type { return TypeClassified }

// Opaque is the data of an event of a type that the reader does not know,
// by the type's name alone. A reader that passes over such events (an
// *UnknownTypeError holds the envelope as read) gives the envelope an
// Opaque, so that the projections take its version and the stream
// goes on past it: they read nothing of it but its type. It has no
// payload to write: a store refuses it.
type Opaque struct{ Type Type }

// EventType implements Data.
func (d *Opaque) EventType() Type { return d.Type }
