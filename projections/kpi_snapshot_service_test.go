package projections

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/truefcr/truefcr/events"
)

// A ServiceLevel's snapshot whose contacts disagree with its counts is
// refused, as a ServiceLevel does not write one: a contact of an issue
// tracked that counts more than a count holds would take that count below
// zero at its next event. Each case spoils a snapshot of one resolved
// issue, then restores it into a ServiceLevel alone and into a Reporter,
// whose service level shares the horizon of the others or keeps its own;
// the unspoiled snapshot still restores and takes the next event.
func TestServiceLevelRestoreRefusesContactsThatDisagreeWithItsCounts(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	issue, contact := uuid.MustParse("00000000-0000-7000-8000-000000000001"), uuid.MustParse("00000000-0000-7000-8000-0000000000c1")
	var evs []events.Envelope
	for i, d := range []events.Data{
		&events.Opened{Customer: events.Customer{ID: "c"}, Channel: "phone", Topic: "billing", Contact: contact},
		&events.Routed{Contact: contact, Queue: "q", Agent: "ann", Wait: 10 * time.Second},
		&events.Resolved{Contact: contact, Agent: "ann", Handle: 3 * time.Minute},
	} {
		evs = append(evs, events.Envelope{ID: uuid.New(), Issue: issue, Version: uint64(i + 1), At: at.Add(time.Duration(i) * time.Minute), Data: d})
	}
	reopened := events.Envelope{ID: uuid.New(), Issue: issue, Version: 4, At: at.Add(time.Hour), Data: &events.Reopened{Contact: contact, Channel: "phone"}}
	subjects := kpiSubjects(t, "service level", func() (snapshotting, error) { return NewServiceLevel(ServiceConfig{}) }, ReportConfig{})
	contactOf := func(s *kpiSnap) *kpiSnapContact { return &s.Horizons[0].Issues[0].State.Contacts[0] }
	cases := []kpiSpoil{
		{"no answer", func(s *kpiSnap) { s.Service.Total[0] = 0 }, "service level: 0 answered, fewer than the 1 of the issues tracked"},
		{"no channels", func(s *kpiSnap) { s.Service.ByChannel = nil }, `service level of channel "phone": 0 answered`},
		{"no queues", func(s *kpiSnap) { s.Service.ByQueue = nil }, `service level of queue "q": 0 answered`},
		{"a resolution the counts lack", func(s *kpiSnap) { contactOf(s).Resolutions = 2 }, "service level: 1 resolutions, fewer than the 2"},
		{"a stand-in's reopen", func(s *kpiSnap) {
			c := contactOf(s)
			c.Flags |= uint8(kcDropped)
			c.Reopens, c.ChSeg, c.QSeg = 1, 0, 0
			s.Service.Total[10] = 1 // reopens: counted in the total, not as unattributed
		}, "0 reopens unattributed, fewer than the 1 of the issues tracked"},
		{"below zero under the empty name", func(s *kpiSnap) {
			s.Service.ByChannel[0][9], s.Service.ByQueue[0][9] = -1, -1 // resolutions, which only builds of formats 3 to 5 left there
		}, "count 9 is negative"},
		{"an unmarked stand-in of format 3 that its queue lacks", func(s *kpiSnap) {
			s.Format = 3
			st := &s.Horizons[0].Issues[0].State
			st.Channel = 0
			st.Contacts[0].Flags &^= uint8(kcInbound)
			s.Service.ByQueue = nil
		}, `service level of queue "q": -1 answered once moved to today's rules`},
	}
	assertRefusesSpoiled(t, subjects, evs, reopened, func(int) []kpiSpoil { return cases })
}
