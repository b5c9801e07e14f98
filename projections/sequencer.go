package projections

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"github.com/truefcr/truefcr/events"
)

// Outcome says what a Sequencer did with an event.
type Outcome uint8

// The outcomes of Sequencer.Offer.
const (
	// Applied: the event was next in its stream and was emitted, with any
	// held events that it released.
	Applied Outcome = iota
	// Duplicate: the stream had already passed the event's version.
	Duplicate
	// Held: the event comes after a gap in its stream and waits for it.
	Held
	// Refused: the event's version is one no stream has (0, or beyond
	// events.MaxVersion); Offer returns an error that says so.
	Refused
)

// Sequencer puts the events of each issue in version order: an event whose
// version was already emitted is a duplicate, one that comes after a gap is
// held until the gap fills. Events of different issues pass independently.
// The zero Sequencer has seen nothing, as NewSequencer's. It is not safe
// for concurrent use, nor to be changed from inside the emit function of
// its Offer: Offer, Forget and Restore called there panic (forget an
// issue that an emitted event closed once Offer has returned).
type Sequencer struct {
	next  map[uuid.UUID]uint64    // the version each stream expects next
	held  map[uuid.UUID]*heldList // out-of-order events, by version
	nHeld int
	// emitting: Offer is inside its emit function, and goes on with the
	// state it read before it.
	emitting bool
}

// NewSequencer returns a Sequencer that has seen nothing.
func NewSequencer() *Sequencer {
	return &Sequencer{next: make(map[uuid.UUID]uint64), held: make(map[uuid.UUID]*heldList)}
}

// init makes the maps of the zero Sequencer.
func (s *Sequencer) init() {
	if s.next == nil {
		s.next = make(map[uuid.UUID]uint64)
		s.held = make(map[uuid.UUID]*heldList)
	}
}

// heldList holds the events of one stream that wait for a gap, in version
// order, in buf[lo:]. An event before the first takes a place kept free in
// front, as one after the last takes one at the end, so that a stream
// delivered newest first costs no more than one delivered in order (which
// inserting at the front of a slice made quadratic: 40,000 events of one
// issue, newest first, took 3.4 s).
type heldList struct {
	buf []events.Envelope
	lo  int
}

// events returns the held events, in version order.
func (h *heldList) events() []events.Envelope { return h.buf[h.lo:] }

// len returns how many events are held.
func (h *heldList) len() int { return len(h.buf) - h.lo }

// insert puts e at position i of the held events.
func (h *heldList) insert(i int, e events.Envelope) {
	if i == 0 && h.lo > 0 {
		h.lo--
		h.buf[h.lo] = e
		return
	}
	if i == 0 {
		// At the front, with no room left there: make as much as there
		// are events, so that inserting at the front costs O(1)
		// amortised.
		n := h.len()
		room := max(4, n)
		buf := make([]events.Envelope, room+n)
		copy(buf[room:], h.events())
		h.buf, h.lo = buf, room-1
		h.buf[h.lo] = e
		return
	}
	if len(h.buf) == cap(h.buf) && h.lo >= h.len() {
		// Full, with at least as much room in front as events: move
		// them there rather than grow, a move that the room it frees
		// at the end pays for.
		n := copy(h.buf, h.events())
		clear(h.buf[n:])
		h.buf, h.lo = h.buf[:n], 0
	}
	h.buf = slices.Insert(h.buf, h.lo+i, e)
}

// popFront drops the first held event.
func (h *heldList) popFront() {
	h.buf[h.lo] = events.Envelope{}
	h.lo++
}

// Offer takes one event and calls emit for every event that is now in
// order: e itself and the held events it releases, in version order. It
// stops and returns emit's first error; the held events not emitted stay
// held, and when emit fails on e itself, e is neither emitted nor held:
// the stream still expects its version, and Offer returns Applied with
// the error. An event whose version is 0 or beyond events.MaxVersion
// (which events.Envelope.Validate refuses) is Refused, with an error
// that wraps events.ErrInvalidEvent, and changes nothing.
func (s *Sequencer) Offer(e events.Envelope, emit func(events.Envelope) error) (Outcome, error) {
	s.notEmitting("Offer")
	if e.Version == 0 || e.Version > events.MaxVersion {
		return Refused, fmt.Errorf("%w: event %s of issue %s has version %d, outside 1 to %d",
			events.ErrInvalidEvent, e.ID, e.Issue, e.Version, uint64(events.MaxVersion))
	}
	s.init()
	want, ok := s.next[e.Issue]
	if !ok {
		want = 1
	}
	switch {
	case e.Version < want:
		return Duplicate, nil
	case e.Version > want:
		h := s.held[e.Issue]
		if h == nil {
			h = &heldList{}
			s.held[e.Issue] = h
		}
		i, found := versionAt(h.events(), e.Version)
		if found {
			return Duplicate, nil
		}
		h.insert(i, e)
		s.nHeld++
		return Held, nil
	}
	if err := s.emit(emit, e); err != nil {
		return Applied, err
	}
	want++
	s.next[e.Issue] = want
	if s.nHeld == 0 {
		return Applied, nil // nothing can be released: skip the held map
	}
	h := s.held[e.Issue]
	if h == nil {
		return Applied, nil
	}
	for h.len() > 0 && h.events()[0].Version <= want {
		first := h.events()[0]
		if first.Version < want {
			// A held copy of a version emitted since (an emit of it
			// failed, and the version came again).
			h.popFront()
			s.nHeld--
			continue
		}
		if err := s.emit(emit, first); err != nil {
			return Applied, err
		}
		h.popFront()
		s.nHeld--
		want++
		s.next[e.Issue] = want
	}
	if h.len() == 0 {
		delete(s.held, e.Issue)
	}
	return Applied, nil
}

// emit calls emit with e, marking the Sequencer as inside it.
func (s *Sequencer) emit(emit func(events.Envelope) error, e events.Envelope) error {
	s.emitting = true
	defer func() { s.emitting = false }()
	return emit(e)
}

// notEmitting panics when method is called from inside Offer's emit
// function, which would change the state that Offer goes on with once
// emit returns (a forgotten stream would come back, Held go below zero).
func (s *Sequencer) notEmitting(method string) {
	if s.emitting {
		panic("projections: Sequencer." + method + " called from inside the emit function of its Offer: call it once Offer has returned")
	}
}

// versionAt returns where version v is, or would go, among evs, events of
// one stream in version order, and whether it is there.
func versionAt(evs []events.Envelope, v uint64) (int, bool) {
	return slices.BinarySearchFunc(evs, v, func(x events.Envelope, v uint64) int { return cmp.Compare(x.Version, v) })
}

// Version returns the last version emitted for issue, 0 if none.
func (s *Sequencer) Version(issue uuid.UUID) uint64 {
	if v, ok := s.next[issue]; ok {
		return v - 1
	}
	return 0
}

// Held returns how many events wait for a gap to fill.
func (s *Sequencer) Held() int { return s.nHeld }

// HeldEvents returns the events that wait for a gap, issue by issue in
// version order. The slice is new; the events are shared.
func (s *Sequencer) HeldEvents() []events.Envelope {
	out := make([]events.Envelope, 0, s.nHeld)
	for _, h := range s.held {
		out = append(out, h.events()...)
	}
	return out
}

// Forget drops what the Sequencer knows of issue, to bound memory once the
// issue can no longer change a report. A later event of it is then seen
// as the first of a new stream, or held as coming after a gap.
func (s *Sequencer) Forget(issue uuid.UUID) {
	s.notEmitting("Forget")
	delete(s.next, issue)
	if h := s.held[issue]; h != nil {
		s.nHeld -= h.len()
	}
	delete(s.held, issue)
}

// Streams returns how many issues the Sequencer tracks.
func (s *Sequencer) Streams() int {
	n := len(s.next)
	for id := range s.held {
		if _, ok := s.next[id]; !ok {
			n++
		}
	}
	return n
}

// Positions returns the last emitted version of every tracked stream, for
// a snapshot; a stream of which only held events are known (none was
// emitted yet), which Streams counts, is not among them.
func (s *Sequencer) Positions() map[uuid.UUID]uint64 {
	out := make(map[uuid.UUID]uint64, len(s.next))
	for id, v := range s.next {
		out[id] = v - 1
	}
	return out
}

// Restore sets the last emitted version of the given streams, as saved by
// Positions, and drops held events.
//
// Every position must be at most events.MaxVersion: the snapshots of this
// package are checked for it before they restore a Sequencer.
func (s *Sequencer) Restore(positions map[uuid.UUID]uint64) {
	s.notEmitting("Restore")
	s.next = make(map[uuid.UUID]uint64, len(positions))
	s.held = make(map[uuid.UUID]*heldList)
	s.nHeld = 0
	for id, v := range positions {
		s.next[id] = v + 1
	}
}

// known reports whether e is a duplicate (its version was emitted or is
// held) and whether the Sequencer knows anything of e's stream.
func (s *Sequencer) known(e *events.Envelope) (dup, tracked bool) {
	if len(s.next) == 0 && s.nHeld == 0 {
		return false, false
	}
	next, ok := s.next[e.Issue]
	if e.Version < next {
		return true, true
	}
	if s.nHeld == 0 {
		return false, ok
	}
	h, held := s.held[e.Issue]
	if held {
		_, dup = versionAt(h.events(), e.Version)
	}
	return dup, ok || held
}

// state returns the version that issue's stream expects next (0 when it
// is not tracked) and whether events of it are held.
func (s *Sequencer) state(issue uuid.UUID) (next uint64, held bool) {
	next = s.next[issue]
	if s.nHeld > 0 {
		_, held = s.held[issue]
	}
	return next, held
}

// setNext takes over issue's stream, which expects version next, from a
// caller that sequenced it so far.
func (s *Sequencer) setNext(issue uuid.UUID, next uint64) {
	s.init()
	s.next[issue] = next
}

// drop hands issue's stream, which has no held events, back to the caller.
func (s *Sequencer) drop(issue uuid.UUID) { delete(s.next, issue) }

// firstHeld returns the time, in Unix ns, of the first of issue's events
// that wait for a gap, and whether there is one.
func (s *Sequencer) firstHeld(issue uuid.UUID) (int64, bool) {
	if s.nHeld == 0 {
		return 0, false
	}
	h := s.held[issue]
	if h == nil || h.len() == 0 {
		return 0, false
	}
	return h.events()[0].At.UnixNano(), true
}

// skip moves issue's stream past its first gap: the first held event is
// emitted as if the gap had filled, with the held events that follow it
// without a gap, as Offer emits them. It returns the first and the last
// version it went past; from > to when nothing was held. emit's error
// stops it as it stops Offer, with the first held event held again when
// emit failed on it.
func (s *Sequencer) skip(issue uuid.UUID, emit func(events.Envelope) error) (from, to uint64, err error) {
	h := s.held[issue]
	if h == nil || h.len() == 0 {
		return 1, 0, nil
	}
	next, tracked := s.next[issue]
	first := h.events()[0]
	h.popFront()
	if h.len() == 0 {
		delete(s.held, issue)
	}
	s.nHeld--
	s.next[issue] = first.Version
	if _, err := s.Offer(first, emit); err != nil {
		if s.next[issue] == first.Version {
			// emit failed on first: hold it again, and the gap.
			h := s.held[issue]
			if h == nil {
				h = &heldList{}
				s.held[issue] = h
			}
			h.insert(0, first)
			s.nHeld++
			if tracked {
				s.next[issue] = next
			} else {
				delete(s.next, issue)
			}
			return 1, 0, err
		}
		return max(next, 1), first.Version - 1, err
	}
	return max(next, 1), first.Version - 1, nil
}
