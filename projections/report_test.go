package projections_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/internal/simulate"
	"github.com/truefcr/truefcr/projections"
)

func simulatedLog(t testing.TB, seed uint64) []events.Envelope {
	t.Helper()
	log, _, err := simulate.Collect(simulate.Config{Seed: seed, Days: 14, Customers: 300, IssuesPerDay: 60})
	require.NoError(t, err)
	return log
}

func reportOf(t testing.TB, cfg projections.ReportConfig, log []events.Envelope) projections.Report {
	t.Helper()
	r, err := projections.NewReporter(cfg)
	require.NoError(t, err)
	for _, e := range log {
		require.NoError(t, r.Apply(e))
	}
	return r.Report()
}

// newKPIs returns the three KPI projections, each with its defaults.
func newKPIs(t testing.TB) (*projections.ServiceLevel, *projections.Satisfaction, *projections.Volume) {
	t.Helper()
	svc, err := projections.NewServiceLevel(projections.ServiceConfig{})
	require.NoError(t, err)
	sat, err := projections.NewSatisfaction(projections.SatisfactionConfig{})
	require.NoError(t, err)
	vol, err := projections.NewVolume(projections.VolumeConfig{})
	require.NoError(t, err)
	return svc, sat, vol
}

func TestReporterGathersWhatEachProjectionReports(t *testing.T) {
	log := simulatedLog(t, 1)
	rep := reportOf(t, projections.ReportConfig{}, log)

	fcr := mustFCR(projections.FCRConfig{})
	svc, sat, vol := newKPIs(t)
	for _, e := range log {
		for _, p := range []projections.Projection{fcr, svc, sat, vol} {
			require.NoError(t, p.Apply(e))
		}
	}
	assert.Equal(t, fcr.Report(), rep.FCR)
	assert.Equal(t, svc.Report(), rep.Service)
	assert.Equal(t, sat.Report(), rep.Satisfaction)
	assert.Equal(t, vol.Report(), rep.Volume)
	assert.Equal(t, int64(len(log)), rep.Events)
	assert.Positive(t, rep.FCR.True.Total, "the log has final problems")
}

func TestReportIsAFunctionOfTheSetOfEvents(t *testing.T) {
	log := simulatedLog(t, 2)
	// A lateness longer than the log: any delivery order is within it.
	cfg := projections.ReportConfig{Lateness: 60 * 24 * time.Hour}
	want := reportOf(t, cfg, log)

	rng := rand.New(rand.NewPCG(7, 7))
	for trial := range 3 {
		shuffled := append([]events.Envelope(nil), log...)
		for range len(log) / 10 {
			shuffled = append(shuffled, log[rng.IntN(len(log))])
		}
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		got := reportOf(t, cfg, shuffled)
		assert.Equal(t, want, got, "trial %d", trial)
	}
}

func TestReporterRefusesAnInvalidEventBeforeAnyProjectionSeesIt(t *testing.T) {
	log := simulatedLog(t, 3)
	r, err := projections.NewReporter(projections.ReportConfig{})
	require.NoError(t, err)
	bad := log[0]
	bad.Version = 0
	require.ErrorIs(t, r.Apply(bad), events.ErrInvalidEvent)
	rep := r.Report()
	assert.Zero(t, rep.Events)
	assert.Zero(t, rep.FCR.Issues)
	assert.Zero(t, rep.Volume.Issues)
}

func TestNewReporterRefusesABadConfig(t *testing.T) {
	// A field of the report's own, which every projection takes, is an
	// error of the FCR's configuration and of the KPI projections' both.
	_, err := projections.NewReporter(projections.ReportConfig{Lateness: -time.Second})
	require.ErrorIs(t, err, projections.ErrKPIConfig)
	require.ErrorIs(t, err, projections.ErrFCRConfig)
	assert.ErrorContains(t, err, "report lateness -1s is negative")
	_, err = projections.NewReporter(projections.ReportConfig{MinSample: -1})
	require.ErrorIs(t, err, projections.ErrKPIConfig)
	require.ErrorIs(t, err, projections.ErrFCRConfig)
	assert.ErrorContains(t, err, "report minimum sample -1 is negative")
	_, err = projections.NewReporter(projections.ReportConfig{Volume: projections.VolumeConfig{MinSample: -1}})
	require.ErrorIs(t, err, projections.ErrKPIConfig)
	assert.ErrorContains(t, err, "volume minimum sample -1 is negative")
	_, err = projections.NewReporter(projections.ReportConfig{FCR: projections.FCRConfig{Window: -time.Hour}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "window")
}

func TestReportJSONHasTheDocumentedKeys(t *testing.T) {
	rep := reportOf(t, projections.ReportConfig{}, simulatedLog(t, 4))
	b, err := json.Marshal(rep)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))

	for _, path := range [][]string{
		{"definition", "window"}, {"definition", "match"}, {"definition", "identity"},
		{"definition", "lateness"}, {"definition", "denominator"},
		{"fcr", "true", "achieved"}, {"fcr", "true", "total"}, {"fcr", "true", "rate"}, {"fcr", "true", "ci95"},
		{"fcr", "reported", "achieved"}, {"fcr", "reported", "total"}, {"fcr", "reported", "rate"}, {"fcr", "reported", "ci95"},
		{"fcr", "pending"}, {"fcr", "by_channel", "chat", "true", "rate"}, {"fcr", "by_channel", "phone", "reported", "ci95"},
		{"service", "offered"}, {"service", "answered"}, {"service", "abandoned"}, {"service", "asa_s"}, {"service", "abandon_rate"},
		{"satisfaction", "csat", "mean"}, {"satisfaction", "csat", "top2"}, {"satisfaction", "nps", "score"}, {"satisfaction", "ces", "mean"},
	} {
		var v any = m
		for _, k := range path {
			obj, ok := v.(map[string]any)
			require.True(t, ok, "%v: %v is not an object", path, v)
			v, ok = obj[k]
			require.True(t, ok, "report JSON lacks %v", path)
		}
		if path[len(path)-1] == "ci95" {
			ci, ok := v.([]any)
			require.True(t, ok, "%v is a list", path)
			assert.Len(t, ci, 2, "%v has two bounds", path)
		}
	}
	rate := m["fcr"].(map[string]any)["true"].(map[string]any)["rate"].(float64)
	assert.GreaterOrEqual(t, rate, 0.0)
	assert.LessOrEqual(t, rate, 1.0)
}

func TestReportTextShowsTheHeadlineFigures(t *testing.T) {
	rep := reportOf(t, projections.ReportConfig{}, simulatedLog(t, 5))
	var buf bytes.Buffer
	require.NoError(t, rep.WriteText(&buf))
	out := buf.String()
	for _, want := range []string{
		"TRUE FIRST-CONTACT RESOLUTION", "true FCR", "reported FCR", "inflation",
		"SERVICE LEVEL", "SATISFACTION", "VOLUME", "by first channel", "channel switches",
	} {
		assert.Contains(t, out, want)
	}
	assert.Contains(t, out, fmt.Sprintf("%d/%d", rep.FCR.True.Achieved, rep.FCR.True.Total))
	c := rep.FCR.ContactsPerProblem
	assert.Regexp(t, fmt.Sprintf(`\n  contacts per final problem +1: %d, 2: %d, 3: %d, 4\+: %d *\n`, c.One, c.Two, c.Three, c.FourPlus), out)
}

// The text gives the contacts and the issues' mean on lines of their own:
// the mean counts an issue's contacts while its state was held, so that
// "7 over 6 issues, 1.00 per issue" read as a wrong division where a
// reopen came once its issue was forgotten.
func TestReportTextKeepsContactsApartFromTheMeanPerIssue(t *testing.T) {
	rep := reportOf(t, projections.ReportConfig{}, simulatedLog(t, 5))
	var buf bytes.Buffer
	require.NoError(t, rep.WriteText(&buf))
	out := buf.String()
	assert.Regexp(t, fmt.Sprintf(`\n  contacts +%d *\n`, rep.Volume.Contacts), out)
	assert.Regexp(t, fmt.Sprintf(`\n  issues +%d +%.2f contacts each, while held *\n`, rep.Volume.Issues, rep.Volume.ContactsPerIssue), out)
	assert.NotContains(t, out, "per issue")
}

// Every section flags a rate small below its own threshold and states it
// in its definition; ReportConfig.MinSample sets every one left zero, and
// the text's footnote names the thresholds its marks mean.
func TestReportSmallSampleThresholds(t *testing.T) {
	log := simulatedLog(t, 5)
	def := reportOf(t, projections.ReportConfig{}, log)
	require.Greater(t, def.Service.Offered, int64(100))
	assert.False(t, def.Service.ServiceLevel.Small)
	assert.Equal(t, int64(projections.MinReliable), def.Service.Definition.MinSample)

	big := def.Service.Offered + 1
	all := reportOf(t, projections.ReportConfig{MinSample: big}, log)
	for name, d := range map[string]int64{"fcr": all.Definition.MinSample, "service": all.Service.Definition.MinSample,
		"satisfaction": all.Satisfaction.Definition.MinSample, "volume": all.Volume.Definition.MinSample} {
		assert.Equal(t, big, d, name)
	}
	assert.True(t, all.Service.ServiceLevel.Small)
	assert.True(t, all.Satisfaction.CSAT.Top2Box.Small)
	assert.True(t, all.Volume.Reopen.Small)
	var buf bytes.Buffer
	require.NoError(t, all.WriteText(&buf))
	assert.Contains(t, buf.String(), fmt.Sprintf("* fewer than %d in the denominator: too few to act on.", big))

	fcrOnly := reportOf(t, projections.ReportConfig{FCR: projections.FCRConfig{MinSample: big}}, log)
	assert.False(t, fcrOnly.Service.ServiceLevel.Small, "the FCR's threshold is its own")
	buf.Reset()
	require.NoError(t, fcrOnly.WriteText(&buf))
	assert.Contains(t, buf.String(), fmt.Sprintf("(true FCR %d, service level 30, satisfaction 30, volume 30)", big))
}

// An empty report writes no figure it does not have: a dash for a mean
// over nothing, no zero watermark in its JSON; the service level's
// threshold is written as set.
func TestReportTextOfNothing(t *testing.T) {
	rep := reportOf(t, projections.ReportConfig{Service: projections.ServiceConfig{Threshold: 1500 * time.Millisecond}}, nil)
	var buf bytes.Buffer
	require.NoError(t, rep.WriteText(&buf))
	out := buf.String()
	assert.Contains(t, out, "SERVICE LEVEL (threshold 1.5 s)")
	for _, want := range []string{"ASA  –", "AHT  –", "CSAT  mean –", "NPS  –", "CES  mean –"} {
		assert.Regexp(t, strings.ReplaceAll(want, "  ", `\s+`), out)
	}
	assert.NotContains(t, out, "0.00")
	b, err := json.Marshal(rep)
	require.NoError(t, err)
	assert.NotContains(t, string(b), "0001-01-01")
}

// BenchmarkReporter measures the whole report (FCR, service level,
// satisfaction, volume) absorbing a month of simulated, decoded events.
func BenchmarkReporter(b *testing.B) {
	log, _, err := simulate.Collect(simulate.Config{Seed: 1, Days: 30, Customers: 20000, IssuesPerDay: 2000})
	require.NoError(b, err)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r, err := projections.NewReporter(projections.ReportConfig{})
		if err != nil {
			b.Fatal(err)
		}
		for _, e := range log {
			if err := r.Apply(e); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(len(log))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(len(log)*b.N), "ns/event")
}

// The text says, in each KPI section, how many events were left out of
// its figures as late: a log loaded ticket by ticket over more than the
// lateness loses events, which a reader of the text must see.
func TestReportTextShowsTheEventsEachSectionLeftOut(t *testing.T) {
	log := simulatedLog(t, 5)
	byTicket := slices.Clone(log)
	slices.SortStableFunc(byTicket, func(a, b events.Envelope) int { return bytes.Compare(a.Issue[:], b.Issue[:]) })
	rep := reportOf(t, projections.ReportConfig{}, byTicket)
	require.Positive(t, rep.Service.LateEvents)
	var buf bytes.Buffer
	require.NoError(t, rep.WriteText(&buf))
	out := buf.String()
	for _, section := range []struct {
		name string
		late int64
		held int
	}{
		{"SERVICE LEVEL", rep.Service.LateEvents, rep.Service.HeldEvents},
		{"SATISFACTION", rep.Satisfaction.LateEvents, rep.Satisfaction.HeldEvents},
		{"VOLUME", rep.Volume.LateEvents, rep.Volume.HeldEvents},
	} {
		i := strings.Index(out, section.name)
		require.GreaterOrEqual(t, i, 0, section.name)
		assert.Regexp(t, fmt.Sprintf(`^[^\n]*\n\s+events\s+late %d \(left out of the figures\), held after a gap or of an issue forgotten %d`, section.late, section.held),
			out[i:], section.name)
	}

	inOrder := reportOf(t, projections.ReportConfig{}, log)
	buf.Reset()
	require.NoError(t, inOrder.WriteText(&buf))
	assert.NotContains(t, buf.String(), "(left out of the figures),", "nothing late, no line")
}

// The KPI sections' line of events left out keeps their columns: the
// notes after the figures stay where they are without it.
func TestReportTextLeftOutLineKeepsTheColumns(t *testing.T) {
	log := simulatedLog(t, 5)
	byTicket := slices.Clone(log)
	slices.SortStableFunc(byTicket, func(a, b events.Envelope) int { return bytes.Compare(a.Issue[:], b.Issue[:]) })
	col := func(log []events.Envelope) int {
		rep := reportOf(t, projections.ReportConfig{}, log)
		var buf bytes.Buffer
		require.NoError(t, rep.WriteText(&buf))
		for line := range strings.Lines(buf.String()) {
			if strings.HasPrefix(line, "  offered ") {
				return strings.Index(line, "answered")
			}
		}
		t.Fatal("no offered line")
		return 0
	}
	inOrder, late := col(log), col(byTicket)
	assert.LessOrEqual(t, late, inOrder+3, "the offered line's note moved from column %d to %d", inOrder, late)
}
