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
// once resolved, until its last event is Lateness behind the watermark.
// An event of an issue not in memory that is older than that is counted
// in LateEvents, not applied. A later event of a dropped issue (a reopen,
// a survey) waits until it is itself Lateness old, when the earlier
// versions could only be late, and then counts on a fresh state.
//
// Open issues stay in memory until resolved: they are the backlog. The
// report depends on the set of events within the lateness, not on their
// order. It is not safe for concurrent use.
type Volume struct {
	cfg VolumeConfig
	h   kpiHorizon[volIssue]

	contacts                  int64
	byChannel, byTopic, byDay map[string]int64
	byValue                   map[Value]int64
	issues, issueContacts     int64
	perIssue                  [volPerIssueBuckets]int64
	resolutions, reopens      int64
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
		byDay:     make(map[string]int64),
		byValue:   make(map[Value]int64),
	}
	v.h = newKPIHorizon(cfg.Lateness, v.foldIssue, (*volIssue).reset)
	return v, nil
}

// Apply absorbs one event, in any order and with duplicates. An invalid
// event is refused with an error that wraps events.ErrInvalidEvent.
func (v *Volume) Apply(e events.Envelope) error {
	if err := e.Validate(); err != nil {
		return err
	}
	v.h.offer(e)
	return nil
}

// applyOrdered absorbs the next event of its issue in version order.
func (v *Volume) applyOrdered(e events.Envelope) error {
	v.h.foldOrdered(e)
	return nil
}

func (v *Volume) foldIssue(is *volIssue, e events.Envelope) {
	if is.since.IsZero() || e.At.Before(is.since) {
		is.since = e.At
	}
	switch d := e.Data.(type) {
	case *events.Resolved:
		v.resolutions++
		return
	case *events.Reopened:
		v.reopens++
	case *events.Classified:
		if d.Topic == is.topic {
			return
		}
	case *events.Rated, *events.Consulted:
		return
	case *events.Opened, *events.Contacted, *events.Routed, *events.Abandoned:
	default:
		return
	}
	v.account(is, -1)
	is.apply(e, &v.cfg)
	v.account(is, +1)
}

func (v *Volume) account(is *volIssue, sign int64) {
	var n int64
	topic := kpiKey(is.topic, kpiUnknown)
	for i := range is.contacts {
		c := &is.contacts[i]
		if !c.counted() {
			continue
		}
		n++
		v.byChannel[c.channel] += sign
		v.byDay[c.day] += sign
	}
	if n != 0 {
		v.contacts += sign * n
		v.byTopic[topic] += sign * n
		if v.cfg.Values != nil {
			value := is.value
			if value == "" { // the issue's opening was never seen: its topic is unknown
				value = Value(kpiUnknown)
			}
			v.byValue[value] += sign * n
		}
	}
	if is.opened {
		v.issues += sign
		v.issueContacts += sign * n
		v.perIssue[min(n, volPerIssueBuckets-1)] += sign
	}
}

// volIssue is what Volume keeps of one issue in the horizon.
type volIssue struct {
	opened   bool
	since    time.Time // earliest event time
	topic    string
	value    Value // of topic
	contacts []volContact
}

type volContact struct {
	id        uuid.UUID
	channel   string
	day       string // UTC date it arrived
	inbound   bool   // introduced by opened, contacted or reopened
	routed    bool
	abandoned bool
}

// reset empties the state for another issue, keeping its buffers.
func (is *volIssue) reset() { *is = volIssue{contacts: is.contacts[:0]} }

func (c *volContact) counted() bool { return c.inbound && (c.routed || !c.abandoned) }

func (is *volIssue) contact(id uuid.UUID) *volContact {
	for i := range is.contacts {
		if is.contacts[i].id == id {
			return &is.contacts[i]
		}
	}
	is.contacts = append(is.contacts, volContact{id: id})
	return &is.contacts[len(is.contacts)-1]
}

func (is *volIssue) inbound(id uuid.UUID, channel string, at time.Time) {
	c := is.contact(id)
	c.inbound, c.channel, c.day = true, channel, at.UTC().Format(time.DateOnly)
}

func (is *volIssue) apply(e events.Envelope, cfg *VolumeConfig) {
	switch d := e.Data.(type) {
	case *events.Opened:
		is.opened = true
		is.setTopic(d.Topic, cfg)
		is.inbound(d.Contact, d.Channel, e.At)
	case *events.Contacted:
		is.inbound(d.Contact, d.Channel, e.At)
	case *events.Reopened:
		is.inbound(d.Contact, d.Channel, e.At)
	case *events.Classified:
		is.setTopic(d.Topic, cfg)
	case *events.Routed:
		is.contact(d.Contact).routed = true
	case *events.Abandoned:
		is.contact(d.Contact).abandoned = true
	}
}

func (is *volIssue) setTopic(topic string, cfg *VolumeConfig) {
	is.topic = topic
	is.value = cfg.value(topic)
}
