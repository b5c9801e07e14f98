package pglock

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// The keys are those that earlier versions took: a process of this
// version and one of an earlier version, on one database, lock each other
// out.
func TestKeysStay(t *testing.T) {
	assert.Equal(t, int64(-1873159456245210544), Schema("public"))
	assert.Equal(t, Key("schema public", nil), Schema("public"))
	assert.NotEqual(t, Schema("public"), Schema("other"))
	assert.NotEqual(t, Key("stream", []byte{1}), Key("stream", []byte{2}))
	assert.Equal(t, int64(-2608592633095745758), CustomerKeys(`"public"."truefcr_customers"`))
}
