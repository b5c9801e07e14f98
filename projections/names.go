package projections

import "strings"

// nameTable interns the strings that repeat: channels, topics, agents and
// queues. Id 0 is the empty string. Names are never freed: they are the
// vocabulary of the contact centre, not its history.
type nameTable struct {
	ids   map[string]uint32
	names []string
	roots []uint32 // the id of each name's top-level segment, 0 until computed
}

func newNameTable() nameTable {
	return nameTable{ids: map[string]uint32{"": 0}, names: []string{""}, roots: []uint32{0}}
}

// id returns the id of s, interning a copy of it when new.
func (n *nameTable) id(s string) uint32 {
	if id, ok := n.ids[s]; ok {
		return id
	}
	s = strings.Clone(s)
	id := uint32(len(n.names))
	n.ids[s] = id
	n.names = append(n.names, s)
	n.roots = append(n.roots, 0)
	return id
}

// root returns the id of the top-level segment of the topic with id t.
func (n *nameTable) root(t uint32) uint32 {
	if r := n.roots[t]; r != 0 || t == 0 {
		return r
	}
	top, _, _ := strings.Cut(n.names[t], "/")
	r := n.id(top)
	n.roots[t] = r
	return r
}
