package projections

import (
	"cmp"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"time"
)

// MergeReports merges the Reports of Reporters that each absorbed one
// partition of the events (partitioned by events.PartitionKey) into the
// Report of one Reporter over all the events: the FCR as MergeFCRReports
// merges it, the service level, satisfaction and volume as
// MergeServiceReports, MergeSatisfactionReports and MergeVolumeReports do.
// The watermark is the latest; Events add up, and depend on delivery as
// the counts of deliveries do (redeliveries that an FCR folded count
// again). The reports must share one definition, section by section;
// otherwise the error wraps ErrMergeMismatch and names the section and the
// field.
//
// Each section equals the single report's once every partition has seen
// events up to the same time, as MergeFCRReports says: what a projection
// holds until its watermark passes it (an FCR verdict, a reopen or a
// survey that comes more than the lateness after its issue's last event,
// events after a gap) a partition whose watermark is behind holds still,
// where one Reporter over all the events, moved on by other partitions'
// events, has applied it. Advance every partition's Reporter to the latest
// of their watermarks, or later (Reporter.AdvanceTo), before taking the
// reports to merge. Lateness too is judged against each partition's own
// watermark: an event that comes more than the lateness behind another
// partition's events is late for one Reporter over all the events, which
// leaves it out of every section, and on time in its partition, as
// MergeFCRReports says.
func MergeReports(reports ...Report) (Report, error) {
	if len(reports) == 0 {
		return Report{}, fmt.Errorf("merge reports: no report: %w", ErrMergeMismatch)
	}
	fcr, svc, sat, vol := make([]FCRReport, len(reports)), make([]ServiceReport, len(reports)),
		make([]SatisfactionReport, len(reports)), make([]VolumeReport, len(reports))
	out := Report{}
	for i, r := range reports {
		fcr[i], svc[i], sat[i], vol[i] = r.FCR, r.Service, r.Satisfaction, r.Volume
		out.Events += r.Events
		out.Watermark = later(out.Watermark, r.Watermark)
	}
	var err error
	if out.FCR, err = MergeFCRReports(fcr...); err != nil {
		return Report{}, err
	}
	if out.Service, err = MergeServiceReports(svc...); err != nil {
		return Report{}, err
	}
	if out.Satisfaction, err = MergeSatisfactionReports(sat...); err != nil {
		return Report{}, err
	}
	if out.Volume, err = MergeVolumeReports(vol...); err != nil {
		return Report{}, err
	}
	out.Definition = ReportDefinition{
		FCRDefinition:                  out.FCR.Definition,
		ServiceLevelThresholdS:         out.Service.Definition.ThresholdS,
		ServiceLevelChannelThresholdsS: out.Service.Definition.ChannelThresholdsS,
	}
	return out, nil
}

// MergeServiceReports merges the reports of ServiceLevel projections that
// each absorbed one partition of the events (by issue, or by customer as
// events.PartitionKey does) into the report of one projection over all
// the events: counts add, rates and their intervals are computed again
// from the summed counts, and ASA and AHT from the summed waits and
// handle times (taken again from each report's mean and count, which is
// exact while a report's waits add up to less than about 10¹⁵ ms, some
// 30,000 years). Every figure is of one contact or one issue, so that the
// merge equals the single report once every partition has seen events up
// to the same time and no event came more than the lateness behind
// another partition's (see MergeReports), but for the counts of
// deliveries (late and held events, and tracked issues), which depend on
// how each projection was fed. The reports must share one definition;
// otherwise the error wraps ErrMergeMismatch.
func MergeServiceReports(reports ...ServiceReport) (ServiceReport, error) {
	if err := sameDefinitions("service level", reports, func(r ServiceReport) any { return r.Definition }); err != nil {
		return ServiceReport{}, err
	}
	def := reports[0].Definition
	var total svcCounts
	byChannel, byQueue := map[string]svcCounts{}, map[string]svcCounts{}
	out := ServiceReport{Definition: def}
	for _, r := range reports {
		total.sum(svcCountsOf(r.ServiceFigures))
		addSegments(byChannel, r.ByChannel, svcCountsOf)
		addSegments(byQueue, r.ByQueue, svcCountsOf)
		out.ReopensUnattributed += r.ReopensUnattributed
		out.Watermark = later(out.Watermark, r.Watermark)
		out.LateEvents += r.LateEvents
		out.HeldEvents += r.HeldEvents
		out.TrackedIssues += r.TrackedIssues
	}
	figures := func(n svcCounts) ServiceFigures { return n.figures(def.MinSample) }
	out.ServiceFigures = figures(total)
	out.ByChannel = mapValues(byChannel, figures)
	out.ByQueue = mapValues(byQueue, figures)
	return out, nil
}

// svcCountsOf returns the counts behind f: the waits and handle times in
// whole milliseconds, as they were summed.
func svcCountsOf(f ServiceFigures) *svcCounts {
	n := &svcCounts{
		answered: f.Answered, abandoned: f.Abandoned, within: f.ServiceLevel.Hits,
		waitMS:  summed(f.ASA*1000, f.Answered),
		handled: f.Handled, timed: f.AHTContacts,
		handleMS:    summed(f.AHT*1000, f.AHTContacts),
		transferred: f.Transfer.Hits, consulted: f.Consult.Hits,
		resolutions: f.Resolutions, reopens: f.Reopens,
	}
	if f.Resolutions == 0 && f.Reopens == 0 {
		// A report of a build before the counts (from its JSON): the
		// rate's, in which the reopens are held to the resolutions.
		n.resolutions, n.reopens = f.Reopen.Total, f.Reopen.Hits
	}
	return n
}

// sum adds the counts d.
func (n *svcCounts) sum(d *svcCounts) { n.add(d, 1) }

// MergeSatisfactionReports merges the reports of Satisfaction projections
// that each absorbed one partition of the events into the report of one
// projection over all the events, as MergeServiceReports does: answers
// add, means are computed again from the summed scores, shares and
// scores from the summed counts.
func MergeSatisfactionReports(reports ...SatisfactionReport) (SatisfactionReport, error) {
	if err := sameDefinitions("satisfaction", reports, func(r SatisfactionReport) any { return r.Definition }); err != nil {
		return SatisfactionReport{}, err
	}
	def := reports[0].Definition
	var total satCounts
	var byWait [satUnknown + 1]satCounts
	byChannel, byTopic, byAgent := map[string]satCounts{}, map[string]satCounts{}, map[string]satCounts{}
	out := SatisfactionReport{Definition: def}
	for i, r := range reports {
		total.sum(satCountsOf(r.SatisfactionFigures))
		addSegments(byChannel, r.ByChannel, satCountsOf)
		addSegments(byTopic, r.ByTopic, satCountsOf)
		addSegments(byAgent, r.ByAgent, satCountsOf)
		if len(r.ByWait) != len(byWait) && (len(r.ByWait) > 0 || r.CSAT.Responses+r.NPS.Responses+r.CES.Responses > 0) {
			return SatisfactionReport{}, fmt.Errorf("merge satisfaction reports: report %d has %d wait buckets, not %d: %w",
				i, len(r.ByWait), len(byWait), ErrMergeMismatch)
		}
		for k, b := range r.ByWait {
			if name, from, to := satBucketBounds(k); b.Bucket != name || b.FromS != from || b.ToS != to {
				return SatisfactionReport{}, fmt.Errorf("merge satisfaction reports: report %d has wait bucket %d %q, not %q: %w",
					i, k, b.Bucket, name, ErrMergeMismatch)
			}
			byWait[k].sum(satCountsOf(b.SatisfactionFigures))
		}
		out.Watermark = later(out.Watermark, r.Watermark)
		out.LateEvents += r.LateEvents
		out.HeldEvents += r.HeldEvents
		out.TrackedIssues += r.TrackedIssues
	}
	figures := func(n satCounts) SatisfactionFigures { return n.figures(def.MinSample) }
	out.SatisfactionFigures = figures(total)
	out.ByChannel = mapValues(byChannel, figures)
	out.ByTopic = mapValues(byTopic, figures)
	out.ByAgent = mapValues(byAgent, figures)
	out.ByWait = make([]WaitBucket, len(byWait))
	for k := range byWait {
		out.ByWait[k].SatisfactionFigures = figures(byWait[k])
		out.ByWait[k].Bucket, out.ByWait[k].FromS, out.ByWait[k].ToS = satBucketBounds(k)
	}
	return out, nil
}

// satCountsOf returns the counts behind f: scores are whole numbers, so
// that a sum is the mean times the count.
func satCountsOf(f SatisfactionFigures) *satCounts {
	return &satCounts{
		csat: f.CSAT.Responses, csatSum: summed(f.CSAT.Mean, f.CSAT.Responses), csatTop2: f.CSAT.Top2Box.Hits,
		nps: f.NPS.Responses, promoters: f.NPS.Promoters, detractors: f.NPS.Detractors,
		ces: f.CES.Responses, cesSum: summed(f.CES.Mean, f.CES.Responses), cesTop3: f.CES.Top3Box.Hits,
	}
}

// sum adds the counts d.
func (n *satCounts) sum(d *satCounts) {
	n.csat += d.csat
	n.csatSum += d.csatSum
	n.csatTop2 += d.csatTop2
	n.nps += d.nps
	n.promoters += d.promoters
	n.detractors += d.detractors
	n.ces += d.ces
	n.cesSum += d.cesSum
	n.cesTop3 += d.cesTop3
}

// MergeVolumeReports merges the reports of Volume projections that each
// absorbed one partition of the events into the report of one projection
// over all the events, as MergeServiceReports does: counts add, and the
// contact reasons are ranked again. The backlog's open issues add up, and
// their ages are taken to the latest watermark: an issue open at its
// partition's watermark is taken for open at the latest, and the mean age
// and the oldest issue are aged to it (the mean from each report's mean
// and count, exact as MergeServiceReports says), while ByAge adds the
// counts of each partition as aged at its own watermark. Once every
// partition has seen events up to the same time, the backlog too equals
// the single report's (see MergeReports). Reports with contacts by value
// and without (of a projection given no Values) do not merge: their
// contacts by value would be of some partitions only.
func MergeVolumeReports(reports ...VolumeReport) (VolumeReport, error) {
	// No values and values of no topic are one: a report's JSON leaves out
	// both alike.
	definition := func(r VolumeReport) any {
		d := r.Definition
		if len(d.Values) == 0 {
			d.Values = nil
		}
		return d
	}
	if err := sameDefinitions("volume", reports, definition); err != nil {
		return VolumeReport{}, err
	}
	def := reports[0].Definition
	out := VolumeReport{
		Definition: def, ByChannel: map[string]int64{}, ByTopic: map[string]int64{}, ByDay: map[string]int64{},
		IssuesByContacts: map[string]int64{},
	}
	for _, r := range reports {
		out.Watermark = later(out.Watermark, r.Watermark)
		if r.ByValue != nil || r.Definition.Values != nil {
			out.ByValue = map[Value]int64{}
			out.Definition.Values = cmpOrValues(out.Definition.Values, r.Definition.Values)
		}
	}
	for i, r := range reports {
		if out.ByValue != nil && r.ByValue == nil && r.Definition.Values == nil && r.Contacts > 0 {
			return VolumeReport{}, fmt.Errorf("merge volume reports: report %d counts no contacts by value, where another does: %w", i, ErrMergeMismatch)
		}
	}
	var issueContacts, ageMS int64
	for i, r := range reports {
		out.Contacts += r.Contacts
		addCounts(out.ByChannel, r.ByChannel)
		addCounts(out.ByTopic, r.ByTopic)
		addCounts(out.ByDay, r.ByDay)
		addCounts(out.IssuesByContacts, r.IssuesByContacts)
		if out.ByValue != nil {
			addCounts(out.ByValue, r.ByValue)
		}
		out.Issues += r.Issues
		issueContacts += summed(r.ContactsPerIssue, r.Issues)
		out.Resolutions += r.Resolutions
		out.Reopens += r.Reopens
		out.LateEvents += r.LateEvents
		out.HeldEvents += r.HeldEvents
		out.TrackedIssues += r.TrackedIssues

		b := r.Backlog
		if len(b.ByAge) != volAgeBuckets && (len(b.ByAge) > 0 || b.Open > 0) {
			return VolumeReport{}, fmt.Errorf("merge volume reports: report %d has %d backlog age buckets, not %d: %w",
				i, len(b.ByAge), volAgeBuckets, ErrMergeMismatch)
		}
		if out.Backlog.ByAge == nil {
			out.Backlog.ByAge = make([]AgeBucket, volAgeBuckets)
			for k := range out.Backlog.ByAge {
				a := &out.Backlog.ByAge[k]
				a.Bucket, a.FromS, a.ToS = volAgeBounds(k)
			}
		}
		for k, a := range b.ByAge {
			if name, from, to := volAgeBounds(k); a.Bucket != name || a.FromS != from || a.ToS != to {
				return VolumeReport{}, fmt.Errorf("merge volume reports: report %d has backlog age bucket %d %q, not %q: %w",
					i, k, a.Bucket, name, ErrMergeMismatch)
			}
			out.Backlog.ByAge[k].Issues += a.Issues
		}
		out.Backlog.Open += b.Open
		// Aged to the latest watermark: the ages of the partition's open
		// issues, in whole milliseconds as they were summed, each older
		// by what its watermark is behind.
		ageMS += summed(b.MeanAgeS*1000, b.Open) + b.Open*out.Watermark.Sub(r.Watermark).Milliseconds()
		if o := b.Oldest; o != nil && (out.Backlog.Oldest == nil || o.Since.Before(out.Backlog.Oldest.Since) ||
			o.Since.Equal(out.Backlog.Oldest.Since) && o.Issue.String() < out.Backlog.Oldest.Issue.String()) {
			oldest := *o
			oldest.AgeS = out.Watermark.Sub(o.Since).Seconds()
			out.Backlog.Oldest = &oldest
		}
	}
	out.ContactsPerIssue = kpiShare(issueContacts, out.Issues)
	out.Reopen = kpiRate(out.Reopens, out.Resolutions, def.MinSample)
	out.ReopenRate = out.Reopen.Value
	if out.Backlog.Open > 0 {
		out.Backlog.MeanAgeS = float64(ageMS) / 1000 / float64(out.Backlog.Open)
	}
	out.Reasons = volReasons(out.ByTopic, out.Contacts, def.MinSample)
	return out, nil
}

// volReasons returns the contact reasons Pareto of byTopic, of contacts
// in all: the topics by contacts, most first, then by name.
func volReasons(byTopic map[string]int64, contacts, minSample int64) []Reason {
	out := make([]Reason, 0, len(byTopic))
	for topic, n := range byTopic {
		out = append(out, Reason{Topic: topic, Contacts: n, Share: kpiRate(n, contacts, minSample)})
	}
	slices.SortFunc(out, func(a, b Reason) int {
		return cmp.Or(cmp.Compare(b.Contacts, a.Contacts), cmp.Compare(a.Topic, b.Topic))
	})
	var cum int64
	for i := range out {
		cum += out[i].Contacts
		out[i].Cumulative = kpiShare(cum, contacts)
	}
	return out
}

// sameDefinitions returns the error of reports, of the section name, when
// there are none or their definitions (def) differ, naming the report and
// the field: the first of report 0's that another's differs in.
func sameDefinitions[R any](name string, reports []R, def func(R) any) error {
	if len(reports) == 0 {
		return fmt.Errorf("merge %s reports: no report: %w", name, ErrMergeMismatch)
	}
	want := def(reports[0])
	for i, r := range reports[1:] {
		if got := def(r); !reflect.DeepEqual(got, want) {
			return fmt.Errorf("merge %s reports: report %d %s: %w", name, i+1, fieldDiff(got, want), ErrMergeMismatch)
		}
	}
	return nil
}

// fieldDiff says in which field struct a differs from b, by its JSON name,
// with the value of each.
func fieldDiff(a, b any) string {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	for i := range va.NumField() {
		fa, fb := va.Field(i).Interface(), vb.Field(i).Interface()
		if !reflect.DeepEqual(fa, fb) {
			name, _, _ := strings.Cut(va.Type().Field(i).Tag.Get("json"), ",")
			return fmt.Sprintf("has %s %v, report 0 %v", name, fa, fb)
		}
	}
	return fmt.Sprintf("has definition %+v, report 0 %+v", a, b)
}

// cmpOrValues returns a, or b when a is nil: the values of a definition
// that has them.
func cmpOrValues(a, b map[string]Value) map[string]Value {
	if a != nil {
		return a
	}
	return b
}

// summed returns mean × n rounded to a whole number: the sum that a mean
// of n whole numbers was taken of.
func summed(mean float64, n int64) int64 { return int64(math.Round(mean * float64(n))) }

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// summable is a pointer to counts that add up.
type summable[T any] interface {
	*T
	sum(d *T)
}

// addSegments adds the counts behind each segment of from, by countsOf,
// to those of into.
func addSegments[F, T any, P summable[T]](into map[string]T, from map[string]F, countsOf func(F) *T) {
	for k, f := range from {
		n := into[k]
		P(&n).sum(countsOf(f))
		into[k] = n
	}
}

// addCounts adds the counts of from to those of into.
func addCounts[K comparable](into, from map[K]int64) {
	for k, n := range from {
		into[k] += n
	}
}

// mapValues returns m with each value v as f(v).
func mapValues[K comparable, V, W any](m map[K]V, f func(V) W) map[K]W {
	out := make(map[K]W, len(m))
	for k, v := range m {
		out[k] = f(v)
	}
	return out
}
