package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
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
// or none. Each batch is checked as Append checks it; a stream that is not
// at its expected version fails the whole call with a
// *events.VersionConflictError that names it. The events get positions in
// the order of batches and events given. It returns the events of each
// batch with their Position set.
func (s *Store) AppendBatch(ctx context.Context, batches []Batch) ([][]events.Envelope, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", appendOf(batches), err)
	}
	if s.foreignOutbox.Load() {
		return nil, fmt.Errorf("%s: %w", appendOf(batches), s.errForeignOutbox())
	}
	cols, err := s.prepare(batches)
	if err != nil {
		return nil, err
	}
	if cols.n == 0 {
		return nil, nil
	}
	u := &unit{batches: batches, cols: cols}
	if len(batches) == 1 && s.cfg.MaxGroup > 1 {
		s.group.run(ctx, u, s.commit)
	} else {
		s.commit(ctx, []*unit{u})
	}
	if u.err != nil {
		return nil, u.err
	}
	return u.out, nil
}

// columns holds the rows of an append as the arrays the insert takes.
type columns struct {
	n         int
	positions []int64
	ids       []pgtype.UUID // see pgUUID
	issues    []pgtype.UUID
	versions  []int64
	types     []string
	ats       []time.Time
	payloads  [][]byte

	msgs   []*message.Message // outbox messages, one per event
	topics []string
}

// newColumns returns empty columns with room for n rows.
func newColumns(n int) *columns {
	return &columns{
		n:         n,
		positions: make([]int64, n),
		ids:       make([]pgtype.UUID, 0, n),
		issues:    make([]pgtype.UUID, 0, n),
		versions:  make([]int64, 0, n),
		types:     make([]string, 0, n),
		ats:       make([]time.Time, 0, n),
		payloads:  make([][]byte, 0, n),
	}
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
	c := newColumns(n)
	out := s.cfg.Outbox
	for _, b := range batches {
		for _, e := range b.Events {
			p, err := s.cfg.Codec.Append(nil, e)
			if err != nil {
				return nil, err
			}
			c.ids = append(c.ids, pgUUID(e.ID))
			c.issues = append(c.issues, pgUUID(e.Issue))
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
