package projections

import (
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/truefcr/truefcr/events"
)

// ServiceConfig configures a ServiceLevel projection. The zero value is
// valid and means the defaults.
type ServiceConfig struct {
	// Threshold is the T of the service level, the share of offered
	// contacts answered within T; 20 s if zero.
	Threshold time.Duration
	// Lateness is how far behind the watermark (the latest event time
	// seen) an event may arrive and still count, and how long a resolved
	// issue stays in memory after its last event; 24 h if zero.
	Lateness time.Duration
}

func (c *ServiceConfig) setDefaults() {
	if c.Threshold == 0 {
		c.Threshold = 20 * time.Second
	}
	if c.Lateness == 0 {
		c.Lateness = kpiDefaultLateness
	}
}

// Validate reports a ServiceConfig that cannot work: a negative threshold
// or lateness. The error wraps ErrKPIConfig.
func (c ServiceConfig) Validate() error {
	if c.Threshold < 0 {
		return fmt.Errorf("service level threshold %v is negative: %w", c.Threshold, ErrKPIConfig)
	}
	return kpiCheckLateness("service level", c.Lateness)
}

// The rules of the ServiceLevel projection, stated in its report.
const (
	svcOfferedRule = "a contact is offered when it entered a queue: it was routed (answered) or abandoned before any routing; " +
		"a contact never queued (bot, email handled directly) is not offered"
	svcHandledRule = "a contact is handled when it was routed, consulted on or resolved on, unless it was abandoned; " +
		"transfer = routed more than once, consult = at least one consultation, both over handled contacts"
	svcAHTRule = "handle time is the handle_ms of issue.resolved, the only event that carries it; " +
		"AHT averages it over the contacts whose resolution reported one (aht_contacts)"
	svcSegmentRule = "a contact counts under its own channel and under the queue it was offered to " +
		"(its first routing, or the queue named on its abandonment); reopens count under the resolution they undo"
)

// ServiceLevel is the projection of the queue numbers: offered, answered
// and abandoned contacts, ASA, abandonment rate, service level within a
// threshold, AHT, transfer, consult and reopen rates, in total and by
// channel and by queue.
//
// The rules, where the formulas leave room:
//   - A contact is one inbound contact id of an issue. It is answered when
//     it was routed at least once, whatever else happened to it, and
//     abandoned when it was abandoned and never routed. Offered contacts
//     are answered plus abandoned: a contact that never entered a queue is
//     not offered. A contact routed without wait_ms waited 0 s.
//   - The wait of an answered contact is the wait_ms of its first routing;
//     it is answered within the threshold when that wait is at most T.
//   - A contact is handled when it was routed, consulted on or resolved
//     on; an abandoned contact never is, even when the issue is resolved
//     on it (after a callback, or closed by the helpdesk). Handle time
//     comes only from issue.resolved handle_ms, so AHT is the total
//     handle time over the handled contacts that reported one.
//   - Reopen rate is issue.reopened events over issue.resolved events.
//   - A contact counts under its own channel (the issue's first channel
//     when the contact was never introduced) and under the queue it was
//     offered to: its first routing, or the "queue" data field of its
//     abandonment when the host sends one. Segments "(none)" and
//     "(unknown)" hold contacts without a queue and with dropped state.
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
// Every figure is recomputed from the contact's own events, so the report
// depends on the set of events within the lateness, not on their order.
// It is not safe for concurrent use.
type ServiceLevel struct {
	cfg       ServiceConfig
	h         kpiHorizon[svcIssue]
	total     svcCounts
	byChannel map[string]*svcSegment
	byQueue   map[string]*svcSegment
}

// NewServiceLevel returns a ServiceLevel projection that has seen nothing.
func NewServiceLevel(cfg ServiceConfig) (*ServiceLevel, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &ServiceLevel{
		cfg:       cfg,
		byChannel: make(map[string]*svcSegment),
		byQueue:   make(map[string]*svcSegment),
	}
	s.h = newKPIHorizon(cfg.Lateness, func(is *svcIssue, e events.Envelope) { s.foldIssue(is, &e) })
	return s, nil
}

// Apply absorbs one event, in any order and with duplicates. An invalid
// event, or one whose time lies outside the years 1678 to 2262 (the range
// of Unix nanoseconds), is refused with an error that wraps
// events.ErrInvalidEvent.
func (s *ServiceLevel) Apply(e events.Envelope) error {
	if err := kpiCheckEvent("service level", e); err != nil {
		return err
	}
	s.h.offer(&e)
	return nil
}

// applyOrdered absorbs the next event of its issue in version order.
func (s *ServiceLevel) applyOrdered(e events.Envelope) error {
	s.h.foldOrdered(&e)
	return nil
}

func (s *ServiceLevel) foldIssue(is *svcIssue, e *events.Envelope) {
	// An event changes at most two contacts: its own and, for a reopen,
	// the one whose resolution it undoes. Only they are counted again.
	var touched [2]int
	n := 0
	switch d := e.Data.(type) {
	case *events.Reopened:
		undone := is.resolvedOn - 1
		if undone < 0 {
			undone = is.index(uuid.Nil)
		}
		touched[0], touched[1], n = undone, is.index(d.Contact), 2
		if touched[0] == touched[1] {
			n = 1
		}
	default:
		c, ok := svcContactOf(e.Data)
		if !ok {
			return // nothing the queue numbers depend on
		}
		touched[0], n = is.index(c), 1
	}
	var before [2]svcCounts
	for k, i := range touched[:n] {
		before[k] = is.contacts.at(i).counts(s.cfg.Threshold)
	}
	is.apply(e)
	for k, i := range touched[:n] {
		s.recount(is, is.contacts.at(i), &before[k])
	}
}

// svcContactOf returns the contact an event is about.
func svcContactOf(d events.Data) (uuid.UUID, bool) {
	switch d := d.(type) {
	case *events.Opened:
		return d.Contact, true
	case *events.Contacted:
		return d.Contact, true
	case *events.Routed:
		return d.Contact, true
	case *events.Abandoned:
		return d.Contact, true
	case *events.Consulted:
		return d.Contact, true
	case *events.Resolved:
		return d.Contact, true
	}
	return uuid.Nil, false
}

// recount moves contact c of the issue from what it counted, before, to
// what it counts now, in the total and under its channel and queue.
func (s *ServiceLevel) recount(is *svcIssue, c *svcContact, before *svcCounts) {
	after := c.counts(s.cfg.Threshold)
	chKey, qKey := is.channelOf(c), c.queueKey()
	if after == *before && (after == (svcCounts{}) || chKey == c.ch.key && qKey == c.q.key) {
		return // a contact that counts nothing needs no segment
	}
	if *before != (svcCounts{}) {
		s.total.add(before, -1)
		c.ch.add(before, -1)
		c.q.add(before, -1)
	}
	if c.ch == nil || chKey != c.ch.key {
		c.ch = svcSegmentOf(s.byChannel, chKey)
	}
	if c.q == nil || qKey != c.q.key {
		c.q = svcSegmentOf(s.byQueue, qKey)
	}
	if after != (svcCounts{}) {
		s.total.add(&after, +1)
		c.ch.add(&after, +1)
		c.q.add(&after, +1)
	}
}

// svcSegment is the counts of one channel or queue.
type svcSegment struct {
	svcCounts
	key string
}

// svcSegmentOf returns segment key of m, adding it when new.
func svcSegmentOf(m map[string]*svcSegment, key string) *svcSegment {
	n := m[key]
	if n == nil {
		n = &svcSegment{key: key}
		m[key] = n
	}
	return n
}

// svcIssue is what ServiceLevel keeps of one issue in the horizon.
type svcIssue struct {
	contacts kpiList[svcContact] // first: most events touch only them
	channel  string              // of the first contact
	// resolvedOn is the index+1 of the contact of the last resolution, 0
	// when the issue has none that this state saw.
	resolvedOn int
}

// svcContact is one inbound contact and what happened to it.
type svcContact struct {
	id           uuid.UUID
	channel      string
	queue        string // of the first routing
	abandonQueue string
	wait         time.Duration // of the first routing
	handle       time.Duration
	resolutions  int32
	reopens      int32 // of resolutions made on this contact
	routings     int32
	abandoned    bool
	consulted    bool
	dropped      bool // stands in for a contact whose state was dropped
	// The segments the contact counts under, kept so that an event that
	// does not move it looks none up; nil until it counts.
	ch, q *svcSegment
}

// index returns the index of contact id, adding it when it is new.
func (is *svcIssue) index(id uuid.UUID) int {
	for i := range is.contacts.len() {
		if is.contacts.at(i).id == id {
			return i
		}
	}
	return is.contacts.add(svcContact{id: id})
}

func (is *svcIssue) contact(id uuid.UUID) *svcContact { return is.contacts.at(is.index(id)) }

func (is *svcIssue) apply(e *events.Envelope) {
	switch d := e.Data.(type) {
	case *events.Opened:
		is.channel = d.Channel
		is.contact(d.Contact).channel = d.Channel
	case *events.Contacted:
		is.contact(d.Contact).channel = d.Channel
	case *events.Reopened:
		if is.resolvedOn > 0 {
			is.contacts.at(is.resolvedOn-1).reopens++
		} else {
			// The resolution was seen before this state was dropped.
			c := is.contact(uuid.Nil)
			c.dropped = true
			c.reopens++
		}
		is.contact(d.Contact).channel = d.Channel
	case *events.Routed:
		c := is.contact(d.Contact)
		if c.routings == 0 {
			c.queue, c.wait = d.Queue, d.Wait
		}
		c.routings++
	case *events.Abandoned:
		c := is.contact(d.Contact)
		c.abandoned = true
		if q, ok := d.Extra["queue"].(string); ok && c.abandonQueue == "" {
			c.abandonQueue = q
		}
	case *events.Consulted:
		is.contact(d.Contact).consulted = true
	case *events.Resolved:
		i := is.index(d.Contact)
		c := is.contacts.at(i)
		c.resolutions++
		c.handle += d.Handle
		is.resolvedOn = i + 1
	}
}

func (is *svcIssue) channelOf(c *svcContact) string {
	if c.dropped {
		return kpiUnknown
	}
	return kpiKey(kpiKey(c.channel, is.channel), kpiUnknown)
}

func (c *svcContact) queueKey() string {
	switch {
	case c.dropped:
		return kpiUnknown
	case c.queue != "":
		return c.queue
	case c.abandonQueue != "":
		return c.abandonQueue
	case c.abandoned:
		return kpiUnknown
	}
	return kpiNone
}
