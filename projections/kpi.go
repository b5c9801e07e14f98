package projections

import (
	"errors"
	"fmt"
	"time"

	"github.com/truefcr/truefcr/events"
)

// ErrKPIConfig is wrapped by every error about a ServiceConfig,
// SatisfactionConfig or VolumeConfig that cannot work.
var ErrKPIConfig = errors.New("invalid KPI projection config")

// kpiDefaultLateness is the lateness of the KPI projections when their
// Config leaves it zero: a day covers late surveys and slow transports.
const kpiDefaultLateness = 24 * time.Hour

// Attribution keys for a segment that an event did not name.
const (
	kpiUnknown = "(unknown)" // the state that would name it was dropped or never seen
	kpiNone    = "(none)"    // the contact had none: never queued, no agent
)

func kpiCheckLateness(what string, d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("%s lateness %v is negative: %w", what, d, ErrKPIConfig)
	}
	return nil
}

// kpiCheckEvent is the check of Apply: e must Validate and happen within
// the years that the codecs write (events.InTimeRange, 1678 to 2261), in
// the range of Unix nanoseconds that the horizon compares, an error that wraps
// events.ErrInvalidEvent otherwise, and be no further after the clock's
// time than future allows, an error that wraps ErrFutureEvent otherwise.
func kpiCheckEvent(what string, e *events.Envelope, future *futureGuard) error {
	if err := e.Validate(); err != nil {
		return err
	}
	if !events.InTimeRange(e.At) {
		return fmt.Errorf("%s apply issue %s version %d: event time %s is out of range: %w",
			what, e.Issue, e.Version, e.At.Format(time.RFC3339), events.ErrInvalidEvent)
	}
	return future.check(what, e, e.At.UnixNano())
}

// kpiIgnores reports whether the KPI projections pass over e, the next
// event of the issue whose state is s: a stream whose version 1 was not
// an events.Opened is no issue's, as in the FCR, and an issue.opened after
// version 1, of any Go type, opens nothing. It marks s when e is such a
// version 1; call it
// once for each event. The mark lives with the state: an event that comes
// a lateness or more after the stream's previous one finds the state
// forgotten, as for any closed issue, and the stream resumes from a fresh
// state, where its events count. Keeping the mark longer would make what
// counts depend on when the horizon freed the state (see kpiHorizon); the
// FCR, which resumes no stream, ignores such events for good.
func kpiIgnores(s *kpiState, e *events.Envelope) bool {
	if _, opened := e.Data.(*events.Opened); e.Version == 1 && !opened {
		s.stray = true
	}
	return s.stray || e.Version != 1 && e.Type() == events.TypeOpened
}

// kpiCheckMinSample reports a negative minimum sample.
func kpiCheckMinSample(what string, n int64) error {
	if n < 0 {
		return fmt.Errorf("%s minimum sample %d is negative: %w", what, n, ErrKPIConfig)
	}
	return nil
}

// kpiDefaultMinSample sets a minimum sample of zero to MinReliable.
func kpiDefaultMinSample(n *int64) {
	if *n == 0 {
		*n = MinReliable
	}
}

// kpiRate is NewRate that keeps hits within 0..total, so that a count
// skewed by dropped state cannot yield an interval outside 0..1, flagged
// small below minSample.
func kpiRate(hits, total, minSample int64) Rate {
	r := NewRate(min(max(hits, 0), max(total, 0)), max(total, 0))
	r.Small = r.Total < minSample
	return r
}

// kpiShare returns part/whole, 0 when whole is 0.
func kpiShare(part, whole int64) float64 {
	if whole <= 0 {
		return 0
	}
	return float64(part) / float64(whole)
}

// kpiSegment returns the counts of the segment whose key has name id id,
// growing segs to hold it.
func kpiSegment[T any](segs *[]T, id uint32) *T {
	if int(id) >= len(*segs) {
		*segs = append(*segs, make([]T, int(id)+1-len(*segs))...)
	}
	return &(*segs)[id]
}

// The KPI projections absorb events like every other projection.
var (
	_ Projection = (*ServiceLevel)(nil)
	_ Projection = (*Satisfaction)(nil)
	_ Projection = (*Volume)(nil)
)
