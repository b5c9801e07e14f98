package projections

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
)

// volumeScenario starts on Monday 2026-03-02 09:00 UTC:
//
//	issue 1 billing/invoice-error: call (answered), chat follow-up at 11:00
//	  (answered), resolved; reopened by email on Tuesday 12:00   → 3 contacts
//	issue 2 account: Tuesday 10:00, the call is abandoned         → 0 contacts, open
//	issue 3 tech: chat at 10:00, resolved, reclassified tech/outage → 1 contact
//	issue 4 billing/refund: bot at 09:30, resolved by the bot     → 1 contact
//	issue 5 account: call at 20:00, abandoned, answered on retry  → 1 contact, open
//
// Contacts 6: phone 2, chat 2, email 1, bot 1; Monday 5, Tuesday 1.
// Pareto: invoice-error 3 (50 %), then account, billing/refund and
// tech/outage with 1 each (cumulative 4/6, 5/6, 6/6).
// Issues 5, 6/5 = 1.2 contacts per issue. Reopens 1 of 3 resolutions.
// Backlog at the watermark (Tuesday 12:00): issue 1 aged 27 h, issue 2
// 2 h, issue 5 16 h; mean 15 h. The tests that read it allow two days of
// lateness, so that issue 1's state is still known at its reopen, a day
// after its resolution.
func volumeScenario() []events.Envelope {
	l := newKPILog()
	i1, i2, i3, i4, i5 := kpiID('i', 1), kpiID('i', 2), kpiID('i', 3), kpiID('i', 4), kpiID('i', 5)
	c := func(n int) uuid.UUID { return kpiID('c', n) }
	l.opened(i1, c(1), 0, "phone", "billing/invoice-error")
	l.add(i1, time.Minute, &events.Routed{Contact: c(1), Queue: "q", Wait: time.Minute})
	l.opened(i4, c(4), 30*time.Minute, "bot", "billing/refund")
	l.add(i4, 31*time.Minute, &events.Resolved{Contact: c(4), Bot: true})
	l.opened(i3, c(3), time.Hour, "chat", "tech")
	l.add(i3, time.Hour+time.Minute, &events.Routed{Contact: c(3), Queue: "q"})
	l.add(i3, 90*time.Minute, &events.Resolved{Contact: c(3), Agent: "ann"})
	l.add(i1, 2*time.Hour, &events.Contacted{Contact: c(2), Channel: "chat"})
	l.add(i1, 2*time.Hour+time.Minute, &events.Routed{Contact: c(2), Queue: "q"})
	l.add(i3, 2*time.Hour, &events.Classified{Topic: "tech/outage"})
	l.add(i1, 3*time.Hour, &events.Resolved{Contact: c(2), Agent: "bob"})
	l.opened(i5, c(5), 11*time.Hour, "phone", "account")
	l.add(i5, 11*time.Hour+time.Minute, &events.Abandoned{Contact: c(5), Wait: time.Minute})
	l.add(i5, 11*time.Hour+2*time.Minute, &events.Routed{Contact: c(5), Queue: "q", Wait: 30 * time.Second})
	l.opened(i2, c(6), 25*time.Hour, "phone", "account")
	l.add(i2, 25*time.Hour+time.Minute, &events.Abandoned{Contact: c(6), Wait: time.Minute})
	l.add(i1, 27*time.Hour, &events.Reopened{Contact: c(7), Channel: "email"})
	return l.evs
}

// scenarioLateness is the lateness of the tests of volumeScenario.
const scenarioLateness = 48 * time.Hour

func TestVolumeScenario(t *testing.T) {
	vol, err := NewVolume(VolumeConfig{Lateness: scenarioLateness, Values: map[string]Value{"billing": ValueNeither, "billing/refund": ValueCustomer}})
	require.NoError(t, err)
	applyAll(t, vol, volumeScenario())
	r := vol.Report()

	assert.Equal(t, int64(6), r.Contacts)
	assert.Equal(t, map[string]int64{"phone": 2, "chat": 2, "email": 1, "bot": 1}, r.ByChannel)
	assert.Equal(t, map[string]int64{"2026-03-02": 5, "2026-03-03": 1}, r.ByDay)
	assert.Equal(t, map[string]int64{"billing/invoice-error": 3, "account": 1, "billing/refund": 1, "tech/outage": 1}, r.ByTopic)

	require.Len(t, r.Reasons, 4)
	wantOrder := []string{"billing/invoice-error", "account", "billing/refund", "tech/outage"}
	wantCum := []float64{3.0 / 6, 4.0 / 6, 5.0 / 6, 1}
	for i, reason := range r.Reasons {
		assert.Equal(t, wantOrder[i], reason.Topic)
		assert.Equal(t, NewRate(r.ByTopic[reason.Topic], 6), reason.Share)
		assert.InDelta(t, wantCum[i], reason.Cumulative, 1e-12)
	}

	assert.Equal(t, int64(5), r.Issues)
	assert.InDelta(t, 1.2, r.ContactsPerIssue, 1e-12)
	assert.Equal(t, map[string]int64{"0": 1, "1": 3, "2": 0, "3": 1, "4+": 0}, r.IssuesByContacts)
	assert.Equal(t, NewRate(1, 3), r.Reopen)
	assert.InDelta(t, 1.0/3, r.ReopenRate, 1e-12)

	assert.Equal(t, map[Value]int64{ValueNeither: 3, ValueCustomer: 1, ValueUntagged: 2}, r.ByValue)

	b := r.Backlog
	assert.Equal(t, int64(3), b.Open)
	assert.InDelta(t, (15 * time.Hour).Seconds(), b.MeanAgeS, 1e-9)
	ages := map[string]int64{}
	for _, a := range b.ByAge {
		ages[a.Bucket] = a.Issues
	}
	assert.Equal(t, map[string]int64{"0-4h": 1, "4h-1d": 1, "1d-3d": 1, "3d-7d": 0, "7d+": 0}, ages)
	require.NotNil(t, b.Oldest)
	assert.Equal(t, kpiID('i', 1), b.Oldest.Issue)
	assert.Equal(t, "billing/invoice-error", b.Oldest.Topic)
	assert.Equal(t, kpiT0, b.Oldest.Since)
	assert.InDelta(t, (27 * time.Hour).Seconds(), b.Oldest.AgeS, 1e-9)
}

func TestVolumeWithoutTagsHasNoValueBreakdown(t *testing.T) {
	vol, err := NewVolume(VolumeConfig{Lateness: scenarioLateness})
	require.NoError(t, err)
	applyAll(t, vol, volumeScenario())
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(kpiJSON(t, vol.Report())), &got))
	assert.NotContains(t, got, "by_value")
	assert.InDelta(t, 6.0, got["contacts"], 0)
	assert.Contains(t, got, "reasons")
	assert.Contains(t, got, "backlog")
	assert.Contains(t, got, "late_events")
}

func TestVolumeValueTags(t *testing.T) {
	cfg := VolumeConfig{Values: map[string]Value{
		"billing":        ValueNeither,
		"billing/refund": ValueCustomer,
		"account/close":  ValueBoth,
	}}
	cases := []struct {
		topic string
		want  Value
	}{
		{"billing", ValueNeither},
		{"billing/invoice-error", ValueNeither},
		{"billing/refund", ValueCustomer},
		{"billing/refund/late", ValueCustomer},
		{"billingx", ValueUntagged},
		{"account", ValueUntagged},
		{"account/close", ValueBoth},
		{"tech", ValueUntagged},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, cfg.value(c.topic), c.topic)
	}
}

// TestVolumeTagsAreCopied: changing the caller's map after NewVolume does
// not change the projection.
func TestVolumeTagsAreCopied(t *testing.T) {
	values := map[string]Value{"billing": ValueNeither}
	vol, err := NewVolume(VolumeConfig{Lateness: scenarioLateness, Values: values})
	require.NoError(t, err)
	values["billing"] = ValueBoth
	applyAll(t, vol, volumeScenario())
	assert.Equal(t, int64(4), vol.Report().ByValue[ValueNeither])
}

func TestVolumeBacklogAgeBuckets(t *testing.T) {
	cases := []struct {
		age    time.Duration
		bucket string
	}{
		{0, "0-4h"},
		{4*time.Hour - time.Second, "0-4h"},
		{4 * time.Hour, "4h-1d"},
		{24 * time.Hour, "1d-3d"},
		{72 * time.Hour, "3d-7d"},
		{7 * 24 * time.Hour, "7d+"},
		{400 * 24 * time.Hour, "7d+"},
	}
	for _, c := range cases {
		name, from, to := volAgeBounds(volAgeBucket(c.age))
		assert.Equal(t, c.bucket, name, "age %v", c.age)
		assert.GreaterOrEqual(t, c.age.Seconds(), from)
		if to > 0 {
			assert.Less(t, c.age.Seconds(), to)
		}
	}
}

// The backlog's mean age of many old issues: in nanoseconds, the sum of
// 4,000 ages of a month overflowed, and the mean came out negative.
func TestVolumeBacklogMeanAgeOfManyOldIssues(t *testing.T) {
	r, err := NewReporter(ReportConfig{})
	require.NoError(t, err)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 4000 {
		e := events.Envelope{ID: uuid.New(), Issue: uuid.New(), Version: 1, At: t0.Add(time.Duration(i) * time.Millisecond),
			Data: &events.Opened{Customer: events.Customer{ID: uuid.NewString()}, Channel: "email", Topic: "billing", Contact: uuid.New()}}
		require.NoError(t, r.Apply(e))
	}
	require.NoError(t, r.AdvanceTo(t0.Add(31*24*time.Hour)))
	b := r.Report().Volume.Backlog
	require.Equal(t, int64(4000), b.Open)
	assert.InDelta(t, 31*24*3600-2, b.MeanAgeS, 0.001, "every open issue is 31 days old, less up to 4 s")
}

// An issue whose state a late survey found forgotten, and which a reopen
// then opens again, is aged in the backlog from the reopen, as one that
// the reopen found forgotten: not from the survey, which is no contact.
func TestVolumeBacklogAgesFromTheReopenAfterALateSurvey(t *testing.T) {
	l := newKPILog()
	issue, c1, c2 := kpiID('i', 1), kpiID('c', 1), kpiID('c', 2)
	l.opened(issue, c1, 0, "phone", "billing")
	l.add(issue, time.Hour, &events.Resolved{Contact: c1, Agent: "ann"})
	survey := 31 * time.Hour // a lateness (24 h) and more after the resolution
	l.add(issue, survey, &events.Rated{Survey: events.SurveyCSAT, Score: 1})
	reopen := survey + 10*time.Hour
	l.add(issue, reopen, &events.Reopened{Contact: c2, Channel: "chat"})
	r, err := NewReporter(ReportConfig{MaxFuture: -1})
	require.NoError(t, err)
	require.NoError(t, r.ApplyBatch(l.evs))
	wm := kpiT0.Add(reopen + 25*time.Hour)
	require.NoError(t, r.AdvanceTo(wm))
	rep := r.Report()

	b := rep.Volume.Backlog
	require.Equal(t, int64(1), b.Open)
	require.NotNil(t, b.Oldest)
	assert.Equal(t, kpiT0.Add(reopen), b.Oldest.Since)
	assert.Equal(t, wm.Sub(kpiT0.Add(reopen)).Seconds(), b.Oldest.AgeS)
	assert.Equal(t, "(unknown)", b.Oldest.Topic)
	// The reopen came when the state was forgotten: in the total only.
	assert.Equal(t, int64(1), rep.Service.ReopensUnattributed)
}

// hostReopened is a host's Go type under the built-in name
// issue.reopened, which the KPI horizon takes as opening the issue.
type hostReopened struct{ Channel string }

func (*hostReopened) EventType() events.Type { return events.TypeReopened }

// An issue that a reopen of a type other than events.Reopened (a host's Go
// type under its name, an events.Opaque of it) opens again once its state
// was forgotten is aged from that reopen, as one of events.Reopened is.
func TestVolumeBacklogAgesFromAReopenOfAnyGoType(t *testing.T) {
	for _, data := range []events.Data{&hostReopened{Channel: "chat"}, &events.Opaque{Type: events.TypeReopened}} {
		l := newKPILog()
		issue, c1 := kpiID('i', 1), kpiID('c', 1)
		l.opened(issue, c1, 0, "phone", "billing")
		l.add(issue, time.Hour, &events.Resolved{Contact: c1, Agent: "ann"})
		reopen := 40 * time.Hour // a lateness (24 h) and more after the resolution
		l.add(issue, reopen, data)
		r, err := NewReporter(ReportConfig{MaxFuture: -1})
		require.NoError(t, err)
		for _, e := range l.evs {
			require.NoError(t, r.Apply(e))
		}
		wm := kpiT0.Add(reopen + 25*time.Hour)
		require.NoError(t, r.AdvanceTo(wm))
		b := r.Report().Volume.Backlog
		require.Equal(t, int64(1), b.Open, "%T", data)
		require.NotNil(t, b.Oldest)
		assert.Equal(t, kpiT0.Add(reopen), b.Oldest.Since, "%T", data)
	}
}

// An issue.opened after version 1 opens nothing (kpiIgnores), of any Go
// type: stamped before the opening, it leaves the backlog's age alone.
func TestVolumeBacklogAgeIgnoresASecondOpeningOfAnyGoType(t *testing.T) {
	for _, data := range []events.Data{
		&events.Opened{Customer: events.Customer{ID: "c-x"}, Channel: "chat", Topic: "billing", Contact: kpiID('c', 2)},
		&events.Opaque{Type: events.TypeOpened},
	} {
		l := newKPILog()
		issue, c1 := kpiID('i', 1), kpiID('c', 1)
		l.opened(issue, c1, 10*time.Hour, "phone", "billing")
		l.add(issue, 2*time.Hour, data) // stamped before the opening
		r, err := NewReporter(ReportConfig{MaxFuture: -1})
		require.NoError(t, err)
		require.NoError(t, r.ApplyBatch(l.evs))
		require.NoError(t, r.AdvanceTo(kpiT0.Add(20*time.Hour)))
		b := r.Report().Volume.Backlog
		require.NotNil(t, b.Oldest, "%T", data)
		assert.Equal(t, kpiT0.Add(10*time.Hour), b.Oldest.Since, "%T", data)

		// Nor does it open the issue again once resolved.
		l = newKPILog()
		l.opened(issue, c1, 0, "phone", "billing")
		l.add(issue, time.Hour, &events.Resolved{Contact: c1, Agent: "ann"})
		l.add(issue, 2*time.Hour, data)
		r, err = NewReporter(ReportConfig{MaxFuture: -1})
		require.NoError(t, err)
		require.NoError(t, r.ApplyBatch(l.evs))
		assert.Zero(t, r.Report().Volume.Backlog.Open, "%T", data)
	}
}

func BenchmarkVolume(b *testing.B) {
	evs := kpiGenerate(1, 5000, time.Minute)
	benchmarkKPI(b, evs, func() kpiProjection {
		p, err := NewVolume(VolumeConfig{Lateness: time.Hour, Values: map[string]Value{"billing": ValueNeither}})
		require.NoError(b, err)
		return p
	})
}

// The contacts of an issue whose state was forgotten, reopened a lateness
// after its resolution, count under ValueUnknown until a reclassification
// names a topic, whose tag then takes them.
func TestVolumeValueOfAForgottenIssuesContacts(t *testing.T) {
	l := newKPILog()
	i, c := kpiID('i', 1), kpiID('c', 1)
	l.opened(i, c, 0, "chat", "billing/refund")
	l.add(i, time.Minute, &events.Resolved{Contact: c, Agent: "ann"})
	l.add(i, 30*time.Hour, &events.Reopened{Contact: kpiID('c', 2), Channel: "phone"})
	vol, err := NewVolume(VolumeConfig{Values: map[string]Value{"billing": ValueNeither}})
	require.NoError(t, err)
	applyAll(t, vol, l.evs)
	require.NoError(t, vol.AdvanceTo(l.evs[0].At.Add(60*time.Hour)))
	assert.Equal(t, map[Value]int64{ValueNeither: 1, ValueUnknown: 1}, vol.Report().ByValue)

	l.add(i, 30*time.Hour+time.Minute, &events.Classified{Topic: "billing/refund"})
	vol, err = NewVolume(VolumeConfig{Values: map[string]Value{"billing": ValueNeither}})
	require.NoError(t, err)
	applyAll(t, vol, l.evs)
	require.NoError(t, vol.AdvanceTo(l.evs[0].At.Add(60*time.Hour)))
	assert.Equal(t, map[Value]int64{ValueNeither: 2}, vol.Report().ByValue)
}
