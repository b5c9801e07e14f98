package projections_test

import (
	"fmt"

	"github.com/google/uuid"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/projections"
)

func ExampleNewSatisfaction() {
	sat, err := projections.NewSatisfaction(projections.SatisfactionConfig{})
	if err != nil {
		panic(err)
	}
	chat := uuid.New()
	issue := newKPIExampleIssue().
		add(0, kpiExampleOpened("chat", "billing/refund", chat)).
		add(1, &events.Routed{Contact: chat, Queue: "billing", Agent: "ann"}).
		add(9, &events.Resolved{Contact: chat, Agent: "ann"})
	for i, score := range []int{10, 9, 3} {
		issue.add(10+i, &events.Rated{Survey: events.SurveyNPS, Score: score})
	}
	for i, score := range []int{5, 4, 2} {
		issue.add(20+i, &events.Rated{Survey: events.SurveyCSAT, Score: score})
	}
	for _, e := range issue.events {
		if err := sat.Apply(e); err != nil {
			panic(err)
		}
	}

	r := sat.Report()
	fmt.Printf("NPS %+.0f from %d answers\n", r.NPS.Score, r.NPS.Responses)
	fmt.Printf("CSAT mean %.2f, top-2 box %.0f %%\n", r.CSAT.Mean, 100*r.CSAT.Top2)
	fmt.Printf("ann: %d CSAT answers\n", r.ByAgent["ann"].CSAT.Responses)
	// Output:
	// NPS +33 from 3 answers
	// CSAT mean 3.67, top-2 box 67 %
	// ann: 3 CSAT answers
}
