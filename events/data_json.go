package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// The built-in event types marshal to exactly the data objects of the JSON
// wire format: durations as integer milliseconds (wait_ms, handle_ms…),
// unknown fields kept in Extra and written back after the known ones.

func marshalData(v any, x Extra, known []string) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	keys := extraKeys(x, known)
	if err := shadowing(x, keys); err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return b, nil
	}
	b = b[:len(b)-1] // reopen the object
	for _, k := range keys {
		if len(b) > 1 {
			b = append(b, ',')
		}
		if !utf8.ValidString(k) {
			return nil, errNotUTF8("field", k)
		}
		kb, _ := json.Marshal(k)
		vb, err := json.Marshal(x[k])
		if err != nil {
			return nil, fmt.Errorf("field %q: %w", k, err)
		}
		// What it reads back as (asJSON, from the bytes written), and
		// what msgpack would refuse of it: an event one codec writes, the
		// other writes too.
		v := x[k]
		if !isJSONValue(v, 0) || writesBadText(vb) {
			if v, err = readJSONValue(vb); err != nil {
				return nil, fmt.Errorf("field %q: %w", k, err)
			}
		}
		if tooDeep(v, 0) {
			return nil, fmt.Errorf("field %q: %w", k, errTooDeep)
		}
		b = append(append(append(b, kb...), ':'), vb...)
	}
	return append(b, '}'), nil
}

// unmarshalData decodes the data object b into v, whose fields are the
// known ones, and its other fields into x. Field names match exactly, as
// in the msgpack codec: encoding/json would also match "Topic" to topic,
// so an object with such a name decodes its known fields alone into v,
// and the other name goes to x.
func unmarshalData(b []byte, v any, x *Extra, known []string) error {
	_, err := decodeData(b, v, x, known)
	return err
}

// decodeData is unmarshalData that also returns the members of b by name
// (member reads one), nil when each is one of known, named exactly and
// once: then b is read into v alone, as nothing is left for x.
func decodeData(b []byte, v any, x *Extra, known []string) (map[string]json.RawMessage, error) {
	if at := skipSpace(b, 0); at < len(b) && b[at] == '{' && onlyNames(b, known) {
		return nil, json.Unmarshal(b, v)
	}
	return decodeMembers(b, v, x, known)
}

// decodeMembers is decodeData of any data object b, member by member.
func decodeMembers(b []byte, v any, x *Extra, known []string) (map[string]json.RawMessage, error) {
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return nil, err
	}
	exact, err := exactFields(b, all, known)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(exact, v); err != nil {
		return nil, err
	}
	var first firstError // one error for one input, whatever the map's order
	for k, raw := range all {
		if isKnown(known, k) {
			continue
		}
		var a any
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		if err := d.Decode(&a); err != nil {
			first.note(k, err)
			continue
		}
		if tooDeep(a, 0) {
			first.note(k, fmt.Errorf("field %q: %w", k, errTooDeep))
			continue
		}
		if *x == nil {
			*x = make(Extra)
		}
		(*x)[k] = a
	}
	if first.err != nil {
		return nil, first.err
	}
	return all, nil
}

// member returns the value of the member name of the data object b,
// whose members by name decodeData returned as all.
func member(b []byte, all map[string]json.RawMessage, name string) (json.RawMessage, bool) {
	if all != nil {
		raw, ok := all[name]
		return raw, ok
	}
	var raw []byte // its names are exact, each once
	eachMember(b, func(n, value []byte) bool {
		if string(n) == name {
			raw = value
		}
		return raw == nil
	})
	return raw, raw != nil
}

// exactFields returns the object b, whose members are all, or, when one
// of its names is not one of known but matches one regardless of case, or
// when a name comes twice, the object of the members named exactly as
// known (onlyKnown), each with its last value: encoding/json would keep
// an earlier value where the last is null, which is no member.
func exactFields(b []byte, all map[string]json.RawMessage, known []string) ([]byte, error) {
	members := 0
	eachMember(b, func(_, _ []byte) bool { members++; return true })
	if members != len(all) {
		return onlyKnown(all, known)
	}
	for k := range all {
		if !isKnown(known, k) && foldsTo(known, k) {
			return onlyKnown(all, known)
		}
	}
	return b, nil
}

// onlyKnown returns the object of the members of all named exactly as one
// of known, which encoding/json then reads by those names alone.
func onlyKnown(all map[string]json.RawMessage, known []string) ([]byte, error) {
	only := make(map[string]json.RawMessage, len(known))
	for _, f := range known {
		if raw, ok := all[f]; ok {
			only[f] = raw
		}
	}
	return json.Marshal(only)
}

// customerNames are the members of the customer object of issue.opened.
var customerNames = []string{"id", "keys"}

// customerJSON is the customer object's known members.
type customerJSON struct {
	ID   string   `json:"id,omitempty"`
	Keys []string `json:"keys,omitempty"`
}

// MarshalJSON writes the customer object of issue.opened, its Extra after
// its known members.
func (c Customer) MarshalJSON() ([]byte, error) {
	b, err := marshalData(customerJSON{c.ID, c.Keys}, c.Extra, customerNames)
	if err != nil {
		return nil, fmt.Errorf("customer: %w", err)
	}
	return b, nil
}

// UnmarshalJSON reads the customer object of issue.opened by its members'
// exact names, as the msgpack codec does: another, such as "ID", goes to
// Extra.
func (c *Customer) UnmarshalJSON(b []byte) error {
	*c = Customer{} // the last of two customer members, whole
	var j customerJSON
	var err error
	if onlyNames(b, customerNames) {
		err = json.Unmarshal(b, &j) // the common case, without Extra
	} else {
		err = unmarshalData(b, &j, &c.Extra, customerNames)
	}
	if err != nil {
		return err
	}
	c.ID, c.Keys = j.ID, nilIfEmpty(j.Keys)
	return nil
}

// nilIfEmpty normalises an empty list to nil, as the msgpack codec
// decodes it and as it is written (omitted).
func nilIfEmpty(ss []string) []string {
	if len(ss) == 0 {
		return nil
	}
	return ss
}

// msDuration sets *d to the duration of v milliseconds, the value of the
// field name, or returns an error naming the field when time.Duration
// cannot hold it.
func msDuration(name string, v int64, d *time.Duration) error {
	ms, err := checkMS(v)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	*d = ms
	return nil
}

type (
	openedJSON     Opened
	reopenedJSON   Reopened
	contactedJSON  Contacted
	ratedJSON      Rated
	classifiedJSON Classified
	routedJSON     struct {
		Contact uuid.UUID `json:"contact"`
		Queue   string    `json:"queue"`
		Agent   string    `json:"agent,omitempty"`
		Skills  []string  `json:"skills,omitempty"`
		WaitMS  int64     `json:"wait_ms,omitempty"`
	}
	consultedJSON struct {
		Contact    uuid.UUID `json:"contact"`
		Agent      string    `json:"agent"`
		Expert     string    `json:"expert"`
		DurationMS int64     `json:"duration_ms,omitempty"`
	}
	resolvedJSON struct {
		Contact  uuid.UUID `json:"contact"`
		Agent    string    `json:"agent,omitempty"`
		Bot      bool      `json:"bot,omitempty"`
		Code     string    `json:"code,omitempty"`
		HandleMS int64     `json:"handle_ms,omitempty"`
	}
	abandonedJSON struct {
		Contact uuid.UUID `json:"contact"`
		WaitMS  int64     `json:"wait_ms,omitempty"`
	}
)

// openedIn reads issue.opened: its customer as the plain members that most
// customer objects hold, which encoding/json reads in the same pass;
// Opened.UnmarshalJSON reads any other customer object again.
type openedIn struct {
	// Customer is read by Customer.UnmarshalJSON, by its members' exact
	// names: encoding/json would read "ID" as id.
	Customer json.RawMessage `json:"customer"`
	Channel  string          `json:"channel"`
	Topic    string          `json:"topic"`
	Contact  uuid.UUID       `json:"contact"`
}

// MarshalJSON writes the data object of the wire format.
func (d *Opened) MarshalJSON() ([]byte, error) {
	return marshalData((*openedJSON)(d), d.Extra, openedFields)
}

// UnmarshalJSON reads the data object of the wire format.
func (d *Opened) UnmarshalJSON(b []byte) error {
	var j openedIn
	if _, err := decodeData(b, &j, &d.Extra, openedFields); err != nil {
		return err
	}
	d.Channel, d.Topic, d.Contact = j.Channel, j.Topic, j.Contact
	if len(j.Customer) == 0 {
		d.Customer = Customer{}
		return nil // no customer: Validate says so
	}
	// The last of two customer members, whole (UnmarshalJSON starts
	// afresh).
	if err := d.Customer.UnmarshalJSON(j.Customer); err != nil {
		if te := (*json.UnmarshalTypeError)(nil); errors.As(err, &te) {
			te.Field = strings.TrimSuffix("customer."+te.Field, ".")
		}
		return err
	}
	return nil
}

// MarshalJSON writes the data object of the wire format.
func (d *Routed) MarshalJSON() ([]byte, error) {
	return marshalData(routedJSON{d.Contact, d.Queue, d.Agent, d.Skills, ms(d.Wait)}, d.Extra, routedFields)
}

// UnmarshalJSON reads the data object of the wire format.
func (d *Routed) UnmarshalJSON(b []byte) error {
	var j routedJSON
	if err := unmarshalData(b, &j, &d.Extra, routedFields); err != nil {
		return err
	}
	d.Contact, d.Queue, d.Agent, d.Skills = j.Contact, j.Queue, j.Agent, nilIfEmpty(j.Skills)
	return msDuration("wait_ms", j.WaitMS, &d.Wait)
}

// MarshalJSON writes the data object of the wire format.
func (d *Consulted) MarshalJSON() ([]byte, error) {
	return marshalData(consultedJSON{d.Contact, d.Agent, d.Expert, ms(d.Duration)}, d.Extra, consultedFields)
}

// UnmarshalJSON reads the data object of the wire format.
func (d *Consulted) UnmarshalJSON(b []byte) error {
	var j consultedJSON
	if err := unmarshalData(b, &j, &d.Extra, consultedFields); err != nil {
		return err
	}
	d.Contact, d.Agent, d.Expert = j.Contact, j.Agent, j.Expert
	return msDuration("duration_ms", j.DurationMS, &d.Duration)
}

// MarshalJSON writes the data object of the wire format.
func (d *Resolved) MarshalJSON() ([]byte, error) {
	return marshalData(resolvedJSON{d.Contact, d.Agent, d.Bot, d.Code, ms(d.Handle)}, d.Extra, resolvedFields)
}

// UnmarshalJSON reads the data object of the wire format.
func (d *Resolved) UnmarshalJSON(b []byte) error {
	var j resolvedJSON
	if err := unmarshalData(b, &j, &d.Extra, resolvedFields); err != nil {
		return err
	}
	d.Contact, d.Agent, d.Bot, d.Code = j.Contact, j.Agent, j.Bot, j.Code
	return msDuration("handle_ms", j.HandleMS, &d.Handle)
}

// MarshalJSON writes the data object of the wire format.
func (d *Reopened) MarshalJSON() ([]byte, error) {
	return marshalData((*reopenedJSON)(d), d.Extra, reopenedFields)
}

// UnmarshalJSON reads the data object of the wire format.
func (d *Reopened) UnmarshalJSON(b []byte) error {
	return unmarshalData(b, (*reopenedJSON)(d), &d.Extra, reopenedFields)
}

// MarshalJSON writes the data object of the wire format.
func (d *Contacted) MarshalJSON() ([]byte, error) {
	return marshalData((*contactedJSON)(d), d.Extra, contactedFields)
}

// UnmarshalJSON reads the data object of the wire format.
func (d *Contacted) UnmarshalJSON(b []byte) error {
	return unmarshalData(b, (*contactedJSON)(d), &d.Extra, contactedFields)
}

// MarshalJSON writes the data object of the wire format.
func (d *Abandoned) MarshalJSON() ([]byte, error) {
	return marshalData(abandonedJSON{d.Contact, ms(d.Wait)}, d.Extra, abandonedFields)
}

// UnmarshalJSON reads the data object of the wire format.
func (d *Abandoned) UnmarshalJSON(b []byte) error {
	var j abandonedJSON
	if err := unmarshalData(b, &j, &d.Extra, abandonedFields); err != nil {
		return err
	}
	d.Contact = j.Contact
	return msDuration("wait_ms", j.WaitMS, &d.Wait)
}

// MarshalJSON writes the data object of the wire format.
func (d *Rated) MarshalJSON() ([]byte, error) {
	return marshalData((*ratedJSON)(d), d.Extra, ratedFields)
}

// UnmarshalJSON reads the data object of the wire format.
func (d *Rated) UnmarshalJSON(b []byte) error {
	all, err := decodeData(b, (*ratedJSON)(d), &d.Extra, ratedFields)
	if err != nil {
		return err
	}
	// A score of 0 is one of NPS: a missing one must not read as it.
	if raw, ok := member(b, all, "score"); !ok || bytes.Equal(raw, []byte("null")) {
		return &missingFieldError{Field: "score"}
	}
	return nil
}

// missingFieldError is the error of a data object without a member that
// its type requires and that has no zero value to stand in for it.
type missingFieldError struct{ Field string }

func (e *missingFieldError) Error() string { return "missing" }

// MarshalJSON writes the data object of the wire format.
func (d *Classified) MarshalJSON() ([]byte, error) {
	return marshalData((*classifiedJSON)(d), d.Extra, classifiedFields)
}

// UnmarshalJSON reads the data object of the wire format.
func (d *Classified) UnmarshalJSON(b []byte) error {
	err := unmarshalData(b, (*classifiedJSON)(d), &d.Extra, classifiedFields)
	d.Topics = nilIfEmpty(d.Topics)
	return err
}
