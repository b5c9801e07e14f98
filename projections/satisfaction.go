package projections

import (
	"time"

	"github.com/google/uuid"

	"github.com/truefcr/truefcr/events"
)

// SatisfactionConfig configures a Satisfaction projection. The zero value
// is valid and means the defaults.
type SatisfactionConfig struct {
	// Lateness is how far behind the watermark (the latest event time
	// seen) an event may arrive and still count, and how long a resolved
	// issue stays in memory after its last event, so that a survey
	// answered later still finds the contact it rates; 24 h if zero.
	Lateness time.Duration
}

func (c *SatisfactionConfig) setDefaults() {
	if c.Lateness == 0 {
		c.Lateness = kpiDefaultLateness
	}
}

// Validate reports a SatisfactionConfig that cannot work: a negative
// lateness. The error wraps ErrKPIConfig.
func (c SatisfactionConfig) Validate() error { return kpiCheckLateness("satisfaction", c.Lateness) }

// satAttributionRule is the attribution rule, stated in the report.
const satAttributionRule = "a rating counts under the channel and agent of the contact it names, else of the issue's resolving contact " +
	"at the time of the rating, else of its latest contact; under the issue's current topic; and under the wait of that contact's " +
	"first routing, else of the issue's first answered contact"

// Satisfaction is the projection of survey answers: CSAT (1–5: the mean
// and the top-2 box, 4 and 5), NPS (0–10: % promoters 9–10 − % detractors
// 0–6) and CES (1–7: the mean and the share of 5–7), in total and by
// channel, topic, agent and wait-time bucket.
//
// The rules of attribution:
//   - The rated contact is the contact the answer names; when it names
//     none, the contact the issue was last resolved on before the answer;
//     when the issue was not resolved yet, its latest inbound contact.
//   - Channel is the rated contact's channel. Agent is who resolved on it
//     ("bot" for a bot without a name), else the agent of its last
//     routing, else "(none)".
//   - Topic is the issue's current topic: a later issue.classified moves
//     the issue's answers to the new topic while the issue is in memory.
//   - The wait is that of the rated contact's first routing, else of the
//     issue's first answered contact; buckets are 0–30 s, 30–90 s,
//     90–150 s, 150–180 s and 180 s+ (lower bound included), and
//     "(unqueued)" for issues that never waited in a queue.
//   - An answer to an issue whose state was forgotten (it came Lateness or
//     more after the issue's last event) counts in the totals and under
//     "(unknown)" where the state would have named the segment.
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
// The report depends on the set of events within the lateness, not on
// their order. It is not safe for concurrent use.
type Satisfaction struct {
	cfg       SatisfactionConfig
	h         kpiHorizon[satIssue]
	total     satCounts
	byChannel map[string]*satCounts
	byTopic   map[string]*satCounts
	byAgent   map[string]*satCounts
	byWait    [satUnknown + 1]satCounts
}

// NewSatisfaction returns a Satisfaction projection that has seen nothing.
func NewSatisfaction(cfg SatisfactionConfig) (*Satisfaction, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Satisfaction{
		cfg:       cfg,
		byChannel: make(map[string]*satCounts),
		byTopic:   make(map[string]*satCounts),
		byAgent:   make(map[string]*satCounts),
	}
	s.h = newKPIHorizon(cfg.Lateness, func(is *satIssue, e events.Envelope) { s.foldIssue(is, &e) })
	return s, nil
}

// Apply absorbs one event, in any order and with duplicates. An invalid
// event, or one whose time lies outside the years 1678 to 2262 (the range
// of Unix nanoseconds), is refused with an error that wraps
// events.ErrInvalidEvent.
func (s *Satisfaction) Apply(e events.Envelope) error {
	if err := kpiCheckEvent("satisfaction", e); err != nil {
		return err
	}
	s.h.offer(&e)
	return nil
}

// applyOrdered absorbs the next event of its issue in version order.
func (s *Satisfaction) applyOrdered(e events.Envelope) error {
	s.h.foldOrdered(&e)
	return nil
}

func (s *Satisfaction) foldIssue(is *satIssue, e *events.Envelope) {
	switch e.Data.(type) {
	case *events.Consulted, *events.Abandoned, nil:
		return // nothing attribution depends on
	case *events.Rated:
		// An answer moves no other: only it is counted.
		is.apply(e)
		s.account(is, is.ratings.len()-1, +1)
		return
	}
	// Only answers are counted: an issue without any needs no re-count.
	rated := is.ratings.len() > 0
	if rated {
		s.account(is, 0, -1)
	}
	is.apply(e)
	if rated {
		s.account(is, 0, +1)
	}
}

// account adds (sign +1) or removes (sign -1) the issue's answers from
// the one at index from on.
func (s *Satisfaction) account(is *satIssue, from int, sign int64) {
	topic := kpiKey(is.topic, kpiUnknown)
	for i := from; i < is.ratings.len(); i++ {
		r := *is.ratings.at(i)
		channel, agent, bucket := is.attribution(int(r.on))
		s.total.add(r, sign)
		kpiSegment(s.byChannel, channel).add(r, sign)
		kpiSegment(s.byTopic, topic).add(r, sign)
		kpiSegment(s.byAgent, agent).add(r, sign)
		s.byWait[bucket].add(r, sign)
	}
}

// satIssue is what Satisfaction keeps of one issue in the horizon.
type satIssue struct {
	// Indexes+1 into contacts, 0 for none.
	resolvedOn, latest, firstAnswered int
	contacts                          kpiList[satContact]
	topic, channel                    string
	ratings                           kpiList[satRating]
}

type satContact struct {
	id       uuid.UUID
	channel  string
	agent    string // of the last routing
	resolver string
	routed   bool
	wait     time.Duration // of the first routing
}

// satRating is one answer and the contact it is attributed to (index+1).
type satRating struct {
	on     int32
	score  int16
	survey satSurvey
}

// satSurvey is a survey kind, held in a byte.
type satSurvey uint8

// The survey kinds the projection counts; satOther is none of them.
const (
	satOther satSurvey = iota
	satCSAT
	satNPS
	satCES
)

func satSurveyOf(s events.Survey) satSurvey {
	switch s {
	case events.SurveyCSAT:
		return satCSAT
	case events.SurveyNPS:
		return satNPS
	case events.SurveyCES:
		return satCES
	}
	return satOther
}

func (is *satIssue) index(id uuid.UUID) int {
	for i := range is.contacts.len() {
		if is.contacts.at(i).id == id {
			return i
		}
	}
	return is.contacts.add(satContact{id: id})
}

func (is *satIssue) inbound(id uuid.UUID, channel string) {
	i := is.index(id)
	is.contacts.at(i).channel = channel
	is.latest = i + 1
}

func (is *satIssue) apply(e *events.Envelope) {
	switch d := e.Data.(type) {
	case *events.Opened:
		is.topic, is.channel = d.Topic, d.Channel
		is.inbound(d.Contact, d.Channel)
	case *events.Contacted:
		is.inbound(d.Contact, d.Channel)
	case *events.Reopened:
		is.inbound(d.Contact, d.Channel)
	case *events.Classified:
		is.topic = d.Topic
	case *events.Routed:
		i := is.index(d.Contact)
		c := is.contacts.at(i)
		if !c.routed {
			c.routed, c.wait = true, d.Wait
		}
		c.agent = kpiKey(d.Agent, c.agent)
		if is.firstAnswered == 0 {
			is.firstAnswered = i + 1
		}
	case *events.Resolved:
		i := is.index(d.Contact)
		switch {
		case d.Agent != "":
			is.contacts.at(i).resolver = d.Agent
		case d.Bot:
			is.contacts.at(i).resolver = "bot"
		}
		is.resolvedOn = i + 1
	case *events.Rated:
		on := is.resolvedOn
		if on == 0 {
			on = is.latest
		}
		if d.Contact != uuid.Nil {
			on = is.index(d.Contact) + 1
		}
		is.ratings.add(satRating{survey: satSurveyOf(d.Survey), score: int16(d.Score), on: int32(on)})
	}
}

// attribution returns the channel, agent and wait bucket of contact on.
func (is *satIssue) attribution(on int) (channel, agent string, bucket int) {
	missing, bucket := kpiNone, satUnqueued
	if is.channel == "" { // issue.opened was not seen: the state was dropped
		missing, bucket = kpiUnknown, satUnknown
	}
	channel = is.channel
	if on > 0 {
		c := is.contacts.at(on - 1)
		channel = kpiKey(c.channel, channel)
		agent = kpiKey(c.resolver, c.agent)
		if c.routed {
			return kpiKey(channel, kpiUnknown), kpiKey(agent, missing), satBucket(c.wait)
		}
	}
	if is.firstAnswered > 0 {
		bucket = satBucket(is.contacts.at(is.firstAnswered - 1).wait)
	}
	return kpiKey(channel, kpiUnknown), kpiKey(agent, missing), bucket
}
