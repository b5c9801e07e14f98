// Package minheap is a binary min-heap of values that order themselves,
// for the queues by time of the projections and the tools: what
// container/heap does, without its interface of five methods and its
// boxing of every value in an any.
package minheap

// Item is a value that orders itself: a.Less(b) reports whether a comes
// before b.
type Item[T any] interface {
	Less(T) bool
}

// Heap is a min-heap of T. The zero value is an empty heap.
type Heap[T Item[T]] struct {
	items []T
}

// Len returns how many values the heap holds.
func (h *Heap[T]) Len() int { return len(h.items) }

// Min returns the least value, which the heap keeps; the heap must not
// be empty.
func (h *Heap[T]) Min() T { return h.items[0] }

// Push adds x.
func (h *Heap[T]) Push(x T) {
	h.items = append(h.items, x)
	for i := len(h.items) - 1; i > 0; {
		p := (i - 1) / 2
		if !h.items[i].Less(h.items[p]) {
			break
		}
		h.items[i], h.items[p] = h.items[p], h.items[i]
		i = p
	}
}

// Pop removes and returns the least value; the heap must not be empty.
// Of equal values, which comes first is not defined.
func (h *Heap[T]) Pop() T {
	top := h.items[0]
	n := len(h.items) - 1
	h.items[0] = h.items[n]
	var zero T
	h.items[n] = zero // let go of what it refers to
	h.items = h.items[:n]
	for i := 0; ; {
		l, least := 2*i+1, i
		if l < n && h.items[l].Less(h.items[least]) {
			least = l
		}
		if r := l + 1; r < n && h.items[r].Less(h.items[least]) {
			least = r
		}
		if least == i {
			break
		}
		h.items[i], h.items[least] = h.items[least], h.items[i]
		i = least
	}
	return top
}
