package projections

import "strings"

// identities links a customer's identifiers (identity keys and customer
// ids) into customers with a union-find: identifiers seen together belong
// to one customer, transitively. Each customer (a component) keeps a
// circular list of its identifiers, so that it can be freed, and a circular
// list of its live issues, threaded through fcrIssue.next.
//
// Identifiers are compared as given: the write side normalises keys. A
// customer id lives in its own namespace, so that the id "phone:1" and the
// key "phone:1" are different identifiers.
type identities struct {
	byKey map[string]int32
	byID  map[string]int32
	nodes []identNode
	free  []int32 // indexes of freed nodes, for reuse
	roots int     // live components
}

// identNode is one identifier. Fields other than key, parent and nextKey
// are meaningful at a component's root only.
type identNode struct {
	key     string
	parent  int32 // the node itself at a root; -1 when free
	nextKey int32 // next identifier of the component (circular)
	issue   int32 // at a root: one live issue of the customer, -1 if none
	size    int32 // at a root: identifiers in the component
}

func newIdentities() identities {
	return identities{byKey: make(map[string]int32), byID: make(map[string]int32)}
}

// node returns the node of an identifier, creating it (as a customer of its
// own) when new. The map keeps a copy of s: decoded strings may share a
// buffer that the caller reuses.
func (d *identities) node(s string, isID bool) int32 {
	m := d.byKey
	if isID {
		m = d.byID
	}
	if n, ok := m[s]; ok {
		return n
	}
	s = strings.Clone(s)
	var n int32
	if k := len(d.free); k > 0 {
		n = d.free[k-1]
		d.free = d.free[:k-1]
	} else {
		n = int32(len(d.nodes))
		d.nodes = append(d.nodes, identNode{})
	}
	d.nodes[n] = identNode{key: s, parent: n, nextKey: n, issue: -1, size: 1}
	m[s] = n
	d.roots++
	return n
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
func (d *identities) union(a, b int32, issues []fcrIssue) int32 {
	ra, rb := d.find(a), d.find(b)
	if ra == rb {
		return ra
	}
	if d.nodes[ra].size < d.nodes[rb].size {
		ra, rb = rb, ra
	}
	na, nb := &d.nodes[ra], &d.nodes[rb]
	nb.parent = ra
	na.size += nb.size
	na.nextKey, nb.nextKey = nb.nextKey, na.nextKey
	switch {
	case na.issue < 0:
		na.issue = nb.issue
	case nb.issue >= 0:
		ia, ib := &issues[na.issue], &issues[nb.issue]
		ia.next, ib.next = ib.next, ia.next
	}
	nb.issue = -1
	d.roots--
	return ra
}

// addIssue puts issue i into the customer whose root is r.
func (d *identities) addIssue(r, i int32, issues []fcrIssue) {
	root := &d.nodes[r]
	if root.issue < 0 {
		issues[i].next = i
		root.issue = i
		return
	}
	head := &issues[root.issue]
	issues[i].next = head.next
	head.next = i
}

// release frees every identifier of the customer whose root is r: a later
// event with one of its keys starts a new customer.
func (d *identities) release(r int32) {
	n := r
	for {
		node := &d.nodes[n]
		next := node.nextKey
		if d.isID(n) {
			delete(d.byID, node.key)
		} else {
			delete(d.byKey, node.key)
		}
		*node = identNode{parent: -1, issue: -1}
		d.free = append(d.free, n)
		if next == r {
			break
		}
		n = next
	}
	d.roots--
}

// keysOf returns the identifiers of the customer whose root is r, split
// into keys and customer ids.
func (d *identities) keysOf(r int32) (keys, ids []string) {
	n := r
	for {
		node := &d.nodes[n]
		if d.isID(n) {
			ids = append(ids, node.key)
		} else {
			keys = append(keys, node.key)
		}
		n = node.nextKey
		if n == r {
			return keys, ids
		}
	}
}

// isID reports whether node n is a customer id rather than a key: the
// namespace is not stored in the node, to keep it small.
func (d *identities) isID(n int32) bool {
	k, ok := d.byKey[d.nodes[n].key]
	return !ok || k != n
}
