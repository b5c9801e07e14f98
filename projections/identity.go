package projections

// identities links a customer's identifiers (identity keys and customer
// ids) into customers with a union-find: identifiers seen together belong
// to one customer, transitively, and stay so for good. A customer of a
// single identifier is forgotten when its last live issue folds (see
// forgetIfLone); it is then as if never seen. Each customer (a
// component) keeps a list of its live issues, threaded through fcrIssue.next and
// ended by -1; and a list of its links: which identifiers each issue
// carried together, and when, so that problems are chained only across
// the links that the rules let count (see FCR, "Identity over time").
//
// Identifiers are compared as given (the write side normalises keys), by a
// 64-bit hash rather than by the string, which halves what a
// customer costs: two different identifiers collide with a probability of
// about n²/2⁶⁵ for n identifiers (about three in a million for ten million),
// and a collision would link two customers. A customer id lives in its own
// namespace, so that the id "phone:1" and the key "phone:1" differ.
type identities struct {
	byHash slotIndex // nodes by identifier hash
	nodes  []identNode
	// free holds the nodes that forgetIfLone gave back, for nodeOf to reuse;
	// a free node has parent -1.
	free  []int32
	roots int // components
	links []identLink
	// many indexes the links of the customers with more than manyLinks
	// of them, by root; pairs finds each of their links by its two
	// identifiers (pairKey).
	many  map[int32]*manyIndex
	pairs map[uint64]int32
}

// identNode is one identifier. Fields other than hash and parent are
// meaningful at a component's root only.
type identNode struct {
	hash   uint64
	parent int32 // the node itself at a root
	issue  int32 // at a root: one live issue of the customer, -1 if none
	size   int32 // at a root: identifiers in the component
	link   int32 // at a root: the first link of the component, -1 if none
}

// identLink records that two identifiers were seen together: the first
// identifier of an issue and another of its identifiers. from is the
// earliest opening, Unix ns, of an issue that carried both.
type identLink struct {
	a, b int32 // the two identifiers' nodes
	next int32 // the next link of the component; -1 after the last
	from int64
}

func newIdentities() identities {
	d := identities{byHash: newSlotIndex()}
	d.byHash.dense = true // most identifiers are kept for good
	return d
}

// identHash returns the 64-bit hash of an identifier in its namespace. It
// reads eight bytes at a time (a multiply-xorshift mix per word, as in
// wyhash, and murmur3's finaliser), which matters because every opening
// hashes its keys, and identifiers are hashed rather than kept: the hash
// is part of the snapshot format and must not change within it.
func identHash(s string, isID bool) uint64 {
	const m1, m2 = 0x9e3779b97f4a7c15, 0xbf58476d1ce4e5b9
	h := uint64(len(s))*m1 ^ 2
	if isID {
		h = uint64(len(s))*m1 ^ 1
	}
	for len(s) >= 8 {
		w := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
			uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
		h = (h ^ w) * m2
		h ^= h >> 31
		s = s[8:]
	}
	var w uint64
	for i := len(s) - 1; i >= 0; i-- {
		w = w<<8 | uint64(s[i])
	}
	h = (h ^ w) * m2
	h ^= h >> 31
	// murmur3's fmix64.
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// node returns the node of an identifier, creating it (as a customer of its
// own) when new.
func (d *identities) node(s string, isID bool) int32 {
	return d.nodeOf(identHash(s, isID))
}

// nodeOf returns the node of an identifier's hash, creating it when new.
func (d *identities) nodeOf(h uint64) int32 {
	if n, ok := d.lookup(h); ok {
		return n
	}
	node := identNode{hash: h, issue: -1, size: 1, link: -1}
	var n int32
	if k := len(d.free); k > 0 {
		n, d.free = d.free[k-1], d.free[:k-1]
		node.parent = n
		d.nodes[n] = node
	} else {
		n = int32(len(d.nodes))
		node.parent = n
		d.nodes = append(d.nodes, node)
	}
	d.byHash.insert(mixTag(h), n)
	d.roots++
	return n
}

// forgetIfLone forgets the customer of root r when nothing distinguishes
// it from one not yet seen: a single identifier, no link and no live
// issue. Its identifier, when seen again, is a new customer of its own,
// which is what it was. So the identifiers of customers with a single
// identifier take memory while they have live issues only, rather than
// for good: one-time callers would otherwise add up over history.
func (d *identities) forgetIfLone(r int32) {
	if n := &d.nodes[r]; n.size != 1 || n.link >= 0 || n.issue >= 0 {
		return
	}
	d.byHash.remove(mixTag(d.nodes[r].hash), r)
	d.nodes[r] = identNode{parent: -1, issue: -1, link: -1}
	d.free = append(d.free, r)
	d.roots--
}

// lookup returns the node of an identifier's hash, if known.
func (d *identities) lookup(h uint64) (int32, bool) {
	t := &d.byHash
	if len(t.slots) == 0 {
		return -1, false
	}
	tag := mixTag(h)
	for p := t.home(tag); ; p = t.next(p) {
		s := t.slots[p]
		if s.ix == 0 {
			return -1, false
		}
		if n := s.ix - 1; s.tag == tag && d.nodes[n].hash == h {
			return n, true
		}
	}
}

// find returns the root of n's component, halving the path on the way.
func (d *identities) find(n int32) int32 {
	for {
		p := d.nodes[n].parent
		if p == n {
			return n
		}
		gp := d.nodes[p].parent
		d.nodes[n].parent = gp
		n = gp
	}
}

// union merges the customers of a and b and returns the root of the result.
func (d *identities) union(a, b int32, issues *issueSlab) int32 {
	ra, rb := d.find(a), d.find(b)
	if ra == rb {
		return ra
	}
	if d.nodes[ra].size < d.nodes[rb].size {
		ra, rb = rb, ra
	}
	d.unionMany(ra, rb)
	na, nb := &d.nodes[ra], &d.nodes[rb]
	nb.parent = ra
	na.size += nb.size
	if nb.issue >= 0 {
		// Put b's issues before a's: links are rare, adding issues is not.
		t := nb.issue
		for issues.at(t).next >= 0 {
			t = issues.at(t).next
		}
		issues.at(t).next = na.issue
		na.issue = nb.issue
	}
	nb.issue = -1
	if nb.link >= 0 {
		t := nb.link
		for d.links[t].next >= 0 {
			t = d.links[t].next
		}
		d.links[t].next = na.link
		na.link = nb.link
	}
	nb.link = -1
	d.roots--
	return ra
}

// unionMany keeps the index of a customer with many links across a
// union: the customer of root ra takes in that of rb, whose lists are not
// joined yet. The links of a side without an index enter pairs.
func (d *identities) unionMany(ra, rb int32) {
	ma, mb := d.many[ra], d.many[rb]
	if ma == nil && mb == nil {
		return
	}
	delete(d.many, rb)
	switch {
	case ma == nil:
		d.indexPairs(ra)
		ma = mb
		d.many[ra] = ma
	case mb == nil:
		d.indexPairs(rb)
	}
	ma.stale = true
}

// indexPairs puts the links of the customer whose root is r in pairs.
func (d *identities) indexPairs(r int32) {
	for i := d.nodes[r].link; i >= 0; i = d.links[i].next {
		d.pairs[pairKey(d.links[i].a, d.links[i].b)] = i
	}
}

// addLink records, in the customer whose root is r, that an issue opened
// at from carried the identifiers a and b.
func (d *identities) addLink(r, a, b int32, from int64) {
	if m := d.many[r]; m != nil {
		key := pairKey(a, b)
		if i, ok := d.pairs[key]; ok {
			if l := &d.links[i]; from < l.from {
				l.from, m.stale = from, true
			}
			return
		}
		d.pairs[key] = d.appendLink(r, a, b, from)
		m.stale = true
		return
	}
	n := 0
	for i := d.nodes[r].link; i >= 0; i = d.links[i].next {
		if l := &d.links[i]; l.a == a && l.b == b || l.a == b && l.b == a {
			l.from = min(l.from, from)
			return
		}
		n++
	}
	d.appendLink(r, a, b, from)
	if n+1 > manyLinks {
		if d.many == nil {
			d.many, d.pairs = make(map[int32]*manyIndex), make(map[uint64]int32)
		}
		d.many[r] = &manyIndex{stale: true}
		d.indexPairs(r)
	}
}

// appendLink puts a new link first in the customer whose root is r and
// returns its index.
func (d *identities) appendLink(r, a, b int32, from int64) int32 {
	d.links = append(d.links, identLink{a: a, b: b, next: d.nodes[r].link, from: from})
	d.nodes[r].link = int32(len(d.links) - 1)
	return d.nodes[r].link
}

// forest returns the link forest of the customer whose root is r, built
// if a link changed since it last was, or nil if the customer has no more
// than manyLinks links: walking them is then as quick.
func (d *identities) forest(r int32) *linkForest {
	m := d.many[r]
	if m == nil {
		return nil
	}
	if m.stale {
		m.forest.build(d.links, d.nodes[r].link)
		m.stale = false
	}
	return &m.forest
}

// addIssue puts issue i first in the customer whose root is r, which
// reads no other issue: the customer's earlier issues lie far apart in
// memory.
func (d *identities) addIssue(r, i int32, issues *issueSlab) {
	root := &d.nodes[r]
	issues.at(i).next = root.issue
	root.issue = i
}

// hashesByRoot returns the identifier hashes of every customer, by the
// node of its root, each in the order of their nodes.
func (d *identities) hashesByRoot() map[int32][]uint64 {
	out := make(map[int32][]uint64, d.roots)
	for n := range d.nodes {
		if d.nodes[n].parent < 0 {
			continue // free
		}
		r := d.find(int32(n))
		out[r] = append(out[r], d.nodes[n].hash)
	}
	return out
}
