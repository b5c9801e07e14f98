package projections

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/truefcr/truefcr/events"
)

// Value is the contact value category of a topic: whom a contact about it
// is valuable to. Contacts that serve neither should be removed at their
// root cause, those that serve only the customer automated.
type Value string

// The contact value categories.
const (
	ValueCustomer Value = "customer"
	ValueCompany  Value = "company"
	ValueBoth     Value = "both"
	ValueNeither  Value = "neither"
	// ValueUntagged is the category of a topic that no tag covers.
	ValueUntagged Value = "untagged"
)

// VolumeConfig configures a Volume projection. The zero value is valid and
// means the defaults.
type VolumeConfig struct {
	// Values tags topics with their contact value category. A tag covers
	// its topic and the topics below it ("billing" covers
	// "billing/invoice-error"); the longest tag wins. Nil: no breakdown by
	// value.
	Values map[string]Value
	// Lateness is how far behind the watermark (the latest event time
	// seen) an event may arrive and still count, and how long a resolved
	// issue stays in memory after its last event; 24 h if zero.
	Lateness time.Duration
}

func (c *VolumeConfig) setDefaults() {
	if c.Lateness == 0 {
		c.Lateness = kpiDefaultLateness
	}
}

// Validate reports a VolumeConfig that cannot work: a negative lateness,
// an empty topic or one with a leading or trailing "/", a value other
// than customer, company, both and neither. The error wraps ErrKPIConfig.
func (c VolumeConfig) Validate() error {
	for _, topic := range slices.Sorted(maps.Keys(c.Values)) {
		switch v := c.Values[topic]; {
		case topic == "" || strings.HasPrefix(topic, "/") || strings.HasSuffix(topic, "/"):
			return fmt.Errorf("volume value tag %q: not a topic: %w", topic, ErrKPIConfig)
		case v != ValueCustomer && v != ValueCompany && v != ValueBoth && v != ValueNeither:
			return fmt.Errorf("volume value tag %q: value %q is not customer, company, both or neither: %w", topic, v, ErrKPIConfig)
		}
	}
	return kpiCheckLateness("volume", c.Lateness)
}

// value returns the category of topic by its longest tag.
func (c *VolumeConfig) value(topic string) Value {
	for t := topic; t != ""; {
		if v, ok := c.Values[t]; ok {
			return v
		}
		i := strings.LastIndexByte(t, '/')
		if i < 0 {
			break
		}
		t = t[:i]
	}
	return ValueUntagged
}

// volRule states what the Volume projection counts, in its report.
const volRule = "contacts are the inbound contacts (issue.opened, issue.contacted, issue.reopened) that were not abandoned " +
	"before any routing; each counts under its channel, the issue's current topic and the UTC day it arrived; " +
	"backlog ages run from the issue's first event"

// Volume is the projection of contact volume: contacts by channel, topic,
// day (UTC) and value category, the contact reasons as a Pareto, contacts
// per issue, the reopen rate and the backlog of open issues with their
// ages.
//
// The rules:
//   - A contact is an inbound contact that issue.opened, issue.contacted
//     or issue.reopened introduced, unless it was abandoned and never
//     routed. Contacts never queued (bot, email) count.
//   - A contact counts under its own channel, the UTC day of the event
//     that introduced it and the issue's current topic: a later
//     issue.classified moves the issue's contacts to the new topic while
//     the issue is in memory.
//   - Contacts per issue is over issues whose issue.opened was seen;
//     reopen rate is issue.reopened over issue.resolved events.
//   - The backlog is the issues open at the watermark (opened, contacted
//     or reopened and not resolved since, including issues whose only
//     contact was abandoned), aged from their first event.
//
// Memory follows the active horizon: an issue stays while it is open and,
// once resolved, until its last event is twice Lateness behind the
// watermark. An event of an issue not in memory that is older than
// Lateness is counted in LateEvents, not applied. An event that comes
// Lateness or more after its resolved issue's last event (a reopen days
// later, a late survey) finds the issue forgotten, whether or not its
// state is still in memory: it waits until it is itself Lateness old, when
// the earlier versions could only be late, and then counts on a fresh
// state. What an event counts under thus depends on event times only.
//
// Open issues stay in memory until resolved: they are the backlog. The
// report depends on the set of events within the lateness, not on their
// order. It is not safe for concurrent use.
type Volume struct {
	cfg VolumeConfig
	h   kpiHorizon[volIssue]

	contacts              int64
	byChannel, byTopic    map[string]int64
	byDay                 map[int64]int64 // by days since 1970-01-01 UTC
	byValue               map[Value]int64
	issues, issueContacts int64
	perIssue              [volPerIssueBuckets]int64
	resolutions, reopens  int64
}

// NewVolume returns a Volume projection that has seen nothing.
func NewVolume(cfg VolumeConfig) (*Volume, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Values = maps.Clone(cfg.Values) // the caller may change theirs
	v := &Volume{
		cfg:       cfg,
		byChannel: make(map[string]int64),
		byTopic:   make(map[string]int64),
		byDay:     make(map[int64]int64),
		byValue:   make(map[Value]int64),
	}
	v.h = newKPIHorizon(cfg.Lateness, func(is *volIssue, e events.Envelope) { v.foldIssue(is, &e) })
	return v, nil
}

// Apply absorbs one event, in any order and with duplicates. An invalid
// event, or one whose time lies outside the years 1678 to 2262 (the range
// of Unix nanoseconds), is refused with an error that wraps
// events.ErrInvalidEvent.
func (v *Volume) Apply(e events.Envelope) error {
	if err := kpiCheckEvent("volume", e); err != nil {
		return err
	}
	v.h.offer(&e)
	return nil
}

// applyOrdered absorbs the next event of its issue in version order.
func (v *Volume) applyOrdered(e events.Envelope) error {
	v.h.foldOrdered(&e)
	return nil
}

// foldIssue follows each change of the issue into the counts: an event
// changes at most one contact, the issue's topic or whether its opening
// was seen.
func (v *Volume) foldIssue(is *volIssue, e *events.Envelope) {
	if at := e.At.UnixNano(); !is.seen || at < is.sinceNS {
		is.seen, is.since, is.sinceNS = true, e.At, at
	}
	switch d := e.Data.(type) {
	case *events.Resolved:
		v.resolutions++
	case *events.Reopened:
		v.reopens++
		v.inbound(is, d.Contact, d.Channel, e.At)
	case *events.Contacted:
		v.inbound(is, d.Contact, d.Channel, e.At)
	case *events.Opened:
		if !is.opened {
			is.opened = true
			v.issues++
			v.issueContacts += is.n
			v.perIssue[min(is.n, volPerIssueBuckets-1)]++
		}
		v.setTopic(is, d.Topic)
		v.inbound(is, d.Contact, d.Channel, e.At)
	case *events.Classified:
		if d.Topic != is.topic {
			v.setTopic(is, d.Topic)
		}
	case *events.Routed:
		c := is.contact(d.Contact)
		was := *c
		c.routed = true
		v.moved(is, c, &was)
	case *events.Abandoned:
		c := is.contact(d.Contact)
		was := *c
		c.abandoned = true
		v.moved(is, c, &was)
	}
}

// inbound notes the contact that an inbound event introduced.
func (v *Volume) inbound(is *volIssue, id uuid.UUID, channel string, at time.Time) {
	c := is.contact(id)
	was := *c
	c.inbound, c.channel, c.day = true, channel, volDay(at)
	v.moved(is, c, &was)
}

// moved counts contact c as it is now instead of as it was.
func (v *Volume) moved(is *volIssue, c, was *volContact) {
	wasCounted, counted := was.counted(), c.counted()
	if wasCounted == counted && (!counted || c.channel == was.channel && c.day == was.day) {
		return
	}
	if wasCounted {
		v.byChannel[was.channel]--
		v.byDay[was.day]--
	}
	if counted {
		v.byChannel[c.channel]++
		v.byDay[c.day]++
	}
	switch {
	case counted && !wasCounted:
		v.counted(is, +1)
	case wasCounted && !counted:
		v.counted(is, -1)
	}
}

// counted adds d to the issue's counted contacts.
func (v *Volume) counted(is *volIssue, d int64) {
	v.contacts += d
	v.byTopic[is.topicKey()] += d
	if v.cfg.Values != nil {
		v.byValue[is.valueKey()] += d
	}
	if is.opened {
		v.issueContacts += d
		v.perIssue[min(is.n, volPerIssueBuckets-1)]--
		v.perIssue[min(is.n+d, volPerIssueBuckets-1)]++
	}
	is.n += d
}

// setTopic moves the issue's counted contacts to topic.
func (v *Volume) setTopic(is *volIssue, topic string) {
	was, wasValue := is.topicKey(), is.valueKey()
	is.topic, is.value = topic, v.cfg.value(topic)
	if is.n == 0 {
		return
	}
	if now := is.topicKey(); now != was {
		v.byTopic[was] -= is.n
		v.byTopic[now] += is.n
	}
	if now := is.valueKey(); v.cfg.Values != nil && now != wasValue {
		v.byValue[wasValue] -= is.n
		v.byValue[now] += is.n
	}
}

// volDay returns the UTC day of t, in days since 1970-01-01.
func volDay(t time.Time) int64 {
	s := t.Unix()
	d := s / 86400
	if s%86400 < 0 {
		d--
	}
	return d
}

// volIssue is what Volume keeps of one issue in the horizon.
type volIssue struct {
	n        int64 // counted contacts
	sinceNS  int64 // since in Unix ns
	opened   bool
	seen     bool // since is set
	contacts kpiList[volContact]
	topic    string
	value    Value     // of topic
	since    time.Time // earliest event time
}

type volContact struct {
	id        uuid.UUID
	channel   string
	day       int64 // UTC day it arrived, as volDay
	inbound   bool  // introduced by opened, contacted or reopened
	routed    bool
	abandoned bool
}

func (is *volIssue) topicKey() string { return kpiKey(is.topic, kpiUnknown) }

// valueKey returns the value category of the issue's topic, "(unknown)"
// when its opening was never seen.
func (is *volIssue) valueKey() Value {
	if is.value == "" {
		return Value(kpiUnknown)
	}
	return is.value
}

func (c *volContact) counted() bool { return c.inbound && (c.routed || !c.abandoned) }

func (is *volIssue) contact(id uuid.UUID) *volContact {
	for i := range is.contacts.len() {
		if c := is.contacts.at(i); c.id == id {
			return c
		}
	}
	return is.contacts.at(is.contacts.add(volContact{id: id}))
}
