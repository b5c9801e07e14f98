package projections

import (
	"github.com/google/uuid"

	"github.com/truefcr/truefcr/internal/minheap"
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
	last  map[uuid.UUID]int64   // the latest event time of each stray stream, Unix ns
	queue minheap.Heap[issueAt] // one entry a stray stream, by a time no later than its last
}

// issueAt is a stream in a queue, with the time at which it was queued.
type issueAt struct {
	at    int64
	issue uuid.UUID
}

// Less orders queued streams by time.
func (a issueAt) Less(b issueAt) bool { return a.at < b.at }

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
	s.queue.Push(issueAt{at: at, issue: issue})
}

// expire calls forget for each stray stream whose latest event is before
// t, and stops tracking it.
func (s *strays) expire(t int64, forget func(issue uuid.UUID)) {
	for s.queue.Len() > 0 && s.queue.Min().at < t {
		e := s.queue.Pop()
		last, ok := s.last[e.issue]
		switch {
		case !ok:
			continue // no longer a stray (see drop)
		case last >= t:
			// An event came since it was queued: queue it for then.
			s.queue.Push(issueAt{at: last, issue: e.issue})
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
