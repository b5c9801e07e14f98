package projections

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

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
	// ValueUnknown is the category of the contacts of an issue whose
	// topic is not known: its state was forgotten and no reclassification
	// named a topic since (see Volume).
	ValueUnknown Value = kpiUnknown
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

func (c *VolumeConfig) setDefaults() {
	if c.Lateness == 0 {
		c.Lateness = kpiDefaultLateness
	}
	kpiDefaultMinSample(&c.MinSample)
	c.MaxFuture = maxFutureOr(c.MaxFuture, c.Lateness)
}

// Validate reports a VolumeConfig that cannot work: a negative lateness
// or minimum sample, an empty topic or one with a leading or trailing
// "/", a value other than customer, company, both and neither. The error
// wraps ErrKPIConfig.
func (c VolumeConfig) Validate() error {
	if err := kpiCheckMinSample("volume", c.MinSample); err != nil {
		return err
	}
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
	"backlog ages run from the issue's opening, or from the reopen or follow-up contact that opened it again when its " +
	"state was forgotten (an event a lateness or more after its last event), with the topic (unknown) until a reclassification"

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
//     contact was abandoned), aged from their opening. An issue reopened
//     when its state was forgotten (see below) joins it once the reopen
//     has waited its lateness, aged from the reopen (so too when a late
//     survey found the state forgotten before the reopen came), under the
//     topic "(unknown)" until a reclassification names one.
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
	cfg    VolumeConfig
	names  *kpiNames
	h      kpiHorizon[kpiState]
	future futureGuard // refuses events too far after the clock's time

	contacts              int64
	byChannel, byTopic    []int64         // by the name id of the key
	byDay                 map[int64]int64 // by days since 1970-01-01 UTC
	byValue               map[Value]int64
	values                []Value // the value category of each topic, by name id; "" until looked up
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
		cfg:     cfg,
		names:   newKPINames(),
		byDay:   make(map[int64]int64),
		byValue: make(map[Value]int64),
	}
	v.h = newKPIHorizon(cfg.Lateness, func(is *kpiState, e events.Envelope) bool { return v.foldIssue(is, &e) })
	v.future = newFutureGuard(cfg.MaxFuture, "VolumeConfig.MaxFuture")
	return v, nil
}

// Apply absorbs one event, in any order and with duplicates. An invalid
// event, or one whose time lies outside the years that the codecs
// write (events.InTimeRange: 1678 to 2261), is refused with an error that wraps
// events.ErrInvalidEvent; one further after the clock's time than
// MaxFuture, with an error that wraps ErrFutureEvent.
func (v *Volume) Apply(e events.Envelope) error {
	if err := kpiCheckEvent("volume", &e, &v.future); err != nil {
		return err
	}
	v.h.offer(&e)
	return nil
}

// foldIssue follows each change of the issue into the counts: an event
// changes at most one contact, the issue's topic or whether its opening
// was seen.
func (v *Volume) foldIssue(is *kpiState, e *events.Envelope) bool {
	if kpiIgnores(is, e) {
		return false
	}
	var t volTouched
	v.before(is, e, &t)
	is.apply(e, v.names)
	v.after(is, e, &t)
	return true
}

// volTouched is what Volume notes of an issue before an event is applied:
// the contact the event is about, as it was, and the topic.
type volTouched struct {
	ix    int32 // the contact's index, -1 for none
	was   kpiContact
	topic uint32
}

// before notes in t what e may change.
func (v *Volume) before(is *kpiState, e *events.Envelope, t *volTouched) {
	t.ix, t.topic = -1, is.topic
	if id, ok := kpiContactOf(e.Data); ok {
		t.ix = is.index(v.names.key(id))
		t.was = *is.at(t.ix)
	}
}

// after counts what e changed since before noted t.
func (v *Volume) after(is *kpiState, e *events.Envelope, t *volTouched) {
	switch e.Data.(type) {
	case *events.Resolved:
		v.resolutions++
	case *events.Reopened:
		v.reopens++
	case *events.Opened:
		if !is.opened {
			is.opened = true
			v.issues++
			v.issueContacts += int64(is.counted)
			v.perIssue[min(int(is.counted), volPerIssueBuckets-1)]++
		}
	}
	if is.topic != t.topic {
		v.movedTopic(is, t.topic)
	}
	if t.ix >= 0 {
		v.moved(is, is.at(t.ix), &t.was)
	}
}

// volCounted reports whether contact c counts: an inbound contact that was
// routed or not abandoned.
func volCounted(c *kpiContact) bool {
	return c.has(kcInbound) && (c.routed() || !c.has(kcAbandoned))
}

// moved counts contact c as it is now instead of as it was.
func (v *Volume) moved(is *kpiState, c, was *kpiContact) {
	wasCounted, counted := volCounted(was), volCounted(c)
	if wasCounted == counted && (!counted || c.channel == was.channel && c.day == was.day) {
		return
	}
	if wasCounted {
		*kpiSegment(&v.byChannel, was.channel) -= 1
		v.byDay[int64(was.day)]--
	}
	if counted {
		*kpiSegment(&v.byChannel, c.channel) += 1
		v.byDay[int64(c.day)]++
	}
	switch {
	case counted && !wasCounted:
		v.counted(is, +1)
	case wasCounted && !counted:
		v.counted(is, -1)
	}
}

// counted adds d to the issue's counted contacts.
func (v *Volume) counted(is *kpiState, d int32) {
	v.contacts += int64(d)
	*kpiSegment(&v.byTopic, v.topicKey(is.topic)) += int64(d)
	if v.cfg.Values != nil {
		v.byValue[v.valueOf(is.topic)] += int64(d)
	}
	if is.opened {
		v.issueContacts += int64(d)
		v.perIssue[min(int(is.counted), volPerIssueBuckets-1)]--
		v.perIssue[min(int(is.counted+d), volPerIssueBuckets-1)]++
	}
	is.counted += d
}

// movedTopic moves the issue's counted contacts from topic was to its
// current topic.
func (v *Volume) movedTopic(is *kpiState, was uint32) {
	n := int64(is.counted)
	if n == 0 {
		return
	}
	if from, to := v.topicKey(was), v.topicKey(is.topic); from != to {
		*kpiSegment(&v.byTopic, from) -= n
		*kpiSegment(&v.byTopic, to) += n
	}
	if from, to := v.valueOf(was), v.valueOf(is.topic); v.cfg.Values != nil && from != to {
		v.byValue[from] -= n
		v.byValue[to] += n
	}
}

// topicKey returns the name id of the topic segment of topic: "(unknown)"
// when the issue's opening was never seen.
func (v *Volume) topicKey(topic uint32) uint32 { return volTopicKey(v.names, topic) }

// volTopicKey is Volume.topicKey with the names table names.
func volTopicKey(names *kpiNames, topic uint32) uint32 { return names.or(topic, names.unknown) }

// valueOf returns the value category of the topic with name id topic,
// "(unknown)" when the issue's opening was never seen.
func (v *Volume) valueOf(topic uint32) Value {
	if int(topic) >= len(v.values) {
		v.values = append(v.values, make([]Value, int(topic)+1-len(v.values))...)
	}
	if v.values[topic] == "" {
		v.values[topic] = v.cfg.valueOf(v.names, topic)
	}
	return v.values[topic]
}

// valueOf is Volume.valueOf with the names table names, uncached.
func (c *VolumeConfig) valueOf(names *kpiNames, topic uint32) Value {
	if topic == 0 {
		return ValueUnknown
	}
	return c.value(names.names[topic])
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
