package projections

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/internal/simulate"
)

// serviceScenario is four phone calls and a reopen by email:
//
//	call 1: waits 10 s in q-a, transferred to q-b, resolved with 100 s handle time, later reopened by email
//	call 2: waits 30 s in q-a, consulted, resolved with 200 s handle time
//	call 3: waits 50 s in q-b, not resolved yet
//	call 4: abandoned after 40 s in q-b
//
// Offered 4 (the email reopen never queued), answered 3, abandoned 1;
// ASA (10+30+50)/3 = 30 s; abandonment 1/4; within 20 s: call 1, 1/4.
// Handled 3 (the answered calls): transfer 1/3, consult 1/3; AHT over
// the 2 calls that report handle time (100+200)/2 = 150 s; reopen 1/2.
func serviceScenario() []events.Envelope {
	l := newKPILog()
	i1, i2, i3, i4 := kpiID('i', 1), kpiID('i', 2), kpiID('i', 3), kpiID('i', 4)
	c1, c2, c3, c4, c5 := kpiID('c', 1), kpiID('c', 2), kpiID('c', 3), kpiID('c', 4), kpiID('c', 5)
	l.opened(i1, c1, 0, "phone", "billing")
	l.add(i1, 10*time.Second, &events.Routed{Contact: c1, Queue: "q-a", Agent: "ann", Wait: 10 * time.Second})
	l.add(i1, 2*time.Minute, &events.Routed{Contact: c1, Queue: "q-b", Agent: "bob"})
	l.add(i1, 5*time.Minute, &events.Resolved{Contact: c1, Agent: "bob", Handle: 100 * time.Second})
	l.opened(i2, c2, time.Minute, "phone", "tech")
	l.add(i2, time.Minute+30*time.Second, &events.Routed{Contact: c2, Queue: "q-a", Agent: "ann", Wait: 30 * time.Second})
	l.add(i2, 3*time.Minute, &events.Consulted{Contact: c2, Agent: "ann", Expert: "sue"})
	l.add(i2, 6*time.Minute, &events.Resolved{Contact: c2, Agent: "ann", Handle: 200 * time.Second})
	l.opened(i3, c3, 2*time.Minute, "phone", "tech")
	l.add(i3, 2*time.Minute+50*time.Second, &events.Routed{Contact: c3, Queue: "q-b", Agent: "cyd", Wait: 50 * time.Second})
	l.opened(i4, c4, 3*time.Minute, "phone", "billing")
	l.add(i4, 3*time.Minute+40*time.Second, &events.Abandoned{Contact: c4, Wait: 40 * time.Second, Extra: events.Extra{"queue": "q-b"}})
	l.add(i1, time.Hour, &events.Reopened{Contact: c5, Channel: "email"})
	l.add(i1, time.Hour+time.Minute, &events.Rated{Survey: events.SurveyCSAT, Score: 2})
	return l.evs
}

func TestServiceLevelScenario(t *testing.T) {
	svc, err := NewServiceLevel(ServiceConfig{})
	require.NoError(t, err)
	applyAll(t, svc, serviceScenario())
	r := svc.Report()

	assert.Equal(t, int64(4), r.Offered)
	assert.Equal(t, int64(3), r.Answered)
	assert.Equal(t, int64(1), r.Abandoned)
	assert.InDelta(t, 30.0, r.ASA, 1e-9)
	assert.InDelta(t, 0.25, r.AbandonRate, 1e-12)
	assert.Equal(t, NewRate(1, 4), r.Abandonment)
	assert.Equal(t, NewRate(1, 4), r.ServiceLevel)
	assert.Equal(t, int64(3), r.Handled)
	assert.InDelta(t, 150.0, r.AHT, 1e-9)
	assert.Equal(t, int64(2), r.AHTContacts)
	assert.Equal(t, NewRate(1, 3), r.Transfer)
	assert.Equal(t, NewRate(1, 3), r.Consult)
	assert.Equal(t, NewRate(1, 2), r.Reopen)
	assert.InDelta(t, 20.0, r.Definition.ThresholdS, 0)
	assert.Equal(t, kpiT0.Add(time.Hour+time.Minute), r.Watermark)

	assert.Equal(t, r.ServiceFigures, r.ByChannel["phone"], "every offered contact was a call")
	assert.NotContains(t, r.ByChannel, "email", "the email reopen was neither offered nor handled")

	// q-a: calls 1 and 2; q-b: calls 3 and 4 (the queue named on the abandonment).
	qa, qb := r.ByQueue["q-a"], r.ByQueue["q-b"]
	assert.Equal(t, [3]int64{2, 2, 0}, [3]int64{qa.Offered, qa.Answered, qa.Abandoned})
	assert.InDelta(t, 20.0, qa.ASA, 1e-9)
	assert.Equal(t, NewRate(1, 2), qa.ServiceLevel)
	assert.Equal(t, NewRate(1, 2), qa.Transfer)
	assert.Equal(t, NewRate(1, 2), qa.Reopen)
	assert.InDelta(t, 150.0, qa.AHT, 1e-9)
	assert.Equal(t, [3]int64{2, 1, 1}, [3]int64{qb.Offered, qb.Answered, qb.Abandoned})
	assert.InDelta(t, 50.0, qb.ASA, 1e-9)
	assert.Equal(t, NewRate(0, 2), qb.ServiceLevel)
	assert.Zero(t, qb.AHTContacts)
	assert.Len(t, r.ByQueue, 2)
}

func TestServiceLevelJSONKeys(t *testing.T) {
	svc, err := NewServiceLevel(ServiceConfig{})
	require.NoError(t, err)
	applyAll(t, svc, serviceScenario())
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(kpiJSON(t, svc.Report())), &got))
	want := map[string]float64{"offered": 4, "answered": 3, "abandoned": 1, "asa_s": 30, "abandon_rate": 0.25}
	for key, v := range want {
		require.Contains(t, got, key)
		assert.InDelta(t, v, got[key], 1e-9, key)
	}
	assert.Contains(t, got, "late_events")
	assert.Contains(t, got["by_queue"], "q-a")
	assert.Contains(t, got["abandonment"], "ci95")
}

func TestServiceLevelThreshold(t *testing.T) {
	cases := []struct {
		name      string
		threshold time.Duration
		wait      time.Duration
		within    int64
	}{
		{"default, shorter wait", 0, 19 * time.Second, 1},
		{"default, at the threshold", 0, 20 * time.Second, 1},
		{"default, just over", 0, 20*time.Second + time.Millisecond, 0},
		{"30 s threshold", 30 * time.Second, 25 * time.Second, 1},
		{"10 s threshold", 10 * time.Second, 15 * time.Second, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := newKPILog()
			l.opened(kpiID('i', 1), kpiID('c', 1), 0, "chat", "tech")
			l.add(kpiID('i', 1), c.wait, &events.Routed{Contact: kpiID('c', 1), Queue: "q", Wait: c.wait})
			svc, err := NewServiceLevel(ServiceConfig{Threshold: c.threshold})
			require.NoError(t, err)
			applyAll(t, svc, l.evs)
			assert.Equal(t, NewRate(c.within, 1), svc.Report().ServiceLevel)
		})
	}
}

// TestServiceLevelContactOutcomes: what one contact's own events make of it.
func TestServiceLevelContactOutcomes(t *testing.T) {
	c := kpiID('c', 1)
	cases := []struct {
		name    string
		channel string
		events  []events.Data
		// offered, answered, abandoned, handled, timed (aht_contacts)
		want  [5]int64
		queue string
	}{
		{"abandoned, then answered on a retry", "phone", []events.Data{
			&events.Abandoned{Contact: c, Wait: 30 * time.Second},
			&events.Routed{Contact: c, Queue: "q", Wait: 5 * time.Second},
		}, [5]int64{1, 1, 0, 1, 0}, "q"},
		{"abandoned twice counts once", "phone", []events.Data{
			&events.Abandoned{Contact: c, Wait: 30 * time.Second},
			&events.Abandoned{Contact: c, Wait: 50 * time.Second},
		}, [5]int64{1, 0, 1, 0, 0}, kpiUnknown},
		{"abandoned, then resolved with a handle time", "phone", []events.Data{
			&events.Abandoned{Contact: c, Wait: 30 * time.Second},
			&events.Resolved{Contact: c, Agent: "ann", Handle: 5 * time.Minute},
		}, [5]int64{1, 0, 1, 0, 0}, kpiUnknown},
		{"abandoned, then consulted on", "phone", []events.Data{
			&events.Abandoned{Contact: c, Wait: 30 * time.Second},
			&events.Consulted{Contact: c, Agent: "ann", Expert: "olli"},
		}, [5]int64{1, 0, 1, 0, 0}, kpiUnknown},
		{"resolved by a bot without a queue", "bot", []events.Data{
			&events.Resolved{Contact: c, Bot: true},
		}, [5]int64{0, 0, 0, 1, 0}, kpiNone},
		{"resolved with a handle time", "chat", []events.Data{
			&events.Routed{Contact: c, Queue: "q", Wait: 5 * time.Second},
			&events.Resolved{Contact: c, Agent: "ann", Handle: 5 * time.Minute},
		}, [5]int64{1, 1, 0, 1, 1}, "q"},
		{"email never queued", "email", nil, [5]int64{0, 0, 0, 0, 0}, ""},
		{"routed without a wait", "email", []events.Data{
			&events.Routed{Contact: c, Queue: "mail"},
		}, [5]int64{1, 1, 0, 1, 0}, "mail"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := newKPILog()
			l.opened(kpiID('i', 1), c, 0, tc.channel, "tech")
			for i, d := range tc.events {
				l.add(kpiID('i', 1), time.Duration(i+1)*time.Minute, d)
			}
			svc, err := NewServiceLevel(ServiceConfig{})
			require.NoError(t, err)
			applyAll(t, svc, l.evs)
			r := svc.Report()
			assert.Equal(t, tc.want, [5]int64{r.Offered, r.Answered, r.Abandoned, r.Handled, r.AHTContacts})
			if tc.queue == "" {
				assert.Empty(t, r.ByQueue)
				return
			}
			assert.Equal(t, r.ServiceFigures, r.ByQueue[tc.queue])
			assert.Equal(t, r.ServiceFigures, r.ByChannel[tc.channel])
		})
	}
}

func BenchmarkServiceLevel(b *testing.B) {
	evs := kpiGenerate(1, 5000, time.Minute)
	benchmarkKPI(b, evs, func() kpiProjection {
		p, err := NewServiceLevel(ServiceConfig{Lateness: time.Hour})
		require.NoError(b, err)
		return p
	})
}

// benchmarkKPI applies the whole log to a new projection per iteration
// and reports the throughput per event.
func benchmarkKPI(b *testing.B, evs []events.Envelope, mk func() kpiProjection) {
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		p := mk()
		for _, e := range evs {
			if err := p.Apply(e); err != nil {
				b.Fatal(err)
			}
		}
		n++
	}
	b.ReportMetric(float64(n*len(evs))/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*len(evs)), "ns/event")
	b.ReportMetric(float64(len(evs)), "events/op")
}

// Each channel may have its own threshold: a contact is answered within
// its channel's T, or Threshold's for a channel without one, in the total
// and in its channel's segment; the definition states them, a snapshot
// restores only into the same thresholds, and a threshold that is not
// positive is refused.
func TestServiceLevelChannelThresholds(t *testing.T) {
	issue := func(n int, channel string, wait time.Duration) []events.Envelope {
		id := uuid.New()
		c := uuid.New()
		at := time.Date(2026, 3, 2, 9, n, 0, 0, time.UTC)
		return []events.Envelope{
			{ID: uuid.New(), Issue: id, Version: 1, At: at, Data: &events.Opened{Customer: events.Customer{Keys: []string{fmt.Sprintf("email:c%d@example.com", n)}}, Channel: channel, Topic: "billing", Contact: c}},
			{ID: uuid.New(), Issue: id, Version: 2, At: at.Add(wait), Data: &events.Routed{Contact: c, Queue: "q", Agent: "ann", Wait: wait}},
		}
	}
	var log []events.Envelope
	for n, x := range []struct {
		channel string
		wait    time.Duration
	}{{"phone", 10 * time.Second}, {"phone", 30 * time.Second}, {"email", 3 * time.Hour}, {"email", 30 * time.Hour}, {"chat", 50 * time.Second}} {
		log = append(log, issue(n, x.channel, x.wait)...)
	}
	slices.SortStableFunc(log, func(a, b events.Envelope) int { return a.At.Compare(b.At) })
	cfg := ServiceConfig{ChannelThresholds: map[string]time.Duration{"email": 24 * time.Hour, "chat": time.Minute}}
	s, err := NewServiceLevel(cfg)
	require.NoError(t, err)
	cfg.ChannelThresholds["email"] = time.Second // the projection keeps its own copy
	for _, e := range log {
		require.NoError(t, s.Apply(e))
	}
	rep := s.Report()
	assert.Equal(t, [2]int64{3, 5}, [2]int64{rep.ServiceLevel.Hits, rep.ServiceLevel.Total}, "phone 10 s, email 3 h, chat 50 s")
	assert.Equal(t, int64(1), rep.ByChannel["phone"].ServiceLevel.Hits, "phone at the 20 s default")
	assert.Equal(t, int64(1), rep.ByChannel["email"].ServiceLevel.Hits)
	assert.Equal(t, int64(1), rep.ByChannel["chat"].ServiceLevel.Hits)
	assert.Equal(t, map[string]float64{"email": 86400, "chat": 60}, rep.Definition.ChannelThresholdsS)
	assert.Equal(t, 20.0, rep.Definition.ThresholdS)

	b, err := s.MarshalBinary()
	require.NoError(t, err)
	same, err := NewServiceLevel(ServiceConfig{ChannelThresholds: map[string]time.Duration{"chat": time.Minute, "email": 24 * time.Hour}})
	require.NoError(t, err)
	require.NoError(t, same.UnmarshalBinary(b))
	assert.Equal(t, rep, same.Report())
	for _, other := range []map[string]time.Duration{nil, {"email": time.Hour, "chat": time.Minute}} {
		o, err := NewServiceLevel(ServiceConfig{ChannelThresholds: other})
		require.NoError(t, err)
		assert.ErrorIs(t, o.UnmarshalBinary(b), ErrKPISnapshot, "%v", other)
	}

	r, err := NewReporter(ReportConfig{Service: cfg})
	require.NoError(t, err)
	for _, e := range log {
		require.NoError(t, r.Apply(e))
	}
	var buf bytes.Buffer
	require.NoError(t, r.Report().WriteText(&buf))
	assert.Contains(t, buf.String(), "SERVICE LEVEL (threshold 20 s; chat 60 s; email 1 s)")
	assert.Equal(t, map[string]float64{"email": 1, "chat": 60}, r.Report().Definition.ServiceLevelChannelThresholdsS)

	_, err = NewServiceLevel(ServiceConfig{ChannelThresholds: map[string]time.Duration{"email": 0}})
	require.ErrorIs(t, err, ErrKPIConfig)
	assert.ErrorContains(t, err, `threshold 0s of channel "email" is not positive`)
	_, err = NewServiceLevel(ServiceConfig{ChannelThresholds: map[string]time.Duration{"": time.Hour}})
	require.ErrorIs(t, err, ErrKPIConfig, "no channel has an empty name")
}

// A contact that no inbound event introduced (met first in a routing)
// counts under its issue's first channel, and is held to that channel's
// threshold.
func TestServiceLevelContactWithoutAnInboundEventTakesItsIssuesThreshold(t *testing.T) {
	l := newKPILog()
	i1, c1, c2 := kpiID('i', 1), kpiID('c', 1), kpiID('c', 2)
	l.opened(i1, c1, 0, "email", "billing")
	l.add(i1, time.Hour, &events.Routed{Contact: c1, Queue: "mail", Agent: "ann", Wait: time.Hour})
	l.add(i1, 3*time.Hour, &events.Routed{Contact: c2, Queue: "mail", Agent: "bob", Wait: 2 * time.Hour})
	s, err := NewServiceLevel(ServiceConfig{ChannelThresholds: map[string]time.Duration{"email": 24 * time.Hour}})
	require.NoError(t, err)
	applyAll(t, s, l.evs)
	r := s.Report()
	email := r.ByChannel["email"]
	require.Equal(t, int64(2), email.Answered, "both contacts count under email")
	assert.Equal(t, NewRate(2, 2), email.ServiceLevel, "both answered within email's 24 h")
}

// The Reporter's service section equals the ServiceLevel's alone, with one
// horizon for its KPI projections or one each, and across a snapshot
// restored into a Reporter whose names (and thresholds looked up by them)
// came from another log.
func TestServiceLevelChannelThresholdsInAReporter(t *testing.T) {
	evs, _, err := simulate.Collect(simulate.Config{Seed: 3})
	require.NoError(t, err)
	other, _, err := simulate.Collect(simulate.Config{Seed: 9, Channels: []simulate.Channel{{Name: "zzz", Weight: 1}, {Name: "email", Weight: 1}}})
	require.NoError(t, err)
	svcCfg := ServiceConfig{ChannelThresholds: map[string]time.Duration{"email": 24 * time.Hour, "chat": 2 * time.Minute}, Lateness: 48 * time.Hour}
	alone, err := NewServiceLevel(svcCfg)
	require.NoError(t, err)
	applyAll(t, alone, evs)
	want := alone.Report()
	want.Watermark = time.Time{}
	norm := func(s ServiceReport) ServiceReport { s.Watermark = time.Time{}; return s }
	for name, cfg := range map[string]ReportConfig{
		"shared":   {Service: svcCfg, Satisfaction: SatisfactionConfig{Lateness: 48 * time.Hour}, Volume: VolumeConfig{Lateness: 48 * time.Hour}},
		"separate": {Service: svcCfg, Satisfaction: SatisfactionConfig{Lateness: 30 * time.Hour}, Volume: VolumeConfig{Lateness: 72 * time.Hour}},
	} {
		r, err := NewReporter(cfg)
		require.NoError(t, err)
		half := len(evs) / 2
		for _, e := range evs[:half] {
			require.NoError(t, r.Apply(e))
		}
		assert.Equal(t, norm(want).Definition, norm(r.Report().Service).Definition, name)
		b, err := r.MarshalBinary()
		require.NoError(t, err)
		// restore into a Reporter whose names ids differ and whose cache is filled
		r2, err := NewReporter(cfg)
		require.NoError(t, err)
		for _, e := range other[:len(other)/3] {
			require.NoError(t, r2.Apply(e))
		}
		require.NoError(t, r2.UnmarshalBinary(b))
		for _, e := range evs[half:] {
			require.NoError(t, r.Apply(e))
			require.NoError(t, r2.Apply(e))
		}
		assert.Equal(t, norm(want), norm(r.Report().Service), name)
		assert.Equal(t, norm(want), norm(r2.Report().Service), name+" restored")
		// ServiceLevel alone restored into one with a filled cache
		a2, err := NewServiceLevel(svcCfg)
		require.NoError(t, err)
		applyAll(t, a2, other[:len(other)/3])
		ab, err := alone.MarshalBinary()
		require.NoError(t, err)
		require.NoError(t, a2.UnmarshalBinary(ab))
		assert.Equal(t, want, norm(a2.Report()))
	}
}
