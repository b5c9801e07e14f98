package projections

import (
	"fmt"
	"math"
	"os"
	"runtime"
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

	whole := mustFCR(cfg)
	half := mustFCR(cfg)
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
	restored := mustFCR(cfg)
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
	f := mustFCR(FCRConfig{})
	for _, e := range l.evs {
		require.NoError(t, f.Apply(e))
	}
	good, err := f.MarshalBinary()
	require.NoError(t, err)
	var s fcrSnap
	require.NoError(t, msgpack.Unmarshal(unsealed(good), &s))
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
		{"a negative tally count", FCRConfig{}, edit(func(s *fcrSnap) { s.Tally.Counts[0] = -1 }), "count 0 is negative"},
		{"a negative event count", FCRConfig{}, edit(func(s *fcrSnap) { s.Counts.Issues = -1 }), "is negative"},
		{"a negative segment count", FCRConfig{}, edit(func(s *fcrSnap) {
			s.Tally.Seg = append(s.Tally.Seg, fcrSnapSeg{Dim: dimChannel, ID: 1, Seg: fcrSeg{Achieved: 1, Failed: -1}})
		}), "negative count"},
		{"a day beyond event times", FCRConfig{}, edit(func(s *fcrSnap) { s.Tally.Seg = append(s.Tally.Seg, fcrSnapSeg{Dim: dimDay, ID: maxDay + 1}) }), "out of range"},
		{"a week before event times", FCRConfig{}, edit(func(s *fcrSnap) { s.Tally.Seg = append(s.Tally.Seg, fcrSnapSeg{Dim: dimWeek, ID: minWeek - 1}) }), "out of range"},
		{"a negative channel switch", FCRConfig{}, edit(func(s *fcrSnap) { s.Tally.Switch = append(s.Tally.Switch, [3]int64{1, 1, -1}) }), "channel switch"},
		{"a negative repeat count", FCRConfig{}, edit(func(s *fcrSnap) { s.Tally.Repeats = append(s.Tally.Repeats, [3]int64{1, -1, 1}) }), "repeat topic"},
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
			g := mustFCR(tt.cfg)
			_, err := g.Restore(tt.snap)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrFCRSnapshot)
			assert.Contains(t, err.Error(), tt.want)
		})
	}

	g := mustFCR(FCRConfig{})
	require.NoError(t, g.UnmarshalBinary(good))
	assert.Equal(t, f.Report(), g.Report())
	g = mustFCR(FCRConfig{})
	require.NoError(t, g.UnmarshalBinary(edit(func(s *fcrSnap) { s.Format = 2 })), "format 2 is still read")
	assert.Equal(t, f.Report(), g.Report())
}

// format5Log is the log of testdata/fcr_format5.snap, which ea5f8ee saved
// after the events up to saved and an AdvanceTo just past them, when the
// two tickets of day 0 had folded: one resolved on the call back after an
// abandoned call (no reported success by the rule of format 5, one by
// today's), one resolved on its only call. A third ticket like the first
// comes after the snapshot.
func format5Log() (l *fcrLog, saved int) {
	l = newFCRLog()
	a, c1 := l.open(at(0, 9, 0), []string{"phone:4"}, "phone", "billing/plan")
	l.abandon(a, at(0, 9, 2), c1)
	c2 := l.contacted(a, at(0, 9, 10), "phone")
	l.resolve(a, at(0, 9, 20), c2, "ann", false)
	l.solved(at(0, 10, 0), []string{"phone:5"}, "phone", "tech/tv", "bob")
	l.tick(at(60, 0, 0))
	saved = len(l.evs)
	b, d1 := l.open(at(61, 9, 0), []string{"phone:6"}, "chat", "billing/plan")
	l.abandon(b, at(61, 9, 2), d1)
	d2 := l.contacted(b, at(61, 9, 10), "chat")
	l.resolve(b, at(61, 9, 20), d2, "ann", false)
	l.tick(at(120, 0, 0))
	return l, saved
}

// An FCR restored from a snapshot of format 5 keeps the reported counts of
// the problems it had folded, which the earlier rule made, and its report's
// definition says so, in every later snapshot too; the problems it folds
// after the restore count by today's rule.
func TestFCRRestoresFormat5WithItsReportedRule(t *testing.T) {
	l, saved := format5Log()
	b, err := os.ReadFile("testdata/fcr_format5.snap")
	require.NoError(t, err)
	restored := mustFCR(FCRConfig{})
	require.NoError(t, restored.UnmarshalBinary(b))
	fresh := runFCR(t, FCRConfig{}, l.evs[:saved])

	got := restored.Report()
	assert.Equal(t, [2]int64{1, 2}, [2]int64{got.Reported.Achieved, got.Reported.Total}, "as format 5 counted them")
	assert.Equal(t, [2]int64{2, 2}, [2]int64{fresh.Reported.Achieved, fresh.Reported.Total}, "as counted today")
	assert.Equal(t, fresh.True, got.True)
	assert.Contains(t, got.Definition.Reported, "before a restore from an earlier snapshot")
	assert.NotContains(t, fresh.Definition.Reported, "earlier snapshot")

	// Partitions restored from such snapshots merge with those that had
	// folded nothing then, and the merge says what its counts hold.
	for _, order := range [][]FCRReport{{got, fresh}, {fresh, got}} {
		merged, err := MergeFCRReports(order...)
		require.NoError(t, err)
		want := got.Definition
		want.Partitions = 2
		assert.Equal(t, want, merged.Definition)
		assert.Equal(t, [2]int64{3, 4}, [2]int64{merged.Reported.Achieved, merged.Reported.Total})
	}
	// A third report by another rule is refused, naming report 0's own.
	other := fresh
	other.Definition.Reported = "another rule"
	_, err = MergeFCRReports(fresh, got, other)
	assert.ErrorIs(t, err, ErrMergeMismatch)
	assert.ErrorContains(t, err, fmt.Sprintf(`report 2 has reported FCR rule "another rule", report 0 %q`, fresh.Definition.Reported))
	_, err = MergeFCRReports(got, fresh, other)
	assert.ErrorContains(t, err, fmt.Sprintf(`report 2 has reported FCR rule "another rule", report 0 %q`, got.Definition.Reported), "report 0's rule as it has it")
	// Another field that differs is named, whatever the reported rules.
	fewer := fresh
	fewer.Definition.MinSample = 5
	_, err = MergeFCRReports(got, fewer)
	assert.ErrorContains(t, err, "report 1 has minimum sample 5, report 0 30")

	applyAll(t, restored, l.evs[saved:])
	restored.AdvanceTo(at(120, 0, 1))
	got = restored.Report()
	assert.Equal(t, [2]int64{2, 3}, [2]int64{got.Reported.Achieved, got.Reported.Total}, "the ticket folded since counts by today's rule")

	again, err := restored.MarshalBinary()
	require.NoError(t, err)
	back := mustFCR(FCRConfig{})
	require.NoError(t, back.UnmarshalBinary(again))
	assert.Equal(t, got.Definition, back.Report().Definition, "the next snapshot keeps saying so")

	// A snapshot of format 5 that had folded no ticket holds nothing by
	// the earlier rule.
	early := mustFCR(FCRConfig{})
	applyAll(t, early, l.evs[:1])
	s, err := early.MarshalBinary()
	require.NoError(t, err)
	var snap fcrSnap
	require.NoError(t, msgpack.Unmarshal(unsealed(s), &snap))
	snap.Format = 5
	s, err = msgpack.Marshal(&snap)
	require.NoError(t, err)
	require.NoError(t, early.UnmarshalBinary(s))
	assert.NotContains(t, early.Report().Definition.Reported, "earlier snapshot")
}

// Input that is not a snapshot of this configuration is refused for
// that, before its lists are read: a million nils that would each be an
// issue record allocate nothing much.
func TestFCRRestoreReadsTheHeadFirst(t *testing.T) {
	nils := make([]any, 1<<20)
	for _, head := range []map[string]any{
		{"Format": 0, "Issues": nils},
		{"Format": fcrSnapFormat, "Window": int64(time.Hour), "Lateness": int64(DefaultFCRLateness), "Issues": nils},
	} {
		b, err := msgpack.Marshal(head)
		require.NoError(t, err)
		f := mustFCR(FCRConfig{})
		allocated := allocatedBy(func() { _, err = f.Restore(b) })
		require.ErrorIs(t, err, ErrFCRSnapshot)
		assert.Regexp(t, `snapshot format 0|snapshot of window 1h0m0s`, err.Error())
		assert.Less(t, allocated, uint64(4*len(b)), "bytes allocated for %d bytes of input", len(b))
	}
}

// allocatedBy returns how many bytes of heap f allocated.
func allocatedBy(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}
