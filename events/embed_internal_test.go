package events

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
)

type refsLeaf struct {
	A [4]int64
	B string
}

type refsPtr struct {
	Leaf refsLeaf
	P    *int
}

type refsSelfList struct {
	Next []refsSelfList
	N    int
}

type refsInArray struct {
	Pairs [2][3]refsPtr
}

// holdsRefs decides whether walk looks at each element of an array of the
// constructor's value: only where an element may hold a pointer or an
// interface value in place.
func TestHoldsRefs(t *testing.T) {
	cases := []struct {
		v    any
		want bool
	}{
		{int64(0), false},
		{"", false},
		{[1 << 20]byte{}, false},
		{refsLeaf{}, false},
		{[]*int{}, false}, // a list: walked by its type
		{map[string]any{}, false},
		{refsSelfList{}, false},
		{[0]*int{}, false},
		{new(int), true},
		{refsPtr{}, true},
		{refsInArray{}, true},
		{[3]any{}, true},
	}
	w := embedWalk{refs: map[reflect.Type]bool{}}
	for _, c := range cases {
		typ := reflect.TypeOf(c.v)
		assert.Equal(t, c.want, w.holdsRefs(typ), "%s", typ)
	}
	var iface struct{ E error }
	assert.True(t, w.holdsRefs(reflect.TypeOf(iface)))
}
