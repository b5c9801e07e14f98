package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
)

// Sentinel errors. Every error of this package wraps one of them, so that
// callers match with errors.Is rather than by message.
var (
	// ErrVersionConflict: the stream was not at the version the writer
	// expected, because another writer appended first.
	ErrVersionConflict = errors.New("version conflict")
	// ErrInvalidEvent: an event that cannot be stored or encoded as given
	// (wrong issue, a version out of sequence, no data…).
	ErrInvalidEvent = errors.New("invalid event")
	// ErrUnknownType: an event type that the Registry does not know.
	ErrUnknownType = errors.New("unknown event type")
	// ErrMalformed: bytes that do not decode to an event.
	ErrMalformed = errors.New("malformed event")
	// ErrStoreFull: an append beyond what the store can hold (a
	// MemoryStore holds up to 2³¹−1 events); it appended nothing.
	ErrStoreFull = errors.New("store full")
	// ErrOutcomeUnknown: an append that failed once the store may have
	// committed it (the answer to its COMMIT was lost, say): its events
	// may be in the stream all the same. Load the stream and look for
	// their ids before appending them again; contact.Service does so.
	ErrOutcomeUnknown = errors.New("outcome unknown: the events may have been appended")
)

// VersionConflictError is the error of an append that lost a race: the
// stream was at Actual, not at Expected. It matches ErrVersionConflict.
type VersionConflictError struct {
	Issue    uuid.UUID
	Expected uint64
	Actual   uint64
}

func (e *VersionConflictError) Error() string {
	return fmt.Sprintf("append to issue %s: expected version %d, stream is at %d: %v",
		e.Issue, e.Expected, e.Actual, ErrVersionConflict)
}

// Unwrap returns ErrVersionConflict.
func (e *VersionConflictError) Unwrap() error { return ErrVersionConflict }

// UnknownTypeError is the error of an event whose type the Registry does
// not know; it matches ErrUnknownType. Event is the envelope as read, its
// id, issue, version, time and metadata, without data: a reader told to
// skip unknown types can give it an Opaque of Type and pass it on, so that
// the issue's stream goes on (projections ignore event types they do not
// know, but hold the events after a version that never came).
type UnknownTypeError struct {
	Type  Type
	Event Envelope
}

func (e *UnknownTypeError) Error() string { return fmt.Sprintf("%v %q", ErrUnknownType, e.Type) }

// Unwrap returns ErrUnknownType.
func (e *UnknownTypeError) Unwrap() error { return ErrUnknownType }

// SplitUnknownTypes separates, in an error of a decode (DecodeMessage,
// DecodeMessages, a Codec), the events of unknown types from the other
// errors: rest is nil when every event that failed was of an unknown type.
// A reader told to skip unknown types passes each as an Opaque on. Where
// an error wraps others with words of its own ("message m-1: ..."), and
// not all of them are of unknown types, rest is that error whole.
func SplitUnknownTypes(err error) (unknown []*UnknownTypeError, rest error) {
	switch e := err.(type) {
	case nil:
		return nil, nil
	case *UnknownTypeError:
		return []*UnknownTypeError{e}, nil
	case interface{ Unwrap() []error }:
		var rests []error
		var words []string
		for _, inner := range e.Unwrap() {
			u, r := SplitUnknownTypes(inner)
			unknown = append(unknown, u...)
			if r != nil {
				rests = append(rests, r)
			}
			words = append(words, inner.Error())
		}
		if len(rests) > 0 && err.Error() != strings.Join(words, "\n") {
			// Not errors.Join's: the words are the error's own
			// ("...: %w; %w").
			return unknown, err
		}
		return unknown, errors.Join(rests...)
	case interface{ Unwrap() error }:
		if unknown, rest = SplitUnknownTypes(e.Unwrap()); rest != nil {
			rest = err
		}
		return unknown, rest
	}
	return nil, err
}

// Opaque returns the envelope of the event of an unknown type, as read,
// with an Opaque of its type for data.
func (e *UnknownTypeError) Opaque() Envelope {
	out := e.Event
	out.Data = &Opaque{Type: e.Type}
	return out
}

// DecodeError reports bytes that could not be decoded: which codec, where in
// the input, and why. It wraps ErrMalformed, or an *UnknownTypeError.
type DecodeError struct {
	Codec string
	// Offset is a byte in the input at the trouble. In the JSON codec,
	// the byte that broke the syntax or is not UTF-8 or, for an error of
	// Field, where the value of its member starts (of data, for a field of
	// data); 0 for a member that is missing. In the msgpack codec, where
	// reading stopped.
	Offset int
	Field  string
	Err    error
	// Event is the envelope as read, without data, when only its data
	// (or its schema) failed; nil otherwise. A reader that skips
	// malformed events can pass its version on with an Opaque of a name
	// that no projection reads, so that the issue's stream goes on past
	// it. (An Opaque of its own built-in name would not do: the KPI
	// projections take an event of issue.resolved whose data they do not
	// read, a host's own type, for a resolution.)
	Event *Envelope
}

// newDecodeError returns the *DecodeError of codec at offset, of field,
// for err: an *UnknownTypeError as it is, a type error of encoding/json in
// the wire format's words (the field names the member already), any other
// wrapped beside ErrMalformed.
func newDecodeError(codec string, offset int, field string, err error) *DecodeError {
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &te):
		err = fmt.Errorf("%w: %s", ErrMalformed, typeText(te))
	case !errors.Is(err, ErrUnknownType):
		err = fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return &DecodeError{Codec: codec, Offset: offset, Field: field, Err: err}
}

func (e *DecodeError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s decode: at byte %d, field %q: %v", e.Codec, e.Offset, e.Field, e.Err)
	}
	return fmt.Sprintf("%s decode: at byte %d: %v", e.Codec, e.Offset, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// invalid returns an ErrInvalidEvent error for event e.
func invalid(op string, e Envelope, format string, args ...any) error {
	return fmt.Errorf("%s issue %s version %d: %s: %w", op, e.Issue, e.Version, fmt.Sprintf(format, args...), ErrInvalidEvent)
}
