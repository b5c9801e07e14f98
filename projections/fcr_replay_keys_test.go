package projections

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
)

// sliceStore yields evs, with Position i+1, and err instead of the event
// at index stop when err is set.
type sliceStore struct {
	events.Store
	evs  []events.Envelope
	stop int
	err  error
}

func (s *sliceStore) ReadAll(ctx context.Context, after uint64) iter.Seq2[events.Envelope, error] {
	return func(yield func(events.Envelope, error) bool) {
		for i, e := range s.evs {
			if s.err != nil && i == s.stop {
				yield(events.Envelope{}, s.err)
				return
			}
			e.Position = uint64(i + 1)
			if e.Position > after && !yield(e, nil) {
				return
			}
		}
	}
}

// The hashes handed to applyBatchKeys are the ones it uses: hashes that
// all name one identifier merge every customer into one.
func TestFCRApplyBatchKeysUsesTheHashesGiven(t *testing.T) {
	log := batchLogOf(t)
	want := mustFCR(FCRConfig{})
	_, err := want.applyBatch(log)
	require.NoError(t, err)
	var keys fcrKeys
	keys.hash(log)
	require.NotEmpty(t, keys.hashes)
	for i := range keys.hashes {
		keys.hashes[i] = identHash("email:everyone@example.com", false)
	}
	got := mustFCR(FCRConfig{})
	_, err = got.applyBatchKeys(log, &keys, false)
	require.NoError(t, err)
	assert.Less(t, got.Report().Problems, want.Report().Problems, "one customer chains more issues into problems")
}

// Every batch that readAhead hands on carries the hashes of its own
// events, also once batches come back through the free list (more
// batches than replayBatches make sure that they do).
func TestReadAheadHashesTheKeysOfEveryBatch(t *testing.T) {
	l := newFCRLog()
	for i := range (replayBatches+2)*replayBatch + 100 {
		keys := make([]string, i%4) // 0 to 3 keys
		for k := range keys {
			keys[k] = fmt.Sprintf("k%d:%d", k, i)
		}
		l.open(day0.Add(time.Duration(i)*time.Second), keys, "chat", "billing")
	}
	rr := readAhead(context.Background(), &sliceStore{evs: l.evs}, 0, 1, readOptions{hashKeys: true})
	batches := 0
	for b := range rr.stages[0] {
		var fresh fcrKeys
		fresh.hash(b.evs)
		require.Equal(t, fresh.from, b.keys.from, "batch %d", batches)
		require.Equal(t, fresh.hashes, b.keys.hashes, "batch %d", batches)
		batches++
		rr.done(b)
	}
	require.NoError(t, rr.err)
	assert.Greater(t, batches, replayBatches)
}

// Replay into an FCR stops at an event that the FCR refuses in the middle
// of a group, or at the store's error in the middle of a batch, with the
// state that Apply of the events before it gives.
func TestReplayIntoAnFCRStopsMidBatch(t *testing.T) {
	log := batchLogOf(t)[:3*replayBatch]
	const k = replayBatch + 2*prefetchGroup + 5
	bad := append([]events.Envelope(nil), log...)
	bad[k].Version = 0
	for name, s := range map[string]*sliceStore{
		"refused":     {evs: bad},
		"store error": {evs: log, stop: k, err: errors.New("disk on fire")},
	} {
		t.Run(name, func(t *testing.T) {
			got := mustFCR(FCRConfig{})
			last, n, err := Replay(context.Background(), s, 0, got)
			require.Error(t, err)
			assert.Equal(t, k, n)
			assert.Equal(t, uint64(k), last)
			want := mustFCR(FCRConfig{})
			for _, e := range log[:k] {
				require.NoError(t, want.Apply(e))
			}
			assert.Equal(t, want.Report(), got.Report())
			assert.Equal(t, want.Live(), got.Live())
		})
	}
}
