package main

import (
	"container/heap"
	"time"

	"github.com/google/uuid"

	"github.com/truefcr/truefcr/events"
)

// waiting holds the lines that came before an earlier version of their
// issue, until that version comes or the log's time has gone half the
// lateness past theirs: a log sorted by time may hold two events of one
// issue in either order, when their times are equal or the clocks that
// stamped them disagree.
type waiting struct {
	byIssue map[uuid.UUID]map[uint64]line
	byTime  waitHeap
}

// line is an event of the log and where it was read.
type line struct {
	e     events.Envelope
	line  int
	known bool // of a type the tool reads; else passed on as opaque
	// why is the error the Reporter refused the line for (it was
	// counted as invalid): it only takes its version, by passOver.
	why error
	at  time.Time // the time it waits from: not after the log's time then
}

func newWaiting() *waiting { return &waiting{byIssue: make(map[uuid.UUID]map[uint64]line)} }

// hold keeps l, and returns the line it already holds at l's version, if
// any, instead.
func (w *waiting) hold(l line) (line, bool) {
	vs := w.byIssue[l.e.Issue]
	if had, ok := vs[l.e.Version]; ok {
		return had, true
	}
	if vs == nil {
		vs = make(map[uint64]line)
		w.byIssue[l.e.Issue] = vs
	}
	w.put(vs, l)
	return line{}, false
}

// replace holds l in place of the line held at its version; that line's
// place in the queue is passed over (its line number no longer matches).
func (w *waiting) replace(l line) { w.put(w.byIssue[l.e.Issue], l) }

// put holds l among vs, its issue's held lines, and queues it by its time.
func (w *waiting) put(vs map[uint64]line, l line) {
	vs[l.e.Version] = l
	heap.Push(&w.byTime, waitItem{at: l.at, issue: l.e.Issue, version: l.e.Version, line: l.line})
}

// take returns the line held of issue at version, and lets go of it.
func (w *waiting) take(issue uuid.UUID, version uint64) (line, bool) {
	vs := w.byIssue[issue]
	l, ok := vs[version]
	if !ok {
		return line{}, false
	}
	delete(vs, version)
	if len(vs) == 0 {
		delete(w.byIssue, issue)
	}
	return l, true
}

// expired returns the first line of an issue that has a line held since
// before cutoff (the lowest version it holds), and lets go of it; false
// when there is none.
func (w *waiting) expired(cutoff time.Time) (line, bool) {
	for w.byTime.Len() > 0 && w.byTime[0].at.Before(cutoff) {
		it := heap.Pop(&w.byTime).(waitItem)
		vs := w.byIssue[it.issue]
		if l, ok := vs[it.version]; !ok || l.line != it.line {
			continue // its line was taken
		}
		first := uint64(0)
		for v := range vs {
			if first == 0 || v < first {
				first = v
			}
		}
		if first != it.version {
			heap.Push(&w.byTime, it) // its own line still waits
		}
		return w.take(it.issue, first)
	}
	return line{}, false
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

type waitHeap []waitItem

func (h waitHeap) Len() int           { return len(h) }
func (h waitHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h waitHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *waitHeap) Push(x any)        { *h = append(*h, x.(waitItem)) }
func (h *waitHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}
