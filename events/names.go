package events

import (
	"strings"
	"sync/atomic"
)

// names deduplicates the decoded strings that repeat from event to event:
// channels, topics, queues, agents, resolution codes and survey kinds.
// The msgpack decoder returns every string as a slice of one copy of the
// message; a projection that keeps, say, a contact's channel would keep
// the whole message alive with it. Such fields are looked up here instead
// and come back as one shared copy, which also stays in the processor's
// cache for the projections that hash it.
//
// The cache is a fixed table of pointers, safe for concurrent use without
// locks: a lookup that finds another string in its slot makes a copy and
// takes the slot. A vocabulary of a few thousand names stays in it; more
// names than that cost a copy now and then, never a wrong string.
var names nameCache

// nameCacheSize is the number of slots: a power of two.
const nameCacheSize = 1 << 12

// maxName is the longest string the cache holds: longer ones are prose,
// not vocabulary.
const maxName = 64

type nameCache struct {
	slots [nameCacheSize]atomic.Pointer[string]
}

// intern returns a string equal to s that is shared with other events.
func (c *nameCache) intern(s string) string {
	if len(s) == 0 || len(s) > maxName {
		return s
	}
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * 16777619
	}
	slot := &c.slots[h&(nameCacheSize-1)]
	if p := slot.Load(); p != nil && *p == s {
		return *p
	}
	v := strings.Clone(s)
	slot.Store(&v)
	return v
}

// name reads a string that names something from a vocabulary (see names).
func (r *reader) name() string { return names.intern(r.str()) }
