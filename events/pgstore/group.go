package pgstore

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/truefcr/truefcr/events"
)

// group commits concurrent appends together. Appends to one table commit
// one at a time (the head row orders them), so a transaction that carries
// every append waiting at that moment shares one commit among them. The
// first caller to find no transaction running leads: it commits what is
// queued, its own append included, then hands the lead to the oldest
// append still waiting. A caller alone never waits. A transaction of
// several appends goes on while any of their callers waits for it, and is
// cancelled once every one of them gave up; a caller whose append a
// transaction carries waits for it to end, as its append may commit.
type group struct {
	max int // appends per transaction

	mu      sync.Mutex
	queue   []*waiter
	leading bool
}

type waiter struct {
	ctx   context.Context // the caller's
	u     *unit
	ready chan struct{} // closed when u is done or when the waiter must lead
	lead  bool
	taken bool // in a transaction: can no longer be withdrawn
}

// gaveUp returns the error of an append whose caller gave up (ctxErr) and
// whose group's transaction failed with err: the caller's reason, when
// err is the cancellation that followed, with err's text. An append whose
// COMMIT may have happened says so all the same (events.ErrOutcomeUnknown).
func gaveUp(ctxErr, err error) error {
	var pgErr *pgconn.PgError // 57014: a statement cancelled by a request
	switch {
	case errors.Is(err, events.ErrOutcomeUnknown):
		return fmt.Errorf("%w (%w)", ctxErr, err)
	case errors.Is(err, context.Canceled) || errors.As(err, &pgErr) && pgErr.Code == "57014":
		return fmt.Errorf("%w (%v)", ctxErr, err)
	}
	return err
}

// run appends u, alone or with others, through commit.
func (g *group) run(ctx context.Context, u *unit, commit func(context.Context, []*unit)) {
	w := &waiter{ctx: ctx, u: u, ready: make(chan struct{})}
	g.mu.Lock()
	g.queue = append(g.queue, w)
	if !g.leading {
		g.leading, w.lead = true, true
		close(w.ready)
	}
	g.mu.Unlock()

	select {
	case <-w.ready:
	case <-ctx.Done():
		if g.withdraw(w) {
			u.err = fmt.Errorf("%s: given up while it waited to commit with others: %w", appendOf(u.batches), ctx.Err())
			return
		}
		<-w.ready
	}
	if !w.lead {
		return // another caller committed u
	}

	g.mu.Lock()
	n := min(len(g.queue), g.max)
	batch := make([]*waiter, n) // w is first: a leader is always the oldest waiting
	copy(batch, g.queue)
	g.queue = append(g.queue[:0], g.queue[n:]...)
	units := make([]*unit, n)
	for i, b := range batch {
		b.taken = true
		units[i] = b.u
	}
	g.mu.Unlock()

	if n > 1 {
		// Others' appends must not fail because this caller gave up: the
		// transaction goes on while any of its callers waits for it.
		var stop func()
		ctx, stop = whileAny(batch)
		defer stop()
	}
	commit(ctx, units)
	if n > 1 && ctx.Err() != nil {
		// Every caller gave up: each is told why it did (a deadline,
		// say), as if its append had run alone.
		for _, b := range batch {
			if err := b.ctx.Err(); err != nil {
				b.u.err = gaveUp(err, b.u.err)
			}
		}
	}

	g.mu.Lock()
	for _, b := range batch[1:] {
		close(b.ready)
	}
	g.handOver()
	g.mu.Unlock()
}

// whileAny returns a context that is done once every waiter's context
// is, and a function that releases it.
func whileAny(ws []*waiter) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ws[0].ctx))
	go func() {
		for _, w := range ws {
			select {
			case <-w.ctx.Done():
			case <-ctx.Done():
				return
			}
		}
		cancel()
	}()
	return ctx, cancel
}

// withdraw takes w out of the queue unless a transaction already carries
// it, and reports whether it did.
func (g *group) withdraw(w *waiter) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if w.taken {
		return false
	}
	for i, q := range g.queue {
		if q == w {
			g.queue = append(g.queue[:i], g.queue[i+1:]...)
			break
		}
	}
	if w.lead {
		g.handOver()
	}
	return true
}

// handOver gives the lead to the oldest waiter, if any. g.mu is held.
func (g *group) handOver() {
	if len(g.queue) == 0 {
		g.leading = false
		return
	}
	next := g.queue[0]
	next.lead = true
	close(next.ready)
}
