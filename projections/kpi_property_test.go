package projections

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
)

// kpiGenerate writes a small random log of n issues that keeps the
// lifecycle: first contacts on several channels, abandonments, transfers,
// consultations, follow-ups, resolutions, reopens, reclassifications and
// survey answers. Issues start one every spacing.
func kpiGenerate(seed uint64, n int, spacing time.Duration) []events.Envelope {
	rng := rand.New(rand.NewPCG(seed, 7))
	l := newKPILog()
	channels := []string{"phone", "chat", "email", "bot"}
	topics := []string{"billing/invoice-error", "billing/refund", "tech/outage", "account"}
	queues := []string{"q-billing", "q-tech"}
	agents := []string{"ann", "bob", "cyd"}
	contact := 0
	for i := range n {
		issue := kpiID('i', i+1)
		at := time.Duration(i) * spacing
		step := func() time.Duration { at += time.Duration(1+rng.IntN(300)) * time.Second; return at }
		next := func() uuid.UUID { contact++; return kpiID('c', contact) }
		// answer queues contact c: perhaps an abandonment (retried or
		// not), one routing or two (a transfer), perhaps a consultation.
		answer := func(c uuid.UUID, channel string) {
			if channel == "bot" || channel == "email" && rng.IntN(2) == 0 {
				return
			}
			if rng.IntN(5) == 0 {
				l.add(issue, step(), &events.Abandoned{Contact: c, Wait: time.Duration(rng.IntN(200)) * time.Second})
				if rng.IntN(2) == 0 {
					return
				}
			}
			for r := range 1 + rng.IntN(2) {
				wait := time.Duration(rng.IntN(240)) * time.Second
				if r > 0 {
					wait = 0
				}
				l.add(issue, step(), &events.Routed{Contact: c, Queue: queues[rng.IntN(2)], Agent: agents[rng.IntN(3)], Wait: wait})
			}
			if rng.IntN(4) == 0 {
				l.add(issue, step(), &events.Consulted{Contact: c, Agent: agents[0], Expert: "exp"})
			}
		}
		channel := channels[rng.IntN(len(channels))]
		c := next()
		l.opened(issue, c, at, channel, topics[rng.IntN(len(topics))])
		answer(c, channel)
		for rng.IntN(4) == 0 {
			ch := channels[rng.IntN(len(channels))]
			c = next()
			l.add(issue, step(), &events.Contacted{Contact: c, Channel: ch})
			answer(c, ch)
		}
		if rng.IntN(5) == 0 {
			l.add(issue, step(), &events.Classified{Topic: topics[rng.IntN(len(topics))]})
		}
		for round := 0; round < 3 && rng.IntN(6) != 0; round++ {
			l.add(issue, step(), &events.Resolved{Contact: c, Agent: agents[rng.IntN(3)], Bot: channel == "bot",
				Handle: time.Duration(rng.IntN(900)) * time.Second})
			for range rng.IntN(3) {
				surveys := []events.Survey{events.SurveyCSAT, events.SurveyNPS, events.SurveyCES}
				s := surveys[rng.IntN(3)]
				lo, hi, _ := s.Scale()
				r := &events.Rated{Survey: s, Score: lo + rng.IntN(hi-lo+1)}
				if rng.IntN(2) == 0 {
					r.Contact = c
				}
				l.add(issue, step(), r)
			}
			if rng.IntN(3) != 0 {
				break
			}
			ch := channels[rng.IntN(len(channels))]
			c = next()
			l.add(issue, step(), &events.Reopened{Contact: c, Channel: ch})
			answer(c, ch)
		}
	}
	return l.evs
}

// kpiShuffle returns evs in a seeded random order with some duplicates.
func kpiShuffle(seed uint64, evs []events.Envelope) []events.Envelope {
	rng := rand.New(rand.NewPCG(seed, 11))
	out := append([]events.Envelope(nil), evs...)
	for range len(evs) / 5 {
		out = append(out, evs[rng.IntN(len(evs))])
	}
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func TestKPIGeneratorWritesValidStreams(t *testing.T) {
	evs := kpiGenerate(1, 200, time.Minute)
	require.NotEmpty(t, evs)
	store := events.NewMemoryStore()
	byIssue := map[uuid.UUID][]events.Envelope{}
	for _, e := range evs {
		require.NoError(t, e.Validate())
		byIssue[e.Issue] = append(byIssue[e.Issue], e)
	}
	types := map[events.Type]int{}
	for issue, stream := range byIssue {
		_, err := store.Append(t.Context(), issue, 0, stream)
		require.NoError(t, err, "issue %s", issue)
		for i, e := range stream {
			types[e.Type()]++
			if i > 0 {
				assert.False(t, e.At.Before(stream[i-1].At), "issue %s version %d goes back in time", issue, e.Version)
			}
		}
	}
	for _, ty := range []events.Type{events.TypeOpened, events.TypeRouted, events.TypeConsulted, events.TypeResolved,
		events.TypeReopened, events.TypeContacted, events.TypeAbandoned, events.TypeRated, events.TypeClassified} {
		assert.Positive(t, types[ty], "the log has no %s", ty)
	}
}

// TestKPIReportsDependOnTheSetOfEvents feeds each projection the same log
// in order and in seeded shuffles with duplicates: the reports must be
// identical.
func TestKPIReportsDependOnTheSetOfEvents(t *testing.T) {
	evs := kpiGenerate(42, 300, 3*time.Minute)
	projections := map[string]func() (kpiProjection, func() any){
		"service": func() (kpiProjection, func() any) {
			p, err := NewServiceLevel(ServiceConfig{Lateness: 365 * 24 * time.Hour})
			require.NoError(t, err)
			return p, func() any { return p.Report() }
		},
		"satisfaction": func() (kpiProjection, func() any) {
			p, err := NewSatisfaction(SatisfactionConfig{Lateness: 365 * 24 * time.Hour})
			require.NoError(t, err)
			return p, func() any { return p.Report() }
		},
		"volume": func() (kpiProjection, func() any) {
			p, err := NewVolume(VolumeConfig{Lateness: 365 * 24 * time.Hour, Values: map[string]Value{"billing": ValueNeither}})
			require.NoError(t, err)
			return p, func() any { return p.Report() }
		},
	}
	for name, mk := range projections {
		t.Run(name, func(t *testing.T) {
			p, report := mk()
			applyAll(t, p, evs)
			want := kpiJSON(t, report())

			for seed := range uint64(5) {
				p, report := mk()
				applyAll(t, p, kpiShuffle(seed, evs))
				assert.JSONEq(t, want, kpiJSON(t, report()), "shuffle %d", seed)
			}
		})
	}
}

// TestKPIBoundedDisorderWithinTheLateness delivers a long log in time
// order and with every event (and a few duplicates) delayed by up to half
// the lateness, with state dropped as the log goes: the reports must be
// the same, and nothing late.
func TestKPIBoundedDisorderWithinTheLateness(t *testing.T) {
	const lateness = time.Hour
	evs := kpiGenerate(9, 400, 5*time.Minute) // about 33 hours
	inOrder := slices.Clone(evs)
	slices.SortStableFunc(inOrder, func(a, b events.Envelope) int { return a.At.Compare(b.At) })

	delayed := func(seed uint64) []events.Envelope {
		rng := rand.New(rand.NewPCG(seed, 3))
		type arrival struct {
			at time.Time
			e  events.Envelope
		}
		var as []arrival
		for _, e := range evs {
			for range 1 + rng.IntN(2) {
				as = append(as, arrival{e.At.Add(time.Duration(rng.Int64N(int64(lateness / 2)))), e})
			}
		}
		slices.SortStableFunc(as, func(a, b arrival) int { return a.at.Compare(b.at) })
		out := make([]events.Envelope, len(as))
		for i, a := range as {
			out[i] = a.e
		}
		return out
	}

	mks := map[string]func() (kpiProjection, func() any){
		"service": func() (kpiProjection, func() any) {
			p, err := NewServiceLevel(ServiceConfig{Lateness: lateness})
			require.NoError(t, err)
			return p, func() any { r := p.Report(); r.TrackedIssues, r.HeldEvents = 0, 0; return r }
		},
		"satisfaction": func() (kpiProjection, func() any) {
			p, err := NewSatisfaction(SatisfactionConfig{Lateness: lateness})
			require.NoError(t, err)
			return p, func() any { r := p.Report(); r.TrackedIssues, r.HeldEvents = 0, 0; return r }
		},
		"volume": func() (kpiProjection, func() any) {
			p, err := NewVolume(VolumeConfig{Lateness: lateness})
			require.NoError(t, err)
			return p, func() any { r := p.Report(); r.TrackedIssues, r.HeldEvents = 0, 0; return r }
		},
	}
	for name, mk := range mks {
		t.Run(name, func(t *testing.T) {
			p, report := mk()
			applyAll(t, p, inOrder)
			want := kpiJSON(t, report())
			assert.Contains(t, want, `"late_events":0`)
			for seed := range uint64(3) {
				p, report := mk()
				applyAll(t, p, delayed(seed))
				assert.JSONEq(t, want, kpiJSON(t, report()), "seed %d", seed)
			}
		})
	}
}
