package projections

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
)

// kpiT0 is the start of every test log: a Monday.
var kpiT0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// kpiID returns a fixed UUID for n, so that logs are reproducible.
func kpiID(kind byte, n int) uuid.UUID {
	return uuid.UUID{0: kind, 12: byte(n >> 24), 13: byte(n >> 16), 14: byte(n >> 8), 15: byte(n)}
}

// kpiLog builds event logs: each issue's versions and ids follow from the
// order of the calls.
type kpiLog struct {
	evs      []events.Envelope
	versions map[uuid.UUID]uint64
}

func newKPILog() *kpiLog { return &kpiLog{versions: make(map[uuid.UUID]uint64)} }

// add appends the next event of issue, at kpiT0+at.
func (l *kpiLog) add(issue uuid.UUID, at time.Duration, d events.Data) events.Envelope {
	l.versions[issue]++
	e := events.Envelope{
		ID:      kpiID('e', len(l.evs)+1),
		Issue:   issue,
		Version: l.versions[issue],
		At:      kpiT0.Add(at),
		Data:    d,
	}
	l.evs = append(l.evs, e)
	return e
}

func (l *kpiLog) opened(issue, contact uuid.UUID, at time.Duration, channel, topic string) {
	l.add(issue, at, &events.Opened{Customer: events.Customer{ID: "c-" + issue.String()[:4]}, Channel: channel, Topic: topic, Contact: contact})
}

// handled adds an issue on the phone about billing, opened at kpiT0, answered
// after 5 s a minute later and resolved after another minute.
func (l *kpiLog) handled(issue, contact uuid.UUID) {
	l.opened(issue, contact, 0, "phone", "billing")
	l.add(issue, time.Minute, &events.Routed{Contact: contact, Queue: "q", Wait: 5 * time.Second})
	l.add(issue, 2*time.Minute, &events.Resolved{Contact: contact, Handle: time.Minute})
}

// kpiProjection is what the tests need of the three KPI projections.
type kpiProjection interface {
	Apply(events.Envelope) error
}

func applyAll(t testing.TB, p kpiProjection, evs []events.Envelope) {
	t.Helper()
	for _, e := range evs {
		require.NoError(t, p.Apply(e))
	}
}

func kpiJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func TestKPIConfigsAreValidated(t *testing.T) {
	cases := []struct {
		name string
		make func() error
		want string
	}{
		{"negative threshold", func() error { _, err := NewServiceLevel(ServiceConfig{Threshold: -time.Second}); return err }, "threshold -1s"},
		{"negative service lateness", func() error { _, err := NewServiceLevel(ServiceConfig{Lateness: -time.Hour}); return err }, "lateness -1h0m0s"},
		{"negative satisfaction lateness", func() error { _, err := NewSatisfaction(SatisfactionConfig{Lateness: -time.Hour}); return err }, "lateness -1h0m0s"},
		{"negative volume lateness", func() error { _, err := NewVolume(VolumeConfig{Lateness: -time.Hour}); return err }, "lateness -1h0m0s"},
		{"unknown value", func() error {
			_, err := NewVolume(VolumeConfig{Values: map[string]Value{"billing": "maybe"}})
			return err
		}, `"billing": value "maybe"`},
		{"empty topic", func() error { _, err := NewVolume(VolumeConfig{Values: map[string]Value{"": ValueBoth}}); return err }, `tag "": not a topic`},
		{"trailing slash", func() error {
			_, err := NewVolume(VolumeConfig{Values: map[string]Value{"billing/": ValueBoth}})
			return err
		}, `tag "billing/": not a topic`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.make()
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrKPIConfig)
			assert.Contains(t, err.Error(), c.want)
		})
	}
}

func TestKPIInvalidEventsAreRefused(t *testing.T) {
	svc, sat, vol := defaultKPIs(t)
	bad := events.Envelope{ID: kpiID('e', 1), Issue: kpiID('i', 1), Version: 1, At: kpiT0,
		Data: &events.Rated{Survey: events.SurveyCSAT, Score: 6}}
	for _, p := range []kpiProjection{svc, sat, vol} {
		err := p.Apply(bad)
		require.Error(t, err)
		assert.ErrorIs(t, err, events.ErrInvalidEvent)
		assert.Contains(t, err.Error(), "csat score 6")
	}
}

// TestKPIStateFollowsTheHorizon applies many resolved issues in order with
// a short lateness: memory must hold only the recent ones, and the counts
// must equal those of a run that keeps everything.
func TestKPIStateFollowsTheHorizon(t *testing.T) {
	const issues = 2000
	var evs []events.Envelope
	l := newKPILog()
	for i := range issues {
		issue, c := kpiID('i', i), kpiID('c', i)
		at := time.Duration(i) * time.Minute
		l.opened(issue, c, at, "phone", "billing")
		l.add(issue, at+10*time.Second, &events.Routed{Contact: c, Queue: "q", Wait: 10 * time.Second})
		l.add(issue, at+5*time.Minute, &events.Resolved{Contact: c, Agent: "ann", Handle: 5 * time.Minute})
		l.add(issue, at+6*time.Minute, &events.Rated{Survey: events.SurveyCSAT, Score: 1 + i%5})
	}
	evs = l.evs

	short := time.Hour
	svc, err := NewServiceLevel(ServiceConfig{Lateness: short})
	require.NoError(t, err)
	sat, err := NewSatisfaction(SatisfactionConfig{Lateness: short})
	require.NoError(t, err)
	vol, err := NewVolume(VolumeConfig{Lateness: short})
	require.NoError(t, err)
	for _, p := range []kpiProjection{svc, sat, vol} {
		applyAll(t, p, evs)
	}
	// An issue leaves once its last event is two hours (twice the
	// lateness) behind the watermark: about 120 issues start in that
	// time, plus the few still in flight.
	for name, tracked := range map[string]int{
		"service":      svc.Report().TrackedIssues,
		"satisfaction": sat.Report().TrackedIssues,
		"volume":       vol.Report().TrackedIssues,
	} {
		assert.Less(t, tracked, 130, name)
		assert.Greater(t, tracked, 115, name)
	}
	assert.Less(t, svc.h.seq.Streams(), 130)
	assert.Less(t, len(svc.h.due), 200, "the eviction heap is drained too")

	sr := svc.Report()
	assert.Equal(t, int64(issues), sr.Offered)
	assert.Equal(t, int64(issues), sr.ServiceLevel.Hits)
	assert.InDelta(t, 300.0, sr.AHT, 1e-9)
	assert.Equal(t, int64(issues), sat.Report().CSAT.Responses)
	assert.InDelta(t, 3.0, sat.Report().CSAT.Mean, 1e-9)
	vr := vol.Report()
	assert.Equal(t, int64(issues), vr.Contacts)
	assert.Equal(t, int64(0), vr.Backlog.Open)
	assert.Zero(t, sr.LateEvents+sat.Report().LateEvents+vr.LateEvents)
}

// TestKPILateEventsAreCountedNotApplied redelivers the events of an issue
// that has left the horizon, and delivers an old event of an unknown one.
func TestKPILateEventsAreCountedNotApplied(t *testing.T) {
	l := newKPILog()
	a, ca := kpiID('i', 1), kpiID('c', 1)
	l.handled(a, ca)
	// b moves the watermark three hours on: a's last event is more than
	// twice the lateness behind it.
	b, cb := kpiID('i', 2), kpiID('c', 2)
	l.opened(b, cb, 3*time.Hour, "chat", "tech")
	l.add(b, 3*time.Hour+time.Minute, &events.Routed{Contact: cb, Queue: "q", Wait: 50 * time.Second})
	// c is new to the projection but older than the lateness.
	c, cc := kpiID('i', 3), kpiID('c', 3)
	l.opened(c, cc, 10*time.Minute, "email", "tech")

	svc, err := NewServiceLevel(ServiceConfig{Lateness: time.Hour})
	require.NoError(t, err)
	applyAll(t, svc, l.evs)
	before := svc.Report()
	assert.Equal(t, int64(1), before.LateEvents, "issue c's opening is late")
	assert.Equal(t, 1, before.TrackedIssues, "issue a left the horizon")

	applyAll(t, svc, l.evs[:3]) // a again: it must not count twice
	after := svc.Report()
	assert.Equal(t, int64(4), after.LateEvents)
	assert.Equal(t, int64(2), after.Offered)
	assert.Equal(t, before.ServiceFigures, after.ServiceFigures)
}

// TestKPIReopenAfterTheStateWasDropped: a reopen more than the lateness
// after the issue's last event finds the issue forgotten. It waits until
// the earlier versions could only be late, then counts from a fresh state;
// and so it does when it arrives while the state is still in memory, so
// that the report does not depend on when the state was freed.
func TestKPIReopenAfterTheStateWasDropped(t *testing.T) {
	l := newKPILog()
	a, c1, c2 := kpiID('i', 1), kpiID('c', 1), kpiID('c', 2)
	l.handled(a, c1)
	b, cb := kpiID('i', 2), kpiID('c', 20)
	l.opened(b, cb, 3*time.Hour, "chat", "tech")
	l.add(a, 3*time.Hour+time.Minute, &events.Reopened{Contact: c2, Channel: "chat"})
	l.add(a, 3*time.Hour+2*time.Minute, &events.Routed{Contact: c2, Queue: "q", Wait: 30 * time.Second})
	tick := kpiID('i', 3)
	l.opened(tick, kpiID('c', 3), 5*time.Hour, "chat", "tech")

	vol, svc := hourVolumeAndService(t)
	for _, p := range []kpiProjection{vol, svc} {
		applyAll(t, p, l.evs[:6])
	}
	assert.Equal(t, 2, vol.Report().HeldEvents, "the reopen and its routing wait")
	assert.Equal(t, int64(0), vol.Report().Reopens)

	for _, p := range []kpiProjection{vol, svc} {
		applyAll(t, p, l.evs[6:])
	}
	vr := vol.Report()
	assert.Zero(t, vr.HeldEvents)
	assert.Equal(t, int64(1), vr.Reopens)
	assert.Equal(t, int64(1), vr.Resolutions)
	assert.Equal(t, int64(4), vr.Contacts, "a's two contacts, b's and tick's")
	assert.Equal(t, int64(1), vr.ByTopic[kpiUnknown], "the reopen lost its topic with the state")
	sr := svc.Report()
	assert.Equal(t, int64(2), sr.Answered)
	assert.Equal(t, int64(1), sr.Reopen.Hits)
	assert.Equal(t, int64(1), sr.Reopen.Total)
	assert.Equal(t, int64(1), sr.ByChannel["chat"].Answered, "the reopen's contact has its own channel")
	// The resolution it undoes counted under phone and q, which the
	// forgotten state no longer tells: the reopen is in the total only.
	assert.Equal(t, int64(1), sr.ReopensUnattributed)
	var bySegment int64
	for _, f := range sr.ByChannel {
		bySegment += f.Reopen.Hits
	}
	assert.Zero(t, bySegment, "no segment counts it")
	assert.Equal(t, int64(1), sr.ByChannel["phone"].Reopen.Total, "the resolution stays where it was")
	b2, err := svc.MarshalBinary()
	require.NoError(t, err)
	restored, err := NewServiceLevel(svc.cfg)
	require.NoError(t, err)
	require.NoError(t, restored.UnmarshalBinary(b2))
	assert.Equal(t, sr, restored.Report())

	applyAll(t, vol, l.evs[:3]) // a's first versions now: late
	assert.Equal(t, int64(3), vol.Report().LateEvents)
	assert.Equal(t, vr.Contacts, vol.Report().Contacts)

	// The reopen and its routing arrive before b: a's state is in memory,
	// and yet they wait and count as above.
	early := []events.Envelope{l.evs[0], l.evs[1], l.evs[2], l.evs[4], l.evs[5], l.evs[3], l.evs[6]}
	vol2, svc2 := hourVolumeAndService(t)
	for _, p := range []kpiProjection{vol2, svc2} {
		applyAll(t, p, early[:5])
	}
	assert.Equal(t, 1, vol2.Report().TrackedIssues, "a is still in memory")
	assert.Equal(t, 2, vol2.Report().HeldEvents, "the reopen and its routing wait all the same")
	for _, p := range []kpiProjection{vol2, svc2} {
		applyAll(t, p, early[5:])
	}
	assert.Equal(t, vr, vol2.Report())
	assert.Equal(t, sr.ServiceFigures, svc2.Report().ServiceFigures)
}

// A redelivery of a version applied before the issue left the horizon is
// late whether it comes before a reopen that brings the issue back or
// while that reopen waits: it is not applied to the state that the reopen
// starts.
func TestKPIRedeliveryWhileAReopenWaits(t *testing.T) {
	l := newKPILog()
	a, c1, c2 := kpiID('i', 1), kpiID('c', 1), kpiID('c', 2)
	l.opened(a, c1, 0, "phone", "billing")
	l.add(a, time.Minute, &events.Resolved{Contact: c1, Agent: "ann"})
	b := kpiID('i', 2)
	l.opened(b, kpiID('c', 20), 3*time.Hour, "chat", "tech") // a leaves the horizon
	l.add(a, 3*time.Hour+time.Minute, &events.Reopened{Contact: c2, Channel: "chat"})
	l.add(b, 5*time.Hour, &events.Resolved{Contact: kpiID('c', 20), Agent: "ann"}) // the reopen is released
	ev := l.evs
	before, beforeSvc := hourReports(t, []events.Envelope{ev[0], ev[1], ev[2], ev[0], ev[1], ev[3], ev[4]})
	assert.Equal(t, int64(2), before.LateEvents)
	assert.Equal(t, int64(2), before.Issues)
	assert.Equal(t, int64(3), before.Contacts)
	after, afterSvc := hourReports(t, []events.Envelope{ev[0], ev[1], ev[2], ev[3], ev[0], ev[1], ev[4]})
	assert.Equal(t, before, after)
	assert.Equal(t, beforeSvc.ServiceFigures, afterSvc.ServiceFigures)
}

// A reopen that comes a lateness or more after its issue's last event
// waits a lateness before it counts, whether the events before it came
// whole or with a gap that was skipped.
func TestKPIReopenWaitsAfterASkippedGap(t *testing.T) {
	l := newKPILog()
	a, c := kpiID('i', 1), kpiID('c', 1)
	l.opened(a, c, 0, "phone", "billing")
	l.add(a, time.Minute, &events.Routed{Contact: c, Queue: "q", Wait: 5 * time.Second}) // lost below
	l.add(a, 2*time.Minute, &events.Resolved{Contact: c, Handle: time.Minute})
	l.add(a, 72*time.Minute, &events.Reopened{Contact: kpiID('c', 2), Channel: "chat"})
	b := kpiID('i', 2)
	l.opened(b, kpiID('c', 20), 73*time.Minute, "chat", "tech")
	l.add(b, 150*time.Minute, &events.Resolved{Contact: kpiID('c', 20)})
	ev := l.evs
	for name, delivery := range map[string][]events.Envelope{
		"whole":    {ev[0], ev[1], ev[2], ev[3], ev[4]},
		"with gap": {ev[0], ev[2], ev[3], ev[4]},
	} {
		vol, _ := hourVolumeAndService(t)
		applyAll(t, vol, delivery)
		assert.Equal(t, 1, vol.Report().HeldEvents, "%s: the reopen waits", name)
		assert.Zero(t, vol.Report().Reopens, name)
		applyAll(t, vol, ev[5:])
		assert.Zero(t, vol.Report().HeldEvents, name)
		assert.Equal(t, int64(1), vol.Report().Reopens, "%s: the reopen counts a lateness later", name)
	}
}

// TestKPIGapThatCannotFillIsSkipped: an issue's event that never comes
// holds the later ones only until they are older than the lateness.
func TestKPIGapThatCannotFillIsSkipped(t *testing.T) {
	l := newKPILog()
	a, c := kpiID('i', 1), kpiID('c', 1)
	l.opened(a, c, 0, "phone", "billing")
	lost := l.add(a, time.Minute, &events.Routed{Contact: c, Queue: "q", Wait: 5 * time.Second})
	l.add(a, 2*time.Minute, &events.Resolved{Contact: c, Handle: time.Minute})
	l.evs = append(l.evs[:1], l.evs[2:]...)
	l.opened(kpiID('i', 2), kpiID('c', 2), 90*time.Minute, "chat", "tech")

	svc, err := NewServiceLevel(ServiceConfig{Lateness: time.Hour})
	require.NoError(t, err)
	applyAll(t, svc, l.evs[:2])
	assert.Equal(t, 1, svc.Report().HeldEvents, "the resolution waits for the routing")
	assert.Zero(t, svc.Report().Reopen.Total)

	applyAll(t, svc, l.evs[2:])
	r := svc.Report()
	assert.Zero(t, r.HeldEvents)
	assert.Equal(t, int64(1), r.Reopen.Total, "the resolution counts once the gap is skipped")
	assert.Equal(t, int64(1), r.Handled)
	assert.Zero(t, r.Offered)

	require.NoError(t, svc.Apply(lost))
	assert.Equal(t, int64(1), svc.Report().LateEvents, "the routing came too late")
	assert.Zero(t, svc.Report().Offered)
}

// A redelivery of a version applied before the issue was forgotten counts
// as late, as it would once the state had been dropped, and is not applied
// again to the fresh state: whether it comes right after the forgetting
// event, within the lateness, or after a gap.
func TestKPIRedeliveryAfterForgettingCountsOnce(t *testing.T) {
	l := newKPILog()
	a, c1, c2 := kpiID('i', 1), kpiID('c', 1), kpiID('c', 2)
	l.handled(a, c1)
	l.add(a, time.Hour+2*time.Minute, &events.Reopened{Contact: c2, Channel: "chat"})
	l.add(a, time.Hour+3*time.Minute, &events.Routed{Contact: c2, Queue: "q", Wait: 30 * time.Second})
	tick := kpiID('i', 3)
	l.opened(tick, kpiID('c', 3), 5*time.Hour, "chat", "tech")
	ev := l.evs
	wantVol, wantSvc := hourReports(t, ev)
	require.Equal(t, int64(1), wantVol.Resolutions)
	for name, order := range map[string][]events.Envelope{
		// The resolution again when the watermark is exactly a lateness
		// past it: not late on arrival.
		"within the lateness": {ev[0], ev[1], ev[2], ev[3], ev[2], ev[4], ev[5]},
		// The resolution and the routing again after the reopen's routing.
		"after the gap": {ev[0], ev[1], ev[2], ev[3], ev[4], ev[2], ev[1], ev[5]},
	} {
		gotVol, gotSvc := hourReports(t, order)
		assert.Equal(t, wantVol.Resolutions, gotVol.Resolutions, name)
		assert.Equal(t, wantVol.Contacts, gotVol.Contacts, name)
		assert.Equal(t, wantSvc.Answered, gotSvc.Answered, name)
		assert.Equal(t, wantSvc.Reopen, gotSvc.Reopen, name)
	}
}

// hourVolumeAndService returns a Volume and a ServiceLevel with an hour of
// lateness.
func hourVolumeAndService(t *testing.T) (*Volume, *ServiceLevel) {
	t.Helper()
	vol, err := NewVolume(VolumeConfig{Lateness: time.Hour})
	require.NoError(t, err)
	svc, err := NewServiceLevel(ServiceConfig{Lateness: time.Hour})
	require.NoError(t, err)
	return vol, svc
}

// hourReports returns the reports of a Volume and a ServiceLevel with an
// hour of lateness (hourVolumeAndService) fed evs.
func hourReports(t *testing.T, evs []events.Envelope) (VolumeReport, ServiceReport) {
	t.Helper()
	vol, svc := hourVolumeAndService(t)
	for _, p := range []kpiProjection{vol, svc} {
		applyAll(t, p, evs)
	}
	return vol.Report(), svc.Report()
}

// defaultKPIs returns the three KPI projections with their default
// configurations.
func defaultKPIs(t *testing.T) (*ServiceLevel, *Satisfaction, *Volume) {
	t.Helper()
	svc, err := NewServiceLevel(ServiceConfig{})
	require.NoError(t, err)
	sat, err := NewSatisfaction(SatisfactionConfig{})
	require.NoError(t, err)
	vol, err := NewVolume(VolumeConfig{})
	require.NoError(t, err)
	return svc, sat, vol
}

// A contact that the issue's forgotten state knew, named again once the
// state was forgotten (an auto-close resolving it after an abandoned
// reopen), is counted once: the fresh state did not introduce it, and
// counts its resolution only, not the contact again.
func TestKPIContactOfAForgottenStateCountsOnce(t *testing.T) {
	l := newKPILog()
	a, c1, c2 := kpiID('i', 1), kpiID('c', 1), kpiID('c', 2)
	l.opened(a, c1, 0, "phone", "tech")
	l.add(a, time.Minute, &events.Routed{Contact: c1, Queue: "tech", Wait: 45 * time.Second})
	l.add(a, 13*time.Minute, &events.Resolved{Contact: c1, Handle: 12 * time.Minute})
	l.add(a, 3*time.Hour, &events.Reopened{Contact: c2, Channel: "phone"})
	l.add(a, 3*time.Hour+2*time.Minute, &events.Abandoned{Contact: c2, Wait: time.Minute})
	l.add(a, 4*time.Hour, &events.Resolved{Contact: c1, Extra: events.Extra{"code": "auto-closed"}})
	l.opened(kpiID('i', 2), kpiID('c', 3), 9*time.Hour, "chat", "tech") // moves the watermark on

	vol, svc := hourVolumeAndService(t)
	applyAll(t, svc, l.evs)
	applyAll(t, vol, l.evs)
	sr := svc.Report()
	assert.Equal(t, int64(1), sr.Handled, "c1 once; c2 was abandoned")
	assert.Equal(t, int64(1), sr.Transfer.Total)
	assert.Equal(t, int64(1), sr.AHTContacts)
	assert.Zero(t, sr.ByChannel[kpiUnknown].Handled, "nothing under (unknown)")
	assert.Equal(t, int64(2), sr.Offered, "c1 and c2")
	assert.Equal(t, int64(2), sr.Reopen.Total, "both resolutions")
	assert.Equal(t, int64(1), sr.Reopen.Hits)
	assert.Equal(t, int64(2), vol.Report().Resolutions)
}

// An issue with many contacts finds them through an index once it has
// more than kpiIndexFrom (a long email thread): routings of old contacts,
// in any order, count on the contacts they name, each contact once.
func TestKPIFindsTheContactsOfALongThread(t *testing.T) {
	const follow = 3 * kpiIndexFrom
	l := newFCRLog()
	issue, c0 := l.open(at(0, 9, 0), []string{"email:anna@example.com"}, "email", "billing")
	contacts := []uuid.UUID{c0}
	for i := range follow {
		contacts = append(contacts, l.contacted(issue, at(0, 9, 1).Add(time.Duration(i)*time.Second), "email"))
	}
	// Each contact is routed once in order, then again in reverse order:
	// every contact routed twice, a transfer.
	for i, c := range contacts {
		l.route(issue, at(0, 10, 0).Add(time.Duration(i)*time.Second), c, "billing", "ann")
	}
	for i, c := range slices.Backward(contacts) {
		l.route(issue, at(0, 11, 0).Add(time.Duration(i)*time.Second), c, "billing", "bob")
	}
	l.contacted(issue, at(0, 12, 0), "email") // a new one, found in none
	svc, err := NewServiceLevel(ServiceConfig{})
	require.NoError(t, err)
	applyAll(t, svc, l.evs)
	total := svc.Report().ServiceFigures
	assert.Equal(t, int64(follow+1), total.Answered)
	assert.Equal(t, int64(follow+1), total.Handled)
	assert.Equal(t, NewRate(follow+1, follow+1), total.Transfer)

	// The same after a restore, whose index is built anew.
	b, err := svc.MarshalBinary()
	require.NoError(t, err)
	again, err := NewServiceLevel(ServiceConfig{})
	require.NoError(t, err)
	require.NoError(t, again.UnmarshalBinary(b))
	l.evs = l.evs[:0]
	l.route(issue, at(0, 13, 0), contacts[1], "billing", "cy")
	l.route(issue, at(0, 13, 1), contacts[follow], "billing", "cy")
	applyAll(t, svc, l.evs)
	applyAll(t, again, l.evs)
	assert.Equal(t, svc.Report(), again.Report())
	assert.Equal(t, total.Transfer, again.Report().Transfer, "routings of contacts routed before")
}

// Two events at the latest instant, written in two zones: the KPI reports
// state the watermark in UTC, as the FCR's, whichever came first.
func TestKPIWatermarkIsUTCWhateverTheOrder(t *testing.T) {
	l := newKPILog()
	l.opened(kpiID('i', 1), kpiID('c', 1), 0, "phone", "billing")
	l.opened(kpiID('i', 2), kpiID('c', 2), 0, "chat", "billing")
	l.evs[1].At = l.evs[1].At.In(time.FixedZone("EET", 2*3600))
	var reports [][]byte
	for _, order := range [][]int{{0, 1}, {1, 0}} {
		r, err := NewReporter(ReportConfig{MaxFuture: -1})
		require.NoError(t, err)
		for _, i := range order {
			require.NoError(t, r.Apply(l.evs[i]))
		}
		rep := r.Report()
		for _, wm := range []time.Time{rep.Service.Watermark, rep.Satisfaction.Watermark, rep.Volume.Watermark} {
			assert.Equal(t, time.UTC, wm.Location())
			assert.True(t, wm.Equal(kpiT0))
		}
		b, err := json.Marshal(rep)
		require.NoError(t, err)
		reports = append(reports, b)
	}
	assert.JSONEq(t, string(reports[0]), string(reports[1]))
}

// A contact that stands in for one of a forgotten state (a resolution
// named it, in a stream resumed after the issue's state was forgotten)
// counts in the total only; once an inbound event introduces it (a reopen
// on it), it counts under its segments. Its counts were taken off
// segments they had never been added to: channel and queue of the empty
// name held -1 resolutions, and the snapshot was refused when restored.
func TestAStandInContactIntroducedLaterCountsUnderItsSegments(t *testing.T) {
	svc, err := NewServiceLevel(ServiceConfig{Lateness: time.Hour})
	require.NoError(t, err)
	l := newKPILog()
	i1 := kpiID('i', 1)
	a, b, x := kpiID('c', 1), kpiID('c', 2), kpiID('c', 3)
	l.opened(i1, a, 0, "phone", "billing")
	l.add(i1, time.Minute, &events.Routed{Contact: a, Queue: "q", Wait: time.Second})
	l.add(i1, 2*time.Minute, &events.Resolved{Contact: a, Agent: "ann"})
	// Days later, once the issue's state was forgotten, the stream goes on.
	l.opened(kpiID('i', 2), kpiID('c', 9), 72*time.Hour, "phone", "billing")
	l.add(i1, 73*time.Hour, &events.Reopened{Contact: b, Channel: "phone"})
	l.add(i1, 73*time.Hour+time.Minute, &events.Resolved{Contact: x, Agent: "ann"})
	l.add(i1, 73*time.Hour+2*time.Minute, &events.Reopened{Contact: x, Channel: "chat"})
	l.opened(kpiID('i', 3), kpiID('c', 8), 80*time.Hour, "phone", "billing")
	applyAll(t, svc, l.evs)

	r := svc.Report()
	require.Equal(t, int64(2), r.Reopen.Hits, "the reopen of a's forgotten resolution and that of x's")
	require.Equal(t, int64(2), r.Reopen.Total, "a's resolution and x's")
	assert.Equal(t, int64(1), r.ReopensUnattributed, "a's: its resolution's segments are not known")
	var hits, total int64
	for name, f := range r.ByChannel {
		assert.GreaterOrEqual(t, f.Reopen.Hits, int64(0), name)
		assert.GreaterOrEqual(t, f.Reopen.Total, int64(0), name)
		hits, total = hits+f.Reopen.Hits, total+f.Reopen.Total
	}
	assert.Equal(t, r.Reopen.Hits, hits+r.ReopensUnattributed, "every reopen under a channel or unattributed")
	assert.Equal(t, r.Reopen.Total, total, "every resolution under a channel")
	assert.Equal(t, int64(1), r.ByChannel["chat"].Reopen.Total, "x's resolution, now that the reopen on it introduced x")
	for name, f := range r.ByQueue {
		assert.GreaterOrEqual(t, f.Reopen.Total, int64(0), name)
	}

	snap, err := svc.MarshalBinary()
	require.NoError(t, err)
	again, err := NewServiceLevel(ServiceConfig{Lateness: time.Hour})
	require.NoError(t, err)
	require.NoError(t, again.UnmarshalBinary(snap), "a snapshot it saved of valid events")
	assert.Equal(t, r, again.Report())
}
