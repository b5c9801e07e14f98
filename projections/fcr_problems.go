package projections

import (
	"bytes"
	"cmp"
	"math"
	"slices"
	"strings"
)

// fcrProblem is one problem of a customer, computed from its live issues.
type fcrProblem struct {
	resolved bool
	open     bool  // some issue of the problem is open
	settle   int64 // when no issue of it can be live any more, unless open
	res      int64 // the first resolution
	resIx    int32 // the issue of the first resolution
	rootIx   int32 // the earliest issue
	firstIx  int32 // the issue of the first contact
	firstRec int32 // the first contact within it: -1 first, else index in more
	firstAt  int64
	firstCh  uint32
	before   int32 // counted contacts up to the resolution
	after    int32 // counted contacts in the window after it
	members  []int32
}

// verdicts of a problem.
const (
	vUnresolved uint8 = iota
	vPending
	vNoContact
	vAchieved
	vFailed
)

// fcrScratch holds buffers reused from one customer to the next.
type fcrScratch struct {
	opened    []opening
	order     []int32
	prob      []int32
	pos       []int32 // where each problem's members end
	members   []int32
	probs     []fcrProblem
	roots     []int32
	buckets   []int64  // the due buckets a sweep empties
	marks     []uint64 // a bit an identifier node: the roots a sweep looks at
	idents    []int32  // the identifiers of the issue being opened
	unsettled []int32  // the issues of a customer that have not settled before a sweep's cutoff
	reach     []int32  // identifiers reached by linked
	sink      int64    // what the read-aheads (touchCustomers, touchDue) read
	pre       fcrPrefetch
	// For a customer with many issues (keyedMin): the last issue of each
	// topic key and the previous one of the same key, for chain; the
	// first unsettled issue of each key and the next, for blocker.
	last    map[uint64]int32
	prev    []int32
	cursors []int32 // chain's place in each list it walks
	heads   map[uint64]int32
	next    []int32
	reHead  int32 // the first reclassified unsettled issue, -1 for none
}

// problems chains the live issues of the customer whose root is r into
// problems, in the order of their first issues, and measures them. The
// result and its members are scratch space, valid until the next call.
func (f *FCR) problems(r int32) []fcrProblem {
	probs := f.chain(r)
	for i := range probs {
		f.measureContacts(&probs[i])
	}
	return probs
}

// chain is problems with only each problem's members and status measured
// (measureStatus): a sweep measures the contacts of those that may fold.
func (f *FCR) chain(r int32) []fcrProblem {
	sc := &f.scratch
	probs := sc.probs[:0]
	opened := sc.opened[:0]
	for i := f.ids.nodes[r].issue; i >= 0; i = f.issues.at(i).next {
		opened = append(opened, opening{at: f.issues.at(i).first.at, ix: i})
	}
	sc.opened = opened
	n := len(opened)
	switch n {
	case 0:
		return probs
	case 1:
		// One issue, one problem: most customers at a sweep.
		members := append(sc.members[:0], opened[0].ix)
		sc.members = members
		probs = append(probs, fcrProblem{})
		f.measureStatus(&probs[0], members[:1:1])
		sc.probs = probs
		return probs
	case 2:
		// Two issues, most customers with several: one problem or two,
		// as the general case below finds them.
		a, b := opened[0].ix, opened[1].ix
		if f.compareOpenings(opened[0], opened[1]) > 0 {
			a, b = b, a
		}
		members := append(sc.members[:0], a, b)
		sc.members = members
		if f.related(r, a, b) {
			probs = append(probs, fcrProblem{})
			f.measureStatus(&probs[0], members[:2:2])
		} else {
			probs = append(probs, fcrProblem{}, fcrProblem{})
			f.measureStatus(&probs[0], members[:1:1])
			f.measureStatus(&probs[1], members[1:2:2])
		}
		sc.probs = probs
		return probs
	}
	f.sortOpenings(opened)
	order := slices.Grow(sc.order[:0], n)[:n]
	for i := range opened {
		order[i] = opened[i].ix
	}
	sc.order = order

	// Inference: each issue joins the problem of the most recent earlier
	// issue it is related to; prob holds the position of the problem's
	// first issue.
	prob := slices.Grow(sc.prob[:0], n)[:n]
	if n > keyedMin && f.cfg.Match != MatchAny {
		f.inferKeyed(r, order, prob)
	} else {
		for i, ix := range order {
			prob[i] = int32(i)
			for j := i - 1; j >= 0; j-- {
				if f.related(r, order[j], ix) {
					prob[i] = prob[j]
					break
				}
			}
		}
	}
	sc.prob = prob

	// Group the issues by problem, the problems in the order of their
	// first issues and each in opening order: a counting sort, where end
	// ends up at the end of each problem's members.
	end := slices.Grow(sc.pos[:0], n)[:n]
	clear(end)
	for _, p := range prob {
		end[p]++
	}
	sum := int32(0)
	for i, c := range end {
		end[i] = sum
		sum += c
	}
	members := slices.Grow(sc.members[:0], n)[:n]
	for i, p := range prob {
		members[end[p]] = order[i]
		end[p]++
	}
	sc.pos, sc.members = end, members
	lo := int32(0)
	for i, p := range prob {
		if p != int32(i) {
			continue
		}
		hi := end[i]
		probs = append(probs, fcrProblem{})
		f.measureStatus(&probs[len(probs)-1], members[lo:hi:hi])
		lo = hi
	}
	sc.probs = probs
	return probs
}

// keyedMin is how many issues a customer has beyond which chain and
// blocker look only at the issues whose topics may match (matchKey),
// rather than at every other issue: with thousands of issues of distinct
// topics (an account of a business), trying every pair took most of the
// time of a sweep.
const keyedMin = 32

// matchKey returns a key of topic t under the topic rule: topics that
// match (topicsMatch) have the same key, so topics of different keys do
// not match (topics of one key may not either). Topics of MatchRoot are
// keyed by a hash of their top-level segment, not by its name's id,
// which would intern names that nothing else may intern (and that a
// snapshot saves).
func (f *FCR) matchKey(t uint32) uint64 {
	switch f.cfg.Match {
	case MatchAny:
		return 0
	case MatchRoot:
		top, _, _ := strings.Cut(f.names.names[t], "/")
		h := uint64(14695981039346656037) // FNV-1a
		for i := 0; i < len(top); i++ {
			h = (h ^ uint64(top[i])) * 1099511628211
		}
		return h
	}
	return uint64(t)
}

// eachKey calls fn with the key of every topic that issue is has had:
// its topic, and those that its reclassifications replaced (topicAt
// returns one of them), maybe more than once.
func (f *FCR) eachKey(is *fcrIssue, fn func(k uint64)) {
	fn(f.matchKey(is.topic))
	if !is.has(fReclassified) {
		return
	}
	more := is.recs()
	for i := range more {
		if r := &more[i]; r.classification() {
			fn(f.matchKey(r.channel))
		}
	}
}

// inferKeyed is chain's inference, each issue of order joining the
// problem of the most recent earlier issue it is related to, for a
// customer with many issues. Only issues whose topics share a key
// (matchKey) can be related, unless one of them was reclassified, as
// related compares their topics when neither was; so the earlier issues
// tried are those of the keys of the issue's topics and those
// reclassified, most recent first, walking one list of each: prev links
// each issue to the previous one of its key, or the previous
// reclassified one.
func (f *FCR) inferKeyed(r int32, order, prob []int32) {
	sc := &f.scratch
	if sc.last == nil {
		sc.last = make(map[uint64]int32)
	}
	last := sc.last
	clear(last)
	prev := slices.Grow(sc.prev[:0], len(order))[:len(order)]
	lastRe := int32(-1) // the last reclassified issue so far
	for i, ix := range order {
		is := f.issues.at(ix)
		prob[i] = int32(i)
		// One cursor in each list, at its most recent issue before i.
		cur := sc.cursors[:0]
		f.eachKey(is, func(k uint64) {
			if j, ok := last[k]; ok {
				cur = append(cur, j)
			}
		})
		if lastRe >= 0 {
			cur = append(cur, lastRe)
		}
		for {
			j := int32(-1)
			for _, c := range cur {
				j = max(j, c)
			}
			if j < 0 {
				break
			}
			if f.related(r, order[j], ix) {
				prob[i] = prob[j]
				break
			}
			for k, c := range cur {
				if c == j {
					cur[k] = prev[j]
				}
			}
		}
		sc.cursors = cur
		if is.has(fReclassified) {
			prev[i], lastRe = lastRe, int32(i)
			continue
		}
		k := f.matchKey(is.topic)
		if j, ok := last[k]; ok {
			prev[i] = j
		} else {
			prev[i] = -1
		}
		last[k] = int32(i)
	}
	sc.prev = prev
}

// opening is an issue with the time it opened, which problems sorts by.
type opening struct {
	at int64
	ix int32
}

// sortOpenings puts a customer's issues in opening order (compareOpening).
// The customer's list is about newest first, or oldest first after a fold
// rebuilt it, and short: it is turned around when it starts with its
// latest issue and then sorted by insertion, which reads the issues
// themselves only to break ties.
func (f *FCR) sortOpenings(list []opening) {
	n := len(list)
	if n > 16 {
		slices.SortFunc(list, func(a, b opening) int { return f.compareOpenings(a, b) })
		return
	}
	if list[0].at > list[n-1].at {
		slices.Reverse(list)
	}
	for i := 1; i < n; i++ {
		for j := i; j > 0 && f.compareOpenings(list[j-1], list[j]) > 0; j-- {
			list[j-1], list[j] = list[j], list[j-1]
		}
	}
}

// compareOpenings is compareOpening of a and b, which reads the issues
// only when they opened at the same time.
func (f *FCR) compareOpenings(a, b opening) int {
	if c := cmp.Compare(a.at, b.at); c != 0 {
		return c
	}
	return compareOpening(f.issues.at(a.ix), f.issues.at(b.ix))
}

// compareOpening orders issues a and b by opening: earlier first, and at
// the same time by id.
func compareOpening(a, b *fcrIssue) int {
	if c := cmp.Compare(a.first.at, b.first.at); c != 0 {
		return c
	}
	return bytes.Compare(a.id[:], b.id[:])
}

// earlier reports whether issue a opened before issue b.
func earlier(a, b *fcrIssue) bool { return compareOpening(a, b) < 0 }

// related reports whether the later issue z of the customer whose root is
// r may join a problem through the earlier issue x: x is live when z
// opens, and their topics match and they are one customer by what was
// known before either of them settled: the topics given and the links
// made by then. A reclassification or a link that comes later does not
// count between the two: one of them has settled, and its problem's
// verdict is final. So which issues form a problem depends on event
// times only, not on when the projection folded what.
func (f *FCR) related(r, x, z int32) bool {
	xs, zs := f.issues.at(x), f.issues.at(z)
	if !xs.has(fReclassified) && !zs.has(fReclassified) {
		// Their topics never changed: only links depend on when the
		// first of them settled, and none are needed between issues
		// that came with the same first identifier.
		return f.topicsMatch(xs.topic, zs.topic) && xs.liveAt(zs.first.at, f.window) &&
			(xs.node == zs.node || f.linked(r, xs, zs, f.settledFirst(xs, zs)))
	}
	return f.relatedBefore(r, xs, zs, f.settledFirst(xs, zs))
}

// relatedBefore is related of the issues xs and zs, the first of which
// settled at before (MaxInt64 while neither has).
func (f *FCR) relatedBefore(r int32, xs, zs *fcrIssue, before int64) bool {
	return f.topicsMatch(xs.topicAt(before), zs.topicAt(before)) && xs.liveAt(zs.first.at, f.window) &&
		f.linked(r, xs, zs, before)
}

// settledFirst returns when the first of issues a and b settled, or
// MaxInt64 while neither has.
func (f *FCR) settledFirst(a, b *fcrIssue) int64 {
	before := int64(math.MaxInt64)
	if s, ok := a.settled(f.window); ok {
		before = s
	}
	if s, ok := b.settled(f.window); ok {
		before = min(before, s)
	}
	return before
}

// linked reports whether the earlier issue x and the later issue z, of
// the customer whose root is r, are one customer by links made before
// either of them settled. A link made later could not reach an issue that
// was folded, so it does not count even while both are still in memory:
// chaining depends on event times only, not on when the projection folded
// what. An issue's own links always count.
func (f *FCR) linked(r int32, xs, zs *fcrIssue, before int64) bool {
	if xs.node == zs.node {
		return true
	}
	if lf := f.ids.forest(r); lf != nil {
		return lf.linked(xs.node, zs.node, before)
	}
	reach := append(f.scratch.reach[:0], xs.node)
	defer func() { f.scratch.reach = reach }()
	for grown := true; grown; {
		grown = false
		for i := f.ids.nodes[r].link; i >= 0; i = f.ids.links[i].next {
			l := &f.ids.links[i]
			if l.from >= before {
				continue
			}
			ina, inb := slices.Contains(reach, l.a), slices.Contains(reach, l.b)
			if ina == inb {
				continue
			}
			n := l.a
			if ina {
				n = l.b
			}
			if n == zs.node {
				return true
			}
			reach = append(reach, n)
			grown = true
		}
	}
	return false
}

// topicsMatch applies the configured topic rule.
func (f *FCR) topicsMatch(a, b uint32) bool {
	switch f.cfg.Match {
	case MatchAny:
		return true
	case MatchRoot:
		return a == b || f.names.root(a) == f.names.root(b)
	}
	return a == b
}

// measureStatus fills in p's members, given in the order of their
// opening, and whether and when it is resolved, open and settled.
func (f *FCR) measureStatus(p *fcrProblem, members []int32) {
	p.members = members
	p.rootIx = members[0]
	p.resIx = -1
	p.settle = math.MinInt64
	for _, ix := range members {
		is := f.issues.at(ix)
		if is.has(fResolved) && (!p.resolved || is.res < p.res) {
			p.resolved, p.res, p.resIx = true, is.res, ix
		}
		if s, ok := is.settled(f.window); !ok {
			p.open = true
		} else if s > p.settle {
			p.settle = s
		}
	}
	if p.resolved {
		p.settle = max(p.settle, satAdd(p.res, f.window))
	}
}

// measureContacts fills in the rest of p, whose status measureStatus
// filled in: its first contact, and its counted contacts up to and after
// its resolution.
func (f *FCR) measureContacts(p *fcrProblem) {
	p.firstIx = -1
	for _, ix := range p.members {
		is := f.issues.at(ix)
		// The first contact: the earliest counted one.
		if is.first.counted() && (p.firstIx < 0 || is.first.at < p.firstAt) {
			p.firstIx, p.firstRec, p.firstAt, p.firstCh = ix, -1, is.first.at, is.first.channel
		}
		more := is.recs()
		for k := range more {
			if r := &more[k]; r.counted() && (p.firstIx < 0 || r.at < p.firstAt) {
				p.firstIx, p.firstRec, p.firstAt, p.firstCh = ix, int32(k), r.at, r.channel
			}
		}
	}
	if p.firstIx < 0 {
		root := f.issues.at(p.rootIx)
		p.firstAt, p.firstCh = root.first.at, root.first.channel
	}
	if !p.resolved {
		return
	}
	end := satAdd(p.res, f.window)
	// The counted contacts up to the resolution and in the window after
	// it, as eachCounted walks them.
	for _, ix := range p.members {
		is := f.issues.at(ix)
		if r := &is.first; r.counted() && r.at < end {
			p.count(r.at)
		}
		more := is.recs()
		for k := range more {
			if r := &more[k]; r.counted() && r.at < end {
				p.count(r.at)
			}
		}
	}
}

// count counts a contact at time at, before p's resolution + W, into p.
func (p *fcrProblem) count(at int64) {
	if at <= p.res {
		p.before++
	} else {
		p.after++
	}
}

// eachCounted calls fn for every counted contact of p up to its resolution
// + W, saying whether it is the problem's first contact.
func (f *FCR) eachCounted(p *fcrProblem, fn func(at int64, channel uint32, first bool)) {
	end := satAdd(p.res, f.window)
	for _, ix := range p.members {
		is := f.issues.at(ix)
		if r := &is.first; r.counted() && r.at < end {
			fn(r.at, r.channel, ix == p.firstIx && p.firstRec == -1)
		}
		more := is.recs()
		for k := range more {
			if r := &more[k]; r.counted() && r.at < end {
				fn(r.at, r.channel, ix == p.firstIx && p.firstRec == int32(k))
			}
		}
	}
}

// verdict classifies p at watermark wm.
func (f *FCR) verdict(p *fcrProblem) uint8 {
	switch {
	case !p.resolved:
		return vUnresolved
	case !f.hasWM || f.wm <= satAdd(p.res, f.window):
		return vPending
	}
	return p.outcome()
}

// outcome is the verdict of resolved problem p once final, by the counted
// contacts it has so far: vNoContact, vAchieved or vFailed.
func (p *fcrProblem) outcome() uint8 {
	switch {
	case p.before+p.after == 0:
		return vNoContact
	case p.before == 1 && p.after == 0:
		return vAchieved
	}
	return vFailed
}
