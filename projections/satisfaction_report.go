package projections

import "time"

// Report returns the figures as of the events absorbed so far.
func (s *Satisfaction) Report() SatisfactionReport { return s.report(s.h.view()) }

// report is Report for the horizon the projection was fed through.
func (s *Satisfaction) report(h kpiView) SatisfactionReport {
	r := SatisfactionReport{
		Definition: SatisfactionDefinition{
			LatenessS:   s.cfg.Lateness.Seconds(),
			MinSample:   s.cfg.MinSample,
			Attribution: satAttributionRule,
		},
		SatisfactionFigures: s.total.figures(s.cfg.MinSample),
		ByChannel:           satFigures(s.byChannel, s.names, s.cfg.MinSample),
		ByTopic:             satFigures(s.byTopic, s.names, s.cfg.MinSample),
		ByAgent:             satFigures(s.byAgent, s.names, s.cfg.MinSample),
		ByWait:              make([]WaitBucket, 0, len(s.byWait)),
		LateEvents:          h.late,
		HeldEvents:          h.held,
		TrackedIssues:       h.tracked,
	}
	for i := range s.byWait {
		b := WaitBucket{SatisfactionFigures: s.byWait[i].figures(s.cfg.MinSample)}
		b.Bucket, b.FromS, b.ToS = satBucketBounds(i)
		r.ByWait = append(r.ByWait, b)
	}
	if !h.watermark.IsZero() {
		r.Watermark = h.watermark
	}
	return r
}

// satFigures returns the figures of the segments that count any answer,
// by their keys.
func satFigures(segs []satCounts, names *kpiNames, minSample int64) map[string]SatisfactionFigures {
	out := make(map[string]SatisfactionFigures)
	for id, n := range segs {
		if n != (satCounts{}) {
			out[names.names[id]] = n.figures(minSample)
		}
	}
	return out
}

// SatisfactionReport is the report of a Satisfaction projection. The
// totals are inline; the breakdowns hold the same figures per segment.
type SatisfactionReport struct {
	Definition SatisfactionDefinition `json:"definition"`
	SatisfactionFigures
	ByChannel map[string]SatisfactionFigures `json:"by_channel"`
	ByTopic   map[string]SatisfactionFigures `json:"by_topic"`
	ByAgent   map[string]SatisfactionFigures `json:"by_agent"`
	// ByWait holds the wait-time buckets in order of wait, then
	// "(unqueued)" and "(unknown)".
	ByWait []WaitBucket `json:"by_wait"`
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

// SatisfactionDefinition states the parameters and rules a
// SatisfactionReport was computed with.
type SatisfactionDefinition struct {
	LatenessS float64 `json:"lateness_s"`
	// MinSample is the denominator below which a rate is flagged small.
	MinSample   int64  `json:"min_sample"`
	Attribution string `json:"attribution"`
}

// SatisfactionFigures are the survey results of a set of answers.
type SatisfactionFigures struct {
	CSAT CSATFigures `json:"csat"`
	NPS  NPSFigures  `json:"nps"`
	CES  CESFigures  `json:"ces"`
}

// WaitBucket is the satisfaction of the answers whose contact waited
// between FromS (included) and ToS seconds; ToS is 0 for the open-ended
// last bucket and for "(unqueued)" and "(unknown)".
type WaitBucket struct {
	Bucket string  `json:"bucket"`
	FromS  float64 `json:"from_s"`
	ToS    float64 `json:"to_s"`
	SatisfactionFigures
}

// CSATFigures are the CSAT answers (1–5): their mean and the top-2 box,
// the share of 4 and 5.
type CSATFigures struct {
	Responses int64   `json:"responses"`
	Mean      float64 `json:"mean"`
	// Top2 is Top2Box.Value.
	Top2    float64 `json:"top2"`
	Top2Box Rate    `json:"top2_box"`
}

// NPSFigures are the NPS answers (0–10): Score is % promoters (9–10) − %
// detractors (0–6), from −100 to 100, 0 without answers.
type NPSFigures struct {
	Responses  int64   `json:"responses"`
	Promoters  int64   `json:"promoters"`
	Passives   int64   `json:"passives"`
	Detractors int64   `json:"detractors"`
	Score      float64 `json:"score"`
	// PromoterShare and DetractorShare are over Responses.
	PromoterShare  Rate `json:"promoter_share"`
	DetractorShare Rate `json:"detractor_share"`
}

// CESFigures are the CES answers (1–7): their mean and the share of 5–7.
type CESFigures struct {
	Responses int64   `json:"responses"`
	Mean      float64 `json:"mean"`
	// Top3 is Top3Box.Value, the share of 5, 6 and 7.
	Top3    float64 `json:"top3"`
	Top3Box Rate    `json:"top3_box"`
}

// satCounts are the additive counts behind SatisfactionFigures.
type satCounts struct {
	csat, csatSum, csatTop2    int64
	nps, promoters, detractors int64
	ces, cesSum, cesTop3       int64
}

func (n *satCounts) add(r satRating, sign int64) {
	score := int64(r.score)
	switch r.survey {
	case satCSAT:
		n.csat += sign
		n.csatSum += sign * score
		if score >= 4 {
			n.csatTop2 += sign
		}
	case satNPS:
		n.nps += sign
		switch {
		case score >= 9:
			n.promoters += sign
		case score <= 6:
			n.detractors += sign
		}
	case satCES:
		n.ces += sign
		n.cesSum += sign * score
		if score >= 5 {
			n.cesTop3 += sign
		}
	}
}

func (n satCounts) figures(minSample int64) SatisfactionFigures {
	f := SatisfactionFigures{
		CSAT: CSATFigures{Responses: n.csat, Mean: kpiShare(n.csatSum, n.csat), Top2Box: kpiRate(n.csatTop2, n.csat, minSample)},
		NPS: NPSFigures{
			Responses: n.nps, Promoters: n.promoters, Detractors: n.detractors,
			Passives:       n.nps - n.promoters - n.detractors,
			PromoterShare:  kpiRate(n.promoters, n.nps, minSample),
			DetractorShare: kpiRate(n.detractors, n.nps, minSample),
		},
		CES: CESFigures{Responses: n.ces, Mean: kpiShare(n.cesSum, n.ces), Top3Box: kpiRate(n.cesTop3, n.ces, minSample)},
	}
	f.CSAT.Top2 = f.CSAT.Top2Box.Value
	f.CES.Top3 = f.CES.Top3Box.Value
	f.NPS.Score = 100 * kpiShare(n.promoters-n.detractors, n.nps)
	return f
}

// The wait-time buckets: satisfaction holds until about 90 s, customers
// comment on queues at about 150 s and are annoyed after 3 minutes. After
// the five of them come the issues that never waited in a queue and those
// whose state was dropped.
const (
	satBuckets  = 5
	satUnqueued = satBuckets
	satUnknown  = satBuckets + 1
)

func satBucketBounds(i int) (name string, from, to float64) {
	switch i {
	case 0:
		return "0-30s", 0, 30
	case 1:
		return "30-90s", 30, 90
	case 2:
		return "90-150s", 90, 150
	case 3:
		return "150-180s", 150, 180
	case 4:
		return "180s+", 180, 0
	case satUnqueued:
		return "(unqueued)", 0, 0
	}
	return kpiUnknown, 0, 0
}

func satBucket(wait time.Duration) int {
	switch {
	case wait < 30*time.Second:
		return 0
	case wait < 90*time.Second:
		return 1
	case wait < 150*time.Second:
		return 2
	case wait < 180*time.Second:
		return 3
	}
	return 4
}
