package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/components/forwarder"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/events/pgstore"
	"github.com/truefcr/truefcr/projections"
	"github.com/truefcr/truefcr/projections/pgcheckpoint"
)

// pipeline is everything between the Service and the runners: the store
// with its outbox, the forwarder, the broker and the checkpoints.
type pipeline struct {
	store       *pgstore.Store
	checkpoints *pgcheckpoint.Store
	broker      *gochannel.GoChannel
	fwd         *forwarder.Forwarder
	fwdDone     chan error // Run's error, once it returns
	logger      watermill.LoggerAdapter
}

// newPipeline makes the tables in schema and wires the pipeline; the
// forwarder waits for forward.
func newPipeline(ctx context.Context, pool *pgxpool.Pool, schema string) (*pipeline, error) {
	p := &pipeline{
		fwdDone: make(chan error, 1),
		logger:  watermill.NewSlogLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))),
	}
	var err error
	// Each append writes its events and their outbox messages in one
	// transaction.
	if p.store, err = pgstore.New(ctx, pool, pgstore.Config{Schema: schema, Outbox: &pgstore.OutboxConfig{Logger: p.logger}}); err != nil {
		return nil, err
	}
	if p.checkpoints, err = pgcheckpoint.New(ctx, pool, pgcheckpoint.Config{Schema: schema}); err != nil {
		return nil, err
	}
	// Blocking each publish until the runner acks keeps the outbox's
	// order, and the forwarder marks a message done only once the runner
	// has it.
	p.broker = gochannel.NewGoChannel(gochannel.Config{BlockPublishUntilSubscriberAck: true}, p.logger)
	p.fwd, err = pgstore.NewForwarder(ctx, pool, p.broker, pgstore.ForwarderConfig{
		Schema: schema, PollInterval: 20 * time.Millisecond, Logger: p.logger,
	})
	if err != nil {
		_ = p.broker.Close()
		return nil, err
	}
	return p, nil
}

// forward starts moving the outbox to the broker, until prune or close.
func (p *pipeline) forward(ctx context.Context) {
	go func() { p.fwdDone <- p.fwd.Run(ctx) }()
}

// prune deletes the messages that the forwarder has passed on until it
// has passed on all n recorded, and stops it. The runners catch up from
// the store as well, so the forwarder may still be at work when they are.
func (p *pipeline) prune(ctx context.Context, n int) (int64, error) {
	var pruned int64
	for {
		k, err := p.store.PruneOutbox(ctx)
		if err != nil {
			return pruned, err
		}
		if pruned += k; pruned >= int64(n) {
			break
		}
		select {
		case <-ctx.Done():
			return pruned, fmt.Errorf("the forwarder passed on %d of %d messages: %w", pruned, n, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if err := p.fwd.Close(); err != nil {
		return pruned, fmt.Errorf("close the outbox forwarder: %w", err)
	}
	if err := <-p.fwdDone; err != nil {
		return pruned, fmt.Errorf("outbox forwarder: %w", err)
	}
	return pruned, nil
}

// close stops the forwarder and the broker.
func (p *pipeline) close() {
	_ = p.fwd.Close()
	_ = p.broker.Close()
}

// running is one runner at work, with its projection.
type running struct {
	runner *projections.Runner
	fcr    *projections.FCR
	from   uint64 // the checkpoint position it started from
	cancel context.CancelFunc
	exited chan struct{}
	err    error // Run's error, once exited is closed
}

// start starts a runner that follows the broker live, catches up from the
// store and checkpoints in Postgres under runnerName.
func (p *pipeline) start(ctx context.Context) (*running, error) {
	cp, _, err := p.checkpoints.Load(ctx, runnerName)
	if err != nil {
		return nil, err
	}
	fcr, err := projections.NewFCR(fcrConfig())
	if err != nil {
		return nil, err
	}
	runner, err := projections.NewRunner(projections.RunnerConfig{
		Name:        runnerName,
		Projection:  fcr,
		Store:       p.store,
		Subscriber:  p.broker,
		Topic:       events.DefaultTopic,
		Checkpoints: p.checkpoints,
		// Live events do not move the runner's position (their messages'
		// store positions only let it pass over what it has read); each
		// checkpoint reads the store to its end and moves it, so Lag
		// follows within a second.
		CheckpointInterval: time.Second,
		Logger:             p.logger,
	})
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(ctx)
	r := &running{runner: runner, fcr: fcr, from: cp.Position, cancel: cancel, exited: make(chan struct{})}
	go func() {
		defer close(r.exited)
		r.err = runner.Run(runCtx)
	}()
	return r, nil
}

// stop stops the runner, which writes its last checkpoint, and returns
// Run's error. It may be called more than once.
func (r *running) stop() error {
	r.cancel()
	<-r.exited
	return r.err
}

// waitCaughtUp returns once the runner has read the store to its end. An
// event that came live before one of its issue's earlier ones waits in
// the FCR (which sequences the events itself) only until the runner reads
// that earlier one from the store.
func (r *running) waitCaughtUp(ctx context.Context) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		var lag projections.Lag
		if r.runner.CaughtUp() {
			var err error
			if lag, err = r.runner.Lag(ctx); err != nil {
				return err
			}
			if lag.Behind == 0 {
				return nil
			}
		}
		select {
		case <-r.exited:
			if r.err != nil {
				return r.err
			}
			return fmt.Errorf("runner %q stopped at position %d before it caught up: %w", runnerName, r.runner.Stats().Position, errNotCaughtUp)
		case <-ctx.Done():
			return fmt.Errorf("runner %q at position %d of %d: %w", runnerName, lag.Position, lag.Head, ctx.Err())
		case <-tick.C:
		}
	}
}

// finish stops the runner and tells what it did and where its checkpoint
// stands.
func (r *running) finish(ctx context.Context, checkpoints projections.CheckpointStore) (runnerSummary, error) {
	if err := r.stop(); err != nil {
		return runnerSummary{}, err
	}
	cp, _, err := checkpoints.Load(ctx, runnerName)
	if err != nil {
		return runnerSummary{}, err
	}
	st := r.runner.Stats()
	return runnerSummary{From: r.from, Checkpoint: cp.Position, Applied: st.Applied, Duplicates: st.Duplicates, Checkpoints: st.Checkpoints}, nil
}
