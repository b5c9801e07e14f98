package projections

import (
	"container/heap"

	"github.com/google/uuid"
)

// strays are the streams that the FCR's Sequencer tracks although their
// issue is not live: their version 1 was not issue.opened, so that each
// of their events is ignored. The Sequencer keeps their versions, so that
// a redelivery is known as a duplicate and a later event is ignored at
// once rather than held; strays bounds how long. A stray stream quiet for
// the horizon W + lateness, by event time, is forgotten: an event of it
// that comes later waits for its gap like any event of a stream the FCR
// does not know, and is dropped as orphaned once older than the lateness.
//
// A host may publish streams of its own on the same feed, and a producer
// streams that never open: without this, each would hold a Sequencer
// entry, and a place in every snapshot, for good. (A stream that the FCR
// meets after its version 1, having joined a feed late, is no stray: its
// events wait for their gap and are orphaned.)
type strays struct {
	last  map[uuid.UUID]int64 // the latest event time of each stray stream, Unix ns
	queue issueHeap           // one entry a stray stream, by a time no later than its last
}

// issueAt is a stream in a queue, with the time at which it was queued.
type issueAt struct {
	at    int64
	issue uuid.UUID
}

// issueHeap is a min-heap of issueAt by time.
type issueHeap []issueAt

func (h issueHeap) Len() int           { return len(h) }
func (h issueHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h issueHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *issueHeap) Push(x any)        { *h = append(*h, x.(issueAt)) }
func (h *issueHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// note records an event at time at of stray stream issue.
func (s *strays) note(issue uuid.UUID, at int64) {
	if s.last == nil {
		s.last = make(map[uuid.UUID]int64)
	}
	if t, ok := s.last[issue]; ok {
		s.last[issue] = max(t, at)
		return
	}
	s.last[issue] = at
	heap.Push(&s.queue, issueAt{at: at, issue: issue})
}

// expire calls forget for each stray stream whose latest event is before
// t, and stops tracking it.
func (s *strays) expire(t int64, forget func(issue uuid.UUID)) {
	for len(s.queue) > 0 && s.queue[0].at < t {
		e := heap.Pop(&s.queue).(issueAt)
		last, ok := s.last[e.issue]
		switch {
		case !ok:
			continue // no longer a stray (see drop)
		case last >= t:
			// An event came since it was queued: queue it for then.
			heap.Push(&s.queue, issueAt{at: last, issue: e.issue})
			continue
		}
		delete(s.last, e.issue)
		forget(e.issue)
	}
}

// drop stops tracking issue as a stray stream: an issue.opened came
// after its version 1, and its issue is live, or the FCR forgot the
// stream with its held events.
func (s *strays) drop(issue uuid.UUID) { delete(s.last, issue) }

// len returns how many stray streams are tracked.
func (s *strays) len() int { return len(s.last) }

// forgetStrays forgets the stray streams quiet since before t, with
// their held events, which are counted as orphaned.
func (f *FCR) forgetStrays(t int64) {
	f.strays.expire(t, func(issue uuid.UUID) {
		held := f.seq.Held()
		f.seq.Forget(issue)
		f.counts.Orphaned += int64(held - f.seq.Held())
	})
}
