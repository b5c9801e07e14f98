package projections

import (
	"context"
	"encoding"
	"math"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/internal/simulate"
)

// snapshotting is a projection that saves and restores its state, with
// its report.
type snapshotting interface {
	Projection
	encoding.BinaryMarshaler
	encoding.BinaryUnmarshaler
}

// snapSubject makes one kind of projection: a new one, its report and how
// many events it holds for a gap.
type snapSubject struct {
	name string
	make func(t *testing.T) snapshotting
}

func (s snapSubject) report(p snapshotting) any {
	switch p := p.(type) {
	case *ServiceLevel:
		return p.Report()
	case *Satisfaction:
		return p.Report()
	case *Volume:
		return p.Report()
	case *Reporter:
		return p.Report()
	case *FCR:
		return p.Report()
	}
	panic("unknown projection")
}

// held returns how many events p holds for a gap.
func held(p snapshotting) int {
	switch p := p.(type) {
	case *ServiceLevel:
		return p.Report().HeldEvents
	case *Satisfaction:
		return p.Report().HeldEvents
	case *Volume:
		return p.Report().HeldEvents
	case *Reporter:
		return p.Report().Service.HeldEvents
	}
	panic("unknown projection")
}

func snapSubjects() []snapSubject {
	must := func(t *testing.T, p snapshotting, err error) snapshotting {
		t.Helper()
		require.NoError(t, err)
		return p
	}
	return []snapSubject{
		{"service level", func(t *testing.T) snapshotting {
			p, err := NewServiceLevel(ServiceConfig{Threshold: 30 * time.Second, Lateness: 6 * time.Hour})
			return must(t, p, err)
		}},
		{"satisfaction", func(t *testing.T) snapshotting {
			p, err := NewSatisfaction(SatisfactionConfig{Lateness: 6 * time.Hour})
			return must(t, p, err)
		}},
		{"volume", func(t *testing.T) snapshotting {
			p, err := NewVolume(VolumeConfig{Lateness: 6 * time.Hour,
				Values: map[string]Value{"billing": ValueCompany, "tech": ValueBoth}})
			return must(t, p, err)
		}},
		{"report, one horizon", func(t *testing.T) snapshotting {
			p, err := NewReporter(ReportConfig{Lateness: 6 * time.Hour})
			return must(t, p, err)
		}},
		{"report, a horizon each", func(t *testing.T) snapshotting {
			p, err := NewReporter(ReportConfig{Lateness: 6 * time.Hour,
				Service: ServiceConfig{Lateness: 3 * time.Hour}})
			return must(t, p, err)
		}},
	}
}

// mustMarshal returns p's snapshot.
func mustMarshal(t *testing.T, p snapshotting) []byte {
	t.Helper()
	b, err := p.MarshalBinary()
	require.NoError(t, err)
	return b
}

// kpiBytes returns the KPI part of a snapshot: all of one of a KPI
// projection, the KPI part of a Reporter's, whose FCR part saves maps in
// no fixed order.
func kpiBytes(t *testing.T, b []byte) []byte {
	t.Helper()
	var s reportSnap
	if msgpack.Unmarshal(unsealed(b), &s) == nil && s.Format == reportSnapFormat && s.KPI != nil {
		return s.KPI
	}
	return b
}

// deliveredLog returns a simulated fortnight as kpiRoughDelivery delivers
// it for a lateness of six hours: late, twice, or never, and a tenth again
// at the end, so that streams have gaps, skips, forgotten states and
// duplicates at any moment.
func deliveredLog(t *testing.T, seed uint64) []events.Envelope {
	t.Helper()
	log, _, err := simulate.Collect(simulate.Config{Seed: seed, Days: 14, Customers: 300, IssuesPerDay: 60})
	require.NoError(t, err)
	return kpiRoughDelivery(seed, log, 6*time.Hour)
}

// A projection restored from a snapshot taken at any moment, events held
// for a gap included, goes on as the one saved: fed the events up to the
// next snapshot, it reports what the saved one reported then and saves the
// same state.
func TestKPISnapshotGoesOnAsTheSavedProjection(t *testing.T) {
	t.Parallel() // long, and of its own state only
	log := deliveredLog(t, 5)
	for _, subj := range snapSubjects() {
		t.Run(subj.name, func(t *testing.T) {
			orig := subj.make(t)
			var cuts []int
			for c := 0; c < len(log); c += len(log)/24 + 1 {
				cuts = append(cuts, c)
			}
			cuts = append(cuts, len(log))
			saved := make(map[int][]byte)
			atCut := make(map[int]any)
			heldAtCut := 0
			for i := 0; i <= len(log); i++ {
				if slices.Contains(cuts, i) {
					saved[i], atCut[i] = mustMarshal(t, orig), subj.report(orig)
					heldAtCut += held(orig)
				}
				if i < len(log) {
					require.NoError(t, orig.Apply(log[i]))
				}
			}
			require.Positive(t, heldAtCut, "some snapshot holds events that wait for a gap")
			for k, c := range cuts[:len(cuts)-1] {
				restored := subj.make(t)
				require.NoError(t, restored.UnmarshalBinary(saved[c]), "cut at %d", c)
				require.Equal(t, atCut[c], subj.report(restored), "restored at event %d of %d, before any other", c, len(log))
				require.Equal(t, kpiBytes(t, saved[c]), kpiBytes(t, mustMarshal(t, restored)), "the restored state saves another snapshot")
				next := cuts[k+1]
				for _, e := range log[c:next] {
					require.NoError(t, restored.Apply(e))
				}
				require.Equal(t, atCut[next], subj.report(restored), "restored at event %d, fed up to %d", c, next)
				require.Equal(t, kpiBytes(t, saved[next]), kpiBytes(t, mustMarshal(t, restored)), "restored at event %d, fed up to %d", c, next)
			}
		})
	}
}

// A snapshot that does not fit is refused with ErrKPISnapshot (or
// ErrFCRSnapshot, for a Reporter's FCR part), and the projection is left
// as it was.
func TestKPIRestoreRefusesWhatDoesNotFitAndChangesNothing(t *testing.T) {
	log := deliveredLog(t, 6)
	half := log[:len(log)/2]
	feed := func(p snapshotting, evs []events.Envelope) snapshotting {
		for _, e := range evs {
			require.NoError(t, p.Apply(e))
		}
		return p
	}
	subjects := snapSubjects()
	snaps := make(map[string][]byte)
	for _, s := range subjects {
		b, err := feed(s.make(t), half).MarshalBinary()
		require.NoError(t, err)
		snaps[s.name] = b
	}
	svc := func(cfg ServiceConfig) snapshotting {
		p, err := NewServiceLevel(cfg)
		require.NoError(t, err)
		return p
	}
	vol := func(cfg VolumeConfig) snapshotting {
		p, err := NewVolume(cfg)
		require.NoError(t, err)
		return p
	}
	rep := func(cfg ReportConfig) snapshotting {
		p, err := NewReporter(cfg)
		require.NoError(t, err)
		return p
	}
	// fresh returns a new projection of the subject name, into which its
	// snapshot restores as it was saved: a case restores a spoiled copy
	// into one, so that only the spoiling can be refused.
	fresh := func(name string) snapshotting {
		i := slices.IndexFunc(subjects, func(s snapSubject) bool { return s.name == name })
		require.GreaterOrEqual(t, i, 0, name)
		return subjects[i].make(t)
	}
	for _, s := range subjects {
		require.NoError(t, fresh(s.name).UnmarshalBinary(snaps[s.name]), "%s: its own snapshot", s.name)
	}
	truncated := snaps["volume"][:len(snaps["volume"])/2]
	// spoiled returns the volume snapshot with one issue's state changed
	// by spoil into one that no projection could have saved.
	spoiled := func(spoil func(st *kpiSnapState, names int)) []byte {
		return editSnapshot(t, snaps["volume"], func(s *kpiSnap) {
			issues := s.Horizons[0].Issues
			i := slices.IndexFunc(issues, func(is kpiSnapIssue) bool { return len(is.State.Contacts) > 0 })
			require.GreaterOrEqual(t, i, 0)
			spoil(&issues[i].State, len(s.Names))
		})
	}
	cases := []struct {
		name string
		into snapshotting
		snap []byte
		err  error
	}{
		{"another threshold", svc(ServiceConfig{Lateness: 6 * time.Hour}), snaps["service level"], ErrKPISnapshot},
		{"another lateness", svc(ServiceConfig{Threshold: 30 * time.Second}), snaps["service level"], ErrKPISnapshot},
		{"another projection's", svc(ServiceConfig{Threshold: 30 * time.Second, Lateness: 6 * time.Hour}), snaps["satisfaction"], ErrKPISnapshot},
		{"other value tags", vol(VolumeConfig{Lateness: 6 * time.Hour}), snaps["volume"], ErrKPISnapshot},
		{"truncated", fresh("volume"), truncated, ErrKPISnapshot},
		{"not a snapshot", vol(VolumeConfig{}), []byte("hello"), ErrKPISnapshot},
		{"a negative count", fresh("volume"), spoiled(func(st *kpiSnapState, _ int) { st.Counted = -5 }), ErrKPISnapshot},
		{"a next version beyond the largest", fresh("volume"), editSnapshot(t, snaps["volume"], func(s *kpiSnap) {
			s.Horizons[0].Issues[0].Next = math.MaxUint64
		}), ErrKPISnapshot},
		{"a base at the next version", fresh("volume"), editSnapshot(t, snaps["volume"], func(s *kpiSnap) {
			issues := s.Horizons[0].Issues
			i := slices.IndexFunc(issues, func(is kpiSnapIssue) bool { return is.Next > 1 && len(is.Skipped) == 0 && len(is.Gapped) == 0 })
			require.GreaterOrEqual(t, i, 0)
			issues[i].Base = issues[i].Next
		}), ErrKPISnapshot},
		{"a contact index out of range", fresh("volume"), spoiled(func(st *kpiSnapState, _ int) { st.Latest = int32(len(st.Contacts)) + 1 }), ErrKPISnapshot},
		{"a name out of range", fresh("volume"), spoiled(func(st *kpiSnapState, names int) { st.Contacts[0].Queue = uint32(names) }), ErrKPISnapshot},
		{"a rating of no contact", fresh("volume"), spoiled(func(st *kpiSnapState, _ int) {
			st.Ratings = append(st.Ratings, [3]int32{int32(len(st.Contacts)) + 1, 4, int32(satCSAT)})
		}), ErrKPISnapshot},
		// Counts of the projections, where no count is below zero, and
		// a day no event time has, which would print as another day's
		// (d·86400 s overflows) and take its place in the report.
		{"a negative contacts count", fresh("volume"), editSnapshot(t, snaps["volume"], func(s *kpiSnap) { s.Volume.Counts[0] = -1 }), ErrKPISnapshot},
		{"a negative count of a day", fresh("volume"), editSnapshot(t, snaps["volume"], func(s *kpiSnap) { s.Volume.ByDay[0][1] = -1 }), ErrKPISnapshot},
		{"a day beyond event times", fresh("volume"), editSnapshot(t, snaps["volume"], func(s *kpiSnap) {
			s.Volume.ByDay = append(s.Volume.ByDay, [2]int64{s.Volume.ByDay[0][0] + 1<<57, 1})
		}), ErrKPISnapshot},
		{"a negative count by channel", fresh("volume"), editSnapshot(t, snaps["volume"], func(s *kpiSnap) { s.Volume.ByChannel[len(s.Volume.ByChannel)-1] = -1 }), ErrKPISnapshot},
		{"a negative count of answered contacts", fresh("service level"), editSnapshot(t, snaps["service level"], func(s *kpiSnap) { s.Service.Total[0] = -1 }), ErrKPISnapshot},
		{"a negative count of a queue", fresh("service level"), editSnapshot(t, snaps["service level"], func(s *kpiSnap) {
			s.Service.ByQueue[len(s.Service.ByQueue)-1][0] = -1
		}), ErrKPISnapshot},
		{"a negative count of CSAT answers", fresh("satisfaction"), editSnapshot(t, snaps["satisfaction"], func(s *kpiSnap) { s.Sat.Total[0] = -1 }), ErrKPISnapshot},
		{"a negative count of late events", fresh("service level"), editSnapshot(t, snaps["service level"], func(s *kpiSnap) { s.Horizons[0].Late = -1 }), ErrKPISnapshot},
		{"issues tracked with no watermark", fresh("volume"), editSnapshot(t, snaps["volume"], func(s *kpiSnap) {
			require.NotEmpty(t, s.Horizons[0].Issues)
			s.Horizons[0].HasWM = false
		}), ErrKPISnapshot},
		{"one horizon into three", rep(ReportConfig{Lateness: 6 * time.Hour, Service: ServiceConfig{Lateness: 3 * time.Hour}}), snaps["report, one horizon"], ErrKPISnapshot},
		{"a report of another FCR window", rep(ReportConfig{Lateness: 6 * time.Hour, FCR: FCRConfig{Window: 48 * time.Hour}}), snaps["report, one horizon"], ErrFCRSnapshot},
		{"a KPI snapshot into a report", rep(ReportConfig{Lateness: 6 * time.Hour}), snaps["service level"], ErrKPISnapshot},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := feed(tc.into, log[len(log)/2:len(log)/2+500])
			before, err := p.MarshalBinary()
			require.NoError(t, err)
			var s snapSubject
			wantReport := s.report(p)
			require.ErrorIs(t, p.UnmarshalBinary(tc.snap), tc.err)
			assert.Equal(t, wantReport, s.report(p), "a refused snapshot changed the projection")
			after, err := p.MarshalBinary()
			require.NoError(t, err)
			assert.Equal(t, kpiBytes(t, before), kpiBytes(t, after), "a refused snapshot changed the projection's state")
		})
	}
}

// A Reporter fed by a runner from a subscriber alone, with no store to
// read again, keeps its whole report across restarts: each runner
// restores it from the last checkpoint.
func TestRunnerReporterRestartsFromItsCheckpoint(t *testing.T) {
	log := deliveredLog(t, 7)
	want, err := NewReporter(ReportConfig{})
	require.NoError(t, err)
	for _, e := range log {
		require.NoError(t, want.Apply(e))
	}
	ctx := context.Background()
	cps := NewMemoryCheckpoints()
	var r *Reporter
	for start := 0; start < len(log); start += len(log) / 4 {
		round := log[start:min(start+len(log)/4, len(log))]
		// Acknowledged one by one, so that the runner gets them in order.
		bus := gochannel.NewGoChannel(gochannel.Config{BlockPublishUntilSubscriberAck: true}, watermill.NopLogger{})
		r, err = NewReporter(ReportConfig{})
		require.NoError(t, err)
		runner, err := NewRunner(RunnerConfig{Name: "report", Projection: r, Subscriber: bus, Topic: "events",
			Checkpoints: cps, CheckpointEvery: 1000, Logger: watermill.NopLogger{}})
		require.NoError(t, err)
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- runner.Run(runCtx) }()
		require.Eventually(t, runner.CaughtUp, 10*time.Second, time.Millisecond)
		for _, e := range round {
			msg, err := events.NewMessage(events.NewMsgpackCodec(nil), e)
			require.NoError(t, err)
			require.NoError(t, bus.Publish("events", msg))
		}
		require.Eventually(t, func() bool {
			st := runner.Stats()
			return st.Applied+st.Duplicates == int64(len(round))
		}, 10*time.Second, time.Millisecond)
		stop()
		require.NoError(t, <-done)
		require.NoError(t, bus.Close())
	}
	assert.Equal(t, want.Report(), r.Report())
}

// escalated is a host's event type, which no registry of the projections
// knows.
type escalated struct {
	Level int `json:"level"`
}

func (*escalated) EventType() events.Type { return "acme.escalated" }

// hostResolved is a host's own Go type for issue.resolved.
type hostResolved struct {
	Note string `json:"note"`
}

func (*hostResolved) EventType() events.Type { return events.TypeResolved }

// Events of types that no registry of the projection knows, held for a
// gap, are saved by name and place rather than failing the snapshot (and
// the runner that checkpoints it): restored and released, they count as
// in the projection saved, an issue.resolved of the host's type closing
// its issue.
func TestSnapshotsKeepHeldEventsOfTypesTheyDoNotKnow(t *testing.T) {
	issue, c1, c2 := uuid.New(), uuid.New(), uuid.New()
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	var evs []events.Envelope
	for i, d := range []events.Data{
		&events.Opened{Customer: events.Customer{ID: "C-1"}, Channel: "chat", Topic: "billing", Contact: c1},
		&events.Contacted{Contact: c2, Channel: "phone"},
		&escalated{Level: 2},
		&hostResolved{Note: "done"},
	} {
		evs = append(evs, events.Envelope{ID: uuid.New(), Issue: issue, Version: uint64(i + 1), At: t0.Add(time.Duration(i) * time.Minute), Data: d})
	}
	subjects := append(snapSubjects(), snapSubject{"fcr", func(t *testing.T) snapshotting { return mustFCR(FCRConfig{}) }})
	for _, subj := range subjects {
		t.Run(subj.name, func(t *testing.T) {
			orig := subj.make(t)
			for _, i := range []int{0, 2, 3} { // version 2 is missing
				require.NoError(t, orig.Apply(evs[i]))
			}
			b, err := orig.MarshalBinary()
			require.NoError(t, err)
			restored := subj.make(t)
			require.NoError(t, restored.UnmarshalBinary(b))
			require.NoError(t, orig.Apply(evs[1]))
			require.NoError(t, restored.Apply(evs[1]))
			assert.Equal(t, subj.report(orig), subj.report(restored))
		})
	}
}

// An FCR snapshot of format 3, the one before events held by name, still
// restores; one that claims format 3 and holds such events is refused.
func TestFCRRestoresFormat3AndRefusesItWithEventsHeldByName(t *testing.T) {
	issue, c1 := uuid.New(), uuid.New()
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	f := mustFCR(FCRConfig{})
	opened := events.Envelope{ID: uuid.New(), Issue: issue, Version: 1, At: t0, Data: &events.Opened{Customer: events.Customer{ID: "C-1"}, Channel: "chat", Topic: "billing", Contact: c1}}
	held := events.Envelope{ID: uuid.New(), Issue: issue, Version: 3, At: t0.Add(time.Minute), Data: &events.Resolved{Contact: c1, Agent: "ann"}}
	require.NoError(t, f.Apply(opened))
	require.NoError(t, f.Apply(held))
	b, err := f.MarshalBinary()
	require.NoError(t, err)
	v3 := editSnapshot(t, b, func(s *fcrSnap) {
		require.Equal(t, fcrSnapFormat, s.Format)
		s.Format = 3
	})
	g := mustFCR(FCRConfig{})
	require.NoError(t, g.UnmarshalBinary(v3))
	assert.Equal(t, f.Report(), g.Report())

	bad := editSnapshot(t, v3, func(s *fcrSnap) {
		s.Opaque = []snapOpaque{{ID: uuid.New(), Issue: issue, Version: 2, At: t0.UnixNano(), Type: "acme.escalated"}}
	})
	require.ErrorIs(t, mustFCR(FCRConfig{}).UnmarshalBinary(bad), ErrFCRSnapshot)
}

// A ServiceLevel snapshot of format 1, written when a contact abandoned
// before any routing still counted as handled when consulted on and in AHT
// (testdata/service_format1.snap, saved by c1daf8a after the events
// below), restores into the figures of today's rules, and goes on as a
// ServiceLevel fed the same events would.
func TestServiceLevelRestoresFormat1(t *testing.T) {
	l := newKPILog()
	i1, c1 := kpiID('i', 1), kpiID('c', 1)
	l.opened(i1, c1, 0, "phone", "billing")
	l.add(i1, 10*time.Second, &events.Abandoned{Contact: c1, Wait: 10 * time.Second})
	l.add(i1, time.Minute, &events.Resolved{Contact: c1, Agent: "ann", Handle: 300 * time.Second})
	l.add(i1, 2*time.Minute, &events.Consulted{Contact: c1, Agent: "ann", Expert: "olli"})
	i2, c2 := kpiID('i', 2), kpiID('c', 2)
	l.opened(i2, c2, 3*time.Minute, "chat", "tech")
	l.add(i2, 4*time.Minute, &events.Routed{Contact: c2, Queue: "q", Wait: 20 * time.Second})
	l.add(i2, 5*time.Minute, &events.Resolved{Contact: c2, Agent: "bob", Handle: 100 * time.Second})
	saved := len(l.evs)
	l.add(i1, 6*time.Minute, &events.Reopened{Contact: kpiID('c', 3), Channel: "chat"})
	l.add(i1, 7*time.Minute, &events.Routed{Contact: kpiID('c', 3), Queue: "q", Wait: 5 * time.Second})

	fresh, err := NewServiceLevel(ServiceConfig{})
	require.NoError(t, err)
	applyAll(t, fresh, l.evs[:saved])
	require.Equal(t, int64(1), fresh.Report().Handled)

	b, err := os.ReadFile("testdata/service_format1.snap")
	require.NoError(t, err)
	restored, err := NewServiceLevel(ServiceConfig{})
	require.NoError(t, err)
	require.NoError(t, restored.UnmarshalBinary(b))
	assert.Equal(t, fresh.Report().ServiceFigures, restored.Report().ServiceFigures)
	assert.Equal(t, fresh.Report().ByChannel, restored.Report().ByChannel)
	assert.Equal(t, fresh.Report().ByQueue, restored.Report().ByQueue)

	applyAll(t, fresh, l.evs[saved:])
	applyAll(t, restored, l.evs[saved:])
	assert.Equal(t, fresh.Report(), restored.Report())
}

// A ServiceLevel snapshot of format 3, which summed waits and handle times
// in nanoseconds (testdata/service_format3.snap, saved by 357bc1c after
// the events below), restores into the millisecond sums of today.
func TestServiceLevelRestoresFormat3(t *testing.T) {
	l := newKPILog()
	i1, c1 := kpiID('i', 1), kpiID('c', 1)
	l.opened(i1, c1, 0, "phone", "billing")
	l.add(i1, 10*time.Second, &events.Routed{Contact: c1, Queue: "q", Wait: 3*time.Second + 250*time.Millisecond})
	l.add(i1, time.Minute, &events.Resolved{Contact: c1, Agent: "ann", Handle: 300*time.Second + 125*time.Millisecond})
	i2, c2 := kpiID('i', 2), kpiID('c', 2)
	l.opened(i2, c2, 3*time.Minute, "chat", "tech")
	l.add(i2, 4*time.Minute, &events.Routed{Contact: c2, Queue: "q", Wait: 20 * time.Second})
	l.add(i2, 5*time.Minute, &events.Resolved{Contact: c2, Agent: "bob", Handle: 100 * time.Second})

	fresh, err := NewServiceLevel(ServiceConfig{})
	require.NoError(t, err)
	applyAll(t, fresh, l.evs)
	b, err := os.ReadFile("testdata/service_format3.snap")
	require.NoError(t, err)
	restored, err := NewServiceLevel(ServiceConfig{})
	require.NoError(t, err)
	require.NoError(t, restored.UnmarshalBinary(b))
	assert.Equal(t, fresh.Report(), restored.Report())
	assert.InDelta(t, (3.25+20)/2, restored.Report().ASA, 1e-9)
	assert.InDelta(t, (300.125+100)/2, restored.Report().AHT, 1e-9)
}

// Waits and handle times whose sum in nanoseconds overflows int64 (three
// of a hundred years, an epoch in milliseconds sent as a wait) still give
// their mean.
func TestServiceLevelSumsDoNotOverflow(t *testing.T) {
	const century = 100 * 365 * 24 * time.Hour
	l := newKPILog()
	for i := range 3 {
		issue, c := kpiID('i', i+1), kpiID('c', i+1)
		l.opened(issue, c, time.Duration(i)*time.Minute, "email", "billing")
		l.add(issue, time.Duration(i)*time.Minute+time.Second, &events.Routed{Contact: c, Queue: "q", Wait: century})
		l.add(issue, time.Duration(i)*time.Minute+2*time.Second, &events.Resolved{Contact: c, Agent: "ann", Handle: 2 * century})
		l.add(issue, time.Duration(i)*time.Minute+3*time.Second, &events.Resolved{Contact: c, Agent: "ann", Handle: 2 * century})
	}
	s, err := NewServiceLevel(ServiceConfig{})
	require.NoError(t, err)
	applyAll(t, s, l.evs)
	r := s.Report()
	assert.InDelta(t, century.Seconds(), r.ASA, 1)
	// Two resolutions of one contact sum their handle times, saturated.
	assert.InDelta(t, time.Duration(math.MaxInt64).Seconds(), r.AHT, 1)
}

// Input that is not a snapshot of this kind is refused for that, before
// its lists are read.
func TestKPIRestoreReadsTheHeadFirst(t *testing.T) {
	nils := make([]any, 1<<20)
	for _, head := range []map[string]any{
		{"Format": 0, "Horizons": nils},
		{"Format": kpiSnapFormat, "Kind": "volume", "Horizons": nils},
	} {
		b, err := msgpack.Marshal(head)
		require.NoError(t, err)
		p, err := NewServiceLevel(ServiceConfig{})
		require.NoError(t, err)
		allocated := allocatedBy(func() { err = p.UnmarshalBinary(b) })
		require.ErrorIs(t, err, ErrKPISnapshot)
		assert.Regexp(t, `snapshot format 0|a snapshot of a volume`, err.Error())
		assert.Less(t, allocated, uint64(4*len(b)), "bytes allocated for %d bytes of input", len(b))
	}
}

// The sums of waits and of handle times wrap below zero when valid events
// take them past the largest int64 (a million contacts routed after
// waits of centuries, which wait_ms allows): a snapshot of such a state
// restores, where one with a count below zero is refused.
func TestKPIRestoreTakesWrappedSumsOfDurations(t *testing.T) {
	svc, err := NewServiceLevel(ServiceConfig{})
	require.NoError(t, err)
	applyAll(t, svc, kpiGenerate(3, 20, time.Minute))
	require.NotEmpty(t, svc.byChannel)
	svc.total.waitMS, svc.total.handleMS = math.MinInt64+5, -7
	svc.byChannel[len(svc.byChannel)-1].waitMS = -3
	snap, err := svc.MarshalBinary()
	require.NoError(t, err)
	again, err := NewServiceLevel(ServiceConfig{})
	require.NoError(t, err)
	require.NoError(t, again.UnmarshalBinary(snap))
	assert.Equal(t, svc.total, again.total)

	svc.total.answered = -1
	snap, err = svc.MarshalBinary()
	require.NoError(t, err)
	assert.ErrorIs(t, again.UnmarshalBinary(snap), ErrKPISnapshot)
}

// A snapshot restored into a projection of another kind is refused with
// an error that says what the bytes are: before, a Reporter's snapshot in
// an FCR read as "snapshot format 1, want 2 to 7", and a Volume's in a
// ServiceLevel as a snapshot of a "" projection.
func TestARestoreNamesASnapshotOfAnotherKind(t *testing.T) {
	log := deliveredLog(t, 6)[:300]
	f := mustFCR(FCRConfig{})
	r, err := NewReporter(ReportConfig{})
	require.NoError(t, err)
	v, err := NewVolume(VolumeConfig{})
	require.NoError(t, err)
	for _, e := range log {
		require.NoError(t, f.Apply(e))
		require.NoError(t, r.Apply(e))
		require.NoError(t, v.Apply(e))
	}
	snap := func(p interface{ MarshalBinary() ([]byte, error) }) []byte {
		b, err := p.MarshalBinary()
		require.NoError(t, err)
		return b
	}
	fcrSnap, reportSnap, volSnap := snap(f), snap(r), snap(v)
	svc, err := NewServiceLevel(ServiceConfig{})
	require.NoError(t, err)
	for _, tc := range []struct {
		name     string
		restore  func([]byte) error
		snap     []byte
		sentinel error
		want     string
	}{
		{"a Reporter's into an FCR", mustFCR(FCRConfig{}).UnmarshalBinary, reportSnap, ErrFCRSnapshot, "FCR restore: not an FCR's snapshot but a Reporter's snapshot"},
		{"a Volume's into an FCR", mustFCR(FCRConfig{}).UnmarshalBinary, volSnap, ErrFCRSnapshot, "but the snapshot of a KPI projection, volume"},
		{"an FCR's into a Reporter", r.UnmarshalBinary, fcrSnap, ErrKPISnapshot, "report restore: not a Reporter's snapshot but an FCR's snapshot"},
		{"a Volume's into a Reporter", r.UnmarshalBinary, volSnap, ErrKPISnapshot, "but the snapshot of a KPI projection, volume"},
		{"an FCR's into a ServiceLevel", svc.UnmarshalBinary, fcrSnap, ErrKPISnapshot, "service level restore: not the snapshot of a KPI projection but an FCR's snapshot"},
		{"a Reporter's into a ServiceLevel", svc.UnmarshalBinary, reportSnap, ErrKPISnapshot, "but a Reporter's snapshot"},
		{"a Volume's into a ServiceLevel", svc.UnmarshalBinary, volSnap, ErrKPISnapshot, "a snapshot of a volume"},
		{"a Runner's state into a Reporter", r.UnmarshalBinary, append([]byte(runnerStateMagic), reportSnap...), ErrKPISnapshot, "but a Runner's checkpoint state"},
	} {
		err := tc.restore(tc.snap)
		require.Error(t, err, tc.name)
		assert.ErrorIs(t, err, tc.sentinel, tc.name)
		assert.Contains(t, err.Error(), tc.want, tc.name)
	}
	assert.Equal(t, f.Report(), func() FCRReport {
		g := mustFCR(FCRConfig{})
		require.NoError(t, g.UnmarshalBinary(fcrSnap))
		return g.Report()
	}())
}
