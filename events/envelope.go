package events

import (
	"fmt"
	"reflect"
	"time"
	"unsafe"

	"github.com/google/uuid"
)

// Type names a kind of lifecycle event, such as "issue.opened".
type Type string

// The lifecycle event types of the domain.
const (
	TypeOpened     Type = "issue.opened"
	TypeRouted     Type = "issue.routed"
	TypeConsulted  Type = "issue.consulted"
	TypeResolved   Type = "issue.resolved"
	TypeReopened   Type = "issue.reopened"
	TypeContacted  Type = "issue.contacted"
	TypeAbandoned  Type = "issue.abandoned"
	TypeRated      Type = "issue.rated"
	TypeClassified Type = "issue.classified"
)

// Data is the payload of one event. Every event type of the domain has its
// own Data type (Opened, Routed, …); a host application can register more
// with Registry.Register.
type Data interface {
	// EventType names the event, such as TypeOpened.
	EventType() Type
}

// Meta holds an event's optional metadata: correlation and causation ids,
// the idempotency key of the command that appended it, tenant, source, the
// partition key. Keys and values are strings; a member whose value is null
// on the wire is read as no member.
type Meta map[string]string

// Well-known metadata keys.
const (
	MetaCorrelationID = "correlation_id"
	MetaCausationID   = "causation_id"
	// MetaIdempotencyKey carries the idempotency key of the command that
	// appended the event (contact.WithIdempotencyKey).
	MetaIdempotencyKey = "idempotency_key"
	MetaTenant         = "tenant"
	MetaSource         = "source"
	// MetaPartitionKey carries the stable customer id that transports
	// partition by, so that every contact of one customer reaches the
	// same projection instance.
	MetaPartitionKey = "partition_key"
)

// Envelope is one recorded event: which issue it belongs to, its place in
// that issue's stream, when it happened and what happened.
type Envelope struct {
	// ID identifies the event; deliveries of the same event share it.
	ID uuid.UUID
	// Issue is the stream the event belongs to.
	Issue uuid.UUID
	// Version is the event's place in its stream: 1, 2, 3… without gaps.
	Version uint64
	// At is when it happened (event time, not the time it was recorded).
	At time.Time
	// Data is what happened.
	Data Data
	// Meta is optional metadata; nil when there is none.
	Meta Meta
	// Position is the event's place in the global order of the Store that
	// returned it, counted from 1; 0 for an event that was never stored.
	// Codecs do not carry it.
	Position uint64
}

// Type returns the event type of the envelope's data, or "" when it has none.
func (e Envelope) Type() Type {
	if e.Data == nil {
		return ""
	}
	return e.Data.EventType()
}

// HasData reports whether the envelope carries data: Data is neither nil
// nor the nil value of a pointer, map, channel or function type (a nil
// *Opened, whose fields cannot be read). A nil slice is data: an empty
// one. Validate, the codecs, the stores and the projections refuse an
// event without data.
func (e Envelope) HasData() bool { return IsData(e.Data) }

// IsData is HasData of an envelope whose data is d, for a caller that
// holds the data rather than the envelope (HasData copies the envelope).
//
// It runs for every event a projection takes, so it looks at the
// interface value itself, as the Go runtime lays it out (two words, the
// second the value's): the second word holds a pointer-shaped value (a
// pointer, map, channel or func, or a struct or one-element array of one
// such) as it is, and any other value through a pointer, which is never
// nil. A word that is not nil is data; only a nil one (a nil pointer, map,
// channel or func, or the zero value of such a struct or array) needs a
// closer look.
func IsData(d Data) bool {
	if d == nil {
		return false
	}
	if (*[2]unsafe.Pointer)(unsafe.Pointer(&d))[1] != nil {
		return true
	}
	return !isNil(d)
}

// isNil reports whether d, whose interface data word is nil, is the nil
// value of a pointer, map, channel or function type, rather than the zero
// value of a pointer-shaped struct or array, which is data.
func isNil(d Data) bool {
	switch v := reflect.ValueOf(d); v.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Func, reflect.Chan:
		return v.IsNil()
	}
	return false
}

// NoData names, for an error, what an envelope without data (see HasData)
// holds: "no data", or "no data (a nil *events.Opened)" for the nil value
// of a Data type. It returns "" for an envelope that has data.
func (e Envelope) NoData() string {
	switch {
	case e.Data == nil:
		return "no data"
	case !IsData(e.Data):
		return fmt.Sprintf("no data (a nil %T)", e.Data)
	}
	return ""
}

// As returns the envelope's data as a T and whether it is one that holds
// data (see HasData): a nil *Opened is not an Opened to read.
//
//	if opened, ok := events.As[*events.Opened](env); ok { … }
func As[T Data](e Envelope) (T, bool) {
	d, ok := e.Data.(T)
	return d, ok && IsData(e.Data)
}
