package projections

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"
)

// manyBeforeResolution is a log of a customer whose first issue has n
// follow-ups (a long email thread) before its resolution on day 2, and a
// reclassification away from its topic and back; with again, a second
// resolution on day 3 and, on day 5, within the window, a new issue on
// the same topic, a repeat of the first, resolved; and on day 200 another,
// long after the first settled, resolved on its only contact. It returns the log and the index
// of the first event after the first resolution. Every problem has
// settled on day 240.
func manyBeforeResolution(n int, again bool) (l *fcrLog, resolved int) {
	l = newFCRLog()
	keys := []string{"email:a@example.com"}
	i, c := l.open(at(0, 9, 0), keys, "email", "billing/refund")
	for k := range n {
		l.contacted(i, at(0, 10, 0).Add(time.Duration(k)*time.Minute), "email")
		if k == n/2 {
			l.classify(i, at(0, 10, 0).Add(time.Duration(k)*time.Minute), "billing/other")
			l.classify(i, at(0, 10, 0).Add(time.Duration(k)*time.Minute), "billing/refund")
		}
	}
	l.resolve(i, at(2, 9, 0), c, "maria", false)
	resolved = len(l.evs)
	if again {
		l.resolve(i, at(3, 9, 0), c, "maria", false)
		l.solved(at(5, 9, 0), keys, "phone", "billing/refund", "olli")
	}
	l.solved(at(200, 9, 0), keys, "phone", "billing/refund", "olli")
	return l, resolved
}

// An issue whose first resolution comes after hundreds of follow-ups is
// resolved as one after a few: it settles a window after it (the repeat
// of day 5 fails it, the issue of day 200 is a problem of its own), and a
// snapshot at any moment restores to the same figures. Before, the place
// of the first resolution among the follow-ups was kept up to 255, and
// one after more was taken for reopened by the follow-ups past 255: the
// issue never settled, and the customer's later issues joined its problem.
func TestFCRFirstResolutionAfterManyFollowUps(t *testing.T) {
	for _, tt := range []struct {
		n     int
		again bool
	}{{3, false}, {3, true}, {254, false}, {255, false}, {256, false}, {256, true}, {300, false}, {300, true}} {
		t.Run(fmt.Sprint(tt.n, tt.again), func(t *testing.T) {
			l, resolved := manyBeforeResolution(tt.n, tt.again)
			end := at(240, 0, 0)
			f := mustFCR(FCRConfig{})
			for _, e := range l.evs {
				require.NoError(t, f.Apply(e))
			}
			require.NoError(t, f.AdvanceTo(end))
			r := f.Report()
			assert.Equal(t, int64(2), r.Problems, "the thread (with its repeat), and the issue of day 200")
			assert.Equal(t, int64(1), r.Achieved)
			assert.Equal(t, int64(1), r.Failed)
			assert.Zero(t, f.Live(), "every problem settled and folded")

			// Cut before the first resolution, right after it, after
			// the second, and before the last issue.
			for _, cut := range []int{resolved - 1, resolved, resolved + 1, len(l.evs) - 1} {
				g := mustFCR(FCRConfig{})
				for _, e := range l.evs[:cut] {
					require.NoError(t, g.Apply(e))
				}
				snap, err := g.Snapshot(uint64(cut))
				require.NoError(t, err)
				h := mustFCR(FCRConfig{})
				_, err = h.Restore(snap)
				require.NoError(t, err, "cut %d", cut)
				for _, e := range l.evs[:cut] {
					if g.lookup(e.Issue) >= 0 {
						want, wantRecs := issueState(g, e.Issue)
						got, gotRecs := issueState(h, e.Issue)
						assert.Equal(t, want, got, "cut %d: the issue restored", cut)
						assert.Equal(t, wantRecs, gotRecs, "cut %d: its recs restored", cut)
					}
				}
				for _, e := range l.evs[cut:] {
					require.NoError(t, h.Apply(e))
				}
				require.NoError(t, h.AdvanceTo(end))
				assert.Equal(t, r, h.Report(), "cut %d", cut)
			}
		})
	}
}

// Whether an issue was resolved on its first contact, for reported FCR,
// looks at every counted contact before its first resolution, however
// many reclassifications came before: here a follow-up after 300 of them
// makes the issue, resolved on its opening contact, no reported success.
func TestFCRReportedAfterManyReclassifications(t *testing.T) {
	for _, followUp := range []bool{false, true} {
		l := newFCRLog()
		i, c := l.open(at(0, 9, 0), []string{"phone:1"}, "phone", "billing/a")
		for k := range 300 {
			l.classify(i, at(0, 10, 0).Add(time.Duration(k)*time.Second), []string{"billing/b", "billing/a"}[k%2])
		}
		if followUp {
			l.contacted(i, at(0, 11, 0), "phone")
		}
		l.resolve(i, at(0, 12, 0), c, "ann", false)
		f := mustFCR(FCRConfig{})
		l.flush(t, f)
		require.NoError(t, f.AdvanceTo(at(30, 0, 0)))
		r := f.Report()
		assert.Equal(t, int64(1), r.Reported.Total, "follow-up %v", followUp)
		assert.Equal(t, b2i(!followUp), r.Reported.Achieved, "follow-up %v", followUp)
	}
}

// issueState returns what f keeps of the live issue id, and its recs,
// but for the slots it links to.
func issueState(f *FCR, id uuid.UUID) (fcrIssue, []fcrRec) {
	is := *f.issues.at(f.lookup(id))
	recs := slices.Clone(is.recs())
	is.more, is.next, is.node = nil, 0, 0
	return is, recs
}

// A snapshot places the first resolution after 255 follow-ups or more as a
// rec does not (ResFar); it is refused when that place does not hold.
func TestFCRRestoreRefusesAFarResolutionOutOfPlace(t *testing.T) {
	l, resolved := manyBeforeResolution(300, false)
	f := mustFCR(FCRConfig{})
	for _, e := range l.evs[:resolved] {
		require.NoError(t, f.Apply(e))
	}
	good, err := f.Snapshot(uint64(resolved))
	require.NoError(t, err)
	var s fcrSnap
	require.NoError(t, msgpack.Unmarshal(unsealed(good), &s))
	require.Len(t, s.Issues, 1)
	// 300 follow-ups and the two reclassifications came before it.
	require.Equal(t, uint32(302), s.Issues[0].ResFar)
	require.Equal(t, uint8(resFar), s.Issues[0].ResPos)

	for _, tt := range []struct {
		name   string
		change func(*fcrSnapIssue)
	}{
		{"beyond the recs", func(si *fcrSnapIssue) { si.ResFar = uint32(len(si.Recs)) }},
		{"not far", func(si *fcrSnapIssue) { si.ResFar = resFar }},
		{"with a near place", func(si *fcrSnapIssue) { si.ResPos = 3 }},
		{"after a resolution", func(si *fcrSnapIssue) { si.Recs[5].Kind = snapResolved }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := editSnapshot(t, good, func(s *fcrSnap) { tt.change(&s.Issues[0]) })
			_, err := mustFCR(FCRConfig{}).Restore(b)
			assert.ErrorIs(t, err, ErrFCRSnapshot)
		})
	}

	// Nor is an issue placed near, unresolved or not, with a resolution
	// before its first: once far, it would take that one for its first.
	f = mustFCR(FCRConfig{})
	for _, e := range l.evs[:resolved-1] {
		require.NoError(t, f.Apply(e))
	}
	near, err := f.Snapshot(1)
	require.NoError(t, err)
	for _, tt := range []struct {
		name   string
		change func(*fcrSnapIssue)
	}{
		{"unresolved", func(si *fcrSnapIssue) { si.Recs[1].Kind = snapResolved }},
		{"resolved", func(si *fcrSnapIssue) {
			si.Recs[1].Kind, si.Resolved, si.ResPos = snapResolved, true, 3
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := editSnapshot(t, near, func(s *fcrSnap) { tt.change(&s.Issues[0]) })
			_, err := mustFCR(FCRConfig{}).Restore(b)
			assert.ErrorIs(t, err, ErrFCRSnapshot)
			assert.ErrorContains(t, err, "a resolution at 1, before its first")
		})
	}

	// A snapshot of a build that kept the place up to 255 has 255: the
	// first resolution is restored there, as that build applied it.
	old := editSnapshot(t, good, func(s *fcrSnap) { s.Issues[0].ResFar = 0 })
	g := mustFCR(FCRConfig{})
	_, err = g.Restore(old)
	require.NoError(t, err)
	is := g.issues.at(g.lookup(l.evs[0].Issue))
	assert.Equal(t, resFar, is.resAt())
	at, r := is.step(resFar)
	require.NotNil(t, r)
	assert.True(t, r.resolution())
	assert.Equal(t, is.res, at)
}
