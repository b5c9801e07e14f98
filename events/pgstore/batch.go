package pgstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/truefcr/truefcr/events"
)

// Batch is the events to append to one stream in an AppendBatch: the
// arguments of one Append.
type Batch struct {
	// Issue is the stream to append to.
	Issue uuid.UUID
	// Expected is the version the stream must be at; 0 for a new stream.
	Expected uint64
	// Events are the events to append, versions Expected+1, Expected+2, ….
	Events []events.Envelope
}

// AppendBatch appends to several streams in one transaction: all batches
// or none. Each batch is checked as Append checks it; the first stream
// that is not at its expected version fails the whole call with a
// *events.VersionConflictError. The events get positions in the order of
// batches and events given. It returns the events of each batch with
// their Position set.
func (s *Store) AppendBatch(ctx context.Context, batches []Batch) ([][]events.Envelope, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cols, err := s.prepare(batches)
	if err != nil {
		return nil, err
	}
	if cols.n == 0 {
		return nil, nil
	}

	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, s.fail(ctx, batches, err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }() // a no-op after Commit

	if err := s.claimStreams(ctx, tx, batches); err != nil {
		return nil, s.fail(ctx, batches, err)
	}
	// The outbox needs no positions: it goes before them.
	if len(cols.msgs) > 0 {
		if err := s.publishOutbox(ctx, tx, cols.msgs, cols.topics); err != nil {
			return nil, s.fail(ctx, batches, err)
		}
	}
	// Positions are allocated last, right before the events' insert, to
	// hold the head row's lock (which orders all appends) as briefly as
	// possible.
	var head int64
	if err := tx.QueryRow(ctx, s.q.head, cols.n).Scan(&head); err != nil {
		return nil, s.fail(ctx, batches, err)
	}
	for i := range cols.positions {
		cols.positions[i] = head - int64(cols.n) + int64(i) + 1
	}
	if _, err := tx.Exec(ctx, s.q.insert,
		cols.positions, cols.ids, cols.issues, cols.versions, cols.types, cols.ats, cols.payloads); err != nil {
		return nil, s.fail(ctx, batches, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, s.fail(ctx, batches, err)
	}

	out := make([][]events.Envelope, len(batches))
	k := 0
	for i, b := range batches {
		out[i] = make([]events.Envelope, len(b.Events))
		for j, e := range b.Events {
			e.Position = uint64(cols.positions[k])
			out[i][j] = e
			k++
		}
	}
	return out, nil
}

// columns holds the rows of an append as the arrays the insert takes.
type columns struct {
	n         int
	positions []int64
	ids       []uuid.UUID
	issues    []uuid.UUID
	versions  []int64
	types     []string
	ats       []time.Time
	payloads  [][]byte

	msgs   []*message.Message // outbox messages, one per event
	topics []string
}

// prepare checks batches and encodes their events, before any I/O.
func (s *Store) prepare(batches []Batch) (*columns, error) {
	n := 0
	seen := make(map[uuid.UUID]struct{}, len(batches))
	for i, b := range batches {
		if err := events.CheckAppend(b.Issue, b.Expected, b.Events); err != nil {
			return nil, err
		}
		if _, dup := seen[b.Issue]; dup {
			return nil, fmt.Errorf("append batch %d to issue %s: the issue has an earlier batch in the same call: %w",
				i, b.Issue, events.ErrInvalidEvent)
		}
		seen[b.Issue] = struct{}{}
		if last := b.Expected + uint64(len(b.Events)); last > maxBigint {
			return nil, fmt.Errorf("append to issue %s: version %d does not fit a bigint: %w", b.Issue, last, events.ErrInvalidEvent)
		}
		n += len(b.Events)
	}
	c := &columns{
		n:         n,
		positions: make([]int64, n),
		ids:       make([]uuid.UUID, 0, n),
		issues:    make([]uuid.UUID, 0, n),
		versions:  make([]int64, 0, n),
		types:     make([]string, 0, n),
		ats:       make([]time.Time, 0, n),
		payloads:  make([][]byte, 0, n),
	}
	out := s.cfg.Outbox
	for _, b := range batches {
		for _, e := range b.Events {
			p, err := s.cfg.Codec.Append(nil, e)
			if err != nil {
				return nil, err
			}
			c.ids = append(c.ids, e.ID)
			c.issues = append(c.issues, e.Issue)
			c.versions = append(c.versions, int64(e.Version))
			c.types = append(c.types, string(e.Type()))
			c.ats = append(c.ats, e.At)
			c.payloads = append(c.payloads, p)
			if out != nil {
				msg, err := events.NewMessage(out.Codec, e)
				if err != nil {
					return nil, err
				}
				topic := out.Topic(e)
				if topic == "" {
					return nil, fmt.Errorf("append to issue %s version %d: the outbox topic function names no topic: %w",
						e.Issue, e.Version, ErrInvalidConfig)
				}
				c.msgs = append(c.msgs, msg)
				c.topics = append(c.topics, topic)
			}
		}
	}
	return c, nil
}

const maxBigint = 1<<63 - 1

// claimStreams moves every stream of batches to its new version if it is
// at the expected one, taking the streams' row locks in issue order so
// that concurrent batches cannot deadlock.
func (s *Store) claimStreams(ctx context.Context, tx pgx.Tx, batches []Batch) error {
	order := make([]int, len(batches))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return bytes.Compare(batches[a].Issue[:], batches[b].Issue[:]) })

	var q pgx.Batch
	for _, i := range order {
		b := batches[i]
		next := int64(b.Expected) + int64(len(b.Events))
		if b.Expected == 0 {
			q.Queue(s.q.create, b.Issue, next)
		} else {
			q.Queue(s.q.update, b.Issue, int64(b.Expected), next)
		}
	}
	br := tx.SendBatch(ctx, &q)
	lost := -1
	for _, i := range order {
		tag, err := br.Exec()
		if err != nil {
			_ = br.Close()
			return err
		}
		if tag.RowsAffected() == 0 && lost < 0 {
			lost = i
		}
	}
	if err := br.Close(); err != nil {
		return err
	}
	if lost < 0 {
		return nil
	}
	b := batches[lost]
	actual, err := s.version(ctx, tx, b.Issue)
	if err != nil {
		return err
	}
	return &events.VersionConflictError{Issue: b.Issue, Expected: b.Expected, Actual: actual}
}

// querier is what version needs of a pool or a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// version returns the current version of the stream of issue; 0 when it
// has none.
func (s *Store) version(ctx context.Context, q querier, issue uuid.UUID) (uint64, error) {
	var v int64
	err := q.QueryRow(ctx, s.q.version, issue).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return uint64(v), err
}

// fail turns the error of an append into the caller's terms. A unique
// violation on (issue, version), possible only if a writer bypassed the
// streams table, is reported as the version conflict that it is.
func (s *Store) fail(ctx context.Context, batches []Batch, err error) error {
	var conflict *events.VersionConflictError
	if errors.As(err, &conflict) {
		return err
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		for _, b := range batches {
			var actual int64
			if s.pool.QueryRow(ctx, s.q.stored, b.Issue).Scan(&actual) == nil && uint64(actual) != b.Expected {
				return &events.VersionConflictError{Issue: b.Issue, Expected: b.Expected, Actual: uint64(actual)}
			}
		}
	}
	if len(batches) == 1 {
		return fmt.Errorf("append to issue %s: %w", batches[0].Issue, err)
	}
	return fmt.Errorf("append batch of %d streams: %w", len(batches), err)
}
