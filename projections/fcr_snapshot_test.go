package projections

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"
)

// A projection snapshotted half-way and restored into a new FCR ends with
// the report of one uninterrupted run.
func TestFCRSnapshotRestore(t *testing.T) {
	g := fcrGen{Seed: 11, Customers: 1500, Issues: 8000, Span: 200 * 24 * time.Hour, LooseKeys: true, Open: 0.02}
	evs := jitter(scramble(g.log(), 1, 0.1), 2, 16*time.Hour)
	cfg := FCRConfig{Lateness: 12 * time.Hour, Match: MatchRoot}

	whole := NewFCR(cfg)
	half := NewFCR(cfg)
	cut := -1
	for i, e := range evs {
		require.NoError(t, whole.Apply(e))
		if cut < 0 {
			require.NoError(t, half.Apply(e))
			if i >= len(evs)/2 && half.seq.Held() > 0 {
				cut = i + 1
			}
		}
	}
	require.Positive(t, cut, "the log has a moment with held events")
	mid := half.Report()
	require.Positive(t, mid.HeldEvents)
	require.Positive(t, half.folded.Problems, "some problems were folded before the snapshot")
	require.NotEmpty(t, half.ids.links, "customers known by several keys")
	idle := 0
	for r, n := range half.ids.nodes {
		if n.parent == int32(r) && n.issue < 0 {
			idle++
		}
	}
	require.Positive(t, idle, "customers whose issues were all folded are kept")

	snap, err := half.Snapshot(uint64(cut))
	require.NoError(t, err)
	restored := NewFCR(cfg)
	pos, err := restored.Restore(snap)
	require.NoError(t, err)
	assert.Equal(t, uint64(cut), pos)
	assert.Equal(t, mid, restored.Report(), "the restored state reports what the saved one did")
	assert.Equal(t, half.StreamVersions(), restored.StreamVersions())

	for _, e := range evs[cut:] {
		require.NoError(t, restored.Apply(e))
	}
	want := whole.Report()
	require.Positive(t, want.OrphanedEvents+want.LateEvents, "the log exercises lateness")
	assert.Equal(t, want, restored.Report())
}

func TestFCRRestoreRefusesBadSnapshots(t *testing.T) {
	l := newFCRLog()
	l.solved(at(0, 9, 0), []string{"phone:1", "email:a"}, "phone", "tech/tv", "ann")
	f := NewFCR(FCRConfig{})
	for _, e := range l.evs {
		require.NoError(t, f.Apply(e))
	}
	good, err := f.MarshalBinary()
	require.NoError(t, err)
	var s fcrSnap
	require.NoError(t, msgpack.Unmarshal(good, &s))
	edit := func(change func(*fcrSnap)) []byte { return editSnapshot(t, good, change) }

	tests := []struct {
		name string
		cfg  FCRConfig
		snap []byte
		want string
	}{
		{"not msgpack", FCRConfig{}, []byte("{}"), "FCR restore"},
		{"truncated", FCRConfig{}, good[:len(good)/2], "FCR restore"},
		{"other window", FCRConfig{Window: 24 * time.Hour}, good, "window 168h0m0s"},
		{"other match", FCRConfig{Match: MatchAny}, good, "match topic"},
		{"future format", FCRConfig{}, edit(func(s *fcrSnap) { s.Format = 9 }), "format 9"},
		{"topic out of range", FCRConfig{}, edit(func(s *fcrSnap) { s.Issues[0].Topic = 999 }), "issue 0 is incomplete"},
		{"orphan issue", FCRConfig{}, edit(func(s *fcrSnap) { s.Customers = nil }), "belongs to no customer"},
		{"foreign identifier", FCRConfig{}, edit(func(s *fcrSnap) { s.Issues[0].Node = 7 }), "not its customer's"},
		{"foreign link", FCRConfig{}, edit(func(s *fcrSnap) { s.Customers[0].Links[0].B = 7 }), "link of identifiers not its own"},
		{"customer without identifiers", FCRConfig{}, edit(func(s *fcrSnap) { s.Customers[0].Idents = nil }), "no identifier"},
		{"tally counts", FCRConfig{}, edit(func(s *fcrSnap) { s.Tally.Counts = s.Tally.Counts[:3] }), "tally counts"},
		{"version beyond the largest", FCRConfig{}, edit(func(s *fcrSnap) { s.Versions[0].Version = math.MaxUint64 }), "beyond 9223372036854775807"},
		{"no opening first", FCRConfig{}, edit(func(s *fcrSnap) { s.Issues[0].Recs[0].Kind = snapResolved }), "record of kind 2 at 0"},
		{"unknown record", FCRConfig{}, edit(func(s *fcrSnap) { s.Issues[0].Recs = append(s.Issues[0].Recs, fcrSnapRec{Kind: 7}) }), "record of kind 7 at 1"},
		{"reclassification in format 2", FCRConfig{}, edit(func(s *fcrSnap) {
			s.Format = 2
			s.Issues[0].Recs = append(s.Issues[0].Recs, fcrSnapRec{Kind: snapClassified, Channel: s.Issues[0].Topic})
		}), "record of kind 3 at 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewFCR(tt.cfg)
			_, err := g.Restore(tt.snap)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrFCRSnapshot)
			assert.Contains(t, err.Error(), tt.want)
		})
	}

	g := NewFCR(FCRConfig{})
	require.NoError(t, g.UnmarshalBinary(good))
	assert.Equal(t, f.Report(), g.Report())
	g = NewFCR(FCRConfig{})
	require.NoError(t, g.UnmarshalBinary(edit(func(s *fcrSnap) { s.Format = 2 })), "format 2 is still read")
	assert.Equal(t, f.Report(), g.Report())
}
