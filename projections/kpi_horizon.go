package projections

import (
	"math"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/truefcr/truefcr/events"
)

// kpiHorizon is the part that the KPI projections share: it sequences each
// issue's events, keeps per-issue state S while the issue is open or was
// active recently, and counts the events that come too late to be
// applied. The Reporter runs one for all three projections, with a state
// that holds each one's part.
//
// An event is late when its issue is not tracked, or tracked only for
// events that wait for a gap, and it is older than the lateness behind
// the watermark: it belongs to an issue whose state was dropped (a
// redelivery would be counted twice) or it arrived too late to be
// trusted. Events of issues with a state are applied however old they are.
//
// Events that come after a gap wait for it to fill, until they are
// themselves older than the lateness: the missing versions, which are
// older still, could then only be late, so the gap is skipped and the
// missing versions count as late if they ever come. A redelivery of a
// version that was applied stays a duplicate.
//
// A closed issue's state is kept for the lateness after its last event,
// by event time. An event of it that comes later than that (a reopen days
// after the resolution, a late survey) finds the issue forgotten, whether
// or not its state is still in memory: the event waits as if after a gap,
// until it is older than the lateness, and the stream then resumes from a
// fresh state. So what an event is attributed to depends on event times
// only, never on when the horizon happened to free the state; the state
// is freed once the watermark passed its last event by twice the lateness,
// when no event that could still use it may come.
//
// After every event and every AdvanceTo, no tracked issue is closed, free
// of gaps and quiet for longer than twice the lateness, and no gap whose
// first held event is older than the lateness is left: the due queue
// holds an entry for every issue that may come to that, no later than the
// moment.
type kpiHorizon[S any] struct {
	lateness int64 // ns
	seq      kpiStreams[S]
	// due and early queue the moments at which issues may leave or skip
	// a gap: due in the order pushed, which is the order of time for the
	// entries pushed no earlier than its last (in an ordered replay,
	// almost all), early a min-heap by time for the others.
	due, early []kpiDue
	// wm is the watermark in Unix ns, valid once watermark is not zero;
	// cutoff is wm - lateness: an event time before it is too old.
	wm, cutoff int64
	watermark  time.Time
	late       int64
	dups       int64 // deliveries of versions already applied or held
	// fold is the projections' in-order method, called for every event
	// the horizon releases, in version order per issue. It reports whether
	// it took the event: one it passed over (kpiIgnores) opens or closes
	// nothing.
	fold func(s *S, e events.Envelope) bool
}

// kpiIssue is the bookkeeping of one issue in the horizon: it sequences
// the issue's events and decides when the issue can be dropped. It takes
// 56 bytes at the head of the issue's slot: an event touches it and the
// state next to it, dropping a quiet issue only it.
type kpiIssue struct {
	id uuid.UUID
	// next is the version the stream expects next. Versions up to base
	// were dropped with an earlier state of the issue, or skipped before
	// anything was applied to this one; those skipped since are in
	// kpiStreams.skipped. (A snapshot saved before skipped
	// spans were kept has base cover the versions up to the last one
	// skipped, applied or not.)
	next, base uint64
	last       int64 // Unix ns of the latest applied event
	// queuedAt is the time of the issue's live entry in the due queue.
	queuedAt int64
	// gen counts the issues that held this slot, so that a due entry of
	// an earlier one is told apart.
	gen uint32
	// open: opened, contacted or reopened and not resolved since. An
	// issue that never opened in this state (its first events were
	// dropped) counts as closed, so that it leaves the horizon too.
	open, queued, gapped bool
	// stale: the slot is free, and its state is that of an issue that
	// left; it is zeroed when the slot is taken again, as the memory is
	// then touched anyway.
	stale bool
}

// kpiStreams holds the horizon's issues, each with the sequencing state of
// its stream, in slots that issues leaving the horizon give back.
type kpiStreams[S any] struct {
	// index finds the slot of a tracked issue by its id.
	index slotIndex
	// pages holds slot ix at pages[ix/kpiPageLen][ix%kpiPageLen], in
	// pages that stay where they are as the table grows.
	pages [][]kpiSlot[S]
	slots int32 // in use or free
	// gapped holds, by slot, the events that wait for a gap to fill, in
	// version order.
	gapped map[int32]*heldList
	// skipped holds, by slot, the versions above base that the stream
	// went past when it skipped a gap after something was applied to the
	// state (other skips move base), in order.
	skipped map[int32][]versionSpan
	free    []int32
	nHeld   int
}

// kpiPageLen is the size of a page of states: 192 of the Reporter's
// 168-byte slots (kpiSlot[kpiState]) are 32,256 bytes, which the runtime
// keeps in its largest size class for small objects, 32 KiB, 1.6 % more.
// A page of 256, 43,008 bytes, took 49,152 (14 % more), and one of 1024,
// which fits 8 KiB pages exactly, made a Reporter of a few issues 123 KB
// larger; TestPagesFillTheRuntimesPages keeps the fit. Pages are indexed
// by division by a constant, which compiles to a multiplication.
const kpiPageLen = 192

// kpiSlot is what the horizon keeps of one issue: its bookkeeping and
// the projections' state.
type kpiSlot[S any] struct {
	kpiIssue
	state S
}

// at returns slot ix.
func (t *kpiStreams[S]) at(ix int32) *kpiSlot[S] {
	u := uint32(ix)
	return &t.pages[u/kpiPageLen][u%kpiPageLen]
}

// Streams returns how many issues are tracked.
func (t *kpiStreams[S]) Streams() int { return t.index.n }

// find returns the slot of issue id, and whether it is tracked.
func (t *kpiStreams[S]) find(id uuid.UUID) (int32, bool) {
	tag := uuidTag(id)
	for p := t.index.home(tag); ; p = t.index.next(p) {
		s := t.index.slots[p]
		if s.ix == 0 {
			return 0, false
		}
		if s.tag == tag && t.at(s.ix-1).id == id {
			return s.ix - 1, true
		}
	}
}

// kpiDue is a moment at which the issue in slot ix may leave the horizon,
// or its gap be skipped.
type kpiDue struct {
	at  int64
	ix  int32
	gen uint32
}

func newKPIHorizon[S any](lateness time.Duration, fold func(*S, events.Envelope) bool) kpiHorizon[S] {
	return kpiHorizon[S]{
		lateness: int64(lateness),
		seq:      kpiStreams[S]{index: newSlotIndex(), gapped: make(map[int32]*heldList)},
		cutoff:   math.MinInt64,
		fold:     fold,
	}
}

// advance moves the watermark to t, which is ns in Unix ns, if t is later.
func (h *kpiHorizon[S]) advance(t time.Time, ns int64) {
	if h.watermark.IsZero() {
		if !t.After(h.watermark) {
			return
		}
	} else if ns <= h.wm {
		return
	}
	// In UTC, as the FCR's: the zone of whichever event came first at
	// the latest instant would make the reports depend on the order.
	h.wm, h.watermark = ns, t.UTC()
	h.cutoff = satSub(ns, h.lateness)
}

// advanceTo is AdvanceTo. A time beyond the range of Unix nanoseconds
// moves the watermark to the end of that range.
func (h *kpiHorizon[S]) advanceTo(t time.Time) {
	t, ns, ok := advanceTime(t)
	if !ok {
		return
	}
	h.advance(t, ns)
	h.sweep()
}

// offer sequences e, which the caller validated, and applies what is in
// order.
func (h *kpiHorizon[S]) offer(e *events.Envelope) {
	at := e.At.UnixNano()
	h.advance(e.At, at)
	ix, ok := h.seq.find(e.Issue)
	if !ok {
		if at < h.cutoff {
			h.late++ // the watermark did not move: nothing to sweep
			return
		}
		ix = h.add(e.Issue)
	}
	is := h.seq.at(ix)
	switch v := e.Version; {
	case v <= is.base:
		h.late++ // of a state dropped or forgotten, or skipped before anything was applied to this one
	case is.last == math.MinInt64 && at < h.cutoff:
		// Nothing was applied to the issue's state: it is tracked only
		// for held events, and the event is late as it would be had it
		// come before them (a redelivery of a version applied before
		// the issue left the horizon).
		h.late++
	case v < is.next && len(h.seq.skipped) > 0 && h.wasSkipped(ix, v):
		h.late++ // behind a gap that was skipped
	case v < is.next:
		h.dups++
	case v == is.next && h.forgets(&is.kpiIssue, at):
		h.forget(ix)
		h.hold(ix, e)
	case v == is.next:
		h.release(ix, e, at)
	default:
		h.hold(ix, e)
	}
	h.requeue(ix)
	h.sweep()
}

// forgets reports whether an event at time at, next in the stream of the
// tracked issue is, comes after the issue's state is forgotten: the issue
// is closed and the event is at or after forgetAt.
func (h *kpiHorizon[S]) forgets(is *kpiIssue, at int64) bool {
	return !is.open && is.last != math.MinInt64 && at >= h.forgetAt(is)
}

// forgetAt is the event time from which a closed issue is forgotten: the
// lateness after its last event.
func (h *kpiHorizon[S]) forgetAt(is *kpiIssue) int64 { return satAdd(is.last, h.lateness) }

// forget gives the issue in slot ix a fresh state, as if it had been
// dropped and its next event were the first to arrive. Events that wait
// for a gap stay held. The versions already applied or skipped stay below
// base, so that a redelivery of one counts as late, as it would once the
// state had been dropped (it is older than the lateness by then), rather
// than being applied again to the fresh state.
func (h *kpiHorizon[S]) forget(ix int32) {
	h.seq.unskip(ix)
	is := h.seq.at(ix)
	var zero S
	is.state = zero
	is.kpiIssue = kpiIssue{id: is.id, next: 1, base: is.next - 1, last: math.MinInt64, gen: is.gen + 1,
		gapped: is.gapped}
}

// satAdd returns a + b, b ≥ 0, saturated at the largest int64.
func satAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// satSub returns a − b, b ≥ 0, saturated at the smallest int64.
func satSub(a, b int64) int64 {
	if a < math.MinInt64+b {
		return math.MinInt64
	}
	return a - b
}

// add gives issue id a fresh slot.
func (h *kpiHorizon[S]) add(id uuid.UUID) int32 {
	t := &h.seq
	var ix int32
	if n := len(t.free); n > 0 {
		ix = t.free[n-1]
		t.free = t.free[:n-1]
	} else {
		ix = t.slots
		t.slots++
		if int(ix)/kpiPageLen == len(t.pages) {
			t.pages = append(t.pages, make([]kpiSlot[S], kpiPageLen))
		}
	}
	is := t.at(ix)
	if is.stale {
		var zero S
		is.state = zero
	}
	is.kpiIssue = kpiIssue{id: id, next: 1, last: math.MinInt64, gen: is.gen}
	t.index.insert(uuidTag(id), ix)
	return ix
}

// drop frees the slot of an issue that left the horizon.
func (h *kpiHorizon[S]) drop(ix int32) {
	t := &h.seq
	is := t.at(ix)
	t.index.remove(uuidTag(is.id), ix)
	t.unskip(ix)
	is.kpiIssue = kpiIssue{gen: is.gen + 1, stale: true}
	t.free = append(t.free, ix)
}

// apply folds e, the next event of the issue in slot ix, into its state.
func (h *kpiHorizon[S]) apply(ix int32, e *events.Envelope, at int64) {
	is := h.seq.at(ix)
	if at > is.last {
		is.last = at
	}
	if !h.fold(&is.state, *e) {
		return
	}
	switch e.Data.(type) {
	case *events.Resolved:
		is.open = false
	case *events.Opened, *events.Reopened, *events.Contacted:
		is.open = true
	case *events.Routed, *events.Rated, *events.Abandoned, *events.Consulted, *events.Classified:
	default:
		switch e.Type() {
		case events.TypeResolved:
			is.open = false
		case events.TypeOpened, events.TypeReopened, events.TypeContacted:
			is.open = true
		}
	}
}

// release applies e, which is next in its stream, and the held events
// that follow it without a gap.
func (h *kpiHorizon[S]) release(ix int32, e *events.Envelope, at int64) {
	h.apply(ix, e, at)
	is := h.seq.at(ix)
	is.next++
	if !is.gapped {
		return
	}
	gapped := h.seq.gapped[ix]
	for gapped.len() > 0 && gapped.events()[0].Version == is.next {
		g := gapped.events()[0]
		if h.forgets(&is.kpiIssue, g.At.UnixNano()) {
			// It and the rest wait, as they would have had the state
			// been dropped before they came.
			h.forget(ix)
			break
		}
		gapped.popFront()
		h.seq.nHeld--
		h.apply(ix, &g, g.At.UnixNano())
		is.next++
	}
	h.setGapped(ix, gapped)
}

// hold keeps e, which comes after a gap, unless it is held already.
func (h *kpiHorizon[S]) hold(ix int32, e *events.Envelope) {
	gapped := h.seq.gapped[ix]
	if gapped == nil {
		gapped = &heldList{}
	}
	i, found := versionAt(gapped.events(), e.Version)
	if found {
		h.dups++ // held already
		return
	}
	h.seq.nHeld++
	gapped.insert(i, *e)
	h.setGapped(ix, gapped)
}

// setGapped sets the events of slot ix that wait for a gap to fill.
func (h *kpiHorizon[S]) setGapped(ix int32, gapped *heldList) {
	is := h.seq.at(ix)
	if gapped == nil || gapped.len() == 0 {
		if is.gapped {
			delete(h.seq.gapped, ix)
		}
		is.gapped = false
		return
	}
	h.seq.gapped[ix] = gapped
	is.gapped = true
}

// gappedAt returns the time, in Unix ns, of the first of the events of
// slot ix that wait for a gap to fill; the slot must be gapped.
func (h *kpiHorizon[S]) gappedAt(ix int32) int64 {
	return h.seq.gapped[ix].events()[0].At.UnixNano()
}

// skip restarts the stream of the issue in slot ix at its first held
// event.
func (h *kpiHorizon[S]) skip(ix int32) {
	gapped := h.seq.gapped[ix].events()
	h.seq.nHeld -= len(gapped)
	is := h.seq.at(ix)
	switch from, to := max(is.next, is.base+1), gapped[0].Version-1; {
	case from == is.base+1:
		// Nothing was applied to this state: the versions skipped
		// join those below base (an issue that came back after it
		// left, whose stream resumes at a reopen, skips all before).
		is.base = to
	case from <= to:
		addSpans(&h.seq.skipped, ix, versionSpan{from, to})
	}
	is.next = gapped[0].Version
	var still []events.Envelope
	for i := range gapped {
		g := &gapped[i]
		if g.Version == is.next {
			if h.forgets(&is.kpiIssue, g.At.UnixNano()) {
				h.forget(ix)
				if g.At.UnixNano() >= h.cutoff {
					// It and the rest wait, as after a gap, until
					// it is older than the lateness, as release has
					// them wait.
					still = append(still, gapped[i:]...)
					h.seq.nHeld += len(gapped) - i
					break
				}
				// Older than the lateness already: it would be
				// skipped to at once.
				is.base, is.next = g.Version-1, g.Version
			}
			h.apply(ix, g, g.At.UnixNano())
			is.next++
		} else {
			still = append(still, *g)
			h.seq.nHeld++
		}
	}
	h.setGapped(ix, &heldList{buf: still})
}

// wasSkipped reports whether version v of the issue in slot ix was
// skipped over.
func (h *kpiHorizon[S]) wasSkipped(ix int32, v uint64) bool { return spansHold(h.seq.skipped[ix], v) }

// unskip forgets the versions that slot ix skipped.
func (t *kpiStreams[S]) unskip(ix int32) {
	if len(t.skipped) > 0 {
		delete(t.skipped, ix)
	}
}

// requeue makes sure that the due queue holds an entry for the issue in
// slot ix no later than the moment it may leave or skip its gap.
func (h *kpiHorizon[S]) requeue(ix int32) {
	is := h.seq.at(ix)
	var at int64
	switch {
	case is.gapped:
		at = h.gappedAt(ix)
	case !is.open:
		at = h.forgetAt(&is.kpiIssue)
	default:
		return // an open issue stays
	}
	if is.queued && is.queuedAt <= at {
		return // its entry comes first; it looks again then
	}
	is.queued, is.queuedAt = true, at
	h.push(kpiDue{at: at, ix: ix, gen: is.gen})
}

// sweep drops the closed issues that are quiet for longer than twice the
// lateness and skips the gaps that can no longer fill.
func (h *kpiHorizon[S]) sweep() {
	for {
		if at, ok := h.next(); !ok || at >= h.cutoff {
			return
		}
		d := h.pop()
		is := h.seq.at(d.ix)
		if is.gen != d.gen || !is.queued || is.queuedAt != d.at {
			continue // an entry that a later or earlier one replaced
		}
		is.queued = false
		for is.gapped && h.gappedAt(d.ix) < h.cutoff {
			h.skip(d.ix)
		}
		if !is.gapped && !is.open && h.forgetAt(&is.kpiIssue) < h.cutoff {
			h.drop(d.ix)
			continue
		}
		h.requeue(d.ix)
	}
}

func (h *kpiHorizon[S]) push(d kpiDue) {
	if n := len(h.due); n == 0 || h.due[n-1].at <= d.at {
		h.due = append(h.due, d)
		return
	}
	h.early = append(h.early, d)
	for i := len(h.early) - 1; i > 0; {
		p := (i - 1) / 2
		if h.early[i].at >= h.early[p].at {
			break
		}
		h.early[i], h.early[p] = h.early[p], h.early[i]
		i = p
	}
}

// next returns the earliest queued moment, false when none is queued.
func (h *kpiHorizon[S]) next() (int64, bool) {
	switch {
	case len(h.due) == 0 && len(h.early) == 0:
		return 0, false
	case len(h.early) == 0:
		return h.due[0].at, true
	case len(h.due) == 0 || h.early[0].at < h.due[0].at:
		return h.early[0].at, true
	}
	return h.due[0].at, true
}

// pop removes and returns the earliest queued moment.
func (h *kpiHorizon[S]) pop() kpiDue {
	if len(h.early) == 0 || len(h.due) > 0 && h.due[0].at <= h.early[0].at {
		d := h.due[0]
		h.due = h.due[1:]
		if len(h.due) == 0 {
			h.due = h.due[:0:0] // let the drained queue go
		}
		return d
	}
	top := h.early[0]
	n := len(h.early) - 1
	h.early[0] = h.early[n]
	h.early = h.early[:n]
	for i := 0; ; {
		l, small := 2*i+1, i
		if l < n && h.early[l].at < h.early[small].at {
			small = l
		}
		if r := l + 1; r < n && h.early[r].at < h.early[small].at {
			small = r
		}
		if small == i {
			break
		}
		h.early[i], h.early[small] = h.early[small], h.early[i]
		i = small
	}
	if cap(h.early) > 64 && n < cap(h.early)/4 {
		h.early = slices.Clone(h.early) // let a drained heap give memory back
	}
	return top
}

// kpiView is what a KPI report states of the horizon it was computed in.
type kpiView struct {
	late          int64
	held, tracked int
	watermark     time.Time
}

func (h *kpiHorizon[S]) view() kpiView {
	return kpiView{late: h.late, held: h.seq.nHeld, tracked: h.seq.index.n, watermark: h.watermark}
}

// each calls f with every tracked issue, its state and whether it is open.
func (h *kpiHorizon[S]) each(f func(id uuid.UUID, s *S, open bool)) {
	for ix := range h.seq.slots {
		if is := h.seq.at(ix); !is.stale {
			f(is.id, &is.state, is.open)
		}
	}
}
