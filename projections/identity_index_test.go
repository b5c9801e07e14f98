package projections

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// find returns the slab index filed under tag whose key keys[ix] is key, as
// the index's callers probe it.
func (t *slotIndex) find(tag uint32, key uint64, keys []uint64) int32 {
	for p := t.home(tag); ; p = t.next(p) {
		s := t.slots[p]
		if s.ix == 0 {
			return -1
		}
		if s.tag == tag && keys[s.ix-1] == key {
			return s.ix - 1
		}
	}
}

// checkRuns fails unless every entry of the index lies at or after its
// home with no empty entry in between, which probing relies on, and n
// counts the entries.
func (t *slotIndex) checkRuns(tb testing.TB) {
	tb.Helper()
	n := 0
	for p, s := range t.slots {
		if s.ix == 0 {
			continue
		}
		n++
		for q := t.home(s.tag); q != uint32(p); q = t.next(q) {
			if t.slots[q].ix == 0 {
				tb.Fatalf("entry at %d: empty entry %d after its home %d", p, q, t.home(s.tag))
			}
		}
	}
	if n != t.n {
		tb.Fatalf("n = %d, entries %d", t.n, n)
	}
}

// The index finds every key it holds after any mix of inserts and removes,
// growing past its first size, also when keys share their home positions
// and their runs wrap around the end, dense or not. A new entry of an
// index that is not dense is found at its home.
func TestSlotIndexAgainstAMap(t *testing.T) {
	t.Parallel() // long, and of its own state only
	tests := []struct {
		name  string
		tag   func(k uint64) uint32
		dense bool
	}{
		{"mixed", mixTag, false},
		{"same home", func(k uint64) uint32 { return uint32(k) << 20 }, false},
		{"at the end", func(k uint64) uint32 { return ^uint32(k % 3) }, false},
		{"dense, mixed", mixTag, true},
		{"dense, at the end", func(k uint64) uint32 { return ^uint32(k % 3) }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			idx := newSlotIndex()
			idx.dense = tt.dense
			var keys []uint64          // slab: index → key
			want := map[uint64]int32{} // key → index
			var free []int32
			for step := range 20000 {
				k := uint64(rng.IntN(3000))
				if ix, ok := want[k]; ok && rng.IntN(2) == 0 {
					idx.remove(tt.tag(k), ix)
					delete(want, k)
					free = append(free, ix)
				} else if !ok {
					var ix int32
					if n := len(free); n > 0 {
						ix, free = free[n-1], free[:n-1]
						keys[ix] = k
					} else {
						ix = int32(len(keys))
						keys = append(keys, k)
					}
					idx.insert(tt.tag(k), ix)
					want[k] = ix
					if !tt.dense {
						require.Equal(t, ix+1, idx.slots[idx.home(tt.tag(k))].ix, "step %d: the new entry is at its home", step)
					}
				}
				if step%1000 == 0 {
					idx.checkRuns(t)
				}
				if step%997 == 0 || step == 19999 {
					require.Equal(t, len(want), idx.n)
					for k := range uint64(3000) {
						ix, ok := want[k]
						if !ok {
							ix = -1
						}
						require.Equal(t, ix, idx.find(tt.tag(k), k, keys), "step %d key %d", step, k)
					}
				}
			}
			assert.Greater(t, len(idx.slots), minSlots, "the index grew")
			if tt.dense {
				assert.LessOrEqual(t, idx.n*8, len(idx.slots)*7, "the load stays at most 7/8")
			} else {
				assert.LessOrEqual(t, idx.n*4, len(idx.slots)*3, "the load stays at most 3/4")
			}
		})
	}
}

// Removing what the index does not hold changes nothing.
func TestSlotIndexRemoveAbsent(t *testing.T) {
	idx := newSlotIndex()
	idx.insert(mixTag(1), 0)
	idx.remove(mixTag(2), 1)
	idx.remove(mixTag(1), 5)
	assert.Equal(t, 1, idx.n)
	assert.Equal(t, int32(0), idx.find(mixTag(1), 1, []uint64{1}))
	var zero slotIndex
	zero.remove(mixTag(1), 0)
	zero.insert(mixTag(1), 0)
	assert.Equal(t, int32(0), zero.find(mixTag(1), 1, []uint64{1}), "a zero index works")
}
