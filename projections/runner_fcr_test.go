package projections_test

import (
	"context"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
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
	want := mustFCR(cfg)
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
		fcr = mustFCR(cfg)
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
		fcr := mustFCR(cfg)
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
	fcr := mustFCR(cfg)
	r, err := projections.NewRunner(projections.RunnerConfig{Name: "fcr", Projection: fcr, Store: store,
		Checkpoints: cps, Logger: watermill.NopLogger{}})
	require.NoError(t, err)
	err = r.Run(ctx)
	require.ErrorIs(t, err, projections.ErrCheckpoint)
	assert.ErrorContains(t, err, "Rebuild replays the store into the projection as configured now")
	require.NoError(t, r.Rebuild(ctx))

	want := mustFCR(cfg)
	for _, e := range log {
		require.NoError(t, want.Apply(e))
	}
	assert.Equal(t, want.Report(), fcr.Report())
	got, _, err := run(cfg) // a restart restores the rebuilt checkpoint
	require.NoError(t, err)
	assert.Equal(t, want.Report(), got.Report())
}
