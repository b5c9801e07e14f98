package projections

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/truefcr/truefcr/events"
)

// parallelBatch is the smallest batch that ApplyBatch splits over two
// goroutines: below it, starting one costs more than it saves.
const parallelBatch = 64

// ApplyBatch applies evs in order, as Apply would one by one, with the FCR
// on a goroutine of its own beside the KPI projections: where a core is
// free, a batch costs about the slower of the two rather than their sum.
// An event that Apply would refuse stops the batch there: every projection
// applies the events before it and none applies it or those after it, and
// the error names its index in evs. ApplyBatch does not keep evs.
func (r *Reporter) ApplyBatch(evs []events.Envelope) error {
	_, err := r.applyBatch(evs)
	return err
}

// applyBatch is ApplyBatch; it also returns how many events it applied.
func (r *Reporter) applyBatch(evs []events.Envelope) (int, error) {
	n := len(evs)
	var bad error
	for i := range evs {
		if err := r.check(&evs[i]); err != nil {
			n, bad = i, fmt.Errorf("report batch: event %d: %w", i, err)
			break
		}
	}
	ok := evs[:n]
	if len(ok) < parallelBatch {
		for i, e := range ok {
			if err := r.applyChecked(e); err != nil {
				return i, err
			}
		}
		return n, bad
	}
	done := make(chan error, 1)
	go func() { done <- r.applyFCR(ok) }()
	r.offerKPIs(ok)
	if err := <-done; err != nil {
		return 0, err
	}
	r.applied += int64(n)
	return n, bad
}

// applyChecked is Apply of an event that passed check.
func (r *Reporter) applyChecked(e events.Envelope) error {
	if err := r.fcr.apply(&e, uuidTag(e.Issue), true); err != nil {
		return err
	}
	r.offerKPI(&e)
	r.applied++
	return nil
}

// applyFCR applies evs, which passed check, to the FCR, which then has
// no reason to refuse one: an error would be a fault of its own.
func (r *Reporter) applyFCR(evs []events.Envelope) error {
	_, err := r.fcr.applyBatchKeys(evs, nil, true)
	return err
}

// offerKPIs hands evs to the KPI projections, in order.
func (r *Reporter) offerKPIs(evs []events.Envelope) {
	for i := range evs {
		r.offerKPI(&evs[i])
	}
}

// offerKPI hands e to the KPI projections.
func (r *Reporter) offerKPI(e *events.Envelope) {
	if r.kpi != nil {
		r.kpi.offer(e)
		return
	}
	r.service.h.offer(e)
	r.sat.h.offer(e)
	r.volume.h.offer(e)
}

// replayBatch is how many events Replay decodes ahead and hands on at a
// time, and replayBatches how many such batches may be in flight. The FCR
// works in bursts (a sweep folds the problems settled since the one
// before, for milliseconds on end): with four batches in flight, the
// reader and the KPI projections ran out of batches during a sweep and a
// core waited, and a Reporter's replay of the benchmark's log ran 7 to
// 13 % slower than with sixteen, in alternating runs.
const (
	replayBatch   = 4096
	replayBatches = 16
)

// replayBatchOf is a batch of events read ahead, with the stages that
// have yet to apply it.
type replayBatchOf struct {
	evs  []events.Envelope
	keys fcrKeys // the identity keys' hashes, for an FCR stage
	left atomic.Int32
}

// replayReader reads a store a batch at a time on a goroutine of its own
// and hands each batch to every one of its stages.
type replayReader struct {
	free   chan *replayBatchOf
	stages []chan *replayBatchOf
	err    error // what stopped the reading; read once a stage is closed
}

// readOptions say what readAhead does to each event and batch before a
// stage sees it.
type readOptions struct {
	// check runs on every event; an error stops the reading.
	check func(events.Envelope) error
	// hashKeys fills each batch's keys, for a stage that is an FCR.
	hashKeys bool
}

// readAhead starts reading s after position after into the given number
// of stages, doing to each event and batch what opt says before any stage
// sees them. Reading stops at the first error of s, ctx or opt.check; the
// events before it are handed on.
func readAhead(ctx context.Context, s events.Store, after uint64, stages int, opt readOptions) *replayReader {
	rr := &replayReader{free: make(chan *replayBatchOf, replayBatches)}
	for range stages {
		rr.stages = append(rr.stages, make(chan *replayBatchOf, replayBatches))
	}
	go func() {
		defer func() {
			for _, c := range rr.stages {
				close(c)
			}
		}()
		var b *replayBatchOf
		made := 0 // batches made: they are made as needed, up to replayBatches
		next := func() bool {
			select {
			case b = <-rr.free:
				return true
			default:
			}
			if made < replayBatches {
				made++
				b = &replayBatchOf{evs: make([]events.Envelope, 0, replayBatch)}
				return true
			}
			select {
			case b = <-rr.free:
				return true
			case <-ctx.Done():
				return false
			}
		}
		hand := func() bool {
			if len(b.evs) == 0 {
				return true
			}
			if opt.hashKeys {
				b.keys.hash(b.evs)
			}
			b.left.Store(int32(len(rr.stages)))
			for _, c := range rr.stages {
				c <- b // never blocks: no more batches exist than c holds
			}
			return next()
		}
		if !next() {
			rr.err = ctx.Err()
			return
		}
		for e, err := range s.ReadAll(ctx, after) {
			if err == nil && opt.check != nil {
				if err = opt.check(e); err != nil {
					err = fmt.Errorf("event at position %d: %w", e.Position, err)
				}
			}
			if err != nil {
				hand()
				rr.err = err
				return
			}
			if b.evs = append(b.evs, e); len(b.evs) == replayBatch && !hand() {
				rr.err = ctx.Err()
				return
			}
		}
		hand()
		rr.err = ctx.Err()
	}()
	return rr
}

// done tells the reader that a stage has applied b.
func (rr *replayReader) done(b *replayBatchOf) {
	if b.left.Add(-1) == 0 {
		b.evs = b.evs[:0]
		b.keys.from, b.keys.hashes = b.keys.from[:0], b.keys.hashes[:0]
		rr.free <- b
	}
}

// Replay applies every event of s after position after to p, and returns
// the position of the last event applied and how many there were. A
// goroutine of its own reads and decodes the store ahead, so that decoding
// overlaps p's work. It stops at the first error of the store, of ctx or
// of p, which it returns with the position of the event: the events before
// it are applied. An FCR is fed a batch at a time, as by FCR.ApplyBatch,
// and the goroutine that decodes also hashes the identity keys of each
// batch's openings, whose bytes it has just read, which spares the
// goroutine that applies the wait for them.
func Replay(ctx context.Context, s events.Store, after uint64, p Projection) (last uint64, n int, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	f, isFCR := p.(*FCR)
	opt := readOptions{hashKeys: isFCR}
	if isFCR {
		// The goroutine that reads checks the events, as FCR.Apply would.
		opt.check = func(e events.Envelope) error {
			if err := e.Validate(); err != nil {
				return err
			}
			return f.future.check("FCR", &e, e.At.UnixNano())
		}
	}
	rr := readAhead(ctx, s, after, 1, opt)
	last = after
	apply := func(b *replayBatchOf) (int, error) {
		for i, e := range b.evs {
			if err := p.Apply(e); err != nil {
				return i, err
			}
		}
		return len(b.evs), nil
	}
	if isFCR {
		apply = func(b *replayBatchOf) (int, error) { return f.applyBatchKeys(b.evs, &b.keys, true) }
	}
	for b := range rr.stages[0] {
		if err == nil && len(b.evs) > 0 {
			k, bad := apply(b)
			n += k
			if k > 0 {
				last = b.evs[k-1].Position
			}
			if bad != nil {
				err = fmt.Errorf("replay: event at position %d: %w", b.evs[k].Position, bad)
				cancel()
			}
		}
		rr.done(b)
	}
	if err != nil {
		return last, n, err
	}
	if rr.err != nil {
		return last, n, fmt.Errorf("replay: stopped after position %d: %w", last, rr.err)
	}
	return last, n, nil
}

// Replay applies every event of s after position after, and returns the
// position of the last event applied and how many there were. It keeps
// two cores busy: one goroutine reads, decodes and checks the store's
// events a batch at a time, and hands each batch both to the FCR, on a
// goroutine of its own, and to the KPI projections, on the caller's, so
// that the three stages overlap without waiting for each other. It stops
// at the first error of the store or of ctx, or at an event the Reporter
// refuses, which it returns with the event's position: every projection
// has applied the events before it, and none the rest.
func (r *Reporter) Replay(ctx context.Context, s events.Store, after uint64) (last uint64, n int, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rr := readAhead(ctx, s, after, 2, readOptions{
		check: func(e events.Envelope) error { return r.check(&e) },
	})
	fcrDone := make(chan error, 1)
	go func() {
		var err error
		for b := range rr.stages[0] {
			if err == nil {
				if err = r.applyFCR(b.evs); err != nil {
					cancel()
				}
			}
			rr.done(b)
		}
		fcrDone <- err
	}()
	last = after
	for b := range rr.stages[1] {
		r.offerKPIs(b.evs)
		r.applied += int64(len(b.evs))
		n += len(b.evs)
		last = b.evs[len(b.evs)-1].Position
		rr.done(b)
	}
	if err := <-fcrDone; err != nil {
		return last, n, fmt.Errorf("replay: %w", err)
	}
	if rr.err != nil {
		return last, n, fmt.Errorf("replay: stopped after position %d: %w", last, rr.err)
	}
	return last, n, nil
}
