package projections

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/truefcr/truefcr/events"
)

// A Satisfaction's snapshot whose answers disagree with its counts is
// refused, as a Satisfaction does not write one: an answer of an issue
// tracked that a count lacks would take that count below zero at the next
// event that moves the issue's answers (a reclassification). Each case
// spoils a snapshot of one rated issue, then restores it into a
// Satisfaction alone and into a Reporter, whose satisfaction shares the
// horizon of the others or keeps its own; the unspoiled snapshot still
// restores and takes the next event.
func TestSatisfactionRestoreRefusesAnswersThatDisagreeWithItsCounts(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	issue, contact := uuid.MustParse("00000000-0000-7000-8000-000000000001"), uuid.MustParse("00000000-0000-7000-8000-0000000000c1")
	var evs []events.Envelope
	for i, d := range []events.Data{
		&events.Opened{Customer: events.Customer{ID: "c"}, Channel: "phone", Topic: "billing", Contact: contact},
		&events.Routed{Contact: contact, Queue: "q", Agent: "ann", Wait: 40 * time.Second},
		&events.Resolved{Contact: contact, Agent: "ann"},
		&events.Rated{Survey: events.SurveyCSAT, Score: 5, Contact: contact},
	} {
		evs = append(evs, events.Envelope{ID: uuid.New(), Issue: issue, Version: uint64(i + 1), At: at.Add(time.Duration(i) * time.Minute), Data: d})
	}
	classified := events.Envelope{ID: uuid.New(), Issue: issue, Version: 5, At: at.Add(time.Hour), Data: &events.Classified{Topic: "orders"}}
	subjects := kpiSubjects(t, "satisfaction", func() (snapshotting, error) { return NewSatisfaction(SatisfactionConfig{}) }, ReportConfig{})
	assertRefusesSpoiled(t, subjects, evs, classified, func(horizon int) []kpiSpoil {
		return []kpiSpoil{
			{"an answer the counts lack", func(s *kpiSnap) {
				st := &s.Horizons[horizon].Issues[0].State
				st.Ratings = append(st.Ratings, [3]int32{1, 4, int32(satCSAT)})
			}, "satisfaction: 1 csat, fewer than the 2 of the issues tracked"},
			{"no channels", func(s *kpiSnap) { s.Sat.ByChannel = nil }, `satisfaction of channel "phone": 0 csat`},
			{"no topics", func(s *kpiSnap) { s.Sat.ByTopic = nil }, `satisfaction of topic "billing": 0 csat`},
			{"no agents", func(s *kpiSnap) { s.Sat.ByAgent = nil }, `satisfaction of agent "ann": 0 csat`},
			{"another wait", func(s *kpiSnap) { s.Sat.ByWait[0], s.Sat.ByWait[1] = s.Sat.ByWait[1], s.Sat.ByWait[0] }, "satisfaction of wait bucket 30-90s: 0 csat"},
			{"no top-2 answer", func(s *kpiSnap) { s.Sat.Total[2] = 0 }, "0 csat_top2"},
		}
	})
}
