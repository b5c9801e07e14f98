package natssub_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/internal/natssub"
)

// natsURL returns the address of NATS with JetStream, TRUEFCR_NATS_URL or
// the local default, when something listens there; it skips t when
// nothing does, or fails it when the CI environment variable is set.
func natsURL(t *testing.T) string {
	t.Helper()
	addr := os.Getenv("TRUEFCR_NATS_URL")
	if addr == "" {
		addr = "nats://127.0.0.1:4222"
	}
	u, err := url.Parse(addr)
	require.NoError(t, err)
	conn, err := net.DialTimeout("tcp", u.Host, 2*time.Second)
	if err == nil {
		_ = conn.Close()
		return addr
	}
	const howTo = "start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log"
	if os.Getenv("CI") != "" {
		t.Fatalf("NATS with JetStream at %s is required under CI (%v); start it with: %s", u.Host, err, howTo)
	}
	t.Skipf("NATS with JetStream at %s cannot be reached (%v); start it with: %s, or set TRUEFCR_NATS_URL", u.Host, err, howTo)
	return ""
}

// line is a JetStream stream holding n messages on one subject.
type line struct {
	url, stream, subject string
	ids                  []string
}

func newLine(t *testing.T, n int) *line {
	url := natsURL(t)
	name := fmt.Sprintf("natssub%d", time.Now().UnixNano())
	nc, err := nats.Connect(url)
	require.NoError(t, err)
	js, err := nc.JetStream()
	require.NoError(t, err)
	_, err = js.AddStream(&nats.StreamConfig{Name: name, Subjects: []string{name + ".>"}, Storage: nats.MemoryStorage})
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = js.DeleteStream(name)
		nc.Close()
	})
	l := &line{url: url, stream: name, subject: name + ".events"}
	pub, err := wmnats.NewPublisher(wmnats.PublisherConfig{URL: url, Marshaler: &wmnats.NATSMarshaler{}}, nil)
	require.NoError(t, err)
	defer pub.Close()
	msgs := make([]*message.Message, n)
	for i := range msgs {
		msgs[i] = message.NewMessage(watermill.NewUUID(), []byte{byte(i)})
		l.ids = append(l.ids, msgs[i].UUID)
	}
	require.NoError(t, pub.Publish(l.subject, msgs...))
	return l
}

// config subscribes with the durable consumer named durable, from the
// first message.
func (l *line) config(durable string, opts ...nats.SubOpt) wmnats.SubscriberConfig {
	return wmnats.SubscriberConfig{
		URL:            l.url,
		CloseTimeout:   5 * time.Second,
		AckWaitTimeout: time.Minute,
		Unmarshaler:    &wmnats.NATSMarshaler{},
		JetStream: wmnats.JetStreamConfig{
			SubscribeOptions:  append([]nats.SubOpt{nats.DeliverAll(), nats.AckExplicit(), nats.ManualAck(), nats.MaxAckPending(256)}, opts...),
			DurablePrefix:     durable,
			DurableCalculator: func(prefix, _ string) string { return prefix },
		},
	}
}

// end ends a subscription that has handed on some messages, by its
// context or, with byClose, by the subscriber's Close, and returns once
// its channel has closed.
func end(t *testing.T, sub *natssub.Subscriber, out <-chan *message.Message, cancel context.CancelFunc, byClose bool) {
	if byClose {
		require.NoError(t, sub.Close()) // with the context still running
	} else {
		cancel()
	}
	for range out { // handed on before the end: left unacked, they come again
	}
	cancel()
	require.NoError(t, sub.Close())
}

// Subscriptions ended while messages flow, by their context or by the
// subscriber's Close, at every moment between two messages, do not
// panic: watermill-nats alone dies with "send on closed channel" within
// a few hundred such ends. Each subscription here makes the durable
// consumer afresh (nats.go deletes one it made when the subscription
// ends), so messages flow at every end.
func TestEndingWhileMessagesFlow(t *testing.T) {
	l := newLine(t, 500)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 1000 {
		sub, err := natssub.NewSubscriber(l.config("flow"), nil)
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		out, err := sub.Subscribe(ctx, l.subject)
		require.NoError(t, err)
		want, got := 1+rng.IntN(20), 0
		for m := range out {
			require.Equal(t, l.ids[got], m.UUID, "subscription %d, message %d", i, got)
			require.True(t, m.Ack())
			if got++; got == want {
				break
			}
		}
		require.Equal(t, want, got, "subscription %d ended before its messages", i)
		if rng.IntN(3) > 0 {
			time.Sleep(time.Duration(rng.IntN(50)) * time.Microsecond)
		}
		end(t, sub, out, cancel, i%4 == 3)
	}
}

// Messages that a subscription handed on and that were not acknowledged
// when it ended come again: none is acknowledged on the consumer's
// behalf. The durable consumer outlives subscriptions, as a runner's
// does. Messages that JetStream pushed to a subscription and that were
// still in nats.go's queue when it ended, or that it sent again, once
// nacked, to a subscription that was going, come again after the
// consumer's AckWait, as with watermill-nats alone.
func TestEndingLosesNothing(t *testing.T) {
	l := newLine(t, 600)
	nc, err := nats.Connect(l.url)
	require.NoError(t, err)
	defer nc.Close()
	js, err := nc.JetStream()
	require.NoError(t, err)
	_, err = js.AddConsumer(l.stream, &nats.ConsumerConfig{
		Durable: "runner", DeliverSubject: nats.NewInbox(), FilterSubject: l.subject,
		AckPolicy: nats.AckExplicitPolicy, AckWait: 300 * time.Millisecond, MaxAckPending: 1000,
	})
	require.NoError(t, err)
	config := l.config("runner", nats.Bind(l.stream, "runner"))
	config.JetStream.SubscribeOptions = []nats.SubOpt{nats.Bind(l.stream, "runner"), nats.ManualAck()}

	acked := make(map[string]bool)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 20 {
		sub, err := natssub.NewSubscriber(config, nil)
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		out, err := sub.Subscribe(ctx, l.subject)
		require.NoError(t, err)
		for want := 1 + rng.IntN(10); want > 0; want-- {
			m := <-out
			require.True(t, m.Ack(), "message %s was nacked while the consumer held it", m.UUID)
			acked[m.UUID] = true
		}
		end(t, sub, out, cancel, i%4 == 3)
	}
	require.Less(t, len(acked), len(l.ids), "the ends must come while messages are left")

	sub, err := natssub.NewSubscriber(config, nil)
	require.NoError(t, err)
	defer sub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := sub.Subscribe(ctx, l.subject)
	require.NoError(t, err)
	for m := range out {
		require.True(t, m.Ack())
		if acked[m.UUID] = true; len(acked) == len(l.ids) {
			break
		}
	}
	for _, id := range l.ids {
		assert.True(t, acked[id], "message %s never came again after its subscription ended", id)
	}
}

// A subscriber refuses a config that watermill-nats would refuse only
// once connected, and a Subscribe once closed.
func TestRefuses(t *testing.T) {
	_, err := natssub.NewSubscriber(wmnats.SubscriberConfig{Unmarshaler: &wmnats.NATSMarshaler{}}, nil)
	assert.ErrorContains(t, err, "URL is missing")
	_, err = natssub.NewSubscriber(wmnats.SubscriberConfig{URL: "nats://127.0.0.1:4222"}, nil)
	assert.ErrorContains(t, err, "Unmarshaler is missing")

	sub, err := natssub.NewSubscriber(wmnats.SubscriberConfig{URL: "nats://127.0.0.1:4222", Unmarshaler: &wmnats.NATSMarshaler{}}, nil)
	require.NoError(t, err)
	require.NoError(t, sub.Close())
	_, err = sub.Subscribe(context.Background(), "anything")
	assert.ErrorContains(t, err, "subscriber closed")
}
