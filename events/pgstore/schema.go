package pgstore

import (
	"context"
	"errors"
	"fmt"

	wmsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/truefcr/truefcr/internal/pglock"
	"github.com/truefcr/truefcr/internal/pgtables"
)

// SchemaVersion is the version of the tables that this package creates
// and reads. A store refuses tables of a newer version.
const SchemaVersion = 1

// tables holds the quoted names of a store's tables.
type tables struct {
	schema, events, streams, head, version, outbox, offsets string
}

func newTables(schema, table string) tables {
	q := func(suffix string) string { return pgx.Identifier{schema, table + suffix}.Sanitize() }
	return tables{
		schema:  pgx.Identifier{schema}.Sanitize(),
		events:  q(""),
		streams: q("_streams"),
		head:    q("_head"),
		version: q("_schema"),
		outbox:  q("_outbox"),
		offsets: q("_outbox_offsets"),
	}
}

// migrations[i] brings the tables from version i to i+1.
var migrations = [SchemaVersion]func(t tables) []string{
	func(t tables) []string {
		return []string{
			// The payload is the whole encoded envelope; the other columns
			// are there to find and order events without decoding them.
			`CREATE TABLE ` + t.events + ` (
				position bigint PRIMARY KEY,
				issue uuid NOT NULL,
				version bigint NOT NULL,
				id uuid NOT NULL,
				type text NOT NULL,
				at timestamptz NOT NULL,
				payload bytea NOT NULL,
				UNIQUE (issue, version)
			)`,
			// One row per stream with its current version: appends update it
			// on condition, which is how the database enforces the expected
			// version.
			`CREATE TABLE ` + t.streams + ` (
				issue uuid PRIMARY KEY,
				version bigint NOT NULL
			)`,
			// The last position handed out. Its row lock, held from
			// allocation to commit, makes positions visible in commit order.
			`CREATE TABLE ` + t.head + ` (
				one boolean PRIMARY KEY DEFAULT true CHECK (one),
				position bigint NOT NULL
			)`,
			`INSERT INTO ` + t.head + ` (position) VALUES (0)`,
		}
	},
}

// errNotReady is what schemaReady's transaction ends with when the tables
// need creating or migrating.
var errNotReady = errors.New("tables not ready")

// schemaReady reports whether the tables of cfg are there at SchemaVersion,
// with the codec of cfg and, when cfg has an outbox, the outbox tables: a
// store then opens without creating anything, which a role that may only
// read and write the tables (another role, which migrates, owns them)
// could not do. When cfg has no outbox and the tables have one, it
// reports that too (foreign): such a store may read, but its appends
// would write no outbox message, and their events would never be
// forwarded.
func schemaReady(ctx context.Context, pool *pgxpool.Pool, cfg Config, t tables) (ready, foreign bool, err error) {
	err = pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var (
			version int
			codec   string
		)
		if err := tx.QueryRow(ctx, `SELECT version, codec FROM `+t.version).Scan(&version, &codec); err != nil {
			if pgtables.Unready(err) {
				return errNotReady // no table yet, or another's: ensureSchema makes it or says so
			}
			// A role refused the version table, which creating it would
			// only hide behind a refusal to create.
			return fmt.Errorf("read the schema version in %s: %w", t.version, err)
		}
		if err := usable(t, version, codec, cfg); err != nil {
			return err // as ensureSchema says it, for a role that could not run it too
		}
		if version < SchemaVersion {
			return errNotReady // ensureSchema migrates
		}
		if err := pgtables.AllThere(ctx, tx, t.version, version, ErrSchemaVersion, t.events, t.streams, t.head); err != nil {
			return err
		}
		if cfg.Outbox != nil {
			return outboxReady(ctx, tx, t)
		}
		return tx.QueryRow(ctx, `SELECT `+isOutbox("$1", "$2"), t.outbox, outboxColumns).Scan(&foreign)
	})
	if errors.Is(err, errNotReady) {
		return false, false, nil
	}
	return err == nil, foreign, err
}

// usable refuses tables of a newer version than this package knows, or
// written with another codec than cfg's.
func usable(t tables, version int, codec string, cfg Config) error {
	if version > SchemaVersion {
		return fmt.Errorf("table %s has schema version %d, this package knows up to %d: %w",
			t.events, version, SchemaVersion, ErrSchemaVersion)
	}
	if codec != cfg.Codec.Name() {
		return fmt.Errorf("table %s holds %s payloads, the configured codec is %s: %w",
			t.events, codec, cfg.Codec.Name(), ErrSchemaVersion)
	}
	return nil
}

// outboxReady returns nil when the outbox tables of t are there, as
// createOutbox makes them, errNotReady when one is missing, and the error
// of pgtables.Check for a table of an outbox's name that is not one.
func outboxReady(ctx context.Context, tx pgx.Tx, t tables) error {
	var outbox, offsets bool
	if err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL, to_regclass($2) IS NOT NULL`, t.outbox, t.offsets).Scan(&outbox, &offsets); err != nil {
		return err
	}
	if !outbox || !offsets {
		return errNotReady
	}
	if err := pgtables.Check(ctx, tx, t.outbox, "an outbox", ErrSchemaVersion, outboxColumns...); err != nil {
		return err
	}
	return pgtables.Check(ctx, tx, t.offsets, "an outbox's offsets table", ErrSchemaVersion, offsetsColumns...)
}

// isOutbox is an SQL condition that holds when the table named by the
// text parameter name has every column of the text[] parameter cols
// (outboxColumns), as Watermill's outbox has; it does not hold when no
// table has that name. The check of pgtables.Check, without its error.
func isOutbox(name, cols string) string {
	return `((SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass(` + name + `)
		AND attnum > 0 AND NOT attisdropped AND attname::text = ANY(` + cols + `::text[])) = cardinality(` + cols + `::text[]))`
}

// The columns of Watermill's outbox and offsets tables that the store and
// the forwarder use.
var (
	outboxColumns  = []string{"offset", "uuid", "created_at", "payload", "metadata", "transaction_id"}
	offsetsColumns = []string{"consumer_group", "offset_acked", "last_processed_transaction_id"}
)

// ensureSchema creates or migrates the tables of cfg to SchemaVersion in
// one transaction, and the outbox tables when cfg has an outbox, unless
// they are ready (schemaReady), and reports an outbox that cfg lacks. The transaction reads committed whatever
// the server's default isolation: one that waited for the lock must see
// the version row the one before it wrote, where a snapshot taken at the
// lock (repeatable read) would not, and insert it again.
func ensureSchema(ctx context.Context, pool *pgxpool.Pool, cfg Config, t tables) (foreignOutbox bool, err error) {
	if ready, foreign, err := schemaReady(ctx, pool, cfg, t); ready || err != nil {
		return foreign, err
	}
	if err := createSchema(ctx, pool, cfg, t); err != nil {
		return false, err
	}
	// Another process may have made the tables, an outbox among them,
	// while this one waited for the lock: look as at a start on them.
	_, foreign, err := schemaReady(ctx, pool, cfg, t)
	return foreign, err
}

// createSchema creates or migrates the tables of cfg, under the schema's
// lock, as ensureSchema says.
func createSchema(ctx context.Context, pool *pgxpool.Pool, cfg Config, t tables) error {
	return pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
		if err := pglock.LockSchema(ctx, tx, cfg.Schema); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+t.version+` (
				one boolean PRIMARY KEY DEFAULT true CHECK (one),
				version integer NOT NULL,
				codec text NOT NULL
			)`); err != nil {
			return err
		}
		// A table of its name may be another's: a checkpoint store's
		// of the same name, say (projections/pgcheckpoint).
		if err := pgtables.Check(ctx, tx, t.version, "a store's version table", ErrSchemaVersion, "one", "version", "codec"); err != nil {
			return err
		}
		var (
			version int
			codec   string
		)
		err := tx.QueryRow(ctx, `SELECT version, codec FROM `+t.version).Scan(&version, &codec)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			codec = cfg.Codec.Name()
			if _, err := tx.Exec(ctx, `INSERT INTO `+t.version+` (version, codec) VALUES (0, $1)`, codec); err != nil {
				return err
			}
		case err != nil:
			return err
		}
		if err := usable(t, version, codec, cfg); err != nil {
			return err
		}
		if version == 0 {
			// The tables are this store's to create: one of their names
			// that a table has already is another's (an outbox of store
			// "tx" for store "tx_outbox", the streams of store "a" for
			// store "a_streams").
			for _, name := range []string{t.events, t.streams, t.head} {
				taken, err := pgtables.Exists(ctx, tx, name)
				if err != nil {
					return err
				}
				if taken {
					return fmt.Errorf("table %s is not this store's: it exists, but %s says no store made it (another store's table of that name?): %w",
						name, t.version, ErrSchemaVersion)
				}
			}
		}
		for v := version; v < SchemaVersion; v++ {
			for _, s := range migrations[v](t) {
				if _, err := tx.Exec(ctx, s); err != nil {
					return fmt.Errorf("migrate to version %d: %w", v+1, err)
				}
			}
			if _, err := tx.Exec(ctx, `UPDATE `+t.version+` SET version = $1`, v+1); err != nil {
				return err
			}
		}
		if cfg.Outbox != nil {
			return createOutbox(ctx, tx, t)
		}
		return nil
	})
}

// createOutbox creates the outbox tables as Watermill's Postgres adapters
// define them, so that their publisher and subscriber work on them, once
// it holds the head row, which t's tables must have: every append takes
// that row before it inserts, so that an append in flight by a store
// without an outbox ends first, and those after it see the outbox and
// refuse (see newQueries).
func createOutbox(ctx context.Context, tx pgx.Tx, t tables) error {
	if _, err := tx.Exec(ctx, `SELECT position FROM `+t.head+` FOR UPDATE`); err != nil {
		return fmt.Errorf("create outbox %s: take the row of %s: %w", t.outbox, t.head, err)
	}
	var qs []wmsql.Query
	q, err := outboxSchema(t).SchemaInitializingQueries(wmsql.SchemaInitializingQueriesParams{Topic: forwarderTopic})
	if err != nil {
		return err
	}
	qs = append(qs, q...)
	q, err = outboxOffsets(t).SchemaInitializingQueries(wmsql.OffsetsSchemaInitializingQueriesParams{Topic: forwarderTopic})
	if err != nil {
		return err
	}
	qs = append(qs, q...)
	for _, q := range qs {
		if _, err := tx.Exec(ctx, q.Query, q.Args...); err != nil {
			return fmt.Errorf("create outbox %s: %w", t.outbox, err)
		}
	}
	// Watermill creates them only if no table has their names, which
	// another store's tables may have (store "tx" with an outbox beside
	// store "tx_outbox"): every append would then fail.
	return outboxReady(ctx, tx, t)
}
