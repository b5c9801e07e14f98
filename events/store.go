package events

import (
	"context"
	"iter"

	"github.com/google/uuid"
)

// Store keeps one stream of events per issue and a global order over all
// of them. It keeps its own copy of what it stores: changing an event after
// appending it (its Meta, the data behind its Data pointer), or one that
// Load or ReadAll returned, changes nothing stored. Implementations are
// safe for concurrent use; the conformance suite in package storetest
// checks that one keeps this contract.
type Store interface {
	// Append adds events to the stream of issue if the stream is at version
	// expected (0: the stream must not exist yet). The events must belong to
	// issue and carry the versions expected+1, expected+2, … in order. It
	// appends all of them or none. A stream at another version yields a
	// *VersionConflictError (errors.Is ErrVersionConflict); an event that
	// does not fit, an error that wraps ErrInvalidEvent. It returns the
	// events as given, with their Position set. A store that cannot tell
	// whether a failed append was committed returns an error that wraps
	// ErrOutcomeUnknown; any other error means that nothing was appended.
	Append(ctx context.Context, issue uuid.UUID, expected uint64, evs []Envelope) ([]Envelope, error)

	// Load returns the events of one issue in version order, whatever
	// their times and ids; none, and no error, for an issue that has no
	// stream.
	Load(ctx context.Context, issue uuid.UUID) ([]Envelope, error)

	// ReadAll yields every event whose Position is greater than after, in
	// Position order, until it has yielded everything committed when it
	// reached the end. Stop early by breaking out of the loop.
	ReadAll(ctx context.Context, after uint64) iter.Seq2[Envelope, error]
}

// CheckAppend reports what keeps evs from being appended to the stream of
// issue at version expected: anything that Envelope.Validate refuses, and
// events that do not follow on from expected in version order. Store
// implementations call it before they touch their storage.
func CheckAppend(issue uuid.UUID, expected uint64, evs []Envelope) error {
	if len(evs) == 0 {
		return invalid("append to", Envelope{Issue: issue}, "no events")
	}
	if issue == uuid.Nil {
		return invalid("append to", Envelope{}, "no issue id")
	}
	for i, e := range evs {
		switch {
		case e.Issue != issue:
			return invalid("append to", Envelope{Issue: issue, Version: e.Version}, "event %d of %d belongs to issue %s", i+1, len(evs), e.Issue)
		case e.Version > MaxVersion:
			return invalid("append to", e, "event %d of %d has version %d, beyond %d", i+1, len(evs), e.Version, uint64(MaxVersion))
		case e.Version != expected+uint64(i)+1:
			return invalid("append to", e, "event %d of %d has version %d, want %d", i+1, len(evs), e.Version, expected+uint64(i)+1)
		}
		// What Validate refuses, every replay would refuse after it.
		if problem := e.problem(); problem != "" {
			return invalid("append to", e, "event %d of %d: %s", i+1, len(evs), problem)
		}
		if _, ok := e.Data.(*Opaque); ok {
			return invalid("append to", e, "event %d of %d is opaque (%s): it has no payload to write", i+1, len(evs), e.Data.EventType())
		}
	}
	return nil
}
