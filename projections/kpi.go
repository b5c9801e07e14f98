package projections

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

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

// kpiIssue is what a KPI projection keeps of one issue while it is in the
// active horizon: the projection's own state S and the bookkeeping that
// decides when the issue can be dropped.
type kpiIssue[S any] struct {
	state S
	// open: opened, contacted or reopened and not resolved since. An
	// issue that never opened in this state (its first events were
	// dropped) counts as closed, so that it leaves the horizon too.
	open bool
	last time.Time // event time of the last applied event
	// base: versions up to base were skipped or dropped with an earlier
	// state of the issue; the Sequencer sees version v as v-base.
	base uint64
	// gapped holds copies of the events that the Sequencer holds, by
	// version, so that a gap that can no longer fill can be skipped.
	gapped []events.Envelope
}

// kpiDue is a moment at which an issue may leave the horizon, or its gap
// be skipped.
type kpiDue struct {
	at    time.Time
	issue uuid.UUID
}

// kpiHorizon is the part that the KPI projections share: it sequences each
// issue's events, keeps per-issue state while the issue is open or was
// active within the lateness, and counts the events that come too late to
// be applied.
//
// An event is late when its issue is not tracked and it is older than the
// lateness behind the watermark: it belongs to an issue whose state was
// dropped (a redelivery would be counted twice) or it arrived too late to
// be trusted. Events of tracked issues are applied however old they are.
//
// Events that come after a gap wait for it to fill, until they are
// themselves older than the lateness: the missing versions, which are
// older still, could then only be late, so the gap is skipped and the
// missing versions count as late if they ever come. This is also how an
// issue continues after its state was dropped, such as a reopen days after
// the resolution: its first version to arrive is not 1, and once skipped
// to, it resumes from a fresh state.
type kpiHorizon[S any] struct {
	lateness  time.Duration
	seq       *Sequencer
	issues    map[uuid.UUID]*kpiIssue[S]
	due       []kpiDue // min-heap by at
	watermark time.Time
	late      int64
	sweeping  bool
	// apply is the projection's in-order method, called for every event
	// the horizon releases.
	apply func(events.Envelope) error
}

func newKPIHorizon[S any](lateness time.Duration, apply func(events.Envelope) error) kpiHorizon[S] {
	return kpiHorizon[S]{
		lateness: lateness,
		seq:      NewSequencer(),
		issues:   make(map[uuid.UUID]*kpiIssue[S]),
		apply:    apply,
	}
}

// tooOld reports whether t is older than the lateness behind the watermark.
func (h *kpiHorizon[S]) tooOld(t time.Time) bool {
	return t.Add(h.lateness).Before(h.watermark)
}

func (h *kpiHorizon[S]) advance(t time.Time) {
	if t.After(h.watermark) {
		h.watermark = t
	}
}

// offer is Apply: it validates e, sequences it and applies what is in order.
func (h *kpiHorizon[S]) offer(e events.Envelope) error {
	if err := e.Validate(); err != nil {
		return err
	}
	h.advance(e.At)
	is := h.issues[e.Issue]
	if is == nil {
		if h.tooOld(e.At) {
			h.late++
			return nil
		}
		is = &kpiIssue[S]{}
		h.issues[e.Issue] = is
	}
	if e.Version <= is.base {
		h.late++ // behind a gap that was skipped
		return nil
	}
	if err := h.send(is, e); err != nil {
		return err
	}
	return h.sweep()
}

// send offers e to the Sequencer, rebased, and keeps a copy if it is held.
func (h *kpiHorizon[S]) send(is *kpiIssue[S], e events.Envelope) error {
	base := is.base
	rebased := e
	rebased.Version -= base
	out, err := h.seq.Offer(rebased, func(x events.Envelope) error {
		x.Version += base
		if len(is.gapped) > 0 && is.gapped[0].Version == x.Version {
			is.gapped = is.gapped[1:]
		}
		return h.apply(x)
	})
	if out == Held {
		i, _ := slices.BinarySearchFunc(is.gapped, e.Version, func(x events.Envelope, v uint64) int {
			return compareU64(x.Version, v)
		})
		is.gapped = slices.Insert(is.gapped, i, e)
		h.push(kpiDue{at: e.At, issue: e.Issue})
	}
	if len(is.gapped) == 0 {
		is.gapped = nil // let the drained slice go
	}
	return err
}

// fold is the in-order path: it applies e to the issue's state with f and
// drops the issues that left the horizon.
func (h *kpiHorizon[S]) fold(e events.Envelope, f func(s *S, e events.Envelope)) error {
	h.advance(e.At)
	is := h.issues[e.Issue]
	if is == nil {
		is = &kpiIssue[S]{}
		h.issues[e.Issue] = is
	}
	f(&is.state, e)
	switch e.Type() {
	case events.TypeResolved:
		is.open = false
	case events.TypeOpened, events.TypeReopened, events.TypeContacted:
		is.open = true
	}
	if e.At.After(is.last) {
		is.last = e.At
	}
	if !is.open {
		h.push(kpiDue{at: is.last, issue: e.Issue})
	}
	return h.sweep()
}

// sweep drops the closed issues that are quiet for longer than the
// lateness and skips the gaps that can no longer fill.
func (h *kpiHorizon[S]) sweep() error {
	if h.sweeping {
		return nil
	}
	h.sweeping = true
	defer func() { h.sweeping = false }()
	for len(h.due) > 0 && h.tooOld(h.due[0].at) {
		d := h.pop()
		is := h.issues[d.issue]
		switch {
		case is == nil:
		case len(is.gapped) > 0:
			if h.tooOld(is.gapped[0].At) {
				if err := h.skip(d.issue, is); err != nil {
					return err
				}
			}
		case !is.open && h.tooOld(is.last):
			delete(h.issues, d.issue)
			h.seq.Forget(d.issue)
		}
	}
	return nil
}

// skip restarts the issue's stream at its first held event.
func (h *kpiHorizon[S]) skip(issue uuid.UUID, is *kpiIssue[S]) error {
	gapped := is.gapped
	is.gapped = nil
	h.seq.Forget(issue)
	is.base = gapped[0].Version - 1
	for _, g := range gapped {
		if err := h.send(is, g); err != nil {
			return err
		}
	}
	if !is.open { // it may have nothing left to wait for
		h.push(kpiDue{at: is.last, issue: issue})
	}
	return nil
}

// held returns how many events wait for a gap to fill.
func (h *kpiHorizon[S]) held() int { return h.seq.Held() }

func (h *kpiHorizon[S]) push(d kpiDue) {
	h.due = append(h.due, d)
	for i := len(h.due) - 1; i > 0; {
		p := (i - 1) / 2
		if !h.due[i].at.Before(h.due[p].at) {
			break
		}
		h.due[i], h.due[p] = h.due[p], h.due[i]
		i = p
	}
}

func (h *kpiHorizon[S]) pop() kpiDue {
	top := h.due[0]
	n := len(h.due) - 1
	h.due[0] = h.due[n]
	h.due = h.due[:n]
	for i := 0; ; {
		l, small := 2*i+1, i
		if l < n && h.due[l].at.Before(h.due[small].at) {
			small = l
		}
		if r := l + 1; r < n && h.due[r].at.Before(h.due[small].at) {
			small = r
		}
		if small == i {
			break
		}
		h.due[i], h.due[small] = h.due[small], h.due[i]
		i = small
	}
	if cap(h.due) > 64 && n < cap(h.due)/4 {
		h.due = slices.Clone(h.due) // let a drained heap give memory back
	}
	return top
}

// kpiRate is NewRate that keeps hits within 0..total, so that a count
// skewed by dropped state cannot yield an interval outside 0..1.
func kpiRate(hits, total int64) Rate {
	return NewRate(min(max(hits, 0), max(total, 0)), max(total, 0))
}

// kpiShare returns part/whole, 0 when whole is 0.
func kpiShare(part, whole int64) float64 {
	if whole <= 0 {
		return 0
	}
	return float64(part) / float64(whole)
}

// kpiKey returns k, or alt when k is empty.
func kpiKey(k, alt string) string {
	if k == "" {
		return alt
	}
	return k
}

// kpiSegment returns the counts of segment key, adding them when new.
func kpiSegment[T any](m map[string]*T, key string) *T {
	n := m[key]
	if n == nil {
		n = new(T)
		m[key] = n
	}
	return n
}

// The KPI projections absorb events like every other projection.
var (
	_ Projection = (*ServiceLevel)(nil)
	_ Projection = (*Satisfaction)(nil)
	_ Projection = (*Volume)(nil)
)
