package projections

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/truefcr/truefcr/internal/text"
)

// WriteText writes the report as readable tables: FCR first, with its
// breakdowns, then service level, satisfaction and volume. A rate whose
// denominator is below the small-sample threshold is marked with *, and
// so is an inflation of such a rate. A name that holds a control
// character (a tab, a line break, a control of the direction of text),
// is not UTF-8, starts with a quote or is padded with what shows as
// nothing is shown quoted, with Go's escapes.
func (r Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	p := func(format string, args ...any) { fmt.Fprintf(tw, format, args...) }
	d := r.Definition
	f := r.FCR

	p("TRUE FIRST-CONTACT RESOLUTION\n")
	p("window %s, topic rule %q, lateness %s; %s\n", d.Window, d.Match, d.Lateness, d.Identity)
	// A host that puts a merged FCR section into a Reporter's report
	// leaves the report's own definition as it was.
	if n := max(d.Partitions, f.Definition.Partitions); n > 0 {
		p("merged from the reports of %d partitions: identifiers are linked within each partition only\n", n)
	}
	p("repeat contacts: %s\n", d.MatchRule)
	p("%s\n", d.Settled)
	p("true FCR over %s\n", d.Denominator)
	p("reported FCR over %s\n", d.Reported)
	p("weeks (ISO 8601) in UTC; each figure rounded on its own, inflation the difference of the rates shown\n")
	p("\n")
	p("  true FCR\t%s\t%s\n", fcrRateText(f.True), "final problems")
	p("  reported FCR\t%s\t%s\n", fcrRateText(f.Reported), "the resolved issue records of those problems, each a success when resolved on its own first contact, as a per-ticket helpdesk counts it")
	p("  inflation\t%s\t\n", inflationText(f.True, f.Reported, " points"))
	p("  bot containment\t%s\t\n", fcrRateText(f.BotContainment))
	p("  problems\t%d\tachieved %d, failed %d, pending %d (failed already %d), unresolved %d, no answered contact %d\n",
		f.Problems, f.Achieved, f.Failed, f.Pending, f.PendingFailed, f.Unresolved, f.NoContact)
	p("  events\t%d\tlate %d (left out of the figures: %d), held after a gap or of an issue forgotten %d, missing %d, orphaned %d, ignored %d\n",
		r.Events, f.LateEvents, f.LateDropped, f.HeldEvents, f.MissingEvents, f.OrphanedEvents, f.IgnoredEvents)
	for _, b := range []struct {
		title string
		segs  map[string]FCRSegment
	}{
		{"first channel", f.ByChannel}, {"topic", f.ByTopic}, {"agent kind", f.ByAgentKind},
		{"resolving agent", f.ByAgent}, {"resolving queue", f.ByQueue}, {"week", f.ByWeek},
	} {
		if len(b.segs) == 0 {
			continue
		}
		p("\n  by %s\ttrue\treported\tinflation\n", b.title)
		for _, k := range slices.Sorted(maps.Keys(b.segs)) {
			s := b.segs[k]
			p("  %s\t%s\t%s\t%s\n", text.Shown(k), fcrRateText(s.True), fcrRateText(s.Reported), inflationText(s.True, s.Reported, ""))
		}
	}
	if len(f.ChannelSwitch) > 0 {
		p("\n  channel switches\tfirst channel → channel of the repeat contact\t\n")
		for _, from := range slices.Sorted(maps.Keys(f.ChannelSwitch)) {
			for _, to := range slices.Sorted(maps.Keys(f.ChannelSwitch[from])) {
				p("  %s → %s\t%d\t\n", text.Shown(from), text.Shown(to), f.ChannelSwitch[from][to])
			}
		}
	}
	if len(f.RepeatTopics) > 0 {
		p("\n  topics driving repeats\trepeat contacts\tshare\tfailed problems\n")
		for i, t := range f.RepeatTopics {
			if i == 10 {
				p("  … %d more\t\t\t\n", len(f.RepeatTopics)-10)
				break
			}
			p("  %s\t%d\t%.1f %%\t%d\n", text.Shown(t.Topic), t.Repeats, 100*t.Share, t.Problems)
		}
	}
	c := f.ContactsPerProblem
	p("\n  contacts per final problem\t1: %d, 2: %d, 3: %d, 4+: %d\t\n", c.One, c.Two, c.Three, c.FourPlus)
	p("  CSAT of achieved problems\t%s\t\n", fcrCSATText(f.CSAT.Achieved))
	p("  CSAT of failed problems\t%s\t\n", fcrCSATText(f.CSAT.Failed))

	s := r.Service
	// The events each KPI projection left out, which its figures lack.
	leftOut := func(late int64, held int) {
		if late > 0 || held > 0 {
			p("  events\t\tlate %d (left out of the figures), held after a gap or of an issue forgotten %d\n", late, held)
		}
	}
	thresholds := fmt.Sprintf("threshold %g s", s.Definition.ThresholdS)
	for _, ch := range slices.Sorted(maps.Keys(s.Definition.ChannelThresholdsS)) {
		thresholds += fmt.Sprintf("; %s %g s", ch, s.Definition.ChannelThresholdsS[ch])
	}
	p("\nSERVICE LEVEL (%s)\n", thresholds)
	leftOut(s.LateEvents, s.HeldEvents)
	p("  offered\t%d\tanswered %d, abandoned %d\n", s.Offered, s.Answered, s.Abandoned)
	p("  ASA\t%s\t\n", meanText("%.1f s", s.ASA, s.Answered))
	p("  abandonment\t%s\t\n", rateText(s.Abandonment))
	p("  service level\t%s\t\n", rateText(s.ServiceLevel))
	p("  AHT\t%s\tover %d contacts with a handle time\n", meanText("%.1f s", s.AHT, s.AHTContacts), s.AHTContacts)
	p("  transfer rate\t%s\t\n", rateText(s.Transfer))
	p("  consult rate\t%s\t\n", rateText(s.Consult))
	unattributed := ""
	if s.ReopensUnattributed > 0 {
		unattributed = fmt.Sprintf("%d under no channel or queue (the issue's state was forgotten)", s.ReopensUnattributed)
	}
	p("  reopen rate\t%s\t%s\n", rateText(s.Reopen), unattributed)
	if len(s.ByChannel) > 0 {
		p("\n  by channel\toffered\tASA\tabandonment\tservice level\n")
		for _, k := range slices.Sorted(maps.Keys(s.ByChannel)) {
			x := s.ByChannel[k]
			p("  %s\t%d\t%s\t%s\t%s\n", text.Shown(k), x.Offered, meanText("%.1f s", x.ASA, x.Answered), rateText(x.Abandonment), rateText(x.ServiceLevel))
		}
	}

	sat := r.Satisfaction
	p("\nSATISFACTION\n")
	leftOut(sat.LateEvents, sat.HeldEvents)
	p("  CSAT\tmean %s\ttop-2 box %s\n", meanText("%.2f", sat.CSAT.Mean, sat.CSAT.Responses), rateText(sat.CSAT.Top2Box))
	p("  NPS\t%s\t%d answers: %d promoters, %d passives, %d detractors\n",
		meanText("%+.0f", sat.NPS.Score, sat.NPS.Responses), sat.NPS.Responses, sat.NPS.Promoters, sat.NPS.Passives, sat.NPS.Detractors)
	p("  CES\tmean %s\tshare of 5–7 %s\n", meanText("%.2f", sat.CES.Mean, sat.CES.Responses), rateText(sat.CES.Top3Box))
	if slices.ContainsFunc(sat.ByWait, func(b WaitBucket) bool { return b.CSAT.Responses > 0 }) {
		p("\n  by wait\tCSAT mean\ttop-2 box\n")
		for _, b := range sat.ByWait {
			if b.CSAT.Responses > 0 {
				p("  %s\t%.2f\t%s\n", b.Bucket, b.CSAT.Mean, rateText(b.CSAT.Top2Box))
			}
		}
	}

	v := r.Volume
	p("\nVOLUME\n")
	leftOut(v.LateEvents, v.HeldEvents)
	// Not contacts over issues: an issue's mean counts the contacts it had
	// while its state was held, not one that came once it was forgotten.
	p("  contacts\t%d\n", v.Contacts)
	p("  issues\t%d\t%s contacts each, while held\n", v.Issues, meanText("%.2f", v.ContactsPerIssue, v.Issues))
	if len(v.ByChannel) > 0 {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(v.ByChannel)) {
			parts = append(parts, fmt.Sprintf("%s %d", text.Shown(k), v.ByChannel[k]))
		}
		p("  by channel\t%s\t\n", strings.Join(parts, ", "))
	}
	if len(v.ByValue) > 0 {
		keys := slices.SortedFunc(maps.Keys(v.ByValue), func(a, b Value) int { return cmp.Compare(a, b) })
		var parts []string
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s %d", k, v.ByValue[k]))
		}
		p("  by contact value\t%s\t\n", strings.Join(parts, ", "))
	}
	if len(v.Reasons) > 0 {
		p("\n  contact reasons\tcontacts\tshare\tcumulative\n")
		for i, x := range v.Reasons {
			if i == 10 {
				p("  … %d more\t\t\t\n", len(v.Reasons)-10)
				break
			}
			p("  %s\t%d\t%s\t%.1f %%\n", text.Shown(x.Topic), x.Contacts, rateText(x.Share), 100*x.Cumulative)
		}
	}
	age := "–"
	if v.Backlog.Open > 0 {
		age = secondsText(v.Backlog.MeanAgeS)
	}
	p("\n  backlog\t%d open\tmean age %s\n", v.Backlog.Open, age)
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n* %s: too few to act on.\n", r.smallText())
	return err
}

// smallText says which denominators WriteText marks with *: below one
// threshold, or below each section's where they differ.
func (r Report) smallText() string {
	fcr, svc, sat, vol := r.Definition.MinSample, r.Service.Definition.MinSample, r.Satisfaction.Definition.MinSample, r.Volume.Definition.MinSample
	if fcr == svc && svc == sat && sat == vol {
		return fmt.Sprintf("fewer than %d in the denominator", fcr)
	}
	return fmt.Sprintf("fewer in the denominator than the section's threshold (true FCR %d, service level %d, satisfaction %d, volume %d)", fcr, svc, sat, vol)
}

func fcrRateText(r FCRRate) string {
	return rateParts(r.Rate, r.CI95, r.Achieved, r.Total, r.Small)
}

func rateText(r Rate) string {
	return rateParts(r.Value, r.CI95, r.Hits, r.Total, r.Small)
}

func rateParts(v float64, ci [2]float64, hits, total int64, small bool) string {
	if total == 0 {
		return "–"
	}
	mark := ""
	if small {
		mark = "*"
	}
	return fmt.Sprintf("%.1f %%%s [%.1f–%.1f] %d/%d", 100*v, mark, 100*ci[0], 100*ci[1], hits, total)
}

// inflationText formats an inflation in points, followed by unit, or a
// dash when either rate has no denominator: the difference of the two
// rates as rateParts shows them, so that the three figures agree on the
// page (66.7 − 33.3 is 33.4, where the inflation 1/3 rounds to 33.3). It
// is marked with * where either rate is: a difference is no surer than
// the rates it is taken of.
func inflationText(truth, reported FCRRate, unit string) string {
	if truth.Total == 0 || reported.Total == 0 {
		return "–"
	}
	mark := ""
	if truth.Small || reported.Small {
		mark = "*"
	}
	return fmt.Sprintf("%+.1f%s%s", text.Points(truth.Rate, reported.Rate), unit, mark)
}

// meanText formats v, a mean or score over n values, or a dash for none,
// as rates without a denominator are shown.
func meanText(format string, v float64, n int64) string {
	if n == 0 {
		return "–"
	}
	return fmt.Sprintf(format, v)
}

func fcrCSATText(c FCRCSAT) string {
	if c.Answers == 0 {
		return "no answers"
	}
	return fmt.Sprintf("mean %.2f, top-2 box %s", c.Mean, rateText(c.Top2))
}

func secondsText(s float64) string {
	switch {
	case s >= 86400:
		return fmt.Sprintf("%.1f d", s/86400)
	case s >= 3600:
		return fmt.Sprintf("%.1f h", s/3600)
	case s >= 60:
		return fmt.Sprintf("%.0f min", s/60)
	}
	return fmt.Sprintf("%.0f s", s)
}
