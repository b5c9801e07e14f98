package projections

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
)

// A page of the FCR's issues is a whole number of the runtime's 8 KiB
// pages, in which the runtime allocates objects this large, and a page of
// the Reporter's KPI states nearly fills the runtime's largest size class
// for small objects, 32 KiB: a page that overflows either by a little
// takes the next whole (14 % more for 256 KPI states of 168 bytes). A
// change of either record's size should choose its page size again.
func TestPagesFillTheRuntimesPages(t *testing.T) {
	const runtimePage, largestSmall = 8192, 32768
	issues := unsafe.Sizeof(fcrIssue{}) * slabPage
	states := unsafe.Sizeof(kpiSlot[kpiState]{}) * kpiPageLen
	assert.Zero(t, issues%runtimePage, "a page of FCR issues, %d bytes", issues)
	assert.LessOrEqual(t, states, uintptr(largestSmall), "a page of KPI states, %d bytes", states)
	assert.GreaterOrEqual(t, states, uintptr(largestSmall*97/100), "a page of KPI states, %d bytes", states)
}
