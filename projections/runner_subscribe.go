package projections

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
)

// maxResubscribeDelay caps the wait between attempts to subscribe again.
const maxResubscribeDelay = 5 * time.Second

// delivery is one message and the topic it came from.
type delivery struct {
	msg   *message.Message
	topic string
}

// subscribe subscribes to every topic and forwards their messages into one
// channel until ctx is cancelled. The second channel signals a topic whose
// subscription closed and was made again, after which messages may be
// missing.
func (r *Runner) subscribe(ctx context.Context, wg *sync.WaitGroup) (<-chan delivery, <-chan struct{}, error) {
	out := make(chan delivery)
	resubscribed := make(chan struct{}, 1)
	for _, topic := range r.cfg.topics() {
		ch, err := r.cfg.Subscriber.Subscribe(ctx, topic)
		if err != nil {
			return nil, nil, fmt.Errorf("runner %q: subscribe to topic %q: %w", r.cfg.Name, topic, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.forward(ctx, topic, ch, out, resubscribed)
		}()
	}
	return out, resubscribed, nil
}

// forward copies the messages of one topic to out, and subscribes again
// when the subscription closes before ctx is cancelled.
func (r *Runner) forward(ctx context.Context, topic string, ch <-chan *message.Message, out chan<- delivery, resubscribed chan<- struct{}) {
	fields := watermill.LogFields{"runner": r.cfg.Name, "topic": topic}
	for {
	copying:
		for {
			select {
			case <-ctx.Done():
				return
			case msg, ok := <-ch:
				if !ok {
					break copying
				}
				select {
				case out <- delivery{msg: msg, topic: topic}:
				case <-ctx.Done():
					msg.Nack()
					return
				}
			}
		}
		if ctx.Err() != nil {
			return
		}
		r.cfg.Logger.Info("subscription closed: subscribing again", fields)
		delay := r.cfg.ResubscribeDelay
		for {
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			var err error
			if ch, err = r.cfg.Subscriber.Subscribe(ctx, topic); err == nil {
				break
			}
			r.cfg.Logger.Error("cannot subscribe again", err, fields)
			delay = min(2*delay, maxResubscribeDelay)
		}
		select {
		case resubscribed <- struct{}{}:
		default:
		}
	}
}
