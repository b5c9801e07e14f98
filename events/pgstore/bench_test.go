package pgstore_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/events/pgstore"
	"github.com/truefcr/truefcr/events/pgstore/pgtest"
)

func reportEventsPerSecond(b *testing.B, n int) {
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkAppend appends one event per transaction, from one writer and
// from several at once (whose commits the head row serialises).
func BenchmarkAppend(b *testing.B) {
	for _, outbox := range []bool{false, true} {
		cfg := pgstore.Config{}
		if outbox {
			cfg.Outbox = &pgstore.OutboxConfig{}
		}
		b.Run(fmt.Sprintf("outbox=%t/serial", outbox), func(b *testing.B) {
			s, _, _ := newStore(b, cfg)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				issue := uuid.New()
				_, err := s.Append(ctx, issue, 0, stream(issue, 0, 1))
				require.NoError(b, err)
			}
			reportEventsPerSecond(b, b.N)
		})
		for _, group := range []int{1, pgstore.DefaultMaxGroup} {
			b.Run(fmt.Sprintf("outbox=%t/parallel/group=%d", outbox, group), func(b *testing.B) {
				cfg := cfg
				cfg.MaxGroup = group
				appendParallel(b, cfg)
			})
		}
	}
	// The same writers inserting rows with no order between them: what
	// holding the head row until commit costs.
	b.Run("baseline/parallel_unordered_insert", func(b *testing.B) {
		pool := pgtest.Pool(b)
		schema := pgtest.Schema(b, pool)
		table := pgtest.Ident(schema, "baseline")
		ctx := context.Background()
		_, err := pool.Exec(ctx, "CREATE TABLE "+table+" (position bigserial PRIMARY KEY, id uuid NOT NULL, payload bytea NOT NULL)")
		require.NoError(b, err)
		codec := events.NewMsgpackCodec(nil)
		var failed atomic.Bool
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				issue := uuid.New()
				e := stream(issue, 0, 1)[0]
				p, err := codec.Append(nil, e)
				if err == nil {
					_, err = pool.Exec(ctx, "INSERT INTO "+table+" (id, payload) VALUES ($1, $2)", e.ID, p)
				}
				if err != nil && !failed.Swap(true) {
					b.Error(err)
				}
			}
		})
		reportEventsPerSecond(b, b.N)
	})
}

// BenchmarkAppendBatch appends streams×events events per transaction.
func BenchmarkAppendBatch(b *testing.B) {
	for _, tc := range []struct {
		streams, events int
		outbox          bool
	}{{10, 10, false}, {100, 10, false}, {500, 4, false}, {100, 10, true}} {
		b.Run(fmt.Sprintf("streams=%d/events=%d/outbox=%t", tc.streams, tc.events, tc.outbox), func(b *testing.B) {
			cfg := pgstore.Config{}
			if tc.outbox {
				cfg.Outbox = &pgstore.OutboxConfig{}
			}
			s, _, _ := newStore(b, cfg)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				batches := make([]pgstore.Batch, tc.streams)
				for i := range batches {
					issue := uuid.New()
					batches[i] = pgstore.Batch{Issue: issue, Events: stream(issue, 0, tc.events)}
				}
				b.StartTimer()
				_, err := s.AppendBatch(ctx, batches)
				require.NoError(b, err)
			}
			reportEventsPerSecond(b, b.N*tc.streams*tc.events)
		})
	}
}

// BenchmarkReadAll reads a store of 20,000 events from the start.
func BenchmarkReadAll(b *testing.B) {
	const total = 20000
	s, _, _ := newStore(b, pgstore.Config{})
	ctx := context.Background()
	for range total / 1000 {
		batches := make([]pgstore.Batch, 100)
		for i := range batches {
			issue := uuid.New()
			batches[i] = pgstore.Batch{Issue: issue, Events: stream(issue, 0, 10)}
		}
		_, err := s.AppendBatch(ctx, batches)
		require.NoError(b, err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		n := 0
		for _, err := range s.ReadAll(ctx, 0) {
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		require.Equal(b, total, n)
	}
	reportEventsPerSecond(b, b.N*total)
}

func appendParallel(b *testing.B, cfg pgstore.Config) {
	s, _, _ := newStore(b, cfg)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			issue := uuid.New()
			if _, err := s.Append(ctx, issue, 0, stream(issue, 0, 1)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportEventsPerSecond(b, b.N)
}
