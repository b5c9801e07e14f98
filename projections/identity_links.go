package projections

import (
	"cmp"
	"slices"
)

// manyLinks is the number of links above which a customer's links are
// also indexed (manyIndex). Most customers have one or two links, found
// by walking their list; a shared identifier, such as a company's
// switchboard number or an account key that every employee gives, makes
// one customer of thousands of identifiers, whose list no walk should
// read at every opening and at every question of linked.
const manyLinks = 16

// manyIndex is what identities keep, beside the list, of a customer with
// more than manyLinks links: a forest of its identifiers that answers in
// logarithmic time whether two of them were one customer by the links
// made before a time, built when first asked and again after a link
// changed. The links themselves are found by pair in identities.pairs.
type manyIndex struct {
	forest linkForest
	stale  bool
}

// linkForest is a customer's links joined in time order, each joining two
// trees of identifiers (by size, without compressing paths, so that trees
// stay O(log n) deep): up is a node's parent, at when the link that put
// it there was made. Along any path upward, at never decreases, since a
// tree's links were all made before the one that joined it to another.
// So the links made before t join x and y exactly when climbing from
// each while at < t stops at the same node.
type linkForest struct {
	local map[int32]int32 // identifier node → index in up, at and size
	up    []int32
	at    []int64
	size  []int32
	order []int32 // scratch: the links in time order
}

// pairKey is the key of the link of identifiers a and b in pairs.
func pairKey(a, b int32) uint64 {
	lo, hi := min(a, b), max(a, b)
	return uint64(uint32(lo))<<32 | uint64(uint32(hi))
}

// build joins the links of the customer whose first link is first.
func (lf *linkForest) build(links []identLink, first int32) {
	order := lf.order[:0]
	for i := first; i >= 0; i = links[i].next {
		order = append(order, i)
	}
	slices.SortFunc(order, func(x, y int32) int { return cmp.Compare(links[x].from, links[y].from) })
	lf.order = order
	if lf.local == nil {
		lf.local = make(map[int32]int32, len(order)+1)
	} else {
		clear(lf.local)
	}
	lf.up, lf.at, lf.size = lf.up[:0], lf.at[:0], lf.size[:0]
	for _, i := range order {
		l := &links[i]
		a, b := lf.root(lf.index(l.a)), lf.root(lf.index(l.b))
		if a == b {
			continue
		}
		if lf.size[a] < lf.size[b] {
			a, b = b, a
		}
		lf.up[b], lf.at[b] = a, l.from
		lf.size[a] += lf.size[b]
	}
}

// index returns the index of identifier node n, adding it as a tree of
// its own when new.
func (lf *linkForest) index(n int32) int32 {
	if x, ok := lf.local[n]; ok {
		return x
	}
	x := int32(len(lf.up))
	lf.local[n] = x
	lf.up = append(lf.up, x)
	lf.at = append(lf.at, 0)
	lf.size = append(lf.size, 1)
	return x
}

// root returns the root of x's tree.
func (lf *linkForest) root(x int32) int32 {
	for lf.up[x] != x {
		x = lf.up[x]
	}
	return x
}

// linked reports whether the links made before t join identifiers a and
// b, which are different.
func (lf *linkForest) linked(a, b int32, t int64) bool {
	x, okA := lf.local[a]
	y, okB := lf.local[b]
	if !okA || !okB {
		return false // an identifier with no link
	}
	return lf.climb(x, t) == lf.climb(y, t)
}

// climb returns where x's tree stood with the links made before t.
func (lf *linkForest) climb(x int32, t int64) int32 {
	for lf.up[x] != x && lf.at[x] < t {
		x = lf.up[x]
	}
	return x
}
