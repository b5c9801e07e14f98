package projections

import (
	"strings"
	"unsafe"
)

// nameTable interns the strings that repeat: channels, topics, agents and
// queues. Id 0 is the empty string. Names are never freed: they are the
// vocabulary of the contact centre, not its history.
type nameTable struct {
	ids   map[string]uint32
	names []string
	roots []uint32 // the id of each name's top-level segment, 0 until computed
	// recent remembers the ids of recently seen strings by the address of
	// their bytes: a decoder that interns names (events.MsgpackCodec)
	// hands out the same string for every event that carries the name, so
	// most lookups hit here and hash nothing. A string's bytes never
	// change, so the same address and length are the same name.
	recent [256]nameHit
}

// nameHit is one entry of nameTable.recent.
type nameHit struct {
	data *byte
	n    int
	id   uint32
}

func newNameTable() nameTable {
	return nameTable{ids: map[string]uint32{"": 0}, names: []string{""}, roots: []uint32{0}}
}

// id returns the id of s, interning a copy of it when new.
func (n *nameTable) id(s string) uint32 {
	if len(s) == 0 {
		return 0
	}
	p := unsafe.StringData(s)
	a := uintptr(unsafe.Pointer(p))
	h := &n.recent[(a>>3^a>>9)&(uintptr(len(n.recent))-1)]
	if h.data == p && h.n == len(s) {
		return h.id
	}
	id := n.lookup(s)
	*h = nameHit{data: p, n: len(s), id: id}
	return id
}

// lookup is id without the recent cache.
func (n *nameTable) lookup(s string) uint32 {
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
