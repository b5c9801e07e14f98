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
// only then ends watermill-nats's subscription. A message that comes to
// the shut gate is negatively acknowledged, and so are the messages
// handed on and not yet acknowledged (even if the consumer acknowledges
// them later: they come again, which a projections.Runner recognises by
// their versions), so that JetStream may deliver them again at once to
// another subscription of the consumer. Messages that JetStream pushed
// and nats.go still held when the subscription ended come again after the
// consumer's AckWait, as with watermill-nats alone.
package natssub

import (
	"context"
	"errors"
	"strings"
	"sync"

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
// subscriber closes, when watermill-nats can no longer send on it.
func (s *Subscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errors.New("natssub: subscriber closed")
	}
	sub, err := s.open(topic)
	if err != nil {
		return nil, err
	}
	out := make(chan *message.Message)
	s.wg.Add(1)
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
// unmarshaler is gate.
type subscription struct {
	gate    *gate
	inner   *wmnats.Subscriber
	in      <-chan *message.Message
	got     int                // messages taken from in
	stop    context.CancelFunc // ends inner's subscription
	logger  watermill.LoggerAdapter
	handed  []*message.Message // handed on, perhaps not yet acknowledged
	subject string
}

// open subscribes to topic.
func (s *Subscriber) open(topic string) (*subscription, error) {
	g := &gate{Unmarshaler: s.config.Unmarshaler}
	config := s.config
	config.Unmarshaler = g
	logger := quietEnd{s.logger}
	inner, err := wmnats.NewSubscriber(config, logger)
	if err != nil {
		return nil, err
	}
	// inner's subscription lives until end has taken every message that
	// passed the gate: its context is not the caller's.
	innerCtx, stop := context.WithCancel(context.Background())
	in, err := inner.Subscribe(innerCtx, topic)
	if err != nil {
		stop()
		_ = inner.Close()
		return nil, err
	}
	return &subscription{gate: g, inner: inner, in: in, stop: stop, logger: logger, subject: topic}, nil
}

// forward hands the messages of the subscription on to out until ctx
// ends or closing closes.
func (sub *subscription) forward(ctx context.Context, closing <-chan struct{}, out chan<- *message.Message) {
	for {
		select {
		case m := <-sub.in: // in cannot close before end
			sub.got++
			sub.handed = unsettled(sub.handed)
			select {
			case out <- m:
				sub.handed = append(sub.handed, m)
			case <-ctx.Done():
				m.Nack()
				return
			case <-closing:
				m.Nack()
				return
			}
		case <-ctx.Done():
			return
		case <-closing:
			return
		}
	}
}

// end shuts the gate, nacks what was handed on and not acknowledged and
// what passed the gate and was not taken yet, and then ends inner's
// subscription and closes inner.
func (sub *subscription) end() {
	passed := sub.gate.shut()
	for _, m := range sub.handed {
		m.Nack() // false, and nothing done, for a message acknowledged
	}
	sub.handed = nil
	for ; sub.got < passed; sub.got++ {
		(<-sub.in).Nack()
	}
	sub.stop()
	for m := range sub.in { // none: no callback can send now
		m.Nack()
	}
	if err := sub.inner.Close(); err != nil {
		sub.logger.Error("Cannot close the subscriber", err, watermill.LogFields{"topic": sub.subject})
	}
}

// gate is the unmarshaler of a subscription: it counts the messages it
// unmarshals, each of which its callback then sends, until it is shut;
// after that it nacks what comes and fails, so that the callback returns
// without sending.
type gate struct {
	wmnats.Unmarshaler
	mu     sync.Mutex
	passed int
	isShut bool
}

// errShut is what the gate fails with once shut.
var errShut = errors.New("natssub: the subscription is ending")

func (g *gate) Unmarshal(m *nats.Msg) (*message.Message, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.isShut {
		_ = m.Nak() // fails, harmlessly, outside JetStream
		return nil, errShut
	}
	msg, err := g.Unmarshaler.Unmarshal(m)
	if err == nil {
		g.passed++
	}
	return msg, err
}

// shut shuts the gate and returns how many messages passed it.
func (g *gate) shut() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.isShut = true
	return g.passed
}

// unsettled returns the messages of ms, in place, that are neither acked
// nor nacked.
func unsettled(ms []*message.Message) []*message.Message {
	kept := ms[:0]
	for _, m := range ms {
		select {
		case <-m.Acked():
		case <-m.Nacked():
		default:
			kept = append(kept, m)
		}
	}
	clear(ms[len(kept):])
	return kept
}

// quietEnd is a logger that leaves out watermill-nats's error for a
// message that came to the shut gate.
type quietEnd struct{ watermill.LoggerAdapter }

func (l quietEnd) Error(msg string, err error, fields watermill.LogFields) {
	if errors.Is(err, errShut) {
		return
	}
	l.LoggerAdapter.Error(msg, err, fields)
}

func (l quietEnd) With(fields watermill.LogFields) watermill.LoggerAdapter {
	return quietEnd{l.LoggerAdapter.With(fields)}
}
