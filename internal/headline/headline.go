// Package headline writes the headline figures of an FCR report, as the
// production examples print them.
package headline

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/truefcr/truefcr/internal/text"
	"github.com/truefcr/truefcr/projections"
)

// Write writes the definition, the counts of problems, true and reported
// FCR with their intervals, the inflation, bot containment, true FCR by
// first channel and the three topics that drive most repeat contacts. A
// rate of no final problem is a dash, not 0 %; one of fewer problems than
// the report's MinSample says it is a small sample. Names are shown as
// text.Shown shows them.
func Write(out io.Writer, r projections.FCRReport) {
	// pct writes a rate, or a dash and what there is none of.
	pct := func(x projections.FCRRate, none string) string {
		if x.Total == 0 {
			return "    – (" + none + ")"
		}
		small := ""
		if x.Small {
			small = fmt.Sprintf("; small sample, under %d", r.Definition.MinSample)
		}
		return fmt.Sprintf("%5.1f %% (%d/%d, 95 %% CI %.1f–%.1f %%%s)", 100*x.Rate, x.Achieved, x.Total, 100*x.CI95[0], 100*x.CI95[1], small)
	}
	fmt.Fprintf(out, "\nwindow %s, %s matching; watermark %s\n", r.Definition.Window, r.Definition.Match, r.Watermark.Format(time.RFC3339))
	if n := r.Definition.Partitions; n > 0 {
		fmt.Fprintf(out, "merged from the reports of %d partitions: identifiers are linked within each partition only\n", n)
	}
	fmt.Fprintf(out, "issues %d, problems %d: %d final, %d pending (%d failed already), %d unresolved\n", r.Issues, r.Problems, r.Final, r.Pending, r.PendingFailed, r.Unresolved)
	fmt.Fprintf(out, "true FCR        %s\n", pct(r.True, "no final problem yet"))
	fmt.Fprintf(out, "reported FCR    %s\n", pct(r.Reported, "no final problem yet"))
	if r.True.Total == 0 || r.Reported.Total == 0 {
		fmt.Fprintf(out, "inflation           –\n")
	} else {
		small := ""
		if r.True.Small || r.Reported.Small {
			small = fmt.Sprintf(" (of a small sample, under %d)", r.Definition.MinSample)
		}
		fmt.Fprintf(out, "inflation       %+.1f points%s\n", text.Points(r.True.Rate, r.Reported.Rate), small)
	}
	fmt.Fprintf(out, "bot containment %s\n", pct(r.BotContainment, "no final problem resolved by a bot"))
	for _, ch := range slices.Sorted(maps.Keys(r.ByChannel)) {
		fmt.Fprintf(out, "first channel %-6s true %s\n", text.Shown(ch), pct(r.ByChannel[ch].True, "no final problem yet"))
	}
	for i, t := range r.RepeatTopics {
		if i == 3 {
			break
		}
		fmt.Fprintf(out, "repeat driver %d: %s (%d repeat contacts, %.0f %%)\n", i+1, text.Shown(t.Topic), t.Repeats, 100*t.Share)
	}
}
