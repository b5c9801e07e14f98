package projections

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
)

// A page of the FCR's issues, and of the Reporter's KPI states, is a whole
// number of the runtime's 8 KiB pages, in which the runtime allocates
// objects this large: a page that overflows one by a little takes the
// next whole (12 % more for 256 KPI states of 168 bytes). A change of
// either record's size should choose its page size again.
func TestPagesFillTheRuntimesPages(t *testing.T) {
	const runtimePage = 8192
	issues := unsafe.Sizeof(fcrIssue{}) * slabPage
	states := unsafe.Sizeof(kpiSlot[kpiState]{}) * (kpiPageMask + 1)
	assert.Zero(t, issues%runtimePage, "a page of FCR issues, %d bytes", issues)
	assert.Zero(t, states%runtimePage, "a page of KPI states, %d bytes", states)
}
