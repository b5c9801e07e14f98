// Package natssub is watermill-nats's NATS subscriber (v2, JetStream or
// core NATS) with subscriptions that end safely: NewSubscriber takes
// watermill-nats's SubscriberConfig and stands in for its NewSubscriber,
// as the subscriber of a projections.Runner (examples/nats shows the
// wiring, with a durable consumer of its own).
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
// gate is nacked too. It settles them once the subscription is
// unsubscribed, so that a redelivery does not come back to it as it
// goes. The messages that JetStream pushed and nats.go still held when
// the subscription ended come again after the AckWait, as with
// watermill-nats alone. A subscription whose connection closes for good
// (its reconnections failed) ends too, and its channel closes. Each subscription has its own
// connection, closed (drained) before the subscription's channel closes,
// so that a subscription that binds to the same consumer right after
// finds it free.
//
// A message's context is watermill-nats's: it ends once the message is
// acked or nacked, or its subscription ends, and does not derive from the
// context given to Subscribe.
package natssub

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

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
// connection, of its own, and returns once the server has confirmed the
// subscription, so that what is published after it returns reaches it;
// it fails when that takes longer than the config's SubscribeTimeout, or
// ctx ends or the subscriber closes first. The channel closes once ctx ends, the
// subscriber closes or the connection closes for good, and only once the
// subscription's connection is closed.
func (s *Subscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errors.New("natssub: subscriber closed")
	}
	s.wg.Add(1) // Close waits for this subscription, from here
	s.mu.Unlock()
	sub, err := s.open(ctx, topic)
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
	// recent holds the last message handed on from each of inner's
	// nats.go subscriptions: a callback takes its next message only once
	// it has settled the one before, so only these may still be waiting
	// for the consumer.
	recent map[*nats.Subscription]pair
	left   []pair // taken and not handed on, to be nacked
}

// pair is a message and what it was unmarshalled from.
type pair struct {
	msg *message.Message
	nm  *nats.Msg
}

// open connects and subscribes to topic; ctx may stop it while it waits
// for the server (settled).
func (s *Subscriber) open(ctx context.Context, topic string) (*subscription, error) {
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
	logger := quietEnd{LoggerAdapter: s.logger, state: new(atomic.Int32)}
	inner, err := wmnats.NewSubscriberWithNatsConn(nc, config, logger)
	if err == nil {
		// inner's subscription lives until end has taken every message
		// that passed the gate: its context is not the caller's.
		innerCtx, stop := context.WithCancel(context.Background())
		var in <-chan *message.Message
		if in, err = inner.Subscribe(innerCtx, topic); err == nil {
			sub := &subscription{nc: nc, gone: gone, gate: g, inner: inner, in: in, stop: stop, logger: logger,
				subject: topic, recent: make(map[*nats.Subscription]pair)}
			if err := settled(ctx, s.closing, nc, s.config.SubscribeTimeout); err != nil {
				sub.abandon()
				return nil, err
			}
			return sub, nil
		}
		stop()
	}
	// Not inner.Close: a failed Subscribe leaves it waiting for a
	// subscription that never began, for its CloseTimeout.
	nc.Close()
	<-gone
	return nil, err
}

// settled waits until the server has every subscription nc sent, for at
// most timeout (watermill-nats's 30 s when 0), and until ctx ends or
// closing closes: nats.go sends them behind Subscribe's back, and a core
// NATS message published before the server has them is lost, a JetStream
// one given to the subscriptions that were there. A connection that
// drops meanwhile sends them again once it reconnects, which settled then
// waits for.
func settled(ctx context.Context, closing <-chan struct{}, nc *nats.Conn, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	caller := ctx
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	go func() {
		select {
		case <-closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	for {
		err := nc.FlushWithContext(ctx)
		switch {
		case err == nil:
			return nil
		case ctx.Err() == nil && !nc.IsClosed():
			select { // nats.go dropped the flush with the connection, which reconnects
			case <-time.After(20 * time.Millisecond):
				continue
			case <-ctx.Done():
			}
		}
		select {
		case <-closing:
			return errors.New("natssub: subscriber closed")
		default:
		}
		if caller.Err() != nil {
			return fmt.Errorf("natssub: Subscribe's context ended before the server confirmed the subscription: %w", context.Cause(caller))
		}
		if ctx.Err() != nil {
			return fmt.Errorf("natssub: the server did not confirm the subscription within %s (SubscribeTimeout): %w", timeout, err)
		}
		return fmt.Errorf("natssub: the server did not confirm the subscription: %w", err)
	}
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
				if p.nm != nil {
					sub.recent[p.nm.Sub] = p
				}
			case <-ctx.Done():
				sub.left = append(sub.left, p)
				return
			case <-closing:
				sub.left = append(sub.left, p)
				return
			}
		case <-ctx.Done():
			return
		case <-closing:
			return
		case <-sub.gone:
			sub.logger.LoggerAdapter.Error("The subscription's connection closed", sub.nc.LastError(), watermill.LogFields{"topic": sub.subject})
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

// end shuts the gate, takes the messages that passed it, ends inner's
// subscription and then settles with the server the messages handed on
// whose callbacks may still wait (acks those the consumer acknowledged,
// nacks the others) and nacks those taken here and those refused at the
// gate; it closes inner, which drains the connection, and waits until
// the connection is closed.
func (sub *subscription) end() {
	sub.logger.state.Store(ending)
	sub.stopInner()
	// in closed: every nats.go subscription is unsubscribed, so that a
	// nak is not redelivered to this subscription as it goes.
	for _, p := range sub.recent {
		select {
		case <-p.msg.Acked():
			_ = p.nm.Ack()
		default:
			p.nak()
		}
	}
	sub.recent = nil
	for _, p := range sub.left {
		p.nak()
	}
	for _, nm := range sub.gate.takeRefused() {
		_ = nm.Nak()
	}
	sub.logger.state.Store(draining)
	// Closing inner drains the connection; one closed for good already
	// (forward's gone) fails to drain, which was logged then.
	if err := sub.inner.Close(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		sub.logger.LoggerAdapter.Error("Cannot close the subscriber", err, watermill.LogFields{"topic": sub.subject})
		sub.nc.Close()
	}
	<-sub.gone
}

// stopInner shuts the gate, takes the messages that passed it into left
// and ends inner's subscription.
func (sub *subscription) stopInner() {
	passed := sub.gate.shut()
	for sub.got < passed {
		sub.left = append(sub.left, sub.take(<-sub.in))
	}
	sub.stop()
	for m := range sub.in { // none: no callback can send now
		m.Nack()
	}
}

// abandon ends a subscription whose server did not confirm it: it closes
// the connection without draining it, which a server that does not
// answer would hold up, then ends inner's subscription. The messages that
// came already come again after the AckWait, and a consumer that nats.go
// made for the subscription (one not bound with nats.Bind) stays, as
// after a crash: the next subscription of its durable name takes it on.
func (sub *subscription) abandon() {
	sub.logger.state.Store(draining)
	sub.nc.Close()
	sub.stopInner()
	for _, p := range sub.left {
		p.msg.Nack()
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
// shut; after that it keeps what comes, for end to nack, and fails, so
// that the callback returns without sending.
type gate struct {
	wmnats.Unmarshaler
	mu      sync.Mutex
	passed  int
	isShut  bool
	pending map[*message.Message]*nats.Msg
	refused []*nats.Msg // came once shut
}

// errShut is what the gate fails with once shut.
var errShut = errors.New("natssub: the subscription is ending")

func (g *gate) Unmarshal(m *nats.Msg) (*message.Message, error) {
	if g.refuse(m) {
		return nil, errShut
	}
	msg, err := g.Unmarshaler.Unmarshal(m) // outside the lock: callbacks may run at once
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.isShut {
		g.refused = append(g.refused, m)
		return nil, errShut
	}
	g.passed++
	g.pending[msg] = m
	return msg, nil
}

// refuse keeps m and reports true when the gate is shut.
func (g *gate) refuse(m *nats.Msg) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.isShut {
		g.refused = append(g.refused, m)
	}
	return g.isShut
}

// takeRefused returns what came once the gate was shut, and forgets it.
func (g *gate) takeRefused() []*nats.Msg {
	g.mu.Lock()
	defer g.mu.Unlock()
	r := g.refused
	g.refused = nil
	return r
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

// quietEnd is a logger that leaves out watermill-nats's errors for what
// a subscription's end does on purpose: messages refused at the shut
// gate; once ending, acks and nacks that end sent already; once
// draining, those that come too late on the connection that drains.
type quietEnd struct {
	watermill.LoggerAdapter
	state *atomic.Int32 // running, ending or draining
}

// The states of a subscription, for quietEnd.
const (
	running int32 = iota
	ending
	draining
)

func (l quietEnd) Error(msg string, err error, fields watermill.LogFields) {
	state := l.state.Load()
	switch {
	case errors.Is(err, errShut):
	case state >= ending && errors.Is(err, nats.ErrMsgAlreadyAckd):
	case state >= draining && (errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, nats.ErrConnectionDraining)):
	default:
		l.LoggerAdapter.Error(msg, err, fields)
	}
}

func (l quietEnd) With(fields watermill.LogFields) watermill.LoggerAdapter {
	return quietEnd{LoggerAdapter: l.LoggerAdapter.With(fields), state: l.state}
}
