package projections

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
)

// ratings returns a log of one resolved issue with the given answers.
func ratings(survey events.Survey, scores ...int) []events.Envelope {
	l := newKPILog()
	i, c := kpiID('i', 1), kpiID('c', 1)
	l.opened(i, c, 0, "chat", "tech")
	l.add(i, time.Minute, &events.Resolved{Contact: c, Agent: "ann"})
	for n, s := range scores {
		l.add(i, time.Duration(n+2)*time.Minute, &events.Rated{Survey: survey, Score: s})
	}
	return l.evs
}

func satReport(t *testing.T, evs []events.Envelope) SatisfactionReport {
	t.Helper()
	sat, err := NewSatisfaction(SatisfactionConfig{})
	require.NoError(t, err)
	applyAll(t, sat, evs)
	return sat.Report()
}

func TestSatisfactionNPS(t *testing.T) {
	cases := []struct {
		name   string
		scores []int
		// promoters, passives, detractors
		counts [3]int64
		score  float64
	}{
		{"all promoters", []int{9, 10, 10}, [3]int64{3, 0, 0}, 100},
		{"all detractors", []int{0, 3, 6, 6}, [3]int64{0, 0, 4}, -100},
		{"all passives", []int{7, 8}, [3]int64{0, 2, 0}, 0},
		// (2 promoters − 1 detractor) / 5 answers = 20 %
		{"mixed", []int{9, 10, 7, 8, 0}, [3]int64{2, 2, 1}, 20},
		// (1 − 2) / 3 = −33.3 %
		{"more detractors", []int{10, 6, 5}, [3]int64{1, 0, 2}, -100.0 / 3},
		{"no answers", nil, [3]int64{0, 0, 0}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			nps := satReport(t, ratings(events.SurveyNPS, c.scores...)).NPS
			assert.Equal(t, c.counts, [3]int64{nps.Promoters, nps.Passives, nps.Detractors})
			assert.Equal(t, int64(len(c.scores)), nps.Responses)
			assert.InDelta(t, c.score, nps.Score, 1e-9)
			assert.Equal(t, NewRate(c.counts[0], int64(len(c.scores))), nps.PromoterShare)
			assert.Equal(t, NewRate(c.counts[2], int64(len(c.scores))), nps.DetractorShare)
		})
	}
}

func TestSatisfactionCSATAndCES(t *testing.T) {
	cases := []struct {
		name   string
		survey events.Survey
		scores []int
		mean   float64
		top    Rate
	}{
		// (5+4+3+2+1+5)/6 = 3.33; top-2 box: 5, 4, 5 = 3/6
		{"csat", events.SurveyCSAT, []int{5, 4, 3, 2, 1, 5}, 20.0 / 6, NewRate(3, 6)},
		{"csat all 4", events.SurveyCSAT, []int{4, 4}, 4, NewRate(2, 2)},
		// (7+5+4+1)/4 = 4.25; share of 5–7: 7, 5 = 2/4
		{"ces", events.SurveyCES, []int{7, 5, 4, 1}, 4.25, NewRate(2, 4)},
		{"ces all 1", events.SurveyCES, []int{1}, 1, NewRate(0, 1)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := satReport(t, ratings(c.survey, c.scores...))
			mean, top, n := r.CSAT.Mean, r.CSAT.Top2Box, r.CSAT.Responses
			other := r.CES.Responses
			if c.survey == events.SurveyCES {
				mean, top, n = r.CES.Mean, r.CES.Top3Box, r.CES.Responses
				other = r.CSAT.Responses
				assert.InDelta(t, top.Value, r.CES.Top3, 0)
			} else {
				assert.InDelta(t, top.Value, r.CSAT.Top2, 0)
			}
			assert.InDelta(t, c.mean, mean, 1e-9)
			assert.Equal(t, c.top, top)
			assert.Equal(t, int64(len(c.scores)), n)
			assert.Zero(t, other+r.NPS.Responses, "no answer counts in another survey")
		})
	}
}

// satScenario:
//
//	issue 1, "billing": a call waits 100 s, ann resolves it; the customer
//	  reopens by chat, waits 10 s, bob resolves it; the issue is then
//	  reclassified "billing/refund".
//	  CSAT 5 naming the call        → phone, ann, 90–150 s
//	  CSAT 1 naming no contact      → chat, bob, 0–30 s (the resolving contact)
//	issue 2, "tech": a bot resolves it; CES 6 → bot, "bot", unqueued
//	issue 3, "tech": an email routed to dee after 200 s, then a chat
//	  follow-up never queued; NPS 10 before any resolution → the latest
//	  contact (chat), no agent, the wait of the first answered contact: 180 s+
func satScenario() []events.Envelope {
	l := newKPILog()
	i1, i2, i3 := kpiID('i', 1), kpiID('i', 2), kpiID('i', 3)
	c1, c2, c3, c4, c5 := kpiID('c', 1), kpiID('c', 2), kpiID('c', 3), kpiID('c', 4), kpiID('c', 5)
	l.opened(i1, c1, 0, "phone", "billing")
	l.add(i1, 100*time.Second, &events.Routed{Contact: c1, Queue: "q", Agent: "ann", Wait: 100 * time.Second})
	l.add(i1, 5*time.Minute, &events.Resolved{Contact: c1, Agent: "ann"})
	l.add(i1, 2*time.Hour, &events.Reopened{Contact: c2, Channel: "chat"})
	l.add(i1, 2*time.Hour+10*time.Second, &events.Routed{Contact: c2, Queue: "q", Agent: "bob", Wait: 10 * time.Second})
	l.add(i1, 2*time.Hour+5*time.Minute, &events.Resolved{Contact: c2, Agent: "bob"})
	l.add(i1, 3*time.Hour, &events.Rated{Survey: events.SurveyCSAT, Score: 5, Contact: c1})
	l.add(i1, 3*time.Hour, &events.Rated{Survey: events.SurveyCSAT, Score: 1})
	l.add(i1, 4*time.Hour, &events.Classified{Topic: "billing/refund"})
	l.opened(i2, c3, time.Minute, "bot", "tech")
	l.add(i2, 2*time.Minute, &events.Resolved{Contact: c3, Bot: true})
	l.add(i2, 3*time.Minute, &events.Rated{Survey: events.SurveyCES, Score: 6})
	l.opened(i3, c4, time.Minute, "email", "tech")
	l.add(i3, time.Minute+200*time.Second, &events.Routed{Contact: c4, Queue: "mail", Agent: "dee", Wait: 200 * time.Second})
	l.add(i3, time.Hour, &events.Contacted{Contact: c5, Channel: "chat"})
	l.add(i3, 2*time.Hour, &events.Rated{Survey: events.SurveyNPS, Score: 10})
	return l.evs
}

func TestSatisfactionAttribution(t *testing.T) {
	r := satReport(t, satScenario())

	assert.Equal(t, int64(2), r.CSAT.Responses)
	assert.InDelta(t, 3.0, r.CSAT.Mean, 1e-9)
	assert.Equal(t, NewRate(1, 2), r.CSAT.Top2Box)
	assert.InDelta(t, 100.0, r.NPS.Score, 1e-9)
	assert.InDelta(t, 6.0, r.CES.Mean, 1e-9)

	csat := func(m map[string]SatisfactionFigures, key string) [2]float64 {
		f, ok := m[key]
		require.True(t, ok, "no segment %q", key)
		return [2]float64{float64(f.CSAT.Responses), f.CSAT.Mean}
	}
	assert.Equal(t, [2]float64{1, 5}, csat(r.ByChannel, "phone"))
	assert.Equal(t, [2]float64{1, 1}, csat(r.ByChannel, "chat"))
	assert.Equal(t, [2]float64{1, 5}, csat(r.ByAgent, "ann"))
	assert.Equal(t, [2]float64{1, 1}, csat(r.ByAgent, "bob"))
	assert.Equal(t, [2]float64{2, 3}, csat(r.ByTopic, "billing/refund"), "the issue's current topic")
	assert.NotContains(t, r.ByTopic, "billing")

	assert.Equal(t, int64(1), r.ByChannel["bot"].CES.Responses)
	assert.Equal(t, int64(1), r.ByAgent["bot"].CES.Responses)
	assert.Equal(t, int64(1), r.ByChannel["chat"].NPS.Responses, "the NPS goes to issue 3's latest contact")
	assert.Equal(t, int64(1), r.ByAgent[kpiNone].NPS.Responses)
	assert.Equal(t, int64(2), r.ByTopic["tech"].CES.Responses+r.ByTopic["tech"].NPS.Responses)

	buckets := map[string]SatisfactionFigures{}
	var names []string
	for _, b := range r.ByWait {
		buckets[b.Bucket] = b.SatisfactionFigures
		names = append(names, b.Bucket)
	}
	assert.Equal(t, []string{"0-30s", "30-90s", "90-150s", "150-180s", "180s+", "(unqueued)", kpiUnknown}, names)
	assert.Equal(t, int64(1), buckets["90-150s"].CSAT.Responses)
	assert.InDelta(t, 5.0, buckets["90-150s"].CSAT.Mean, 0)
	assert.InDelta(t, 1.0, buckets["0-30s"].CSAT.Mean, 0)
	assert.Equal(t, int64(1), buckets["180s+"].NPS.Responses)
	assert.Equal(t, int64(1), buckets["(unqueued)"].CES.Responses)
	assert.Zero(t, buckets["30-90s"].CSAT.Responses+buckets["150-180s"].CSAT.Responses)
}

func TestSatisfactionWaitBuckets(t *testing.T) {
	cases := []struct {
		wait   time.Duration
		bucket string
	}{
		{0, "0-30s"},
		{29*time.Second + 999*time.Millisecond, "0-30s"},
		{30 * time.Second, "30-90s"},
		{89 * time.Second, "30-90s"},
		{90 * time.Second, "90-150s"},
		{150 * time.Second, "150-180s"},
		{179 * time.Second, "150-180s"},
		{180 * time.Second, "180s+"},
		{time.Hour, "180s+"},
	}
	for _, c := range cases {
		name, from, to := satBucketBounds(satBucket(c.wait))
		assert.Equal(t, c.bucket, name, "wait %v", c.wait)
		assert.GreaterOrEqual(t, c.wait.Seconds(), from)
		if to > 0 {
			assert.Less(t, c.wait.Seconds(), to)
		}
	}
}

func TestSatisfactionJSONKeys(t *testing.T) {
	r := satReport(t, satScenario())
	b, err := json.Marshal(r)
	require.NoError(t, err)
	var raw map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(b, &raw))
	got := map[string]map[string]any{}
	for _, k := range []string{"csat", "nps", "ces"} {
		require.Contains(t, raw, k)
		m := map[string]any{}
		require.NoError(t, json.Unmarshal(raw[k], &m))
		got[k] = m
	}
	assert.InDelta(t, 3.0, got["csat"]["mean"], 1e-9)
	assert.InDelta(t, 0.5, got["csat"]["top2"], 1e-9)
	assert.InDelta(t, 100.0, got["nps"]["score"], 1e-9)
	assert.InDelta(t, 6.0, got["ces"]["mean"], 1e-9)
}

// TestSatisfactionLateSurvey: an answer that comes after the issue left
// the horizon counts in the totals, under "(unknown)" where the dropped
// state would have named the segment.
func TestSatisfactionLateSurvey(t *testing.T) {
	l := newKPILog()
	i, c := kpiID('i', 1), kpiID('c', 1)
	l.opened(i, c, 0, "phone", "billing")
	l.add(i, time.Minute, &events.Resolved{Contact: c, Agent: "ann"})
	l.opened(kpiID('i', 2), kpiID('c', 2), 2*time.Hour, "chat", "tech")
	l.add(i, 3*time.Hour, &events.Rated{Survey: events.SurveyCSAT, Score: 4})
	l.opened(kpiID('i', 3), kpiID('c', 3), 5*time.Hour, "chat", "tech")

	sat, err := NewSatisfaction(SatisfactionConfig{Lateness: time.Hour})
	require.NoError(t, err)
	applyAll(t, sat, l.evs)
	r := sat.Report()
	assert.Equal(t, int64(1), r.CSAT.Responses)
	assert.Equal(t, int64(1), r.ByChannel[kpiUnknown].CSAT.Responses)
	assert.Equal(t, int64(1), r.ByAgent[kpiUnknown].CSAT.Responses)
	assert.Equal(t, int64(1), r.ByTopic[kpiUnknown].CSAT.Responses)
	assert.Equal(t, int64(1), r.ByWait[satUnknown].CSAT.Responses)
	assert.Zero(t, r.HeldEvents)
}

func BenchmarkSatisfaction(b *testing.B) {
	evs := kpiGenerate(1, 5000, time.Minute)
	benchmarkKPI(b, evs, func() kpiProjection {
		p, err := NewSatisfaction(SatisfactionConfig{Lateness: time.Hour})
		require.NoError(b, err)
		return p
	})
}

// A caller who waited in the queue, hung up and was called back rates the
// issue under the wait of that abandonment, not as unqueued; a snapshot of
// format 2, which has no such wait, restores into what it counted then.
func TestSatisfactionWaitOfAnAbandonedContact(t *testing.T) {
	l := newKPILog()
	i1, c1 := kpiID('i', 1), kpiID('c', 1)
	l.opened(i1, c1, 0, "phone", "billing")
	l.add(i1, 150*time.Second, &events.Abandoned{Contact: c1, Wait: 150 * time.Second, Extra: events.Extra{"queue": "q-a"}})
	l.add(i1, time.Hour, &events.Resolved{Contact: c1, Agent: "ann"}) // on the callback
	rated := l.add(i1, 2*time.Hour, &events.Rated{Survey: events.SurveyCSAT, Score: 2})
	byWait := func(s *Satisfaction) map[string]int64 {
		m := map[string]int64{}
		for _, b := range s.Report().ByWait {
			if b.CSAT.Responses > 0 {
				m[b.Bucket] = b.CSAT.Responses
			}
		}
		return m
	}
	sat, err := NewSatisfaction(SatisfactionConfig{})
	require.NoError(t, err)
	applyAll(t, sat, l.evs)
	assert.Equal(t, map[string]int64{"150-180s": 1}, byWait(sat))

	// Saved before the survey: today's snapshot keeps the wait, one of
	// format 2 has none.
	before, err := NewSatisfaction(SatisfactionConfig{})
	require.NoError(t, err)
	applyAll(t, before, l.evs[:len(l.evs)-1])
	b, err := before.MarshalBinary()
	require.NoError(t, err)
	again, err := NewSatisfaction(SatisfactionConfig{})
	require.NoError(t, err)
	require.NoError(t, again.UnmarshalBinary(b))
	require.NoError(t, again.Apply(rated))
	assert.Equal(t, map[string]int64{"150-180s": 1}, byWait(again))
	v2 := editSnapshot(t, b, func(s *kpiSnap) {
		require.Equal(t, kpiSnapFormat, s.Format)
		s.Format = 2
		for i := range s.Horizons[0].Issues {
			for j := range s.Horizons[0].Issues[i].State.Contacts {
				c := &s.Horizons[0].Issues[i].State.Contacts[j]
				c.Flags &^= uint8(kcWaited)
				c.Wait = 0
			}
		}
	})
	restored, err := NewSatisfaction(SatisfactionConfig{})
	require.NoError(t, err)
	require.NoError(t, restored.UnmarshalBinary(v2))
	require.NoError(t, restored.Apply(rated))
	assert.Equal(t, map[string]int64{"(unqueued)": 1}, byWait(restored))
}

// A caller who waited in the queue and hung up, then wrote and was
// resolved by email, rates the issue under the wait of that abandonment:
// the issue waited in a queue, and is not unqueued. A snapshot of format 5,
// which counted the answer as unqueued, restores into today's count, in a
// Satisfaction and in a Reporter whose projections track their issues
// apart.
func TestSatisfactionWaitOfAnIssueAbandonedThenWritten(t *testing.T) {
	l := newKPILog()
	i1, c1, c2 := kpiID('i', 1), kpiID('c', 1), kpiID('c', 2)
	l.opened(i1, c1, 0, "phone", "billing")
	l.add(i1, 2*time.Minute, &events.Abandoned{Contact: c1, Wait: 100 * time.Second})
	l.add(i1, 10*time.Minute, &events.Contacted{Contact: c2, Channel: "email"})
	l.add(i1, time.Hour, &events.Resolved{Contact: c2, Agent: "ann"})
	l.add(i1, 61*time.Minute, &events.Rated{Survey: events.SurveyCSAT, Score: 1})
	classified := l.add(i1, 62*time.Minute, &events.Classified{Topic: "billing/refund"})
	byWait := func(r SatisfactionReport) map[string]int64 {
		m := map[string]int64{}
		for _, b := range r.ByWait {
			if b.CSAT.Responses != 0 {
				m[b.Bucket] = b.CSAT.Responses
			}
		}
		return m
	}
	want := map[string]int64{"90-150s": 1}
	for _, order := range [][]events.Envelope{l.evs, slices.Concat(l.evs[4:5], l.evs[:4], l.evs[5:])} {
		sat, err := NewSatisfaction(SatisfactionConfig{})
		require.NoError(t, err)
		applyAll(t, sat, order)
		assert.Equal(t, want, byWait(sat.Report()), "the survey delivered before the events it rates too")
	}

	// As a build before format 6 saved it: the answer under (unqueued).
	asFormat5 := func(s *kpiSnap) {
		require.Equal(t, kpiSnapFormat, s.Format)
		s.Format = 5
		s.Sat.ByWait[satUnqueued], s.Sat.ByWait[2] = s.Sat.ByWait[2], s.Sat.ByWait[satUnqueued]
	}
	sat, err := NewSatisfaction(SatisfactionConfig{})
	require.NoError(t, err)
	applyAll(t, sat, l.evs[:len(l.evs)-1])
	b, err := sat.MarshalBinary()
	require.NoError(t, err)
	old := editSnapshot(t, b, asFormat5)
	restored, err := NewSatisfaction(SatisfactionConfig{})
	require.NoError(t, err)
	require.NoError(t, restored.UnmarshalBinary(old))
	assert.Equal(t, want, byWait(restored.Report()))
	require.NoError(t, restored.Apply(classified))
	assert.Equal(t, want, byWait(restored.Report()), "recounted at the next event, with nothing left behind")

	// The Reporter's service level forgets the issue two days after its
	// last event, its satisfaction four days after, which restores it.
	cfg := ReportConfig{Satisfaction: SatisfactionConfig{Lateness: 48 * time.Hour}}
	r, err := NewReporter(cfg)
	require.NoError(t, err)
	l.opened(kpiID('i', 2), kpiID('c', 3), 50*time.Hour, "chat", "orders")
	for _, e := range slices.Concat(l.evs[:5], l.evs[6:]) {
		require.NoError(t, r.Apply(e))
	}
	b, err = r.MarshalBinary()
	require.NoError(t, err)
	old = editSnapshot(t, b, func(s *reportSnap) {
		s.KPI = editSnapshot(t, s.KPI, func(k *kpiSnap) {
			require.Len(t, k.Horizons, 3, "the projections track their issues apart")
			asFormat5(k)
		})
	})
	again, err := NewReporter(cfg)
	require.NoError(t, err)
	require.NoError(t, again.UnmarshalBinary(old))
	assert.Equal(t, want, byWait(again.Report().Satisfaction))
}

// An answer counted before its contact's abandonment moves to the wait of
// the abandonment, and a later routing moves it again, with nothing left
// behind.
func TestSatisfactionAnswerMovesWithItsContactsWait(t *testing.T) {
	l := newKPILog()
	i1, c1, c2 := kpiID('i', 1), kpiID('c', 1), kpiID('c', 2)
	l.opened(i1, c1, 0, "phone", "billing")
	l.add(i1, time.Second, &events.Rated{Survey: events.SurveyCSAT, Score: 2, Contact: c1})
	l.add(i1, 150*time.Second, &events.Abandoned{Contact: c1, Wait: 150 * time.Second})
	l.add(i1, time.Hour, &events.Contacted{Contact: c2, Channel: "chat"})
	routed := l.add(i1, time.Hour+time.Minute, &events.Routed{Contact: c1, Queue: "q", Wait: 10 * time.Second})
	buckets := func(s *Satisfaction) map[string]int64 {
		m := map[string]int64{}
		for _, b := range s.Report().ByWait {
			if b.CSAT.Responses != 0 {
				m[b.Bucket] = b.CSAT.Responses
			}
		}
		return m
	}
	sat, err := NewSatisfaction(SatisfactionConfig{})
	require.NoError(t, err)
	applyAll(t, sat, l.evs[:len(l.evs)-1])
	assert.Equal(t, map[string]int64{"150-180s": 1}, buckets(sat))
	require.NoError(t, sat.Apply(routed))
	assert.Equal(t, map[string]int64{"0-30s": 1}, buckets(sat), "the routing's wait wins")
}

// After a reopen that came once the issue's state was forgotten, an
// answer on a contact whose agent the fresh state did not see named
// counts under "(unknown)", whether the reopen's contact is new or the
// one that was resolved before (the state cannot tell): "(none)" would
// say that the contact had no agent, which it may well have had.
func TestSatisfactionAgentAfterAForgottenReopen(t *testing.T) {
	for _, reused := range []bool{false, true} {
		l := newKPILog()
		i, c1, c2 := kpiID('i', 1), kpiID('c', 1), kpiID('c', 2)
		if reused {
			c2 = c1
		}
		l.opened(i, c1, 0, "phone", "billing")
		l.add(i, time.Minute, &events.Routed{Contact: c1, Queue: "q1", Agent: "ann", Wait: 10 * time.Second})
		l.add(i, 2*time.Minute, &events.Resolved{Contact: c1, Agent: "ann"})
		l.add(i, 26*time.Hour, &events.Reopened{Contact: c2, Channel: "email"})
		l.add(i, 26*time.Hour+time.Minute, &events.Rated{Survey: events.SurveyCSAT, Score: 5, Contact: c2})
		for _, lateness := range []time.Duration{24 * time.Hour, 100 * time.Hour} {
			sat, err := NewSatisfaction(SatisfactionConfig{Lateness: lateness})
			require.NoError(t, err)
			applyAll(t, sat, l.evs)
			require.NoError(t, sat.AdvanceTo(l.evs[0].At.Add(500*time.Hour)))
			r := sat.Report()
			want := kpiUnknown // forgotten
			if lateness > 26*time.Hour {
				want = kpiNone // kept: the reopen's contact had no agent
				if reused {
					want = "ann"
				}
			}
			assert.Equal(t, int64(1), r.ByAgent[want].CSAT.Responses, "reused %v, lateness %s: %v", reused, lateness, r.ByAgent)
			assert.Equal(t, int64(1), r.ByChannel["email"].CSAT.Responses)
		}
	}
}
