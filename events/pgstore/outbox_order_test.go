package pgstore_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/events/pgstore"
	"github.com/truefcr/truefcr/events/pgstore/pgtest"
)

// The outbox forwards a stream's events in version order even when the
// append of a later version began, and took its transaction id, before
// the append of the version before it committed: Watermill forwards by
// transaction id. Here a batch that claims stream r, whose row another
// writer holds, and then stream s at version 2 (a writer that counts on
// an append it sent) waits on r, while an append moves s from 1 to 2.
// Whichever of them wins s, the outbox gives s's versions in order (the
// batch was forwarded first, with s at 3 before 2, while each append took
// its transaction id at its first write).
func TestOutboxKeepsAStreamsVersionOrder(t *testing.T) {
	for _, tc := range []struct {
		name          string
		grouped, many bool
	}{
		{"AppendBatch", false, false},
		{"AppendBatch of more streams than take locks of their own", false, true},
		{"grouped Appends", true, false},
	} {
		grouped := tc.grouped
		t.Run(tc.name, func(t *testing.T) {
			s, pool, cfg := newStore(t, pgstore.Config{Outbox: &pgstore.OutboxConfig{}})
			other, err := pgstore.New(t.Context(), pool, cfg) // another process on the same tables
			require.NoError(t, err)
			ctx := t.Context()
			r := uuid.MustParse("00000000-0000-4000-8000-000000000001") // claimed before s
			sIssue := uuid.MustParse("ffffffff-ffff-4fff-bfff-ffffffffffff")
			for _, id := range []uuid.UUID{r, sIssue} {
				_, err := s.Append(ctx, id, 0, stream(id, 0, 1))
				require.NoError(t, err)
			}

			// A slow writer holds the row of stream r.
			slow, err := pool.Begin(ctx)
			require.NoError(t, err)
			defer func() { _ = slow.Rollback(context.Background()) }()
			_, err = slow.Exec(ctx, "UPDATE "+pgtest.Ident(cfg.Schema, pgstore.DefaultTable+"_streams")+" SET version = version WHERE issue = $1", r)
			require.NoError(t, err)

			// The batch: r 1→2 and s 2→3, in one transaction that waits on r.
			later := make(chan error, 3)
			if grouped {
				// Two Appends that one transaction carries: a third holds
				// the head row so that they queue behind it and group.
				head, err := pool.Begin(ctx)
				require.NoError(t, err)
				defer func() { _ = head.Rollback(context.Background()) }()
				_, err = head.Exec(ctx, "UPDATE "+pgtest.Ident(cfg.Schema, pgstore.DefaultTable+"_head")+" SET position = position")
				require.NoError(t, err)
				x := uuid.New()
				go func() { _, err := s.Append(ctx, x, 0, stream(x, 0, 1)); later <- err }()
				time.Sleep(200 * time.Millisecond)
				go func() { _, err := s.Append(ctx, r, 1, stream(r, 1, 1)); later <- err }()
				time.Sleep(100 * time.Millisecond)
				go func() { _, err := s.Append(ctx, sIssue, 2, stream(sIssue, 2, 1)); later <- err }()
				time.Sleep(100 * time.Millisecond)
				require.NoError(t, head.Commit(ctx))
			} else {
				bs := []pgstore.Batch{
					{Issue: r, Expected: 1, Events: stream(r, 1, 1)},
					{Issue: sIssue, Expected: 2, Events: stream(sIssue, 2, 1)},
				}
				if tc.many {
					for range 40 {
						id := uuid.New()
						bs = append(bs, pgstore.Batch{Issue: id, Events: stream(id, 0, 1)})
					}
				}
				go func() {
					_, err := s.AppendBatch(ctx, bs)
					later <- err
				}()
			}
			time.Sleep(300 * time.Millisecond)
			// s 1→2 from the other store, while the batch waits.
			done := make(chan error, 1)
			go func() { _, err := other.Append(ctx, sIssue, 1, stream(sIssue, 1, 1)); done <- err }()
			time.Sleep(300 * time.Millisecond)
			require.NoError(t, slow.Commit(ctx))
			if err := <-done; err != nil {
				require.ErrorIs(t, err, events.ErrVersionConflict)
			}
			drain(t, later, grouped)

			stored, err := s.Load(ctx, sIssue)
			require.NoError(t, err)
			head, err := s.Head(ctx)
			require.NoError(t, err)
			all := int(head) // every event appended is forwarded
			var versions []int
			for _, m := range forward(t, pool, cfg, []string{events.DefaultTopic}, all) {
				if m.msg.Metadata.Get(events.MetadataIssue) == sIssue.String() {
					v, _ := strconv.Atoi(m.msg.Metadata.Get(events.MetadataVersion))
					versions = append(versions, v)
				}
			}
			want := make([]int, len(stored))
			for i := range want {
				want[i] = i + 1
			}
			assert.Equal(t, want, versions, "stream s's versions, in the order forwarded")
		})
	}
}

// drain waits for the appends of the batch side: each succeeded or lost
// its race.
func drain(t *testing.T, errs chan error, grouped bool) {
	n := 1
	if grouped {
		n = 3
	}
	for range n {
		if err := <-errs; err != nil && !errors.Is(err, events.ErrVersionConflict) {
			t.Fatalf("append: %v", err)
		}
	}
}

// An append with an outbox takes a lock of its own for a few streams
// only: batches of thousands of streams, two at once, take none of the
// server's lock table each, which runs out at some ten thousand locks.
func TestOutboxAppendsOfManyStreams(t *testing.T) {
	s, pool, cfg := newStore(t, pgstore.Config{Outbox: &pgstore.OutboxConfig{}})
	batch := func(n int) []pgstore.Batch {
		bs := make([]pgstore.Batch, n)
		for i := range bs {
			id := uuid.New()
			bs[i] = pgstore.Batch{Issue: id, Events: stream(id, 0, 1)}
		}
		return bs
	}
	_, err := s.AppendBatch(t.Context(), batch(15000))
	require.NoError(t, err)
	errs := make(chan error, 2)
	for range 2 {
		bs := batch(7000)
		go func() { _, err := s.AppendBatch(t.Context(), bs); errs <- err }()
	}
	require.NoError(t, <-errs)
	require.NoError(t, <-errs)
	var n int
	require.NoError(t, pool.QueryRow(t.Context(), "SELECT count(*) FROM "+pgtest.Ident(cfg.Schema, pgstore.DefaultTable+"_outbox")).Scan(&n))
	assert.Equal(t, 29000, n, "every event in the outbox")
}
