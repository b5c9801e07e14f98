package simulate_test

import (
	"fmt"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/internal/simulate"
)

// A day of a small contact centre, streamed and counted.
func ExampleGenerator_Events() {
	g, err := simulate.New(simulate.Config{Seed: 1, Days: 1, IssuesPerDay: 200})
	if err != nil {
		fmt.Println(err)
		return
	}
	opened := 0
	for e := range g.Events() {
		if e.Type() == events.TypeOpened {
			opened++
		}
	}
	truth := g.Truth()
	fmt.Println(opened == truth.Issues, truth.Events > truth.Issues)
	// Output: true true
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
