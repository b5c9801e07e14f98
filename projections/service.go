package projections

import (
	"fmt"
	"maps"
	"slices"
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
	// ChannelThresholds are the T of the contacts of the channels it
	// names, where a centre holds its channels to different targets (20 s
	// on the phone, a minute on chat, a day by email); Threshold is the T
	// of the others. Each must be positive.
	ChannelThresholds map[string]time.Duration
	// Lateness is how far behind the watermark (the latest event time
	// seen) an event may arrive and still count, and how long after its
	// last event a resolved issue's state takes further events (it stays
	// in memory up to twice that); 24 h if zero.
	Lateness time.Duration
	// MinSample is the denominator below which a rate is flagged as a
	// small sample; MinReliable if zero.
	MinSample int64
	// MaxFuture is how far after the clock's time an event may be, as in
	// FCRConfig: 0 means DefaultMaxFuture or half the lateness, whichever
	// is less; a negative value, no limit.
	MaxFuture time.Duration
}

func (c *ServiceConfig) setDefaults() {
	if c.Threshold == 0 {
		c.Threshold = 20 * time.Second
	}
	if c.Lateness == 0 {
		c.Lateness = kpiDefaultLateness
	}
	kpiDefaultMinSample(&c.MinSample)
	c.MaxFuture = maxFutureOr(c.MaxFuture, c.Lateness)
}

// Validate reports a ServiceConfig that cannot work: a negative threshold,
// lateness or minimum sample, or a channel's threshold that is not
// positive. The error wraps ErrKPIConfig.
func (c ServiceConfig) Validate() error {
	if c.Threshold < 0 {
		return fmt.Errorf("service level threshold %v is negative: %w", c.Threshold, ErrKPIConfig)
	}
	for _, ch := range slices.Sorted(maps.Keys(c.ChannelThresholds)) {
		if ch == "" {
			return fmt.Errorf("service level threshold of a channel without a name: %w", ErrKPIConfig)
		}
		if t := c.ChannelThresholds[ch]; t <= 0 {
			return fmt.Errorf("service level threshold %v of channel %q is not positive: %w", t, ch, ErrKPIConfig)
		}
	}
	if err := kpiCheckMinSample("service level", c.MinSample); err != nil {
		return err
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
		"AHT averages it over the handled contacts whose resolution reported one (aht_contacts), a handle_ms of 0 being none"
	svcSegmentRule = "a contact counts under its own channel and under the queue it was offered to " +
		"(its first routing, or the queue named on its abandonment); reopens count under the resolution they undo, " +
		"except those that come when their issue's state is forgotten (a lateness or more after its last event): " +
		"they count in the total only (reopens_unattributed), as do resolutions then of a contact that counted before"
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
//   - Waits and handle times count in whole milliseconds, as the wire
//     format carries them: a duration finer than that is cut to the
//     millisecond when the event is applied.
//   - The wait of an answered contact is the wait_ms of its first routing;
//     it is answered within the threshold when that wait is at most T, the
//     threshold of the contact's channel (ChannelThresholds) or Threshold.
//     The total's service level mixes the channels' targets, each contact
//     held to its own. A contact that no inbound event introduced is held
//     to the T of the issue's first channel, under which it counts; a
//     stand-in for a forgotten contact (segment "(unknown)") counts no wait.
//   - A contact is handled when it was routed, consulted on or resolved
//     on; an abandoned contact never is, even when the issue is resolved
//     on it (after a callback, or closed by the helpdesk). Handle time
//     comes only from issue.resolved handle_ms, so AHT is the total
//     handle time over the handled contacts that reported one. A
//     handle_ms of 0 reads as none (events.Resolved.Handle): a contact
//     resolved so, a bot's say, is not in the AHT.
//   - Reopen rate is issue.reopened events over issue.resolved events.
//   - A contact counts under its own channel (the issue's first channel
//     when the contact was never introduced) and under the queue it was
//     offered to: its first routing, or the "queue" data field of its
//     abandonment when the host sends one. Segment "(none)" holds the
//     contacts never queued; "(unknown)" those whose queue is not known:
//     abandoned in a queue that the abandonment does not name, or of a
//     dropped state.
//   - A reopen counts under the channel and queue of the resolution it
//     undoes. One that comes when the issue's state is forgotten (see
//     below) counts in the total reopen rate only, and in
//     ReopensUnattributed, as that resolution's segments are not known.
//     So does a resolution then of a contact that the forgotten state
//     knew (an auto-close of the first call after a reopen): the contact
//     counted with that state, and is not offered, answered or handled
//     again. A stream that goes on without its opening cannot tell such
//     a contact from one whose inbound event was lost (an opening that
//     never came, or came later than the lateness): every contact that it
//     meets first in a routing, consultation, abandonment or resolution
//     counts so.
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
	cfg    ServiceConfig
	names  *kpiNames
	h      kpiHorizon[kpiState]
	future futureGuard // refuses events too far after the clock's time
	total  svcCounts
	// byChannel and byQueue are the counts of each segment, by the name
	// id of its key.
	byChannel, byQueue []svcCounts
	// unattributed counts the reopens of issues whose state was
	// forgotten, which count in total only.
	unattributed int64
	// thresholds holds the T of each channel by its name id, as far as
	// looked up (threshold); only with ChannelThresholds.
	thresholds []time.Duration
}

// threshold returns the T of contact c of issue is, by the channel it
// counts under: its own, else the issue's first (as channelOf).
func (s *ServiceLevel) threshold(is *kpiState, c *kpiContact) time.Duration {
	if len(s.cfg.ChannelThresholds) == 0 {
		return s.cfg.Threshold
	}
	return s.channelThreshold(is, c)
}

// channelThreshold is threshold with ChannelThresholds.
//
//go:noinline
func (s *ServiceLevel) channelThreshold(is *kpiState, c *kpiContact) time.Duration {
	ch := c.channel
	if ch == 0 {
		ch = is.channel
	}
	for id := uint32(len(s.thresholds)); id <= ch; id++ {
		t, ok := s.cfg.ChannelThresholds[s.names.names[id]]
		if !ok {
			t = s.cfg.Threshold
		}
		s.thresholds = append(s.thresholds, t)
	}
	return s.thresholds[ch]
}

// NewServiceLevel returns a ServiceLevel projection that has seen nothing.
func NewServiceLevel(cfg ServiceConfig) (*ServiceLevel, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.ChannelThresholds = maps.Clone(cfg.ChannelThresholds) // the caller may change theirs
	s := &ServiceLevel{cfg: cfg, names: newKPINames()}
	s.h = newKPIHorizon(cfg.Lateness, func(is *kpiState, e events.Envelope) bool { return s.foldIssue(is, &e) })
	s.future = newFutureGuard(cfg.MaxFuture, "ServiceConfig.MaxFuture")
	return s, nil
}

// Apply absorbs one event, in any order and with duplicates. An invalid
// event, or one whose time lies outside the years that the codecs
// write (events.InTimeRange: 1678 to 2261), is refused with an error that wraps
// events.ErrInvalidEvent; one further after the clock's time than
// MaxFuture, with an error that wraps ErrFutureEvent.
func (s *ServiceLevel) Apply(e events.Envelope) error {
	if err := kpiCheckEvent("service level", &e, &s.future); err != nil {
		return err
	}
	s.h.offer(&e)
	return nil
}

func (s *ServiceLevel) foldIssue(is *kpiState, e *events.Envelope) bool {
	if kpiIgnores(is, e) {
		return false
	}
	var t svcTouched
	s.before(is, e, &t)
	is.apply(e, s.names)
	s.after(is, &t)
	return true
}

// svcTouched is what ServiceLevel notes of the contacts that an event
// changes, before it is applied: an event changes at most two contacts,
// its own and, for a reopen, the one whose resolution it undoes. Only
// they are counted again.
type svcTouched struct {
	ix     [2]int32
	n      int
	before [2]svcOne
	// dropped: the contact stood in for one of the issue's forgotten
	// state (kcDropped), and its counts were in the total only.
	dropped [2]bool
}

// before notes in t the contacts that e changes and what they count.
func (s *ServiceLevel) before(is *kpiState, e *events.Envelope, t *svcTouched) {
	t.n = 0
	switch d := e.Data.(type) {
	case *events.Reopened:
		undone := is.resolvedOn - 1
		if undone < 0 {
			undone = is.index(0)
		}
		t.ix[0], t.ix[1], t.n = undone, is.index(s.names.key(d.Contact)), 2
		if t.ix[0] == t.ix[1] {
			t.n = 1
		}
	default:
		c, ok := kpiContactOf(e.Data)
		if !ok {
			return // nothing the queue numbers depend on
		}
		t.ix[0], t.n = is.index(s.names.key(c)), 1
	}
	for k, i := range t.ix[:t.n] {
		c := is.at(i)
		t.before[k] = c.counts(s.threshold(is, c))
		t.dropped[k] = c.has(kcDropped)
	}
}

// after counts the contacts noted in t again, once the event was applied.
func (s *ServiceLevel) after(is *kpiState, t *svcTouched) {
	for k, i := range t.ix[:t.n] {
		s.recount(is, is.at(i), &t.before[k], t.dropped[k])
	}
}

// recount moves contact c of the issue from what it counted, before, to
// what it counts now, in the total and under its channel and queue.
// wasDropped says that c stood in for a contact of the issue's forgotten
// state (kcDropped) before the event: what it counted then is in the
// total only.
func (s *ServiceLevel) recount(is *kpiState, c *kpiContact, before *svcOne, wasDropped bool) {
	after := c.counts(s.threshold(is, c))
	dropped := c.has(kcDropped)
	if wasDropped || dropped {
		// It stands in, or stood in, for a contact of the forgotten state
		// (one whose resolution a reopen undid, or that a resolution
		// named): what such a contact counts is in the total, and its
		// reopens under no segment, as its segments are not known.
		if wasDropped == dropped && after == *before {
			return
		}
		if wasDropped {
			b := before.one()
			s.total.add(&b, -1)
			s.unattributed -= int64(before.reopens)
		} else if *before != (svcOne{}) {
			// Counted under its segments until a reopen named it as the
			// stand-in: it counts in the total only from now on.
			b := before.one()
			s.total.add(&b, -1)
			kpiSegment(&s.byChannel, c.chSeg).add(&b, -1)
			kpiSegment(&s.byQueue, c.qSeg).add(&b, -1)
		}
		if dropped {
			a := after.one()
			s.total.add(&a, +1)
			s.unattributed += int64(after.reopens)
			c.chSeg, c.qSeg = 0, 0
			return
		}
		// An inbound event introduced it in this state: from now on it
		// counts under its segments, as any contact.
		*before = svcOne{}
	}
	ch, q := s.channelOf(is, c), s.queueOf(c)
	if after == *before && (after == (svcOne{}) || ch == c.chSeg && q == c.qSeg) {
		return // a contact that counts nothing needs no segment
	}
	if *before != (svcOne{}) {
		n := before.one()
		s.total.add(&n, -1)
		kpiSegment(&s.byChannel, c.chSeg).add(&n, -1)
		kpiSegment(&s.byQueue, c.qSeg).add(&n, -1)
	}
	c.chSeg, c.qSeg = ch, q
	if after != (svcOne{}) {
		n := after.one()
		s.total.add(&n, +1)
		kpiSegment(&s.byChannel, ch).add(&n, +1)
		kpiSegment(&s.byQueue, q).add(&n, +1)
	}
}

// fromFormat1 moves the counts of the contacts that h tracks, restored from
// a snapshot of format 1, to the rules of today: a contact abandoned before
// any routing then counted as handled when consulted on, and its handle
// time in AHT (countsFormat1). Contacts no longer tracked keep what they
// counted, as they can change no more.
func (s *ServiceLevel) fromFormat1(h *kpiHorizon[kpiState]) {
	h.each(func(_ uuid.UUID, is *kpiState, _ bool) {
		for i := range is.n {
			c := is.at(i)
			if old := c.countsFormat1(s.threshold(is, c)); old != c.counts(s.threshold(is, c)) {
				s.recount(is, c, &old, c.has(kcDropped))
			}
		}
	})
}

// fromUnmarkedStandIns moves the stand-ins for forgotten contacts that h
// tracks, restored from a snapshot of a build that did not mark them (one
// before 93f1ea2: formats 1 to 3), to the rule of today. In a state that
// began after its issue's state was forgotten (it saw no opening: channel
// 0), a contact that no inbound event introduced is one of the forgotten
// state, which counted it; kpiState.index marks it kcDropped, and it
// counts its resolutions, and their reopens, in the total alone. Such a
// build counted it offered, answered and handled a second time under its
// segments ("(unknown)", "(none)"), and went on doing so at every later
// event of it. What issues no longer tracked counted stays.
func (s *ServiceLevel) fromUnmarkedStandIns(h *kpiHorizon[kpiState]) {
	h.each(func(_ uuid.UUID, is *kpiState, _ bool) {
		if is.channel != 0 {
			return
		}
		for i := range is.n {
			c := is.at(i)
			if c.has(kcInbound | kcDropped) {
				continue
			}
			before := c.counts(s.threshold(is, c))
			c.flags |= kcDropped
			s.recount(is, c, &before, false)
		}
	})
}

// countsFormat1 is counts by the rules of snapshot format 1.
func (c *kpiContact) countsFormat1(threshold time.Duration) svcOne {
	n := c.counts(threshold)
	if !c.routed() && c.has(kcAbandoned) {
		if c.has(kcConsulted) {
			n.bits |= sbHandled | sbConsulted
		}
		if c.handle > 0 {
			n.bits |= sbTimed
			n.handle = c.handle
		}
	}
	return n
}

// channelOf returns the name id of the channel segment of contact c: its
// own channel, else the issue's first.
func (s *ServiceLevel) channelOf(is *kpiState, c *kpiContact) uint32 {
	if c.has(kcDropped) {
		return s.names.unknown
	}
	return s.names.or(s.names.or(c.channel, is.channel), s.names.unknown)
}

// queueOf returns the name id of the queue segment of contact c.
func (s *ServiceLevel) queueOf(c *kpiContact) uint32 {
	switch {
	case c.has(kcDropped):
		return s.names.unknown
	case c.queue != 0:
		return c.queue
	case c.has(kcAbandoned):
		return s.names.unknown
	}
	return s.names.none
}
