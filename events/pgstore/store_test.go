package pgstore_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/events/pgstore"
	"github.com/truefcr/truefcr/events/pgstore/pgtest"
)

func TestAppendThenLoadAndReadAll(t *testing.T) {
	for _, codec := range []events.Codec{events.NewMsgpackCodec(nil), events.NewJSONCodec(nil)} {
		t.Run(codec.Name(), func(t *testing.T) {
			t.Parallel()
			s, _, _ := newStore(t, pgstore.Config{Codec: codec})
			ctx := context.Background()
			a, b := uuid.New(), uuid.New()

			got, err := s.Append(ctx, a, 0, stream(a, 0, 3))
			require.NoError(t, err)
			assert.Equal(t, []uint64{1, 2, 3}, positions(got))
			_, err = s.Append(ctx, b, 0, stream(b, 0, 2))
			require.NoError(t, err)
			more := stream(a, 3, 2)
			got, err = s.Append(ctx, a, 3, more)
			require.NoError(t, err)
			assert.Equal(t, []uint64{6, 7}, positions(got))
			assert.Equal(t, more, withoutPositions(got))

			loaded, err := s.Load(ctx, a)
			require.NoError(t, err)
			require.Len(t, loaded, 5)
			for i, e := range loaded {
				assert.Equal(t, uint64(i+1), e.Version)
				assert.Equal(t, a, e.Issue)
			}
			assert.Equal(t, more, withoutPositions(loaded[3:]))
			assert.Equal(t, []uint64{1, 2, 3, 6, 7}, positions(loaded))

			all, err := collect(s.ReadAll(ctx, 0))
			require.NoError(t, err)
			assert.Equal(t, []uint64{1, 2, 3, 4, 5, 6, 7}, positions(all))
			tail, err := collect(s.ReadAll(ctx, 5))
			require.NoError(t, err)
			assert.Equal(t, all[5:], tail)

			none, err := s.Load(ctx, uuid.New())
			require.NoError(t, err)
			assert.Empty(t, none)
		})
	}
}

func TestAppendRefusesTheWrongVersion(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t, pgstore.Config{})
	ctx := context.Background()
	issue := uuid.New()
	_, err := s.Append(ctx, issue, 0, stream(issue, 0, 2))
	require.NoError(t, err)

	tests := []struct {
		name     string
		expected uint64
	}{
		{"the stream exists", 0},
		{"behind", 1},
		{"ahead", 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Append(ctx, issue, tt.expected, stream(issue, tt.expected, 1))
			var conflict *events.VersionConflictError
			require.ErrorAs(t, err, &conflict)
			assert.ErrorIs(t, err, events.ErrVersionConflict)
			assert.Equal(t, events.VersionConflictError{Issue: issue, Expected: tt.expected, Actual: 2}, *conflict)
		})
	}
	t.Run("no stream yet", func(t *testing.T) {
		other := uuid.New()
		_, err := s.Append(ctx, other, 1, stream(other, 1, 1))
		var conflict *events.VersionConflictError
		require.ErrorAs(t, err, &conflict)
		assert.Equal(t, uint64(0), conflict.Actual)
	})

	loaded, err := s.Load(ctx, issue)
	require.NoError(t, err)
	assert.Len(t, loaded, 2, "a refused append stores nothing")
}

func TestAppendRefusesInvalidEvents(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t, pgstore.Config{})
	ctx := context.Background()
	issue := uuid.New()
	tests := []struct {
		name string
		evs  func() []events.Envelope
	}{
		{"none", func() []events.Envelope { return nil }},
		{"a gap in versions", func() []events.Envelope {
			evs := stream(issue, 0, 3)
			evs[2].Version = 4
			return evs
		}},
		{"another issue", func() []events.Envelope {
			evs := stream(issue, 0, 2)
			evs[1].Issue = uuid.New()
			return evs
		}},
		{"no data", func() []events.Envelope {
			evs := stream(issue, 0, 1)
			evs[0].Data = nil
			return evs
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Append(ctx, issue, 0, tt.evs())
			assert.ErrorIs(t, err, events.ErrInvalidEvent)
		})
	}
	loaded, err := s.Load(ctx, issue)
	require.NoError(t, err)
	assert.Empty(t, loaded)
}

func TestAppendBatchIsAllOrNothing(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t, pgstore.Config{})
	ctx := context.Background()
	a, b, c := uuid.New(), uuid.New(), uuid.New()
	_, err := s.Append(ctx, b, 0, stream(b, 0, 1))
	require.NoError(t, err)

	// b is at 1, not 0: nothing of the batch may be stored.
	_, err = s.AppendBatch(ctx, []pgstore.Batch{
		{Issue: a, Events: stream(a, 0, 2)},
		{Issue: b, Events: stream(b, 0, 1)},
	})
	var conflict *events.VersionConflictError
	require.ErrorAs(t, err, &conflict)
	assert.Equal(t, b, conflict.Issue)
	assert.Equal(t, uint64(1), conflict.Actual)
	loaded, err := s.Load(ctx, a)
	require.NoError(t, err)
	assert.Empty(t, loaded)

	out, err := s.AppendBatch(ctx, []pgstore.Batch{
		{Issue: c, Events: stream(c, 0, 2)},
		{Issue: b, Expected: 1, Events: stream(b, 1, 2)},
		{Issue: a, Events: stream(a, 0, 1)},
	})
	require.NoError(t, err)
	require.Len(t, out, 3)
	assert.Equal(t, []uint64{2, 3}, positions(out[0]), "positions follow the order of the batches")
	assert.Equal(t, []uint64{4, 5}, positions(out[1]))
	assert.Equal(t, []uint64{6}, positions(out[2]))

	_, err = s.AppendBatch(ctx, []pgstore.Batch{
		{Issue: a, Expected: 1, Events: stream(a, 1, 1)},
		{Issue: a, Expected: 2, Events: stream(a, 2, 1)},
	})
	assert.ErrorIs(t, err, events.ErrInvalidEvent, "one issue twice in a batch")
}

func TestReadAllPagesAndStopsEarly(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t, pgstore.Config{ReadBatch: 3})
	ctx := context.Background()
	want := positions(appendIssues(t, s, 4, 2))
	all, err := collect(s.ReadAll(ctx, 0))
	require.NoError(t, err)
	assert.Equal(t, want, positions(all))

	var seen int
	for _, err := range s.ReadAll(ctx, 0) {
		require.NoError(t, err)
		seen++
		if seen == 4 {
			break
		}
	}
	assert.Equal(t, 4, seen)

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = collect(s.ReadAll(cancelled, 0))
	assert.ErrorIs(t, err, context.Canceled)
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  pgstore.Config
		ok   bool
	}{
		{"defaults", pgstore.Config{Schema: pgstore.DefaultSchema, Table: pgstore.DefaultTable}, true},
		{"upper case", pgstore.Config{Schema: "Public", Table: "events"}, false},
		{"quote", pgstore.Config{Schema: "public", Table: `ev"ents`}, false},
		{"leading digit", pgstore.Config{Schema: "public", Table: "1events"}, false},
		{"too long", pgstore.Config{Schema: "public", Table: "a_very_long_table_name_that_leaves_no_room_for_suffixes"}, false},
		{"negative batch", pgstore.Config{Schema: "public", Table: "events", ReadBatch: -1}, false},
		{"the largest batch", pgstore.Config{ReadBatch: pgstore.MaxReadBatch}, true},
		{"a batch that would take a buffer of gigabytes", pgstore.Config{ReadBatch: pgstore.MaxReadBatch + 1}, false},
		{"the zero value: the defaults, which New takes", pgstore.Config{}, true},
		{"an outbox, its fields zero", pgstore.Config{Outbox: &pgstore.OutboxConfig{}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.ok {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, pgstore.ErrInvalidConfig)
			}
		})
	}
}

// The forwarder's configuration takes its zero fields as their defaults,
// as NewForwarder does.
func TestForwarderConfigValidate(t *testing.T) {
	assert.NoError(t, pgstore.ForwarderConfig{}.Validate())
	assert.ErrorIs(t, pgstore.ForwarderConfig{Table: "Events"}.Validate(), pgstore.ErrInvalidConfig)
	for name, cfg := range map[string]pgstore.ForwarderConfig{
		"PollInterval":   {PollInterval: -1},
		"AckDeadline":    {AckDeadline: -1},
		"ResendInterval": {ResendInterval: -1},
		"RetryInterval":  {RetryInterval: -1},
		"CloseTimeout":   {CloseTimeout: -1},
	} {
		err := cfg.Validate()
		assert.ErrorIs(t, err, pgstore.ErrInvalidConfig, name)
		assert.ErrorContains(t, err, name+" -1ns is negative")
	}
}

func positions(evs []events.Envelope) []uint64 {
	out := make([]uint64, len(evs))
	for i, e := range evs {
		out[i] = e.Position
	}
	return out
}

func collect(seq func(func(events.Envelope, error) bool)) ([]events.Envelope, error) {
	var out []events.Envelope
	for e, err := range seq {
		if err != nil {
			return out, err
		}
		out = append(out, e)
	}
	return out, nil
}

// A server, database or role whose default isolation is above read
// committed changes nothing: concurrent appends to different streams all
// succeed, and the loser of a race for one version gets a version
// conflict, not a serialization error.
func TestAppendUnderAStricterDefaultIsolation(t *testing.T) {
	t.Parallel()
	for _, level := range []string{"repeatable read", "serializable"} {
		t.Run(level, func(t *testing.T) {
			t.Parallel()
			base := pgtest.Pool(t)
			pool := pgtest.PoolAt(t, level)
			var got string
			require.NoError(t, pool.QueryRow(context.Background(), "SHOW default_transaction_isolation").Scan(&got))
			require.Equal(t, level, got)
			s, err := pgstore.New(context.Background(), pool, pgstore.Config{Schema: pgtest.Schema(t, base), MaxGroup: 1})
			require.NoError(t, err)
			ctx := context.Background()

			var wg sync.WaitGroup
			errs := make(chan error, 160)
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range 20 {
						issue := uuid.New()
						_, err := s.Append(ctx, issue, 0, stream(issue, 0, 2))
						errs <- err
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				require.NoError(t, err)
			}

			for range 20 {
				issue := uuid.New()
				results := make(chan error, 2)
				for range 2 {
					go func() {
						_, err := s.Append(ctx, issue, 0, stream(issue, 0, 1))
						results <- err
					}()
				}
				a, b := <-results, <-results
				if a != nil {
					a, b = b, a
				}
				require.NoError(t, a, "one of the two wins")
				require.ErrorIs(t, b, events.ErrVersionConflict, "the other loses with a version conflict")
			}
		})
	}
}

// One append that the database refuses (here by a constraint of the
// host's) fails alone: the appends that shared its transaction are
// committed on their own.
func TestGroupedAppendFailsAlone(t *testing.T) {
	t.Parallel()
	s, pool, cfg := newStore(t, pgstore.Config{})
	ctx := t.Context()
	poison := uuid.New()
	_, err := pool.Exec(ctx, "ALTER TABLE "+pgtest.Ident(cfg.Schema, "truefcr_events")+
		" ADD CONSTRAINT host_rule CHECK (issue <> '"+poison.String()+"')")
	require.NoError(t, err)

	// Hold the head row, so that the appends below queue up: the first
	// leads and waits, the next two share the following transaction.
	hold, err := pool.Begin(ctx)
	require.NoError(t, err)
	_, err = hold.Exec(ctx, "SELECT * FROM "+pgtest.Ident(cfg.Schema, "truefcr_events_head")+" FOR UPDATE")
	require.NoError(t, err)

	first, good := uuid.New(), uuid.New()
	results := make(map[uuid.UUID]error)
	var mu sync.Mutex
	var wg sync.WaitGroup
	appendOne := func(issue uuid.UUID) {
		defer wg.Done()
		_, err := s.Append(ctx, issue, 0, stream(issue, 0, 1))
		mu.Lock()
		results[issue] = err
		mu.Unlock()
	}
	wg.Add(1)
	go appendOne(first)
	time.Sleep(100 * time.Millisecond) // the first leads, and waits for the head row
	wg.Add(2)
	go appendOne(good)
	go appendOne(poison)
	time.Sleep(100 * time.Millisecond) // both queue behind it
	require.NoError(t, hold.Rollback(ctx))
	wg.Wait()

	require.NoError(t, results[first])
	require.NoError(t, results[good], "an append is not failed by another's event")
	require.ErrorContains(t, results[poison], "host_rule")
	for issue, n := range map[uuid.UUID]int{first: 1, good: 1, poison: 0} {
		loaded, err := s.Load(ctx, issue)
		require.NoError(t, err)
		assert.Len(t, loaded, n)
	}
}

// A transaction of several appends goes on while any of their callers
// waits for it, and stops once every one of them gave up: appends with
// deadlines are not held past them by a database that stalls.
func TestGroupedAppendsKeepTheirDeadlines(t *testing.T) {
	t.Parallel()
	s, pool, cfg := newStore(t, pgstore.Config{})
	ctx := t.Context()
	b, c := uuid.New(), uuid.New()

	// stall blocks the claim of b's stream: it inserted b's row and does
	// not commit.
	stall, err := pool.Begin(ctx)
	require.NoError(t, err)
	_, err = stall.Exec(ctx, "INSERT INTO "+pgtest.Ident(cfg.Schema, "truefcr_events_streams")+" (issue, version) VALUES ($1, 0)", b)
	require.NoError(t, err)
	errs, took := groupedAppends(t, s, pool, cfg, stall, []uuid.UUID{b, c}, 500*time.Millisecond)
	assert.Less(t, took, 3*time.Second, "the appends returned once their deadlines passed")
	for _, err := range errs {
		assert.ErrorIs(t, err, context.DeadlineExceeded, "as if the append had run alone")
	}
	for _, issue := range []uuid.UUID{b, c} {
		loaded, err := s.Load(ctx, issue)
		require.NoError(t, err)
		assert.Empty(t, loaded, "an append that failed stored nothing")
	}
}

// groupedAppends appends one event to each of targets, each with its own
// deadline, so that they share a group transaction: a first append leads
// and waits for the head row, which the test holds meanwhile, while they
// queue behind it. stall, a transaction of the test's that blocks the
// group, is rolled back once they have all returned, or after five
// seconds. It returns their errors and how long they took.
func groupedAppends(t *testing.T, s *pgstore.Store, pool *pgxpool.Pool, cfg pgstore.Config, stall pgx.Tx,
	targets []uuid.UUID, deadline time.Duration) ([]error, time.Duration) {
	t.Helper()
	ctx := t.Context()
	hold, err := pool.Begin(ctx)
	require.NoError(t, err)
	_, err = hold.Exec(ctx, "SELECT * FROM "+pgtest.Ident(cfg.Schema, "truefcr_events_head")+" FOR UPDATE")
	require.NoError(t, err)

	var wg sync.WaitGroup
	wg.Add(1)
	first := uuid.New()
	go func() {
		defer wg.Done()
		_, err := s.Append(ctx, first, 0, stream(first, 0, 1))
		assert.NoError(t, err)
	}()
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	errs := make([]error, len(targets))
	for i, target := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dctx, cancel := context.WithTimeout(ctx, deadline)
			defer cancel()
			_, errs[i] = s.Append(dctx, target, 0, stream(target, 0, 1))
		}()
	}
	time.Sleep(100 * time.Millisecond)
	require.NoError(t, hold.Rollback(ctx))
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second): // stall would block them for good
	}
	took := time.Since(start)
	require.NoError(t, stall.Rollback(ctx))
	<-done
	return errs, took
}

// A conflict found inside a group transaction that did not commit may be
// one with another append of that transaction: when the transaction fails
// as a whole, such an append gets its error, not a conflict with a
// version that was never stored. A conflict with another writer stands.
func TestGroupedAppendsToOneStreamShareTheTransactionsError(t *testing.T) {
	t.Parallel()
	s, pool, cfg := newStore(t, pgstore.Config{})
	ctx := t.Context()
	issue, other := uuid.New(), uuid.New()
	_, err := s.Append(ctx, other, 0, stream(other, 0, 1))
	require.NoError(t, err)

	// stall blocks the insert of the issue's version 1: it holds an
	// uncommitted row of it.
	stall, err := pool.Begin(ctx)
	require.NoError(t, err)
	_, err = stall.Exec(ctx, "INSERT INTO "+pgtest.Ident(cfg.Schema, "truefcr_events")+
		" (position, issue, version, id, type, at, payload) VALUES (1000000, $1, 1, $2, 'issue.opened', now(), '')", issue, uuid.New())
	require.NoError(t, err)
	// other is at version 1 already: its append conflicts with that one.
	errs, _ := groupedAppends(t, s, pool, cfg, stall, []uuid.UUID{issue, issue, other}, 500*time.Millisecond)
	for _, err := range errs[:2] {
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.NotErrorIs(t, err, events.ErrVersionConflict, "nothing of the issue was stored")
	}
	var conflict *events.VersionConflictError
	require.ErrorAs(t, errs[2], &conflict, "the conflict with the earlier append stands")
	assert.Equal(t, uint64(1), conflict.Actual)
	loaded, err := s.Load(ctx, issue)
	require.NoError(t, err)
	assert.Empty(t, loaded)
}

// escalated is a type that a newer producer registered, and this reader's
// registry does not know.
type escalated struct {
	Level int `json:"level"`
}

func (*escalated) EventType() events.Type { return "acme.escalated" }

// A store told to skip unknown types reads an event of a type its codec's
// registry does not know as an events.Opaque, with its version and
// position, in Load and ReadAll; without, reading fails at it, naming its
// position.
func TestStoreSkipsUnknownTypesWhenTold(t *testing.T) {
	reg := events.NewRegistry()
	require.NoError(t, reg.Register("acme.escalated", 1, func() events.Data { return new(escalated) }))
	newer, pool, cfg := newStore(t, pgstore.Config{Codec: events.NewMsgpackCodec(reg)})
	ctx := t.Context()
	issue := uuid.New()
	evs := stream(issue, 0, 3)
	evs[1].Data = &escalated{Level: 2}
	stored, err := newer.Append(ctx, issue, 0, evs)
	require.NoError(t, err)

	older, err := pgstore.New(ctx, pool, pgstore.Config{Schema: cfg.Schema})
	require.NoError(t, err)
	_, err = older.Load(ctx, issue)
	assert.ErrorIs(t, err, events.ErrUnknownType)
	for _, err := range older.ReadAll(ctx, 0) {
		if err != nil {
			assert.ErrorIs(t, err, events.ErrUnknownType)
			assert.ErrorContains(t, err, fmt.Sprintf("position %d", stored[1].Position))
			break
		}
	}

	skipping, err := pgstore.New(ctx, pool, pgstore.Config{Schema: cfg.Schema, SkipUnknownTypes: true})
	require.NoError(t, err)
	want := slices.Clone(stored)
	want[1].Data = &events.Opaque{Type: "acme.escalated"}
	loaded, err := skipping.Load(ctx, issue)
	require.NoError(t, err)
	for i := range loaded {
		loaded[i].Position = want[i].Position // Load does not promise positions
	}
	assert.Equal(t, want, loaded)
	var read []events.Envelope
	for e, err := range skipping.ReadAll(ctx, 0) {
		require.NoError(t, err)
		read = append(read, e)
	}
	assert.Equal(t, want, read)
}

// An append whose context is done names its issue, as its other errors do.
func TestAnAppendGivenUpNamesItsIssue(t *testing.T) {
	s, _, _ := newStore(t, pgstore.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	issue := uuid.New()
	_, err := s.Append(ctx, issue, 0, stream(issue, 0, 1))
	require.ErrorIs(t, err, context.Canceled)
	assert.ErrorContains(t, err, "append to issue "+issue.String())
}
