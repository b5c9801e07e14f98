package pgcheckpoint_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strings"
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
	"github.com/truefcr/truefcr/projections"
	"github.com/truefcr/truefcr/projections/pgcheckpoint"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func newStore(t *testing.T) (*pgcheckpoint.Store, *pgxpool.Pool, string) {
	t.Helper()
	pool := pgtest.Pool(t)
	schema := pgtest.Schema(t, pool)
	s, err := pgcheckpoint.New(context.Background(), pool, pgcheckpoint.Config{Schema: schema})
	require.NoError(t, err)
	return s, pool, schema
}

func TestSaveThenLoad(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t)
	ctx := context.Background()
	saved := time.Date(2026, 3, 2, 9, 15, 0, 123456000, time.UTC)
	tests := []struct {
		name string
		cp   projections.Checkpoint
	}{
		{"position only", projections.Checkpoint{Position: 42}},
		{"with state", projections.Checkpoint{Position: 7, State: []byte{0, 1, 2, 0xff}, Saved: saved}},
		{"zero", projections.Checkpoint{}},
		{"largest position", projections.Checkpoint{Position: math.MaxInt64, Saved: saved.In(time.FixedZone("EET", 2*3600))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NoError(t, s.Save(ctx, tt.name, tt.cp))
			got, ok, err := s.Load(ctx, tt.name)
			require.NoError(t, err)
			require.True(t, ok)
			assert.Equal(t, tt.cp.Position, got.Position)
			assert.Equal(t, tt.cp.State, got.State)
			assert.True(t, tt.cp.Saved.Equal(got.Saved), "saved %s, loaded %s", tt.cp.Saved, got.Saved)
			if !got.Saved.IsZero() {
				assert.Equal(t, time.UTC, got.Saved.Location())
			}
		})
	}

	_, ok, err := s.Load(ctx, "never saved")
	require.NoError(t, err)
	assert.False(t, ok)
}

func TestSaveReplaces(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t)
	ctx := context.Background()
	require.NoError(t, s.Save(ctx, "fcr", projections.Checkpoint{Position: 1, State: []byte("old")}))
	require.NoError(t, s.Save(ctx, "fcr", projections.Checkpoint{Position: 2}))
	require.NoError(t, s.Save(ctx, "kpi", projections.Checkpoint{Position: 9}))
	got, ok, err := s.Load(ctx, "fcr")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, projections.Checkpoint{Position: 2}, got)
}

func TestConcurrentSavesLeaveOneWhole(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 10 {
				pos := uint64(i*100 + j)
				if err := s.Save(ctx, "fcr", projections.Checkpoint{Position: pos, State: []byte(fmt.Sprint(pos))}); err != nil {
					errs[i] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))
	got, ok, err := s.Load(ctx, "fcr")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, fmt.Sprint(got.Position), string(got.State), "position and state come from the same save")
}

// TestSaveTxCommitsWithTheReadModel keeps a read model in the same
// database: the checkpoint moves if and only if the transaction commits.
func TestSaveTxCommitsWithTheReadModel(t *testing.T) {
	t.Parallel()
	s, pool, schema := newStore(t)
	ctx := context.Background()
	model := pgtest.Ident(schema, "resolved_by_agent")
	_, err := pool.Exec(ctx, "CREATE TABLE "+model+" (agent text PRIMARY KEY, resolved int NOT NULL)")
	require.NoError(t, err)
	require.NoError(t, s.Save(ctx, "agents", projections.Checkpoint{Position: 10}))

	update := func(pos uint64, commit bool) {
		tx, err := pool.Begin(ctx)
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(ctx) }()
		_, err = tx.Exec(ctx, "INSERT INTO "+model+" VALUES ('anna', 1) ON CONFLICT (agent) DO UPDATE SET resolved = "+model+".resolved + 1")
		require.NoError(t, err)
		require.NoError(t, s.SaveTx(ctx, tx, "agents", projections.Checkpoint{Position: pos}))
		inside, ok, err := s.LoadTx(ctx, tx, "agents")
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, pos, inside.Position, "the transaction sees its own checkpoint")
		if commit {
			require.NoError(t, tx.Commit(ctx))
		}
	}
	state := func() (uint64, int) {
		cp, ok, err := s.Load(ctx, "agents")
		require.NoError(t, err)
		require.True(t, ok)
		var n int
		err = pool.QueryRow(ctx, "SELECT resolved FROM "+model+" WHERE agent = 'anna'").Scan(&n)
		if errors.Is(err, pgx.ErrNoRows) {
			err = nil
		}
		require.NoError(t, err)
		return cp.Position, n
	}

	update(11, false)
	pos, n := state()
	assert.Equal(t, uint64(10), pos, "a rolled-back checkpoint is not kept")
	assert.Equal(t, 0, n, "nor is the read model's change")

	update(12, true)
	pos, n = state()
	assert.Equal(t, uint64(12), pos)
	assert.Equal(t, 1, n)
}

func TestSaveRefusesWhatCannotBeStored(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t)
	tests := []struct {
		name, projection string
		cp               projections.Checkpoint
	}{
		{"no name", "", projections.Checkpoint{Position: 1}},
		{"position beyond bigint", "fcr", projections.Checkpoint{Position: math.MaxInt64 + 1}},
		{"name with a NUL", "fcr\x00v2", projections.Checkpoint{Position: 1}},
		{"name not UTF-8", "fcr\xff", projections.Checkpoint{Position: 1}},
		// Random hex, which PostgreSQL cannot compress below the index's
		// limit of 2,704 bytes a row.
		{"name too long", hexName(pgcheckpoint.MaxName + 1), projections.Checkpoint{Position: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Save(context.Background(), tt.projection, tt.cp)
			assert.ErrorIs(t, err, pgcheckpoint.ErrInvalidCheckpoint)
			if tt.projection != "fcr" {
				_, _, err = s.Load(context.Background(), tt.projection)
				assert.ErrorIs(t, err, pgcheckpoint.ErrInvalidCheckpoint)
			}
		})
	}
}

// The longest name is kept, and a longer one is refused with a message
// that quotes only its start.
func TestNamesUpToMaxNameAreKept(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t)
	ctx := context.Background()
	name := hexName(pgcheckpoint.MaxName)
	require.NoError(t, s.Save(ctx, name, projections.Checkpoint{Position: 7}))
	cp, ok, err := s.Load(ctx, name)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, uint64(7), cp.Position)

	err = s.Save(ctx, hexName(8000), projections.Checkpoint{Position: 1})
	require.ErrorIs(t, err, pgcheckpoint.ErrInvalidCheckpoint)
	assert.Less(t, len(err.Error()), 200, err.Error())
}

// hexName returns n bytes of random hex digits.
func hexName(n int) string {
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

func TestNewRefusesANewerTable(t *testing.T) {
	t.Parallel()
	_, pool, schema := newStore(t)
	ctx := context.Background()
	_, err := pool.Exec(ctx, "UPDATE "+pgtest.Ident(schema, pgcheckpoint.DefaultTable+"_schema")+" SET version = version + 1")
	require.NoError(t, err)
	_, err = pgcheckpoint.New(ctx, pool, pgcheckpoint.Config{Schema: schema})
	assert.ErrorIs(t, err, pgcheckpoint.ErrSchemaVersion)

	again, err := pgcheckpoint.New(ctx, pool, pgcheckpoint.Config{Schema: schema, Table: "other"})
	require.NoError(t, err, "another table of the same schema is not affected")
	require.NoError(t, again.Save(ctx, "fcr", projections.Checkpoint{Position: 1}))
}

// An event store's tables of the same name, in the same schema, are not
// a checkpoint table: New refuses them, saying so, rather than taking the
// store's version row for its own and failing at every Save. A store
// opened on a checkpoint table of its name refuses it too.
func TestNewRefusesAStoresTablesOfItsName(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	ctx := context.Background()

	schema := pgtest.Schema(t, pool)
	_, err := pgstore.New(ctx, pool, pgstore.Config{Schema: schema, Table: "helpdesk"})
	require.NoError(t, err)
	_, err = pgcheckpoint.New(ctx, pool, pgcheckpoint.Config{Schema: schema, Table: "helpdesk"})
	require.ErrorIs(t, err, pgcheckpoint.ErrSchemaVersion)
	assert.ErrorContains(t, err, "is not a checkpoint table")

	schema = pgtest.Schema(t, pool)
	_, err = pgcheckpoint.New(ctx, pool, pgcheckpoint.Config{Schema: schema, Table: "helpdesk"})
	require.NoError(t, err)
	_, err = pgstore.New(ctx, pool, pgstore.Config{Schema: schema, Table: "helpdesk"})
	require.ErrorIs(t, err, pgstore.ErrSchemaVersion)
	assert.ErrorContains(t, err, "is not a store's version table")

	// A store's events table of the name of the checkpoint table's
	// version table, with an event of version 1 in it.
	schema = pgtest.Schema(t, pool)
	store, err := pgstore.New(ctx, pool, pgstore.Config{Schema: schema, Table: "cp_schema"})
	require.NoError(t, err)
	issue := uuid.New()
	_, err = store.Append(ctx, issue, 0, []events.Envelope{{ID: uuid.New(), Issue: issue, Version: 1, At: time.Now().UTC(),
		Data: &events.Opened{Customer: events.Customer{ID: "C-1"}, Channel: "chat", Topic: "t", Contact: uuid.New()}}})
	require.NoError(t, err)
	_, err = pgcheckpoint.New(ctx, pool, pgcheckpoint.Config{Schema: schema, Table: "cp"})
	require.ErrorIs(t, err, pgcheckpoint.ErrSchemaVersion)
	assert.ErrorContains(t, err, "is not a checkpoint table's version table")
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  pgcheckpoint.Config
		ok   bool
	}{
		{"plain", pgcheckpoint.Config{Schema: "public", Table: "checkpoints"}, true},
		{"upper case", pgcheckpoint.Config{Schema: "public", Table: "Checkpoints"}, false},
		{"injection", pgcheckpoint.Config{Schema: "public", Table: "x; DROP TABLE y"}, false},
		{"empty: the defaults", pgcheckpoint.Config{}, true},
		{"a table of the default schema", pgcheckpoint.Config{Table: "checkpoints"}, true},
		{"a schema name too long", pgcheckpoint.Config{Schema: strings.Repeat("s", 57)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.ok {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, pgcheckpoint.ErrInvalidConfig)
			}
		})
	}
}

// Processes that start at once create the table once, whatever the
// server's default isolation: under repeatable read, one that waited for
// the schema lock did not see the version row the first wrote, inserted
// it again and failed with a serialization error.
func TestNewCreatesTheTableOnceUnderConcurrency(t *testing.T) {
	for _, level := range []string{"read committed", "repeatable read", "serializable"} {
		t.Run(level, func(t *testing.T) {
			base := pgtest.Pool(t)
			schema := pgtest.NewSchemaName("test") // New creates it
			t.Cleanup(func() { pgtest.DropSchema(t, base, schema) })
			errs := pgtest.AtOnce(t, level, 6, func(pool *pgxpool.Pool) error {
				_, err := pgcheckpoint.New(context.Background(), pool, pgcheckpoint.Config{Schema: schema})
				return err
			})
			for i, err := range errs {
				assert.NoError(t, err, "New %d", i)
			}
		})
	}
}

// Saves of one name at once succeed on a server whose default isolation
// is repeatable read or serializable, where they failed with a
// serialization error (40001): Save reads committed whatever the default.
func TestConcurrentSavesUnderAStricterDefaultIsolation(t *testing.T) {
	for _, level := range []string{"repeatable read", "serializable"} {
		t.Run(level, func(t *testing.T) {
			schema := pgtest.Schema(t, pgtest.Pool(t))
			pool := pgtest.PoolAt(t, level)
			s, err := pgcheckpoint.New(context.Background(), pool, pgcheckpoint.Config{Schema: schema})
			require.NoError(t, err)
			var wg sync.WaitGroup
			errs := make([]error, 8)
			for i := range errs {
				wg.Go(func() {
					for j := range 20 {
						pos := uint64(i*100 + j)
						if err := s.Save(context.Background(), "fcr", projections.Checkpoint{Position: pos, State: []byte(fmt.Sprint(pos))}); err != nil {
							errs[i] = err
							return
						}
					}
				})
			}
			wg.Wait()
			require.NoError(t, errors.Join(errs...))
			cp, ok, err := s.Load(context.Background(), "fcr")
			require.NoError(t, err)
			require.True(t, ok)
			assert.Equal(t, fmt.Sprint(cp.Position), string(cp.State), "one save whole")
		})
	}
}

// A role that may only read and write the table opens the store, where
// New ran CREATE SCHEMA IF NOT EXISTS, which needs the right to create in
// the database, even on a table that was there.
func TestARoleThatMayOnlyReadAndWriteOpensTheStore(t *testing.T) {
	admin := pgtest.Pool(t)
	schema := pgtest.Schema(t, admin)
	_, err := pgcheckpoint.New(context.Background(), admin, pgcheckpoint.Config{Schema: schema})
	require.NoError(t, err)
	app := pgtest.DMLRole(t, admin, schema)
	s, err := pgcheckpoint.New(context.Background(), app, pgcheckpoint.Config{Schema: schema})
	require.NoError(t, err)
	require.NoError(t, s.Save(context.Background(), "fcr", projections.Checkpoint{Position: 7}))
	cp, ok, err := s.Load(context.Background(), "fcr")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, uint64(7), cp.Position)
}

// A role refused the version table is told so, naming the table; a
// checkpoint table that is there without its version table (made by hand)
// is refused as not this package's, where creating it failed with the
// server's own error.
func TestNewSaysWhatIsWrongWithTheVersionTable(t *testing.T) {
	admin := pgtest.Pool(t)
	ctx := context.Background()
	schema := pgtest.Schema(t, admin)
	_, err := pgcheckpoint.New(ctx, admin, pgcheckpoint.Config{Schema: schema})
	require.NoError(t, err)
	app := pgtest.DMLRole(t, admin, schema)
	pgtest.Revoke(t, admin, app, pgtest.Ident(schema, "truefcr_checkpoints_schema"))
	_, err = pgcheckpoint.New(ctx, app, pgcheckpoint.Config{Schema: schema})
	require.Error(t, err)
	assert.ErrorContains(t, err, "read the schema version in "+pgtest.Ident(schema, "truefcr_checkpoints_schema"))
	assert.ErrorContains(t, err, "permission denied for table truefcr_checkpoints_schema")

	other := pgtest.Schema(t, admin)
	_, err = admin.Exec(ctx, `CREATE TABLE `+pgtest.Ident(other, "truefcr_checkpoints")+` (name text PRIMARY KEY, position bigint NOT NULL, state bytea, saved timestamptz)`)
	require.NoError(t, err)
	_, err = pgcheckpoint.New(ctx, admin, pgcheckpoint.Config{Schema: other})
	require.ErrorIs(t, err, pgcheckpoint.ErrSchemaVersion)
	assert.ErrorContains(t, err, "exists, but "+pgtest.Ident(other, "truefcr_checkpoints_schema")+" says that no checkpoint store made it")
}

// A checkpoint table that its version table says was made, but that is
// gone, is refused when the store opens, where the first Load failed.
func TestNewRefusesATableThatIsGone(t *testing.T) {
	admin := pgtest.Pool(t)
	ctx := context.Background()
	schema := pgtest.Schema(t, admin)
	_, err := pgcheckpoint.New(ctx, admin, pgcheckpoint.Config{Schema: schema})
	require.NoError(t, err)
	_, err = admin.Exec(ctx, `DROP TABLE `+pgtest.Ident(schema, "truefcr_checkpoints"))
	require.NoError(t, err)
	_, err = pgcheckpoint.New(ctx, admin, pgcheckpoint.Config{Schema: schema})
	require.ErrorIs(t, err, pgcheckpoint.ErrSchemaVersion)
	assert.ErrorContains(t, err, "table "+pgtest.Ident(schema, "truefcr_checkpoints")+" is missing")
}
