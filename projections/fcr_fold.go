package projections

import (
	"slices"

	"github.com/google/uuid"
)

// sweep folds the problems that nothing may change any more into the
// counters and frees their state, and drops held events that waited for a
// gap beyond the lateness. It looks only at the customers of issues whose
// settling time (W after the resolution that last closed them) has passed
// the cutoff: a problem can
// fold only once its last issue settled.
func (f *FCR) sweep() {
	f.sinceSweep, f.sweptAt = 0, f.wm
	if !f.hasWM {
		return
	}
	cutoff := satSub(f.wm, f.lateness)
	// The due buckets whose every issue settled before cutoff, in order.
	buckets := f.scratch.buckets[:0]
	last := f.bucket(cutoff) // the bucket of cutoff, which holds times at or after it
	for b := range f.due {
		if b < last {
			buckets = append(buckets, b)
		}
	}
	slices.Sort(buckets)
	f.scratch.buckets = buckets
	// Each group of due issues is read ahead, and the customers of the
	// group folded right after, while their issues are still in cache
	// (reading every due issue first and folding customer after customer
	// then was 3-5 % slower); a bit a node marks the customers looked at,
	// so that each is folded once.
	marks := &f.scratch.marks
	if n := (len(f.ids.nodes) + 63) / 64; len(*marks) < n {
		*marks = append(*marks, make([]uint64, n-len(*marks))...)
	}
	roots := f.scratch.roots[:0]
	for _, b := range buckets {
		ixs := f.due[b]
		if ixs == f.dueLast {
			f.dueLast = nil
		}
		for lo := 0; lo < len(*ixs); lo += readAheadGroup {
			g := (*ixs)[lo:min(lo+readAheadGroup, len(*ixs))]
			f.scratch.sink += f.touchDue(g)
			from := len(roots)
			for _, ix := range g {
				if is := f.issues.at(ix); is.has(fLive) {
					r := f.ids.find(is.node)
					if m := &(*marks)[r>>6]; *m&(1<<(r&63)) == 0 {
						*m |= 1 << (r & 63)
						roots = append(roots, r)
					}
				}
			}
			// Customers first seen here have live issues: a sweep
			// links no customers, and folds a customer only once.
			f.eachCustomer(roots[from:], func(r int32) { f.foldCustomer(r, cutoff) })
		}
		delete(f.due, b)
	}
	for _, r := range roots {
		(*marks)[r>>6] = 0
	}
	f.scratch.roots = roots
	f.expireHeld(cutoff)
	if f.strays.len() > 0 {
		f.forgetStrays(satSub(cutoff, f.window))
	}
}

// readAheadGroup is how many due issues, or customers, the sweep and the
// report read ahead at a time (touchDue, touchCustomers).
const readAheadGroup = 64

// eachCustomer calls fn with each customer of roots, in order, having read
// the issues of each group of readAheadGroup customers ahead.
func (f *FCR) eachCustomer(roots []int32, fn func(r int32)) {
	for lo := 0; lo < len(roots); lo += readAheadGroup {
		rs := roots[lo:min(lo+readAheadGroup, len(roots))]
		f.scratch.sink += f.touchCustomers(rs)
		for _, r := range rs {
			fn(r)
		}
	}
}

// touchDue reads the issues of g, due to be looked at, and their
// identifiers' parents, which finding their customers reads next: as in
// touchCustomers, the reads of different issues overlap. It returns a sum
// of what it read.
func (f *FCR) touchDue(g []int32) int64 {
	var sum int64
	for _, ix := range g {
		sum += int64(f.ids.nodes[f.issues.at(ix).node].parent)
	}
	return sum
}

// touchCustomers walks the issue lists of customers about to be folded:
// the walks of different customers do not wait for each other, so the
// processor overlaps their cache misses, which folding customer after
// customer cannot. It returns a sum of what it read, so that the reads
// are not compiled away.
func (f *FCR) touchCustomers(roots []int32) int64 {
	var sum int64
	for _, r := range roots {
		for i := f.ids.nodes[r].issue; i >= 0; {
			is := f.issues.at(i)
			sum += is.first.at
			// The entry that freeing the issue removes.
			sum += int64(f.byID.slots[f.byID.home(uuidTag(is.id))].ix)
			if is.more != nil {
				if m := *is.more; len(m) > 0 {
					sum += m[0].at
				}
			}
			i = is.next
		}
	}
	return sum
}

// unsettled returns the issues of customer r that have not settled
// before cutoff, in scratch space.
func (f *FCR) unsettled(r int32, cutoff int64) []int32 {
	out := f.scratch.unsettled[:0]
	for i := f.ids.nodes[r].issue; i >= 0; i = f.issues.at(i).next {
		if s, ok := f.issues.at(i).settled(f.window); !ok || s >= cutoff {
			out = append(out, i)
		}
	}
	f.scratch.unsettled = out
	return out
}

// blocker returns an issue of unsettled, the issues of customer r that
// have not settled before the cutoff, that is related (see related) to
// an earlier issue of the settled problem p, and whether it is open; -1
// for none. Such an issue is not of p: it chains to a more recent issue
// of another problem. But that issue's topic may still change, and then
// the first may chain to p instead. Every other relation between p's
// issues and the customer's other issues is fixed once p's issues
// settled, as topics and links count between two issues as they were
// before either settled: folding p while no blocker is left gives the
// report that keeping it would. With keyed (indexUnsettled), it looks
// only at the issues that may match a topic of p's, and returns the
// first of unsettled that blocks, as looking at each would.
func (f *FCR) blocker(r int32, p *fcrProblem, unsettled []int32, keyed bool) (int32, bool) {
	from := f.issues.at(p.rootIx).first.at
	best := len(unsettled) // the first blocker found
	if !keyed {
		for i, z := range unsettled {
			if f.blocks(r, p, from, f.issues.at(z)) {
				best = i
				break
			}
		}
	} else {
		// The issues of each list, in the order of unsettled, until the
		// first that blocks, or that comes after a blocker found.
		scan := func(i int32) {
			for ; i >= 0 && int(i) < best; i = f.scratch.next[i] {
				if f.blocks(r, p, from, f.issues.at(unsettled[i])) {
					best = int(i)
					return
				}
			}
		}
		heads := f.scratch.heads
		for _, m := range p.members {
			f.eachKey(f.issues.at(m), func(k uint64) {
				if i, ok := heads[k]; ok {
					scan(i)
				}
			})
		}
		scan(f.scratch.reHead)
	}
	if best == len(unsettled) {
		return -1, false
	}
	_, settled := f.issues.at(unsettled[best]).settled(f.window)
	return unsettled[best], !settled
}

// blocks reports whether the unsettled issue zs blocks p (see blocker),
// whose first issue opened at from.
func (f *FCR) blocks(r int32, p *fcrProblem, from int64, zs *fcrIssue) bool {
	if zs.first.at < from || zs.first.at >= p.settle {
		// z opened before every member, or after each had
		// settled: no member was live and earlier when it opened.
		return false
	}
	for _, m := range p.members {
		// m settled first: before the cutoff, and z after it.
		ms := f.issues.at(m)
		if !earlier(ms, zs) {
			continue
		}
		if s, _ := ms.settled(f.window); f.relatedBefore(r, ms, zs, s) {
			return true
		}
	}
	return false
}

// indexUnsettled indexes unsettled for blocker, when there are enough
// of them (keyedMin) and the topic rule tells topics apart, and reports
// whether it did. Each list of the index holds, in the order of
// unsettled, the issues of one key (matchKey) that were never
// reclassified, or those that were: the issues that may be related to
// a settled issue are those of its topics' keys and the reclassified.
func (f *FCR) indexUnsettled(unsettled []int32) bool {
	if len(unsettled) <= keyedMin || f.cfg.Match == MatchAny {
		return false
	}
	sc := &f.scratch
	if sc.heads == nil {
		sc.heads = make(map[uint64]int32)
	}
	clear(sc.heads)
	next := slices.Grow(sc.next[:0], len(unsettled))[:len(unsettled)]
	sc.reHead = -1
	for i := len(unsettled) - 1; i >= 0; i-- {
		is := f.issues.at(unsettled[i])
		if is.has(fReclassified) {
			next[i], sc.reHead = sc.reHead, int32(i)
			continue
		}
		k := f.matchKey(is.topic)
		if j, ok := sc.heads[k]; ok {
			next[i] = j
		} else {
			next[i] = -1
		}
		sc.heads[k] = int32(i)
	}
	sc.next = next
	return true
}

// settles files issue ix to be looked at once its settling time passes.
func (f *FCR) settles(ix int32) {
	if s, ok := f.issues.at(ix).settled(f.window); ok {
		f.file(ix, s)
	}
}

// fileSettle files problem p, which settles at p.settle, to be looked at
// then if none of its issues is filed for that time already.
func (f *FCR) fileSettle(p *fcrProblem) {
	for _, ix := range p.members {
		if s, ok := f.issues.at(ix).settled(f.window); ok && s >= p.settle {
			return
		}
	}
	f.file(p.members[0], p.settle)
}

// file puts issue ix in the bucket of time t. Issues resolved one after
// another mostly go to the same bucket, which it finds without the map.
func (f *FCR) file(ix int32, t int64) { f.fileIn(ix, f.bucket(t)) }

// fileIn puts issue ix in bucket b.
func (f *FCR) fileIn(ix int32, b int64) {
	if f.dueLast == nil || b != f.dueLastB {
		p := f.due[b]
		if p == nil {
			p = new([]int32)
			f.due[b] = p
		}
		f.dueLast, f.dueLastB = p, b
	}
	*f.dueLast = append(*f.dueLast, ix)
}

// bucket returns the number of the due bucket of time t.
func (f *FCR) bucket(t int64) int64 {
	b := t / f.dueWidth
	if t < 0 && t%f.dueWidth != 0 {
		b--
	}
	return b
}

// foldCustomer folds the problems of the customer whose root is r that
// are final and beyond the lateness: every event that may still be applied
// is at cutoff or later, after all of the problem's issues stopped being
// live, and no issue that such an event may still change could join the
// problem (see blocker).
func (f *FCR) foldCustomer(r int32, cutoff int64) {
	freed := false
	probs := f.chain(r)
	// The issues that have not settled, once a problem may fold: with one
	// problem, there is none.
	var unsettled []int32
	keyed := false
	made := len(probs) == 1
	for i := range probs {
		p := &probs[i]
		if !p.resolved || p.open {
			// Look again later at the settled issues of a problem that
			// cannot fold yet: what holds it back (an open issue) may
			// leave it. Its resolution, a reclassification and a link
			// file the customer again (recheck); another inference
			// after a late contact is rare, so it is looked for a
			// horizon later rather than at every sweep, as open issues
			// can last for weeks.
			for _, ix := range p.members {
				if s, ok := f.issues.at(ix).settled(f.window); ok && s < cutoff {
					f.file(ix, satAdd(cutoff, f.horizon()))
				}
			}
			continue
		}
		// Only a problem settled before the cutoff may fold: its
		// contacts, which its verdict counts, are measured then.
		if p.settle < cutoff {
			f.measureContacts(p)
		}
		if p.settle >= cutoff || f.verdict(p) == vPending {
			// Time holds it back: the issue that settles last is filed
			// for then. Looking again sooner finds it held back again,
			// unless a reclassification took that issue away, and then
			// the problem folds at that issue's time rather than sooner.
			f.fileSettle(p)
			continue
		}
		if !made {
			unsettled, made = f.unsettled(r, cutoff), true
			keyed = f.indexUnsettled(unsettled)
		}
		if z, open := f.blocker(r, p, unsettled, keyed); z >= 0 {
			// An issue that may still change chains to another problem
			// but could chain to this one: a reclassification can still
			// move it here. It is filed for when it settles, or will be
			// when resolved; while it is open, look again a horizon
			// later, as for a problem with an open issue.
			if open {
				f.file(p.members[0], satAdd(cutoff, f.horizon()))
			}
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
	kept := int32(-1) // the first issue of the new list
	for i := node.issue; i >= 0; {
		next := f.issues.at(i).next
		if f.issues.at(i).has(fLive) {
			f.issues.at(i).next = kept
			kept = i
		}
		i = next
	}
	node.issue = kept
	f.ids.forgetIfLone(r)
}

// free drops a folded issue: its slot, its id and its sequencer state.
// Events of it that were held are counted as orphaned.
func (f *FCR) free(ix int32) {
	is := f.issues.at(ix)
	id := is.id
	f.byID.remove(uuidTag(id), ix)
	if len(f.skipped) > 0 {
		delete(f.skipped, id)
	}
	if is.has(fSeqd) {
		held := f.seq.Held()
		f.seq.Forget(id)
		f.counts.Orphaned += int64(held - f.seq.Held())
	}
	if len(f.recIx) > 0 {
		delete(f.recIx, ix)
	}
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
		if f.lookup(e.Issue) < 0 && e.At.UnixNano() < cutoff {
			drop = append(drop, e.Issue)
		}
	}
	for _, id := range drop {
		held := f.seq.Held()
		f.seq.Forget(id)
		f.counts.Orphaned += int64(held - f.seq.Held())
		f.strays.drop(id) // a stray stream's version goes with its held events
	}
}
