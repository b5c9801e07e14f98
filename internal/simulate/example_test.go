package simulate_test

import (
	"fmt"
	"time"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/internal/simulate"
)

// The first events of a busy day, interleaved across issues as they happen.
func ExampleGenerator_Events() {
	g, err := simulate.New(simulate.Config{Seed: 1, Days: 1, IssuesPerDay: 5000})
	if err != nil {
		fmt.Println(err)
		return
	}
	n := 0
	for e := range g.Events() {
		fmt.Print(e.At.Format(time.TimeOnly), " ", e.Version, " ", e.Type())
		if o, ok := events.As[*events.Opened](e); ok {
			fmt.Print(" ", o.Channel, " ", o.Topic)
		}
		fmt.Println()
		if n++; n == 8 {
			break
		}
	}
	// Output:
	// 00:00:16 1 issue.opened chat billing/invoice-error
	// 00:00:19 2 issue.routed
	// 00:00:48 1 issue.opened web billing/invoice-error
	// 00:02:00 1 issue.opened email billing/invoice-error
	// 00:02:53 1 issue.opened phone account/password-reset
	// 00:03:05 1 issue.opened phone billing/invoice-error
	// 00:03:07 1 issue.opened phone billing/invoice-error
	// 00:03:07 2 issue.routed
}

// A small log in a slice, with what was generated.
func ExampleCollect() {
	log, truth, err := simulate.Collect(simulate.Config{Seed: 7, Days: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(log) == truth.Events, log[0].Type(), log[0].Version)
	// Output: true issue.opened 1
}
