package events

import (
	"strings"
	"sync/atomic"
	"unicode/utf8"
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

// intern returns a string equal to s that is shared with other events,
// and whether s is UTF-8. The cache holds UTF-8 only, so that a string it
// holds needs no checking again: a name is checked once, when it first
// comes.
func (c *nameCache) intern(s string) (string, bool) {
	if len(s) == 0 || len(s) > maxName {
		return s, utf8.ValidString(s)
	}
	slot := &c.slots[nameHash(s)&(nameCacheSize-1)]
	if p := slot.Load(); p != nil && *p == s {
		return *p, true
	}
	if !utf8.ValidString(s) {
		return s, false
	}
	v := strings.Clone(s)
	slot.Store(&v)
	return v, true
}

// name reads a string that names something from a vocabulary (see
// names), which must be UTF-8.
func (r *reader) name() string {
	v, ok := names.intern(r.str())
	if !ok {
		r.notUTF8(v)
		return ""
	}
	return v
}

// nameHash hashes s, of 1 to maxName bytes, eight bytes at a time: every
// byte counts, and a name costs a few multiplications rather than one for
// each of its bytes.
func nameHash(s string) uint32 {
	const m = 0x9e3779b97f4a7c15 // odd, so that multiplying loses nothing
	h := uint64(len(s))
	var last uint64 // the last (up to) eight bytes
	switch n := len(s); {
	case n >= 8:
		last = le64(s[n-8:])
		for ; len(s) > 8; s = s[8:] {
			h = (h ^ le64(s)) * m
			h ^= h >> 29
		}
	case n >= 4:
		last = uint64(le32(s)) | uint64(le32(s[n-4:]))<<32
	default:
		last = uint64(s[0]) | uint64(s[n/2])<<8 | uint64(s[n-1])<<16
	}
	// A product's low bits depend only on the factors' low bits, and the
	// slot is the hash's low bits: fold the high half down and multiply
	// again, so that the last bytes, which the first product holds in
	// its high bits, reach the slot.
	h = (h ^ last) * m
	h ^= h >> 32
	h *= m
	return uint32(h >> 32)
}

// le64 reads the first eight bytes of s, little-endian: one load.
func le64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// le32 reads the first four bytes of s, little-endian: one load.
func le32(s string) uint32 {
	_ = s[3]
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
}
