package events

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/truefcr/truefcr/internal/text"
)

// MaxVersion is the largest version an event may have: a store keeps
// versions as signed 64-bit integers (PostgreSQL's bigint), and one above
// it leaves sequencers no room for the next.
const MaxVersion = math.MaxInt64

// Validator is implemented by event data that can check itself: the
// fields that the wire format requires, scales, signs.
type Validator interface {
	Validate() error
}

// Validate checks that the envelope is complete (id, issue, a version of
// 1 to MaxVersion, an event time, data: see HasData) and, where its data
// is a Validator, that the data is. The error wraps ErrInvalidEvent and
// names the field.
func (e Envelope) Validate() error {
	if problem := e.problem(); problem != "" {
		return invalid("event of", e, "%s", problem)
	}
	return nil
}

// problem says what Validate refuses in e, "" for nothing.
func (e *Envelope) problem() string {
	switch {
	case e.ID == uuid.Nil:
		return "no id"
	case e.Issue == uuid.Nil:
		return "no issue id"
	case e.Version == 0:
		return "version 0"
	case e.Version > MaxVersion:
		return fmt.Sprintf("version %d is beyond %d", e.Version, uint64(MaxVersion))
	case e.At.IsZero():
		return "no event time"
	case !e.HasData():
		return e.NoData()
	}
	if err := ValidateData(e.Data); err != nil {
		if e.Data.EventType() == "" {
			return err.Error()
		}
		return fmt.Sprintf("%s: %v", e.Data.EventType(), err)
	}
	return ""
}

// ValidateData returns what d's Validate returns where d is a Validator,
// and nil otherwise, but refuses no data (see IsData) and data whose
// EventType is "" (an Opaque without its type, a host's type that names
// none): the check of the data that Validate makes. A caller that checked
// the envelope's other fields itself calls it on the path that every
// event takes; the built-in types are checked without the conversion to
// the interface, which costs a lookup.
func ValidateData(d Data) error {
	if !IsData(d) {
		return errors.New("no data")
	}
	switch d := d.(type) {
	case *Opened:
		return d.Validate()
	case *Routed:
		return d.Validate()
	case *Resolved:
		return d.Validate()
	case *Contacted:
		return d.Validate()
	case *Rated:
		return d.Validate()
	case *Reopened:
		return d.Validate()
	case *Abandoned:
		return d.Validate()
	case *Consulted:
		return d.Validate()
	case *Classified:
		return d.Validate()
	}
	if d.EventType() == "" {
		// No codec writes it, and no snapshot could name it.
		return fmt.Errorf("data of Go type %T names no event type", d)
	}
	if v, ok := d.(Validator); ok {
		return v.Validate()
	}
	return nil
}

// blankAt returns the index of the first of keys that is blank (isBlank),
// -1 for none.
func blankAt(keys []string) int {
	for i, k := range keys {
		if isBlank(k) {
			return i
		}
	}
	return -1
}

// isBlank reports whether s is empty or of white space and characters that
// show as nothing only (text.Blank): as an identity key, it identifies no
// one. Most keys start with a printable ASCII character, which settles it
// at once.
func isBlank(s string) bool {
	return (s == "" || s[0] <= ' ' || s[0] >= utf8.RuneSelf) && trimsToNothing(s)
}

// trimsToNothing reports whether text.Trim leaves nothing of s. It stays
// out of line so that isBlank, which calls it only for the few keys that
// do not start with a printable ASCII character, inlines in the checks of
// every opening.
//
//go:noinline
func trimsToNothing(s string) bool { return text.Trim(s) == "" }

// fieldErrs collects the names of missing or wrong fields.
type fieldErrs []string

func (f *fieldErrs) need(ok bool, format string, args ...any) {
	if !ok {
		*f = append(*f, fmt.Sprintf(format, args...))
	}
}

func (f fieldErrs) err() error {
	if len(f) == 0 {
		return nil
	}
	return errors.New(strings.Join(f, "; "))
}

// Validate implements Validator.
func (d *Opened) Validate() error {
	blank := blankAt(d.Customer.Keys)
	if (d.Customer.ID != "" || len(d.Customer.Keys) > 0) && blank < 0 && d.Channel != "" && d.Topic != "" && d.Contact != uuid.Nil {
		return nil // the common case, without the collecting below
	}
	var f fieldErrs
	f.need(d.Customer.ID != "" || len(d.Customer.Keys) > 0, "customer has neither an id nor a key")
	// An empty key (JSON's null reads as one), or one that shows as
	// nothing, would make every customer that gives it a single customer.
	// No Service wrote one: keys were "kind:value" from the start. A
	// customer id is not judged so: a Service that trimmed ids of spaces
	// only wrote one of zero-width characters as given, and a replay must
	// read what was written.
	if blank >= 0 {
		k := d.Customer.Keys[blank]
		f.need(k != "", "customer key %d is empty", blank)
		f.need(k == "", "customer key %d is blank (%+q), which identifies no one", blank, k)
	}
	f.need(d.Channel != "", "no channel")
	f.need(d.Topic != "", "no topic")
	f.need(d.Contact != uuid.Nil, "no contact")
	return f.err()
}

// Validate implements Validator.
func (d *Routed) Validate() error {
	if d.Contact != uuid.Nil && d.Queue != "" && d.Wait >= 0 {
		return nil
	}
	var f fieldErrs
	f.need(d.Contact != uuid.Nil, "no contact")
	f.need(d.Queue != "", "no queue")
	f.need(d.Wait >= 0, "negative wait_ms")
	return f.err()
}

// Validate implements Validator.
func (d *Consulted) Validate() error {
	if d.Contact != uuid.Nil && d.Agent != "" && d.Expert != "" && d.Duration >= 0 {
		return nil
	}
	var f fieldErrs
	f.need(d.Contact != uuid.Nil, "no contact")
	f.need(d.Agent != "", "no agent")
	f.need(d.Expert != "", "no expert")
	f.need(d.Duration >= 0, "negative duration_ms")
	return f.err()
}

// Validate implements Validator.
func (d *Resolved) Validate() error {
	if d.Contact != uuid.Nil && d.Handle >= 0 {
		return nil
	}
	var f fieldErrs
	f.need(d.Contact != uuid.Nil, "no contact")
	f.need(d.Handle >= 0, "negative handle_ms")
	return f.err()
}

// Validate implements Validator.
func (d *Reopened) Validate() error {
	if d.Contact != uuid.Nil && d.Channel != "" {
		return nil
	}
	var f fieldErrs
	f.need(d.Contact != uuid.Nil, "no contact")
	f.need(d.Channel != "", "no channel")
	return f.err()
}

// Validate implements Validator.
func (d *Contacted) Validate() error {
	if d.Contact != uuid.Nil && d.Channel != "" {
		return nil
	}
	var f fieldErrs
	f.need(d.Contact != uuid.Nil, "no contact")
	f.need(d.Channel != "", "no channel")
	return f.err()
}

// Validate implements Validator.
func (d *Abandoned) Validate() error {
	if d.Contact != uuid.Nil && d.Wait >= 0 {
		return nil
	}
	var f fieldErrs
	f.need(d.Contact != uuid.Nil, "no contact")
	f.need(d.Wait >= 0, "negative wait_ms")
	return f.err()
}

// Validate implements Validator.
func (d *Rated) Validate() error {
	lo, hi, ok := d.Survey.Scale()
	if !ok {
		return fmt.Errorf("survey %q is not csat, nps or ces", d.Survey)
	}
	if d.Score < lo || d.Score > hi {
		return fmt.Errorf("%s score %d is outside %d–%d", d.Survey, d.Score, lo, hi)
	}
	return nil
}

// Validate implements Validator.
func (d *Classified) Validate() error {
	if d.Topic == "" {
		return errors.New("no topic")
	}
	return nil
}
