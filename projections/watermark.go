package projections

import "time"

// The watermark of a projection is the latest event time it has seen: it
// decides when a verdict is final and how late an event may be. A host
// that knows time has passed without events (a quiet partition, the end
// of a reporting period) moves it on with AdvanceTo, as an event at that
// time would; a Runner does it with RunnerConfig.IdleAdvance.

// Advancer is a projection whose watermark the host may move on when time
// passes without events (RunnerConfig.IdleAdvance): FCR, the Reporter, the
// KPI projections and what Sequence returns are. An error of AdvanceTo
// says what went wrong; the watermark may have moved all the same (what
// Sequence returns gives the errors of the events the advance released).
type Advancer interface {
	AdvanceTo(t time.Time) error
}

// AdvanceTo moves the watermark to t if t is later, and folds what is then
// final and beyond the lateness. t is the host's word for the time: it is
// not held to MaxFuture, and a t in the future makes the events before it
// late, as an event of that time would. A t after the range of Unix
// nanoseconds, in which the projections compare times (beyond 2262-04-11:
// the end of time, for a host that wants every verdict final), moves it to
// the end of that range, as the KPI projections' AdvanceTo does; one
// before it moves nothing. It always returns nil: the error is Advancer's.
func (f *FCR) AdvanceTo(t time.Time) error {
	_, ns, ok := advanceTime(t)
	if !ok || f.hasWM && ns <= f.wm {
		return nil
	}
	f.wm, f.hasWM = ns, true
	f.skipGaps()
	f.sweep()
	return nil
}

// advanceTime returns the time t of an AdvanceTo and its Unix ns: t
// itself within the range of Unix nanoseconds, in which the projections
// compare times; the end of that range, in t's location, for a t after
// it; false for a t before it, which moves nothing.
func advanceTime(t time.Time) (time.Time, int64, bool) {
	switch sec := t.Unix(); {
	case sec < minUnixNanoSec:
		return t, 0, false
	case sec > maxUnixNanoSec:
		t = time.Unix(maxUnixNanoSec, 0).In(t.Location())
	}
	return t, t.UnixNano(), true
}

// AdvanceTo moves the watermark to t if t is later, and drops the issues
// that then leave the horizon. A t beyond the range of Unix nanoseconds
// moves it to the end of that range, as FCR.AdvanceTo does.
func (s *ServiceLevel) AdvanceTo(t time.Time) error {
	s.h.advanceTo(t)
	return nil
}

// AdvanceTo moves the watermark to t if t is later, and drops the issues
// that then leave the horizon. A t beyond the range of Unix nanoseconds
// moves it to the end of that range, as FCR.AdvanceTo does.
func (s *Satisfaction) AdvanceTo(t time.Time) error {
	s.h.advanceTo(t)
	return nil
}

// AdvanceTo moves the watermark to t if t is later, and drops the issues
// that then leave the horizon. A t beyond the range of Unix nanoseconds
// moves it to the end of that range, as FCR.AdvanceTo does.
func (v *Volume) AdvanceTo(t time.Time) error {
	v.h.advanceTo(t)
	return nil
}

// AdvanceTo moves the watermark of every projection to t if t is later.
// As FCR.AdvanceTo, it takes t as the host's word for the time, not held
// to MaxFuture.
func (r *Reporter) AdvanceTo(t time.Time) error {
	if err := r.fcr.AdvanceTo(t); err != nil {
		return err
	}
	if r.kpi != nil {
		r.kpi.advanceTo(t)
		return nil
	}
	for _, p := range []Advancer{r.service, r.sat, r.volume} {
		if err := p.AdvanceTo(t); err != nil {
			return err
		}
	}
	return nil
}
