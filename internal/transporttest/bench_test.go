package transporttest

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/internal/simulate"
	"github.com/truefcr/truefcr/projections"
)

// benchLog returns a simulated log of at least n events.
func benchLog(b *testing.B, n int) []events.Envelope {
	b.Helper()
	log, _, err := simulate.Collect(simulate.Config{Seed: 99, Days: 7, Customers: max(100, n/12), Events: n + n/5 + 100})
	require.NoError(b, err)
	require.GreaterOrEqual(b, len(log), n)
	return log[:n]
}

// timed is an FCR that notes when each event reached it, for latency (as an
// FCR it is SelfSequencing: the runner hands it every delivery).
type timed struct {
	*projections.FCR
	index   map[uuid.UUID]int
	sent    []atomic.Int64 // Unix ns when event i was published
	latency []int64
}

func (t *timed) Apply(e events.Envelope) error {
	if i, ok := t.index[e.ID]; ok {
		t.latency = append(t.latency, time.Now().UnixNano()-t.sent[i].Load())
	}
	return t.FCR.Apply(e)
}

// BenchmarkTransports measures each transport end to end, from
// events.Publisher to a Runner that applies the events to an FCR:
// throughput publishes b.N events as fast as the transport takes them and
// reports events/s and the latency from publish to apply under that load
// (queueing included); latency publishes one event at a time and waits
// until it is applied, so that ns/op is the unloaded latency.
func BenchmarkTransports(b *testing.B) {
	for _, tr := range transports {
		b.Run(tr.name+"/throughput", func(b *testing.B) { benchThroughput(b, tr) })
		b.Run(tr.name+"/latency", func(b *testing.B) { benchLatency(b, tr) })
	}
}

// benchLine connects a publisher and a runner of p over a transport.
func benchLine(b *testing.B, tr transport, p projections.Projection) (*events.Publisher, *running) {
	prefix := newPrefix()
	pub, subscriber := tr.open(b, prefix)
	topic := topicOf(prefix)
	runner, err := projections.NewRunner(projections.RunnerConfig{Name: "bench", Projection: p,
		Subscriber: subscriber("bench"), Topic: topic, Logger: quiet()})
	require.NoError(b, err)
	r := start(b, runner)
	r.waitCaughtUp(b)
	publisher, err := events.NewPublisher(events.PublisherConfig{Publisher: pub, Topic: func(events.Envelope) string { return topic }})
	require.NoError(b, err)
	return publisher, r
}

func benchThroughput(b *testing.B, tr transport) {
	log := benchLog(b, b.N)
	p := &timed{FCR: newFCR(b), index: make(map[uuid.UUID]int, len(log)), sent: make([]atomic.Int64, len(log))}
	for i, e := range log {
		p.index[e.ID] = i
	}
	publisher, r := benchLine(b, tr, p)
	ctx := context.Background()
	one := make([]events.Envelope, 1)

	b.ReportAllocs()
	b.ResetTimer()
	for i, e := range log {
		p.sent[i].Store(time.Now().UnixNano())
		one[0] = e
		if err := publisher.Publish(ctx, one); err != nil {
			b.Fatal(err)
		}
	}
	for r.Stats().Applied < int64(len(log)) {
		time.Sleep(100 * time.Microsecond)
	}
	b.StopTimer()
	require.NoError(b, r.stop())

	b.ReportMetric(float64(len(log))/b.Elapsed().Seconds(), "events/s")
	lat := p.latency
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2])/1e3, "p50-µs")
		b.ReportMetric(float64(lat[len(lat)*99/100])/1e3, "p99-µs")
	}
}

// notifying is an FCR that signals every event handed to it: as an FCR it
// is SelfSequencing, so the runner hands it every delivery.
type notifying struct {
	*projections.FCR
	applied chan struct{}
}

func (n *notifying) Apply(e events.Envelope) error {
	err := n.FCR.Apply(e)
	n.applied <- struct{}{}
	return err
}

func benchLatency(b *testing.B, tr transport) {
	log := benchLog(b, b.N)
	p := &notifying{FCR: newFCR(b), applied: make(chan struct{}, 1)}
	publisher, r := benchLine(b, tr, p)
	ctx := context.Background()
	one := make([]events.Envelope, 1)
	b.ReportAllocs()
	b.ResetTimer()
	for _, e := range log {
		one[0] = e
		if err := publisher.Publish(ctx, one); err != nil {
			b.Fatal(err)
		}
		select {
		case <-p.applied:
		case <-time.After(30 * time.Second):
			b.Fatalf("event not applied after 30 s")
		}
	}
	b.StopTimer()
	require.NoError(b, r.stop())
}

// counter is the cheapest projection: it counts.
type counter struct{ n atomic.Int64 }

func (c *counter) Apply(events.Envelope) error { c.n.Add(1); return nil }

// BenchmarkGoChannel compares GoChannel on its own (publish, receive, ack)
// with the same messages through a Runner (decode, put in order, apply,
// ack), so that the runner's share of the cost shows.
func BenchmarkGoChannel(b *testing.B) {
	codec := events.NewMsgpackCodec(nil)
	newMessages := func(b *testing.B) []*message.Message {
		log := benchLog(b, b.N)
		msgs := make([]*message.Message, len(log))
		for i, e := range log {
			m, err := events.NewMessage(codec, e)
			require.NoError(b, err)
			msgs[i] = m
		}
		return msgs
	}

	b.Run("raw", func(b *testing.B) {
		bus := gochannel.NewGoChannel(gochannel.Config{BlockPublishUntilSubscriberAck: true}, quiet())
		defer bus.Close()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		in, err := bus.Subscribe(ctx, "events")
		require.NoError(b, err)
		go func() {
			for m := range in {
				m.Ack()
			}
		}()
		msgs := newMessages(b)
		b.ReportAllocs()
		b.ResetTimer()
		for _, m := range msgs {
			if err := bus.Publish("events", m); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})

	b.Run("runner", func(b *testing.B) {
		bus := gochannel.NewGoChannel(gochannel.Config{BlockPublishUntilSubscriberAck: true}, quiet())
		defer bus.Close()
		c := &counter{}
		runner, err := projections.NewRunner(projections.RunnerConfig{Name: "bench", Projection: c,
			Subscriber: bus, Topic: "events", CheckpointEvery: -1, CheckpointInterval: -1, Logger: quiet()})
		require.NoError(b, err)
		r := start(b, runner)
		r.waitCaughtUp(b)
		msgs := newMessages(b)
		b.ReportAllocs()
		b.ResetTimer()
		for _, m := range msgs {
			if err := bus.Publish("events", m); err != nil {
				b.Fatal(err)
			}
		}
		// The runner acknowledges a message once it queued its events for
		// the projection: the last ones may still be on their way.
		for deadline := time.Now().Add(30 * time.Second); c.n.Load() < int64(b.N) && time.Now().Before(deadline); {
			time.Sleep(10 * time.Microsecond)
		}
		b.StopTimer()
		require.Equal(b, int64(b.N), c.n.Load())
		require.NoError(b, r.stop())
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
}
