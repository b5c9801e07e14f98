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
	// seen) an event may arrive and still count, and how long after its
	// last event a resolved issue's state takes further events, so that a
	// survey answered later still finds the contact it rates (it stays in
	// memory up to twice that); 24 h if zero.
	Lateness time.Duration
	// MinSample is the denominator below which a rate is flagged as a
	// small sample; MinReliable if zero.
	MinSample int64
	// MaxFuture is how far after the clock's time an event may be, as in
	// FCRConfig: 0 means DefaultMaxFuture or half the lateness, whichever
	// is less; a negative value, no limit.
	MaxFuture time.Duration
}

func (c *SatisfactionConfig) setDefaults() {
	if c.Lateness == 0 {
		c.Lateness = kpiDefaultLateness
	}
	kpiDefaultMinSample(&c.MinSample)
	c.MaxFuture = maxFutureOr(c.MaxFuture, c.Lateness)
}

// Validate reports a SatisfactionConfig that cannot work: a negative
// lateness or minimum sample. The error wraps ErrKPIConfig.
func (c SatisfactionConfig) Validate() error {
	if err := kpiCheckMinSample("satisfaction", c.MinSample); err != nil {
		return err
	}
	return kpiCheckLateness("satisfaction", c.Lateness)
}

// satAttributionRule is the attribution rule, stated in the report.
const satAttributionRule = "a rating counts under the channel and agent of the contact it names, else of the issue's resolving contact " +
	"at the time of the rating, else of its latest contact; under the issue's current topic; and under the wait of that contact's " +
	"first routing, else how long it waited before it was abandoned in the queue, else of the issue's first answered contact, else of its first contact abandoned in the queue"

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
//     routing that named one, else "(none)".
//   - Topic is the issue's current topic: a later issue.classified moves
//     the issue's answers to the new topic while the issue is in memory.
//   - The wait is that of the rated contact's first routing, else how
//     long it waited before it was abandoned in the queue (a caller who
//     hung up and was called back), else that of the issue's first
//     answered contact, else that of its first contact abandoned in the
//     queue, first in the order the issue's contacts came (a caller who
//     hung up and then wrote; in a state begun after the issue's was
//     forgotten, the first contact that state saw answered or abandoned
//     so, else "(unknown)"); buckets are
//     0–30 s, 30–90 s, 90–150 s, 150–180 s and 180 s+ (lower bound
//     included), and "(unqueued)" for issues that never waited in a
//     queue. Waits count in whole milliseconds, as the wire format
//     carries them.
//   - An answer to an issue whose state was forgotten (it came Lateness or
//     more after the issue's last event, or after another such event that
//     began a fresh state) counts in the totals and under "(unknown)" where
//     the state would have named the segment; its agent too, when the
//     fresh state saw none named for the rated contact: a contact id may
//     come again (a reopen on the contact that was resolved), and the
//     fresh state cannot tell a new contact from one it forgot.
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
	cfg    SatisfactionConfig
	names  *kpiNames
	h      kpiHorizon[kpiState]
	future futureGuard // refuses events too far after the clock's time
	total  satCounts
	// The counts of each segment, by the name id of its key.
	byChannel, byTopic, byAgent []satCounts
	byWait                      [satUnknown + 1]satCounts
}

// NewSatisfaction returns a Satisfaction projection that has seen nothing.
func NewSatisfaction(cfg SatisfactionConfig) (*Satisfaction, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Satisfaction{cfg: cfg, names: newKPINames()}
	s.h = newKPIHorizon(cfg.Lateness, func(is *kpiState, e events.Envelope) bool { return s.foldIssue(is, &e) })
	s.future = newFutureGuard(cfg.MaxFuture, "SatisfactionConfig.MaxFuture")
	return s, nil
}

// Apply absorbs one event, in any order and with duplicates. An invalid
// event, or one whose time lies outside the years that the codecs
// write (events.InTimeRange: 1678 to 2261), is refused with an error that wraps
// events.ErrInvalidEvent; one further after the clock's time than
// MaxFuture, with an error that wraps ErrFutureEvent.
func (s *Satisfaction) Apply(e events.Envelope) error {
	if err := kpiCheckEvent("satisfaction", &e, &s.future); err != nil {
		return err
	}
	s.h.offer(&e)
	return nil
}

func (s *Satisfaction) foldIssue(is *kpiState, e *events.Envelope) bool {
	if kpiIgnores(is, e) {
		return false
	}
	recount := s.before(is, e)
	is.apply(e, s.names)
	s.after(is, e, recount)
	return true
}

// before takes the issue's answers out of the counts when e may move
// them, and reports whether it did: an answer moves with the contact and
// topic it is attributed to, which only some events change.
func (s *Satisfaction) before(is *kpiState, e *events.Envelope) bool {
	switch e.Data.(type) {
	case *events.Consulted, *events.Rated, nil:
		// Nothing attribution depends on, or an answer, which moves no
		// other: after counts it alone. (An abandonment gives its
		// contact the wait that answers on it count under.)
		return false
	}
	// Only answers are counted: an issue without any needs no re-count.
	if len(is.ratings()) == 0 {
		return false
	}
	s.account(is, 0, -1)
	return true
}

// after counts the answers that before took out, or the answer that e
// added.
func (s *Satisfaction) after(is *kpiState, e *events.Envelope, recount bool) {
	if recount {
		s.account(is, 0, +1)
	} else if _, ok := e.Data.(*events.Rated); ok {
		s.account(is, len(is.ratings())-1, +1)
	}
}

// account adds (sign +1) or removes (sign -1) the issue's answers from
// the one at index from on.
func (s *Satisfaction) account(is *kpiState, from int, sign int64) {
	topic := s.names.or(is.topic, s.names.unknown)
	for _, r := range is.ratings()[from:] {
		channel, agent, bucket := s.attribution(is, r.on)
		s.total.add(r, sign)
		kpiSegment(&s.byChannel, channel).add(r, sign)
		kpiSegment(&s.byTopic, topic).add(r, sign)
		kpiSegment(&s.byAgent, agent).add(r, sign)
		s.byWait[bucket].add(r, sign)
	}
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

// attribution returns the name ids of the channel and agent, and the
// wait bucket, of contact on (an index+1, 0 for none) of the issue.
func (s *Satisfaction) attribution(is *kpiState, on int32) (channel, agent uint32, bucket int) {
	return satAttribution(s.names, is, on, kpiSnapFormat)
}

// satAttribution is attribution with names, by the rule of KPI snapshot
// format: before 6, an answer that takes its wait from an issue of which
// no contact was answered is unqueued (unknown, in a state begun after
// the issue's was forgotten).
func satAttribution(n *kpiNames, is *kpiState, on int32, format int) (channel, agent uint32, bucket int) {
	missing, bucket := n.none, satUnqueued
	if is.channel == 0 { // issue.opened was not seen: the state was dropped
		missing, bucket = n.unknown, satUnknown
	}
	channel = is.channel
	if on > 0 {
		c := is.at(on - 1)
		channel = n.or(c.channel, channel)
		agent = n.or(c.resolver, c.agent)
		if is.waitedOn(on) {
			return n.or(channel, n.unknown), n.or(agent, missing), satBucket(c.wait)
		}
	}
	if is.firstAnswered > 0 {
		bucket = satBucket(is.at(is.firstAnswered - 1).wait)
	} else if w := is.firstWaited(); w >= 0 && format >= 6 {
		bucket = satBucket(is.at(w).wait)
	}
	return n.or(channel, n.unknown), n.or(agent, missing), bucket
}

// fromFormat5 moves the answers of the issues that h tracks, restored from
// a snapshot of format 5 or before, to the rule of today: an answer that
// takes its wait from the issue rather than from its contact, in an issue
// of which no contact was answered, counted as unqueued (or unknown, in a
// state begun after the issue's was forgotten) even when a contact had
// waited in the queue before it was abandoned. Issues no longer tracked
// keep what they counted, as they can change no more.
func (s *Satisfaction) fromFormat5(h *kpiHorizon[kpiState]) {
	h.each(func(_ uuid.UUID, is *kpiState, _ bool) {
		for _, r := range is.ratings() {
			_, _, was := satAttribution(s.names, is, r.on, 5)
			if _, _, now := s.attribution(is, r.on); now != was {
				s.byWait[was].add(r, -1)
				s.byWait[now].add(r, +1)
			}
		}
	})
}
