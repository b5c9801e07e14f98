package projections

import (
	"cmp"
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
// Open issues stay in memory until resolved: they are the backlog. The
// report depends on the set of events, not on their order. It is not safe
// for concurrent use.
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
	v.h = newKPIHorizon[volIssue](cfg.Lateness, v.applyOrdered)
	return v, nil
}

// Apply absorbs one event, in any order and with duplicates. An invalid
// event is refused with an error that wraps events.ErrInvalidEvent.
func (v *Volume) Apply(e events.Envelope) error { return v.h.offer(e) }

// applyOrdered absorbs the next event of its issue in version order.
func (v *Volume) applyOrdered(e events.Envelope) error { return v.h.fold(e, v.foldIssue) }

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
			v.byValue[is.value] += sign * n
		}
	}
	if is.opened {
		v.issues += sign
		v.issueContacts += sign * n
		v.perIssue[min(n, volPerIssueBuckets-1)] += sign
	}
}

// volPerIssueBuckets: issues with 0, 1, 2, 3 and 4 or more contacts.
const volPerIssueBuckets = 5

// Report returns the figures as of the events absorbed so far.
func (v *Volume) Report() VolumeReport {
	r := VolumeReport{
		Definition: VolumeDefinition{
			LatenessS: v.cfg.Lateness.Seconds(),
			Values:    maps.Clone(v.cfg.Values),
			Contacts:  volRule,
		},
		Contacts:         v.contacts,
		ByChannel:        volNonZero(v.byChannel),
		ByTopic:          volNonZero(v.byTopic),
		ByDay:            volNonZero(v.byDay),
		Issues:           v.issues,
		ContactsPerIssue: kpiShare(v.issueContacts, v.issues),
		IssuesByContacts: make(map[string]int64, volPerIssueBuckets),
		Resolutions:      v.resolutions,
		Reopens:          v.reopens,
		Reopen:           kpiRate(v.reopens, v.resolutions),
		Backlog:          v.backlog(),
		LateEvents:       v.h.late,
		HeldEvents:       v.h.held(),
		TrackedIssues:    len(v.h.issues),
	}
	r.ReopenRate = r.Reopen.Value
	for i, n := range v.perIssue {
		key := fmt.Sprint(i)
		if i == volPerIssueBuckets-1 {
			key += "+"
		}
		r.IssuesByContacts[key] = n
	}
	if v.cfg.Values != nil {
		r.ByValue = make(map[Value]int64, len(v.byValue))
		for k, n := range v.byValue {
			if n != 0 {
				r.ByValue[k] = n
			}
		}
	}
	r.Reasons = make([]Reason, 0, len(r.ByTopic))
	for topic, n := range r.ByTopic {
		r.Reasons = append(r.Reasons, Reason{Topic: topic, Contacts: n, Share: kpiRate(n, v.contacts)})
	}
	slices.SortFunc(r.Reasons, func(a, b Reason) int {
		return cmp.Or(cmp.Compare(b.Contacts, a.Contacts), cmp.Compare(a.Topic, b.Topic))
	})
	var cum int64
	for i := range r.Reasons {
		cum += r.Reasons[i].Contacts
		r.Reasons[i].Cumulative = kpiShare(cum, v.contacts)
	}
	if !v.h.watermark.IsZero() {
		r.Watermark = v.h.watermark
	}
	return r
}

func volNonZero(m map[string]int64) map[string]int64 {
	out := make(map[string]int64, len(m))
	for k, n := range m {
		if n != 0 {
			out[k] = n
		}
	}
	return out
}

func (v *Volume) backlog() Backlog {
	b := Backlog{ByAge: make([]AgeBucket, volAgeBuckets)}
	for i := range b.ByAge {
		b.ByAge[i].Bucket, b.ByAge[i].FromS, b.ByAge[i].ToS = volAgeBounds(i)
	}
	var total time.Duration
	var oldest uuid.UUID
	for id, is := range v.h.issues {
		if !is.open {
			continue
		}
		age := v.h.watermark.Sub(is.state.since)
		b.Open++
		total += age
		b.ByAge[volAgeBucket(age)].Issues++
		if b.Oldest == nil || is.state.since.Before(b.Oldest.Since) ||
			is.state.since.Equal(b.Oldest.Since) && id.String() < oldest.String() {
			b.Oldest = &BacklogIssue{Issue: id, Since: is.state.since, AgeS: age.Seconds(), Topic: kpiKey(is.state.topic, kpiUnknown)}
			oldest = id
		}
	}
	if b.Open > 0 {
		b.MeanAgeS = total.Seconds() / float64(b.Open)
	}
	return b
}

// The backlog age buckets.
const volAgeBuckets = 5

func volAgeBounds(i int) (name string, from, to float64) {
	const h, d = 3600, 24 * 3600
	switch i {
	case 0:
		return "0-4h", 0, 4 * h
	case 1:
		return "4h-1d", 4 * h, d
	case 2:
		return "1d-3d", d, 3 * d
	case 3:
		return "3d-7d", 3 * d, 7 * d
	}
	return "7d+", 7 * d, 0
}

func volAgeBucket(age time.Duration) int {
	switch {
	case age < 4*time.Hour:
		return 0
	case age < 24*time.Hour:
		return 1
	case age < 3*24*time.Hour:
		return 2
	case age < 7*24*time.Hour:
		return 3
	}
	return 4
}

// VolumeReport is the report of a Volume projection.
type VolumeReport struct {
	Definition VolumeDefinition `json:"definition"`
	// Contacts counts the answered inbound contacts.
	Contacts  int64            `json:"contacts"`
	ByChannel map[string]int64 `json:"by_channel"`
	ByTopic   map[string]int64 `json:"by_topic"`
	// ByDay is keyed by UTC date, "2006-01-02".
	ByDay map[string]int64 `json:"by_day"`
	// ByValue is by contact value category; nil when no topic is tagged.
	ByValue map[Value]int64 `json:"by_value,omitempty"`
	// Reasons are the topics by contacts, most first, with their share of
	// all contacts and the cumulative share: the contact reasons Pareto.
	Reasons []Reason `json:"reasons"`
	// Issues counts the issues whose issue.opened was seen;
	// ContactsPerIssue is their mean number of contacts.
	Issues           int64   `json:"issues"`
	ContactsPerIssue float64 `json:"contacts_per_issue"`
	// IssuesByContacts counts those issues by their number of contacts:
	// "0" (only abandoned), "1", "2", "3", "4+".
	IssuesByContacts map[string]int64 `json:"issues_by_contacts"`
	Resolutions      int64            `json:"resolutions"`
	Reopens          int64            `json:"reopens"`
	// ReopenRate is Reopen.Value, reopens over resolutions.
	ReopenRate float64 `json:"reopen_rate"`
	Reopen     Rate    `json:"reopen"`
	Backlog    Backlog `json:"backlog"`
	// Watermark is the latest event time seen.
	Watermark time.Time `json:"watermark"`
	// LateEvents counts events that came later than the lateness allows
	// and were not applied.
	LateEvents int64 `json:"late_events"`
	// HeldEvents counts events that wait for an earlier event of their issue.
	HeldEvents int `json:"held_events"`
	// TrackedIssues is how many issues the projection holds in memory.
	TrackedIssues int `json:"tracked_issues"`
}

// VolumeDefinition states the parameters and rules a VolumeReport was
// computed with.
type VolumeDefinition struct {
	LatenessS float64          `json:"lateness_s"`
	Values    map[string]Value `json:"values,omitempty"`
	Contacts  string           `json:"contacts"`
}

// Reason is one topic of the contact reasons Pareto.
type Reason struct {
	Topic    string `json:"topic"`
	Contacts int64  `json:"contacts"`
	// Share is Contacts over all contacts, with its interval.
	Share Rate `json:"share"`
	// Cumulative is the share of this topic and all the larger ones.
	Cumulative float64 `json:"cumulative_share"`
}

// Backlog is the issues open at the watermark and their ages.
type Backlog struct {
	Open     int64   `json:"open"`
	MeanAgeS float64 `json:"mean_age_s"`
	// ByAge counts the open issues by age: 0–4 h, 4 h–1 d, 1–3 d, 3–7 d,
	// 7 d+ (lower bound included).
	ByAge []AgeBucket `json:"by_age"`
	// Oldest is the open issue with the earliest first event; nil when
	// none is open.
	Oldest *BacklogIssue `json:"oldest,omitempty"`
}

// AgeBucket counts the open issues aged between FromS (included) and ToS
// seconds; ToS is 0 for the open-ended last bucket.
type AgeBucket struct {
	Bucket string  `json:"bucket"`
	FromS  float64 `json:"from_s"`
	ToS    float64 `json:"to_s"`
	Issues int64   `json:"issues"`
}

// BacklogIssue is one open issue of the backlog.
type BacklogIssue struct {
	Issue uuid.UUID `json:"issue"`
	Topic string    `json:"topic"`
	// Since is the time of the issue's first event.
	Since time.Time `json:"since"`
	AgeS  float64   `json:"age_s"`
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
