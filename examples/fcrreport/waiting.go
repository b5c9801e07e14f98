package main

import (
	"time"

	"github.com/google/uuid"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/internal/minheap"
)

// waiting holds the lines that came before an earlier version of their
// issue, until that version comes or the log's time has gone half the
// lateness past theirs: a log sorted by time may hold two events of one
// issue in either order, when their times are equal or the clocks that
// stamped them disagree.
type waiting struct {
	byIssue map[uuid.UUID]*held
	byTime  minheap.Heap[waitItem]
}

// held is what waits of one issue: its lines by version, and their
// versions in a heap, whose least is the first line to let go of once
// one of the issue's lines has waited too long. The heap may keep
// versions whose lines were taken since; first drops them.
type held struct {
	lines    map[uint64]line
	versions minheap.Heap[heldVersion]
}

// heldVersion is a version of a stream, which orders itself for the heap.
type heldVersion uint64

// Less orders versions from the lowest.
func (a heldVersion) Less(b heldVersion) bool { return a < b }

// first returns the lowest version held.
func (h *held) first() uint64 {
	for {
		v := uint64(h.versions.Min())
		if _, ok := h.lines[v]; ok {
			return v
		}
		h.versions.Pop() // its line was taken
	}
}

// line is an event of the log and where it was read.
type line struct {
	e     events.Envelope
	line  int
	known bool // of a type the tool reads; else passed on as opaque
	// why is the error the line was refused for, by the Reporter or as
	// malformed (it was counted as invalid): it only takes its version,
	// by passOver.
	why error
	// malformed: its data alone is malformed (why says how). It waits
	// for a corrected copy even at its stream's next version.
	malformed bool
	at        time.Time // the time it waits from: not after the log's time then
}

func newWaiting() *waiting { return &waiting{byIssue: make(map[uuid.UUID]*held)} }

// hold keeps l, and returns the line it already holds at l's version, if
// any, instead.
func (w *waiting) hold(l line) (line, bool) {
	h := w.byIssue[l.e.Issue]
	if h == nil {
		h = &held{lines: make(map[uint64]line)}
		w.byIssue[l.e.Issue] = h
	} else if had, ok := h.lines[l.e.Version]; ok {
		return had, true
	}
	h.versions.Push(heldVersion(l.e.Version))
	w.put(h, l)
	return line{}, false
}

// replace holds l in place of the line held at its version; that line's
// place in the queue is passed over (its line number no longer matches).
func (w *waiting) replace(l line) { w.put(w.byIssue[l.e.Issue], l) }

// put holds l among h's lines, and queues it by its time.
func (w *waiting) put(h *held, l line) {
	h.lines[l.e.Version] = l
	w.byTime.Push(waitItem{at: l.at, issue: l.e.Issue, version: l.e.Version, line: l.line})
}

// take returns the line held of issue at version, and lets go of it.
func (w *waiting) take(issue uuid.UUID, version uint64) (line, bool) {
	h := w.byIssue[issue]
	if h == nil {
		return line{}, false
	}
	l, ok := h.lines[version]
	if !ok {
		return line{}, false
	}
	delete(h.lines, version)
	if h.versions.Len() > 0 && uint64(h.versions.Min()) == version {
		h.versions.Pop() // lines taken in order leave nothing behind
	}
	if len(h.lines) == 0 {
		delete(w.byIssue, issue)
	}
	return l, true
}

// expired returns the first line of an issue that has a line held since
// before cutoff (the lowest version it holds), and lets go of it; false
// when there is none.
func (w *waiting) expired(cutoff time.Time) (line, bool) {
	for w.byTime.Len() > 0 && w.byTime.Min().at.Before(cutoff) {
		it := w.byTime.Pop()
		h := w.byIssue[it.issue]
		if h == nil {
			continue // its line was taken
		}
		if l, ok := h.lines[it.version]; !ok || l.line != it.line {
			continue // its line was taken
		}
		first := h.first()
		if first != it.version {
			w.byTime.Push(it) // its own line still waits
		}
		return w.take(it.issue, first)
	}
	return line{}, false
}

// endsBefore reports whether a line may wait since before cutoff, which
// expired would then let go of: false when none does.
func (w *waiting) endsBefore(cutoff time.Time) bool {
	return w.byTime.Len() > 0 && w.byTime.Min().at.Before(cutoff)
}

// waitItem is a held line's time, issue, version and line number; the
// heap keeps the earliest on top. An item may outlive its line, which was
// taken since.
type waitItem struct {
	at      time.Time
	issue   uuid.UUID
	version uint64
	line    int
}

// Less orders held lines by the time they wait from.
func (a waitItem) Less(b waitItem) bool { return a.at.Before(b.at) }
