package projections

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/internal/simulate"
)

// assertBatchEqualsApply asserts that ApplyBatch over l, in batches of
// each of sizes, gives the report and the live issues of Apply one by one.
func assertBatchEqualsApply(t *testing.T, cfg FCRConfig, l []events.Envelope, sizes ...int) {
	t.Helper()
	want := mustFCR(cfg)
	for _, e := range l {
		require.NoError(t, want.Apply(e))
	}
	for _, size := range sizes {
		got := mustFCR(cfg)
		for i := 0; i < len(l); i += size {
			require.NoError(t, got.ApplyBatch(l[i:min(i+size, len(l))]))
		}
		assert.Equal(t, want.Report(), got.Report(), "%+v, batches of %d", cfg, size)
		assert.Equal(t, want.Live(), got.Live(), "%+v, batches of %d", cfg, size)

		// With the keys hashed ahead, as Replay's reader does.
		hashed := mustFCR(cfg)
		var keys fcrKeys
		for i := 0; i < len(l); i += size {
			b := l[i:min(i+size, len(l))]
			keys.hash(b)
			_, err := hashed.applyBatchKeys(b, &keys, false)
			require.NoError(t, err)
		}
		assert.Equal(t, want.Report(), hashed.Report(), "%+v, batches of %d, keys hashed ahead", cfg, size)
		assert.Equal(t, want.Live(), hashed.Live(), "%+v, batches of %d, keys hashed ahead", cfg, size)
	}
}

// Key hashes that are not those of the batch (another batch's, of another
// length) are not used: the batch's own keys are hashed instead.
func TestFCRApplyBatchKeysIgnoresTheKeysOfAnotherBatch(t *testing.T) {
	log := batchLogOf(t)
	want := mustFCR(FCRConfig{})
	_, err := want.applyBatch(log)
	require.NoError(t, err)

	var other fcrKeys
	other.hash(log[len(log)/2:])
	require.NotEmpty(t, other.hashes)
	got := mustFCR(FCRConfig{})
	_, err = got.applyBatchKeys(log, &other, false)
	require.NoError(t, err)
	assert.Equal(t, want.Report(), got.Report())
	assert.Equal(t, want.Live(), got.Live())
}

// batchLogOf is a fortnight of a small simulated contact centre, the log
// of batchLog in report_batch_test.go (another package).
func batchLogOf(t *testing.T) []events.Envelope {
	t.Helper()
	log, _, err := simulate.Collect(simulate.Config{Seed: 9, Days: 14, Customers: 2000, IssuesPerDay: 300})
	require.NoError(t, err)
	return log
}

// Out of order and with duplicates, so that the Sequencer holds events
// and releases them while others are applied, ApplyBatch gives the report
// of Apply one by one, for every topic rule and a lateness that drops
// some events.
func TestFCRApplyBatchEqualsApplyOutOfOrder(t *testing.T) {
	t.Parallel() // long, and of its own state only
	log, _, err := simulate.Collect(simulate.Config{Seed: 21, Days: 21, Customers: 1500, IssuesPerDay: 400})
	require.NoError(t, err)
	logs := map[string][]events.Envelope{
		"jittered by up to 6 h": jitter(log, 3, 6*time.Hour),
		"shuffled, duplicated":  scramble(log, 4, 0.2),
	}
	for name, l := range logs {
		t.Run(name, func(t *testing.T) {
			for _, cfg := range []FCRConfig{
				{},
				{Match: MatchRoot, Lateness: 2 * time.Hour},
				{Match: MatchAny, Window: 48 * time.Hour},
			} {
				assertBatchEqualsApply(t, cfg, l, 7, prefetchGroup, 1000)
			}
		})
	}
}

// Openings with up to seven keys, more than a group of events has room to
// hash ahead, give the same report and live issues by ApplyBatch as by
// Apply: the openings whose keys were not hashed ahead are hashed when
// applied.
func TestFCRApplyBatchEqualsApplyWithManyKeys(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	l := newFCRLog()
	for i := range 3000 {
		customer := rng.IntN(200)
		var keys []string
		for k := range 6 {
			if rng.IntN(2) == 0 {
				keys = append(keys, fmt.Sprintf("k%d:%d", k, customer))
			}
		}
		keys = append(keys, fmt.Sprintf("household:%d", customer/2)) // links two customers
		at := day0.Add(time.Duration(i) * 7 * time.Minute)
		issue, contact := l.open(at, keys, "phone", genTopics[rng.IntN(3)])
		if rng.IntN(4) > 0 {
			l.resolve(issue, at.Add(time.Minute), contact, "ann", false)
		}
	}
	log := jitter(l.evs, 1, 3*time.Hour)
	for _, cfg := range []FCRConfig{{}, {Window: 24 * time.Hour, Lateness: time.Hour}} {
		assertBatchEqualsApply(t, cfg, log, 3, prefetchGroup, 100)
	}
}

// ApplyBatch hashes the keys of the openings it reads ahead and keeps
// nothing of them once it returns: an issue.opened that the caller
// changes and hands in again, here as the same *events.Opened with
// another key, is read afresh by Apply and by ApplyBatch.
func TestFCRApplyBatchReadsAReusedOpeningAfresh(t *testing.T) {
	d := &events.Opened{Customer: events.Customer{Keys: []string{"email:ana@example.com"}}, Channel: "chat", Topic: "billing/refund"}
	open := func(l *fcrLog, t time.Time) events.Envelope {
		issue := l.id()
		d.Contact = l.id()
		return l.add(issue, t, d)
	}
	l := newFCRLog()
	first := open(l, at(0, 9, 0))

	f := mustFCR(FCRConfig{})
	require.NoError(t, f.ApplyBatch([]events.Envelope{first}))
	d.Customer.Keys = []string{"email:bo@example.com"}
	require.NoError(t, f.Apply(open(l, at(0, 10, 0))))
	require.NoError(t, f.ApplyBatch([]events.Envelope{open(l, at(0, 11, 0))}))
	d.Customer.Keys = []string{"email:cy@example.com"}
	require.NoError(t, f.Apply(open(l, at(0, 12, 0))))

	// Three customers (Bo opened twice), one open issue each but Bo's
	// two: three problems. Had an opening been read with the keys of the
	// one before, it would have joined that one's problem.
	rep := f.Report()
	assert.Equal(t, int64(4), rep.Issues)
	assert.Equal(t, int64(3), rep.Problems)
}
