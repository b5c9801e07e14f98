package transporttest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	wmamqp "github.com/ThreeDotsLabs/watermill-amqp/v3/pkg/amqp"
	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill-redisstream/pkg/redisstream"
	wmsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	amqp091 "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events/natssub"
	"github.com/truefcr/truefcr/internal/natstest"
)

// transport connects one kind of Watermill Pub/Sub for a test.
type transport struct {
	name string
	// open returns a publisher for topics that start with prefix (a fresh
	// one per test), and makes subscribers; group names a subscriber's
	// durable consumer or consumer group, where the broker has them.
	// Everything is closed and removed when tb ends.
	open func(tb testing.TB, prefix string) (message.Publisher, func(group string) message.Subscriber)
}

// transports are every Pub/Sub the events may travel over.
var transports = []transport{
	{"gochannel", openGoChannel},
	{"postgres", openPostgres},
	{"nats", openNATS},
	{"redis", openRedis},
	{"amqp", openAMQP},
}

// topicOf is the topic of the events of a test.
func topicOf(prefix string) string { return prefix + ".events" }

// newPrefix returns a topic prefix no other test run uses.
func newPrefix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "tt" + hex.EncodeToString(b[:])
}

// openGoChannel is the embedded Pub/Sub. A publish waits until the
// subscriber acknowledged the message, which keeps the order of events.
func openGoChannel(tb testing.TB, _ string) (message.Publisher, func(string) message.Subscriber) {
	bus := gochannel.NewGoChannel(gochannel.Config{BlockPublishUntilSubscriberAck: true}, quiet())
	tb.Cleanup(func() { _ = bus.Close() })
	return bus, func(string) message.Subscriber { return bus }
}

// openPostgres is watermill-sql v4 on PostgreSQL: one table per topic with
// a binary payload, offsets kept per consumer group.
func openPostgres(tb testing.TB, prefix string) (message.Publisher, func(string) message.Subscriber) {
	dsn := postgresService.need(tb)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dsn)
	require.NoError(tb, err)
	require.NoError(tb, pool.Ping(ctx))
	schema := wmsql.DefaultPostgreSQLSchema{
		GeneratePayloadType: func(string) string { return "BYTEA" },
		SubscribeBatchSize:  100,
	}
	tb.Cleanup(func() {
		// Drop what this test made: watermill_<prefix>… and watermill_offsets_<prefix>…
		rows, err := pool.Query(ctx, `SELECT tablename FROM pg_tables WHERE tablename LIKE 'watermill_%' AND strpos(tablename, $1) > 0`, prefix)
		if err == nil {
			var names []string
			for rows.Next() {
				var n string
				if rows.Scan(&n) == nil {
					names = append(names, n)
				}
			}
			rows.Close()
			for _, n := range names {
				_, _ = pool.Exec(ctx, `DROP TABLE IF EXISTS "`+n+`"`)
			}
		}
		pool.Close()
	})
	pub, err := wmsql.NewPublisher(wmsql.BeginnerFromPgx(pool), wmsql.PublisherConfig{SchemaAdapter: schema, AutoInitializeSchema: true}, quiet())
	require.NoError(tb, err)
	return pub, func(group string) message.Subscriber {
		sub, err := wmsql.NewSubscriber(wmsql.BeginnerFromPgx(pool), wmsql.SubscriberConfig{
			ConsumerGroup:    group,
			SchemaAdapter:    schema,
			OffsetsAdapter:   wmsql.DefaultPostgreSQLOffsetsAdapter{},
			InitializeSchema: true,
			PollInterval:     10 * time.Millisecond,
			ResendInterval:   10 * time.Millisecond,
			RetryInterval:    10 * time.Millisecond,
		}, quiet())
		require.NoError(tb, err)
		tb.Cleanup(func() { _ = sub.Close() })
		return sub
	}
}

// openNATS is watermill-nats v2 in JetStream mode over one stream that
// holds every subject of the test (prefix.>), with a durable consumer per
// subject and group, explicit acks sent without waiting for the server,
// and deduplication by message id (the event id) on publish.
func openNATS(tb testing.TB, prefix string) (message.Publisher, func(string) message.Subscriber) {
	url := natsService.need(tb)
	natstest.Stream(tb, url, prefix)
	pub, err := wmnats.NewPublisher(wmnats.PublisherConfig{
		URL:       url,
		Marshaler: &wmnats.NATSMarshaler{},
		JetStream: wmnats.JetStreamConfig{TrackMsgId: true},
	}, quiet())
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = pub.Close() })
	return pub, func(group string) message.Subscriber { return natsSubscriber(tb, url, group) }
}

// natsSubscriber subscribes with a durable consumer named after group and
// the subject, and binds to the stream that holds the subject. It is
// watermill-nats's behind natssub, whose subscriptions end without
// watermill-nats's "send on closed channel".
func natsSubscriber(tb testing.TB, url, group string) message.Subscriber {
	sub, err := natssub.NewSubscriber(wmnats.SubscriberConfig{
		URL:            url,
		CloseTimeout:   5 * time.Second,
		AckWaitTimeout: 30 * time.Second,
		Unmarshaler:    &wmnats.NATSMarshaler{},
		JetStream: wmnats.JetStreamConfig{
			// An ack lost on the way makes JetStream deliver again, which
			// the runner recognises; so it need not wait for the server.
			AckAsync:          true,
			SubscribeOptions:  []nats.SubOpt{nats.DeliverAll(), nats.AckExplicit(), nats.MaxAckPending(256), nats.ManualAck()},
			DurablePrefix:     group,
			DurableCalculator: natsDurable,
		},
	}, quiet())
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = sub.Close() })
	return sub
}

// natsDurable names the durable consumer of a group on a subject; durable
// names cannot hold dots.
func natsDurable(group, topic string) string {
	return group + "_" + strings.ReplaceAll(topic, ".", "_")
}

// natsPending counts the messages that the durable consumer of group on
// topic has not had acknowledged yet, for projections.RunnerConfig.Pending.
func natsPending(tb testing.TB, stream, group, topic string) func(context.Context) (int64, error) {
	nc, err := nats.Connect(natsService.address())
	require.NoError(tb, err)
	tb.Cleanup(nc.Close)
	js, err := nc.JetStream()
	require.NoError(tb, err)
	return func(ctx context.Context) (int64, error) {
		info, err := js.ConsumerInfo(stream, natsDurable(group, topic), nats.Context(ctx))
		if err != nil {
			return 0, err
		}
		return int64(info.NumPending) + int64(info.NumAckPending), nil
	}
}

// openRedis is watermill-redisstream: one stream per topic, read by a
// consumer group from the first entry. The publisher and each subscriber
// close their own client.
func openRedis(tb testing.TB, prefix string) (message.Publisher, func(string) message.Subscriber) {
	addr := redisService.need(tb)
	admin := redis.NewClient(&redis.Options{Addr: addr})
	tb.Cleanup(func() {
		ctx := context.Background()
		if keys, err := admin.Keys(ctx, prefix+"*").Result(); err == nil && len(keys) > 0 {
			_ = admin.Del(ctx, keys...).Err()
		}
		_ = admin.Close()
	})
	pub, err := redisstream.NewPublisher(redisstream.PublisherConfig{Client: redis.NewClient(&redis.Options{Addr: addr})}, quiet())
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = pub.Close() })
	return pub, func(group string) message.Subscriber {
		sub, err := redisstream.NewSubscriber(redisstream.SubscriberConfig{
			Client:                        redis.NewClient(&redis.Options{Addr: addr}),
			ConsumerGroup:                 group,
			OldestId:                      "0",
			BlockTime:                     50 * time.Millisecond,
			DisableIndefiniteInitialBlock: true,
			NackResendSleep:               10 * time.Millisecond,
		}, quiet())
		require.NoError(tb, err)
		tb.Cleanup(func() { _ = sub.Close() })
		return sub
	}
}

// openAMQP is watermill-amqp v3 with RabbitMQ: a durable queue per topic
// (messages persist across broker restarts), consumed by one subscriber.
func openAMQP(tb testing.TB, prefix string) (message.Publisher, func(string) message.Subscriber) {
	url := amqpService.need(tb)
	cfg := wmamqp.NewDurableQueueConfig(url)
	pub, err := wmamqp.NewPublisher(cfg, quiet())
	require.NoError(tb, err)
	tb.Cleanup(func() {
		_ = pub.Close()
		// Durable queues outlive the test: delete this test's.
		conn, err := amqp091.Dial(url)
		if err != nil {
			return
		}
		defer conn.Close()
		ch, err := conn.Channel()
		if err != nil {
			return
		}
		_, _ = ch.QueueDelete(topicOf(prefix), false, false, false)
	})
	return pub, func(string) message.Subscriber {
		sub, err := wmamqp.NewSubscriber(cfg, quiet())
		require.NoError(tb, err)
		tb.Cleanup(func() { _ = sub.Close() })
		return sub
	}
}
