package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/projections"
)

// How the GoChannel measurements publish: many messages per Publish call,
// without waiting for each acknowledgement, and never more than busWindow
// messages published and not yet consumed, so that the bus's goroutines
// stay bounded. The consumer hands back one credit per message it is
// done with: the bare consumer when it acknowledged it, the runner when
// its projection applied it.
const (
	busChunk  = 256
	busWindow = 4096
	busTopic  = "contact.events"
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

// newBus returns a GoChannel that does not wait for acknowledgements.
func newBus() *gochannel.GoChannel {
	return gochannel.NewGoChannel(gochannel.Config{OutputChannelBuffer: busWindow}, watermill.NopLogger{})
}

// publishAll publishes msgs busChunk at a time, taking a credit for each.
func publishAll(bus message.Publisher, msgs []*message.Message, credit chan<- struct{}) error {
	for i := 0; i < len(msgs); i += busChunk {
		chunk := msgs[i:min(i+busChunk, len(msgs))]
		for range chunk {
			credit <- struct{}{}
		}
		if err := bus.Publish(busTopic, chunk...); err != nil {
			return fmt.Errorf("publish messages %d to %d: %w", i, i+len(chunk), err)
		}
	}
	return nil
}

// rawBus measures the bare GoChannel: publish msgs, and consume them with
// a handler that only acknowledges. It returns messages per second.
func rawBus(ctx context.Context, msgs []*message.Message) (float64, error) {
	bus := newBus()
	defer bus.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	in, err := bus.Subscribe(ctx, busTopic)
	if err != nil {
		return 0, err
	}
	credit := make(chan struct{}, busWindow)
	done := make(chan struct{})
	go func() {
		n := 0
		for m := range in {
			m.Ack()
			<-credit
			if n++; n == len(msgs) {
				close(done)
			}
		}
	}()
	start := time.Now()
	if err := publishAll(bus, msgs, credit); err != nil {
		return 0, err
	}
	select {
	case <-done:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	return float64(len(msgs)) / time.Since(start).Seconds(), nil
}

// crediting hands back a credit for every event its projection applied
// and says when all of them were.
type crediting struct {
	projections.Projection
	credit   chan struct{}
	n, total int
	done     chan struct{}
}

func (c *crediting) Apply(e events.Envelope) error {
	err := c.Projection.Apply(e)
	<-c.credit
	if c.n++; c.n == c.total {
		close(c.done)
	}
	return err
}

// runnerBus measures the same messages through a projections.Runner that
// subscribes to the GoChannel and applies them to a Reporter. It returns
// messages per second and the report.
func runnerBus(ctx context.Context, msgs []*message.Message) (float64, projections.Report, error) {
	bus := newBus()
	defer bus.Close()
	rep, err := projections.NewReporter(projections.ReportConfig{})
	if err != nil {
		return 0, projections.Report{}, err
	}
	p := &crediting{Projection: rep, credit: make(chan struct{}, busWindow), total: len(msgs), done: make(chan struct{})}
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
	if err := publishAll(bus, msgs, p.credit); err != nil {
		_ = stop()
		return 0, projections.Report{}, err
	}
	<-p.done
	rate := float64(len(msgs)) / time.Since(start).Seconds()
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
	t.section(fmt.Sprintf("4. Watermill GoChannel, the first %d events, %d messages a Publish, up to %d in flight", len(msgs), busChunk, busWindow))
	var raws, ours []float64
	var last projections.Report
	for range runs {
		raw, err := rawBus(ctx, msgs)
		if err != nil {
			return fmt.Errorf("bare GoChannel: %w", err)
		}
		r, rep, err := runnerBus(ctx, msgs)
		if err != nil {
			return fmt.Errorf("runner on GoChannel: %w", err)
		}
		raws, ours, last = append(raws, raw), append(ours, r), rep
	}
	raw, our := median(raws), median(ours)
	ratio := our / raw
	res.GoChannelEvents = num(float64(len(msgs)))
	res.GoChannelRawEventsPerS, res.GoChannelEventsPerS, res.GoChannelOverheadRatio = num(raw), num(our), num(ratio)
	t.row("bare GoChannel, acknowledge only", si(raw, "msgs/s"), "", false)
	t.row("GoChannel → Runner → Reporter", si(our, "events/s"), "", false)
	t.row("ours / bare", fmt.Sprintf("%.3f", ratio), "≥ 0.8", ratio >= 0.8)

	want, err := directReport(evs)
	if err != nil {
		return err
	}
	a, _ := json.Marshal(last)
	b, _ := json.Marshal(want)
	agrees := string(a) == string(b)
	res.GoChannelAgrees = boolean(agrees)
	t.row("runner's report = direct report", fmt.Sprint(agrees), "", false)
	return nil
}
