package contact

import (
	"errors"
	"fmt"

	"github.com/google/uuid"
)

// Sentinel errors. Every refusal of a command wraps one of them, so that
// callers match with errors.Is rather than by message.
var (
	// ErrInvalidKey: an identity key that is malformed.
	ErrInvalidKey = errors.New("invalid identity key")
	// ErrWithheld: a phone key of a caller who withheld the number
	// ("phone:anonymous"). KeyRules.NormalizeAll, and so an Open, drop
	// such a key; it matches ErrInvalidKey too.
	ErrWithheld = errors.New("withheld number")
	// ErrInvalidCommand: a command whose input is wrong whatever the state
	// of the issue: an empty channel, a score outside its scale, a negative
	// duration…
	ErrInvalidCommand = errors.New("invalid command")
	// ErrUnknownIssue: a command on an issue that was never opened.
	ErrUnknownIssue = errors.New("unknown issue")
	// ErrIssueExists: opening an issue that is already open or resolved.
	ErrIssueExists = errors.New("issue exists")
	// ErrAlreadyResolved: the command needs an open issue and it is resolved.
	ErrAlreadyResolved = errors.New("already resolved")
	// ErrNotResolved: the command needs a resolved issue and it is open.
	ErrNotResolved = errors.New("not resolved")
	// ErrUnknownContact: a contact that does not belong to the issue.
	ErrUnknownContact = errors.New("unknown contact")
	// ErrContactEnded: routing, consulting, resolving on or abandoning a
	// contact that came before the issue's latest reopen. The resolution
	// that the reopen undid ended every contact before it; what happens
	// next happens on the reopen's contact or a later one.
	ErrContactEnded = errors.New("contact ended")
	// ErrDuplicateContact: a new contact with the id of one the issue has.
	ErrDuplicateContact = errors.New("duplicate contact")
	// ErrAbandoned: the contact was abandoned in the queue.
	ErrAbandoned = errors.New("contact abandoned")
	// ErrAnswered: the contact was already answered (routed).
	ErrAnswered = errors.New("contact answered")
	// ErrOutOfOrder: an event time before the previous event of the
	// issue. A command that the issue's state refuses too, at such a time
	// (a routing delivered after the resolution), matches it beside that
	// state's sentinel.
	ErrOutOfOrder = errors.New("event time out of order")
	// ErrKeyReused: the command's idempotency key names an event of the
	// issue that another command appended (of another kind, or with other
	// data or metadata).
	ErrKeyReused = errors.New("idempotency key reused")
	// ErrNotPublished: the events were appended, but the Publisher failed.
	ErrNotPublished = errors.New("appended but not published")
	// ErrCustomerNotRecorded: an opening was appended, but the
	// CustomerRecorder failed to record its customer.
	ErrCustomerNotRecorded = errors.New("appended but the customer not recorded")
	// ErrInvalidConfig: a Config or KeyRules that cannot work.
	ErrInvalidConfig = errors.New("invalid config")
)

// CommandError is the error of a refused command: which operation, on which
// issue (uuid.Nil for an opening whose id the Service was to choose at
// random: it opened nothing; IssueForKey(key) for one run with an
// idempotency key, but for a refusal of the key itself or of a missing
// command, before the issue is known), and why in the caller's words, as in
//
//	resolve issue 0193…: already resolved at 2026-03-02T09:20:00Z
//
// Err is the sentinel it matches (or a *KeyError, which matches
// ErrInvalidKey); a refusal for the issue's state of a command whose time
// is before the issue's latest event (a late webhook) matches
// ErrOutOfOrder too.
type CommandError struct {
	Op     string
	Issue  uuid.UUID
	Reason string
	Err    error
	late   bool // refused for the state, at a time before the issue's latest event
}

// Is reports whether the refusal matches target beside Err: ErrOutOfOrder
// for a late command that the issue's state refused.
func (e *CommandError) Is(target error) bool { return e.late && target == ErrOutOfOrder }

// stateRefusal reports whether err refuses a command for the issue's
// state rather than for its input.
func stateRefusal(err error) bool {
	for _, s := range [...]error{ErrUnknownIssue, ErrIssueExists, ErrAlreadyResolved, ErrNotResolved,
		ErrUnknownContact, ErrContactEnded, ErrDuplicateContact, ErrAbandoned, ErrAnswered} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// Error returns "<op> issue <id>: <reason>", or "<op> issue: <reason>" for
// an opening refused before its issue had an id.
func (e *CommandError) Error() string {
	reason := e.Reason
	if reason == "" && e.Err != nil {
		reason = e.Err.Error()
	}
	if e.Issue == uuid.Nil { // an opening refused before its issue had an id
		return fmt.Sprintf("%s issue: %s", e.Op, reason)
	}
	return fmt.Sprintf("%s issue %s: %s", e.Op, e.Issue, reason)
}

// Unwrap returns Err.
func (e *CommandError) Unwrap() error { return e.Err }

// UnknownOutcomeError is the error of a command whose event the store may
// have appended all the same, as the answer to its commit was lost, when
// the Service could not tell either (see Service.Execute). It matches
// events.ErrOutcomeUnknown: load the issue and look for Events to find out.
type UnknownOutcomeError struct {
	Op     string
	Issue  uuid.UUID   // the issue, the one the Service chose for an Open too
	Events []uuid.UUID // the ids of the events the command may have appended
	Err    error       // what failed, wrapping events.ErrOutcomeUnknown
}

func (e *UnknownOutcomeError) Error() string {
	return fmt.Sprintf("%v (load issue %s and look for events %v to tell)", e.Err, e.Issue, e.Events)
}

// Unwrap returns Err.
func (e *UnknownOutcomeError) Unwrap() error { return e.Err }
