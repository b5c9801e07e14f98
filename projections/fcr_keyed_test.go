package projections

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
)

// quadLog is the log of one customer (one shared key) that keeps about n
// issues live at once, each of a topic of its own: issues open every
// (W+lateness)/n, are routed a minute later and resolved ten minutes
// later, over span.
func quadLog(n int, span time.Duration) []events.Envelope {
	l := newFCRLog()
	dt := (DefaultFCRWindow + DefaultFCRLateness) / time.Duration(n)
	for i, t := 0, day0; t.Before(day0.Add(span)); i, t = i+1, t.Add(dt) {
		issue, c := l.open(t, []string{"account:big"}, "web", fmt.Sprintf("topic-%d", i))
		l.route(issue, t.Add(time.Minute), c, "q", "a")
		l.resolve(issue, t.Add(10*time.Minute), c, "a", false)
	}
	return decodedInOrder(l.evs)
}

// BenchmarkFCRManyTopicsOneCustomer: one customer (an account of a
// business) with n live issues of distinct topics. Chaining and folding
// try only the issues whose topics may match: time an event should not
// grow with n (it grew as n² before: 60 µs an event at n = 16,000).
func BenchmarkFCRManyTopicsOneCustomer(b *testing.B) {
	for _, n := range []int{1000, 4000, 16000} {
		evs := quadLog(n, 16*24*time.Hour)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				f := mustFCR(FCRConfig{})
				for _, e := range evs {
					if err := f.Apply(e); err != nil {
						b.Fatal(err)
					}
				}
				if b.N == 1 {
					b.Logf("events %d live %d", len(evs), f.Live())
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(b.N)/float64(len(evs)), "ns/event")
		})
	}
}

// Customers of many issues (beyond keyedMin) chain, and fold, as the
// reference reads the rules: chain and blocker then look only at issues
// of the same topic key and at reclassified ones.
func TestFCRKeyedAgreesWithReference(t *testing.T) {
	for _, tt := range []struct {
		match TopicMatch
		seed  uint64
		rough bool
	}{{MatchTopic, 41, false}, {MatchRoot, 42, false}, {MatchTopic, 43, true}, {MatchRoot, 44, true}} {
		t.Run(fmt.Sprintf("%v/rough=%t", tt.match, tt.rough), func(t *testing.T) {
			g := fcrGen{Seed: tt.seed, Customers: 2, Issues: 800, Span: 40 * 24 * time.Hour, LooseKeys: true, Rough: tt.rough}
			evs := g.log()
			ref := referenceFCR(evs, DefaultFCRWindow, tt.match)
			got := runFCR(t, FCRConfig{Match: tt.match, Lateness: farLateness}, scramble(evs, tt.seed, 0.2))
			assertReference(t, ref, got)
			// Folding at every event, an hour behind.
			want := runFCR(t, FCRConfig{Match: tt.match, Lateness: farLateness}, evs)
			f := mustFCR(FCRConfig{Match: tt.match, Lateness: time.Hour})
			for i, e := range evs {
				require.NoError(t, f.Apply(e))
				if i%7 == 0 {
					f.sweep()
				}
			}
			rep := f.Report()
			want.Definition, rep.Definition = FCRDefinition{}, FCRDefinition{}
			want.OrphanedEvents, rep.OrphanedEvents = 0, 0
			want.LateEvents, rep.LateEvents = 0, 0
			assert.Equal(t, want, rep)
		})
	}
}

// An issue reclassified after the earlier issue of its old topic settled
// still chains to it, among many issues of other topics: chain looks up
// the earlier issues of each topic the later one had.
func TestFCRKeyedReclassifiedLate(t *testing.T) {
	l := newFCRLog()
	k := []string{"phone:+358402222222"}
	for i := range 2 * keyedMin {
		l.solved(at(0, 0, i), k, "phone", fmt.Sprintf("pad/%d", i), "ann")
	}
	x, xc := l.open(at(0, 1, 0), k, "phone", "billing")
	l.resolve(x, at(0, 2, 0), xc, "ann", false) // x settles on day 7 at 02:00
	z, zc := l.open(at(3, 0, 0), k, "chat", "billing")
	for i := range 2 * keyedMin {
		l.solved(at(3, 1, i), k, "phone", fmt.Sprintf("pad2/%d", i), "ann")
	}
	l.resolve(z, at(3, 1, 0), zc, "bob", false)
	l.classify(z, at(8, 0, 0), "tech") // after x settled: z stays x's repeat
	l.tick(at(20, 0, 0))
	ref := referenceFCR(l.evs, DefaultFCRWindow, MatchTopic)
	require.Positive(t, ref.failed)
	assertReference(t, ref, runFCR(t, FCRConfig{Lateness: farLateness}, l.evs))
	assertReference(t, ref, runFCR(t, FCRConfig{}, l.evs))
}

// TestFCRBlockerKeepsAProblemWhileAChainMayStillMove, padded, with z reclassified into m's topic before m settled:
// as a reclassified issue, z is on no list of a topic key, and blocker
// finds it only among the reclassified unsettled issues. z chains to y
// while y is billing too, and to m once y is not: m's problem must not
// fold while z may still move there.
func TestFCRKeyedReclassifiedBlocker(t *testing.T) {
	for _, match := range []TopicMatch{MatchTopic, MatchRoot} {
		t.Run(match.String(), func(t *testing.T) {
			l := newFCRLog()
			k := []string{"phone:+358401111112"}
			m, mc := l.open(at(0, 0, 0), k, "phone", "billing")
			l.resolve(m, at(0, 1, 0), mc, "ann", false) // m settles on day 7 at 01:00
			for i := range 2 * keyedMin {
				l.open(at(0, 0, 10), k, "phone", fmt.Sprintf("pad%d/x", i))
			}
			y, _ := l.open(at(1, 0, 0), k, "chat", "tech")
			z, _ := l.open(at(2, 0, 0), k, "email", "misc")
			l.classify(z, at(2, 1, 0), "billing") // z is m's topic by m's settling
			for h := 0; h < 5*24; h += 6 {
				l.tick(at(2, h, 0))
			}
			l.classify(y, at(7, 1, 30), "billing") // z chains to y now
			for h := range 20 {
				l.tick(at(7, 2+h, 0)) // sweeps, while z blocks m's problem
			}
			l.classify(y, at(8, 0, 0), "other") // z chains to m
			l.tick(at(9, 0, 0))
			ref := referenceFCR(l.evs, DefaultFCRWindow, match)
			require.Positive(t, ref.failed, "m's problem fails with z in it")
			want := runFCR(t, FCRConfig{Match: match, Lateness: farLateness}, l.evs)
			assertReference(t, ref, want)
			f := mustFCR(FCRConfig{Match: match, Lateness: time.Hour})
			sawKeyed := false
			for _, e := range l.evs {
				require.NoError(t, f.Apply(e))
				f.sweep()
				if f.scratch.reHead >= 0 && len(f.scratch.next) > keyedMin {
					sawKeyed = true
				}
			}
			require.True(t, sawKeyed, "blocker looked up the unsettled issues by key, with a reclassified one")
			got := f.Report()
			assert.Equal(t, want.Problems, got.Problems, "problems")
			assert.Equal(t, want.Achieved, got.Achieved, "achieved")
			assert.Equal(t, want.Failed, got.Failed, "failed")
			assert.Equal(t, want.Pending, got.Pending, "pending")
			assert.Equal(t, want.Unresolved, got.Unresolved, "unresolved")
		})
	}
}
