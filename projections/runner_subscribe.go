package projections

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/truefcr/truefcr/events"
)

// maxResubscribeDelay caps the wait between attempts to subscribe again,
// or to send a message to the poison topic.
const maxResubscribeDelay = 5 * time.Second

// sleep waits for d, and reports false when ctx ends first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// How long release waits for a message or the end of a subscription that
// still hands messages over, how long in all, and how many it nacks.
const (
	releaseWait  = 100 * time.Millisecond
	releaseLimit = time.Second
	releaseMost  = 64
)

// release nacks what ch still hands over once the runner stopped reading
// it, until ch closes or nothing came for releaseWait, for at most
// releaseLimit and releaseMost messages: best effort, which never holds
// up shutdown for long, whatever the subscriber does (a live topic, a
// message handed back at once after each nack). A subscriber that hands a
// message over without watching its context (watermill-amqp's) would
// otherwise hold it, unacknowledged, until the Subscriber closes: a runner
// that Runs again would miss it until then.
func release(ch <-chan *message.Message) {
	quiet := time.NewTimer(releaseWait)
	defer quiet.Stop()
	limit := time.NewTimer(releaseLimit)
	defer limit.Stop()
	for range releaseMost {
		select {
		case msg, ok := <-ch:
			if !ok {
				return
			}
			msg.Nack()
			quiet.Reset(releaseWait)
		case <-quiet.C:
			return
		case <-limit.C:
			return
		}
	}
}

// delivery is the event of one message, decoded, with the message's store
// position (storePosition), 0 for none.
type delivery struct {
	e   events.Envelope
	pos uint64
}

// queueLen is how many decoded and acknowledged events may wait for the
// projection: enough that the broker's delivery of the next messages
// overlaps the projection's work, few enough to hold little.
const queueLen = 512

// subscribe subscribes to every topic and forwards their events, decoded,
// into one channel until ctx is cancelled: each topic's goroutine decodes
// its messages, sends the undecodable ones to the poison topic, and
// acknowledges a message once its event is in the channel. The second channel signals a topic whose
// subscription closed and was made again, after which messages may be
// missing.
func (r *Runner) subscribe(ctx context.Context, wg *sync.WaitGroup) (<-chan delivery, <-chan struct{}, error) {
	out := make(chan delivery, queueLen)
	resubscribed := make(chan struct{}, 1)
	for _, topic := range r.cfg.topics() {
		slow := time.AfterFunc(slowSubscribe, func() {
			r.cfg.Logger.Error("subscribing has not returned: the store is read once it does", nil,
				watermill.LogFields{"runner": r.cfg.Name, "topic": topic, "after": slowSubscribe.String()})
		})
		ch, err := r.cfg.Subscriber.Subscribe(ctx, topic)
		slow.Stop()
		if err != nil {
			// out goes back too: the topics subscribed to already may
			// have queued events, acknowledged, for the caller to apply.
			return out, nil, fmt.Errorf("runner %q: subscribe to topic %q: %w", r.cfg.Name, topic, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.forward(ctx, topic, ch, out, resubscribed)
		}()
	}
	return out, resubscribed, nil
}

// slowSubscribe is how long a Subscribe may take before the runner logs
// that it has not returned: the catch-up from the store waits for it
// (some transports' Subscribe waits for what the broker lacks, such as a
// JetStream stream for the topic).
var slowSubscribe = 10 * time.Second

// storePosition returns the store position that msg carries
// (events.MetadataPosition), or 0 when it has none or the runner has no
// Store. The runner has applied the message's events once its position
// reaches it: every stored event up to the runner's position was offered
// in store order, and a live event carries no position of its own, so
// only the store moves it. The check is made as the message arrives and
// again as its events are applied, since a catch-up may have read them
// meanwhile.
func (r *Runner) storePosition(msg *message.Message) uint64 {
	if r.cfg.Store == nil {
		return 0
	}
	p, _ := events.MessagePosition(msg)
	return p
}

// eventsIn returns how many events msg carries.
func eventsIn(msg *message.Message) int64 {
	n, err := strconv.ParseInt(msg.Metadata.Get(events.MetadataBatch), 10, 64)
	if err != nil || n < 1 {
		return 1
	}
	return n
}

// forward decodes the messages of one topic into out, and subscribes
// again when the subscription closes before ctx is cancelled.
func (r *Runner) forward(ctx context.Context, topic string, ch <-chan *message.Message, out chan<- delivery, resubscribed chan<- struct{}) {
	fields := watermill.LogFields{"runner": r.cfg.Name, "topic": topic}
	for {
	copying:
		for {
			select {
			case <-ctx.Done():
				release(ch)
				return
			case msg, ok := <-ch:
				if !ok {
					break copying
				}
				pos := r.storePosition(msg)
				if pos > 0 && pos <= r.pos.Load() {
					// Read from the store already: a redelivery, or a
					// broker's backlog after a restart, whose events a
					// projection that forgot them would count as late.
					r.covered.Add(eventsIn(msg))
					msg.Ack()
					continue
				}
				// Of a batch with events that do not decode, those
				// that do are applied, and the message goes to the
				// poison topic with the positions of the others.
				evs, err := events.DecodeMessages(msg, r.cfg.Codecs...)
				if err != nil && r.cfg.SkipUnknownTypes {
					var unknown []*events.UnknownTypeError
					unknown, err = events.SplitUnknownTypes(err)
					for _, u := range unknown {
						evs = append(evs, u.Opaque())
					}
				}
				for _, e := range evs {
					select {
					case out <- delivery{e: e, pos: pos}:
					case <-ctx.Done():
						// Those queued are applied, and come again
						// with the message: duplicates, skipped.
						msg.Nack()
						release(ch)
						return
					}
				}
				if err != nil {
					r.poison(ctx, msg, topic, err)
					continue
				}
				msg.Ack()
			}
		}
		if ctx.Err() != nil {
			return
		}
		r.cfg.Logger.Info("subscription closed: subscribing again", fields)
		delay := r.cfg.ResubscribeDelay
		for {
			if !sleep(ctx, delay) {
				return
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
