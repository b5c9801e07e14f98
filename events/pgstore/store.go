package pgstore

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math"
	"sync/atomic"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/truefcr/truefcr/events"
)

// Store is an events.Store in Postgres. It is safe for concurrent use; the
// pool is the caller's, and the caller closes it.
type Store struct {
	pool *pgxpool.Pool
	cfg  Config
	t    tables
	q    queries

	group group

	outboxSchema outboxAdapter // zero unless cfg.Outbox is set
	// foreignOutbox: cfg has no outbox and the tables have one (when the
	// store opened, or since an append found it): the store reads, and
	// refuses to append.
	foreignOutbox atomic.Bool
}

var _ events.Store = (*Store)(nil)

// queries holds the store's SQL, built once from its table names.
type queries struct {
	create, update, version, stored, head, behind, insert, load, page, status, eventID string
	lockShared, lockAlone, lockStreams                                                 string
}

// newQueries builds the queries of a store on t; the insert of a store
// without an outbox (guard) inserts nothing once t has one.
func newQueries(t tables, guard bool) queries {
	q := queries{
		create:  `INSERT INTO ` + t.streams + ` (issue, version) VALUES ($1, $2) ON CONFLICT (issue) DO NOTHING`,
		update:  `UPDATE ` + t.streams + ` SET version = $3 WHERE issue = $1 AND version = $2`,
		version: `SELECT version FROM ` + t.streams + ` WHERE issue = $1`,
		stored:  `SELECT coalesce(max(version), 0) FROM ` + t.events + ` WHERE issue = $1`,
		head:    `UPDATE ` + t.head + ` SET position = position + $1 RETURNING position, txid_current()`,
		// The head of positions and the last position taken, which
		// only a restore or a reset by hand puts ahead of it.
		behind: `SELECT (SELECT position FROM ` + t.head + `), (SELECT coalesce(max(position), 0) FROM ` + t.events + `)`,
		insert: `INSERT INTO ` + t.events + ` (position, id, issue, version, type, at, payload)
			SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::uuid[], $4::bigint[], $5::text[], $6::timestamptz[], $7::bytea[]) AS e`,
		load: `SELECT position, payload FROM ` + t.events + ` WHERE issue = $1 ORDER BY version`,
		page: `SELECT position, payload FROM ` + t.events + ` WHERE position > $1 ORDER BY position LIMIT $2`,
		// The outcome of a transaction whose COMMIT's answer was lost:
		// committed, aborted, in progress, or null when too old to tell.
		status: `SELECT txid_status($1)`,
		// The id of the event at one version of a stream.
		eventID: `SELECT id FROM ` + t.events + ` WHERE issue = $1 AND version = $2`,
		// The advisory locks of an append to the outbox (see
		// claimStreams): the table's, shared or alone, and those of
		// streams (streamLockKeys), taken in the order given (volatile
		// functions of a SELECT's output run after its ORDER BY).
		lockShared:  `SELECT pg_advisory_xact_lock_shared($1)`,
		lockAlone:   `SELECT pg_advisory_xact_lock($1)`,
		lockStreams: `SELECT count(*) FROM (SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) WITH ORDINALITY AS u(k, i) ORDER BY i) l`,
	}
	if guard {
		// Unless the table of the outbox's name ($8) is an outbox (has
		// the columns $9: another store's events table may have that
		// name), as schemaReady tells. Evaluated once, after the append
		// took the head row, which adding an outbox takes too
		// (createOutbox): an outbox committed before is seen here.
		q.insert += ` WHERE NOT ` + isOutbox("$8", "$9")
	}
	return q
}

// New returns a Store on pool configured by cfg. It creates the schema and
// tables when they do not exist and migrates older ones, and touches
// nothing when they are there at SchemaVersion; it refuses tables of a
// newer schema version or written with another codec (ErrSchemaVersion).
// A store whose cfg has no Outbox, on tables that have one, reads them
// but refuses to append (ErrInvalidConfig): its events would never be
// forwarded. That holds for an outbox that another process adds once the
// store is open: adding it waits for the appends in flight, and the
// appends after it are refused.
func New(ctx context.Context, pool *pgxpool.Pool, cfg Config) (*Store, error) {
	if pool == nil {
		return nil, fmt.Errorf("pgstore: no pool: %w", ErrInvalidConfig)
	}
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	t := newTables(cfg.Schema, cfg.Table)
	foreign, err := ensureSchema(ctx, pool, cfg, t)
	if err != nil {
		return nil, fmt.Errorf("pgstore: prepare tables %s: %w", t.events, err)
	}
	s := &Store{pool: pool, cfg: cfg, t: t, q: newQueries(t, cfg.Outbox == nil), group: group{max: cfg.MaxGroup}}
	s.foreignOutbox.Store(foreign)
	if cfg.Outbox != nil {
		s.outboxSchema = outboxSchema(t)
	}
	return s, nil
}

// errForeignOutbox is the error of an append by a store without an
// outbox to tables that have one.
func (s *Store) errForeignOutbox() error {
	return fmt.Errorf("table %s has an outbox, %s, and the store's Config has none: its events would never be forwarded; open the store with Config.Outbox to append: %w",
		s.t.events, s.t.outbox, ErrInvalidConfig)
}

// Append implements events.Store. With an outbox, it also writes one
// message per event to the outbox table in the same transaction.
// Concurrent appends may share that transaction (Config.MaxGroup); each
// still stores all its events or none.
func (s *Store) Append(ctx context.Context, issue uuid.UUID, expected uint64, evs []events.Envelope) ([]events.Envelope, error) {
	out, err := s.AppendBatch(ctx, []Batch{{Issue: issue, Expected: expected, Events: evs}})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// pgUUID returns id as pgx encodes a uuid without detour: a pgtype.UUID.
// pgx sends a uuid.UUID through its driver.Valuer, a string, which the
// binary format of a uuid parameter refuses; pgx then formats that error,
// drops it, and parses the string back into bytes. Every parameter and
// array element paid that, a third of an append's CPU. A bare [16]byte
// would do as well where the server has described the statement, but
// pgx finds no type for it in the modes that describe nothing
// (QueryExecModeExec, QueryExecModeSimpleProtocol, as behind PgBouncer).
func pgUUID(id uuid.UUID) pgtype.UUID { return pgtype.UUID{Bytes: id, Valid: true} }

// Load implements events.Store.
func (s *Store) Load(ctx context.Context, issue uuid.UUID) ([]events.Envelope, error) {
	rows, err := s.pool.Query(ctx, s.q.load, pgUUID(issue))
	if err != nil {
		return nil, fmt.Errorf("load issue %s: %w", issue, err)
	}
	var raw []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.position, &r.payload); err != nil {
			rows.Close()
			return nil, fmt.Errorf("load issue %s: %w", issue, err)
		}
		raw = append(raw, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load issue %s: %w", issue, err)
	}
	out := make([]events.Envelope, len(raw))
	for i, r := range raw {
		e, err := s.decode(r)
		if err != nil {
			return nil, err
		}
		out[i] = e
	}
	return out, nil
}

// ReadAll implements events.Store. Positions become visible in commit
// order, so a reader that resumes after the last position it saw never
// misses an event that a concurrent append commits later.
func (s *Store) ReadAll(ctx context.Context, after uint64) iter.Seq2[events.Envelope, error] {
	return func(yield func(events.Envelope, error) bool) {
		if after >= math.MaxInt64 {
			return // positions are bigint: nothing lies beyond
		}
		next := after
		for {
			if err := ctx.Err(); err != nil {
				yield(events.Envelope{}, err)
				return
			}
			// Fetch a page and release the connection before yielding, so
			// that a slow consumer holds no connection.
			page, err := s.page(ctx, next)
			if err != nil {
				yield(events.Envelope{}, fmt.Errorf("read events after position %d: %w", next, err))
				return
			}
			for _, r := range page {
				e, err := s.decode(r)
				if err != nil {
					yield(events.Envelope{}, err)
					return
				}
				if !yield(e, nil) {
					return
				}
				next = e.Position
			}
			if len(page) < s.cfg.ReadBatch {
				return
			}
		}
	}
}

// row is one stored event, still encoded.
type row struct {
	position int64
	payload  []byte
}

func (s *Store) page(ctx context.Context, after uint64) ([]row, error) {
	rows, err := s.pool.Query(ctx, s.q.page, int64(after), s.cfg.ReadBatch)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	page := make([]row, 0, s.cfg.ReadBatch)
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.position, &r.payload); err != nil {
			return nil, err
		}
		page = append(page, r)
	}
	return page, rows.Err()
}

func (s *Store) decode(r row) (events.Envelope, error) {
	e, err := s.cfg.Codec.Decode(r.payload)
	var unknown *events.UnknownTypeError
	switch {
	case err == nil:
	case s.cfg.SkipUnknownTypes && errors.As(err, &unknown):
		e = unknown.Opaque()
	default:
		return events.Envelope{}, fmt.Errorf("decode event at position %d of %s: %w", r.position, s.t.events, err)
	}
	e.Position = uint64(r.position)
	return e, nil
}
