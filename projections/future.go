package projections

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/truefcr/truefcr/events"
)

// ErrFutureEvent is wrapped by the error of a projection that refuses an
// event whose time is further after the clock's time than its MaxFuture
// allows. Unlike an invalid event, such an event may be taken later, once
// the clock has caught up with it; a Runner logs it and passes over it,
// as it does every event its projection refuses, so that a rebuild after
// that moment takes an event that the live projection did not.
var ErrFutureEvent = errors.New("event time too far after the clock's time")

// DefaultMaxFuture is how far after the clock's time an event may be,
// unless a projection's config says otherwise or its lateness is less
// than twice as long (it is then half the lateness).
const DefaultMaxFuture = time.Hour

// A projection's watermark is the latest event time it has seen, and an
// event older than the watermark minus the lateness is late. One event
// stamped in the future (a device whose clock is wrong, a typo in an
// imported year) would move the watermark there, and every event after
// it would be late, until a rebuild. Each projection therefore refuses an
// event that is further after the machine's clock than its MaxFuture.
// An event taken m after the clock's time leaves the events of the
// present the lateness minus m to arrive in: by default an hour of the
// lateness goes to clocks that run ahead, and the rest to delays. A replay
// of history is not affected, as its events are all in the past; a log
// stamped ahead of the clock on purpose (a simulation) needs a negative
// MaxFuture, which sets no limit.

// futureGuard refuses events too far after the clock's time. It reads
// the clock only when an event is later than any seen passing since it
// last did, so that it costs one comparison an event.
type futureGuard struct {
	limit int64 // ns; negative: no limit
	// bound is the clock's time when last read plus limit: an event up
	// to it passes without a read.
	bound int64
	now   func() time.Time
	field string // the setting, for errors
}

// newFutureGuard returns a guard that refuses events more than limit
// after the clock's time, none if limit is negative; field names the
// setting in errors.
func newFutureGuard(limit time.Duration, field string) futureGuard {
	g := futureGuard{limit: int64(limit), bound: math.MinInt64, now: time.Now, field: field}
	if limit < 0 {
		g.bound = math.MaxInt64
	}
	return g
}

// check returns an error that says what is wrong with e, whose time is at
// in Unix ns, when it is too far after the clock's time; what names the
// projection.
func (g *futureGuard) check(what string, e *events.Envelope, at int64) error {
	if at <= g.bound {
		return nil
	}
	now := g.now()
	g.bound = satAdd(now.UnixNano(), g.limit)
	if at <= g.bound {
		return nil
	}
	return fmt.Errorf("%s apply issue %s version %d: event time %s is more than %s after the clock's time %s (%s): %w",
		what, e.Issue, e.Version, e.At.Format(time.RFC3339Nano), time.Duration(g.limit), now.UTC().Format(time.RFC3339), g.field, ErrFutureEvent)
}

// maxFutureOr returns d or, when d is 0, the default for a projection of
// the given lateness: DefaultMaxFuture, or half the lateness when that is
// less.
func maxFutureOr(d, lateness time.Duration) time.Duration {
	if d == 0 {
		return min(DefaultMaxFuture, lateness/2)
	}
	return d
}
