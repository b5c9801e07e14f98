package pgstore_test

import (
	"cmp"
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/events/pgstore"
	"github.com/truefcr/truefcr/events/pgstore/pgtest"
)

func TestOutboxForwardsEveryEventOnce(t *testing.T) {
	partitioned := events.PartitionedTopic("contact.events", 3)
	tests := []struct {
		name   string
		topic  func(events.Envelope) string // nil: the default
		topics []string
	}{
		{"default topic", nil, []string{events.DefaultTopic}},
		{"partitioned", partitioned, []string{"contact.events.0", "contact.events.1", "contact.events.2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, pool, cfg := newStore(t, pgstore.Config{Outbox: &pgstore.OutboxConfig{Topic: tt.topic}})
			ctx := t.Context()

			// Appended while no forwarder runs, as after a crash right
			// after the commits: the outbox must still deliver them.
			var appended []events.Envelope
			for range 4 {
				issue := uuid.New()
				out, err := s.Append(ctx, issue, 0, stream(issue, 0, 3))
				require.NoError(t, err)
				appended = append(appended, out...)
			}
			a, b := uuid.New(), appended[0].Issue
			batch, err := s.AppendBatch(ctx, []pgstore.Batch{
				{Issue: a, Events: stream(a, 0, 2)},
				{Issue: b, Expected: 3, Events: stream(b, 3, 2)},
			})
			require.NoError(t, err)
			appended = append(appended, batch[0]...)
			appended = append(appended, batch[1]...)

			// A lost race writes no message either.
			lost := stream(b, 3, 1)
			_, err = s.Append(ctx, b, 3, lost)
			require.ErrorIs(t, err, events.ErrVersionConflict)
			var pending int
			require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM "+pgtest.Ident(cfg.Schema, pgstore.DefaultTable+"_outbox")).Scan(&pending))
			assert.Equal(t, len(appended), pending, "one outbox message per stored event")

			got := forward(t, pool, cfg, tt.topics, len(appended))
			byID := make(map[string]receivedMsg, len(got))
			for _, m := range got {
				_, dup := byID[m.msg.UUID]
				assert.False(t, dup, "message %s delivered twice", m.msg.UUID)
				byID[m.msg.UUID] = m
			}
			codec := events.NewMsgpackCodec(nil)
			for _, e := range appended {
				m, ok := byID[e.ID.String()]
				if !assert.True(t, ok, "event %s (issue %s version %d) was not forwarded", e.ID, e.Issue, e.Version) {
					continue
				}
				want, err := events.NewMessage(codec, e)
				require.NoError(t, err)
				assert.Equal(t, want.Metadata, m.msg.Metadata, "metadata as on the in-memory path")
				p, ok := events.MessagePosition(m.msg)
				assert.True(t, ok && p == e.Position, "the message carries its event's position %d: %d", e.Position, p)
				decoded, err := events.DecodeMessage(m.msg)
				require.NoError(t, err)
				e.Position = 0
				assert.Equal(t, e, decoded)
				wantTopic := events.DefaultTopic
				if tt.topic != nil {
					wantTopic = tt.topic(e)
				}
				assert.Equal(t, wantTopic, m.topic)
			}
			assert.NotContains(t, byID, lost[0].ID.String())
			assertVersionOrder(t, got)
		})
	}
}

type receivedMsg struct {
	topic string
	msg   *message.Message
}

// forward runs a forwarder from the store's outbox into a GoChannel that
// publishes one message at a time, and returns what arrives on topics:
// want messages, and whatever else arrives within a short grace period.
func forward(t *testing.T, pool *pgxpool.Pool, cfg pgstore.Config, topics []string, want int) []receivedMsg {
	return forwardWhile(t, pool, cfg, topics, want, nil)
}

// forwardWhile is forward with write running beside the forwarder.
func forwardWhile(t *testing.T, pool *pgxpool.Pool, cfg pgstore.Config, topics []string, want int, write func()) []receivedMsg {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	logger := watermill.NopLogger{}
	pubsub := gochannel.NewGoChannel(gochannel.Config{BlockPublishUntilSubscriberAck: true}, logger)
	defer func() { _ = pubsub.Close() }()

	received := make(chan receivedMsg)
	for _, topic := range topics {
		msgs, err := pubsub.Subscribe(ctx, topic)
		require.NoError(t, err)
		go func() {
			for m := range msgs {
				select { // record before acking: the next publish waits for the ack
				case received <- receivedMsg{topic: topic, msg: m}:
					m.Ack()
				case <-ctx.Done():
					return
				}
			}
		}()
	}

	fwd, err := pgstore.NewForwarder(ctx, pool, pubsub, pgstore.ForwarderConfig{
		Schema: cfg.Schema, Table: cfg.Table, PollInterval: 20 * time.Millisecond, Logger: logger,
	})
	require.NoError(t, err)
	runErr := make(chan error, 1)
	go func() { runErr <- fwd.Run(ctx) }()
	defer func() {
		require.NoError(t, fwd.Close())
		require.NoError(t, <-runErr)
	}()
	if write != nil {
		writing := make(chan struct{})
		go func() { defer close(writing); write() }()
		defer func() { <-writing }()
	}

	var got []receivedMsg
	timeout := time.After(60 * time.Second) // the outbox waits for every older transaction of the server
	for len(got) < want {
		select {
		case m := <-received:
			got = append(got, m)
		case <-timeout:
			require.Failf(t, "outbox not forwarded", "received %d of %d messages", len(got), want)
		}
	}
	grace := time.After(300 * time.Millisecond) // a few polls, for duplicates
	for {
		select {
		case m := <-received:
			got = append(got, m)
		case <-grace:
			return got
		}
	}
}

// assertVersionOrder checks that each issue's events arrived in version
// order.
func assertVersionOrder(t *testing.T, got []receivedMsg) {
	t.Helper()
	last := make(map[string]uint64)
	for _, m := range got {
		issue := m.msg.Metadata.Get(events.MetadataIssue)
		version, err := strconv.ParseUint(m.msg.Metadata.Get(events.MetadataVersion), 10, 64)
		require.NoError(t, err)
		assert.Equal(t, last[issue]+1, version, "issue %s: version %d arrived after %d", issue, version, last[issue])
		last[issue] = version
	}
}

func TestForwarderResumesWhereItStoppedAndPrunes(t *testing.T) {
	s, pool, cfg := newStore(t, pgstore.Config{Outbox: &pgstore.OutboxConfig{}})
	ctx := t.Context()
	appendSome := func(n int) []events.Envelope {
		issue := uuid.New()
		out, err := s.Append(ctx, issue, 0, stream(issue, 0, n))
		require.NoError(t, err)
		return out
	}

	first := appendSome(4)
	pruned, err := s.PruneOutbox(ctx)
	require.NoError(t, err)
	assert.Zero(t, pruned, "nothing is pruned before it is forwarded")
	got := forward(t, pool, cfg, []string{events.DefaultTopic}, len(first))
	assert.Equal(t, ids(first), receivedIDs(got))

	// A new forwarder, as after a restart, sends only what came since.
	second := appendSome(3)
	pruned, err = s.PruneOutbox(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(len(first)), pruned, "what was forwarded is pruned, what was not is kept")
	got = forward(t, pool, cfg, []string{events.DefaultTopic}, len(second))
	assert.Equal(t, ids(second), receivedIDs(got))
}

func ids(evs []events.Envelope) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID.String()
	}
	return out
}

func receivedIDs(got []receivedMsg) []string {
	out := make([]string, len(got))
	for i, m := range got {
		out[i] = m.msg.UUID
	}
	return out
}

func TestPruneOutboxNeedsAnOutbox(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t, pgstore.Config{})
	_, err := s.PruneOutbox(t.Context())
	assert.ErrorIs(t, err, pgstore.ErrInvalidConfig)
}

func TestOutboxRefusesAnEventWithoutTopic(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t, pgstore.Config{Outbox: &pgstore.OutboxConfig{Topic: func(events.Envelope) string { return "" }}})
	issue := uuid.New()
	_, err := s.Append(t.Context(), issue, 0, stream(issue, 0, 1))
	assert.ErrorIs(t, err, pgstore.ErrInvalidConfig)
	loaded, err := s.Load(t.Context(), issue)
	require.NoError(t, err)
	assert.Empty(t, loaded)
}

// TestOutboxUnderConcurrentWriters forwards while writers append: every
// event arrives once, and each issue's events in version order.
func TestOutboxUnderConcurrentWriters(t *testing.T) {
	const writers, issues, perIssue = 4, 5, 4
	s, pool, cfg := newStore(t, pgstore.Config{Outbox: &pgstore.OutboxConfig{}})
	ctx := t.Context()
	var mu sync.Mutex
	var appended []events.Envelope
	write := func() {
		var wg sync.WaitGroup
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range issues {
					issue := uuid.New()
					for v := range perIssue { // one event per append, as a command service writes
						out, err := s.Append(ctx, issue, uint64(v), stream(issue, uint64(v), 1))
						if err != nil {
							t.Errorf("writer %d: %v", w, err)
							return
						}
						mu.Lock()
						appended = append(appended, out...)
						mu.Unlock()
					}
				}
			}()
		}
		wg.Wait()
	}
	got := forwardWhile(t, pool, cfg, []string{events.DefaultTopic}, writers*issues*perIssue, write)
	assert.ElementsMatch(t, ids(appended), receivedIDs(got))
	assertVersionOrder(t, got)
}

// recordingPublisher takes every message but the one it refuses, and
// sends those it took to got.
type recordingPublisher struct {
	refuse string
	got    chan *message.Message
}

func (p recordingPublisher) Publish(_ string, msgs ...*message.Message) error {
	for _, m := range msgs {
		if m.UUID == p.refuse {
			return errors.New("maximum payload exceeded")
		}
		p.got <- m
	}
	return nil
}

func (recordingPublisher) Close() error { return nil }

// A message the destination keeps refusing goes to the poison topic that
// the middlewares name after a few tries, and the messages after it are
// forwarded; without them it would hold them back for good.
func TestForwarderPutsAsideAMessageThePublisherRefuses(t *testing.T) {
	s, pool, cfg := newStore(t, pgstore.Config{Outbox: &pgstore.OutboxConfig{}})
	ctx := t.Context()
	sent := ids(appendIssues(t, s, 5, 1))
	dest := recordingPublisher{refuse: sent[0], got: make(chan *message.Message, len(sent))}
	poisoned := recordingPublisher{got: make(chan *message.Message, len(sent))}
	poison, err := middleware.PoisonQueue(poisoned, "outbox_poison")
	require.NoError(t, err)
	retry := middleware.Retry{MaxRetries: 2, InitialInterval: time.Millisecond}
	fwd, err := pgstore.NewForwarder(ctx, pool, dest, pgstore.ForwarderConfig{
		Schema: cfg.Schema, Table: cfg.Table, PollInterval: 20 * time.Millisecond,
		Middlewares: []message.HandlerMiddleware{poison, retry.Middleware},
	})
	require.NoError(t, err)
	runErr := make(chan error, 1)
	go func() { runErr <- fwd.Run(ctx) }()
	var got []string
	timeout := time.After(60 * time.Second)
	for len(got) < len(sent)-1 {
		select {
		case m := <-dest.got:
			got = append(got, m.UUID)
		case <-timeout:
			require.Failf(t, "outbox held back", "forwarded %d of %d messages", len(got), len(sent)-1)
		}
	}
	require.NoError(t, fwd.Close())
	require.NoError(t, <-runErr)
	assert.Equal(t, sent[1:], got, "the messages after the refused one, in order")
	require.Len(t, poisoned.got, 1)
	m := <-poisoned.got
	assert.Contains(t, string(m.Payload), sent[0], "the refused message, in its outbox envelope")
	assert.Contains(t, m.Metadata.Get(middleware.ReasonForPoisonedKey), "maximum payload exceeded")
}

// flakyPublisher refuses the first try of each message and takes the
// next, noting when each try came.
type flakyPublisher struct {
	mu    sync.Mutex
	tries map[string][]time.Time
	got   chan string
}

func (p *flakyPublisher) Publish(_ string, msgs ...*message.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range msgs {
		p.tries[m.UUID] = append(p.tries[m.UUID], time.Now())
		if len(p.tries[m.UUID]) == 1 {
			return errors.New("broker unavailable")
		}
		p.got <- m.UUID
	}
	return nil
}

func (*flakyPublisher) Close() error { return nil }

// A message that the publisher refused is sent again after
// ResendInterval, and the outbox is read again RetryInterval after a read
// failed: both are the configured ones, not Watermill's second. Each is
// set above that second, so that a pause of the default would be too
// short.
func TestForwarderWaitsTheConfiguredIntervals(t *testing.T) {
	s, pool, cfg := newStore(t, pgstore.Config{Outbox: &pgstore.OutboxConfig{}})
	ctx := t.Context()
	const resend, retry = 1500 * time.Millisecond, 1700 * time.Millisecond
	dest := &flakyPublisher{tries: map[string][]time.Time{}, got: make(chan string, 10)}
	logs := watermill.NewCaptureLogger()
	fwd, err := pgstore.NewForwarder(ctx, pool, dest, pgstore.ForwarderConfig{
		Schema: cfg.Schema, Table: cfg.Table, PollInterval: 10 * time.Millisecond,
		ResendInterval: resend, RetryInterval: retry, Logger: logs,
	})
	require.NoError(t, err)
	runErr := make(chan error, 1)
	go func() { runErr <- fwd.Run(ctx) }()
	defer func() {
		require.NoError(t, fwd.Close())
		require.NoError(t, <-runErr)
	}()

	sent := ids(appendIssues(t, s, 1, 1))
	select {
	case id := <-dest.got:
		require.Equal(t, sent[0], id)
	case <-time.After(30 * time.Second):
		require.FailNow(t, "the refused message was not sent again")
	}
	dest.mu.Lock()
	tries := dest.tries[sent[0]]
	dest.mu.Unlock()
	require.Len(t, tries, 2)
	assert.GreaterOrEqual(t, tries[1].Sub(tries[0]), resend, "the pause before the message was sent again")

	// A read that fails: the outbox is out of the way for a moment.
	table := cmp.Or(cfg.Table, pgstore.DefaultTable)
	_, err = pool.Exec(ctx, `ALTER TABLE `+pgx.Identifier{cfg.Schema, table + "_outbox"}.Sanitize()+` RENAME TO `+pgx.Identifier{table + "_away"}.Sanitize())
	require.NoError(t, err)
	failed := func() *watermill.CapturedMessage {
		for _, m := range logs.Captured()[watermill.ErrorLogLevel] {
			if m.Msg == "Error querying for message" {
				return &m
			}
		}
		return nil
	}
	require.Eventually(t, func() bool { return failed() != nil }, 30*time.Second, 5*time.Millisecond)
	assert.Equal(t, retry, failed().Fields["wait_time"], "the pause after the failed read")
	_, err = pool.Exec(ctx, `ALTER TABLE `+pgx.Identifier{cfg.Schema, table + "_away"}.Sanitize()+` RENAME TO `+pgx.Identifier{table + "_outbox"}.Sanitize())
	require.NoError(t, err)
	sent = ids(appendIssues(t, s, 1, 1))
	select {
	case id := <-dest.got:
		require.Equal(t, sent[0], id, "forwarded once the outbox is back")
	case <-time.After(30 * time.Second):
		require.FailNow(t, "nothing forwarded after the failed read")
	}
}

// slowPublisher takes each message a moment after it comes, counting them.
type slowPublisher struct{ n atomic.Int64 }

func (p *slowPublisher) Publish(_ string, msgs ...*message.Message) error {
	time.Sleep(time.Millisecond)
	p.n.Add(int64(len(msgs)))
	return nil
}

func (*slowPublisher) Close() error { return nil }

// Closing a forwarder in the middle of the outbox logs no error: the
// query, rollback or commit that closing interrupts is the forwarder
// stopping.
func TestForwarderClosedMidStreamLogsNoError(t *testing.T) {
	s, pool, cfg := newStore(t, pgstore.Config{Outbox: &pgstore.OutboxConfig{}})
	ctx := t.Context()
	logs := watermill.NewCaptureLogger()
	for round := range 5 {
		appendIssues(t, s, 100, 1)
		dest := &slowPublisher{}
		fwd, err := pgstore.NewForwarder(ctx, pool, dest, pgstore.ForwarderConfig{
			Schema: cfg.Schema, Table: cfg.Table, PollInterval: time.Millisecond, Logger: logs,
		})
		require.NoError(t, err)
		runErr := make(chan error, 1)
		go func() { runErr <- fwd.Run(ctx) }()
		require.Eventually(t, func() bool { return dest.n.Load() >= 20 }, 30*time.Second, time.Millisecond, "round %d", round)
		require.NoError(t, fwd.Close())
		require.NoError(t, <-runErr)
	}
	for _, m := range logs.Captured()[watermill.ErrorLogLevel] {
		t.Errorf("logged as an error: %s: %v %v", m.Msg, m.Err, m.Fields)
	}
}

// A forwarder given another schema than the store's is refused, rather
// than polling an outbox of its own that nothing fills.
func TestForwarderRefusesASchemaWithoutAStore(t *testing.T) {
	_, pool, cfg := newStore(t, pgstore.Config{Outbox: &pgstore.OutboxConfig{}})
	pubsub := gochannel.NewGoChannel(gochannel.Config{}, watermill.NopLogger{})
	defer pubsub.Close()
	_, err := pgstore.NewForwarder(t.Context(), pool, pubsub, pgstore.ForwarderConfig{Schema: cfg.Schema + "_other"})
	require.ErrorIs(t, err, pgstore.ErrInvalidConfig)
	assert.ErrorContains(t, err, "no event store at")
	_, err = pgstore.NewForwarder(t.Context(), pool, pubsub, pgstore.ForwarderConfig{Schema: cfg.Schema})
	require.NoError(t, err, "the store's own schema") // not Run: nothing to Close
}

// Offsets beyond the transaction ids this cluster handed out are those of
// another cluster (the database was moved by a dump and restore, or a
// logical replica): a forwarder on them would pass over every message
// appended since, and PruneOutbox would delete them unsent. Both refuse
// them, saying what to do; done, the messages appended since go out.
func TestTheOffsetsOfAnotherClusterAreRefused(t *testing.T) {
	s, pool, cfg := newStore(t, pgstore.Config{Outbox: &pgstore.OutboxConfig{}})
	ctx := context.Background()
	before := appendIssues(t, s, 2, 1)
	require.Len(t, forward(t, pool, cfg, []string{events.DefaultTopic}, len(before)), len(before))
	offsets, outbox := pgtest.Ident(cfg.Schema, pgstore.DefaultTable+"_outbox_offsets"), pgtest.Ident(cfg.Schema, pgstore.DefaultTable+"_outbox")
	// The old cluster's ids, a million ahead of this one's.
	_, err := pool.Exec(ctx, `UPDATE `+outbox+` SET transaction_id = (transaction_id::text::bigint + 1000000)::text::xid8`)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `UPDATE `+offsets+` SET last_processed_transaction_id = (last_processed_transaction_id::text::bigint + 1000000)::text::xid8`)
	require.NoError(t, err)
	since := appendIssues(t, s, 3, 1) // on the new cluster

	_, err = pgstore.NewForwarder(ctx, pool, gochannel.NewGoChannel(gochannel.Config{}, nil), pgstore.ForwarderConfig{Schema: cfg.Schema})
	require.ErrorIs(t, err, pgstore.ErrSchemaVersion)
	assert.ErrorContains(t, err, "which this cluster has not reached")
	assert.ErrorContains(t, err, "to '0' and every group's last_processed_transaction_id and offset_acked to 0")
	_, err = s.PruneOutbox(ctx)
	require.ErrorIs(t, err, pgstore.ErrSchemaVersion)
	var left int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM `+outbox).Scan(&left))
	assert.Equal(t, len(before)+len(since), left, "nothing pruned")

	// As the error says: reset. The messages not pruned go again.
	_, err = pool.Exec(ctx, `UPDATE `+outbox+` SET transaction_id = '0'`)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `UPDATE `+offsets+` SET last_processed_transaction_id = '0', offset_acked = 0`)
	require.NoError(t, err)
	got := forward(t, pool, cfg, []string{events.DefaultTopic}, len(before)+len(since))
	ids := map[string]bool{}
	for _, m := range got {
		ids[m.msg.UUID] = true
	}
	for _, e := range since {
		assert.True(t, ids[e.ID.String()], "event %s, appended since the move, is forwarded", e.ID)
	}
	pruned, err := s.PruneOutbox(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(len(before)+len(since)), pruned)
}

// The reset that the refusal advises keeps each stream's order: a group
// that lagged behind the one that tripped the check sends the version the
// old cluster wrote before the one the new cluster did.
func TestTheResetAfterAMoveKeepsEachStreamsOrder(t *testing.T) {
	s, pool, cfg := newStore(t, pgstore.Config{Outbox: &pgstore.OutboxConfig{}})
	ctx := context.Background()
	offsets, outbox := pgtest.Ident(cfg.Schema, pgstore.DefaultTable+"_outbox_offsets"), pgtest.Ident(cfg.Schema, pgstore.DefaultTable+"_outbox")
	issue := uuid.New()
	v1, err := s.Append(ctx, issue, 0, stream(issue, 0, 1)) // on the old cluster
	require.NoError(t, err)
	// The old cluster's id of that message: a little ahead of where this
	// cluster will be when events are appended after the move.
	var v int64
	require.NoError(t, pool.QueryRow(ctx, `SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint + 100`).Scan(&v))
	_, err = pool.Exec(ctx, `UPDATE `+outbox+` SET transaction_id = $1::bigint::text::xid8`, v)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `INSERT INTO `+offsets+` (consumer_group, offset_acked, last_processed_transaction_id) VALUES ('ahead', 1, ($1::bigint + 1000000)::text::xid8)`, v)
	require.NoError(t, err)

	v2, err := s.Append(ctx, issue, 1, stream(issue, 1, 1)) // on the new cluster
	require.NoError(t, err)
	for range 150 { // the new cluster goes on
		_, err := pool.Exec(ctx, `SELECT pg_current_xact_id()`)
		require.NoError(t, err)
	}
	_, err = s.PruneOutbox(ctx)
	require.ErrorIs(t, err, pgstore.ErrSchemaVersion)

	// As the error says.
	_, err = pool.Exec(ctx, `UPDATE `+outbox+` SET transaction_id = '0'`)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `UPDATE `+offsets+` SET last_processed_transaction_id = '0', offset_acked = 0`)
	require.NoError(t, err)
	got := forward(t, pool, cfg, []string{events.DefaultTopic}, 2)
	require.Len(t, got, 2)
	assert.Equal(t, []string{v1[0].ID.String(), v2[0].ID.String()}, []string{got[0].msg.UUID, got[1].msg.UUID}, "version 1, then version 2")
}
