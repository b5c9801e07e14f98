package projections

import (
	"encoding/binary"

	"github.com/google/uuid"
)

// slotIndex maps keys to slab indexes by open addressing with linear
// probing. It keeps 32 bits of each key's mixed hash as a tag, and the
// caller confirms a candidate against the full key in its own slab: a
// lookup costs one cache miss in the index and one in the slab, where a
// Go map keyed by a 16-byte UUID costs two or more, and an entry costs 8
// bytes at a load of 3/8 to 3/4 (7/16 to 7/8 when dense) rather than
// some 40.
//
// Callers probe with home and next, stopping at an empty entry (ix 0).
type slotIndex struct {
	slots []slotEntry
	mask  uint32
	n     int // entries in use
	// dense lets the index fill to 7/8 rather than 3/4 before it doubles:
	// for an index that only grows and is mostly probed for keys it
	// holds, where a probe costs about three entries more at the fullest
	// and the index half the memory at the emptiest. A dense index files
	// a new entry after those before it (see insert).
	dense bool
}

// slotEntry is one entry of a slotIndex.
type slotEntry struct {
	tag uint32 // the upper half of the mixed hash
	ix  int32  // the slab index + 1; 0 marks an empty entry
}

// minSlots is the size of a new index.
const minSlots = 64

func newSlotIndex() slotIndex {
	return slotIndex{slots: make([]slotEntry, minSlots), mask: minSlots - 1}
}

// mixTag returns the tag of a 64-bit key, through the finaliser of
// MurmurHash3: keys that differ in a few bits anywhere (sequential ids,
// FNV hashes of similar strings) get unrelated tags.
func mixTag(k uint64) uint32 { return uint32(fmix64(k)) }

// fmix64 is the finaliser of MurmurHash3: a bijection of 64-bit keys
// under which keys that differ in a few bits differ in about half.
func fmix64(k uint64) uint64 {
	k ^= k >> 33
	k *= 0xff51afd7ed558ccd
	k ^= k >> 33
	k *= 0xc4ceb9fe1a85ec53
	k ^= k >> 33
	return k
}

// uuidTag returns the tag of an issue id, from all of its bits.
func uuidTag(id uuid.UUID) uint32 {
	return mixTag(binary.LittleEndian.Uint64(id[:8]) ^ binary.LittleEndian.Uint64(id[8:]))
}

// home returns the position where probing for tag starts.
func (t *slotIndex) home(tag uint32) uint32 { return tag & t.mask }

// next returns the position after p.
func (t *slotIndex) next(p uint32) uint32 { return (p + 1) & t.mask }

// insert adds slab index ix under tag; the caller checked that its key is
// not in the index.
func (t *slotIndex) insert(tag uint32, ix int32) {
	if len(t.slots) == 0 {
		t.slots, t.mask = make([]slotEntry, minSlots), minSlots-1
	}
	limit := len(t.slots) / 4 * 3
	if t.dense {
		limit = len(t.slots) / 8 * 7
	}
	if t.n+1 > limit {
		t.grow()
	}
	e := slotEntry{tag: tag, ix: ix + 1}
	p := t.home(tag)
	if t.dense {
		// After the entries before it: the identifiers looked up most
		// are those of returning customers, filed long ago.
		for t.slots[p].ix != 0 {
			p = t.next(p)
		}
	} else {
		// The new entry takes its home and pushes the entries from
		// there to the next empty one a place further: last come, first
		// found. Each stays at or after its home with no empty entry in
		// between, which is all that probing needs, and the entry looked
		// up most, that of an issue opened a moment ago, is found first,
		// where a read ahead of the home entry finds it too.
		for t.slots[p].ix != 0 {
			e, t.slots[p] = t.slots[p], e
			p = t.next(p)
		}
	}
	t.slots[p] = e
	t.n++
}

// remove drops the entry of slab index ix, filed under tag, shifting the
// entries after it back so that no probe sequence breaks (no tombstones).
func (t *slotIndex) remove(tag uint32, ix int32) {
	if len(t.slots) == 0 {
		return
	}
	p := t.home(tag)
	for t.slots[p].ix != ix+1 {
		if t.slots[p].ix == 0 {
			return
		}
		p = t.next(p)
	}
	for j := t.next(p); ; j = t.next(j) {
		s := t.slots[j]
		if s.ix == 0 {
			break
		}
		// s may fill the hole at p unless its home lies cyclically in (p, j].
		h := t.home(s.tag)
		if (j > p && (h <= p || h > j)) || (j < p && h <= p && h > j) {
			t.slots[p] = s
			p = j
		}
	}
	t.slots[p] = slotEntry{}
	t.n--
}

// grow doubles the index.
func (t *slotIndex) grow() {
	old := t.slots
	t.slots = make([]slotEntry, 2*len(old))
	t.mask = uint32(len(t.slots) - 1)
	for _, s := range old {
		if s.ix == 0 {
			continue
		}
		p := t.home(s.tag)
		for t.slots[p].ix != 0 {
			p = t.next(p)
		}
		t.slots[p] = s
	}
}
