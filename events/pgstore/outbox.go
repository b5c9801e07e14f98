package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/components/forwarder"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/truefcr/truefcr/internal/pglock"
	"github.com/truefcr/truefcr/internal/pgtables"
)

// forwarderTopic is the Watermill topic of the outbox table. The table name
// comes from the store's Config, so one name serves every store.
const forwarderTopic = "truefcr_outbox"

// outboxChunk caps the messages of one insert (outboxAdapter), so that
// the arrays of one statement stay within some hundreds of kilobytes.
const outboxChunk = 1000

func outboxSchema(t tables) outboxAdapter {
	return outboxAdapter{wmsql.DefaultPostgreSQLSchema{
		GenerateMessagesTableName: func(string) string { return t.outbox },
		// The forwarder's envelopes are JSON, but bytea takes any marshaler.
		GeneratePayloadType: func(string) string { return "BYTEA" },
		// The store creates the tables in its own migration transaction.
		InitializeSchemaWithoutTransaction: true,
	}}
}

// outboxAdapter is watermill-sql's PostgreSQL schema of the outbox, whose
// rows it writes with one statement text whatever their number: the
// messages' ids, payloads and metadata come as three arrays, as the
// events' rows do. watermill-sql's own insert lists a VALUES row of three
// parameters for each message, a text for each count of messages, which
// pgx prepares anew and the server parses and plans at every append of a
// count it has not seen.
type outboxAdapter struct{ wmsql.DefaultPostgreSQLSchema }

// InsertQuery writes the rows in the order of msgs, the order the forwarder
// reads them back in (by offset, within the transaction).
func (a outboxAdapter) InsertQuery(p wmsql.InsertQueryParams) (wmsql.Query, error) {
	ids := make([]string, len(p.Msgs))
	payloads := make([][]byte, len(p.Msgs))
	metadata := make([]string, len(p.Msgs))
	for i, m := range p.Msgs {
		md, err := json.Marshal(m.Metadata)
		if err != nil {
			return wmsql.Query{}, fmt.Errorf("could not marshal metadata into JSON for message %s: %w", m.UUID, err)
		}
		ids[i], payloads[i], metadata[i] = m.UUID, m.Payload, string(md)
	}
	return wmsql.Query{
		Query: `INSERT INTO ` + a.MessagesTable(p.Topic) + ` (uuid, payload, metadata, transaction_id)
			SELECT u, p, m::json, pg_current_xact_id()
			FROM unnest($1::varchar[], $2::bytea[], $3::text[]) WITH ORDINALITY AS x(u, p, m, i) ORDER BY i`,
		Args: []any{ids, payloads, metadata},
	}, nil
}

func outboxOffsets(t tables) wmsql.DefaultPostgreSQLOffsetsAdapter {
	return wmsql.DefaultPostgreSQLOffsetsAdapter{
		GenerateMessagesOffsetsTableName: func(string) string { return t.offsets },
	}
}

// publishOutbox writes msgs to the outbox table inside tx, each enveloped
// for the forwarder with its destination topic, in the order given.
func (s *Store) publishOutbox(ctx context.Context, tx pgx.Tx, msgs []*message.Message, topics []string) error {
	sqlPub, err := wmsql.NewPublisher(wmsql.TxFromPgx(tx), wmsql.PublisherConfig{SchemaAdapter: s.outboxSchema}, s.cfg.Outbox.Logger)
	if err != nil {
		return err
	}
	pub := forwarder.NewPublisher(sqlPub, forwarder.PublisherConfig{ForwarderTopic: forwarderTopic})
	for _, m := range msgs {
		m.SetContext(ctx) // the SQL publisher runs its insert with the first message's context
	}
	for start := 0; start < len(msgs); {
		end := start + 1
		for end < len(msgs) && end-start < outboxChunk && topics[end] == topics[start] {
			end++
		}
		if err := pub.Publish(topics[start], msgs[start:end]...); err != nil {
			return fmt.Errorf("write %d messages for topic %q to outbox %s: %w", end-start, topics[start], s.t.outbox, err)
		}
		start = end
	}
	return nil
}

// ForwarderConfig configures a forwarder from a store's outbox.
type ForwarderConfig struct {
	// Schema and Table are those of the store's Config, with the same
	// defaults.
	Schema string
	Table  string
	// ConsumerGroup names the forwarder's offsets in the outbox; forwarders
	// of one group share the work, each message going to one of them.
	ConsumerGroup string
	// PollInterval is how long the forwarder waits before it looks again
	// at an outbox it found empty; one second by default.
	PollInterval time.Duration
	// AckDeadline is how long a message may wait for the destination
	// publisher before it is sent again; 30 s by default.
	AckDeadline time.Duration
	// ResendInterval is how long the forwarder waits before it sends again
	// a message that its publisher refused (or that its middlewares
	// failed), holding back the messages after it; one second by default.
	// The pause cannot be cut short: Close waits for it, up to
	// CloseTimeout, so keep it below that.
	ResendInterval time.Duration
	// RetryInterval is how long the forwarder waits before it reads the
	// outbox again after a read failed (a lost connection, a database
	// restarting); one second by default.
	RetryInterval time.Duration
	// CloseTimeout bounds how long Close waits for messages in flight;
	// 30 s by default.
	CloseTimeout time.Duration
	// Middlewares wrap the forwarder's handler, the first outermost. The
	// outbox is forwarded in order: without them, a message that the
	// publisher keeps refusing (one over the broker's largest payload,
	// say) is sent again and again and holds back every message after it.
	// Watermill's middleware.PoisonQueue around a middleware.Retry moves
	// such a message to a topic of its own after a few tries and lets the
	// others go.
	Middlewares []message.HandlerMiddleware
	// Logger receives Watermill's logs; none by default.
	Logger watermill.LoggerAdapter
}

func (c *ForwarderConfig) setDefaults() {
	if c.Schema == "" {
		c.Schema = DefaultSchema
	}
	if c.Table == "" {
		c.Table = DefaultTable
	}
	if c.Logger == nil {
		c.Logger = watermill.NopLogger{}
	}
}

// Validate reports a configuration that cannot work, its empty fields
// taken as their defaults (as New takes them): the zero value is valid.
func (c ForwarderConfig) Validate() error {
	c.setDefaults()
	if err := validName("schema", c.Schema); err != nil {
		return err
	}
	if err := validName("table", c.Table); err != nil {
		return err
	}
	for _, d := range []struct {
		name string
		d    time.Duration
	}{
		{"PollInterval", c.PollInterval}, {"AckDeadline", c.AckDeadline}, {"ResendInterval", c.ResendInterval},
		{"RetryInterval", c.RetryInterval}, {"CloseTimeout", c.CloseTimeout},
	} {
		if d.d < 0 {
			return fmt.Errorf("pgstore forwarder: %s %v is negative: %w", d.name, d.d, ErrInvalidConfig)
		}
	}
	return nil
}

// NewForwarder returns Watermill's forwarder from the outbox of the store
// that cfg names to publisher: it reads the outbox in the order of the
// appends' transaction ids (Watermill's SQL subscriber), unwraps each
// message and publishes it to its destination topic, and marks it done
// only once publisher has taken it. Each stream's events keep their
// version order (an append to a stream takes its transaction id only once
// the appends to that stream before it have ended), and an append that
// another's returned before gets a later transaction; but appends that
// ran at once may be forwarded out of
// position order, and one that is slow to commit holds back those that
// committed after it. A crash between the append's
// commit and the publish therefore loses nothing; it may publish a message
// twice, with the same UUID (the event id), and so may any stop, a
// graceful Close too: the forwarder records its place once for each batch
// it reads (up to 100 messages), and a stop sends that batch again. The
// place is a transaction id, of the cluster that wrote it: after the
// database moved to another cluster (a dump and restore, a logical
// replica), NewForwarder and PruneOutbox refuse the offsets, saying how to
// reset them, while the new cluster's ids are behind the old one's (reset
// them as part of the move: later, they would pass for this cluster's). A message that the publisher
// refuses is sent again, cfg.ResendInterval later, until it goes,
// holding back the later ones, unless cfg.Middlewares put it aside. The store must exist (New made
// its tables) at cfg's Schema and Table, or NewForwarder refuses, as it
// would forward nothing; it creates the outbox tables when they do not
// exist, once the appends in flight of stores without an outbox have
// committed (it takes the row of <table>_head, which its role may then
// update). Start it with Run and stop it with Close.
func NewForwarder(ctx context.Context, pool *pgxpool.Pool, publisher message.Publisher, cfg ForwarderConfig) (*forwarder.Forwarder, error) {
	if pool == nil || publisher == nil {
		return nil, fmt.Errorf("pgstore forwarder: need a pool and a publisher: %w", ErrInvalidConfig)
	}
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	t := newTables(cfg.Schema, cfg.Table)
	// A forwarder of another schema or table than the store's would poll
	// an outbox of its own, which nothing fills, and forward nothing.
	exists, err := pgtables.Exists(ctx, pool, t.events)
	if err != nil {
		return nil, fmt.Errorf("pgstore forwarder: look for the store's table %s: %w", t.events, err)
	}
	if !exists {
		return nil, fmt.Errorf("pgstore forwarder: no event store at %s: create the store first (New), and give the forwarder its Schema and Table: %w",
			t.events, ErrInvalidConfig)
	}
	// Where the outbox tables are there, nothing is created: a role that
	// may only read and write them opens them (see schemaReady).
	err = pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := outboxReady(ctx, tx, t); err != nil {
			return err
		}
		return checkOffsets(ctx, tx, t)
	})
	if errors.Is(err, errNotReady) {
		err = pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error { // as ensureSchema
			if err := pglock.LockSchema(ctx, tx, cfg.Schema); err != nil {
				return err
			}
			if err := createOutbox(ctx, tx, t); err != nil {
				return err
			}
			return checkOffsets(ctx, tx, t)
		})
	}
	if err != nil {
		return nil, fmt.Errorf("pgstore forwarder: prepare outbox %s: %w", t.outbox, err)
	}

	sub := wmsql.SubscriberConfig{
		ConsumerGroup:  cfg.ConsumerGroup,
		PollInterval:   cfg.PollInterval,
		ResendInterval: cfg.ResendInterval,
		RetryInterval:  cfg.RetryInterval,
		SchemaAdapter:  outboxSchema(t),
		OffsetsAdapter: outboxOffsets(t),
	}
	if cfg.AckDeadline > 0 {
		sub.AckDeadline = &cfg.AckDeadline
	}
	subscriber := &outboxSubscriber{}
	subscriber.Subscriber, err = wmsql.NewSubscriber(wmsql.BeginnerFromPgx(pool), sub, closingLogger{cfg.Logger, subscriber})
	if err != nil {
		return nil, fmt.Errorf("pgstore forwarder: %w", err)
	}
	f, err := forwarder.NewForwarder(subscriber, publisher, cfg.Logger, forwarder.Config{
		ForwarderTopic: forwarderTopic,
		HandlerName:    "truefcr_outbox_" + cfg.Schema + "_" + cfg.Table,
		CloseTimeout:   cfg.CloseTimeout,
		Middlewares:    cfg.Middlewares,
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore forwarder: %w", err)
	}
	return f, nil
}

// checkOffsets refuses offsets that lie beyond the transaction ids that
// the cluster handed out. The forwarder keeps its place as a transaction
// id, which means something in one cluster only: after the database moved
// to another (a dump and restore, a logical replica), ids start over
// below it, and the forwarder would pass over every message appended
// since, which PruneOutbox would then delete unsent. It can tell only
// while the new cluster's ids are behind the old one's: reset the offsets
// as part of such a move.
func checkOffsets(ctx context.Context, tx pgx.Tx, t tables) error {
	var group, at, next string
	err := tx.QueryRow(ctx, `SELECT consumer_group, last_processed_transaction_id::text, pg_snapshot_xmax(pg_current_snapshot())::text
		FROM `+t.offsets+` WHERE last_processed_transaction_id >= pg_snapshot_xmax(pg_current_snapshot()) LIMIT 1`).Scan(&group, &at, &next)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil
	case err != nil:
		return fmt.Errorf("read the offsets of %s: %w", t.offsets, err)
	}
	return fmt.Errorf("consumer group %q of %s stands at transaction %s, which this cluster has not reached (its next is %s): the database was moved from another cluster, whose transaction ids its offsets hold, and the messages appended since would never be forwarded. Set the transaction_id of every row of %s to '0' and every group's last_processed_transaction_id and offset_acked to 0, with no append running: the messages not yet pruned then go again in the order of their offsets, which keeps each stream's, duplicates under their event ids, and none is lost (drain and prune the outbox before a move to spare them): %w",
		group, t.offsets, at, next, t.outbox, ErrSchemaVersion)
}

// outboxSubscriber is the forwarder's SQL subscriber, which knows when it
// is being stopped: its subscription's context is done, or it is closed.
type outboxSubscriber struct {
	message.Subscriber
	mu      sync.Mutex
	ctxs    []context.Context
	closing bool
}

func (s *outboxSubscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	s.mu.Lock()
	s.ctxs = append(s.ctxs, ctx)
	s.mu.Unlock()
	return s.Subscriber.Subscribe(ctx, topic)
}

func (s *outboxSubscriber) Close() error {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	return s.Subscriber.Close()
}

// stopping reports whether the subscriber is being stopped.
func (s *outboxSubscriber) stopping() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ctx := range s.ctxs {
		if ctx.Err() != nil {
			return true
		}
	}
	return s.closing
}

// closingLogger is the subscriber's logger. Once the subscriber is being
// stopped, the query, rollback or commit that stopping interrupts fails,
// and Watermill logs that as an error: it is logged at debug level
// instead, as the forwarder stopping.
type closingLogger struct {
	watermill.LoggerAdapter
	sub *outboxSubscriber
}

func (l closingLogger) Error(msg string, err error, fields watermill.LogFields) {
	if l.sub.stopping() {
		l.LoggerAdapter.Debug(msg+" (stopping)", fields.Add(watermill.LogFields{"err": err}))
		return
	}
	l.LoggerAdapter.Error(msg, err, fields)
}

func (l closingLogger) With(fields watermill.LogFields) watermill.LoggerAdapter {
	return closingLogger{l.LoggerAdapter.With(fields), l.sub}
}

// PruneOutbox deletes the outbox messages that every consumer group of
// the outbox has forwarded, and returns how many it deleted. It keeps
// everything until a forwarder has run once; a consumer group that starts
// later sees only the messages not yet pruned. It refuses offsets of
// another cluster, as NewForwarder does, which would have it delete the
// messages appended since the database moved.
func (s *Store) PruneOutbox(ctx context.Context) (int64, error) {
	if s.cfg.Outbox == nil {
		return 0, fmt.Errorf("prune outbox of %s: the store has no outbox: %w", s.t.events, ErrInvalidConfig)
	}
	var pruned int64
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
		// Offsets of another cluster lie above every message appended
		// since the move: it would delete them unsent.
		if err := checkOffsets(ctx, tx, s.t); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM `+s.t.outbox+` o
			WHERE EXISTS (SELECT 1 FROM `+s.t.offsets+`)
			AND NOT EXISTS (SELECT 1 FROM `+s.t.offsets+` f
				WHERE (o.transaction_id, o."offset") > (f.last_processed_transaction_id, f.offset_acked))`)
		pruned = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("prune outbox %s: %w", s.t.outbox, err)
	}
	return pruned, nil
}
