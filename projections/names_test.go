package projections

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// A name has one id however its string was made: the cache by address
// tells apart strings that share bytes but not length, and equal strings
// at different addresses get the same id.
func TestNameTableIDs(t *testing.T) {
	n := newNameTable()
	billing := n.id("billing/refund")
	assert.Equal(t, billing, n.id(strings.Clone("billing/refund")), "a copy at another address")
	assert.Equal(t, billing, n.id("billing/refund"), "the same string again, from the cache")

	s := strings.Repeat("x", 8)
	whole := n.id(s)
	prefix := n.id(s[:4]) // same address, shorter
	assert.NotEqual(t, whole, prefix)
	assert.Equal(t, prefix, n.id("xxxx"))
	assert.Equal(t, whole, n.id(s))
	assert.Equal(t, "xxxxxxxx", n.names[whole])
	assert.Equal(t, "xxxx", n.names[prefix])

	assert.Zero(t, n.id(""), "the empty name is id 0")
	assert.Zero(t, n.id(s[:0]))

	// Many names through a small cache: each keeps its id.
	ids := make(map[string]uint32)
	for i := range 500 {
		name := strings.Repeat("q", i%37+1) + string(rune('a'+i%26))
		id := n.id(name)
		if prev, ok := ids[name]; ok {
			assert.Equal(t, prev, id, name)
		}
		ids[name] = id
		assert.Equal(t, name, n.names[id])
	}
	assert.Equal(t, "billing", n.names[n.root(billing)])
}
