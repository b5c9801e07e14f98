package main

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/projections"
)

// How the GoChannel measurements publish: busChunk messages per Publish
// call, on a GoChannel that blocks each publish until the subscriber
// acknowledged the message, as the project's transport tests wire it. A
// GoChannel that does not wait hands every message to a goroutine of its
// own, which delivers them in any order: across issues the projections
// would then see the log shuffled, and the two sides of the comparison
// would not compute the same thing.
const (
	busChunk  = 256
	busTopic  = "contact.events"
	busBuffer = 1024
)

// busMessages returns the first n events of the store as the Watermill
// messages that events.Publisher sends.
func busMessages(ctx context.Context, store *events.MemoryStore, n int) ([]*message.Message, []events.Envelope, error) {
	codec := events.NewMsgpackCodec(nil)
	msgs := make([]*message.Message, 0, n)
	evs := make([]events.Envelope, 0, n)
	for e, err := range store.ReadAll(ctx, 0) {
		if err != nil {
			return nil, nil, err
		}
		if len(msgs) == n {
			break
		}
		m, err := events.NewMessage(codec, e)
		if err != nil {
			return nil, nil, err
		}
		msgs = append(msgs, m)
		evs = append(evs, e)
	}
	return msgs, evs, nil
}

// busBatch is how many events one message carries in the batched
// measurement.
const busBatch = 64

// batchMessages returns evs as the messages that an events.Publisher with
// Batch busBatch sends: busBatch events, in order, to a message.
func batchMessages(ctx context.Context, evs []events.Envelope) ([]*message.Message, error) {
	var sent collected
	p, err := events.NewPublisher(events.PublisherConfig{Publisher: &sent, Batch: busBatch})
	if err != nil {
		return nil, err
	}
	if err := p.Publish(ctx, evs); err != nil {
		return nil, err
	}
	return sent.msgs, nil
}

// collected is a Watermill publisher that keeps the messages it is given.
type collected struct{ msgs []*message.Message }

func (c *collected) Publish(_ string, msgs ...*message.Message) error {
	c.msgs = append(c.msgs, msgs...)
	return nil
}

func (c *collected) Close() error { return nil }

// newBus returns a GoChannel whose Publish waits until the subscriber
// acknowledged each message, as the runner does once it queued its events.
func newBus() *gochannel.GoChannel {
	return gochannel.NewGoChannel(gochannel.Config{OutputChannelBuffer: busBuffer, BlockPublishUntilSubscriberAck: true}, watermill.NopLogger{})
}

// publishAll publishes msgs busChunk at a time.
func publishAll(bus message.Publisher, msgs []*message.Message) error {
	for i := 0; i < len(msgs); i += busChunk {
		chunk := msgs[i:min(i+busChunk, len(msgs))]
		if err := bus.Publish(busTopic, chunk...); err != nil {
			return fmt.Errorf("publish messages %d to %d: %w", i, i+len(chunk), err)
		}
	}
	return nil
}

// rawBus measures the bare GoChannel: publish msgs, and consume them with
// a handler that only acknowledges. It returns how long that took.
func rawBus(ctx context.Context, msgs []*message.Message) (time.Duration, error) {
	bus := newBus()
	defer bus.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	in, err := bus.Subscribe(ctx, busTopic)
	if err != nil {
		return 0, err
	}
	done := make(chan struct{})
	go func() {
		n := 0
		for m := range in {
			m.Ack()
			if n++; n == len(msgs) {
				close(done)
			}
		}
	}()
	start := time.Now()
	if err := publishAll(bus, msgs); err != nil {
		return 0, err
	}
	select {
	case <-done:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	return time.Since(start), nil
}

// counting is a Reporter that says when it was handed total events. The
// runner calls it from one goroutine and, as the Reporter sequences the
// events itself (projections.SelfSequencing), hands it every event.
type counting struct {
	*projections.Reporter
	n, total int
	done     chan struct{}
}

func (c *counting) Apply(e events.Envelope) error {
	err := c.Reporter.Apply(e)
	if c.n++; c.n == c.total {
		close(c.done)
	}
	return err
}

// runnerBus measures the same messages through a projections.Runner that
// subscribes to the GoChannel and applies them to a Reporter: total events
// in all. It returns events per second and the report.
func runnerBus(ctx context.Context, msgs []*message.Message, total int) (float64, projections.Report, error) {
	bus := newBus()
	defer bus.Close()
	rep, err := projections.NewReporter(projections.ReportConfig{})
	if err != nil {
		return 0, projections.Report{}, err
	}
	p := &counting{Reporter: rep, total: total, done: make(chan struct{})}
	runner, err := projections.NewRunner(projections.RunnerConfig{
		Name: "benchmark", Projection: p, Subscriber: bus, Topic: busTopic,
		Codecs: []events.Codec{events.NewMsgpackCodec(nil)},
		// Checkpoints are left out: this measures the line, not a
		// checkpoint store.
		CheckpointEvery: -1, CheckpointInterval: -1,
		Logger: watermill.NopLogger{},
	})
	if err != nil {
		return 0, projections.Report{}, err
	}
	ctx, cancel := context.WithCancel(ctx)
	stopped := make(chan error, 1)
	go func() { stopped <- runner.Run(ctx) }()
	stop := func() error {
		cancel()
		return <-stopped
	}
	for !runner.CaughtUp() {
		select {
		case err := <-stopped:
			return 0, projections.Report{}, fmt.Errorf("runner stopped before it subscribed: %w", err)
		case <-time.After(time.Millisecond):
		}
	}
	start := time.Now()
	if err := publishAll(bus, msgs); err != nil {
		_ = stop()
		return 0, projections.Report{}, err
	}
	select {
	case <-p.done:
	case err := <-stopped:
		return 0, projections.Report{}, fmt.Errorf("runner stopped after %d of %d events: %w", runner.Stats().Applied, total, err)
	}
	rate := float64(total) / time.Since(start).Seconds()
	if err := stop(); err != nil {
		return 0, projections.Report{}, err
	}
	if s := runner.Stats(); s.Rejected+s.Poisoned > 0 {
		return 0, projections.Report{}, fmt.Errorf("runner rejected %d events and could not decode %d", s.Rejected, s.Poisoned)
	}
	return rate, rep.Report(), nil
}

// directReport applies evs straight to a Reporter.
func directReport(evs []events.Envelope) (projections.Report, error) {
	rep, err := projections.NewReporter(projections.ReportConfig{})
	if err != nil {
		return projections.Report{}, err
	}
	for _, e := range evs {
		if err := rep.Apply(e); err != nil {
			return projections.Report{}, err
		}
	}
	return rep.Report(), nil
}

// measureBus measures the bare GoChannel and the runner behind it, runs
// times each, alternating, and checks that the runner's report equals
// the report of the same events applied directly.
func measureBus(ctx context.Context, t table, res *Result, store *events.MemoryStore, n, runs int) error {
	msgs, evs, err := busMessages(ctx, store, n)
	if err != nil {
		return err
	}
	t.section(fmt.Sprintf("4. Watermill GoChannel, the first %d events, %d messages a Publish, each acknowledged before the next", len(msgs), busChunk))
	batched, err := batchMessages(ctx, evs)
	if err != nil {
		return err
	}
	var raws, rawsBatched, ours, oursBatched []float64
	var last, lastBatched projections.Report
	perS := func(n int, d time.Duration) float64 { return float64(n) / d.Seconds() }
	for range runs {
		// Each side starts from a collected heap, so that neither pays for
		// the garbage of the other's last run.
		runtime.GC()
		raw, err := rawBus(ctx, msgs)
		if err != nil {
			return fmt.Errorf("bare GoChannel: %w", err)
		}
		runtime.GC()
		rawBatched, err := rawBus(ctx, batched)
		if err != nil {
			return fmt.Errorf("bare GoChannel, batches: %w", err)
		}
		raws, rawsBatched = append(raws, perS(len(msgs), raw)), append(rawsBatched, perS(len(evs), rawBatched))
		runtime.GC()
		r, rep, err := runnerBus(ctx, msgs, len(evs))
		if err != nil {
			return fmt.Errorf("runner on GoChannel: %w", err)
		}
		runtime.GC()
		rb, repb, err := runnerBus(ctx, batched, len(evs))
		if err != nil {
			return fmt.Errorf("runner on GoChannel, batches: %w", err)
		}
		ours, last = append(ours, r), rep
		oursBatched, lastBatched = append(oursBatched, rb), repb
	}
	raw, rawBatched, single, batch := median(raws), median(rawsBatched), median(ours), median(oursBatched)
	singleRatio, ratio, batchedRatio := single/raw, batch/raw, batch/rawBatched
	res.GoChannelEvents, res.GoChannelBatch = num(float64(len(msgs))), num(busBatch)
	res.GoChannelRawEventsPerS, res.GoChannelEventsPerS, res.GoChannelOverheadRatio = num(raw), num(batch), num(ratio)
	res.GoChannelSingleEventsPerS, res.GoChannelSingleRatio = num(single), num(singleRatio)
	res.GoChannelRawBatchedEventsPerS, res.GoChannelBatchedRatio = num(rawBatched), num(batchedRatio)
	t.row("bare GoChannel, one event a message, acknowledge only", si(raw, "msgs/s"), "", false)
	t.row("GoChannel → Runner → Reporter, one event a message", si(single, "events/s"), "", false)
	t.row("ours, one event a message / bare", fmt.Sprintf("%.3f", singleRatio), "", false)
	t.row(fmt.Sprintf("GoChannel → Runner → Reporter, Publisher.Batch %d", busBatch), si(batch, "events/s"), "", false)
	t.row("ours, batched / bare at one event a message", fmt.Sprintf("%.3f", ratio), "≥ 0.8", ratio >= 0.8)
	t.row(fmt.Sprintf("bare GoChannel, the same %d-event messages", busBatch), si(rawBatched, "events/s"), "", false)
	t.row("ours, batched / bare at the same batches", fmt.Sprintf("%.3f", batchedRatio), "", false)
	t.note("the goal compares the runner, batching as a publisher may, with what a handler")
	t.note("reading one event a message gets; at the same batches, the bare GoChannel")
	t.note("moves pointers while the runner decodes and applies every event")

	want, err := directReport(evs)
	if err != nil {
		return err
	}
	a, _ := json.Marshal(last)
	ab, _ := json.Marshal(lastBatched)
	b, _ := json.Marshal(want)
	agrees := string(a) == string(b) && string(ab) == string(b)
	res.GoChannelAgrees = boolean(agrees)
	t.row("runner's report = direct report", fmt.Sprint(agrees), "", false)
	return nil
}
