package projections

import (
	"time"
)

// Report returns the figures as of the events absorbed so far.
func (s *ServiceLevel) Report() ServiceReport { return s.report(s.h.view()) }

// report is Report for the horizon the projection was fed through.
func (s *ServiceLevel) report(h kpiView) ServiceReport {
	r := ServiceReport{
		Definition: ServiceDefinition{
			ThresholdS:         s.cfg.Threshold.Seconds(),
			ChannelThresholdsS: channelThresholdsS(s.cfg.ChannelThresholds),
			LatenessS:          s.cfg.Lateness.Seconds(),
			MinSample:          s.cfg.MinSample,
			Offered:            svcOfferedRule,
			Handled:            svcHandledRule,
			AHT:                svcAHTRule,
			Segments:           svcSegmentRule,
		},
		ServiceFigures:      s.total.figures(s.cfg.MinSample),
		ByChannel:           svcFigures(s.byChannel, s.names, s.cfg.MinSample),
		ByQueue:             svcFigures(s.byQueue, s.names, s.cfg.MinSample),
		ReopensUnattributed: s.unattributed,
		LateEvents:          h.late,
		HeldEvents:          h.held,
		TrackedIssues:       h.tracked,
	}
	if !h.watermark.IsZero() {
		r.Watermark = h.watermark
	}
	return r
}

// channelThresholdsS returns ts in seconds, nil for none.
func channelThresholdsS(ts map[string]time.Duration) map[string]float64 {
	if len(ts) == 0 {
		return nil
	}
	out := make(map[string]float64, len(ts))
	for ch, t := range ts {
		out[ch] = t.Seconds()
	}
	return out
}

// svcFigures returns the figures of the segments that count anything, by
// their keys.
func svcFigures(segs []svcCounts, names *kpiNames, minSample int64) map[string]ServiceFigures {
	out := make(map[string]ServiceFigures)
	for id, n := range segs {
		if n != (svcCounts{}) {
			out[names.names[id]] = n.figures(minSample)
		}
	}
	return out
}

// ServiceReport is the report of a ServiceLevel projection. The totals are
// inline; ByChannel and ByQueue hold the same figures per segment.
type ServiceReport struct {
	Definition ServiceDefinition `json:"definition"`
	ServiceFigures
	ByChannel map[string]ServiceFigures `json:"by_channel"`
	ByQueue   map[string]ServiceFigures `json:"by_queue"`
	// ReopensUnattributed counts the reopens that came when their issue's
	// state was forgotten (the reopen, or an event before it such as a
	// late survey, came a lateness or more after the issue's last event
	// before it): they are in the total reopen rate, and under no channel
	// or queue.
	ReopensUnattributed int64 `json:"reopens_unattributed"`
	// Watermark is the latest event time seen.
	Watermark time.Time `json:"watermark,omitzero"`
	// LateEvents counts events that came later than the lateness allows
	// and were not applied.
	LateEvents int64 `json:"late_events"`
	// HeldEvents counts events that wait for an earlier event of their issue.
	HeldEvents int `json:"held_events"`
	// TrackedIssues is how many issues the projection holds in memory.
	TrackedIssues int `json:"tracked_issues"`
}

// ServiceDefinition states the parameters and rules a ServiceReport was
// computed with.
type ServiceDefinition struct {
	ThresholdS float64 `json:"threshold_s"`
	// ChannelThresholdsS are the thresholds of the channels that have
	// their own (ServiceConfig.ChannelThresholds); ThresholdS is that of
	// the others.
	ChannelThresholdsS map[string]float64 `json:"channel_thresholds_s,omitempty"`
	LatenessS          float64            `json:"lateness_s"`
	// MinSample is the denominator below which a rate is flagged small.
	MinSample int64  `json:"min_sample"`
	Offered   string `json:"offered"`
	Handled   string `json:"handled"`
	AHT       string `json:"aht"`
	Segments  string `json:"segments"`
}

// ServiceFigures are the queue numbers of a set of contacts.
type ServiceFigures struct {
	// Offered is Answered + Abandoned.
	Offered   int64 `json:"offered"`
	Answered  int64 `json:"answered"`
	Abandoned int64 `json:"abandoned"`
	// ASA is the total wait of answered contacts over answered contacts, in
	// seconds; each wait counts in whole milliseconds.
	ASA float64 `json:"asa_s"`
	// AbandonRate is Abandonment.Value: abandoned over offered.
	AbandonRate float64 `json:"abandon_rate"`
	Abandonment Rate    `json:"abandonment"`
	// ServiceLevel is answered within the threshold over offered.
	ServiceLevel Rate  `json:"service_level"`
	Handled      int64 `json:"handled"`
	// AHT is the total handle time over AHTContacts, in seconds; each
	// contact's handle time counts in whole milliseconds.
	AHT         float64 `json:"aht_s"`
	AHTContacts int64   `json:"aht_contacts"`
	// Transfer and Consult are over handled contacts.
	Transfer Rate `json:"transfer"`
	Consult  Rate `json:"consult"`
	// Reopen is reopens over resolutions. Resolutions and Reopens are
	// their counts as they stand, which the rate's hits are held to (a
	// reopen whose resolution came late, and was not applied, has none to
	// undo): a merge of reports adds them up.
	Reopen      Rate  `json:"reopen"`
	Resolutions int64 `json:"resolutions"`
	Reopens     int64 `json:"reopens"`
}

// svcCounts are the additive counts behind ServiceFigures. The waits and
// handle times are summed in whole milliseconds: in nanoseconds, the sum
// of a year of a centre's email waits (days each) would overflow.
type svcCounts struct {
	answered, abandoned, within int64
	waitMS                      int64
	handled, timed              int64
	handleMS                    int64
	transferred, consulted      int64
	resolutions, reopens        int64
}

// svcOne is what one contact adds to the counts of a segment: the counts
// that are 0 or 1 for a contact as bits, and the others. It is compared
// before and after every event, so it is kept small.
type svcOne struct {
	wait, handle         time.Duration
	resolutions, reopens int32
	bits                 svcBits
}

// svcBits are the counts of svcCounts that are 0 or 1 for one contact.
type svcBits uint8

const (
	sbAnswered svcBits = 1 << iota
	sbAbandoned
	sbWithin
	sbHandled
	sbTimed
	sbTransferred
	sbConsulted
)

// counts returns what contact c adds to the counts of a segment.
func (c *kpiContact) counts(threshold time.Duration) svcOne {
	var n svcOne
	n.resolutions = c.resolutions
	n.reopens = c.reopens
	if c.has(kcDropped) {
		// A contact of the issue's forgotten state, which counted it
		// then, named again by a later event (or the stand-in for one):
		// its resolutions and the reopens of them count, not the contact
		// again.
		return n
	}
	answered := c.routed()
	switch {
	case answered:
		n.bits |= sbAnswered
		n.wait = c.wait
		if c.wait <= threshold {
			n.bits |= sbWithin
		}
	case c.has(kcAbandoned):
		n.bits |= sbAbandoned
	}
	// A contact abandoned before any routing is never handled, even when
	// the issue is resolved on it (after a callback, or closed by the
	// helpdesk) or a consultation names it: nor does its handle time count.
	consulted := c.has(kcConsulted)
	if answered || (consulted || c.resolutions > 0) && !c.has(kcAbandoned) {
		n.bits |= sbHandled
		if c.routings > 1 {
			n.bits |= sbTransferred
		}
		if consulted {
			n.bits |= sbConsulted
		}
		if c.handle > 0 {
			n.bits |= sbTimed
			n.handle = c.handle
		}
	}
	return n
}

// one returns the counts of what one contact counts.
func (d *svcOne) one() svcCounts {
	bit := func(b svcBits) int64 {
		if d.bits&b != 0 {
			return 1
		}
		return 0
	}
	return svcCounts{
		answered: bit(sbAnswered), abandoned: bit(sbAbandoned), within: bit(sbWithin), waitMS: d.wait.Milliseconds(),
		handled: bit(sbHandled), timed: bit(sbTimed), handleMS: d.handle.Milliseconds(),
		transferred: bit(sbTransferred), consulted: bit(sbConsulted),
		resolutions: int64(d.resolutions), reopens: int64(d.reopens),
	}
}

// add adds (sign +1) or removes (sign -1) the counts d.
func (n *svcCounts) add(d *svcCounts, sign int64) {
	n.answered += sign * d.answered
	n.abandoned += sign * d.abandoned
	n.within += sign * d.within
	n.waitMS += sign * d.waitMS
	n.handled += sign * d.handled
	n.timed += sign * d.timed
	n.handleMS += sign * d.handleMS
	n.transferred += sign * d.transferred
	n.consulted += sign * d.consulted
	n.resolutions += sign * d.resolutions
	n.reopens += sign * d.reopens
}

func (n svcCounts) figures(minSample int64) ServiceFigures {
	offered := n.answered + n.abandoned
	f := ServiceFigures{
		Offered:      offered,
		Answered:     n.answered,
		Abandoned:    n.abandoned,
		Abandonment:  kpiRate(n.abandoned, offered, minSample),
		ServiceLevel: kpiRate(n.within, offered, minSample),
		Handled:      n.handled,
		AHTContacts:  n.timed,
		Transfer:     kpiRate(n.transferred, n.handled, minSample),
		Consult:      kpiRate(n.consulted, n.handled, minSample),
		Reopen:       kpiRate(n.reopens, n.resolutions, minSample),
		Resolutions:  n.resolutions,
		Reopens:      n.reopens,
	}
	f.AbandonRate = f.Abandonment.Value
	if n.answered > 0 {
		f.ASA = float64(n.waitMS) / 1000 / float64(n.answered)
	}
	if n.timed > 0 {
		f.AHT = float64(n.handleMS) / 1000 / float64(n.timed)
	}
	return f
}
