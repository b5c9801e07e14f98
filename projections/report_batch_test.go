package projections_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/internal/simulate"
	"github.com/truefcr/truefcr/projections"
)

// batchLog is two weeks of a simulated contact centre.
func batchLog(t *testing.T) []events.Envelope {
	t.Helper()
	log, _, err := simulate.Collect(simulate.Config{Seed: 9, Days: 14, Customers: 2000, IssuesPerDay: 300})
	require.NoError(t, err)
	return log
}

// FCR.ApplyBatch over batches of any size gives the report of Apply one
// by one, and stops at the event that Apply refuses, naming its index:
// what came before it is applied, nothing after.
func TestFCRApplyBatchEqualsApply(t *testing.T) {
	log := batchLog(t)
	want := mustFCR(projections.FCRConfig{})
	for _, e := range log {
		require.NoError(t, want.Apply(e))
	}
	for _, size := range []int{1, 15, 16, 17, 1000, len(log)} {
		got := mustFCR(projections.FCRConfig{})
		for i := 0; i < len(log); i += size {
			require.NoError(t, got.ApplyBatch(log[i:min(i+size, len(log))]))
		}
		assert.Equal(t, want.Report(), got.Report(), "batches of %d", size)
	}

	bad := slices.Clone(log[:100])
	bad[40].Version = 0
	prefix := mustFCR(projections.FCRConfig{})
	for _, e := range bad[:40] {
		require.NoError(t, prefix.Apply(e))
	}
	got := mustFCR(projections.FCRConfig{})
	err := got.ApplyBatch(bad)
	require.ErrorIs(t, err, events.ErrInvalidEvent)
	assert.Contains(t, err.Error(), "FCR batch: event 40: ")
	assert.Equal(t, prefix.Report(), got.Report())
}

// Batches of any size, small ones applied in line and large ones with the
// FCR on a goroutine of its own, give the report of Apply one by one.
func TestApplyBatchEqualsApply(t *testing.T) {
	log := batchLog(t)
	want := reportOf(t, projections.ReportConfig{}, log)
	for _, size := range []int{1, 7, 63, 64, 1000, len(log)} {
		r, err := projections.NewReporter(projections.ReportConfig{})
		require.NoError(t, err)
		for i := 0; i < len(log); i += size {
			require.NoError(t, r.ApplyBatch(log[i:min(i+size, len(log))]))
		}
		assert.Equal(t, want, r.Report(), "batches of %d", size)
	}
}

// An invalid event stops a batch: the events before it are applied by
// every projection, it and the rest by none, and the error says where.
func TestApplyBatchStopsAtAnInvalidEvent(t *testing.T) {
	log := batchLog(t)[:3000]
	bad := append([]events.Envelope(nil), log...)
	bad[2000].Issue = uuid.Nil
	r, err := projections.NewReporter(projections.ReportConfig{})
	require.NoError(t, err)
	err = r.ApplyBatch(bad)
	require.ErrorIs(t, err, events.ErrInvalidEvent)
	assert.Contains(t, err.Error(), "event 2000")
	assert.Equal(t, reportOf(t, projections.ReportConfig{}, log[:2000]), r.Report())
}

// Replay reads a store into the Reporter, from any position, and reports
// what Apply one by one does; it stops with the store's error.
func TestReplay(t *testing.T) {
	ctx := context.Background()
	log := batchLog(t)
	store := events.NewMemoryStore()
	for _, e := range log {
		_, err := store.Append(ctx, e.Issue, e.Version-1, []events.Envelope{e})
		require.NoError(t, err)
	}
	var stored []events.Envelope
	for e, err := range store.ReadAll(ctx, 0) {
		require.NoError(t, err)
		stored = append(stored, e)
	}
	want := reportOf(t, projections.ReportConfig{}, stored)

	r, err := projections.NewReporter(projections.ReportConfig{})
	require.NoError(t, err)
	half := stored[len(stored)/2-1].Position
	last, n, err := r.Replay(ctx, store, 0)
	require.NoError(t, err)
	assert.Equal(t, len(stored), n)
	assert.Equal(t, stored[len(stored)-1].Position, last)
	assert.Equal(t, want, r.Report())

	// In two parts: up to half from a store that holds only that much,
	// then the rest from the full store.
	firstHalf := events.NewMemoryStore()
	for _, e := range stored[:len(stored)/2] {
		_, err := firstHalf.Append(ctx, e.Issue, e.Version-1, []events.Envelope{e})
		require.NoError(t, err)
	}
	r2, err := projections.NewReporter(projections.ReportConfig{})
	require.NoError(t, err)
	last, n, err = r2.Replay(ctx, firstHalf, 0)
	require.NoError(t, err)
	assert.Equal(t, half, last)
	assert.Equal(t, len(stored)/2, n)
	last, _, err = r2.Replay(ctx, store, last)
	require.NoError(t, err)
	assert.Equal(t, stored[len(stored)-1].Position, last)
	assert.Equal(t, want, r2.Report())

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	r3, err := projections.NewReporter(projections.ReportConfig{})
	require.NoError(t, err)
	_, n, err = r3.Replay(cancelled, store, 0)
	require.ErrorIs(t, err, context.Canceled)
	assert.Less(t, n, len(stored))
}

// replayStore is a memory store of 45 days of a simulated contact centre
// (about a million events), for the replay benchmarks.
func replayStore(b *testing.B) (*events.MemoryStore, int) {
	b.Helper()
	ctx := context.Background()
	log, _, err := simulate.Collect(simulate.Config{Seed: 1, Days: 45, Customers: 40000, Events: 1_000_000})
	require.NoError(b, err)
	store := events.NewMemoryStore()
	for _, e := range log {
		_, err := store.Append(ctx, e.Issue, e.Version-1, []events.Envelope{e})
		require.NoError(b, err)
	}
	return store, len(log)
}

// BenchmarkReporterReplay measures Reporter.Replay from a memory store:
// decoding, the FCR and the KPI projections on two cores, over 45 days of
// a simulated contact centre (about a million events).
func BenchmarkReporterReplay(b *testing.B) {
	ctx := context.Background()
	store, n := replayStore(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r, err := projections.NewReporter(projections.ReportConfig{})
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := r.Replay(ctx, store, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkReplayIntoFCR measures Replay from a memory store into an FCR
// alone, as the benchmark program's SQL comparison runs it: decoding (and
// hashing the identity keys) on one goroutine, the FCR on another, over
// the log of BenchmarkReporterReplay.
func BenchmarkReplayIntoFCR(b *testing.B) {
	ctx := context.Background()
	store, n := replayStore(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		f := mustFCR(projections.FCRConfig{})
		if _, _, err := projections.Replay(ctx, store, 0, f); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// failing refuses the event at a given position.
type failing struct {
	projections.Projection
	at uint64
}

func (f failing) Apply(e events.Envelope) error {
	if e.Position == f.at {
		return errors.New("refused")
	}
	return f.Projection.Apply(e)
}

// Replay into any projection applies what Apply one by one does, and stops
// at the event the projection refuses, saying where.
func TestReplayIntoAProjection(t *testing.T) {
	ctx := context.Background()
	log := batchLog(t)
	store := events.NewMemoryStore()
	var stored []events.Envelope
	for _, e := range log {
		out, err := store.Append(ctx, e.Issue, e.Version-1, []events.Envelope{e})
		require.NoError(t, err)
		stored = append(stored, out...)
	}
	want := mustFCR(projections.FCRConfig{})
	for _, e := range stored {
		require.NoError(t, want.Apply(e))
	}
	got := mustFCR(projections.FCRConfig{})
	last, n, err := projections.Replay(ctx, store, 0, got)
	require.NoError(t, err)
	assert.Equal(t, len(stored), n)
	assert.Equal(t, stored[len(stored)-1].Position, last)
	assert.Equal(t, want.Report(), got.Report())
	assert.Equal(t, want.Live(), got.Live())

	stop := stored[9000].Position
	part := mustFCR(projections.FCRConfig{})
	last, n, err = projections.Replay(ctx, store, 0, failing{part, stop})
	require.Error(t, err)
	assert.Contains(t, err.Error(), fmt.Sprintf("position %d", stop))
	assert.Equal(t, 9000, n)
	assert.Equal(t, stored[8999].Position, last)
}
