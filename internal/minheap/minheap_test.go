package minheap

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type num int

func (a num) Less(b num) bool { return a < b }

// Values pushed in any order, with pops in between, come out in order.
func TestHeapPopsInOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h Heap[num]
	var want []num // what the heap holds, sorted
	for range 5000 {
		if h.Len() > 0 && rng.IntN(3) == 0 {
			require.Equal(t, want[0], h.Min())
			assert.Equal(t, want[0], h.Pop())
			want = want[1:]
		} else {
			x := num(rng.IntN(100)) // many equal values
			h.Push(x)
			i, _ := slices.BinarySearch(want, x)
			want = slices.Insert(want, i, x)
		}
		require.Equal(t, len(want), h.Len())
	}
	for h.Len() > 0 {
		assert.Equal(t, want[0], h.Pop())
		want = want[1:]
	}
	assert.Empty(t, want)
}

type ref struct{ p *int }

func (a ref) Less(b ref) bool { return *a.p < *b.p }

// Pop clears the place it frees, so that the heap keeps nothing alive.
func TestHeapPopLetsGo(t *testing.T) {
	var h Heap[ref]
	one, two := 1, 2
	h.Push(ref{&two})
	h.Push(ref{&one})
	assert.Same(t, &one, h.Pop().p)
	assert.Nil(t, h.items[:2][1].p)
}
