package pgcheckpoint

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/truefcr/truefcr/internal/pgtables"
	"github.com/truefcr/truefcr/projections"
)

// Sentinel errors of the package.
var (
	// ErrInvalidConfig: a Config that cannot work.
	ErrInvalidConfig = errors.New("invalid configuration")
	// ErrSchemaVersion: the table was made by a newer version of this
	// package.
	ErrSchemaVersion = errors.New("unsupported schema")
	// ErrInvalidCheckpoint: a checkpoint or a name that cannot be stored.
	ErrInvalidCheckpoint = errors.New("invalid checkpoint")
)

// SchemaVersion is the version of the table that this package creates and
// reads.
const SchemaVersion = 1

// MaxName is the longest projection name, in bytes, that a checkpoint is
// kept under: well within what the table's index holds.
const MaxName = 1024

// Defaults of Config.
const (
	DefaultSchema = "public"
	DefaultTable  = "truefcr_checkpoints"
)

// Config configures a Store. The zero value keeps checkpoints in
// public.truefcr_checkpoints.
type Config struct {
	// Schema is the Postgres schema of the table; DefaultSchema by
	// default. It is created when it does not exist.
	Schema string
	// Table names the checkpoints table; DefaultTable by default.
	Table string
}

func (c *Config) setDefaults() {
	if c.Schema == "" {
		c.Schema = DefaultSchema
	}
	if c.Table == "" {
		c.Table = DefaultTable
	}
}

// Validate reports a configuration that cannot work, its empty fields
// taken as their defaults (as New takes them): the zero value is valid.
func (c Config) Validate() error {
	c.setDefaults()
	if problem := pgtables.NamesProblem(c.Schema, c.Table); problem != "" {
		return fmt.Errorf("pgcheckpoint: %s: %w", problem, ErrInvalidConfig)
	}
	return nil
}

// Store is a projections.CheckpointStore in Postgres. It is safe for
// concurrent use; the pool is the caller's.
type Store struct {
	pool       *pgxpool.Pool
	table      string
	load, save string
}

var _ projections.CheckpointStore = (*Store)(nil)

// New returns a Store on pool configured by cfg, creating its table when
// it does not exist.
func New(ctx context.Context, pool *pgxpool.Pool, cfg Config) (*Store, error) {
	if pool == nil {
		return nil, fmt.Errorf("pgcheckpoint: no pool: %w", ErrInvalidConfig)
	}
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	table := pgx.Identifier{cfg.Schema, cfg.Table}.Sanitize()
	if err := ensureTable(ctx, pool, cfg); err != nil {
		return nil, fmt.Errorf("pgcheckpoint: prepare table %s: %w", table, err)
	}
	return &Store{
		pool:  pool,
		table: table,
		load:  `SELECT position, state, saved FROM ` + table + ` WHERE name = $1`,
		save: `INSERT INTO ` + table + ` (name, position, state, saved) VALUES ($1, $2, $3, $4)
			ON CONFLICT (name) DO UPDATE SET position = excluded.position, state = excluded.state, saved = excluded.saved`,
	}, nil
}

// Load implements projections.CheckpointStore.
func (s *Store) Load(ctx context.Context, name string) (projections.Checkpoint, bool, error) {
	return s.loadFrom(ctx, s.pool, name)
}

// LoadTx is Load inside the caller's transaction tx.
func (s *Store) LoadTx(ctx context.Context, tx pgx.Tx, name string) (projections.Checkpoint, bool, error) {
	return s.loadFrom(ctx, tx, name)
}

// Save implements projections.CheckpointStore with one upsert, read
// committed. The last save of a name wins, even one behind the saved
// position (a runner that overlaps its successor in a rolling deploy, a
// Rebuild): each checkpoint is a whole, a position with the state at it,
// so an older one costs its runner only a longer catch-up.
func (s *Store) Save(ctx context.Context, name string, cp projections.Checkpoint) error {
	// Read committed whatever the server's default: under repeatable read
	// or serializable, two runners of one name saving at once (an old and
	// a new one overlapping in a rolling deploy) would fail with a
	// serialization error, where the upsert's row lock orders them.
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
		return s.saveTo(ctx, tx, name, cp)
	})
}

// SaveTx saves cp as the checkpoint of name inside the caller's
// transaction tx: it takes effect when, and only if, tx commits.
func (s *Store) SaveTx(ctx context.Context, tx pgx.Tx, name string, cp projections.Checkpoint) error {
	return s.saveTo(ctx, tx, name, cp)
}

// conn is what the store needs of a pool or a transaction.
type conn interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// checkName reports a projection name that a text column cannot hold.
func checkName(op, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%s checkpoint: empty projection name: %w", op, ErrInvalidCheckpoint)
	case len(name) > MaxName:
		return fmt.Errorf("%s checkpoint %.32q…: the name is %d bytes, more than %d: %w", op, name, len(name), MaxName, ErrInvalidCheckpoint)
	case !utf8.ValidString(name) || strings.ContainsRune(name, 0):
		return fmt.Errorf("%s checkpoint %q: the name is not UTF-8 text without NUL: %w", op, name, ErrInvalidCheckpoint)
	}
	return nil
}

func (s *Store) loadFrom(ctx context.Context, c conn, name string) (projections.Checkpoint, bool, error) {
	if err := checkName("load", name); err != nil {
		return projections.Checkpoint{}, false, err
	}
	var (
		pos   int64
		state []byte
		saved *time.Time
	)
	err := c.QueryRow(ctx, s.load, name).Scan(&pos, &state, &saved)
	if errors.Is(err, pgx.ErrNoRows) {
		return projections.Checkpoint{}, false, nil
	}
	if err != nil {
		return projections.Checkpoint{}, false, fmt.Errorf("load checkpoint %q from %s: %w", name, s.table, err)
	}
	cp := projections.Checkpoint{Position: uint64(pos), State: state}
	if saved != nil {
		cp.Saved = saved.UTC()
	}
	return cp, true, nil
}

func (s *Store) saveTo(ctx context.Context, c conn, name string, cp projections.Checkpoint) error {
	if err := checkName("save", name); err != nil {
		return err
	}
	if cp.Position > math.MaxInt64 {
		return fmt.Errorf("save checkpoint %q: position %d does not fit a bigint: %w", name, cp.Position, ErrInvalidCheckpoint)
	}
	var state []byte
	if len(cp.State) > 0 {
		state = cp.State
	}
	var saved *time.Time
	if !cp.Saved.IsZero() {
		saved = &cp.Saved
	}
	// QueryRow rather than Exec, so that pool and transaction share conn.
	var discard int
	err := c.QueryRow(ctx, s.save+` RETURNING 1`, name, int64(cp.Position), state, saved).Scan(&discard)
	if err != nil {
		return fmt.Errorf("save checkpoint %q at position %d to %s: %w", name, cp.Position, s.table, err)
	}
	return nil
}

// ensureTable creates or migrates the table to SchemaVersion (see
// pgtables.Versioned.Ensure).
func ensureTable(ctx context.Context, pool *pgxpool.Pool, cfg Config) error {
	table := pgx.Identifier{cfg.Schema, cfg.Table}.Sanitize()
	migrations := [SchemaVersion][]string{ // one a version, so that SchemaVersion is the last
		{`CREATE TABLE ` + table + ` (
			name text PRIMARY KEY,
			position bigint NOT NULL,
			state bytea,
			saved timestamptz
		)`},
	}
	return pgtables.Versioned{
		Schema: cfg.Schema, Table: table, Version: pgx.Identifier{cfg.Schema, cfg.Table + "_schema"}.Sanitize(),
		What: "a checkpoint table", Owner: "checkpoint store", Columns: []string{"name", "position", "state", "saved"},
		Migrations: migrations[:], Kind: ErrSchemaVersion,
	}.Ensure(ctx, pool)
}
