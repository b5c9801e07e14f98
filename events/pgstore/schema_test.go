package pgstore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/events/pgstore"
	"github.com/truefcr/truefcr/events/pgstore/pgtest"
)

func TestNewKeepsWhatIsStored(t *testing.T) {
	t.Parallel()
	s, pool, cfg := newStore(t, pgstore.Config{})
	ctx := context.Background()
	issue := uuid.New()
	_, err := s.Append(ctx, issue, 0, stream(issue, 0, 2))
	require.NoError(t, err)

	again, err := pgstore.New(ctx, pool, cfg)
	require.NoError(t, err)
	loaded, err := again.Load(ctx, issue)
	require.NoError(t, err)
	assert.Len(t, loaded, 2)
	out, err := again.Append(ctx, issue, 2, stream(issue, 2, 1))
	require.NoError(t, err)
	assert.Equal(t, uint64(3), out[0].Position, "positions go on from the stored head")
}

// Processes that start at once create the tables once, whatever the
// server's default isolation: under repeatable read, one that waited for
// the schema lock did not see the version row the first wrote, inserted
// it again and failed on its key.
func TestNewCreatesTablesOnceUnderConcurrency(t *testing.T) {
	t.Parallel()
	for _, level := range []string{"read committed", "repeatable read", "serializable"} {
		t.Run(level, func(t *testing.T) {
			t.Parallel()
			base := pgtest.Pool(t)
			schema := pgtest.NewSchemaName("test") // New creates it
			t.Cleanup(func() { pgtest.DropSchema(t, base, schema) })
			errs := pgtest.AtOnce(t, level, 6, func(pool *pgxpool.Pool) error {
				_, err := pgstore.New(context.Background(), pool, pgstore.Config{Schema: schema, Outbox: &pgstore.OutboxConfig{}})
				return err
			})
			for i, err := range errs {
				assert.NoError(t, err, "New %d", i)
			}
		})
	}
}

func TestNewRefusesTablesItCannotUse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		tweak string // SQL run on the tables of a new store; %s is the version table
		cfg   pgstore.Config
	}{
		{"a newer schema", `UPDATE %s SET version = version + 1`, pgstore.Config{}},
		{"another codec", `SELECT 1 FROM %s`, pgstore.Config{Codec: events.NewJSONCodec(nil)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, pool, cfg := newStore(t, pgstore.Config{})
			ctx := context.Background()
			_, err := pool.Exec(ctx, fmt.Sprintf(tt.tweak, pgtest.Ident(cfg.Schema, pgstore.DefaultTable+"_schema")))
			require.NoError(t, err)
			tt.cfg.Schema = cfg.Schema
			_, err = pgstore.New(ctx, pool, tt.cfg)
			assert.ErrorIs(t, err, pgstore.ErrSchemaVersion)
		})
	}
}

func TestNewRefusesABadConfig(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	_, err := pgstore.New(context.Background(), pool, pgstore.Config{Table: "Events; DROP"})
	assert.ErrorIs(t, err, pgstore.ErrInvalidConfig)
	_, err = pgstore.New(context.Background(), nil, pgstore.Config{})
	assert.ErrorIs(t, err, pgstore.ErrInvalidConfig)
}

// An append to tables whose head row was deleted says so, naming the
// table; it said "no rows in result set".
func TestAppendWithoutTheHeadRowNamesIt(t *testing.T) {
	t.Parallel()
	s, pool, cfg := newStore(t, pgstore.Config{})
	ctx := context.Background()
	head := pgtest.Ident(cfg.Schema, pgstore.DefaultTable+"_head")
	_, err := pool.Exec(ctx, `DELETE FROM `+head)
	require.NoError(t, err)
	issue := uuid.New()
	_, err = s.Append(ctx, issue, 0, stream(issue, 0, 1))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the row of "+head+" is missing")
	loaded, err := s.Load(ctx, issue)
	require.NoError(t, err)
	assert.Empty(t, loaded, "nothing stored")
}

// A store whose outbox table would be another store's events table (store
// "tx" with an outbox beside store "tx_outbox") is refused at New, naming
// the table, rather than failing at every append; so is a forwarder.
func TestNewRefusesAnOutboxTableThatIsNotOne(t *testing.T) {
	t.Parallel()
	_, pool, cfg := newStore(t, pgstore.Config{Table: "tx_outbox"})
	ctx := context.Background()
	withOutbox := pgstore.Config{Schema: cfg.Schema, Table: "tx", Outbox: &pgstore.OutboxConfig{}}
	_, err := pgstore.New(ctx, pool, withOutbox)
	require.ErrorIs(t, err, pgstore.ErrSchemaVersion)
	outbox := pgtest.Ident(cfg.Schema, "tx_outbox")
	assert.ErrorContains(t, err, "table "+outbox+" is not an outbox")

	plain, err := pgstore.New(ctx, pool, pgstore.Config{Schema: cfg.Schema, Table: "tx"})
	require.NoError(t, err, "the same store without an outbox")
	issue := uuid.New()
	_, err = plain.Append(ctx, issue, 0, stream(issue, 0, 1))
	require.NoError(t, err, "which appends: the table of its outbox's name is not an outbox")
	broker := gochannel.NewGoChannel(gochannel.Config{}, watermill.NopLogger{})
	t.Cleanup(func() { _ = broker.Close() })
	_, err = pgstore.NewForwarder(ctx, pool, broker, pgstore.ForwarderConfig{Schema: cfg.Schema, Table: "tx"})
	require.ErrorIs(t, err, pgstore.ErrSchemaVersion)
	assert.ErrorContains(t, err, "table "+outbox+" is not an outbox")

	// A column that an administrator added to the outbox is no reason
	// to refuse it.
	_, err = pgstore.New(ctx, pool, pgstore.Config{Schema: cfg.Schema, Table: "tz", Outbox: &pgstore.OutboxConfig{}})
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `ALTER TABLE `+pgtest.Ident(cfg.Schema, "tz_outbox")+` ADD COLUMN note text`)
	require.NoError(t, err)
	_, err = pgstore.New(ctx, pool, pgstore.Config{Schema: cfg.Schema, Table: "tz", Outbox: &pgstore.OutboxConfig{}})
	require.NoError(t, err, "an outbox with a column of an administrator's")

	// The offsets table is checked too.
	_, pool, cfg = newStore(t, pgstore.Config{Table: "ty_outbox_offsets"})
	_, err = pgstore.New(ctx, pool, pgstore.Config{Schema: cfg.Schema, Table: "ty", Outbox: &pgstore.OutboxConfig{}})
	require.ErrorIs(t, err, pgstore.ErrSchemaVersion)
	assert.ErrorContains(t, err, "table "+pgtest.Ident(cfg.Schema, "ty_outbox_offsets")+" is not an outbox's offsets table")
}

// A store whose tables would be another's tables of their names (store
// "tx_outbox" beside store "tx" with its outbox) is refused at New,
// naming the table, where Postgres's refusal to create it was all it said.
func TestNewRefusesAnEventsTableThatIsAnothersTable(t *testing.T) {
	t.Parallel()
	_, pool, cfg := newStore(t, pgstore.Config{Table: "tx", Outbox: &pgstore.OutboxConfig{}})
	_, err := pgstore.New(context.Background(), pool, pgstore.Config{Schema: cfg.Schema, Table: "tx_outbox"})
	require.ErrorIs(t, err, pgstore.ErrSchemaVersion)
	assert.ErrorContains(t, err, "table "+pgtest.Ident(cfg.Schema, "tx_outbox")+" is not this store's")

	// So are its streams and head tables: store "a" after store
	// "a_streams", whose events table is a's streams table.
	_, err = pgstore.New(context.Background(), pool, pgstore.Config{Schema: cfg.Schema, Table: "a_streams"})
	require.NoError(t, err)
	_, err = pgstore.New(context.Background(), pool, pgstore.Config{Schema: cfg.Schema, Table: "a"})
	require.ErrorIs(t, err, pgstore.ErrSchemaVersion)
	assert.ErrorContains(t, err, "table "+pgtest.Ident(cfg.Schema, "a_streams")+" is not this store's")
}

// A role that may only read and write the tables (another role, which
// migrates, owns them) opens the store and its forwarder, where New and
// NewForwarder ran CREATE SCHEMA IF NOT EXISTS, which needs the right to
// create in the database, even on tables that were all there.
func TestARoleThatMayOnlyReadAndWriteOpensTheStore(t *testing.T) {
	admin := pgtest.Pool(t)
	ctx := context.Background()
	schema := pgtest.Schema(t, admin)
	cfg := pgstore.Config{Schema: schema, Outbox: &pgstore.OutboxConfig{}}
	_, err := pgstore.New(ctx, admin, cfg)
	require.NoError(t, err)
	app := pgtest.DMLRole(t, admin, schema)

	s, err := pgstore.New(ctx, app, cfg)
	require.NoError(t, err)
	issue := uuid.New()
	_, err = s.Append(ctx, issue, 0, stream(issue, 0, 2))
	require.NoError(t, err, "and appends")
	_, err = pgstore.NewForwarder(ctx, app, gochannel.NewGoChannel(gochannel.Config{}, watermill.NopLogger{}), pgstore.ForwarderConfig{Schema: schema})
	require.NoError(t, err)

	// Tables that are missing still need the migrating role.
	_, err = admin.Exec(ctx, `DROP TABLE `+pgtest.Ident(schema, pgstore.DefaultTable+"_outbox"))
	require.NoError(t, err)
	_, err = pgstore.New(ctx, app, cfg)
	require.ErrorContains(t, err, "permission denied")
	_, err = pgstore.New(ctx, admin, cfg)
	require.NoError(t, err, "which the migrating role makes")
}

// A role refused the version table, an easy grant to forget, is told so,
// naming the table, where New took the tables for missing and reported
// its refusal to create a schema in the database.
func TestARoleRefusedTheVersionTableIsToldWhich(t *testing.T) {
	admin := pgtest.Pool(t)
	ctx := context.Background()
	schema := pgtest.Schema(t, admin)
	_, err := pgstore.New(ctx, admin, pgstore.Config{Schema: schema})
	require.NoError(t, err)
	app := pgtest.DMLRole(t, admin, schema)
	pgtest.Revoke(t, admin, app, pgtest.Ident(schema, pgstore.DefaultTable+"_schema"))
	_, err = pgstore.New(ctx, app, pgstore.Config{Schema: schema})
	require.Error(t, err)
	assert.ErrorContains(t, err, "read the schema version in "+pgtest.Ident(schema, pgstore.DefaultTable+"_schema"))
	assert.ErrorContains(t, err, "permission denied for table "+pgstore.DefaultTable+"_schema")
}

// A store opened without an outbox on tables that had none refuses to
// append once another process has added one, where its events were
// stored and never forwarded, over connections opened before and after;
// the appends of several streams in one call, and concurrent ones, alike.
func TestAStoreWithoutAnOutboxStopsAppendingWhenOneIsAdded(t *testing.T) {
	ctx := context.Background()
	plain, pool, cfg := newStore(t, pgstore.Config{})
	written := appendIssues(t, plain, 8, 2) // the pool's connections know the tables without an outbox
	withOutbox, err := pgstore.New(ctx, pool, pgstore.Config{Schema: cfg.Schema, Outbox: &pgstore.OutboxConfig{}})
	require.NoError(t, err)
	forwarded := appendIssues(t, withOutbox, 1, 1)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			a, b := uuid.New(), uuid.New()
			_, err := plain.AppendBatch(ctx, []pgstore.Batch{{Issue: a, Events: stream(a, 0, 1)}, {Issue: b, Events: stream(b, 0, 2)}})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.ErrorIs(t, err, pgstore.ErrInvalidConfig)
		assert.ErrorContains(t, err, "has an outbox")
	}
	issue := uuid.New()
	_, err = plain.Append(ctx, issue, 0, stream(issue, 0, 1))
	require.ErrorIs(t, err, pgstore.ErrInvalidConfig, "and from then on")
	head, err := withOutbox.Head(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(len(written)+len(forwarded)), head, "nothing appended")
}

// Adding an outbox, by a store or a forwarder, waits for the appends in
// flight of stores without one: an append is before the outbox, and
// stored, or after, and refused.
func TestAddingAnOutboxWaitsForAppendsInFlight(t *testing.T) {
	ctx := context.Background()
	for name, add := range map[string]func(pool *pgxpool.Pool, schema string) error{
		"store": func(pool *pgxpool.Pool, schema string) error {
			_, err := pgstore.New(ctx, pool, pgstore.Config{Schema: schema, Outbox: &pgstore.OutboxConfig{}})
			return err
		},
		"forwarder": func(pool *pgxpool.Pool, schema string) error {
			broker := gochannel.NewGoChannel(gochannel.Config{}, watermill.NopLogger{})
			defer broker.Close()
			_, err := pgstore.NewForwarder(ctx, pool, broker, pgstore.ForwarderConfig{Schema: schema})
			return err // not Run: nothing to Close
		},
	} {
		t.Run(name, func(t *testing.T) {
			_, pool, cfg := newStore(t, pgstore.Config{})
			tx, err := pool.Begin(ctx) // an append in flight holds the head row
			require.NoError(t, err)
			defer func() { _ = tx.Rollback(ctx) }()
			_, err = tx.Exec(ctx, `UPDATE `+pgtest.Ident(cfg.Schema, pgstore.DefaultTable+"_head")+` SET position = position`)
			require.NoError(t, err)
			done := make(chan error, 1)
			go func() { done <- add(pool, cfg.Schema) }()
			select {
			case err := <-done:
				t.Fatalf("the outbox was added while an append was in flight (%v)", err)
			case <-time.After(500 * time.Millisecond):
			}
			require.NoError(t, tx.Commit(ctx))
			select {
			case err := <-done:
				require.NoError(t, err)
			case <-time.After(10 * time.Second):
				t.Fatal("adding the outbox still waits once the append committed")
			}
		})
	}
}

// A store opened without an outbox on tables that have one reads them, as
// a report's process does, but refuses to append: its appends would write
// no message, and their events would never be forwarded.
func TestAStoreWithoutTheOutboxItsTablesHaveOnlyReads(t *testing.T) {
	s, pool, cfg := newStore(t, pgstore.Config{Outbox: &pgstore.OutboxConfig{}})
	written := appendIssues(t, s, 2, 1)
	reader, err := pgstore.New(context.Background(), pool, pgstore.Config{Schema: cfg.Schema})
	require.NoError(t, err)
	n := 0
	for _, err := range reader.ReadAll(context.Background(), 0) {
		require.NoError(t, err)
		n++
	}
	assert.Equal(t, len(written), n)
	issue := uuid.New()
	_, err = reader.Append(context.Background(), issue, 0, stream(issue, 0, 1))
	require.ErrorIs(t, err, pgstore.ErrInvalidConfig)
	assert.ErrorContains(t, err, "has an outbox")
	assert.ErrorContains(t, err, "open the store with Config.Outbox to append")
	head, err := s.Head(context.Background())
	require.NoError(t, err)
	assert.Equal(t, uint64(len(written)), head, "nothing appended")
}

// Tables that their version table says were made, but that are gone (a
// drop by hand, a partial restore), are refused when the store opens,
// naming the table, where the first append failed.
func TestNewRefusesTablesThatAreGone(t *testing.T) {
	admin := pgtest.Pool(t)
	ctx := context.Background()
	for _, gone := range []string{"", "_streams", "_head"} {
		schema := pgtest.Schema(t, admin)
		_, err := pgstore.New(ctx, admin, pgstore.Config{Schema: schema})
		require.NoError(t, err)
		table := pgtest.Ident(schema, pgstore.DefaultTable+gone)
		_, err = admin.Exec(ctx, `DROP TABLE `+table)
		require.NoError(t, err)
		_, err = pgstore.New(ctx, admin, pgstore.Config{Schema: schema})
		require.ErrorIs(t, err, pgstore.ErrSchemaVersion, gone)
		assert.ErrorContains(t, err, "table "+table+" is missing, though "+pgtest.Ident(schema, pgstore.DefaultTable+"_schema")+" says that its tables are at version 1")
	}
}
