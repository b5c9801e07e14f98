// Package natssub is watermill-nats's NATS subscriber (v2, JetStream or
// core NATS) with subscriptions that end safely.
//
// watermill-nats v2.1.3 and v2.2.0 close a subscription's output channel
// as soon as its context ends or the subscriber closes, while nats.go may
// be running the callback that sends the next message on it: when that
// callback reaches its send after the close, the process dies with "send
// on closed channel" (a runner that stops while messages flow is enough).
// This subscriber ends a subscription in an order where no callback can
// send any more: it shuts a gate in the unmarshaler, which each callback
// passes before it sends, takes every message that passed the gate, and
// only then ends watermill-nats's subscription.
//
// Before it does, it settles with the server, itself, the messages whose
// callbacks may still be waiting for the consumer: those the consumer
// acknowledged are acked, and those it did not (even if it acknowledges
// them later: they come again, which a projections.Runner recognises by
// their versions), and those that passed the gate and were not handed
// on, are nacked, so that JetStream may deliver them again without
// waiting for the consumer's AckWait; a message that comes to the shut
// gate is nacked too. A redelivery that reaches the subscription as it
// goes, and the messages that JetStream pushed and nats.go still held
// when it ended, come again after the AckWait, as with watermill-nats
// alone. Each subscription has its own
// connection, closed (drained) before the subscription's channel closes,
// so that a subscription that binds to the same consumer right after
// finds it free.
//
// A message's context is that of its subscription inside watermill-nats,
// which lives until the subscription ends, not the context given to
// Subscribe.
package natssub

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/ThreeDotsLabs/watermill"
	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
)

// Subscriber is a message.Subscriber over NATS. Each Subscribe makes a
// watermill-nats subscriber, with a connection, of its own.
type Subscriber struct {
	config wmnats.SubscriberConfig
	logger watermill.LoggerAdapter

	mu      sync.Mutex
	closed  bool
	closing chan struct{}
	wg      sync.WaitGroup
}

// NewSubscriber returns a subscriber with watermill-nats's config; it
// connects on each Subscribe, not here. A nil logger logs nothing.
func NewSubscriber(config wmnats.SubscriberConfig, logger watermill.LoggerAdapter) (*Subscriber, error) {
	// What watermill-nats checks only once it has a connection.
	switch {
	case strings.TrimSpace(config.URL) == "":
		return nil, errors.New("natssub: SubscriberConfig.URL is missing")
	case config.Unmarshaler == nil:
		return nil, errors.New("natssub: SubscriberConfig.Unmarshaler is missing")
	}
	if logger == nil {
		logger = watermill.NopLogger{}
	}
	return &Subscriber{config: config, logger: logger, closing: make(chan struct{})}, nil
}

// Subscribe subscribes to topic with a watermill-nats subscriber, and a
// connection, of its own. The channel closes once ctx ends or the
// subscriber closes, when the subscription's connection is closed.
func (s *Subscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errors.New("natssub: subscriber closed")
	}
	s.wg.Add(1) // Close waits for this subscription, from here
	s.mu.Unlock()
	sub, err := s.open(topic)
	if err != nil {
		s.wg.Done()
		return nil, err
	}
	out := make(chan *message.Message)
	go func() {
		defer s.wg.Done()
		defer close(out)
		sub.forward(ctx, s.closing, out)
		sub.end()
	}()
	return out, nil
}

// Close ends every subscription and waits until each has ended.
func (s *Subscriber) Close() error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.closing)
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// subscription is one Subscribe: watermill-nats's subscriber, whose
// unmarshaler is gate, on a connection of its own.
type subscription struct {
	nc      *nats.Conn
	gone    chan struct{} // closed once nc is closed
	gate    *gate
	inner   *wmnats.Subscriber
	in      <-chan *message.Message
	got     int                // messages taken from in
	stop    context.CancelFunc // ends inner's subscription
	logger  quietEnd
	subject string
	// recent are the last messages handed on, one for each of inner's
	// nats.go subscriptions at most: a callback takes its next message
	// only once it has settled the one before, so only these may still be
	// waiting for the consumer.
	recent []pair
	next   int // where the next one goes in recent
}

// pair is a message and what it was unmarshalled from.
type pair struct {
	msg *message.Message
	nm  *nats.Msg
}

// open connects and subscribes to topic.
func (s *Subscriber) open(topic string) (*subscription, error) {
	opts := nats.GetDefaultOptions()
	for _, u := range strings.Split(s.config.URL, ",") {
		opts.Servers = append(opts.Servers, strings.TrimSpace(u))
	}
	for _, o := range s.config.NatsOptions {
		if o != nil {
			if err := o(&opts); err != nil {
				return nil, fmt.Errorf("natssub: %w", err)
			}
		}
	}
	gone := make(chan struct{})
	hostClosed := opts.ClosedCB
	opts.ClosedCB = func(nc *nats.Conn) {
		close(gone)
		if hostClosed != nil {
			hostClosed(nc)
		}
	}
	nc, err := opts.Connect()
	if err != nil {
		return nil, fmt.Errorf("natssub: cannot connect to NATS: %w", err)
	}
	g := &gate{Unmarshaler: s.config.Unmarshaler, pending: make(map[*message.Message]*nats.Msg)}
	config := s.config.GetSubscriberSubscriptionConfig()
	config.Unmarshaler = g
	logger := quietEnd{LoggerAdapter: s.logger, ending: new(atomic.Bool)}
	inner, err := wmnats.NewSubscriberWithNatsConn(nc, config, logger)
	if err == nil {
		// inner's subscription lives until end has taken every message
		// that passed the gate: its context is not the caller's.
		innerCtx, stop := context.WithCancel(context.Background())
		var in <-chan *message.Message
		if in, err = inner.Subscribe(innerCtx, topic); err == nil {
			return &subscription{nc: nc, gone: gone, gate: g, inner: inner, in: in, stop: stop, logger: logger,
				subject: topic, recent: make([]pair, max(1, config.SubscribersCount))}, nil
		}
		stop()
	}
	// Not inner.Close: a failed Subscribe leaves it waiting for a
	// subscription that never began, for its CloseTimeout.
	nc.Close()
	<-gone
	return nil, err
}

// forward hands the messages of the subscription on to out until ctx
// ends or closing closes.
func (sub *subscription) forward(ctx context.Context, closing <-chan struct{}, out chan<- *message.Message) {
	for {
		select {
		case m := <-sub.in: // in cannot close before end
			p := sub.take(m)
			select {
			case out <- m:
				sub.recent[sub.next] = p
				sub.next = (sub.next + 1) % len(sub.recent)
			case <-ctx.Done():
				p.nak()
				return
			case <-closing:
				p.nak()
				return
			}
		case <-ctx.Done():
			return
		case <-closing:
			return
		}
	}
}

// take counts m, taken from in, and returns it with what it was
// unmarshalled from.
func (sub *subscription) take(m *message.Message) pair {
	sub.got++
	return pair{msg: m, nm: sub.gate.take(m)}
}

// end shuts the gate, settles with the server the messages handed on
// whose callbacks may still wait and nacks those that passed the gate and
// were not taken, then ends inner's subscription, closes inner and waits
// until the connection is closed.
func (sub *subscription) end() {
	sub.logger.ending.Store(true)
	passed := sub.gate.shut()
	for _, p := range sub.recent {
		if p.msg == nil {
			continue
		}
		select {
		case <-p.msg.Acked():
			_ = p.nm.Ack() // ErrMsgAlreadyAckd when its callback did
		default:
			p.nak()
		}
	}
	sub.recent = nil
	for sub.got < passed {
		sub.take(<-sub.in).nak()
	}
	sub.stop()
	for m := range sub.in { // none: no callback can send now
		m.Nack()
	}
	if err := sub.inner.Close(); err != nil { // drains the connection
		sub.logger.Error("Cannot close the subscriber", err, watermill.LogFields{"topic": sub.subject})
		sub.nc.Close()
	}
	<-sub.gone
}

// nak nacks p with the server, and its message, so that a callback that
// waits for it returns.
func (p pair) nak() {
	if p.nm != nil {
		_ = p.nm.Nak() // fails, harmlessly, outside JetStream or once settled
	}
	p.msg.Nack()
}

// gate is the unmarshaler of a subscription: it counts the messages it
// unmarshals, each of which its callback then sends, and keeps what each
// was unmarshalled from until the subscription takes it, until it is
// shut; after that it nacks what comes and fails, so that the callback
// returns without sending.
type gate struct {
	wmnats.Unmarshaler
	mu      sync.Mutex
	passed  int
	isShut  bool
	pending map[*message.Message]*nats.Msg
}

// errShut is what the gate fails with once shut.
var errShut = errors.New("natssub: the subscription is ending")

func (g *gate) Unmarshal(m *nats.Msg) (*message.Message, error) {
	g.mu.Lock()
	shut := g.isShut
	g.mu.Unlock()
	if shut {
		_ = m.Nak() // fails, harmlessly, outside JetStream
		return nil, errShut
	}
	msg, err := g.Unmarshaler.Unmarshal(m) // outside the lock: callbacks may run at once
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.isShut {
		_ = m.Nak()
		return nil, errShut
	}
	g.passed++
	g.pending[msg] = m
	return msg, nil
}

// shut shuts the gate and returns how many messages passed it.
func (g *gate) shut() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.isShut = true
	return g.passed
}

// take returns what m, which passed the gate, was unmarshalled from, and
// forgets it.
func (g *gate) take(m *message.Message) *nats.Msg {
	g.mu.Lock()
	defer g.mu.Unlock()
	nm := g.pending[m]
	delete(g.pending, m)
	return nm
}

// quietEnd is a logger that leaves out, once its subscription is ending,
// watermill-nats's errors for what the ending does on purpose: messages
// refused at the shut gate, acks and nacks that end sent already, and
// those on a connection that drains or is closed.
type quietEnd struct {
	watermill.LoggerAdapter
	ending *atomic.Bool
}

func (l quietEnd) Error(msg string, err error, fields watermill.LogFields) {
	if errors.Is(err, errShut) || l.ending.Load() && (errors.Is(err, nats.ErrMsgAlreadyAckd) ||
		errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, nats.ErrConnectionDraining)) {
		return
	}
	l.LoggerAdapter.Error(msg, err, fields)
}

func (l quietEnd) With(fields watermill.LogFields) watermill.LoggerAdapter {
	return quietEnd{LoggerAdapter: l.LoggerAdapter.With(fields), ending: l.ending}
}
