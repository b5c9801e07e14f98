package projections

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A reclassification that splits a problem held back by time lets the
// issue left behind fold at the next sweep, although the issue that
// moved away is not settled (it reopened): the sweep looks at the
// customer for the reclassified issue, whatever its settling time. A
// contact on the folded issue that comes later than the lateness is then
// dropped, as for any folded issue.
func TestFCRReclassificationLetsTheIssueLeftBehindFold(t *testing.T) {
	hm := func(h, m int) time.Time { return day0.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute) }
	for _, reopened := range []bool{true, false} {
		t.Run(fmt.Sprintf("other issue reopened %v", reopened), func(t *testing.T) {
			f := mustFCR(FCRConfig{Window: 10 * time.Hour, Lateness: time.Hour})
			l := newFCRLog()
			apply := func() { l.flush(t, f) }
			// advance moves the watermark to when, by an issue of a
			// customer of its own, and sweeps.
			ticks := 0
			advance := func(when time.Time) {
				ticks++
				l.open(when, []string{fmt.Sprintf("account:tick-%d", ticks)}, "web", "clock/tick")
				apply()
				f.sweep()
			}
			keys := []string{"phone:+15550100"}
			a, ca := l.open(hm(0, 0), keys, "phone", "billing/refund")
			l.resolve(a, hm(0, 10), ca, "ann", false) // a settles at 10:10
			b, cb := l.open(hm(0, 20), keys, "chat", "billing/refund")
			l.resolve(b, hm(5, 0), cb, "bob", false) // b settles at 15:00
			apply()
			advance(hm(13, 0)) // cutoff 12:00: a and b are one problem, held back by b
			require.GreaterOrEqual(t, f.lookup(a), int32(0))

			l.classify(b, hm(0, 40), "tech/tv") // late, but before either settled: two problems now
			if reopened {
				l.contacted(b, hm(12, 30), "email") // b reopens and stays open
			}
			apply()
			advance(hm(14, 0)) // cutoff 13:00: a's problem is final
			assert.Negative(t, f.lookup(a), "a folded")
			assert.GreaterOrEqual(t, f.lookup(b), int32(0), "b live")

			l.contacted(a, hm(5, 0), "email") // later than the lateness: a is folded, so dropped
			apply()
			advance(hm(100, 0))
			rep := f.Report()
			assert.Equal(t, int64(1), rep.LateDropped)
			if reopened {
				// b's contact of 12:30 came within W of its resolution.
				assert.Equal(t, [2]int64{1, 1}, [2]int64{rep.Achieved, rep.Failed}, "a achieved, b failed")
			} else {
				assert.Equal(t, [2]int64{2, 0}, [2]int64{rep.Achieved, rep.Failed}, "a and b achieved")
			}
		})
	}
}

// An issue z that is related to a settled problem's member but chains to
// a more recent issue y, whose topic may still change, keeps the problem
// from folding until it settles (blocker): y's later reclassification
// moves z to the problem, and the report is the one of an FCR that never
// folds. With z opened at the very moment of the member (a tie in
// opening time) the rule holds the same, and with the customer's issues
// padded beyond keyedMin by open issues of other topics, so that blocker
// looks the unsettled issues up by topic.
func TestFCRBlockerKeepsAProblemWhileAChainMayStillMove(t *testing.T) {
	for _, tt := range []struct {
		name   string
		dy, dz int // the days y and z open after the member
	}{{"z after", 1, 2}, {"z at the member's moment", 0, 0}} {
		for _, pad := range []int{0, 2 * keyedMin} {
			t.Run(fmt.Sprintf("%s/%d more issues", tt.name, pad), func(t *testing.T) {
				l := newFCRLog()
				k := []string{"phone:+358401111111"}
				m, mc := l.open(at(0, 0, 0), k, "phone", "billing")
				l.resolve(m, at(0, 1, 0), mc, "ann", false) // m settles on day 7 at 01:00
				for i := range pad {
					l.open(at(0, 0, 10), k, "phone", fmt.Sprintf("pad/%d", i))
				}
				y, _ := l.open(at(tt.dy, 0, 0), k, "chat", "tech")
				l.open(at(tt.dz, 0, 0), k, "email", "billing") // z
				for h := 0; h < 5*24; h += 6 {
					l.tick(at(2, h, 0))
				}
				l.classify(y, at(7, 1, 30), "billing") // y and z related now; y and m not (y was tech when m settled)
				for h := range 20 {
					l.tick(at(7, 2+h, 0)) // sweeps, while z blocks m's problem
				}
				l.classify(y, at(8, 0, 0), "other") // y and z no longer related: z chains to m
				l.tick(at(9, 0, 0))
				want := runFCR(t, FCRConfig{Lateness: farLateness}, l.evs)
				f := mustFCR(FCRConfig{Lateness: time.Hour})
				for _, e := range l.evs {
					require.NoError(t, f.Apply(e))
					f.sweep()
				}
				got := f.Report()
				assert.Equal(t, want.Problems, got.Problems, "problems")
				assert.Equal(t, want.Achieved, got.Achieved, "achieved")
				assert.Equal(t, want.Pending, got.Pending, "pending")
				assert.Equal(t, want.Unresolved, got.Unresolved, "unresolved")
			})
		}
	}
}

// A customer of a single identifier is forgotten once its last issue
// folds, and one with linked identifiers is kept: its links still chain
// later issues. An identifier forgotten and seen again is a new customer,
// so the report is what it would have been; its node is reused. A
// snapshot that holds a lone customer (as saved before they were
// forgotten) restores without it.
func TestFCRForgetsLoneCustomers(t *testing.T) {
	f := mustFCR(FCRConfig{Window: 10 * time.Hour, Lateness: time.Hour})
	l := newFCRLog()
	apply := func() { l.flush(t, f) }
	hm := func(h, m int) time.Time { return day0.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute) }
	l.solved(hm(0, 0), []string{"phone:+15550101"}, "phone", "billing/refund", "ann")
	l.solved(hm(0, 5), []string{"phone:+15550102", "email:b@example.com"}, "chat", "billing/refund", "bob")
	l.open(hm(20, 0), []string{"account:clock"}, "web", "clock/tick")
	apply()
	require.Equal(t, 4, f.ids.byHash.n, "before the sweep")
	f.sweep() // cutoff 19:00: the two problems fold
	assert.Equal(t, 1, f.Live(), "the clock's issue")
	assert.Equal(t, 3, f.ids.byHash.n, "the linked customer's two identifiers and the clock's")
	assert.Equal(t, 2, f.ids.roots)
	assert.Len(t, f.ids.free, 1)
	nodes := len(f.ids.nodes)

	// The first customer comes back by phone, and the second, whose links
	// are kept, by email then by phone: one problem of two contacts.
	l.solved(hm(21, 0), []string{"phone:+15550101"}, "phone", "billing/refund", "ann")
	l.solved(hm(22, 0), []string{"email:b@example.com"}, "email", "billing/refund", "bob")
	l.solved(hm(23, 0), []string{"phone:+15550102"}, "phone", "billing/refund", "bob")
	apply()
	assert.Equal(t, nodes, len(f.ids.nodes), "a free node is reused")
	snap, err := f.Snapshot(7)
	require.NoError(t, err)
	l.open(hm(60, 0), []string{"account:clock"}, "web", "clock/tick")
	apply()
	rep := f.Report()
	assert.Equal(t, int64(3), rep.Achieved, "the two first problems and the phone call back")
	assert.Equal(t, int64(1), rep.Failed, "email then phone, linked by the first chat")

	// The same snapshot with a lone customer added restores without it.
	edited := editSnapshot(t, snap, func(s *fcrSnap) {
		s.Customers = append(s.Customers, fcrSnapCustomer{Idents: []uint64{identHash("phone:+15550199", false)}})
	})
	g := mustFCR(FCRConfig{Window: 10 * time.Hour, Lateness: time.Hour})
	pos, err := g.Restore(edited)
	require.NoError(t, err)
	assert.Equal(t, uint64(7), pos)
	_, known := g.ids.lookup(identHash("phone:+15550199", false))
	assert.False(t, known, "the lone customer is not restored")
	_, known = g.ids.lookup(identHash("phone:+15550102", false))
	assert.True(t, known)
}
