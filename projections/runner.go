package projections

import (
	"context"
	"encoding"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"

	"github.com/truefcr/truefcr/events"
)

// Runner feeds a Projection from a Store, a Watermill Subscriber or both,
// and checkpoints its progress so that a restart resumes where it stopped.
//
// On start it loads its checkpoint and, when the projection implements
// encoding.BinaryMarshaler and encoding.BinaryUnmarshaler (every projection
// of this package does, the Reporter included), restores the projection's
// state; a projection that cannot save its state is rebuilt from the Store
// on every start (a Resetter is reset first), and goes on from the state
// it has without a Store. A projection that keeps its state elsewhere, such as a table of
// the host's, must therefore be a Resetter, or its state is counted again
// at each start; one whose state commits with its position is fed by the
// host's own loop instead (see pgcheckpoint.Store.SaveTx). It then subscribes,
// catches up from the Store from the checkpoint's position, and follows the
// Subscriber live. Subscribing before the catch-up means nothing published
// meanwhile is missed (and a Subscribe that does not return, as some
// transports' does while the broker lacks what the topic needs, holds
// the catch-up back: the runner logs it, with the topic, after 10 s); events met twice are recognised by their issue and
// version and skipped, so none is counted twice. Out-of-order events wait
// for the versions before them, for as long as it takes: a version that
// never comes (a message dropped as undecodable, an event that was never
// published) holds the later events of its issue for good, as
// RunnerStats.Held shows. A projection that does both itself
// (SelfSequencing, as every projection of this package, and one behind
// Sequence, which gives up on a gap once it is older than its lateness) is
// handed each event as it comes instead.
//
// With both a Store and a Subscriber, each checkpoint first reads the
// Store up to its end, so that the checkpoint's position covers what was
// applied live (the final one too, unless the runner is still catching
// up); such a runner decodes every event twice, once from each source.
// A checkpoint that CheckpointEvery calls for in the middle of a read of
// the Store (a catch-up after an IdleAdvance tick or a new subscription)
// waits, while a SelfSequencing projection holds events applied live
// above the position the read has reached, until the read has passed
// them; and a final checkpoint whose read fails is not saved in that
// case: Run returns the error, and the checkpoint before stands. A
// restart from it would offer those events again, which a projection
// that has forgotten their issue would count as late. A live position
// beyond everything the Store has handed out (its Head or Len, once a
// read reached its end) is not the Store's: the runner logs it and does
// not wait for it.
// A message that carries its event's store position
// (events.MetadataPosition: pgstore's outbox marks every message, and
// events.NewMessage one of an envelope a store returned) at or below the
// runner's position is passed over, counted in RunnerStats.Duplicates:
// its events were read from the store already. So a broker's backlog
// after a restart is not applied again, where a projection that has
// forgotten the events' issues would count them as late. The other way
// round, an event applied live from a message with a position above the
// runner's is passed over when the store offers it again, known by its
// issue and version, and counted in RunnerStats.Duplicates too: the
// runner remembers up to 65,536 such events between two reads of its
// store, which every checkpoint makes. The Store and the Subscriber must
// then carry the same events: a position is a place in the runner's
// Store.
//
// A message carries one event (events.NewMessage) or a batch of them
// (events.NewBatchMessage), which spares a transport whose cost is per
// message most of it. A message is acknowledged once its events are
// decoded and queued for the projection, so that the broker delivers the
// next messages while the projection works (at most 512 events wait).
// Queued events are applied before Run returns, whatever stops it, and
// its final checkpoint covers them, but while the runner still catches up
// from a Store: they are then dropped, as they are in the store, and read
// after the backlog when Run is called again or the process restarts.
// Undecodable messages go to the poison topic: when the poison publisher
// keeps failing, such a message is logged and dropped after
// RunnerConfig.PoisonAttempts tries, rather than left to block the stream,
// unless PoisonAttempts says to keep trying.
//
// # Guarantees
//
// With a Store, every committed event is offered to the projection
// exactly once, whatever the transport does: a crash costs re-reading the
// store from the last checkpoint. An event the projection refuses (an
// invalid one, or one stamped further ahead of the clock than its
// MaxFuture allows) is logged, counted in RunnerStats.Rejected and passed
// over: only a Rebuild, or the catch-up of a runner started again from a
// checkpoint below it, offers it again (by then the clock may have reached
// an event stamped ahead, which the projection then takes). Redeliveries are
// recognised by their issue and version while the projection knows the
// issue, and by their store position (above) when it has forgotten it:
// messages published without a position, whose events the store offers
// again or that are delivered again once their issue is forgotten, may
// be counted by the projection again, as late, held or orphaned events
// or in its count of events (its counts of events, not its figures).
// With a Subscriber only, delivery is at-least-once from the broker and
// the runner (or a SelfSequencing projection) removes duplicates per
// issue by version, so each event delivered is applied once; but a message is acknowledged when it is
// queued, not when it is checkpointed, so a crash between two checkpoints
// loses the events queued or applied since the last one, unless the
// broker can replay them. Checkpoint often, or add a Store, where that
// matters.
//
// To recognise duplicates for a projection that is not SelfSequencing, the
// runner keeps the last version of every issue it has seen (some 40 bytes
// each, for good) and saves them, with the events held for a gap, in each
// checkpoint beside the projection's state. Sequence puts a projection
// behind a horizon of event time that keeps only the open issues and the
// recent traffic instead, and makes it SelfSequencing. A SelfSequencing
// projection keeps what it needs (the projections of this package forget an
// issue some time after it settled), and the runner keeps nothing of its
// own but, with a Store and a Subscriber, the events it applied live since
// it last read the store (above). A checkpoint is written only when
// something changed since the last one.
//
// A Runner is safe for concurrent use: Stats, Lag, CaughtUp, View and
// Rebuild may be called while Run runs. One goroutine at a time changes
// the projection: Run's, or a Rebuild's while no Run runs. A Rebuild called
// during a Run hands its work to the Run, which does it between two
// events; a Run started during a Rebuild waits for it to end.
type Runner struct {
	cfg RunnerConfig

	started atomic.Bool // state restored or rebuilt: later Runs continue in memory
	// panicked: the projection panicked under r.mu (see guard).
	panicked atomic.Bool
	caughtUp atomic.Bool
	// replays counts the replays of Rebuilds that began (the projection
	// reset), for the goroutine that changes the state.
	replays uint64

	// ownerMu guards owner and loop. owner is closed when the goroutine
	// that changes the state (a Run's, or a Rebuild's while no Run runs)
	// lets go of it, and is nil while none does; loop is the Run's, nil
	// when no Run runs.
	ownerMu sync.Mutex
	owner   chan struct{}
	loop    *runLoop

	initial []byte // the projection's state at NewRunner, for Rebuild
	// self is the projection when it is SelfSequencing: the runner hands
	// it every event rather than sequence them through seq.
	self SelfSequencing

	mu  sync.Mutex // guards the projection and the fields below
	seq *Sequencer
	// taken counts the events a SelfSequencing projection took without
	// an error, and dups0 is its DuplicatesIgnored when the runner started
	// counting (see sequenced).
	taken, dups0 int64
	position     uint64
	// live holds, by issue and version, the events applied live from
	// messages that carry a store position above the runner's, with that
	// position: the store offers them again when a checkpoint or a catch-up
	// reads it, and the runner passes them over then (fromStore), rather
	// than leave them to a projection that may have forgotten their issue
	// since and would count them as late.
	live map[liveEvent]uint64
	// liveTop is the highest store position of an event applied live
	// (remembered in live or not), until the runner's position passes it:
	// a projection that sequences the events itself, and forgets an issue
	// some time after it settled, is not checkpointed below it (see
	// snapshotChanged).
	liveTop uint64
	// waitLogged is the liveTop that dropForeignLive last logged waiting
	// for; readStore, and so it, runs on one goroutine at a time.
	waitLogged uint64
	changes    int    // events applied or held (duplicates not) since the last checkpoint
	savedPos   uint64 // the position of the last checkpoint
	// saveCost is how long the last checkpoint took to make and save, and
	// savedAt when it was saved (see paced).
	saveCost time.Duration
	savedAt  time.Time

	applied, duplicates, rejected, poisoned, checkpoints, filtered atomic.Int64
	held                                                           atomic.Int64
	pos                                                            atomic.Uint64
	// covered counts the live events passed over because their store
	// position was applied from the store already (see forward); unknown
	// those of unknown types handed to the projection (see hand).
	covered, unknown atomic.Int64
	// arrivals counts the events that came, from any source, that Filter
	// keeps; arrivalsSeen is arrivals when IdleAdvance last looked, and
	// advances counts the advances since the last checkpoint (all three
	// guarded by mu). advancedTo is Stats' AdvancedTo in Unix ns, 0 for
	// none.
	arrivals, arrivalsSeen int64
	advances               int
	advancedTo             atomic.Int64
}

// NewRunner returns a Runner for cfg.
func NewRunner(cfg RunnerConfig) (*Runner, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &Runner{cfg: cfg, seq: NewSequencer()}
	r.self, _ = cfg.Projection.(SelfSequencing)
	r.startCounting()
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
		Applied:      r.applied.Load(),
		Duplicates:   r.duplicates.Load() + r.covered.Load(),
		Held:         int(r.held.Load()),
		Rejected:     r.rejected.Load(),
		Poisoned:     r.poisoned.Load(),
		UnknownTypes: r.unknown.Load(),
		Filtered:     r.filtered.Load(),
		Checkpoints:  r.checkpoints.Load(),
		Position:     r.pos.Load(),
		AdvancedTo:   r.advanced(),
	}
}

// advanced returns the time of Stats' AdvancedTo.
func (r *Runner) advanced() time.Time {
	if ns := r.advancedTo.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// runLoop is how a Rebuild reaches the Run that changes the state.
type runLoop struct {
	rebuilds chan rebuildRequest
	done     chan struct{} // closed once Run no longer takes requests
}

// rebuildRequest asks the Run for a Rebuild with ctx; the Run sends its
// error to done, which has room for it.
type rebuildRequest struct {
	ctx  context.Context
	done chan error
}

// own makes the Run of l the one that changes the state, once a Rebuild
// that runs without a Run has ended. It returns ErrRunnerBusy when another
// Run runs, and false with no error when ctx ends while it waits.
func (r *Runner) own(ctx context.Context, l *runLoop) (bool, error) {
	r.ownerMu.Lock()
	for r.owner != nil {
		if r.loop != nil {
			r.ownerMu.Unlock()
			return false, fmt.Errorf("runner %q: %w", r.cfg.Name, ErrRunnerBusy)
		}
		w := r.owner // a Rebuild while no Run runs
		r.ownerMu.Unlock()
		select {
		case <-w:
		case <-ctx.Done():
			return false, nil
		}
		r.ownerMu.Lock()
	}
	r.owner, r.loop = make(chan struct{}), l
	r.ownerMu.Unlock()
	return true, nil
}

// disown lets go of the state, which own took.
func (r *Runner) disown() {
	r.ownerMu.Lock()
	close(r.owner)
	if r.loop != nil {
		close(r.loop.done)
	}
	r.owner, r.loop = nil, nil
	r.ownerMu.Unlock()
}

// CaughtUp reports whether the runner has read everything its Store held
// when it last looked and now follows its Subscriber (or polls the Store):
// false before Run catches up, while it does a Rebuild, and after it
// returns. With a Subscriber, it turns true only once Run has subscribed
// to every topic: a host, or its test, that publishes to a broker that
// keeps nothing for subscribers to come (a GoChannel that is not
// Persistent) waits for it before publishing.
func (r *Runner) CaughtUp() bool { return r.caughtUp.Load() }

// View calls fn while no event is being applied, so that fn may read the
// projection (a report, say) while Run runs. It waits for a Rebuild's
// replay, which applies the whole store at once, to end: a report served
// from View during a Rebuild waits that long (a handler with a deadline
// should serve its last report meanwhile).
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

// Lag returns how far the runner is behind its Store and its broker. When
// the Store has neither a Head(ctx) (uint64, error) nor a Len() int method,
// Lag counts the events after the runner's position by reading them.
func (r *Runner) Lag(ctx context.Context) (Lag, error) {
	l := Lag{Position: r.pos.Load(), Held: int(r.held.Load()), Pending: -1}
	if r.cfg.Pending != nil {
		n, err := r.cfg.Pending(ctx)
		if err != nil {
			return l, fmt.Errorf("runner %q: count pending messages: %w", r.cfg.Name, err)
		}
		l.Pending = n
	}
	if r.cfg.Store == nil {
		return l, nil
	}
	head, known, err := r.storeEnd(ctx)
	switch {
	case err != nil:
		return l, fmt.Errorf("runner %q: read store head: %w", r.cfg.Name, err)
	case known:
		l.Head = head
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
// be loaded, a topic cannot be subscribed to at start, or the Store fails;
// a checkpoint beyond the Store's last position, which is not of that
// Store, cannot be loaded (ErrCheckpoint: Rebuild then replays the Store).
// Calling Run again after it returned continues from the state in memory.
// Run returns ErrRunnerBusy while another Run runs, and waits for a Rebuild
// that runs without a Run to end. A panic of the projection goes on
// through Run (and Rebuild) to the caller, with the subscriptions ended:
// the runner applies no more events to a state that the panic may have
// left half changed, and saves no checkpoint of it. Should the host
// recover the panic, Run and Rebuild then return ErrPanicked: a new Runner
// restores the last checkpoint (with a Subscriber and no Store, the events
// acknowledged since are not delivered again). A panic of a codec or an
// upcaster decoding a message, on a subscription's goroutine, ends the
// process, as a panic on any goroutine does (its message was not
// acknowledged); one while the runner reads its Store goes on through Run
// as the projection's does, and marks the runner only during a Rebuild's
// replay, which had reset the state.
func (r *Runner) Run(ctx context.Context) error {
	l := &runLoop{rebuilds: make(chan rebuildRequest), done: make(chan struct{})}
	if ok, err := r.own(ctx, l); !ok {
		return err // nil when ctx ended while a Rebuild ran: nothing to checkpoint
	}
	defer r.disown()
	defer r.caughtUp.Store(false) // once Run returns, it follows nothing
	if err := r.refusePanicked("run"); err != nil {
		return err
	}

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
	var in <-chan delivery
	// stop ends the subscriptions and applies the events they queued,
	// which were acknowledged, unless in was set to nil; finish then makes
	// the final checkpoint, so that it covers them. Every return goes through finish: on an error
	// too, the events acknowledged must reach a checkpoint.
	stop := func() {
		cancelSubs()
		wg.Wait()
		r.drain(in)
		in = nil
	}
	finish := func(err error) error {
		if r.cfg.Store != nil && !r.caughtUp.Load() {
			// Still catching up: what came live is newer than the
			// backlog not yet read, and is in the store, to be read after
			// that backlog when Run is called again or the process
			// restarts. Neither the checkpoint nor the projection may
			// take it ahead of the backlog, which a projection with a
			// lateness would then count as late: stop drops it.
			in = nil
		}
		stop()
		cpErr := r.shutdown(ctx)
		if err == nil {
			return cpErr
		}
		if cpErr != nil {
			r.cfg.Logger.Error("cannot save the final checkpoint", cpErr, watermill.LogFields{"runner": r.cfg.Name})
		}
		return err
	}
	// Every return goes through finish, which stops the subscriptions; a
	// panic (of the projection, say) goes on with them ended, applying no
	// more events to a state that may be half changed, nor saving it.
	defer cancelSubs()
	// fail is finish of an error, which is no error once ctx is done.
	fail := func(err error) error {
		if ctx.Err() != nil {
			return finish(nil)
		}
		return finish(err)
	}
	var resubscribed <-chan struct{}
	if r.cfg.Subscriber != nil {
		var err error
		if in, resubscribed, err = r.subscribe(subCtx, &wg); err != nil {
			return fail(err)
		}
	}

	if r.cfg.Store != nil {
		if err := r.catchUp(ctx); err != nil {
			return fail(err)
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
	var idle <-chan time.Time
	if r.cfg.IdleAdvance > 0 {
		t := time.NewTicker(r.cfg.IdleAdvance)
		defer t.Stop()
		idle = t.C
	}
	// deferred fires when a checkpoint that CheckpointEvery called for,
	// and that waited for the last one's cost (see paced), may be made.
	var deferred <-chan time.Time
	for {
		var err error
		select {
		case <-ctx.Done():
			return finish(nil)
		case d := <-in:
			err = r.handle(ctx, d)
		case req := <-l.rebuilds:
			err = r.rebuildFor(ctx, req)
		case <-tick:
			r.mu.Lock()
			paced := r.paced()
			r.mu.Unlock()
			if paced {
				err = r.checkpoint(ctx, true, false)
			}
		case <-deferred:
			deferred = nil
			err = r.checkpoint(ctx, true, false)
		case <-poll:
			err = r.catchUp(ctx)
		case <-idle:
			if r.cfg.Store != nil {
				// What the store holds now came in the interval, also
				// while a broker is silent.
				err = r.catchUp(ctx)
			}
			if err == nil {
				// Events queued for the projection came: not idle.
				r.advanceIfIdle(ctx, func() bool { return len(in) > 0 })
			}
		case <-resubscribed:
			// Messages may have been lost with the old subscription.
			if r.cfg.Store != nil {
				err = r.catchUp(ctx)
			}
		}
		if err != nil {
			return fail(err)
		}
		if deferred == nil {
			r.mu.Lock()
			wait := r.deferral()
			r.mu.Unlock()
			if wait > 0 {
				deferred = time.After(wait)
			}
		}
	}
}

// shutdown writes the final checkpoint with a context that outlives ctx,
// and returns the error of a save that failed: no later checkpoint will
// try again.
func (r *Runner) shutdown(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	return r.checkpointFinal(ctx)
}

// handle applies the event of one message.
func (r *Runner) handle(ctx context.Context, d delivery) error {
	if r.takeLocked(d) {
		return r.checkpoint(ctx, true, false)
	}
	return nil
}

// takeLocked takes d under r.mu (guard), and reports whether a
// checkpoint is due.
func (r *Runner) takeLocked(d delivery) bool { return r.dueAfter(func() { r.take(d) }) }

// dueAfter runs f under r.mu (guard) and reports whether a checkpoint is
// due then.
func (r *Runner) dueAfter(f func()) bool {
	due := false
	_ = r.guard(func() error {
		f()
		due = r.checkpointDue()
		return nil
	})
	return due
}

// guard runs f, which calls into the projection, under r.mu. A panic of f
// releases the lock and marks the runner panicked, so that no Run or
// Rebuild goes on from the state it may have left half changed
// (ErrPanicked); the panic goes on.
func (r *Runner) guard(f func() error) error {
	r.mu.Lock()
	done := false
	defer func() {
		if !done {
			r.panicked.Store(true)
		}
		r.mu.Unlock()
	}()
	err := f()
	done = true
	return err
}

// refusePanicked returns ErrPanicked, for what would go on from the
// state a panic of the projection left, or nil.
func (r *Runner) refusePanicked(what string) error {
	if r.panicked.Load() {
		return fmt.Errorf("runner %q: %s: %w; its state may be half changed, and a new Runner restores the last checkpoint", r.cfg.Name, what, ErrPanicked)
	}
	return nil
}

// drain applies the events left in in, which no goroutine sends to any
// more: they were acknowledged, so they must not be lost.
func (r *Runner) drain(in <-chan delivery) {
	for {
		select {
		case d := <-in:
			r.takeLocked(d)
		default:
			return
		}
	}
}

// poisonAttempts is how many times the runner tries to send a message
// that is not an event to the poison topic before it drops the message,
// unless RunnerConfig.PoisonAttempts says otherwise.
const defaultPoisonAttempts = 5

// poison sends msg, which came on topic and is not an event, to the
// poison topic, or counts and drops it. A poison publisher that fails is
// tried again, after a wait that doubles from ResubscribeDelay, up to
// PoisonAttempts times; then the message is logged and dropped, so that
// it does not block its topic. When ctx ends first, even while a Publish
// has not returned, msg is left to the broker to deliver again.
func (r *Runner) poison(ctx context.Context, msg *message.Message, topic string, why error) {
	fields := watermill.LogFields{"runner": r.cfg.Name, "message_uuid": msg.UUID, "topic": topic, "reason": why.Error()}
	if r.cfg.PoisonPublisher == nil {
		r.poisoned.Add(1)
		r.cfg.Logger.Error("dropping a message that is not an event", why, fields)
		msg.Ack()
		return
	}
	p := msg.Copy()
	p.UUID = r.poisonUUID(topic, msg.UUID)
	p.Metadata.Set(MetadataPoisonReason, why.Error())
	p.Metadata.Set(MetadataPoisonTopic, topic)
	p.Metadata.Set(MetadataPoisonUUID, msg.UUID)
	delay := r.cfg.ResubscribeDelay
	for attempt := 1; ; attempt++ {
		answered, err := r.publishPoison(ctx, p)
		if !answered {
			msg.Nack()
			return
		}
		if err == nil {
			r.poisoned.Add(1)
			r.cfg.Logger.Info("sent a message that is not an event to the poison topic", fields)
			msg.Ack()
			return
		}
		if attempt == r.cfg.PoisonAttempts {
			r.poisoned.Add(1)
			r.cfg.Logger.Error("dropping a message that is not an event: the poison topic refused it", err, fields)
			msg.Ack()
			return
		}
		r.cfg.Logger.Error("cannot send a message that is not an event to the poison topic: trying again", err, fields)
		if !sleep(ctx, delay) {
			msg.Nack()
			return
		}
		delay = min(2*delay, maxResubscribeDelay)
	}
}

// publishPoison publishes p on the poison topic and returns whether the
// publisher answered before ctx ended, and its error: a Publish that does not return (a
// broker that does not answer) must not hold Run's end, and Watermill's
// Publish takes no context. Such a Publish goes on in its goroutine; the
// copy it may still deliver has the UUID of the one that a delivery of
// the message again sends (poisonUUID).
func (r *Runner) publishPoison(ctx context.Context, p *message.Message) (answered bool, err error) {
	done := make(chan error, 1)
	go func() { done <- r.cfg.PoisonPublisher.Publish(r.cfg.PoisonTopic, p) }()
	select {
	case err := <-done:
		return true, err
	case <-ctx.Done():
		return false, nil
	}
}

// poisonSpace is the namespace of the UUIDs of poison copies.
var poisonSpace = uuid.MustParse("5b0c5e43-3a8e-4d5e-9d0f-6f1f3c2a7e10")

// poisonUUID returns the UUID of the runner's poison copy of the message
// with UUID id that came on topic. It is not the message's: a broker that
// drops a message whose id it has seen (JetStream with the UUID as its
// message id) would take the copy for the message, and store nothing. It
// is the same for every delivery of the message, so that such a broker
// keeps one copy of a message delivered again before it was acknowledged;
// a message without a UUID (a producer's own, on NATS say) gets a new one,
// as its deliveries cannot be told from other messages.
func (r *Runner) poisonUUID(topic, id string) string {
	if id == "" {
		return watermill.NewUUID()
	}
	return uuid.NewSHA1(poisonSpace, []byte(r.cfg.Name+"\x00"+topic+"\x00"+id)).String()
}

// take offers the event of d, unless the store has covered its message's
// position since the message came (a catch-up read its events): it is
// then counted as covered. The caller holds r.mu.
func (r *Runner) take(d delivery) {
	if d.pos > 0 && d.pos <= r.position {
		r.cover(d.e)
		return
	}
	r.offer(d.e)
	if d.pos == 0 || r.cfg.Store == nil || !r.keeps(d.e) {
		return
	}
	if r.self != nil {
		r.liveTop = max(r.liveTop, d.pos) // the runner's Sequencer covers the others
	}
	if len(r.live) < maxLive {
		if r.live == nil {
			r.live = make(map[liveEvent]uint64)
		}
		r.live[liveEvent{d.e.Issue, d.e.Version}] = d.pos
	}
}

// maxLive is how many events applied live a runner remembers between two
// reads of its store (see Runner.live), some 40 bytes each: a runner that
// never checkpoints reads its store only when it starts or subscribes
// again, and past that many leaves the store's copies to its projection.
const maxLive = 1 << 16

// liveEvent names an event applied live: its issue and version.
type liveEvent struct {
	issue   uuid.UUID
	version uint64
}

// fromStore offers e, read from the store, unless it was applied live
// (see live): it is then counted as covered, as a live message that the
// store covered is, and only the position moves. The caller holds r.mu.
func (r *Runner) fromStore(e events.Envelope) {
	k := liveEvent{e.Issue, e.Version}
	if _, ok := r.live[k]; !ok {
		r.offer(e)
		return
	}
	delete(r.live, k)
	r.cover(e)
	r.moveTo(e.Position)
}

// cover counts e, met already from the other source, as covered: an
// arrival all the same, when Filter keeps it. The caller holds r.mu.
func (r *Runner) cover(e events.Envelope) {
	if r.keeps(e) {
		r.arrivals++
	}
	r.covered.Add(1)
}

// moveTo moves the runner's position to pos, if pos is past it. The
// caller holds r.mu.
func (r *Runner) moveTo(pos uint64) {
	if pos > r.position {
		r.position = pos
		r.pos.Store(pos)
	}
}

// forgetLive drops the events applied live that the store has covered
// since: those it did not offer again, which the Subscriber carried
// under a position the Store gave other events. The caller holds r.mu.
func (r *Runner) forgetLive() {
	for k, pos := range r.live {
		if pos <= r.position {
			delete(r.live, k)
		}
	}
	if r.liveTop <= r.position {
		r.liveTop = 0
	}
}

// offer passes e to the projection, through the runner's sequencer unless
// the projection sequences the events itself. The caller holds r.mu.
func (r *Runner) offer(e events.Envelope) {
	switch {
	case !r.keeps(e):
		// Only the position moves, which a timed checkpoint saves.
		r.filtered.Add(1)
		if r.self == nil {
			r.passOver(e)
		}
	case r.self != nil:
		r.arrivals++
		dups := r.duplicates.Load()
		if r.hand(e) {
			r.taken++
		}
		if r.sequenced() == dups {
			r.changes++ // not a duplicate: the state may have changed
		}
	default:
		r.arrivals++
		out, err := r.seq.Offer(e, r.apply) // apply fails on nothing
		switch out {
		case Duplicate:
			r.duplicates.Add(1)
		case Applied, Held:
			r.changes++
		case Refused:
			r.reject(e, "runner rejected an event of a version no stream has", err)
		}
		r.held.Store(int64(r.seq.Held()))
	}
	r.moveTo(e.Position)
}

// keeps reports whether e is of the runner's events: Filter, if any,
// keeps it.
func (r *Runner) keeps(e events.Envelope) bool { return r.cfg.Filter == nil || r.cfg.Filter(e) }

// passOver takes e, an event that the filter passed over, into the
// sequencer when it knows e's issue: the projection sees others of the
// issue's events, whose later versions would otherwise wait for e's for
// good. The sequencer emits e in its turn, which apply skips. An issue it
// does not know is another partition's, say, which it need not track.
// The caller holds r.mu.
func (r *Runner) passOver(e events.Envelope) {
	if _, tracked := r.seq.known(&e); !tracked {
		return
	}
	if out, _ := r.seq.Offer(e, r.apply); out == Applied || out == Held {
		r.changes++ // held events may have been released
	}
	r.held.Store(int64(r.seq.Held()))
}

// fromStoreLocked is fromStore under r.mu (guard); it reports whether a
// checkpoint is due.
func (r *Runner) fromStoreLocked(e events.Envelope) bool {
	return r.dueAfter(func() { r.fromStore(e) })
}

// advanceIfIdle moves the projection's watermark to the clock when the
// runner has caught up, the broker of a runner without a Store holds
// nothing for it, no event came since it last looked (IdleAdvance) and
// none is queued. It asks the broker first: a message delivered while it
// asks is queued before it is acknowledged, so that queued then sees it.
// An error of the projection is logged, as one for an event is.
func (r *Runner) advanceIfIdle(ctx context.Context, queued func() bool) {
	holds := r.caughtUp.Load() && r.brokerHolds(ctx)
	_ = r.guard(func() error { r.advanceIfQuiet(holds, queued); return nil })
}

// advanceIfQuiet is advanceIfIdle once the broker was asked; the caller
// holds r.mu.
func (r *Runner) advanceIfQuiet(holds bool, queued func() bool) {
	quiet := r.arrivals == r.arrivalsSeen && !holds && !queued()
	r.arrivalsSeen = r.arrivals
	if !quiet || !r.caughtUp.Load() {
		return
	}
	now := r.cfg.Now()
	err := r.cfg.Projection.(Advancer).AdvanceTo(now)
	// The state may have changed even with an error (Sequence returns
	// those of the events the advance released). Not a change that a
	// timed checkpoint saves: a quiet runner would save its whole state
	// at every tick, for an advance that a restart makes again at its
	// first quiet tick. The final checkpoint saves it, and any for events.
	r.advances++
	if err != nil {
		r.cfg.Logger.Error("advancing the projection's watermark returned an error", err, watermill.LogFields{
			"runner": r.cfg.Name, "to": now.Format(time.RFC3339Nano),
		})
		return
	}
	r.advancedTo.Store(now.UnixNano())
}

// brokerHolds reports whether the broker of a runner without a Store holds
// messages for it (RunnerConfig.Pending), or cannot tell within an
// IdleAdvance, which is logged: it has not caught up with them.
func (r *Runner) brokerHolds(ctx context.Context) bool {
	if r.cfg.Store != nil || r.cfg.Pending == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.IdleAdvance)
	defer cancel()
	n, err := r.cfg.Pending(ctx)
	if err != nil {
		r.cfg.Logger.Error("cannot count the broker's pending messages: the watermark waits", err, watermill.LogFields{"runner": r.cfg.Name})
		return true
	}
	return n > 0
}

// apply hands one in-order event to the projection.
func (r *Runner) apply(e events.Envelope) error {
	if !r.keeps(e) {
		return nil // a version passed over (passOver)
	}
	if r.hand(e) {
		r.applied.Add(1)
	}
	return nil
}

// hand passes e to the projection, and reports whether it took it: an
// event it refuses is counted and logged. An events.Opaque is counted in
// UnknownTypes here, where the projection gets it, whatever the way it
// came: not when it was queued, filtered, covered or a duplicate.
func (r *Runner) hand(e events.Envelope) bool {
	if _, ok := e.Data.(*events.Opaque); ok {
		r.unknown.Add(1)
	}
	if err := r.cfg.Projection.Apply(e); err != nil {
		r.reject(e, "projection rejected an event", err)
		return false
	}
	return true
}

// reject counts e as rejected and logs why, under msg.
func (r *Runner) reject(e events.Envelope, msg string, err error) {
	r.rejected.Add(1)
	fields := watermill.LogFields{
		"runner": r.cfg.Name, "event_id": e.ID.String(), "issue": e.Issue.String(), "version": e.Version, "type": string(e.Type()),
	}
	if e.Position != 0 {
		fields["position"] = e.Position // read from the store
	}
	r.cfg.Logger.Error(msg, err, fields)
}

// startCounting makes the duplicates of a SelfSequencing projection count
// from its present DuplicatesIgnored: the runner's Stats count what it did. The
// caller holds r.mu.
func (r *Runner) startCounting() {
	if r.self != nil {
		r.taken = 0
		r.dups0 = r.self.DuplicatesIgnored()
	}
}

// sequenced sets the Stats of a SelfSequencing projection, and returns
// its duplicates: of the events it took, those it recognised as
// duplicates were skipped, the others absorbed. The caller holds r.mu.
func (r *Runner) sequenced() int64 {
	dups := r.self.DuplicatesIgnored() - r.dups0
	r.duplicates.Store(dups)
	r.applied.Store(r.taken - dups)
	return dups
}

// catchUp applies what the Store holds after the runner's position,
// checkpointing as CheckpointEvery says.
func (r *Runner) catchUp(ctx context.Context) error { return r.readStore(ctx, true) }

// readStore applies what the Store holds after the runner's position,
// checkpointing as CheckpointEvery says when checkpoints is set: not when
// a checkpoint reads the store before it saves.
func (r *Runner) readStore(ctx context.Context, checkpoints bool) error {
	r.mu.Lock()
	from := r.position
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.forgetLive()
		r.mu.Unlock()
	}()
	last := from // the position of the last event read
	for e, err := range r.cfg.Store.ReadAll(ctx, from) {
		if err != nil {
			return fmt.Errorf("runner %q: read store after position %d: %w", r.cfg.Name, last, err)
		}
		last = e.Position
		if r.fromStoreLocked(e) && checkpoints {
			if err := r.checkpoint(ctx, false, false); err != nil {
				return err
			}
		}
	}
	r.dropForeignLive(ctx)
	return nil
}

// dropForeignLive, once a read has reached the Store's end, forgets the
// positions of events applied live that lie beyond everything the Store
// has handed out (its Head, or Len): they are not the Store's (a broker's
// backlog from a store made again, another store's messages), and a
// checkpoint would wait for them for good (see liveTop). It logs them.
// A Store that tells neither keeps them.
func (r *Runner) dropForeignLive(ctx context.Context) {
	r.mu.Lock()
	top, pos := r.liveTop, r.position
	r.mu.Unlock()
	if top <= pos {
		return
	}
	fields := watermill.LogFields{"runner": r.cfg.Name, "position": top, "store_position": pos}
	head, known, err := r.storeEnd(ctx)
	switch {
	case err != nil:
		// The next read looks again; said once for each position.
		if r.waitLogged != top {
			r.waitLogged = top
			r.cfg.Logger.Error("cannot read the store's head: checkpoints wait for a live position beyond the store's read", err, fields)
		}
		return
	case !known:
		if r.waitLogged != top {
			r.waitLogged = top
			r.cfg.Logger.Info("checkpoints wait for a live position beyond the store's read (the store tells no head)", fields)
		}
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.liveTop <= head {
		return
	}
	r.cfg.Logger.Error("a live message carried a position beyond the store's last: not the store's", nil,
		watermill.LogFields{"runner": r.cfg.Name, "position": r.liveTop, "store_head": head})
	r.liveTop = r.position
	for k, p := range r.live {
		if p > head {
			delete(r.live, k)
		} else {
			r.liveTop = max(r.liveTop, p)
		}
	}
}

// storeEnd returns the last position that the Store handed out, by its
// Head or its Len, and false when it tells neither.
func (r *Runner) storeEnd(ctx context.Context) (uint64, bool, error) {
	switch s := r.cfg.Store.(type) {
	case storeHead:
		h, err := s.Head(ctx)
		return h, err == nil, err
	case storeLen:
		return uint64(s.Len()), true, nil
	}
	return 0, false, nil
}
