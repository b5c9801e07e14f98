package projections

import (
	"context"
	"encoding"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill"
)

// checkpoint saves the position and state, unless nothing changed since
// the last checkpoint and force is false. With sweep, it first reads the
// store up to its end, so that the position covers what was applied live.
// A save that fails is logged, for the next checkpoint to try again,
// unless ctx is done.
func (r *Runner) checkpoint(ctx context.Context, sweep, force bool) error {
	return r.save(ctx, sweep, force, false)
}

// snapshotChanged takes the runner's state under r.mu (guard), with the
// changes and advances it
// covers; unless force, final or a change since the last checkpoint calls
// for one, it takes none and reports changed false.
//
// Nor does it take one while a projection that sequences the events
// itself holds events applied live above the runner's position (a read
// of the store under way has not reached them, or failed): a restart
// from it would offer them again, and the projection, which forgets an
// issue some time after it settled, could count them as late. The
// runner's own Sequencer keeps every issue's version, and is saved with
// the state. Such a checkpoint waits for the read to pass them; a final
// one is not saved, and its error says why.
func (r *Runner) snapshotChanged(force, final bool) (cp Checkpoint, changes, advances int, changed bool, err error) {
	err = r.guard(func() error {
		if !force && r.changes == 0 && r.position == r.savedPos && (!final || r.advances == 0) {
			return nil
		}
		if r.self != nil && r.liveTop > r.position {
			if final {
				changed = true // one was called for: the error is the caller's
				return fmt.Errorf("runner %q: final checkpoint not saved: the projection holds events applied live up to position %d, which the store was not read up to (the checkpoint at position %d stands): %w",
					r.cfg.Name, r.liveTop, r.savedPos, ErrCheckpoint)
			}
			return nil
		}
		var err error
		cp, err = r.snapshot()
		changes, advances, changed = r.changes, r.advances, true
		return err
	})
	return cp, changes, advances, changed, err
}

// checkpointFinal is the checkpoint of a runner that stops: no later one
// will try again, so a save that fails is returned. A runner that caught
// up reads the store first, as every checkpoint does, so that the
// position covers what it applied live; one stopped while catching up
// saves where it stands.
func (r *Runner) checkpointFinal(ctx context.Context) error {
	return r.save(ctx, r.caughtUp.Load(), false, true)
}

// save is checkpoint, which returns the error of a failed save when final
// is set.
func (r *Runner) save(ctx context.Context, sweep, force, final bool) error {
	var readErr error // of the final checkpoint's read of the store
	if sweep && r.cfg.Store != nil && r.cfg.Subscriber != nil {
		if !final {
			if err := r.readStore(ctx, false); err != nil {
				return err
			}
		} else if readErr = r.readStoreBefore(ctx, finalStoreRead); readErr != nil {
			// The state still holds what was applied: save it where it
			// stands, for a restart to read the rest from the store,
			// unless that would apply again what was applied live
			// (snapshotChanged).
			r.cfg.Logger.Error("cannot read the store before the final checkpoint", readErr, watermill.LogFields{"runner": r.cfg.Name})
		}
	}
	start := time.Now()
	cp, changes, advances, changed, err := r.snapshotChanged(force, final)
	if !changed {
		return nil
	}
	if err != nil {
		if readErr != nil {
			err = fmt.Errorf("%w (%w)", err, readErr)
		}
		return err
	}
	err = r.cfg.Checkpoints.Save(ctx, r.cfg.Name, cp)
	r.mu.Lock()
	// A save that failed is paced too: it may have taken its time.
	r.savedAt = time.Now()
	r.saveCost = r.savedAt.Sub(start)
	if err == nil {
		r.changes -= changes // what arrived while saving waits for the next one
		r.advances -= advances
		r.savedPos = cp.Position
	}
	r.mu.Unlock()
	if err != nil {
		if ctx.Err() != nil || final {
			return fmt.Errorf("runner %q: save checkpoint at position %d: %w", r.cfg.Name, cp.Position, err)
		}
		// Not fatal: the next checkpoint tries again, a restart replays more.
		r.cfg.Logger.Error("cannot save checkpoint", err, watermill.LogFields{"runner": r.cfg.Name, "position": cp.Position})
		return nil
	}
	r.checkpoints.Add(1)
	return nil
}

// finalStoreRead is how long the final checkpoint may read the store for,
// of the time that shutdown gives it: a store that no longer answers
// leaves the rest to save the checkpoint where the runner stands.
var finalStoreRead = 10 * time.Second

// readStoreBefore is readStore without checkpoints, given at most d.
func (r *Runner) readStoreBefore(ctx context.Context, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return r.readStore(ctx, false)
}

// minPacedSave is the shortest checkpoint that spaces out the next (see
// RunnerConfig.CheckpointShare): shorter ones are not worth the wait.
const minPacedSave = 10 * time.Millisecond

// pacedWait returns how long after the last checkpoint the next may come,
// so that saving takes at most CheckpointShare of the runner's time; 0
// when nothing waits. The caller holds r.mu.
func (r *Runner) pacedWait() time.Duration {
	share := r.cfg.CheckpointShare
	if share <= 0 || share >= 1 || r.saveCost < minPacedSave {
		return 0
	}
	return time.Duration(float64(r.saveCost) * (1 - share) / share)
}

// paced reports whether the last checkpoint is far enough behind for the
// next. The caller holds r.mu.
func (r *Runner) paced() bool { return time.Since(r.savedAt) >= r.pacedWait() }

// checkpointDue reports whether CheckpointEvery calls for a checkpoint now.
// The caller holds r.mu.
func (r *Runner) checkpointDue() bool {
	return r.cfg.CheckpointEvery > 0 && r.changes >= r.cfg.CheckpointEvery && r.paced()
}

// deferral returns how long a checkpoint that CheckpointEvery calls for
// waits for the last one's cost; 0 when none does. The caller holds r.mu.
func (r *Runner) deferral() time.Duration {
	if r.cfg.CheckpointEvery <= 0 || r.changes < r.cfg.CheckpointEvery {
		return 0
	}
	return max(0, r.pacedWait()-time.Since(r.savedAt))
}

// snapshot builds the checkpoint of the current state. The caller holds r.mu.
func (r *Runner) snapshot() (Checkpoint, error) {
	cp := Checkpoint{Position: r.position, Saved: r.cfg.Now()}
	var state []byte // the projection's; none for one that keeps its own
	if m, ok := r.cfg.Projection.(encoding.BinaryMarshaler); ok {
		var err error
		if state, err = m.MarshalBinary(); err != nil {
			return cp, fmt.Errorf("runner %q: save projection state: %w: %w", r.cfg.Name, ErrCheckpoint, err)
		}
	} else if !r.keepsOwnState() {
		return cp, nil // replayed from the Store at the next start, or it sequences itself
	}
	// A projection that keeps its own state goes on from it at the next
	// start, and the runner's sequencing with it.
	seq := r.seq
	if r.self != nil {
		seq = nil // the projection sequences: nothing of the runner's to save
	}
	var err error
	if cp.State, err = appendRunnerState(nil, seq, r.cfg.Codecs, state); err != nil {
		return cp, fmt.Errorf("runner %q: save runner state: %w: %w", r.cfg.Name, ErrCheckpoint, err)
	}
	return cp, nil
}

// restore loads the checkpoint into the projection, when it can take it.
// A checkpoint beyond the Store's end is not of that Store (one made
// again, restored from an older backup, another under the same Name):
// taken as it is, the catch-up would read nothing and pass over every
// event the Store holds up to its position. It is refused, and the
// projection left as it was.
func (r *Runner) restore(ctx context.Context) error {
	cp, ok, err := r.cfg.Checkpoints.Load(ctx, r.cfg.Name)
	if err != nil {
		return fmt.Errorf("runner %q: load checkpoint: %w: %w", r.cfg.Name, ErrCheckpoint, err)
	}
	if ok && r.cfg.Store != nil && cp.Position > 0 {
		if end, beyond := r.beyondStore(ctx, cp.Position); beyond {
			return fmt.Errorf("runner %q: checkpoint at position %d is beyond the store's end (%s): it is not of this store (made again, restored from an older backup, or another under the same Name); Rebuild replays the store and saves a checkpoint of it: %w",
				r.cfg.Name, cp.Position, end, ErrCheckpoint)
		}
	}
	return r.guard(func() error { return r.restoreLocked(cp, ok) })
}

// beyondStore reports whether position pos lies beyond the Store's end,
// and says where that end is: by the Store's Head or Len, or else by
// reading from pos on (the event at pos, or one after it, is there). A
// Store that fails to tell says no: the catch-up that follows fails on it.
func (r *Runner) beyondStore(ctx context.Context, pos uint64) (string, bool) {
	end, known, err := r.storeEnd(ctx)
	switch {
	case err != nil:
		return "", false
	case known:
		return fmt.Sprintf("its last position is %d", end), end < pos
	}
	for range r.cfg.Store.ReadAll(ctx, pos-1) {
		return "", false // an event, or an error that the catch-up meets again
	}
	return "it holds no event at or after that position", true
}

// restoreLocked is restore of the checkpoint cp, loaded when ok; the
// caller holds r.mu.
func (r *Runner) restoreLocked(cp Checkpoint, ok bool) error {
	u, canLoad := r.cfg.Projection.(encoding.BinaryUnmarshaler)
	_, canSave := r.cfg.Projection.(encoding.BinaryMarshaler)
	if res, ok := r.cfg.Projection.(Resetter); ok && !(canLoad && canSave) && r.cfg.Store != nil {
		// The replay from the start rebuilds what it holds (a read model
		// kept elsewhere) rather than counting it again. Without a
		// Store, nothing would refill it.
		res.Reset()
	}
	if !ok {
		return nil
	}
	// own: the checkpoint holds the runner's sequencing alone, for a
	// projection that keeps its state itself (keepsOwnState).
	own := r.keepsOwnState() && cp.State != nil
	if !own && (!canLoad || !canSave || cp.State == nil) {
		r.cfg.Logger.Info("projection cannot restore its state: replaying from the start", watermill.LogFields{"runner": r.cfg.Name})
		return nil
	}
	st, err := decodeRunnerState(cp.State, r.cfg.Codecs)
	if err != nil {
		return fmt.Errorf("runner %q: checkpoint at position %d: %w: %w", r.cfg.Name, cp.Position, ErrCheckpoint, err)
	}
	if st.direct && r.self == nil {
		return fmt.Errorf("runner %q: checkpoint at position %d was saved for a projection that sequences the events itself, and %T does not (it is not SelfSequencing): the runner cannot tell which events it applied; Rebuild from the store, or delete the checkpoint: %w",
			r.cfg.Name, cp.Position, r.cfg.Projection, ErrCheckpoint)
	}
	if !own { // else the projection goes on from the state it keeps
		if err := u.UnmarshalBinary(st.projection); err != nil {
			// A projection configured otherwise than when it was saved (a
			// window, a threshold) refuses its state: the figures need a
			// replay under the new configuration.
			what := "Rebuild replays the store into the projection as configured now"
			if r.cfg.Store == nil {
				what = "with no Store to replay, delete the checkpoint to start afresh"
			}
			return fmt.Errorf("runner %q: restore projection from checkpoint at position %d (%s): %w: %w", r.cfg.Name, cp.Position, what, ErrCheckpoint, err)
		}
	}
	if r.self == nil {
		r.seq.Restore(st.positions)
	}
	r.startCounting()
	// Events held for a gap were acknowledged: they go on waiting, or to a
	// projection that sequences them itself, from a checkpoint written
	// while the runner sequenced for it; the next checkpoint then saves
	// them with the projection.
	for _, e := range st.held {
		if r.self == nil && !r.keeps(e) {
			// A version the filter passed over, held for a gap of an
			// issue whose other held events may come after it: it
			// waits again, and does not count as filtered again.
			r.seq.Offer(e, r.apply)
			continue
		}
		r.offer(e)
	}
	if r.self == nil {
		r.held.Store(int64(r.seq.Held()))
		r.changes = 0 // as saved
	}
	r.position = cp.Position
	r.savedPos = cp.Position
	r.pos.Store(cp.Position)
	return nil
}

// keepsOwnState reports whether the projection keeps its state itself,
// elsewhere (it cannot save it with the checkpoint), and goes on from it
// at each start, with no Store to replay, while the runner sequences the
// events for it: the checkpoint then holds the runner's sequencing alone.
func (r *Runner) keepsOwnState() bool {
	_, canSave := r.cfg.Projection.(encoding.BinaryMarshaler)
	return !canSave && r.cfg.Store == nil && r.self == nil
}

// Rebuild drops the projection's state and checkpoint and replays the whole
// Store into it. It needs a Store, and a projection that implements
// Resetter or else can save and restore its state, in which case it goes
// back to the state it had when NewRunner was called.
//
// During a Run, the Run does the Rebuild between two events: events
// arriving live wait meanwhile, those the replay already applied are then
// skipped, and CaughtUp is false until it ends. When it fails part way (the
// store fails, ctx ends, the Run stops), the projection holds what it
// replayed, and the Run reads the rest of the store at once, as at its
// start: a Run whose store fails then stops with that error. A Rebuild
// whose ctx is done before the replay begins changes nothing. Rebuild returns once the replay
// ended and its checkpoint was saved, or failed. While no Run runs, the
// caller's goroutine does the work, and a Run started meanwhile waits for
// it. Rebuilds run one at a time. A checkpoint that cannot be saved after
// the replay is Rebuild's error: the stored one still holds the state
// from before, which a restart would restore, until a Run saves the next.
// A panic during the replay goes on to the caller of Rebuild (or, during a
// Run, through Run, and Rebuild returns an error: ErrPanicked where the
// state may be half changed), as Run's doc says.
func (r *Runner) Rebuild(ctx context.Context) error {
	_, canReset := r.cfg.Projection.(Resetter)
	switch {
	case r.cfg.Store == nil:
		return fmt.Errorf("runner %q: no store to replay: %w", r.cfg.Name, ErrCannotRebuild)
	case !canReset && r.initial == nil:
		return fmt.Errorf("runner %q: projection %T has no Reset method and cannot save its state: %w", r.cfg.Name, r.cfg.Projection, ErrCannotRebuild)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("runner %q: rebuild: %w", r.cfg.Name, err)
	}
	for {
		r.ownerMu.Lock()
		switch l, w := r.loop, r.owner; {
		case w == nil:
			// No Run runs, nor another Rebuild: this goroutine does it.
			r.owner = make(chan struct{})
			r.ownerMu.Unlock()
			defer r.disown() // on a panic of the projection too
			if err := r.refusePanicked("rebuild"); err != nil {
				return err
			}
			return r.rebuild(ctx)
		case l != nil:
			r.ownerMu.Unlock()
			req := rebuildRequest{ctx: ctx, done: make(chan error, 1)}
			select {
			case l.rebuilds <- req:
				return <-req.done
			case <-l.done:
				// That Run returned without taking it: look again.
			case <-ctx.Done():
				return fmt.Errorf("runner %q: rebuild: %w", r.cfg.Name, ctx.Err())
			}
		default:
			// Another Rebuild while no Run runs: wait for it.
			r.ownerMu.Unlock()
			select {
			case <-w:
			case <-ctx.Done():
				return fmt.Errorf("runner %q: rebuild: %w", r.cfg.Name, ctx.Err())
			}
		}
	}
}

// rebuildFor does the Rebuild that req asks of the Run, whose context is
// ctx: it stops when either context ends. When it fails, the Run reads
// the rest of the store at once, and the error of that read is the Run's.
func (r *Runner) rebuildFor(ctx context.Context, req rebuildRequest) error {
	if err := req.ctx.Err(); err != nil {
		// Given up before it began: nothing changes.
		req.done <- fmt.Errorf("runner %q: rebuild: %w", r.cfg.Name, err)
		return nil
	}
	wasCaughtUp := r.caughtUp.Swap(false)
	replays := r.replays
	rctx, cancel := context.WithCancel(req.ctx)
	stop := context.AfterFunc(ctx, cancel)
	answered := false
	defer func() {
		switch {
		case answered:
		case r.panicked.Load():
			// The projection panicked: the panic goes on through Run,
			// and the Rebuild that waits returns.
			req.done <- fmt.Errorf("runner %q: rebuild: %w", r.cfg.Name, ErrPanicked)
		default:
			// Something else did (a checkpoint store's Save, say).
			req.done <- fmt.Errorf("runner %q: rebuild: Run panicked during it", r.cfg.Name)
		}
	}()
	err := r.rebuild(rctx)
	answered = true
	stop()
	cancel()
	if err != nil && ctx.Err() != nil && req.ctx.Err() == nil {
		err = fmt.Errorf("runner %q: Run stopped during the rebuild: %w", r.cfg.Name, ctx.Err())
	}
	if err == nil {
		r.caughtUp.Store(true) // the replay read the store to its end
		req.done <- nil
		return nil
	}
	req.done <- err
	if r.replays == replays {
		// The replay never began (a context ended first, the Run's
		// when it is stopping): nothing changed, and the Run goes on,
		// or stops, as it was.
		r.caughtUp.Store(wasCaughtUp)
		return nil
	}
	if err := r.catchUp(ctx); err != nil {
		return err
	}
	r.caughtUp.Store(true)
	return nil
}

// rebuild resets the projection and replays the store into it, then
// saves a checkpoint, whose failure it returns. The caller changes the
// state (own).
func (r *Runner) rebuild(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("runner %q: rebuild: %w", r.cfg.Name, err)
	}
	if err := r.replayAll(ctx); err != nil {
		return err
	}
	// A checkpoint that cannot be saved is the Rebuild's error: the one
	// stored is of the state before it, which a restart would restore.
	return r.save(ctx, false, true, true)
}

// replayAll resets the projection and replays the store into it, under
// r.mu (guard).
func (r *Runner) replayAll(ctx context.Context) error {
	return r.guard(func() error { return r.replayLocked(ctx) })
}

// replayLocked is replayAll; the caller holds r.mu.
func (r *Runner) replayLocked(ctx context.Context) error {
	r.replays++
	if res, ok := r.cfg.Projection.(Resetter); ok {
		res.Reset()
	} else if err := r.cfg.Projection.(encoding.BinaryUnmarshaler).UnmarshalBinary(r.initial); err != nil {
		return fmt.Errorf("runner %q: reset projection: %w: %w", r.cfg.Name, ErrCannotRebuild, err)
	}
	r.seq = NewSequencer()
	r.live, r.liveTop = nil, 0
	r.changes, r.advances = 0, 0
	r.advancedTo.Store(0)
	r.position = 0
	r.pos.Store(0)
	r.held.Store(0)
	r.applied.Store(0)
	r.duplicates.Store(0)
	r.covered.Store(0)
	r.rejected.Store(0)
	r.filtered.Store(0)
	r.unknown.Store(0)
	r.startCounting()
	r.started.Store(true)
	var last uint64 // the position of the last event read
	for e, err := range r.cfg.Store.ReadAll(ctx, 0) {
		if err != nil {
			return fmt.Errorf("runner %q: rebuild: read store after position %d: %w", r.cfg.Name, last, err)
		}
		last = e.Position
		r.offer(e)
	}
	return nil
}
