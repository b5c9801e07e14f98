package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/projections"
)

// printReport feeds the day's events to the projections, looks at them a
// week later, when every verdict of the day is final, and prints true FCR
// against what a per-ticket helpdesk reports, problem by problem.
func printReport(ctx context.Context, w io.Writer, store events.Store) error {
	r, err := projections.NewReporter(projections.ReportConfig{})
	if err != nil {
		return err
	}
	customers := map[uuid.UUID]events.Customer{}
	for e, err := range store.ReadAll(ctx, 0) {
		if err != nil {
			return err
		}
		if o, ok := events.As[*events.Opened](e); ok {
			customers[e.Issue] = o.Customer
		}
		if err := r.Apply(e); err != nil {
			return err
		}
	}
	// The last resolution was at 16:55; a week later at 18:00 its window has closed.
	weekLater := dayStart().Add(7*24*time.Hour + 18*time.Hour)
	if err := r.AdvanceTo(weekLater); err != nil {
		return err
	}
	rep := r.Report()
	f := rep.FCR

	fmt.Fprintf(w, "\nA week later, %s: every verdict of the day is final (window %s)\n\n",
		weekLater.Format("Monday 2 January, 15:04"), rep.Definition.Window)
	fmt.Fprintf(w, "  true FCR      %d of %d problems solved at the first contact (%.0f %%)\n",
		f.True.Achieved, f.True.Total, 100*f.True.Rate)
	fmt.Fprintf(w, "  reported FCR  %d of %d tickets closed on their own first contact (%.0f %%): what a per-ticket helpdesk shows\n",
		f.Reported.Achieved, f.Reported.Total, 100*f.Reported.Rate)
	// The difference of the two rates as printed, so that the three
	// figures agree on the page.
	// (fmt rounds a half to even, as RoundToEven does.)
	shown := func(rate float64) float64 { return math.RoundToEven(100 * rate) }
	fmt.Fprintf(w, "  inflation     %+.0f points\n", shown(f.Reported.Rate)-shown(f.True.Rate))

	probs := r.FCR().Problems()
	fmt.Fprintf(w, "\nCustomers who came back about the same problem\n")
	for _, p := range probs {
		if p.Verdict != "failed" {
			continue
		}
		var path []string
		for _, c := range p.Contacts {
			path = append(path, fmt.Sprintf("%s %s", c.Channel, c.At.Format("15:04")))
		}
		note := "same channel"
		if p.Switched() {
			note = "switched channel"
		}
		if len(p.Issues) > 1 {
			note += fmt.Sprintf(", %d tickets for one problem", len(p.Issues))
		}
		fmt.Fprintf(w, "  %-6s %-24s %s  (%s)\n", who(customers, p.Issues), p.Topic, strings.Join(path, " → "), note)
	}

	fmt.Fprintf(w, "\nProblem by problem\n")
	for _, p := range probs {
		fmt.Fprintf(w, "  %-6s %-24s %-11s %s\n", who(customers, p.Issues), p.Topic, plural(len(p.Contacts), "contact"), p.Verdict)
	}
	fmt.Fprintf(w, "\n  Six tickets are far too few to act on: every rate here carries a small-sample flag.\n")
	fmt.Fprintf(w, "  Run the same report on a real log: go run ./examples/fcrreport -format text LOG.jsonl\n")
	return nil
}

// who names the customer of a problem by the keys of its issues.
func who(customers map[uuid.UUID]events.Customer, issues []uuid.UUID) string {
	for _, id := range issues {
		for _, k := range customers[id].Keys {
			if n := nameOf(k); n != "" {
				return n
			}
		}
	}
	return "?"
}
