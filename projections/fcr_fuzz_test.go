package projections

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
)

// FuzzFCRRestore feeds Restore snapshots that the fuzzer derives from real
// ones. Whatever Restore accepts must be a state the FCR can go on from:
// it takes the rest of the log without an error or a panic, reports, and
// saves a snapshot that restores to the same report. What it refuses, it
// refuses with ErrFCRSnapshot.
//
//	go test -run '^$' -fuzz '^FuzzFCRRestore$' -fuzztime 2m ./projections/
func FuzzFCRRestore(f *testing.F) {
	cfg, log, snaps := fuzzFCRSeeds(f)
	for _, s := range snaps {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		g := mustFCR(cfg)
		if _, err := g.Restore(b); err != nil {
			require.ErrorIs(t, err, ErrFCRSnapshot)
			return
		}
		for i, e := range log {
			require.NoError(t, g.Apply(e), "event %d of the log", i)
		}
		want := g.Report()
		again, err := g.Snapshot(7)
		require.NoError(t, err)
		h := mustFCR(cfg)
		pos, err := h.Restore(again)
		require.NoError(t, err, "a snapshot of a restored FCR restores")
		assert.Equal(t, uint64(7), pos)
		assert.Equal(t, want, h.Report())
	})
}

// fuzzFCRSeeds returns the configuration of FuzzFCRRestore, a log to go on
// with after a restore, and snapshots taken along it: with held events,
// folded problems, customers of several keys and a shared key.
func fuzzFCRSeeds(tb testing.TB) (FCRConfig, []events.Envelope, [][]byte) {
	g := fcrGen{Seed: 3, Customers: 12, Issues: 60, Span: 40 * 24 * time.Hour, LooseKeys: true, Shared: 2, Rough: true}
	log := jitter(scramble(g.log(), 2, 0.1), 3, 6*time.Hour)
	cfg := FCRConfig{Lateness: 2 * time.Hour}
	f := mustFCR(cfg)
	var snaps [][]byte
	for i, e := range log {
		require.NoError(tb, f.Apply(e))
		if i%(len(log)/6) == len(log)/12 {
			s, err := f.Snapshot(uint64(i))
			require.NoError(tb, err)
			snaps = append(snaps, s)
		}
	}
	require.Positive(tb, f.Report().Problems)
	return cfg, log, snaps
}

// FuzzReporterRestore is FuzzFCRRestore for a Reporter, whose snapshot
// holds the KPI projections' state beside the FCR's.
//
//	go test -run '^$' -fuzz '^FuzzReporterRestore$' -fuzztime 2m ./projections/
func FuzzReporterRestore(f *testing.F) {
	cfg, log, _ := fuzzFCRSeeds(f)
	rcfg := ReportConfig{FCR: cfg, Lateness: cfg.Lateness}
	r, err := NewReporter(rcfg)
	require.NoError(f, err)
	for i, e := range log {
		require.NoError(f, r.Apply(e))
		if i%(len(log)/4) == len(log)/8 {
			s, err := r.MarshalBinary()
			require.NoError(f, err)
			f.Add(s)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := NewReporter(rcfg)
		require.NoError(t, err)
		if err := g.UnmarshalBinary(b); err != nil {
			if !errors.Is(err, ErrKPISnapshot) {
				require.ErrorIs(t, err, ErrFCRSnapshot)
			}
			return
		}
		for i, e := range log {
			require.NoError(t, g.Apply(e), "event %d of the log", i)
		}
		want := g.Report()
		again, err := g.MarshalBinary()
		require.NoError(t, err)
		h, err := NewReporter(rcfg)
		require.NoError(t, err)
		require.NoError(t, h.UnmarshalBinary(again), "a snapshot of a restored Reporter restores")
		assert.Equal(t, want, h.Report())
	})
}
