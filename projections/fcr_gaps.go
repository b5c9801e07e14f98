package projections

import (
	"cmp"
	"math"
	"slices"

	"github.com/google/uuid"
)

// The events of a live issue that come after a gap in its stream wait for
// it to fill, until the first of them is older than the watermark minus
// the lateness: the missing versions, older still, could by then only
// come late. The stream then goes on without them from its first held
// event, as in the KPI projections, and the versions it went past are
// counted in missing_events; one that comes after all is counted in
// late_events and late_dropped, and not applied. Which gaps are skipped
// depends on event times only: after every event and every AdvanceTo, no
// live issue's first held event is older than the watermark minus the
// lateness. (Whether an issue whose held events came after it settled
// folds before that moment depends on the sweeps: its held events are
// then orphaned, and its gap not counted; the figures are the same.)
//
// Without this, one event lost on the way (a transport that delivers at
// most once, a producer that crashed between two appends) would hold its
// issue's later events, a resolution among them, for as long as the issue
// lives, which for an issue that then looks open is for good.

// versionSpan is a range of versions of a stream, both ends included.
type versionSpan struct{ from, to uint64 }

// addSpans appends spans to those of k in *m, which it makes when nil.
func addSpans[K comparable](m *map[K][]versionSpan, k K, spans ...versionSpan) {
	if *m == nil {
		*m = make(map[K][]versionSpan)
	}
	(*m)[k] = append((*m)[k], spans...)
}

// loadSpans returns the spans of skipped versions that a snapshot saved,
// as first and last version, when they are as skipping makes them: in
// order and apart, above base and below next; else the first that is
// not, as bad.
func loadSpans(saved [][2]uint64, base, next uint64) (spans []versionSpan, bad *[2]uint64) {
	after := base // the last version below the next span
	for i, sp := range saved {
		if sp[0] <= after || sp[1] < sp[0] || sp[1] >= next {
			return nil, &saved[i]
		}
		spans = append(spans, versionSpan{sp[0], sp[1]})
		after = sp[1]
	}
	return spans, nil
}

// spansHold reports whether v lies in one of sps, which are in order and
// do not overlap, as a stream skips its gaps: in time logarithmic in
// their number, as an open issue's may grow long.
func spansHold(sps []versionSpan, v uint64) bool {
	i, _ := slices.BinarySearchFunc(sps, v, func(s versionSpan, v uint64) int { return cmp.Compare(s.to, v) })
	return i < len(sps) && sps[i].from <= v
}

// queueGap queues live issue for skipGaps if events of it wait for a gap.
func (f *FCR) queueGap(issue uuid.UUID) {
	if at, ok := f.seq.firstHeld(issue); ok {
		f.gaps.Push(issueAt{at: at, issue: issue})
	}
}

// skipGaps moves the stream of every live issue whose first held event is
// older than the watermark minus the lateness past its gaps, up to the
// first held event that is not.
func (f *FCR) skipGaps() {
	cutoff := satSub(f.wm, f.lateness)
	for f.gaps.Len() > 0 && f.gaps.Min().at < cutoff {
		id := f.gaps.Pop().issue
		if f.lookup(id) < 0 {
			continue // folded since: expireHeld drops its held events
		}
		for {
			at, ok := f.seq.firstHeld(id)
			if !ok || at >= cutoff {
				break
			}
			// f.emit, applyOrdered, does not fail.
			from, to, _ := f.seq.skip(id, f.emit)
			if from > to {
				break
			}
			f.counts.Missing = satAdd(f.counts.Missing, int64(min(to-from, math.MaxInt64-1)+1))
			addSpans(&f.skipped, id, versionSpan{from, to})
		}
		// Back into its slot, or queued again by its next held event.
		f.adopt(id)
	}
}

// wasSkipped reports whether version v of live issue id is one that its
// stream went past.
func (f *FCR) wasSkipped(id uuid.UUID, v uint64) bool { return spansHold(f.skipped[id], v) }
