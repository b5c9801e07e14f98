package projections_test

import (
	"context"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/internal/simulate"
	"github.com/truefcr/truefcr/projections"
)

// The FCR saves its state in the runner's checkpoints: a runner stopped
// and started again from its checkpoint, over and over, ends with the
// report of one FCR that saw the whole log.
func TestRunnerFCRRestartsAndRebuilds(t *testing.T) {
	log, _, err := simulate.Collect(simulate.Config{Seed: 3, Days: 7, Customers: 200, IssuesPerDay: 40})
	require.NoError(t, err)
	ctx := context.Background()
	store := events.NewMemoryStore()
	cfg := projections.FCRConfig{Window: 24 * time.Hour}
	want := projections.NewFCR(cfg)
	for _, e := range log {
		require.NoError(t, want.Apply(e))
	}

	cps := projections.NewMemoryCheckpoints()
	var fcr *projections.FCR
	var runner *projections.Runner
	for start := 0; start < len(log); start += len(log) / 5 {
		round := log[start:min(start+len(log)/5, len(log))]
		for _, e := range round {
			_, err := store.Append(ctx, e.Issue, e.Version-1, []events.Envelope{e})
			require.NoError(t, err)
		}
		fcr = projections.NewFCR(cfg)
		runner, err = projections.NewRunner(projections.RunnerConfig{Name: "fcr", Projection: fcr, Store: store,
			Checkpoints: cps, CheckpointEvery: 97, Logger: watermill.NopLogger{}})
		require.NoError(t, err)
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- runner.Run(runCtx) }()
		require.Eventually(t, func() bool {
			lag, err := runner.Lag(ctx)
			return err == nil && runner.CaughtUp() && lag.Behind == 0
		}, 10*time.Second, time.Millisecond)
		stop()
		require.NoError(t, <-done)
		assert.Zero(t, runner.Stats().Duplicates, "a restart reads only what the checkpoint does not cover")
		assert.Equal(t, int64(len(round)), runner.Stats().Applied)
	}
	assert.Equal(t, want.Report(), fcr.Report())

	require.NoError(t, runner.Rebuild(ctx))
	assert.Equal(t, want.Report(), fcr.Report())
	assert.Equal(t, int64(len(log)), runner.Stats().Applied)
}

// A checkpoint saved by an FCR of another window fails Run with an error
// that says what to do; a Rebuild then replays the store under the new
// window, and Run goes on from there.
func TestRunnerRebuildsAfterAChangedConfiguration(t *testing.T) {
	log, _, err := simulate.Collect(simulate.Config{Seed: 4, Days: 5, Customers: 100, IssuesPerDay: 20})
	require.NoError(t, err)
	ctx := context.Background()
	store := events.NewMemoryStore()
	for _, e := range log {
		_, err := store.Append(ctx, e.Issue, e.Version-1, []events.Envelope{e})
		require.NoError(t, err)
	}
	cps := projections.NewMemoryCheckpoints()
	run := func(cfg projections.FCRConfig) (*projections.FCR, *projections.Runner, error) {
		fcr := projections.NewFCR(cfg)
		r, err := projections.NewRunner(projections.RunnerConfig{Name: "fcr", Projection: fcr, Store: store,
			Checkpoints: cps, Logger: watermill.NopLogger{}})
		require.NoError(t, err)
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- r.Run(runCtx) }()
		require.Eventually(t, r.CaughtUp, 10*time.Second, time.Millisecond)
		stop()
		return fcr, r, <-done
	}
	_, _, err = run(projections.FCRConfig{Window: 72 * time.Hour})
	require.NoError(t, err)

	cfg := projections.FCRConfig{Window: 24 * time.Hour}
	fcr := projections.NewFCR(cfg)
	r, err := projections.NewRunner(projections.RunnerConfig{Name: "fcr", Projection: fcr, Store: store,
		Checkpoints: cps, Logger: watermill.NopLogger{}})
	require.NoError(t, err)
	err = r.Run(ctx)
	require.ErrorIs(t, err, projections.ErrCheckpoint)
	assert.ErrorContains(t, err, "Rebuild replays the store into the projection as configured now")
	require.NoError(t, r.Rebuild(ctx))

	want := projections.NewFCR(cfg)
	for _, e := range log {
		require.NoError(t, want.Apply(e))
	}
	assert.Equal(t, want.Report(), fcr.Report())
	got, _, err := run(cfg) // a restart restores the rebuilt checkpoint
	require.NoError(t, err)
	assert.Equal(t, want.Report(), got.Report())
}

// A runner told to (IdleAdvance) moves the FCR's watermark to its clock
// once nothing comes: the window after a resolution passes in a quiet
// night, and the problem is final without a newer event. Without it, the
// problem stays pending; the final checkpoint keeps the advance.
func TestRunnerIdleAdvanceMakesAQuietWindowFinal(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	issue, contact := uuid.New(), uuid.New()
	store := events.NewMemoryStore()
	_, err := store.Append(ctx, issue, 0, []events.Envelope{
		{ID: uuid.New(), Issue: issue, Version: 1, At: at, Data: &events.Opened{
			Customer: events.Customer{ID: "c-1"}, Channel: "chat", Topic: "billing", Contact: contact}},
		{ID: uuid.New(), Issue: issue, Version: 2, At: at.Add(time.Hour), Data: &events.Resolved{Contact: contact, Agent: "ana"}},
	})
	require.NoError(t, err)
	cfg := projections.FCRConfig{Window: 24 * time.Hour, Lateness: time.Minute}
	clock := at.Add(time.Hour + 24*time.Hour + 2*time.Minute) // window and lateness after the resolution
	cps := projections.NewMemoryCheckpoints()
	run := func(idle time.Duration, until func(*projections.FCR, *projections.Runner) bool) (*projections.FCR, *projections.Runner) {
		fcr := projections.NewFCR(cfg)
		r, err := projections.NewRunner(projections.RunnerConfig{Name: "fcr", Projection: fcr, Store: store,
			Checkpoints: cps, PollInterval: time.Millisecond, IdleAdvance: idle,
			Now: func() time.Time { return clock }, Logger: watermill.NopLogger{}})
		require.NoError(t, err)
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- r.Run(runCtx) }()
		require.Eventually(t, func() bool {
			ok := false
			r.View(func() { ok = r.CaughtUp() && until(fcr, r) })
			return ok
		}, 10*time.Second, time.Millisecond)
		stop()
		require.NoError(t, <-done)
		return fcr, r
	}

	// Without IdleAdvance the verdict waits for an event: it is still
	// pending some twenty looks (milliseconds) after the catch-up.
	polls := 0
	fcr, r := run(0, func(*projections.FCR, *projections.Runner) bool { polls++; return polls > 20 })
	assert.Equal(t, int64(1), fcr.Report().Pending)
	assert.Zero(t, r.Stats().AdvancedTo)

	fcr, r = run(5*time.Millisecond, func(f *projections.FCR, _ *projections.Runner) bool { return f.Report().Final == 1 })
	rep := fcr.Report()
	assert.Equal(t, int64(1), rep.True.Achieved)
	assert.Zero(t, rep.Pending)
	assert.True(t, clock.Equal(fcr.Watermark()), "watermark %s", fcr.Watermark())
	assert.True(t, clock.Equal(r.Stats().AdvancedTo), "advanced to %s", r.Stats().AdvancedTo)

	// A runner without IdleAdvance restores the advanced state.
	fcr, _ = run(0, func(*projections.FCR, *projections.Runner) bool { return true })
	assert.Equal(t, rep, fcr.Report())
}
