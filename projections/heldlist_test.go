package projections

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/truefcr/truefcr/events"
)

func hv(v uint64) events.Envelope {
	return events.Envelope{Version: v, At: time.Unix(int64(v), 0), Data: &events.Classified{Topic: "x"}}
}

func checkHeld(t *testing.T, step int, h *heldList, model []uint64) {
	t.Helper()
	got := h.events()
	if len(got) != len(model) || h.len() != len(model) {
		t.Fatalf("step %d: len %d/%d, model %d", step, len(got), h.len(), len(model))
	}
	for i := range got {
		if got[i].Version != model[i] {
			t.Fatalf("step %d: at %d got v%d want v%d", step, i, got[i].Version, model[i])
		}
	}
	for i := 0; i < h.lo; i++ {
		if h.buf[i].Data != nil || h.buf[i].Version != 0 {
			t.Fatalf("step %d: buf[%d] in front room not zero", step, i)
		}
	}
	if h.lo < 0 || h.lo > len(h.buf) {
		t.Fatalf("step %d: lo %d out of range", step, h.lo)
	}
}

// A heldList holds what a sorted slice would, over random inserts at the
// front, the back and in between, and pops, with the room in front zeroed.
func TestHeldListKeepsVersionOrder(t *testing.T) {
	t.Parallel() // long, and of its own state only
	for seed := range uint64(50) {
		r := rand.New(rand.NewPCG(seed, 1))
		h := &heldList{}
		var model []uint64
		used := map[uint64]bool{}
		for step := range 4000 {
			switch k := r.IntN(10); {
			case k < 3 && len(model) > 0:
				h.popFront()
				model = model[1:]
			default:
				var v uint64
				for {
					switch r.IntN(3) {
					case 0: // before the first
						if len(model) > 0 && model[0] > 1 {
							v = 1 + r.Uint64N(model[0]-1)
						} else {
							v = 1 + r.Uint64N(1<<40)
						}
					case 1: // after the last
						v = 1 + r.Uint64N(1<<40)
						if len(model) > 0 {
							v = model[len(model)-1] + 1 + r.Uint64N(5)
						}
					default:
						v = 1 + r.Uint64N(1<<40)
					}
					if !used[v] {
						break
					}
				}
				used[v] = true
				i, found := versionAt(h.events(), v)
				if found {
					t.Fatal("found a fresh version")
				}
				h.insert(i, hv(v))
				model = append(model[:i:i], append([]uint64{v}, model[i:]...)...)
			}
			checkHeld(t, step, h, model)
		}
	}
}

// The edges of a heldList: the first insert, inserts in between with room
// in front, a full buffer, and inserts once emptied.
func TestHeldListEdges(t *testing.T) {
	// insert at 0 on an empty list with lo == 0
	h := &heldList{}
	h.insert(0, hv(5))
	checkHeld(t, 0, h, []uint64{5})
	// middle insert with lo > 0
	h.insert(1, hv(9))
	h.insert(1, hv(7))
	checkHeld(t, 1, h, []uint64{5, 7, 9})
	// fill the buffer, then pop, then append at a full buffer: compaction
	for v := uint64(10); len(h.buf) < cap(h.buf); v++ {
		h.insert(h.len(), hv(v))
	}
	h.popFront()
	h.popFront()
	n := h.len()
	want := []uint64{}
	for _, e := range h.events() {
		want = append(want, e.Version)
	}
	h.insert(n, hv(1000))
	want = append(want, 1000)
	checkHeld(t, 2, h, want)
	if h.lo != 0 {
		t.Fatalf("no compaction: lo %d", h.lo)
	}
	// then front insert after compaction (lo == 0, non-empty)
	h.insert(0, hv(1))
	checkHeld(t, 3, h, append([]uint64{1}, want...))
	// pop to empty then insert at 0 with lo > 0 == len(buf)
	for h.len() > 0 {
		h.popFront()
	}
	h.insert(0, hv(2))
	checkHeld(t, 4, h, []uint64{2})
}

// moves counts the events a heldList copies: on compaction and on a new
// array (front reallocation or growth by slices.Insert).
func moves(h *heldList, i int, e events.Envelope) int {
	n := h.len()
	var first *events.Envelope
	if cap(h.buf) > 0 {
		first = &h.buf[:1][0]
	}
	lo, c := h.lo, cap(h.buf)
	h.insert(i, e)
	if cap(h.buf) != c || &h.buf[:1][0] != first || (lo > 0 && h.lo == 0) {
		return n
	}
	return 0
}

// A stream whose held list is a sliding window: one event released from
// the front per event appended at the back (every even version lags n
// events behind the odd ones). The copies stay linear in the events.
func TestHeldListSlidingWindowCopiesLittle(t *testing.T) {
	const n, steps = 5000, 20000
	h := &heldList{}
	next := uint64(3)
	for h.len() < n || len(h.buf) < cap(h.buf) { // fill to a full buffer
		h.insert(h.len(), hv(next))
		next += 2
	}
	moved := 0
	for range steps {
		h.popFront()
		moved += moves(h, h.len(), hv(next))
		next += 2
	}
	if moved > 8*steps {
		t.Fatalf("sliding window of %d: %d events copied for %d appends (%.0f an append)", n, moved, steps, float64(moved)/steps)
	}
}

// Versions arriving alternately below the first and above the last held
// one (e.g. two exports merged, one newest first, one oldest first).
func TestHeldListAlternatingEndsCopiesLittle(t *testing.T) {
	const steps = 20000
	h := &heldList{}
	lo, hi := uint64(1<<30), uint64(1<<30)
	h.insert(0, hv(lo))
	moved := 0
	for k := range steps {
		if k%2 == 0 {
			lo--
			moved += moves(h, 0, hv(lo))
		} else {
			hi++
			moved += moves(h, h.len(), hv(hi))
		}
	}
	if moved > 8*steps {
		t.Fatalf("alternating: %d events copied for %d inserts (%.0f an insert)", moved, steps, float64(moved)/steps)
	}
}
