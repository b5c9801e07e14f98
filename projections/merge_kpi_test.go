package projections_test

import (
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
