package projections

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/internal/simulate"
)

// TestKPIAgainstTheSimulatorsTruth holds the projections' counts against
// what the simulator says it generated, over a simulated week.
func TestKPIAgainstTheSimulatorsTruth(t *testing.T) {
	evs, truth, err := simulate.Collect(simulate.Config{Seed: 3})
	require.NoError(t, err)
	require.Greater(t, truth.Issues, 500)

	const keep = 60 * 24 * time.Hour // nothing leaves the horizon
	svc, err := NewServiceLevel(ServiceConfig{Lateness: keep})
	require.NoError(t, err)
	sat, err := NewSatisfaction(SatisfactionConfig{Lateness: keep})
	require.NoError(t, err)
	vol, err := NewVolume(VolumeConfig{Lateness: keep})
	require.NoError(t, err)
	for _, p := range []kpiProjection{svc, sat, vol} {
		applyAll(t, p, evs)
	}

	s := svc.Report()
	assert.Equal(t, int64(truth.Abandoned), s.Abandoned)
	assert.Equal(t, int64(truth.Consults), s.Consult.Hits)
	assert.LessOrEqual(t, s.Transfer.Hits, int64(truth.Transfers), "a contact routed three times is one transferred contact")
	assert.Equal(t, int64(truth.Reopens), s.Reopen.Hits)
	assert.Equal(t, int64(truth.Resolutions), s.Reopen.Total)
	// Contacts picked up without a queue (email, web) are answered with no wait.
	assert.GreaterOrEqual(t, s.Answered, int64(truth.Queued))
	assert.InDelta(t, truth.Wait.Seconds(), s.ASA*float64(s.Answered), 1)
	assert.InDelta(t, truth.Handle.Seconds(), s.AHT*float64(s.AHTContacts), 1)

	a := sat.Report()
	assert.Equal(t, int64(truth.Surveys[events.SurveyCSAT]), a.CSAT.Responses)
	assert.Equal(t, int64(truth.Surveys[events.SurveyNPS]), a.NPS.Responses)
	assert.Equal(t, int64(truth.Surveys[events.SurveyCES]), a.CES.Responses)

	v := vol.Report()
	assert.Equal(t, int64(truth.Issues), v.Issues)
	assert.Equal(t, int64(truth.Reopens), v.Reopens)
	// Contacts still in a queue when the log ends are neither answered
	// nor abandoned: they count as contacts, not in truth.Answered.
	assert.GreaterOrEqual(t, v.Contacts, int64(truth.Answered))
	assert.LessOrEqual(t, v.Contacts, int64(truth.Offered-truth.Abandoned))
	for _, r := range []int64{s.LateEvents, a.LateEvents, v.LateEvents, int64(s.HeldEvents)} {
		assert.Zero(t, r)
	}
}

// TestKPISimulatedLogWithAShortLateness: in time order with a short
// lateness, memory holds only the open issues and the recent ones, and
// nothing is late.
func TestKPISimulatedLogWithAShortLateness(t *testing.T) {
	evs, truth, err := simulate.Collect(simulate.Config{Seed: 5})
	require.NoError(t, err)
	svc, err := NewServiceLevel(ServiceConfig{Lateness: 2 * time.Hour})
	require.NoError(t, err)
	vol, err := NewVolume(VolumeConfig{Lateness: 2 * time.Hour})
	require.NoError(t, err)
	applyAll(t, svc, evs)
	applyAll(t, vol, evs)
	s, v := svc.Report(), vol.Report()
	assert.Zero(t, s.LateEvents)
	// Abandonments on issues resumed in the last two hours may still wait.
	assert.LessOrEqual(t, s.Abandoned, int64(truth.Abandoned))
	assert.GreaterOrEqual(t, s.Abandoned, int64(truth.Abandoned-s.HeldEvents))
	assert.Less(t, s.TrackedIssues, truth.Issues/3)
	assert.GreaterOrEqual(t, v.TrackedIssues, int(v.Backlog.Open), "every open issue is in memory")
	assert.Less(t, v.TrackedIssues, int(v.Backlog.Open)+truth.Issues/5)
}
