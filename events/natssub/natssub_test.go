package natssub_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events/natssub"
	"github.com/truefcr/truefcr/internal/natstest"
)

// line is a JetStream stream holding n messages on one subject.
type line struct {
	url, stream, subject string
	ids                  []string
}

func newLine(t *testing.T, n int) *line {
	url := natstest.URL(t)
	name := fmt.Sprintf("natssub%d", time.Now().UnixNano())
	natstest.Stream(t, url, name)
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
	for i := range 600 {
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
	config := l.addConsumer(t, "runner", "", 300*time.Millisecond, 1000)
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

// addConsumer adds a durable consumer of the line's messages that
// outlives subscriptions, as a runner's does, delivering to the queue
// group group ("" for none), and returns a config that binds to it.
func (l *line) addConsumer(t *testing.T, name, group string, ackWait time.Duration, maxAckPending int) wmnats.SubscriberConfig {
	nc, err := nats.Connect(l.url)
	require.NoError(t, err)
	defer nc.Close()
	js, err := nc.JetStream()
	require.NoError(t, err)
	_, err = js.AddConsumer(l.stream, &nats.ConsumerConfig{
		Durable: name, DeliverSubject: nats.NewInbox(), DeliverGroup: group, FilterSubject: l.subject,
		AckPolicy: nats.AckExplicitPolicy, AckWait: ackWait, MaxAckPending: maxAckPending,
	})
	require.NoError(t, err)
	config := l.config(name)
	config.QueueGroupPrefix = group
	config.JetStream.SubscribeOptions = []nats.SubOpt{nats.Bind(l.stream, name), nats.ManualAck()}
	return config
}

// A subscription that ends right after its consumer acknowledged a
// message has the server acknowledge it (watermill-nats alone may not:
// its callback can see the subscription end first), and one that ends
// with a message not acknowledged has it nacked, so that it comes again
// without waiting for the AckWait, most times (a redelivery can reach the
// subscription as it goes). Each subscription binds to the consumer
// right after the one before closed, which finds it free.
func TestEndingSettlesWithTheServer(t *testing.T) {
	l := newLine(t, 100)
	const ackWait = time.Second
	config := l.addConsumer(t, "settle", "", ackWait, 1) // one message at a time
	nc, err := nats.Connect(l.url)
	require.NoError(t, err)
	defer nc.Close()
	js, err := nc.JetStream()
	require.NoError(t, err)
	acked := make(map[string]bool)
	var notAcked string
	slow, nacked := 0, 0
	for i := range 24 {
		sub, err := natssub.NewSubscriber(config, nil)
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		out, err := sub.Subscribe(ctx, l.subject)
		require.NoError(t, err, "round %d: binding right after the last subscription closed", i)
		start := time.Now()
		m := <-out
		require.False(t, acked[m.UUID], "round %d: message %s came again after it was acknowledged", i, m.UUID)
		if notAcked != "" {
			require.Equal(t, notAcked, m.UUID, "round %d: the message not acknowledged comes first", i)
			if time.Since(start) > ackWait/2 {
				slow++
			}
			notAcked = ""
		}
		if i%2 == 0 {
			require.True(t, m.Ack())
			acked[m.UUID] = true
		} else {
			notAcked = m.UUID
			nacked++
		}
		closed := make(chan error, 1)
		if i%4 < 2 {
			cancel()
			closed <- nil
		} else {
			go func() { closed <- sub.Close() }() // with the context running
		}
		for range out {
		}
		require.NoError(t, <-closed)
		cancel()
		require.NoError(t, sub.Close())
		info, err := js.ConsumerInfo(l.stream, "settle")
		require.NoError(t, err)
		require.False(t, info.PushBound, "round %d: the consumer is still bound once Close returned", i)
	}
	assert.LessOrEqual(t, slow, 1, "messages not acknowledged that waited for the AckWait to come again")
}

// A Subscribe that fails (a consumer that is not there) fails at once,
// not after watermill-nats's CloseTimeout, does not hold up a Close, and
// leaves no connection behind.
func TestSubscribeFails(t *testing.T) {
	l := newLine(t, 1)
	config := l.config("none")
	config.CloseTimeout = 5 * time.Second
	config.JetStream.SubscribeOptions = []nats.SubOpt{nats.Bind(l.stream, "none"), nats.ManualAck()}
	before := runtime.NumGoroutine()
	sub, err := natssub.NewSubscriber(config, nil)
	require.NoError(t, err)
	start := time.Now()
	_, err = sub.Subscribe(context.Background(), l.subject)
	require.Error(t, err)
	assert.Less(t, time.Since(start), 2*time.Second)
	start = time.Now()
	require.NoError(t, sub.Close())
	assert.Less(t, time.Since(start), time.Second)
	// (Not assert.Eventually, whose own goroutine would count.)
	for deadline := time.Now().Add(2 * time.Second); runtime.NumGoroutine() > before && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	assert.LessOrEqual(t, runtime.NumGoroutine(), before, "the failed subscription's connection left goroutines behind")
}

// With two nats.go subscriptions in a queue group, a message that the
// consumer holds while the other subscription's messages flow and are
// acknowledged is still nacked at the end: it is the last one of its own
// subscription, whatever came from the other since.
func TestEndingNacksAHeldMessageOfEachSubscription(t *testing.T) {
	l := newLine(t, 0) // published once subscribed: JetStream gives a backlog to one subscription alone
	config := l.addConsumer(t, "two", "g", time.Minute, 1000)
	config.SubscribersCount = 2
	nc, err := nats.Connect(l.url)
	require.NoError(t, err)
	defer nc.Close()
	js, err := nc.JetStream()
	require.NoError(t, err)
	sub, err := natssub.NewSubscriber(config, nil)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	out, err := sub.Subscribe(ctx, l.subject)
	require.NoError(t, err)
	for i := range 200 {
		nm := nats.NewMsg(l.subject)
		nm.Header.Set(wmnats.WatermillUUIDHdr, fmt.Sprint("m", i))
		_, err := js.PublishMsg(nm)
		require.NoError(t, err)
	}
	held := <-out
	for i := range 20 {
		select {
		case m := <-out:
			require.True(t, m.Ack())
		case <-time.After(5 * time.Second):
			t.Fatalf("%d messages from the other subscription, then none", i)
		}
	}
	cancel()
	for range out {
	}
	require.NoError(t, sub.Close())
	assert.False(t, held.Ack(), "the held message was not nacked at the end: acknowledging it now would reach no server")
}

// A subscription whose connection closes for good (the server is gone
// past the reconnections allowed) ends, and its channel closes.
func TestEndingWhenTheConnectionIsGone(t *testing.T) {
	l := newLine(t, 5)
	// A proxy to the server, which the test cuts.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", strings.TrimPrefix(l.url, "nats://"))
			if err != nil {
				_ = c.Close()
				return
			}
			mu.Lock()
			conns = append(conns, c, s)
			mu.Unlock()
			go func() { _, _ = io.Copy(c, s) }()
			go func() { _, _ = io.Copy(s, c) }()
		}
	}()
	config := l.config("gone")
	config.URL = "nats://" + ln.Addr().String()
	config.NatsOptions = []nats.Option{nats.MaxReconnects(0)}
	sub, err := natssub.NewSubscriber(config, nil)
	require.NoError(t, err)
	defer sub.Close()
	out, err := sub.Subscribe(context.Background(), l.subject)
	require.NoError(t, err)
	for range 5 {
		require.True(t, (<-out).Ack())
	}
	_ = ln.Close()
	mu.Lock()
	for _, c := range conns {
		_ = c.Close()
	}
	mu.Unlock()
	select {
	case _, ok := <-out:
		assert.False(t, ok, "no message was expected")
	case <-time.After(5 * time.Second):
		t.Fatal("the connection is closed for good and the subscription's channel is still open")
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

// Subscribe returns once the server has the subscription: a core NATS
// message published right after it returns is delivered, even when the
// subscription's connection is slow to reach the server (here a proxy
// holds each write from the client for a while).
func TestSubscribeReturnsOnceTheServerHasTheSubscription(t *testing.T) {
	url := natstest.URL(t)
	const delay = 300 * time.Millisecond
	proxy := slowProxy(t, url, func([]byte) (time.Duration, proxyAct) { return delay, forward })
	subject := fmt.Sprintf("natssub.core%d", time.Now().UnixNano())
	sub, err := natssub.NewSubscriber(coreConfig(proxy, 0), nil)
	require.NoError(t, err)
	defer sub.Close()
	out, err := sub.Subscribe(context.Background(), subject)
	require.NoError(t, err)
	receives(t, url, subject, out, 5*delay, "the server did not have the subscription yet")
}

// receives publishes a core NATS message on subject at url and requires
// that it comes on out within wait; why says what it means if not.
func receives(t *testing.T, url, subject string, out <-chan *message.Message, wait time.Duration, why string) {
	t.Helper()
	nc, err := nats.Connect(url)
	require.NoError(t, err)
	defer nc.Close()
	nm := nats.NewMsg(subject)
	nm.Header.Set(wmnats.WatermillUUIDHdr, "right-after")
	require.NoError(t, nc.PublishMsg(nm))
	require.NoError(t, nc.Flush())
	select {
	case m := <-out:
		assert.Equal(t, "right-after", m.UUID)
		m.Ack()
	case <-time.After(wait):
		t.Fatal("a message published right after Subscribe returned was not delivered: " + why)
	}
}

// A subscription the server does not confirm within the SubscribeTimeout
// fails, at once and with what was wrong, and leaves nothing running.
func TestSubscribeFailsWhenTheServerDoesNotConfirm(t *testing.T) {
	url := natstest.URL(t)
	var lost atomic.Bool // from the subscription on, the client's writes are lost
	proxy := slowProxy(t, url, func(b []byte) (time.Duration, proxyAct) {
		if strings.Contains(string(b), "SUB ") {
			lost.Store(true)
		}
		if lost.Load() {
			return 0, drop
		}
		return 0, forward
	})
	before := runtime.NumGoroutine()
	sub, err := natssub.NewSubscriber(coreConfig(proxy, 300*time.Millisecond), nil)
	require.NoError(t, err)
	began := time.Now()
	_, err = sub.Subscribe(context.Background(), "natssub.unconfirmed")
	require.ErrorContains(t, err, "the server did not confirm the subscription within 300ms")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(began), 5*time.Second, "Subscribe waited for a server that does not answer")
	require.True(t, lost.Load(), "the proxy never saw the subscription")
	require.NoError(t, sub.Close())
	// The connection closed: its goroutines, and the proxy's for it, end.
	for deadline := time.Now().Add(2 * time.Second); runtime.NumGoroutine() > before && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	assert.LessOrEqual(t, runtime.NumGoroutine(), before, "the unconfirmed subscription left goroutines behind")

	// Its context, or the subscriber's Close, stops a Subscribe that
	// waits for the server, long before the SubscribeTimeout.
	lost.Store(false)
	for _, stop := range []string{"ctx", "Close"} {
		sub, err := natssub.NewSubscriber(coreConfig(proxy, time.Minute), nil)
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := sub.Subscribe(ctx, "natssub.unconfirmed")
			done <- err
		}()
		for !lost.Load() {
			time.Sleep(5 * time.Millisecond)
		}
		began := time.Now()
		if stop == "ctx" {
			cancel()
		} else {
			require.NoError(t, sub.Close())
		}
		select {
		case err := <-done:
			if stop == "ctx" {
				assert.ErrorIs(t, err, context.Canceled)
				assert.ErrorContains(t, err, "Subscribe's context ended before the server confirmed the subscription")
			} else {
				assert.EqualError(t, err, "natssub: subscriber closed")
			}
			assert.Less(t, time.Since(began), 2*time.Second, stop)
		case <-time.After(10 * time.Second):
			t.Fatalf("Subscribe goes on waiting once stopped by %s", stop)
		}
		cancel()
		require.NoError(t, sub.Close())
		lost.Store(false)
	}
}

// A connection cut while Subscribe waits for the server's confirmation
// reconnects, and Subscribe goes on waiting, then returns a subscription
// that receives what is published after it returns, where the flush that
// nats.go dropped with the connection failed it.
func TestSubscribeWaitsThroughAReconnection(t *testing.T) {
	url := natstest.URL(t)
	var cuts atomic.Int32
	proxy := slowProxy(t, url, func(b []byte) (time.Duration, proxyAct) {
		if strings.Contains(string(b), "SUB ") && cuts.Add(1) == 1 {
			return 0, cut // the first subscription's connection, once
		}
		return 0, forward
	})
	config := coreConfig(proxy, 10*time.Second)
	config.NatsOptions = []nats.Option{nats.ReconnectWait(50 * time.Millisecond)}
	sub, err := natssub.NewSubscriber(config, nil)
	require.NoError(t, err)
	defer sub.Close()
	subject := fmt.Sprintf("natssub.reconnect%d", time.Now().UnixNano())
	out, err := sub.Subscribe(context.Background(), subject)
	require.NoError(t, err)
	require.GreaterOrEqual(t, cuts.Load(), int32(2), "the connection was cut and the subscription sent again")
	receives(t, url, subject, out, 5*time.Second, "the reconnected connection did not have the subscription")
}

// coreConfig subscribes through url with core NATS.
func coreConfig(url string, subscribeTimeout time.Duration) wmnats.SubscriberConfig {
	return wmnats.SubscriberConfig{
		URL:              url,
		CloseTimeout:     5 * time.Second,
		SubscribeTimeout: subscribeTimeout,
		Unmarshaler:      &wmnats.NATSMarshaler{},
		JetStream:        wmnats.JetStreamConfig{Disabled: true},
	}
}

// proxyAct is what slowProxy does with a write from a client.
type proxyAct int

const (
	forward proxyAct = iota
	drop             // the write is lost
	cut              // the connection is closed, as by a network fault
)

// slowProxy is a proxy to the server at url, for the test's life, whose
// URL it returns. Each write from a client is held for the time pass
// gives, and then forwarded, dropped or its connection cut, as pass says.
func slowProxy(t *testing.T, url string, pass func([]byte) (time.Duration, proxyAct)) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { _ = c.Close() })
			s, err := net.Dial("tcp", strings.TrimPrefix(url, "nats://"))
			if err != nil {
				_ = c.Close()
				return
			}
			go func() { _, _ = io.Copy(c, s); _ = c.Close() }()
			go func() {
				defer s.Close()
				buf := make([]byte, 64<<10)
				for {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					delay, act := pass(buf[:n])
					time.Sleep(delay)
					switch act {
					case drop:
						continue
					case cut:
						_ = c.Close()
						return
					}
					if _, err := s.Write(buf[:n]); err != nil {
						return
					}
				}
			}()
		}
	}()
	return "nats://" + ln.Addr().String()
}
