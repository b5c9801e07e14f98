package projections

import (
	"context"
	"fmt"

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
		if err := kpiCheckEvent("report", evs[i]); err != nil {
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
	go func() {
		for _, e := range ok {
			// The events are valid: only a configuration error, which
			// NewReporter refused already, could stop the FCR here.
			if err := r.fcr.Apply(e); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for i := range ok {
		r.offerKPI(&ok[i])
	}
	if err := <-done; err != nil {
		return 0, err
	}
	r.applied += int64(n)
	return n, bad
}

// applyChecked is Apply of an event that passed kpiCheckEvent.
func (r *Reporter) applyChecked(e events.Envelope) error {
	if err := r.fcr.Apply(e); err != nil {
		return err
	}
	r.offerKPI(&e)
	r.applied++
	return nil
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

// replayBatch is how many events Replay decodes ahead and applies at a
// time.
const replayBatch = 4096

// Replay applies every event of s after position after, and returns the
// position of the last event applied and how many there were. One
// goroutine reads and decodes the store while the events already read go
// through ApplyBatch, so that a rebuild keeps two cores busy. It stops at
// the first error of the store, of ctx or of an event the Reporter
// refuses, which it returns with the event's position: the events before
// it are applied.
func (r *Reporter) Replay(ctx context.Context, s events.Store, after uint64) (last uint64, n int, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type batch struct {
		evs []events.Envelope
		err error // what stopped the reading, after evs
	}
	full := make(chan batch, 1)
	free := make(chan []events.Envelope, 2)
	for range 2 {
		free <- make([]events.Envelope, 0, replayBatch)
	}
	go func() {
		defer close(full)
		send := func(b batch) bool {
			select {
			case full <- b:
				return true
			case <-ctx.Done():
				return false
			}
		}
		buf := <-free
		for e, err := range s.ReadAll(ctx, after) {
			if err != nil {
				send(batch{evs: buf, err: err})
				return
			}
			if buf = append(buf, e); len(buf) == replayBatch {
				if !send(batch{evs: buf, err: ctx.Err()}) {
					return
				}
				select {
				case buf = <-free:
				case <-ctx.Done():
					return
				}
			}
		}
		send(batch{evs: buf, err: ctx.Err()})
	}()
	last = after
	for b := range full {
		if i, err := r.applyBatch(b.evs); err != nil {
			n += i
			if i > 0 {
				last = b.evs[i-1].Position
			}
			return last, n, fmt.Errorf("replay: event at position %d: %w", b.evs[i].Position, err)
		}
		n += len(b.evs)
		if len(b.evs) > 0 {
			last = b.evs[len(b.evs)-1].Position
		}
		if b.err != nil {
			return last, n, fmt.Errorf("replay: read after position %d: %w", last, b.err)
		}
		select {
		case free <- b.evs[:0]:
		default:
		}
	}
	if err := ctx.Err(); err != nil {
		return last, n, fmt.Errorf("replay: stopped after position %d: %w", last, err)
	}
	return last, n, nil
}
