package storetest_test

import (
	"testing"
	"time"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/events/storetest"
)

// A backend runs the whole suite from one test. This one keeps times to
// the microsecond, as a database column would, and numbers events from a
// sequence that may skip values.
func ExampleRun() {
	var t *testing.T // the *testing.T of a TestXxx function
	storetest.Run(t, func(t *testing.T) events.Store {
		return events.NewMemoryStore() // a new store of the backend, closed with t.Cleanup
	}, storetest.Features{
		GaplessPositions: false,
		Writers:          4,
		TimeResolution:   time.Microsecond,
	})
}
