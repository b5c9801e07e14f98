package projections

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrMergeMismatch: reports that measured different things cannot be merged.
var ErrMergeMismatch = errors.New("reports do not match")

// MergeFCRReports merges the reports of FCR projections that each absorbed
// one partition of the events (partitioned by events.PartitionKey, so that
// every issue of a customer is in one partition) into the report that one
// FCR over all the events gives: counts add, matrices add, rates and their
// Wilson intervals are computed again from the summed counts, CSAT means
// from the summed answers, and repeat topics are ranked again.
//
// The reports must share one definition (window, matching, lateness,
// minimum sample, reported FCR rule); otherwise the error wraps
// ErrMergeMismatch. Where one report's problems folded before a restore
// from an earlier snapshot count reported FCR by the earlier rule, the
// merged definition says so. The merged watermark is the latest one. A
// verdict depends on the watermark of its own partition: a problem that
// its partition still shows as pending, because that partition has seen
// no event as late as another one, stays pending in the merge. The merge
// equals the single report when every partition has seen events up to the
// same time, which is the case once traffic has passed the window's edge
// in every partition, or once each partition's FCR was advanced to that
// time (FCR.AdvanceTo to one time; RunnerConfig.IdleAdvance moves each
// partition's runner to its own clock, so that a quiet partition may run
// ahead of a busy one, and the merge equals the single report only once
// the busy ones reach that time); the counts of deliveries (held and
// orphaned events) depend on delivery, in one FCR as in several, and may
// differ. Lateness, too, is judged against each FCR's own watermark: an
// event that comes more than the lateness after events of a later time
// of other partitions (a store appended out of event-time order, an import
// of one partition after another, brokers that deliver partitions at
// different speeds) is late and left out in one FCR over all the events,
// and on time in its partition's, which applies it. The merge equals the
// single report when no event comes that late across partitions; where
// some do, it holds figures the single report lacks, and fewer late ones.
// Identity links between customers on different partitions are not made:
// partition by a customer id that is stable from the first contact. The
// merged definition says how many partitions' reports it holds
// (Partitions), and so that its customers were linked within each only.
// A report does not say which partition it covers, nor how the events
// were partitioned: a partitioning by issue rather than by customer, a
// partition left out or one given twice, merge without an error into
// figures that are not the single report's.
func MergeFCRReports(reports ...FCRReport) (FCRReport, error) {
	if len(reports) == 0 {
		return FCRReport{}, fmt.Errorf("merge FCR reports: no report: %w", ErrMergeMismatch)
	}
	// Problems folded before a restore from an earlier snapshot may count
	// reported FCR by the earlier rule, in any partition: the merge says
	// so when one does.
	def := reports[0].Definition
	rule := strings.TrimSuffix(def.Reported, fcrReportedOnOpening)
	onOpening := rule != def.Reported
	for i, r := range reports[1:] {
		d := r.Definition
		theirs := strings.TrimSuffix(d.Reported, fcrReportedOnOpening)
		onOpening = onOpening || theirs != d.Reported
		if withReported(d, theirs) != withReported(def, rule) {
			return FCRReport{}, fmt.Errorf("merge FCR reports: report %d %s: %w",
				i+1, definitionDiff(d, def), ErrMergeMismatch)
		}
	}
	if onOpening {
		def.Reported = rule + fcrReportedOnOpening
	}
	if len(reports) > 1 {
		def.Partitions = 0
		for _, r := range reports {
			def.Partitions += max(1, r.Definition.Partitions) // a merge counts its own
		}
	}
	ms := def.MinSample
	out := FCRReport{Definition: def}.withEmptyBreakdowns()
	type topicSum struct{ repeats, problems int64 }
	topics := map[string]topicSum{}
	var csat [2]csatSum
	var watermark time.Time
	for _, r := range reports {
		watermark = later(watermark, r.Watermark)
		out.True = addFCRRate(out.True, r.True)
		out.Reported = addFCRRate(out.Reported, r.Reported)
		out.BotContainment = addFCRRate(out.BotContainment, r.BotContainment)
		out.Problems += r.Problems
		out.Issues += r.Issues
		out.Final += r.Final
		out.Achieved += r.Achieved
		out.Failed += r.Failed
		out.Pending += r.Pending
		out.PendingFailed += r.PendingFailed
		out.Unresolved += r.Unresolved
		out.NoContact += r.NoContact
		out.LateEvents += r.LateEvents
		out.LateDropped += r.LateDropped
		out.HeldEvents += r.HeldEvents
		out.OrphanedEvents += r.OrphanedEvents
		out.MissingEvents += r.MissingEvents
		out.IgnoredEvents += r.IgnoredEvents
		for _, b := range []struct{ into, from map[string]FCRSegment }{
			{out.ByChannel, r.ByChannel}, {out.ByTopic, r.ByTopic}, {out.ByAgent, r.ByAgent}, {out.ByQueue, r.ByQueue},
			{out.ByAgentKind, r.ByAgentKind}, {out.ByDay, r.ByDay}, {out.ByWeek, r.ByWeek},
		} {
			for k, s := range b.from {
				sum := b.into[k]
				sum.True = addFCRRate(sum.True, s.True)
				sum.Reported = addFCRRate(sum.Reported, s.Reported)
				b.into[k] = sum
			}
		}
		for from, row := range r.ChannelSwitch {
			into := out.ChannelSwitch[from]
			if into == nil {
				into = map[string]int64{}
				out.ChannelSwitch[from] = into
			}
			for to, n := range row {
				into[to] += n
			}
		}
		for _, t := range r.RepeatTopics {
			s := topics[t.Topic]
			s.repeats += t.Repeats
			s.problems += t.Problems
			topics[t.Topic] = s
		}
		c := r.ContactsPerProblem
		out.ContactsPerProblem.One += c.One
		out.ContactsPerProblem.Two += c.Two
		out.ContactsPerProblem.Three += c.Three
		out.ContactsPerProblem.FourPlus += c.FourPlus
		csat[0].add(r.CSAT.Achieved)
		csat[1].add(r.CSAT.Failed)
	}
	out.Watermark = watermark

	out.True = newFCRRate(out.True.Achieved, out.True.Total, ms)
	out.Reported = newFCRRate(out.Reported.Achieved, out.Reported.Total, ms)
	out.BotContainment = newFCRRate(out.BotContainment.Achieved, out.BotContainment.Total, ms)
	out.Inflation = inflation(out.Reported, out.True)
	for _, m := range []map[string]FCRSegment{out.ByChannel, out.ByTopic, out.ByAgent, out.ByQueue, out.ByAgentKind, out.ByDay, out.ByWeek} {
		for k, s := range m {
			s.True = newFCRRate(s.True.Achieved, s.True.Total, ms)
			s.Reported = newFCRRate(s.Reported.Achieved, s.Reported.Total, ms)
			s.Inflation = inflation(s.Reported, s.True)
			m[k] = s
		}
	}

	for topic, s := range topics {
		out.RepeatTopics = append(out.RepeatTopics, FCRRepeatTopic{Topic: topic, Repeats: s.repeats, Problems: s.problems})
	}
	rankRepeatTopics(out.RepeatTopics) // the order of FCR.Report

	out.CSAT = FCRCSATSplit{Achieved: csat[0].report(ms), Failed: csat[1].report(ms)}
	return out, nil
}

// addFCRRate adds the counts of b to a; the caller computes the rate again.
func addFCRRate(a, b FCRRate) FCRRate {
	return FCRRate{Achieved: a.Achieved + b.Achieved, Total: a.Total + b.Total}
}

// csatSum adds up FCRCSAT figures.
type csatSum struct {
	problems, answers, sum, top2 int64
}

func (s *csatSum) add(c FCRCSAT) {
	s.problems += c.Problems
	s.answers += c.Answers
	// Scores are whole numbers, so the sum is the mean times the count.
	s.sum += summed(c.Mean, c.Answers)
	s.top2 += c.Top2.Hits
}

func (s csatSum) report(minSample int64) FCRCSAT {
	c := FCRCSAT{Problems: s.problems, Answers: s.answers, Top2: NewRate(s.top2, s.answers)}
	c.Top2.Small = s.answers < minSample
	if s.answers > 0 {
		c.Mean = float64(s.sum) / float64(s.answers)
	}
	return c
}

// withReported returns d with its reported FCR rule set to reported and
// its partitions left out, which merge.
func withReported(d FCRDefinition, reported string) FCRDefinition {
	d.Reported = reported
	d.Partitions = 0
	return d
}

// definitionDiff says in which field the definition a of a report differs
// from b, that of report 0, with the value of each; the reported rules are
// compared without what a restore from an earlier snapshot adds to them.
func definitionDiff(a, b FCRDefinition) string {
	for _, f := range []struct {
		name string
		same bool
		a, b any
	}{
		{"window", a.Window == b.Window, a.Window, b.Window},
		{"window seconds", a.WindowSeconds == b.WindowSeconds, a.WindowSeconds, b.WindowSeconds},
		{"match", a.Match == b.Match, a.Match, b.Match},
		{"match rule", a.MatchRule == b.MatchRule, strconv.Quote(a.MatchRule), strconv.Quote(b.MatchRule)},
		{"identity rule", a.Identity == b.Identity, strconv.Quote(a.Identity), strconv.Quote(b.Identity)},
		{"lateness", a.Lateness == b.Lateness, a.Lateness, b.Lateness},
		{"lateness seconds", a.LatenessSeconds == b.LatenessSeconds, a.LatenessSeconds, b.LatenessSeconds},
		{"settling rule", a.Settled == b.Settled, strconv.Quote(a.Settled), strconv.Quote(b.Settled)},
		{"denominator", a.Denominator == b.Denominator, strconv.Quote(a.Denominator), strconv.Quote(b.Denominator)},
		{"reported FCR rule", strings.TrimSuffix(a.Reported, fcrReportedOnOpening) == strings.TrimSuffix(b.Reported, fcrReportedOnOpening),
			strconv.Quote(a.Reported), strconv.Quote(b.Reported)},
		{"minimum sample", a.MinSample == b.MinSample, a.MinSample, b.MinSample},
	} {
		if !f.same {
			return fmt.Sprintf("has %s %v, report 0 %v", f.name, f.a, f.b)
		}
	}
	return fmt.Sprintf("has definition %+v, report 0 %+v", a, b)
}
