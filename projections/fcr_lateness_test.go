package projections

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
)

func TestFCRLateEvents(t *testing.T) {
	l := newFCRLog()
	keys := []string{"phone:6"}
	a := l.solved(at(0, 9, 0), keys, "phone", "tech/tv", "ann")
	l.tick(at(0, 12, 0))
	l.reopen(a, at(0, 11, 30), "chat")
	l.rate(a, at(0, 10, 30), 1)
	l.open(at(0, 10, 0), []string{"phone:7"}, "phone", "tech/tv")
	cfg := FCRConfig{Lateness: time.Hour}

	f := mustFCR(cfg)
	for _, e := range l.evs {
		require.NoError(t, f.Apply(e))
	}
	r := f.Report()
	assert.Equal(t, int64(2), r.LateEvents)
	assert.Equal(t, int64(1), r.LateDropped)
	assert.Equal(t, int64(2), r.Issues, "the dropped issue was never opened here")

	l.tick(at(30, 0, 0))
	require.NoError(t, f.Apply(l.evs[len(l.evs)-1]))
	r = f.Report()
	assert.Equal(t, int64(1), r.Failed)
	assert.Equal(t, int64(1), r.CSAT.Failed.Answers, "the late rating was applied")
}

func TestFCRDuplicatesAndReordering(t *testing.T) {
	l := newFCRLog()
	keys := []string{"email:anna@example.com"}
	a, ca := l.open(at(0, 9, 0), keys, "chat", "billing/invoice-error")
	l.resolve(a, at(0, 9, 10), ca, "ann", false)
	b := l.solved(at(1, 10, 0), keys, "phone", "billing/invoice-error", "bob")
	l.reopen(b, at(2, 10, 0), "email")
	l.solved(at(3, 10, 0), []string{"phone:9"}, "phone", "tech/tv", "cid")
	l.tick(at(30, 0, 0))
	cfg := FCRConfig{Lateness: 365 * 24 * time.Hour}
	want := runFCR(t, cfg, l.evs)
	require.Equal(t, int64(1), want.Failed)
	require.Equal(t, int64(1), want.Achieved)

	rng := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		evs := append([]events.Envelope(nil), l.evs...)
		for _, e := range l.evs {
			if rng.IntN(2) == 0 {
				evs = append(evs, e)
			}
		}
		rng.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
		assert.Equal(t, want, runFCR(t, cfg, evs))
	}
}

func TestFCRPendingUntilWindowPasses(t *testing.T) {
	l := newFCRLog()
	l.solved(at(0, 9, 0), []string{"phone:11"}, "phone", "tech/tv", "ann")
	f := mustFCR(FCRConfig{})
	for _, e := range l.evs {
		require.NoError(t, f.Apply(e))
	}
	steps := []struct {
		watermark         time.Time
		pending, achieved int64
	}{
		{at(0, 9, 10), 1, 0},
		{at(7, 9, 10), 1, 0},
		{at(7, 9, 11), 0, 1},
	}
	for _, s := range steps {
		l.tick(s.watermark)
		require.NoError(t, f.Apply(l.evs[len(l.evs)-1]))
		r := f.Report()
		assert.Equal(t, s.pending, r.Pending, "at %s", s.watermark)
		assert.Equal(t, s.achieved, r.Achieved, "at %s", s.watermark)
		assert.Equal(t, s.watermark, r.Watermark)
	}
}

// Of the pending problems, those with a second counted contact already
// are counted as failed already: one with one contact may still achieve,
// and one with only an abandoned attempt has none.
func TestFCRPendingFailedAlready(t *testing.T) {
	l := newFCRLog()
	l.solved(at(0, 9, 0), []string{"phone:21"}, "phone", "tech/tv", "ann")
	twice, c := l.open(at(0, 10, 0), []string{"phone:22"}, "phone", "tech/tv")
	l.contacted(twice, at(0, 11, 0), "chat")
	l.resolve(twice, at(0, 11, 30), c, "ann", false)
	after := l.solved(at(0, 12, 0), []string{"phone:23"}, "phone", "tech/tv", "ann")
	l.reopen(after, at(1, 12, 0), "email")
	quiet, qc := l.open(at(0, 13, 0), []string{"phone:24"}, "phone", "tech/tv")
	l.abandon(quiet, at(0, 13, 1), qc)
	l.resolve(quiet, at(0, 13, 30), qc, "ann", false)
	l.tick(at(2, 9, 0))
	r := runFCR(t, FCRConfig{}, l.evs)
	assert.Equal(t, int64(4), r.Pending)
	assert.Equal(t, int64(2), r.PendingFailed, "two contacts before the resolution; one after it")

	l.tick(at(8, 14, 0))
	r = runFCR(t, FCRConfig{}, l.evs)
	assert.Equal(t, [4]int64{1, 2, 1, 0}, [4]int64{r.Achieved, r.Failed, r.NoContact, r.PendingFailed},
		"achieved, failed, no contact, pending failed")
}

func TestFCRFoldedIssueAndOrphans(t *testing.T) {
	l := newFCRLog()
	a := l.solved(at(0, 9, 0), []string{"phone:13"}, "phone", "tech/tv", "ann")
	l.tick(at(3, 9, 0))
	f := mustFCR(FCRConfig{Window: 24 * time.Hour, Lateness: time.Hour})
	for _, e := range l.evs {
		require.NoError(t, f.Apply(e))
	}
	require.Equal(t, 2, f.Live())
	f.sweep()
	assert.Equal(t, 1, f.Live(), "the solved issue is folded, the clock's open one stays")
	assert.Equal(t, int64(1), f.Report().Achieved)

	l.reopen(a, at(3, 9, 30), "chat")
	require.NoError(t, f.Apply(l.evs[len(l.evs)-1]))
	r := f.Report()
	assert.Equal(t, int64(1), r.HeldEvents)
	assert.Equal(t, int64(1), r.Achieved, "a folded verdict does not change")

	l.tick(at(4, 9, 0))
	stray := l.add(l.id(), at(4, 9, 0), &events.Classified{Topic: "x"})
	require.NoError(t, f.Apply(l.evs[len(l.evs)-2]))
	require.NoError(t, f.Apply(stray))
	f.sweep()
	r = f.Report()
	assert.Equal(t, int64(0), r.HeldEvents)
	assert.Equal(t, int64(1), r.OrphanedEvents)
	assert.Equal(t, int64(1), r.IgnoredEvents)
	assert.Equal(t, int64(1), r.Achieved)
	assert.Equal(t, int64(2), r.Problems)
}

// A solved problem held back by an open repeat is folded once the repeat
// is reclassified away from it before the solved issue settled; a
// reclassification after that does not count between the two, and the
// problem stays failed and in memory while the repeat is open.
func TestFCRFoldAfterReclassification(t *testing.T) {
	for _, tt := range []struct {
		name        string
		classify    time.Time
		live        int
		achieved    int64
		failed      int64
		problemSize int
	}{
		{"before the solved issue settled", at(0, 20, 0), 2, 1, 0, 1},
		{"after the solved issue settled", at(3, 1, 0), 3, 0, 1, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := newFCRLog()
			keys := []string{"phone:15"}
			a := l.solved(at(0, 9, 0), keys, "phone", "tech/tv", "ann") // settles at day 1 09:10
			b, _ := l.open(at(0, 12, 0), keys, "chat", "tech/tv")       // joins the problem, stays open
			l.classify(b, tt.classify, "billing/plan")
			l.tick(at(4, 0, 0))
			slices.SortStableFunc(l.evs, func(x, y events.Envelope) int { return x.At.Compare(y.At) })
			f := mustFCR(FCRConfig{Window: 24 * time.Hour, Lateness: time.Hour})
			for _, e := range l.evs {
				require.NoError(t, f.Apply(e))
			}
			f.sweep()
			assert.Equal(t, tt.live, f.Live(), "issues in memory")
			r := f.Report()
			assert.Equal(t, tt.achieved, r.Achieved)
			assert.Equal(t, tt.failed, r.Failed)
			var size int
			for _, p := range f.Problems() {
				if p.Issues[0] == a {
					size = len(p.Issues)
				}
			}
			if tt.problemSize == 1 {
				assert.Zero(t, size, "the solved problem was folded")
			} else {
				assert.Equal(t, tt.problemSize, size, "the repeat is still of the solved problem")
			}
		})
	}
}

// A reclassification that would chain an issue to a problem whose issues
// all settled does not: whether that problem is still in memory or was
// folded, the report is the same. The customer's second issue opened
// while the first was live, about another topic; it is reclassified to
// the first's topic two days after the first settled.
func TestFCRLateReclassificationDoesNotChainToASettledProblem(t *testing.T) {
	l := newFCRLog()
	keys := []string{"phone:16"}
	l.solved(at(0, 9, 0), keys, "chat", "tech/login", "ann") // settles at day 3 09:10
	b, cb := l.open(at(3, 8, 0), keys, "email", "account/close")
	l.tick(at(4, 12, 0))
	l.classify(b, at(5, 8, 0), "tech/login")
	l.resolve(b, at(5, 9, 0), cb, "bo", false)
	l.tick(at(12, 0, 0))
	cfg := FCRConfig{Window: 72 * time.Hour, Lateness: time.Hour}
	run := func(sweepAt int) FCRReport {
		f := mustFCR(cfg)
		for i, e := range l.evs {
			require.NoError(t, f.Apply(e))
			if i == sweepAt {
				f.sweep()
			}
		}
		return f.Report()
	}
	want := run(-1)
	assert.Equal(t, int64(2), want.Achieved, "two problems, each solved on its first contact")
	assert.Zero(t, want.Failed)
	for i := range l.evs {
		assert.Equal(t, want, run(i), "a sweep after event %d", i)
	}
	ref := referenceFCR(l.evs, cfg.Window, MatchTopic)
	assert.Equal(t, [2]int64{2, 0}, [2]int64{ref.achieved, ref.failed}, "the reference reads the rule the same way")
}

// TestFCRKnownDuplicatesChangeNothing: a redelivery of an event that the
// FCR has applied or holds is counted as a duplicate and nothing else:
// not late however old, it neither moves the watermark nor brings a sweep
// nearer, whether its issue is sequenced in its slot (a) or, with a gap
// open, by the Sequencer (b).
func TestFCRKnownDuplicatesChangeNothing(t *testing.T) {
	l := newFCRLog()
	a, ca := l.open(at(0, 9, 0), []string{"phone:21"}, "phone", "tech/tv")
	b, cb := l.open(at(0, 9, 5), []string{"phone:22"}, "chat", "billing/refund")
	bRouted := l.add(b, at(0, 9, 6), &events.Routed{Contact: cb, Queue: "billing", Agent: "bob"})
	l.resolve(b, at(0, 9, 20), cb, "bob", false)
	l.resolve(a, at(0, 9, 30), ca, "ann", false)
	// Late now: what came before 9:15, b's routing among it; b's resolution
	// (9:20) is not, so that it waits for its gap rather than skipping it.
	l.tick(at(0, 10, 15))
	byIssue := func(issue uuid.UUID, v uint64) events.Envelope {
		i := slices.IndexFunc(l.evs, func(e events.Envelope) bool { return e.Issue == issue && e.Version == v })
		require.GreaterOrEqual(t, i, 0)
		return l.evs[i]
	}
	f := mustFCR(FCRConfig{Lateness: time.Hour})
	for _, e := range l.evs {
		if e.Issue == b && e.Version == 2 {
			continue // b waits for its version 2: version 3 is held
		}
		require.NoError(t, f.Apply(e))
	}
	before := f.Report()
	require.Equal(t, int64(1), before.HeldEvents)
	sweep, wm := f.sinceSweep, f.Watermark()

	future := byIssue(a, 1)
	future.At = at(5, 0, 0) // a conflicting copy: same version, another time
	for _, dup := range []events.Envelope{byIssue(a, 1), byIssue(a, 2), byIssue(b, 1), byIssue(b, 3), future} {
		require.NoError(t, f.Apply(dup))
	}
	assert.Equal(t, int64(5), f.DuplicatesIgnored())
	assert.Equal(t, before, f.Report(), "not late, not held again")
	assert.Equal(t, wm, f.Watermark())
	assert.Equal(t, sweep, f.sinceSweep)

	require.NoError(t, f.Apply(bRouted)) // late, but b is live: applied
	after := f.Report()
	assert.Zero(t, after.HeldEvents, "the held version 3 followed")
	assert.Equal(t, before.LateEvents+1, after.LateEvents)
	assert.Equal(t, int64(5), f.DuplicatesIgnored())
}
