package contact

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/internal/text"
)

// decider holds what a command is decided with: the issue as it stands,
// the event time, and where new ids and key rules come from.
type decider struct {
	op   string
	is   *Issue
	at   time.Time
	ids  IDGenerator
	keys KeyRules
}

// Decide returns the event that cmd yields on the issue at time at (the
// command's own At when it has one), or the *CommandError it is refused
// with. New contact ids come from ids (UUIDv7 when nil). The event is not
// applied to is. A nil Issue is one that was never opened, as the zero
// Issue is.
func Decide(is *Issue, cmd Command, at time.Time, ids IDGenerator, keys KeyRules) (events.Data, error) {
	if is == nil {
		is = new(Issue)
	}
	if missing := noCommand(cmd); missing != "" {
		return nil, &CommandError{Op: "decide", Issue: is.ID, Reason: missing, Err: ErrInvalidCommand}
	}
	if at2 := cmd.eventTime(); !at2.IsZero() {
		at = at2
	}
	if ids == nil {
		ids = UUIDv7{}
	}
	d := &decider{op: cmd.Op(), is: is, at: at, ids: ids, keys: keys}
	data, err := cmd.decide(d)
	if err != nil {
		if ce := (*CommandError)(nil); errors.As(err, &ce) && !at.IsZero() && at.Before(is.LastAt) {
			// A late delivery (a webhook of a routing that comes after
			// the resolution) reads otherwise as a wrong command; one
			// that the state refused matches ErrOutOfOrder too.
			ce.Reason += fmt.Sprintf("; and its time, %s, is before the issue's latest event, at %s", stamp(at), stamp(is.LastAt))
			ce.late = stateRefusal(ce.Err)
		}
		return nil, err
	}
	if at.IsZero() {
		return nil, d.refuse(ErrInvalidCommand, "no event time")
	}
	if !events.InTimeRange(at) {
		return nil, d.refuse(ErrInvalidCommand, "event time %s is out of range (years 1678 to 2261)", stamp(at))
	}
	if at.Before(is.LastAt) {
		return nil, d.refuse(ErrOutOfOrder, "event time %s is before the issue's previous event at %s", stamp(at), stamp(is.LastAt))
	}
	return data, nil
}

// noCommand says what cmd holds when it holds no command: nothing, or a
// nil pointer to one (whose methods would panic); "" for a command.
func noCommand(cmd Command) string {
	if cmd == nil {
		return "no command"
	}
	if v := reflect.ValueOf(cmd); v.Kind() == reflect.Pointer && v.IsNil() {
		return fmt.Sprintf("no command (a nil %T)", cmd)
	}
	return ""
}

func (d *decider) refuse(sentinel error, format string, args ...any) error {
	return &CommandError{Op: d.op, Issue: d.is.ID, Reason: fmt.Sprintf(format, args...), Err: sentinel}
}

// known refuses a command on an issue that was never opened.
func (d *decider) known() error {
	if d.is.Status == StatusNone {
		return d.refuse(ErrUnknownIssue, "the issue was never opened")
	}
	return nil
}

// open refuses a command that needs an open issue.
func (d *decider) open() error {
	if err := d.known(); err != nil {
		return err
	}
	if d.is.Status == StatusResolved {
		return d.refuse(ErrAlreadyResolved, "already resolved at %s", stamp(d.is.ResolvedAt))
	}
	return nil
}

// contact returns the issue's contact id, or its latest one for uuid.Nil.
func (d *decider) contact(id uuid.UUID) (Contact, error) {
	if id == uuid.Nil {
		if c, ok := d.is.Latest(); ok {
			return c, nil
		}
		return Contact{}, d.refuse(ErrUnknownContact, "the issue has no contact")
	}
	c, ok := d.is.Contact(id)
	if !ok {
		return Contact{}, d.refuse(ErrUnknownContact, "contact %s does not belong to the issue", id)
	}
	return c, nil
}

// current returns the issue's contact id, or its latest one for uuid.Nil,
// refusing one that came before the issue's latest reopen.
func (d *decider) current(id uuid.UUID) (Contact, error) {
	c, err := d.contact(id)
	if err != nil {
		return Contact{}, err
	}
	if c.Ended {
		return Contact{}, d.refuse(ErrContactEnded, "contact %s ended before the issue was reopened on contact %s at %s; act on that contact or a later one",
			c.ID, d.is.reopenedOn, stamp(d.is.reopenedAt))
	}
	return c, nil
}

// notYet refuses id, a new contact's, when the issue has it: the command
// that brings it was applied already (a retry of it, say).
func (d *decider) notYet(id uuid.UUID) error {
	if _, ok := d.is.Contact(id); ok && id != uuid.Nil {
		return d.refuse(ErrDuplicateContact, "contact %s is already a contact of the issue", id)
	}
	return nil
}

// newContact returns id, or a new id for uuid.Nil, unless the issue has it.
func (d *decider) newContact(id uuid.UUID) (uuid.UUID, error) {
	if id == uuid.Nil {
		var err error
		if id, err = d.ids.NewID(); err != nil {
			return uuid.Nil, fmt.Errorf("%s: new contact id: %w", subject(d.op, d.is.ID), err)
		}
	}
	if err := d.notYet(id); err != nil {
		return uuid.Nil, err
	}
	return id, nil
}

// customer returns c with its id trimmed and its keys normalised.
func (d *decider) customer(c events.Customer) (events.Customer, error) {
	if problem := tooMany("identity keys", len(c.Keys)); problem != "" {
		return events.Customer{}, d.refuse(ErrInvalidCommand, "%s", problem)
	}
	keys, err := d.keys.NormalizeAll(c.Keys)
	if err != nil {
		return events.Customer{}, &CommandError{Op: d.op, Issue: d.is.ID, Reason: err.Error(), Err: err}
	}
	given := len(c.Keys)
	c = events.Customer{ID: text.Trim(c.ID), Keys: keys, Extra: cloneExtra(c.Extra)}
	if problem := printable("customer id", c.ID); problem != "" {
		return events.Customer{}, d.refuse(ErrInvalidCommand, "%s", problem)
	}
	if problem := customerExtraProblem(c.Extra); problem != "" {
		return events.Customer{}, d.refuse(ErrInvalidCommand, "%s", problem)
	}
	if c.ID == "" && len(c.Keys) == 0 {
		if given > 0 {
			return events.Customer{}, d.refuse(ErrInvalidCommand, "the customer has neither an id nor an identity key: a withheld number, or a key of invisible characters only, identifies no one")
		}
		return events.Customer{}, d.refuse(ErrInvalidCommand, "the customer has neither an id nor an identity key")
	}
	return c, nil
}

// check refuses the command with the first of problems that is not "".
func (d *decider) check(problems ...string) error {
	for _, p := range problems {
		if p != "" {
			return d.refuse(ErrInvalidCommand, "%s", p)
		}
	}
	return nil
}

func channelProblem(ch string) string {
	switch {
	case ch == "":
		return "no channel"
	case len(ch) > MaxText:
		return tooLong("channel", ch)
	case !isToken(ch):
		return fmt.Sprintf("channel %q is not a lower-case token ([a-z][a-z0-9_-]*)", ch)
	}
	return ""
}

// topicProblem says what is wrong with a topic, a '/'-separated hierarchy.
func topicProblem(what, t string) string {
	if t == "" {
		return "no " + what
	}
	if len(t) > MaxText {
		return tooLong(what, t)
	}
	for seg := range strings.SplitSeq(t, "/") {
		if seg == "" || text.Trim(seg) != seg {
			return fmt.Sprintf("%s %q has an empty or padded segment", what, t)
		}
	}
	return printable(what, t)
}

// required says what is wrong with a name that must be given: none, or
// one that holds a control character.
func required(what, v string) string {
	if text.Trim(v) == "" {
		return "no " + what
	}
	return name(what, v)
}

// name says what is wrong with v, the name of a queue, an agent, a skill,
// an expert or a code, which the projections group by as written: text
// that printable refuses, and text padded with spaces or zero-width
// characters (or only those), which would count apart from the name
// without them; "" for nothing.
func name(what, v string) string {
	if problem := printable(what, v); problem != "" {
		return problem
	}
	switch t := text.Trim(v); {
	case t == "" && v != "":
		return fmt.Sprintf("%s %q is blank: leave it empty for none", what, v)
	case t != v:
		return fmt.Sprintf("%s %q is padded with spaces: it would count apart from %q", what, v, t)
	}
	return ""
}

// cloneExtra returns a copy of x, of its lists and maps of JSON values
// too (what a decoded webhook holds), so that the event does not change
// when the caller's data does; values of other Go types are shared, and
// so are those nested deeper than the codecs take (events.CheckExtra
// refuses them, and a map that holds itself would never end).
func cloneExtra(x events.Extra) events.Extra {
	if x == nil {
		return nil
	}
	out := make(events.Extra, len(x))
	for k, v := range x {
		out[k] = cloneValue(v, 0)
	}
	return out
}

// maxCloneDepth is how deep cloneValue copies: deeper than the 64 levels
// that the codecs take, which CheckExtra then refuses.
const maxCloneDepth = 65

// cloneValue is cloneExtra of one value, depth levels below its member.
func cloneValue(v any, depth int) any {
	if depth > maxCloneDepth {
		return v
	}
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[k] = cloneValue(e, depth+1)
		}
		return m
	case []any:
		l := make([]any, len(v))
		for i, e := range v {
			l[i] = cloneValue(e, depth+1)
		}
		return l
	}
	return v
}

// customerExtraProblem says what is wrong with a customer's fields beyond
// its id and keys (see Command); "" for nothing.
func customerExtraProblem(x events.Extra) string {
	if len(x) == 0 {
		return ""
	}
	if problem := tooMany("customer fields beyond id and keys", len(x)); problem != "" {
		return problem
	}
	for _, k := range slices.Sorted(maps.Keys(x)) { // the same error every time
		if problem := printable("customer field", k); problem != "" {
			return problem
		}
		switch k {
		case "id":
			return `customer field "id" in Extra: the customer's id is Customer.ID`
		case "keys":
			return `customer field "keys" in Extra: the customer's keys are Customer.Keys`
		}
	}
	// Measured as the event is stored, where a number given as text
	// (json.Number) is written in the form msgpack keeps ("1e18" in full,
	// "2.50" as 2.5): what Check of the stored event measures. Values of
	// JSON's own are stored as they are.
	plain := plainJSON(x, 0)
	stored, err := x, error(nil)
	if plain {
		err = events.CheckExtra(x)
	} else {
		stored, err = events.StoredExtra(x)
	}
	if err != nil {
		return fmt.Sprintf("customer %v", err)
	}
	b, err := json.Marshal(stored)
	if err != nil {
		return fmt.Sprintf("customer fields: %v", err)
	}
	if len(b) > MaxExtra {
		as := ""
		if given, err := json.Marshal(x); !plain && err == nil {
			switch {
			case len(b) > len(given):
				as = fmt.Sprintf(" as stored (%d as given: numbers given short are written out in full)", len(given))
			case len(b) < len(given):
				as = fmt.Sprintf(" as stored (%d as given)", len(given))
			}
		}
		return fmt.Sprintf("customer fields beyond id and keys take %d bytes as JSON%s, more than %d", len(b), as, MaxExtra)
	}
	return ""
}

// plainJSON reports whether v, an Extra or a value in one, holds only
// values that an opening stores as they are: no number given as text,
// and no type but JSON's own. Below 64 levels it does not look.
func plainJSON(v any, depth int) bool {
	if depth >= 64 {
		return false
	}
	switch v := v.(type) {
	case nil, string, bool:
		return true
	case float64:
		return v != 0 || !math.Signbit(v) // -0 is stored as 0
	case events.Extra:
		return plainJSON(map[string]any(v), depth)
	case map[string]any:
		for _, e := range v {
			if !plainJSON(e, depth+1) {
				return false
			}
		}
		return true
	case []any:
		for _, e := range v {
			if !plainJSON(e, depth+1) {
				return false
			}
		}
		return true
	}
	return false
}

// printable says what is wrong with a name that reports would print
// wrongly: one that is not UTF-8, or holds a control character (a line
// break, a NUL), a line or paragraph separator, or a control of the
// direction of text (which would turn what follows it around); or that is
// longer than MaxText.
func printable(what, v string) string {
	if len(v) > MaxText {
		return tooLong(what, v)
	}
	if problem := textProblem(v); problem != "" {
		return fmt.Sprintf("%s %s %s", what, abbreviate(v), problem)
	}
	return ""
}

// textProblem says what keeps v from being printed as it is (see
// printable), as "is not UTF-8" or "holds …"; "" for nothing.
func textProblem(v string) string {
	if !utf8.ValidString(v) {
		return "is not UTF-8"
	}
	i := strings.IndexFunc(v, text.Unprintable)
	if i < 0 {
		return ""
	}
	r, _ := utf8.DecodeRuneInString(v[i:])
	switch {
	case unicode.IsControl(r):
		return fmt.Sprintf("holds the control character %U", r)
	case r == '\u2028':
		return fmt.Sprintf("holds the line separator %U", r)
	case r == '\u2029':
		return fmt.Sprintf("holds the paragraph separator %U", r)
	}
	return fmt.Sprintf("holds the control of the direction of text %U", r)
}

// tooLong says that v, a what, is longer than MaxText, quoting only its
// start.
func tooLong(what, v string) string {
	return fmt.Sprintf("%s %s is %d bytes long, more than %d", what, abbreviate(v), len(v), MaxText)
}

// abbreviate quotes v, or its first 32 bytes or so (not cutting a
// character in two) followed by "…" when it is longer, so that a message
// stays readable.
func abbreviate(v string) string {
	if len(v) <= 32 {
		return fmt.Sprintf("%q", v)
	}
	n := 32
	for n > 28 && !utf8.RuneStart(v[n]) {
		n--
	}
	return fmt.Sprintf("%q…", v[:n])
}

// tooMany says that n, the number of a command's whats, is more than
// MaxList; "" when it is not.
func tooMany(what string, n int) string {
	if n > MaxList {
		return fmt.Sprintf("%d %s, more than %d", n, what, MaxList)
	}
	return ""
}

// list returns v, nil when it is empty, as the store gives it back, and
// not sharing v's array, which its caller may change later.
func list(v []string) []string {
	if len(v) == 0 {
		return nil
	}
	return slices.Clone(v)
}

// wholeMS returns v in whole milliseconds, as the codecs write it.
func wholeMS(v time.Duration) time.Duration { return v.Truncate(time.Millisecond) }

// durationSlack is how much longer than the issue has existed a duration
// may be: clocks of different systems disagree, and an agent's wrap-up
// may go on after the event that reports it.
const durationSlack = time.Hour

// duration says what is wrong with a duration of the command (a wait, a
// handle time): negative, or longer than the issue has existed by more
// than durationSlack, which no wait or handle time of the issue can be (a
// number in another unit, an epoch in milliseconds, would be taken for
// decades and swamp every average).
func (d *decider) duration(what string, v time.Duration) string {
	if v < 0 {
		return fmt.Sprintf("%s %s is negative", what, v)
	}
	// A command timed before the opening, or not at all, or out of the
	// range of event times, is refused for its time by Decide. The times
	// are compared rather than their difference, which a Duration cannot
	// hold beyond 292 years.
	if opened := d.is.OpenedAt; !opened.IsZero() && !d.at.Before(opened) && events.InTimeRange(d.at) {
		if opened.Add(v - durationSlack).After(d.at) {
			return fmt.Sprintf("%s %s is longer than the issue has existed: it opened at %s, %s before", what, v, stamp(opened), d.at.Sub(opened))
		}
	}
	return ""
}

// stamp formats an event time for messages, to the nanosecond where it has
// a fraction of a second, so that two times that differ read differently.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
