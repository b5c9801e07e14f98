package projections

import (
	"context"
	"encoding"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/truefcr/truefcr/events"
)

// Errors of the Runner. Every error it returns for a reason of its own
// wraps one of them.
var (
	// ErrRunnerConfig: a RunnerConfig that cannot work.
	ErrRunnerConfig = errors.New("invalid runner configuration")
	// ErrRunnerBusy: Run was called while the runner was already running.
	ErrRunnerBusy = errors.New("runner already running")
	// ErrCannotRebuild: Rebuild needs a Store to replay and a projection
	// that can be reset or can save and restore its state.
	ErrCannotRebuild = errors.New("cannot rebuild")
	// ErrCheckpoint: a checkpoint could not be written or read back.
	ErrCheckpoint = errors.New("checkpoint failed")
)

// Metadata keys that the Runner sets on a message it sends to the poison
// topic. They are Watermill's own (middleware.PoisonQueue), so that tools
// that read Watermill's poison queues read ours.
const (
	MetadataPoisonReason = "reason_poisoned"
	MetadataPoisonTopic  = "topic_poisoned"
)

// Resetter is a projection that can drop everything it absorbed, so that
// Runner.Rebuild can replay the store into it.
type Resetter interface {
	Reset()
}

// RunnerConfig configures a Runner. A Runner needs a Projection and at
// least one source: a Store, a Subscriber with a topic, or both.
type RunnerConfig struct {
	// Name identifies the runner's checkpoint. Required.
	Name string
	// Projection receives the events. Required.
	Projection Projection

	// Store, when set, is read from the checkpoint's position on start
	// (catch-up) and whenever the runner checkpoints, so that no
	// committed event is ever missed.
	Store events.Store
	// Subscriber, when set, delivers events live from Topic and Topics.
	// The runner cancels its subscriptions when it stops; closing the
	// Subscriber is up to its owner.
	Subscriber message.Subscriber
	// Topic is the topic to follow; Topics adds more (partitions).
	Topic  string
	Topics []string

	// Codecs decode messages by the codec their metadata names; msgpack
	// and JSON with the built-in event types by default.
	Codecs []events.Codec
	// Checkpoints keeps the runner's checkpoint; a MemoryCheckpoints by
	// default.
	Checkpoints CheckpointStore
	// CheckpointEvery checkpoints after that many events; 1000 by
	// default, negative for never.
	CheckpointEvery int
	// CheckpointInterval checkpoints that often while events arrive; 5 s
	// by default, negative for never.
	CheckpointInterval time.Duration
	// PollInterval is how often a runner without a Subscriber looks for
	// new events in the Store; 500 ms by default.
	PollInterval time.Duration
	// ResubscribeDelay is how long the runner waits before it subscribes
	// again to a topic whose channel closed; 100 ms by default, doubling
	// up to 5 s while subscribing fails.
	ResubscribeDelay time.Duration

	// PoisonPublisher receives, on PoisonTopic, the messages that cannot
	// be decoded, with the reason in MetadataPoisonReason. Without one
	// such a message is counted, logged and acknowledged.
	PoisonPublisher message.Publisher
	PoisonTopic     string

	// Logger logs what the runner cannot return as an error; slog's
	// default logger by default. watermill.NewSlogLogger adapts a
	// *slog.Logger.
	Logger watermill.LoggerAdapter
	// Now is the clock that stamps checkpoints; time.Now by default.
	Now func() time.Time
}

func (c *RunnerConfig) setDefaults() {
	if len(c.Codecs) == 0 {
		reg := events.NewRegistry()
		c.Codecs = []events.Codec{events.NewMsgpackCodec(reg), events.NewJSONCodec(reg)}
	}
	if c.Checkpoints == nil {
		c.Checkpoints = NewMemoryCheckpoints()
	}
	if c.CheckpointEvery == 0 {
		c.CheckpointEvery = 1000
	}
	if c.CheckpointInterval == 0 {
		c.CheckpointInterval = 5 * time.Second
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 500 * time.Millisecond
	}
	if c.ResubscribeDelay <= 0 {
		c.ResubscribeDelay = 100 * time.Millisecond
	}
	if c.Logger == nil {
		c.Logger = watermill.NewSlogLogger(slog.Default())
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// topics returns every topic to follow.
func (c RunnerConfig) topics() []string {
	var ts []string
	if c.Topic != "" {
		ts = append(ts, c.Topic)
	}
	for _, t := range c.Topics {
		if t != "" {
			ts = append(ts, t)
		}
	}
	return ts
}

// Validate reports a configuration that cannot work.
func (c RunnerConfig) Validate() error {
	bad := func(why string) error { return fmt.Errorf("runner %q: %s: %w", c.Name, why, ErrRunnerConfig) }
	switch {
	case c.Name == "":
		return bad("no name")
	case c.Projection == nil:
		return bad("no projection")
	case c.Store == nil && c.Subscriber == nil:
		return bad("neither a store nor a subscriber to read events from")
	case c.Subscriber != nil && len(c.topics()) == 0:
		return bad("a subscriber but no topic")
	case c.Subscriber == nil && len(c.topics()) > 0:
		return bad("a topic but no subscriber")
	case c.PoisonPublisher != nil && c.PoisonTopic == "":
		return bad("a poison publisher but no poison topic")
	}
	return nil
}

// RunnerStats counts what a Runner did with the events it received.
type RunnerStats struct {
	// Applied is how many events the projection absorbed.
	Applied int64
	// Duplicates is how many events were skipped because their version
	// was already applied: redeliveries, and events met both in the
	// store and on the subscriber.
	Duplicates int64
	// Held is how many events wait for an earlier version of their issue.
	Held int
	// Rejected is how many events the projection returned an error for;
	// they are logged and passed over.
	Rejected int64
	// Poisoned is how many messages could not be decoded.
	Poisoned int64
	// Checkpoints is how many checkpoints were saved.
	Checkpoints int64
	// Position is the last store position covered.
	Position uint64
}

// Lag says how far a Runner is behind its sources.
type Lag struct {
	// Position is the last store position the runner covers; Head is the
	// store's last position. Both are 0 without a Store.
	Position, Head uint64
	// Behind is Head − Position: committed events not read yet.
	Behind uint64
	// Held is how many received events wait for an earlier version of
	// their issue.
	Held int
}

// Runner feeds a Projection from a Store, a Watermill Subscriber or both,
// and checkpoints its progress so that a restart resumes where it stopped.
//
// On start it loads its checkpoint and, when the projection implements
// encoding.BinaryMarshaler and encoding.BinaryUnmarshaler, restores the
// projection's state; a projection that cannot save its state is rebuilt
// from the Store on every start. It then subscribes, catches up from the
// Store from the checkpoint's position, and follows the Subscriber live.
// Subscribing before the catch-up means nothing published meanwhile is
// missed; events met twice are recognised by their issue and version and
// skipped, so none is counted twice. Out-of-order events wait for the
// versions before them.
//
// A message is acknowledged only once its event was applied, or held in
// order to be applied, or found to be a duplicate. Undecodable messages
// go to the poison topic and never block the stream.
//
// # Guarantees
//
// With a Store, every committed event is applied exactly once, whatever
// the transport does: a crash costs re-reading the store from the last
// checkpoint. With a Subscriber only, delivery is at-least-once from the
// broker and the runner removes duplicates per issue by version, so each
// event delivered is applied once; but a message is acknowledged when it
// is applied, not when it is checkpointed, so a crash between two
// checkpoints loses the events applied since the last one, unless the
// broker can replay them. Checkpoint often, or add a Store, where that
// matters.
//
// A Runner is safe for concurrent use: Stats, Lag, CaughtUp and View may
// be called while Run runs.
type Runner struct {
	cfg RunnerConfig

	running  atomic.Bool
	started  atomic.Bool // state restored or rebuilt: later Runs continue in memory
	caughtUp atomic.Bool

	initial []byte // the projection's state at NewRunner, for Rebuild

	mu       sync.Mutex // guards the projection, seq, position and sinceCP
	seq      *Sequencer
	position uint64
	sinceCP  int

	applied, duplicates, rejected, poisoned, checkpoints atomic.Int64
	held                                                 atomic.Int64
	pos                                                  atomic.Uint64
}

// NewRunner returns a Runner for cfg.
func NewRunner(cfg RunnerConfig) (*Runner, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &Runner{cfg: cfg, seq: NewSequencer()}
	if _, ok := cfg.Projection.(Resetter); !ok {
		if m, ok := cfg.Projection.(encoding.BinaryMarshaler); ok {
			if _, ok := cfg.Projection.(encoding.BinaryUnmarshaler); ok {
				var err error
				if r.initial, err = m.MarshalBinary(); err != nil {
					return nil, fmt.Errorf("runner %q: save the projection's initial state: %w: %w", cfg.Name, ErrCheckpoint, err)
				}
			}
		}
	}
	return r, nil
}

// Stats returns what the runner has done so far.
func (r *Runner) Stats() RunnerStats {
	return RunnerStats{
		Applied:     r.applied.Load(),
		Duplicates:  r.duplicates.Load(),
		Held:        int(r.held.Load()),
		Rejected:    r.rejected.Load(),
		Poisoned:    r.poisoned.Load(),
		Checkpoints: r.checkpoints.Load(),
		Position:    r.pos.Load(),
	}
}

// CaughtUp reports whether the runner has read everything its Store held
// when it last looked and now follows its Subscriber (or polls the Store).
func (r *Runner) CaughtUp() bool { return r.caughtUp.Load() }

// View calls fn while no event is being applied, so that fn may read the
// projection (a report, say) while Run runs.
func (r *Runner) View(fn func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fn()
}

// storeHead is what a Store may offer to tell its last position cheaply.
type storeHead interface {
	Head(ctx context.Context) (uint64, error)
}

// storeLen is what MemoryStore offers.
type storeLen interface{ Len() int }

// Lag returns how far the runner is behind its Store. When the Store has
// neither a Head(ctx) (uint64, error) nor a Len() int method, Lag counts
// the events after the runner's position by reading them.
func (r *Runner) Lag(ctx context.Context) (Lag, error) {
	l := Lag{Position: r.pos.Load(), Held: int(r.held.Load())}
	if r.cfg.Store == nil {
		return l, nil
	}
	switch s := r.cfg.Store.(type) {
	case storeHead:
		h, err := s.Head(ctx)
		if err != nil {
			return l, fmt.Errorf("runner %q: read store head: %w", r.cfg.Name, err)
		}
		l.Head = h
	case storeLen:
		l.Head = uint64(s.Len())
	default:
		l.Head = l.Position
		for e, err := range r.cfg.Store.ReadAll(ctx, l.Position) {
			if err != nil {
				return l, fmt.Errorf("runner %q: read store after position %d: %w", r.cfg.Name, l.Position, err)
			}
			l.Head = e.Position
		}
	}
	if l.Head > l.Position {
		l.Behind = l.Head - l.Position
	}
	return l, nil
}

// Run feeds the projection until ctx is cancelled, then checkpoints,
// cancels its subscriptions and returns nil (or the error of the final
// checkpoint). It returns early with an error when the checkpoint cannot
// be loaded, a topic cannot be subscribed to at start, or the Store fails.
// Calling Run again after it returned continues from the state in memory.
func (r *Runner) Run(ctx context.Context) error {
	if !r.running.CompareAndSwap(false, true) {
		return fmt.Errorf("runner %q: %w", r.cfg.Name, ErrRunnerBusy)
	}
	defer r.running.Store(false)
	r.caughtUp.Store(false)

	if !r.started.Load() {
		if err := r.restore(ctx); err != nil {
			if ctx.Err() != nil {
				return nil // stopped before it began: nothing to checkpoint
			}
			return err
		}
		r.started.Store(true)
	}

	subCtx, cancelSubs := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancelSubs()
		wg.Wait()
	}()
	var in <-chan delivery
	var resubscribed <-chan struct{}
	if r.cfg.Subscriber != nil {
		var err error
		if in, resubscribed, err = r.subscribe(subCtx, &wg); err != nil {
			if ctx.Err() != nil {
				return r.shutdown(ctx)
			}
			return err
		}
	}

	if r.cfg.Store != nil {
		if err := r.catchUp(ctx); err != nil {
			if ctx.Err() != nil {
				return r.shutdown(ctx)
			}
			return err
		}
	}
	r.caughtUp.Store(true)

	var tick, poll <-chan time.Time
	if r.cfg.CheckpointInterval > 0 {
		t := time.NewTicker(r.cfg.CheckpointInterval)
		defer t.Stop()
		tick = t.C
	}
	if r.cfg.Subscriber == nil {
		t := time.NewTicker(r.cfg.PollInterval)
		defer t.Stop()
		poll = t.C
	}
	for {
		var err error
		select {
		case <-ctx.Done():
			return r.shutdown(ctx)
		case d := <-in:
			err = r.handle(ctx, d)
		case <-tick:
			err = r.checkpoint(ctx, true)
		case <-poll:
			err = r.catchUp(ctx)
		case <-resubscribed:
			// Messages may have been lost with the old subscription.
			if r.cfg.Store != nil {
				err = r.catchUp(ctx)
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return r.shutdown(ctx)
			}
			return err
		}
	}
}

// shutdown writes the final checkpoint with a context that outlives ctx.
func (r *Runner) shutdown(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	return r.checkpoint(ctx, false)
}

// handle decodes, applies and acknowledges one message.
func (r *Runner) handle(ctx context.Context, d delivery) error {
	msg := d.msg
	e, err := events.DecodeMessage(msg, r.cfg.Codecs...)
	if err != nil {
		r.poison(d, err)
		return nil
	}
	r.mu.Lock()
	r.offer(e)
	due := r.cfg.CheckpointEvery > 0 && r.sinceCP >= r.cfg.CheckpointEvery
	r.mu.Unlock()
	msg.Ack()
	if due {
		return r.checkpoint(ctx, true)
	}
	return nil
}

// poison sends msg to the poison topic, or counts and drops it.
func (r *Runner) poison(d delivery, why error) {
	msg := d.msg
	r.poisoned.Add(1)
	fields := watermill.LogFields{"runner": r.cfg.Name, "message_uuid": msg.UUID, "topic": d.topic}
	if r.cfg.PoisonPublisher == nil {
		r.cfg.Logger.Error("dropping a message that is not an event", why, fields)
		msg.Ack()
		return
	}
	p := msg.Copy()
	p.Metadata.Set(MetadataPoisonReason, why.Error())
	p.Metadata.Set(MetadataPoisonTopic, d.topic)
	if err := r.cfg.PoisonPublisher.Publish(r.cfg.PoisonTopic, p); err != nil {
		// Leave it to the broker to deliver again rather than lose it.
		r.poisoned.Add(-1)
		r.cfg.Logger.Error("cannot send a message that is not an event to the poison topic", err, fields)
		msg.Nack()
		return
	}
	r.cfg.Logger.Info("sent a message that is not an event to the poison topic", fields.Add(watermill.LogFields{"reason": why.Error()}))
	msg.Ack()
}

// offer passes e through the runner's sequencer to the projection. The
// caller holds r.mu.
func (r *Runner) offer(e events.Envelope) {
	out, _ := r.seq.Offer(e, r.apply) // apply never fails: rejections are counted
	switch out {
	case Duplicate:
		r.duplicates.Add(1)
	case Applied:
		r.sinceCP++
	}
	r.held.Store(int64(r.seq.Held()))
	if e.Position > r.position {
		r.position = e.Position
		r.pos.Store(e.Position)
	}
}

// apply hands one in-order event to the projection.
func (r *Runner) apply(e events.Envelope) error {
	if err := r.cfg.Projection.Apply(e); err != nil {
		r.rejected.Add(1)
		r.cfg.Logger.Error("projection rejected an event", err, watermill.LogFields{
			"runner": r.cfg.Name, "issue": e.Issue.String(), "version": e.Version, "type": string(e.Type()),
		})
		return nil
	}
	r.applied.Add(1)
	return nil
}

// catchUp applies what the Store holds after the runner's position.
func (r *Runner) catchUp(ctx context.Context) error {
	r.mu.Lock()
	from := r.position
	r.mu.Unlock()
	for e, err := range r.cfg.Store.ReadAll(ctx, from) {
		if err != nil {
			return fmt.Errorf("runner %q: read store after position %d: %w", r.cfg.Name, from, err)
		}
		r.mu.Lock()
		r.offer(e)
		due := r.cfg.CheckpointEvery > 0 && r.sinceCP >= r.cfg.CheckpointEvery
		r.mu.Unlock()
		if due {
			if err := r.checkpoint(ctx, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkpoint saves the position and state. With sweep, it first reads the
// store up to its end, so that the position covers what was applied live.
func (r *Runner) checkpoint(ctx context.Context, sweep bool) error {
	if sweep && r.cfg.Store != nil && r.cfg.Subscriber != nil {
		if err := r.catchUp(ctx); err != nil {
			return err
		}
	}
	r.mu.Lock()
	cp, err := r.snapshot()
	if err == nil {
		r.sinceCP = 0
	}
	r.mu.Unlock()
	if err != nil {
		return err
	}
	if err := r.cfg.Checkpoints.Save(ctx, r.cfg.Name, cp); err != nil {
		if ctx.Err() != nil {
			return err
		}
		// Not fatal: the next checkpoint tries again, a restart replays more.
		r.cfg.Logger.Error("cannot save checkpoint", err, watermill.LogFields{"runner": r.cfg.Name, "position": cp.Position})
		return nil
	}
	r.checkpoints.Add(1)
	return nil
}

// snapshot builds the checkpoint of the current state. The caller holds r.mu.
func (r *Runner) snapshot() (Checkpoint, error) {
	cp := Checkpoint{Position: r.position, Saved: r.cfg.Now()}
	m, ok := r.cfg.Projection.(encoding.BinaryMarshaler)
	if !ok {
		return cp, nil
	}
	state, err := m.MarshalBinary()
	if err != nil {
		return cp, fmt.Errorf("runner %q: save projection state: %w: %w", r.cfg.Name, ErrCheckpoint, err)
	}
	cp.State, err = appendRunnerState(nil, r.seq, r.cfg.Codecs[0], state)
	if err != nil {
		return cp, fmt.Errorf("runner %q: save runner state: %w: %w", r.cfg.Name, ErrCheckpoint, err)
	}
	return cp, nil
}

// restore loads the checkpoint into the projection, when it can take it.
func (r *Runner) restore(ctx context.Context) error {
	cp, ok, err := r.cfg.Checkpoints.Load(ctx, r.cfg.Name)
	if err != nil {
		return fmt.Errorf("runner %q: load checkpoint: %w: %w", r.cfg.Name, ErrCheckpoint, err)
	}
	if !ok {
		return nil
	}
	u, canLoad := r.cfg.Projection.(encoding.BinaryUnmarshaler)
	if _, canSave := r.cfg.Projection.(encoding.BinaryMarshaler); !canLoad || !canSave || cp.State == nil {
		r.cfg.Logger.Info("projection cannot restore its state: replaying from the start", watermill.LogFields{"runner": r.cfg.Name})
		return nil
	}
	positions, held, state, err := decodeRunnerState(cp.State, r.cfg.Codecs)
	if err != nil {
		return fmt.Errorf("runner %q: checkpoint at position %d: %w: %w", r.cfg.Name, cp.Position, ErrCheckpoint, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := u.UnmarshalBinary(state); err != nil {
		return fmt.Errorf("runner %q: restore projection from checkpoint at position %d: %w: %w", r.cfg.Name, cp.Position, ErrCheckpoint, err)
	}
	r.seq.Restore(positions)
	for _, e := range held {
		_, _ = r.seq.Offer(e, r.apply)
	}
	r.held.Store(int64(r.seq.Held()))
	r.position = cp.Position
	r.pos.Store(cp.Position)
	return nil
}

// Rebuild drops the projection's state and checkpoint and replays the whole
// Store into it. It needs a Store, and a projection that implements
// Resetter or else can save and restore its state, in which case it goes
// back to the state it had when NewRunner was called. Events arriving live
// meanwhile wait; those the replay already applied are then skipped.
func (r *Runner) Rebuild(ctx context.Context) error {
	res, canReset := r.cfg.Projection.(Resetter)
	switch {
	case r.cfg.Store == nil:
		return fmt.Errorf("runner %q: no store to replay: %w", r.cfg.Name, ErrCannotRebuild)
	case !canReset && r.initial == nil:
		return fmt.Errorf("runner %q: projection %T has no Reset method and cannot save its state: %w", r.cfg.Name, r.cfg.Projection, ErrCannotRebuild)
	}
	wasCaughtUp := r.caughtUp.Swap(false)
	r.mu.Lock()
	if canReset {
		res.Reset()
	} else if err := r.cfg.Projection.(encoding.BinaryUnmarshaler).UnmarshalBinary(r.initial); err != nil {
		r.mu.Unlock()
		r.caughtUp.Store(wasCaughtUp)
		return fmt.Errorf("runner %q: reset projection: %w: %w", r.cfg.Name, ErrCannotRebuild, err)
	}
	r.seq = NewSequencer()
	r.position = 0
	r.pos.Store(0)
	r.held.Store(0)
	r.applied.Store(0)
	r.duplicates.Store(0)
	r.rejected.Store(0)
	r.started.Store(true)
	var err error
	for e, rerr := range r.cfg.Store.ReadAll(ctx, 0) {
		if rerr != nil {
			err = fmt.Errorf("runner %q: rebuild: read store: %w", r.cfg.Name, rerr)
			break
		}
		r.offer(e)
	}
	r.mu.Unlock()
	if err != nil {
		return err
	}
	if err := r.checkpoint(ctx, false); err != nil {
		return err
	}
	r.caughtUp.Store(wasCaughtUp)
	return nil
}
