package projections

import "github.com/google/uuid"

// sweep folds the problems that nothing may change any more into the
// counters and frees their state, and drops held events that waited for a
// gap beyond the lateness.
func (f *FCR) sweep() {
	f.sinceSweep = 0
	if !f.hasWM {
		return
	}
	cutoff := f.wm - f.lateness
	for r := range f.ids.nodes {
		if n := &f.ids.nodes[r]; n.parent == int32(r) && n.issue >= 0 {
			f.foldCustomer(int32(r), cutoff)
		}
	}
	f.expireHeld(cutoff)
}

// foldCustomer folds the problems of the customer whose root is r that
// are final and beyond the lateness: every event that may still be applied
// is at cutoff or later, after all of the problem's issues stopped being
// live.
func (f *FCR) foldCustomer(r int32, cutoff int64) {
	if !f.mayFold(r, cutoff) {
		return
	}
	freed := false
	probs := f.problems(r)
	for i := range probs {
		p := &probs[i]
		if !p.resolved || p.open || p.settle >= cutoff || f.verdict(p) == vPending {
			continue
		}
		f.add(&f.folded, p)
		for _, ix := range p.members {
			f.free(ix)
		}
		freed = true
	}
	if !freed {
		return
	}
	// Rebuild the customer's list of issues from those still live.
	node := &f.ids.nodes[r]
	start, kept := node.issue, int32(-1)
	i := start
	for {
		next := f.issues[i].next
		if f.issues[i].live {
			if kept < 0 {
				kept = i
				f.issues[i].next = i
			} else {
				f.issues[i].next = f.issues[kept].next
				f.issues[kept].next = i
			}
		}
		i = next
		if i == start {
			break
		}
	}
	if kept < 0 {
		f.ids.release(r)
		return
	}
	node.issue = kept
}

// free drops a folded issue: its slot, its id and its sequencer state.
// Events of it that were held are counted as orphaned.
func (f *FCR) free(ix int32) {
	is := &f.issues[ix]
	id := is.id
	delete(f.byID, id)
	held := f.seq.Held()
	f.seq.Forget(id)
	f.counts.Orphaned += int64(held - f.seq.Held())
	next := is.next
	*is = fcrIssue{next: next}
	f.freeIx = append(f.freeIx, ix)
}

// expireHeld drops the held events of issues that are not live and have
// waited beyond the lateness: their issue was folded, or their stream's
// start will only ever arrive late.
func (f *FCR) expireHeld(cutoff int64) {
	if f.seq.Held() == 0 {
		return
	}
	var drop []uuid.UUID
	for _, e := range f.seq.HeldEvents() {
		if _, live := f.byID[e.Issue]; !live && e.At.UnixNano() < cutoff {
			drop = append(drop, e.Issue)
		}
	}
	for _, id := range drop {
		held := f.seq.Held()
		f.seq.Forget(id)
		f.counts.Orphaned += int64(held - f.seq.Held())
	}
}

// mayFold reports whether some issue of the customer whose root is r
// stopped being live before cutoff: without one, no problem of theirs can
// fold, and the costlier chaining is skipped.
func (f *FCR) mayFold(r int32, cutoff int64) bool {
	start := f.ids.nodes[r].issue
	for i := start; ; {
		is := &f.issues[i]
		if s, ok := is.settled(f.window); ok && s < cutoff {
			return true
		}
		if i = is.next; i == start {
			return false
		}
	}
}
