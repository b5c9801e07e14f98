package projections_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/internal/simulate"
	"github.com/truefcr/truefcr/projections"
)

// The merge of the Reports of Reporters that each absorbed one partition
// is the Report of one Reporter over all the events, section by section:
// every KPI figure is of one contact or one issue, which is in one
// partition. The counts of deliveries (issues tracked) depend on each
// projection's own horizon, and are compared as sums.
func TestMergeReportsEqualsOneReporterOverAllEvents(t *testing.T) {
	log, _, err := simulate.Collect(simulate.Config{Seed: 11, Days: 14, Customers: 300, IssuesPerDay: 60})
	require.NoError(t, err)
	cfg := projections.ReportConfig{
		FCR:     projections.FCRConfig{Window: 24 * time.Hour},
		Service: projections.ServiceConfig{ChannelThresholds: map[string]time.Duration{"email": 24 * time.Hour}},
		Volume:  projections.VolumeConfig{Values: map[string]projections.Value{"billing": projections.ValueCompany}},
	}
	for _, n := range []int{1, 3} {
		t.Run(fmt.Sprintf("%d partitions", n), func(t *testing.T) {
			evs := partitioned(t, log, n)
			whole := mustReporter(t, cfg)
			parts := make([]*projections.Reporter, n)
			for i := range parts {
				parts[i] = mustReporter(t, cfg)
			}
			for _, e := range evs {
				require.NoError(t, whole.Apply(e))
				require.NoError(t, parts[events.PartitionOf(events.PartitionKey(e), n)].Apply(e))
			}
			reports := make([]projections.Report, n)
			for i, p := range parts {
				reports[i] = p.Report()
				require.NotZero(t, reports[i].Service.Answered, "every partition has contacts")
			}
			merged, err := projections.MergeReports(reports...)
			require.NoError(t, err)
			want := whole.Report()
			require.NotZero(t, want.Satisfaction.CSAT.Responses)
			require.NotZero(t, want.Satisfaction.NPS.Responses)
			require.NotZero(t, want.Service.AHTContacts)
			require.NotZero(t, want.Volume.Backlog.Open)
			require.NotEmpty(t, want.Volume.ByValue)
			if n > 1 {
				want.Definition.Partitions = n
				want.FCR.Definition.Partitions = n
			}
			for _, tracked := range []*int{&want.Service.TrackedIssues, &want.Satisfaction.TrackedIssues, &want.Volume.TrackedIssues,
				&merged.Service.TrackedIssues, &merged.Satisfaction.TrackedIssues, &merged.Volume.TrackedIssues} {
				require.Positive(t, *tracked)
				*tracked = 0
			}
			assert.Equal(t, want.Definition, merged.Definition)
			assert.Equal(t, want.FCR, merged.FCR)
			assert.Equal(t, want.Service, merged.Service)
			assert.Equal(t, want.Satisfaction, merged.Satisfaction)
			assert.Equal(t, want.Volume, merged.Volume)
			assert.Equal(t, want, merged)
		})
	}
}

func mustReporter(t *testing.T, cfg projections.ReportConfig) *projections.Reporter {
	t.Helper()
	r, err := projections.NewReporter(cfg)
	require.NoError(t, err)
	return r
}

// A partition whose watermark is behind has its open issues aged to the
// latest: the mean age and the oldest issue are the single report's, and
// the age buckets count each issue as aged at its own partition's
// watermark, as MergeVolumeReports says.
func TestMergeVolumeAgesTheBacklogToTheLatestWatermark(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	open := func(at time.Time, customer string) events.Envelope {
		return events.Envelope{ID: uuid.New(), Issue: uuid.New(), Version: 1, At: at,
			Data: &events.Opened{Customer: events.Customer{ID: customer}, Channel: "chat", Topic: "billing", Contact: uuid.New()}}
	}
	behind, ahead := open(at, "customer:a"), open(at.Add(5*time.Hour), "customer:b")
	whole, a, b := mustVolume(t), mustVolume(t), mustVolume(t)
	for _, e := range []events.Envelope{behind, ahead} {
		require.NoError(t, whole.Apply(e))
	}
	require.NoError(t, a.Apply(behind))
	require.NoError(t, b.Apply(ahead))
	merged, err := projections.MergeVolumeReports(a.Report(), b.Report())
	require.NoError(t, err)
	want := whole.Report()
	assert.Equal(t, want.Watermark, merged.Watermark)
	assert.Equal(t, int64(2), merged.Backlog.Open)
	assert.Equal(t, 2.5*3600, want.Backlog.MeanAgeS)
	assert.Equal(t, want.Backlog.MeanAgeS, merged.Backlog.MeanAgeS)
	require.NotNil(t, merged.Backlog.Oldest)
	assert.Equal(t, *want.Backlog.Oldest, *merged.Backlog.Oldest)
	assert.Equal(t, 5*3600.0, merged.Backlog.Oldest.AgeS)
	assert.Equal(t, []int64{1, 1, 0, 0, 0}, ageCounts(want.Backlog), "the single report ages the first issue 5 h")
	assert.Equal(t, []int64{2, 0, 0, 0, 0}, ageCounts(merged.Backlog), "its partition aged it 0 h")
}

func ageCounts(b projections.Backlog) []int64 {
	var out []int64
	for _, a := range b.ByAge {
		out = append(out, a.Issues)
	}
	return out
}

func mustVolume(t *testing.T) *projections.Volume {
	t.Helper()
	v, err := projections.NewVolume(projections.VolumeConfig{})
	require.NoError(t, err)
	return v
}

// Reports of projections with other definitions are refused, naming the
// section and the field.
func TestMergeReportsRefusesDifferentDefinitions(t *testing.T) {
	base := mustReporter(t, projections.ReportConfig{}).Report()
	for _, tc := range []struct {
		cfg  projections.ReportConfig
		want string
	}{
		{projections.ReportConfig{Service: projections.ServiceConfig{Threshold: time.Minute}},
			"merge service level reports: report 1 has threshold_s 60, report 0 20"},
		{projections.ReportConfig{Volume: projections.VolumeConfig{Values: map[string]projections.Value{"billing": projections.ValueCompany}}},
			"merge volume reports: report 1 has values map[billing:company], report 0 map[]"},
		{projections.ReportConfig{Satisfaction: projections.SatisfactionConfig{MinSample: 5}},
			"merge satisfaction reports: report 1 has min_sample 5, report 0 30"},
		{projections.ReportConfig{FCR: projections.FCRConfig{Window: 24 * time.Hour}},
			"merge FCR reports: report 1 has window 24h0m0s, report 0 168h0m0s"},
	} {
		_, err := projections.MergeReports(base, mustReporter(t, tc.cfg).Report())
		require.ErrorIs(t, err, projections.ErrMergeMismatch, tc.want)
		assert.ErrorContains(t, err, tc.want)
	}
	_, err := projections.MergeReports()
	assert.ErrorIs(t, err, projections.ErrMergeMismatch)
	_, err = projections.MergeServiceReports()
	assert.ErrorIs(t, err, projections.ErrMergeMismatch)
}

// keyOf returns a partition key that falls in partition p of n.
func keyOf(t *testing.T, p, n int) string {
	t.Helper()
	for i := range 1000 {
		if k := fmt.Sprintf("account:%d", i); events.PartitionOf(k, n) == p {
			return k
		}
	}
	t.Fatalf("no key of partition %d of %d", p, n)
	return ""
}

// reporters feeds evs to one Reporter and to one per partition of n.
func reporters(t *testing.T, evs []events.Envelope, n int) (*projections.Reporter, []*projections.Reporter) {
	t.Helper()
	whole := mustReporter(t, projections.ReportConfig{})
	parts := make([]*projections.Reporter, n)
	for i := range parts {
		parts[i] = mustReporter(t, projections.ReportConfig{})
	}
	for _, e := range evs {
		require.NoError(t, whole.Apply(e))
		require.NoError(t, parts[events.PartitionOf(events.PartitionKey(e), n)].Apply(e))
	}
	return whole, parts
}

func merged(t *testing.T, parts []*projections.Reporter) projections.Report {
	t.Helper()
	var reports []projections.Report
	for _, p := range parts {
		reports = append(reports, p.Report())
	}
	m, err := projections.MergeReports(reports...)
	require.NoError(t, err)
	return m
}

func keyed(key string, issue uuid.UUID, v uint64, at time.Time, d events.Data) events.Envelope {
	return events.Envelope{ID: uuid.New(), Issue: issue, Version: v, At: at, Meta: events.Meta{events.MetaPartitionKey: key}, Data: d}
}

// A reopen more than the lateness after its issue's last event waits until
// the watermark is a lateness past it: one Reporter over every partition's
// events, moved on by the other partition, applies it, while its own
// partition's still holds it. Advanced to one time, the partitions give
// the single report, as MergeReports says.
func TestMergeOfPartitionsAtDifferentTimes(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	a, b := keyOf(t, 0, 2), keyOf(t, 1, 2)
	x, c1, c2 := uuid.New(), uuid.New(), uuid.New()
	evs := []events.Envelope{
		keyed(a, x, 1, at, &events.Opened{Customer: events.Customer{ID: a}, Channel: "phone", Topic: "billing", Contact: c1}),
		keyed(a, x, 2, at.Add(time.Minute), &events.Routed{Contact: c1, Queue: "q", Agent: "ann", Wait: 10 * time.Second}),
		keyed(a, x, 3, at.Add(time.Hour), &events.Resolved{Contact: c1, Agent: "ann", Handle: time.Minute}),
		keyed(a, x, 4, at.Add(30*time.Hour), &events.Reopened{Contact: c2, Channel: "phone"}),
		keyed(b, uuid.New(), 1, at.Add(60*time.Hour), &events.Opened{Customer: events.Customer{ID: b}, Channel: "chat", Topic: "billing", Contact: uuid.New()}),
	}
	whole, parts := reporters(t, evs, 2)
	want := whole.Report()
	require.Equal(t, int64(1), want.Volume.Reopens)
	assert.Zero(t, merged(t, parts).Volume.Reopens, "held in its partition")

	end := at.Add(60 * time.Hour)
	require.NoError(t, whole.AdvanceTo(end))
	for _, p := range parts {
		require.NoError(t, p.AdvanceTo(end))
	}
	want = whole.Report()
	got := merged(t, parts)
	want.Definition.Partitions, want.FCR.Definition.Partitions = 2, 2
	for _, r := range []*projections.Report{&want, &got} {
		r.Service.TrackedIssues, r.Satisfaction.TrackedIssues, r.Volume.TrackedIssues = 0, 0, 0
	}
	assert.Equal(t, want, got)
	assert.Equal(t, int64(1), got.Volume.Reopens)
}

// A reopen whose resolution came late, after its partition skipped the
// gap, counts with no resolution to undo in its partition: there the rate
// holds it to 0/0, while the merge adds it to the other partition's
// resolutions, as one Reporter over all the events does.
func TestMergeAddsTheReopensThatAPartitionsRateHoldsBack(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	a, b := keyOf(t, 0, 2), keyOf(t, 1, 2)
	var evs []events.Envelope
	for i := range 3 {
		y, c := uuid.New(), uuid.New()
		start := at.Add(time.Duration(i) * time.Minute)
		evs = append(evs,
			keyed(b, y, 1, start, &events.Opened{Customer: events.Customer{ID: b}, Channel: "phone", Topic: "billing", Contact: c}),
			keyed(b, y, 2, start.Add(time.Second), &events.Routed{Contact: c, Queue: "q", Agent: "bo", Wait: time.Second}),
			keyed(b, y, 3, start.Add(time.Hour), &events.Resolved{Contact: c, Agent: "bo", Handle: time.Minute}))
	}
	x, c1, c2 := uuid.New(), uuid.New(), uuid.New()
	evs = append(evs,
		keyed(a, x, 1, at, &events.Opened{Customer: events.Customer{ID: a}, Channel: "phone", Topic: "billing", Contact: c1}),
		keyed(a, x, 2, at.Add(time.Minute), &events.Routed{Contact: c1, Queue: "q", Agent: "ann", Wait: 10 * time.Second}),
		keyed(a, x, 4, at.Add(2*time.Hour), &events.Reopened{Contact: c2, Channel: "phone"}),
		keyed(a, uuid.New(), 1, at.Add(30*time.Hour), &events.Opened{Customer: events.Customer{ID: a}, Channel: "phone", Topic: "billing", Contact: uuid.New()}),
		keyed(a, x, 3, at.Add(time.Hour), &events.Resolved{Contact: c1, Agent: "ann", Handle: time.Minute}),
		keyed(b, uuid.New(), 1, at.Add(30*time.Hour), &events.Opened{Customer: events.Customer{ID: b}, Channel: "phone", Topic: "billing", Contact: uuid.New()}),
	)
	whole, parts := reporters(t, evs, 2)
	want := whole.Report().Service.Reopen
	require.Equal(t, [2]int64{1, 3}, [2]int64{want.Hits, want.Total})
	held := parts[0].Report().Service
	require.Equal(t, [2]int64{1, 0}, [2]int64{held.Reopens, held.Resolutions})
	require.Zero(t, held.Reopen.Hits, "held to its resolutions")
	assert.Equal(t, want, merged(t, parts).Service.Reopen)
}

// Reports read back from their JSON merge as they do in memory: a
// definition with values of no topic comes back without them, as one of
// none, and the contacts by value are kept.
func TestMergeOfReportsReadFromJSON(t *testing.T) {
	log, _, err := simulate.Collect(simulate.Config{Seed: 6, Days: 10, Customers: 300, IssuesPerDay: 60})
	require.NoError(t, err)
	for _, values := range []map[string]projections.Value{{}, {"billing": projections.ValueCompany}} {
		cfg := projections.ReportConfig{Volume: projections.VolumeConfig{Values: values}}
		evs := partitioned(t, log, 3)
		parts := make([]projections.Report, 3)
		decoded := make([]projections.Report, 3)
		reps := make([]*projections.Reporter, 3)
		for i := range reps {
			reps[i] = mustReporter(t, cfg)
		}
		for _, e := range evs {
			require.NoError(t, reps[events.PartitionOf(events.PartitionKey(e), 3)].Apply(e))
		}
		for i, r := range reps {
			parts[i] = r.Report()
			b, err := json.Marshal(parts[i])
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(b, &decoded[i]))
		}
		inMemory, err := projections.MergeReports(parts...)
		require.NoError(t, err)
		require.NotEmpty(t, inMemory.Volume.ByValue, "values %v", values)
		fromJSON, err := projections.MergeReports(decoded...)
		require.NoError(t, err, "values %v", values)
		assert.Equal(t, inMemory.Volume.ByValue, fromJSON.Volume.ByValue, "values %v", values)
		assert.Equal(t, inMemory.Service, fromJSON.Service, "values %v", values)
		mixed, err := projections.MergeReports(parts[0], decoded[1], decoded[2])
		require.NoError(t, err, "values %v", values)
		assert.Equal(t, inMemory.Volume.ByValue, mixed.Volume.ByValue, "values %v", values)
	}
}

// A report that counts contacts by value and one that does not (of a
// projection given no Values) do not merge: the merged counts by value
// would be of one partition's contacts. Reports without age buckets merge
// only where they have no open issue to put in them.
func TestMergeRefusesCountsOfSomePartitionsOnly(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	feed := func(cfg projections.VolumeConfig) projections.VolumeReport {
		v, err := projections.NewVolume(cfg)
		require.NoError(t, err)
		c := uuid.New()
		issue := uuid.New()
		require.NoError(t, v.Apply(events.Envelope{ID: uuid.New(), Issue: issue, Version: 1, At: at,
			Data: &events.Opened{Customer: events.Customer{ID: "c"}, Channel: "phone", Topic: "billing", Contact: c}}))
		require.NoError(t, v.Apply(events.Envelope{ID: uuid.New(), Issue: issue, Version: 2, At: at.Add(time.Minute),
			Data: &events.Routed{Contact: c, Queue: "q", Agent: "ann", Wait: time.Second}}))
		return v.Report()
	}
	none, empty := feed(projections.VolumeConfig{}), feed(projections.VolumeConfig{Values: map[string]projections.Value{}})
	require.Positive(t, none.Contacts)
	require.NotEmpty(t, empty.ByValue)
	for _, pair := range [][2]projections.VolumeReport{{none, empty}, {empty, none}} {
		_, err := projections.MergeVolumeReports(pair[0], pair[1])
		assert.ErrorIs(t, err, projections.ErrMergeMismatch)
		assert.ErrorContains(t, err, "counts no contacts by value, where another does")
	}
	both, err := projections.MergeVolumeReports(empty, empty)
	require.NoError(t, err)
	assert.NotNil(t, both.Definition.Values)

	_, err = projections.MergeVolumeReports(projections.VolumeReport{Backlog: projections.Backlog{Open: 5}})
	assert.ErrorIs(t, err, projections.ErrMergeMismatch)
	_, err = projections.MergeVolumeReports(projections.VolumeReport{})
	assert.NoError(t, err, "nothing to put in the buckets")
}
