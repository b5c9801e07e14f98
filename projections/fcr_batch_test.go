package projections

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/internal/simulate"
)

// Out of order and with duplicates, so that the Sequencer holds events
// and releases them while others are applied, ApplyBatch gives the report
// of Apply one by one, for every topic rule and a lateness that drops
// some events.
func TestFCRApplyBatchEqualsApplyOutOfOrder(t *testing.T) {
	log, _, err := simulate.Collect(simulate.Config{Seed: 21, Days: 21, Customers: 1500, IssuesPerDay: 400})
	require.NoError(t, err)
	logs := map[string][]events.Envelope{
		"jittered by up to 6 h": jitter(log, 3, 6*time.Hour),
		"shuffled, duplicated":  scramble(log, 4, 0.2),
	}
	for name, l := range logs {
		for _, cfg := range []FCRConfig{
			{},
			{Match: MatchRoot, Lateness: 2 * time.Hour},
			{Match: MatchAny, Window: 48 * time.Hour},
		} {
			want := NewFCR(cfg)
			for _, e := range l {
				require.NoError(t, want.Apply(e))
			}
			for _, size := range []int{7, prefetchGroup, 1000} {
				got := NewFCR(cfg)
				for i := 0; i < len(l); i += size {
					require.NoError(t, got.ApplyBatch(l[i:min(i+size, len(l))]))
				}
				assert.Equal(t, want.Report(), got.Report(), "%s, %+v, batches of %d", name, cfg, size)
				assert.Equal(t, want.Live(), got.Live(), "%s, %+v, batches of %d", name, cfg, size)
			}
		}
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

	f := NewFCR(FCRConfig{})
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
