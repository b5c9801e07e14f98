package projections

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// FCRReport is the true-FCR report: the rates, the counts behind them,
// the breakdowns and the definition they follow. Its JSON form is stable;
// a full report places it under the key "fcr".
type FCRReport struct {
	// Definition states the rules the numbers follow.
	Definition FCRDefinition `json:"definition"`
	// Watermark is the latest event time seen.
	Watermark time.Time `json:"watermark,omitzero"`

	// True is true FCR over final resolved problems.
	True FCRRate `json:"true"`
	// Reported is per-ticket FCR over the resolved issue records of the
	// same problems.
	Reported FCRRate `json:"reported"`
	// Inflation is Reported.Rate − True.Rate; 0 when either has no sample.
	Inflation float64 `json:"inflation"`
	// BotContainment is the share of final problems resolved by a bot
	// that achieved or failed (those of True's denominator) with no counted
	// contact in the window after the resolution.
	BotContainment FCRRate `json:"bot_containment"`

	// Problems counts every problem; Issues every issue opened.
	Problems int64 `json:"problems"`
	Issues   int64 `json:"issues"`
	// Final problems have a final verdict: achieved, failed or no_contact.
	Final    int64 `json:"final"`
	Achieved int64 `json:"achieved"`
	Failed   int64 `json:"failed"`
	// Pending problems are resolved but not yet final. PendingFailed of
	// them have failed already: they have two counted contacts or more
	// (before the resolution, or less than W after it), or none before
	// it and one after it, and their verdict is failed once final, unless
	// a late event takes it away (a reclassification, say). The others
	// have one counted contact, before the resolution, or none at all but
	// abandoned attempts, and wait for W to pass.
	Pending       int64 `json:"pending"`
	PendingFailed int64 `json:"pending_failed"`
	// Unresolved problems have no resolution; they are in no denominator.
	Unresolved int64 `json:"unresolved"`
	// NoContact problems are final but had no counted contact, only
	// abandoned attempts; they are in no denominator.
	NoContact int64 `json:"no_contact"`

	// LateEvents arrived older than the watermark minus the lateness;
	// LateDropped of them were only counted, left out of the figures:
	// they belonged to issues not live, or were versions that their
	// stream had gone on without (MissingEvents). A redelivery of an
	// event that the FCR still knows (applied, or held) is ignored and
	// not counted; one of an issue it folded may be (see OrphanedEvents).
	LateEvents  int64 `json:"late_events"`
	LateDropped int64 `json:"late_dropped"`
	// HeldEvents wait for a gap in their stream to fill.
	HeldEvents int64 `json:"held_events"`
	// OrphanedEvents were not applied: they came once their issue had
	// settled (W after the resolution that last closed it), or were held and dropped
	// because their gap did not fill within the lateness. Like
	// LateEvents, HeldEvents and OrphanedEvents count deliveries: an event
	// that came after its issue settled is counted here at once while the
	// issue is in memory, and held first once it was folded, and a
	// redelivery of it may be counted again. They depend on delivery; the
	// figures do not.
	OrphanedEvents int64 `json:"orphaned_events"`
	// MissingEvents never came: versions of a live issue's stream that
	// the events after them waited for until the first of those was older
	// than the watermark minus the lateness, when the stream went on
	// without them. One that comes after all is counted in LateEvents and
	// LateDropped. Like the counts above, it counts deliveries: events
	// held past the moment their issue settled are orphaned if it folds
	// first, and their gap counted here if not.
	MissingEvents int64 `json:"missing_events"`
	// IgnoredEvents belong to streams that did not start with issue.opened,
	// while the FCR tracks them (see FCR: an event of such a stream quiet
	// for W + lateness is orphaned instead), or are a live issue's second
	// issue.opened, of any Go type.
	IgnoredEvents int64 `json:"ignored_events"`

	// The breakdowns: true FCR by the problem's first channel, topic,
	// resolving agent and queue, agent kind (human, bot), and the UTC day
	// and ISO week of its first contact; reported FCR by the issue
	// record's own. The resolving agent is the agent that the resolution
	// names, "(none)" when it names none, a bot's included: unlike the
	// Satisfaction report's agent, it does not fall back to the agent of
	// the contact's routing or to "bot" (ByAgentKind counts bots).
	ByChannel   map[string]FCRSegment `json:"by_channel"`
	ByTopic     map[string]FCRSegment `json:"by_topic"`
	ByAgent     map[string]FCRSegment `json:"by_agent"`
	ByQueue     map[string]FCRSegment `json:"by_queue"`
	ByAgentKind map[string]FCRSegment `json:"by_agent_kind"`
	ByDay       map[string]FCRSegment `json:"by_day"`
	ByWeek      map[string]FCRSegment `json:"by_week"`

	// ChannelSwitch counts repeat contacts by the problem's first channel
	// and the repeat contact's channel.
	ChannelSwitch map[string]map[string]int64 `json:"channel_switch"`
	// RepeatTopics are the topics of failed problems, most repeat contacts
	// first.
	RepeatTopics []FCRRepeatTopic `json:"repeat_topics"`
	// ContactsPerProblem is the distribution of counted contacts of final
	// problems.
	ContactsPerProblem FCRContacts `json:"contacts_per_problem"`
	// CSAT compares the CSAT answers of achieved and failed problems.
	CSAT FCRCSATSplit `json:"csat"`
}

// FCRDefinition states what a report measured, in words and values.
type FCRDefinition struct {
	// Window is the repeat window W ("168h0m0s"), also in seconds.
	Window        string  `json:"window"`
	WindowSeconds float64 `json:"window_seconds"`
	// Match names the topic rule (topic, root, any); MatchRule says it.
	Match     string `json:"match"`
	MatchRule string `json:"match_rule"`
	// Identity says how identifiers are linked into customers.
	Identity string `json:"identity"`
	// Lateness is how late an event may arrive and count in full.
	Lateness        string  `json:"lateness"`
	LatenessSeconds float64 `json:"lateness_seconds"`
	// Settled says which events of an issue are no longer applied.
	Settled string `json:"settled"`
	// Denominator says which problems true FCR counts, Reported which
	// issue records reported FCR counts.
	Denominator string `json:"denominator"`
	Reported    string `json:"reported"`
	// MinSample is the denominator below which a rate is flagged small.
	MinSample int64 `json:"min_sample"`
	// Partitions is how many partitions' reports MergeFCRReports merged
	// into this one; 0 for the report of one FCR. Identifiers are linked
	// within each partition only: a customer whose identifiers went to
	// two partitions counts as two customers.
	Partitions int `json:"partitions,omitempty"`
}

// FCRRate is an FCR rate: achieved out of total, with its 95 % Wilson
// score interval and a small-sample flag.
type FCRRate struct {
	Achieved int64      `json:"achieved"`
	Total    int64      `json:"total"`
	Rate     float64    `json:"rate"`
	CI95     [2]float64 `json:"ci95"`
	Small    bool       `json:"small_sample"`
}

// FCRSegment is true and reported FCR in one segment of a breakdown.
type FCRSegment struct {
	True      FCRRate `json:"true"`
	Reported  FCRRate `json:"reported"`
	Inflation float64 `json:"inflation"`
}

// FCRRepeatTopic is one topic that drives repeat contacts.
type FCRRepeatTopic struct {
	Topic string `json:"topic"`
	// Repeats counts the repeat contacts of the topic's failed problems.
	Repeats int64 `json:"repeats"`
	// Share is Repeats over all repeat contacts.
	Share float64 `json:"share"`
	// Problems counts the topic's failed problems.
	Problems int64 `json:"problems"`
}

// FCRContacts is how many final problems had 1, 2, 3, and 4 or more
// counted contacts.
type FCRContacts struct {
	One      int64 `json:"1"`
	Two      int64 `json:"2"`
	Three    int64 `json:"3"`
	FourPlus int64 `json:"4+"`
}

// FCRCSATSplit is CSAT of achieved against failed problems.
type FCRCSATSplit struct {
	Achieved FCRCSAT `json:"achieved"`
	Failed   FCRCSAT `json:"failed"`
}

// FCRCSAT sums the CSAT answers of a set of problems.
type FCRCSAT struct {
	// Problems counts the problems with at least one answer.
	Problems int64 `json:"problems"`
	// Answers counts the answers, Mean is their mean (0 with none).
	Answers int64   `json:"answers"`
	Mean    float64 `json:"mean"`
	// Top2 is the share of 4 and 5 answers.
	Top2 Rate `json:"top2"`
}

// newFCRRate returns achieved/total with its interval, flagged small below
// minSample.
func newFCRRate(achieved, total, minSample int64) FCRRate {
	r := NewRate(achieved, total)
	return FCRRate{Achieved: achieved, Total: total, Rate: r.Value, CI95: r.CI95, Small: total < minSample}
}

func inflation(reported, true_ FCRRate) float64 {
	if reported.Total == 0 || true_.Total == 0 {
		return 0
	}
	return reported.Rate - true_.Rate
}

// Report returns the report of everything absorbed so far. It costs time
// in proportion to the live issues.
func (f *FCR) Report() FCRReport {
	t := f.folded.clone()
	f.eachLiveCustomer(func(r int32) {
		probs := f.problems(r)
		for i := range probs {
			f.add(&t, &probs[i])
		}
	})
	return f.build(&t)
}

// LiveProblems returns how many problems the projection holds in memory:
// those that its live issues (Live) form, as the report chains them. It
// chains every customer with live issues, as Report does.
func (f *FCR) LiveProblems() int {
	n := 0
	f.eachLiveCustomer(func(r int32) { n += len(f.chain(r)) })
	return n
}

// eachLiveCustomer calls fn with the root of every customer that has live
// issues, having read their issues ahead (eachCustomer).
func (f *FCR) eachLiveCustomer(fn func(r int32)) {
	roots := f.scratch.roots[:0]
	for r := range f.ids.nodes {
		if n := &f.ids.nodes[r]; n.parent == int32(r) && n.issue >= 0 {
			roots = append(roots, int32(r))
		}
	}
	f.eachCustomer(roots, fn)
	f.scratch.roots = roots
}

// build turns a tally into a report.
func (f *FCR) build(t *fcrTally) FCRReport {
	ms := f.cfg.MinSample
	rep := FCRReport{
		Definition:     f.definition(),
		Watermark:      f.Watermark(),
		True:           newFCRRate(t.Achieved, t.Achieved+t.Failed, ms),
		Reported:       newFCRRate(t.RepHits, t.RepTotal, ms),
		BotContainment: newFCRRate(t.BotContained, t.BotTotal, ms),
		Problems:       t.Problems,
		Issues:         f.counts.Issues,
		Final:          t.Final,
		Achieved:       t.Achieved,
		Failed:         t.Failed,
		Pending:        t.Pending,
		PendingFailed:  t.PendingFailed,
		Unresolved:     t.Unresolved,
		NoContact:      t.NoContact,
		LateEvents:     f.counts.Late,
		LateDropped:    f.counts.LateDropped,
		HeldEvents:     int64(f.seq.Held()),
		OrphanedEvents: f.counts.Orphaned,
		MissingEvents:  f.counts.Missing,
		IgnoredEvents:  f.counts.Ignored,
		ContactsPerProblem: FCRContacts{
			One: t.PerProblem[0], Two: t.PerProblem[1], Three: t.PerProblem[2], FourPlus: t.PerProblem[3],
		},
		CSAT: FCRCSATSplit{Achieved: csatOf(t.CSAT[0], ms), Failed: csatOf(t.CSAT[1], ms)},
	}.withEmptyBreakdowns()
	rep.Inflation = inflation(rep.Reported, rep.True)

	// Segments are summed by label: a name that is a label's too (an
	// agent called "(none)") shares its segment rather than overwrite it,
	// as MergeFCRReports would sum them.
	type segKey struct {
		dim   uint8
		label string
	}
	sums := make(map[segKey]fcrSeg)
	t.eachSeg(func(dim uint8, id int64, s fcrSeg) {
		var label string
		switch dim {
		case dimKind:
			label = [2]string{"human", "bot"}[id&1]
		case dimDay:
			// In seconds: the first day of the range of Unix ns starts
			// before that range.
			label = time.Unix(id*(nsPerDay/int64(time.Second)), 0).UTC().Format(time.DateOnly)
		case dimWeek:
			label = weekLabel(id)
		default:
			label = f.names.label(id)
		}
		k := segKey{dim, label}
		sum := sums[k]
		sum.add(s)
		sums[k] = sum
	})
	byDim := map[uint8]map[string]FCRSegment{
		dimChannel: rep.ByChannel, dimTopic: rep.ByTopic, dimAgent: rep.ByAgent, dimQueue: rep.ByQueue,
		dimKind: rep.ByAgentKind, dimDay: rep.ByDay, dimWeek: rep.ByWeek,
	}
	for k, s := range sums {
		seg := FCRSegment{
			True:     newFCRRate(s.Achieved, s.Achieved+s.Failed, ms),
			Reported: newFCRRate(s.RepHits, s.RepTotal, ms),
		}
		seg.Inflation = inflation(seg.Reported, seg.True)
		if m := byDim[k.dim]; m != nil {
			m[k.label] = seg
		}
	}

	for k, n := range t.Switch {
		from, to := f.names.label(int64(k[0])), f.names.label(int64(k[1]))
		row := rep.ChannelSwitch[from]
		if row == nil {
			row = map[string]int64{}
			rep.ChannelSwitch[from] = row
		}
		row[to] += n
	}

	for topic, r := range t.Repeats {
		rep.RepeatTopics = append(rep.RepeatTopics, FCRRepeatTopic{Topic: f.names.label(int64(topic)), Repeats: r[0], Problems: r[1]})
	}
	rankRepeatTopics(rep.RepeatTopics)
	return rep
}

func csatOf(c fcrCSAT, minSample int64) FCRCSAT {
	out := FCRCSAT{Problems: c.Problems, Answers: c.Answers, Top2: NewRate(c.Top2, c.Answers)}
	out.Top2.Small = c.Answers < minSample
	if c.Answers > 0 {
		out.Mean = float64(c.Sum) / float64(c.Answers)
	}
	return out
}

// label returns the name of an interned id, "(none)" for the empty name.
func (n *nameTable) label(id int64) string {
	if id <= 0 || id >= int64(len(n.names)) {
		return "(none)"
	}
	return n.names[id]
}

// The reported FCR rule in words, and what a report adds to it when some of
// its problems were folded by the rule of snapshots before format 6.
const (
	fcrReportedRule      = "resolved issue records of the same problems; a success when resolved on the record's own first counted contact (abandoned attempts are not contacts) with no other counted contact before"
	fcrReportedOnOpening = "; the problems folded before a restore from an earlier snapshot count a success on the record's opening contact, abandoned or not"
)

// definition states the configuration in words and values.
func (f *FCR) definition() FCRDefinition {
	c := f.cfg
	const given = "; topics count between two issues as given before either settled (W after the resolution that last closed it)"
	rule := map[TopicMatch]string{
		MatchTopic: "a new issue is a repeat contact when it has the same topic as an earlier issue of the customer that is open, or was resolved less than the window before" + given,
		MatchRoot:  "a new issue is a repeat contact when it has the same top-level topic as an earlier issue of the customer that is open, or was resolved less than the window before" + given,
		MatchAny:   "a new issue is a repeat contact when an earlier issue of the customer, about any topic, is open or was resolved less than the window before",
	}[c.Match]
	reported := fcrReportedRule
	if f.reportedOnOpening {
		reported += fcrReportedOnOpening
	}
	return FCRDefinition{
		Window:          c.Window.String(),
		WindowSeconds:   c.Window.Seconds(),
		Match:           c.Match.String(),
		MatchRule:       rule,
		Identity:        "identity keys and customer ids that appear together on an issue.opened belong to one customer, transitively; keys are compared as given; a link counts between two issues when made before either settled (W after the resolution that last closed it)",
		Lateness:        c.Lateness.String(),
		LatenessSeconds: c.Lateness.Seconds(),
		Settled:         fmt.Sprintf("an issue settles %s after the resolution that last closed it (the first since its last inbound contact); its events from then on (a late reopen or survey) are not applied and count in orphaned_events", c.Window),
		Denominator:     fmt.Sprintf("problems resolved more than %s before the watermark whose counted contacts (answered inbound contacts on any channel) up to resolution + window number exactly one, at or before the resolution (achieved), or more, or only after it (failed: the resolution did not hold); pending, unresolved and contact-less problems excluded", c.Window),
		Reported:        reported,
		MinSample:       c.MinSample,
	}
}

// rankRepeatTopics sets each topic's share of all repeat contacts and puts
// the topics in the report's order: most repeats, then most problems, then
// name.
func rankRepeatTopics(ts []FCRRepeatTopic) {
	var repeats int64
	for _, t := range ts {
		repeats += t.Repeats
	}
	for i := range ts {
		if repeats > 0 {
			ts[i].Share = float64(ts[i].Repeats) / float64(repeats)
		}
	}
	slices.SortFunc(ts, func(a, b FCRRepeatTopic) int {
		return cmp.Or(cmp.Compare(b.Repeats, a.Repeats), cmp.Compare(b.Problems, a.Problems), cmp.Compare(a.Topic, b.Topic))
	})
}

// withEmptyBreakdowns gives r empty, non-nil breakdowns, so that a report
// with nothing in a breakdown still shows it in JSON as {} or [].
func (r FCRReport) withEmptyBreakdowns() FCRReport {
	r.ByChannel, r.ByTopic, r.ByAgent, r.ByQueue = map[string]FCRSegment{}, map[string]FCRSegment{}, map[string]FCRSegment{}, map[string]FCRSegment{}
	r.ByAgentKind, r.ByDay, r.ByWeek = map[string]FCRSegment{}, map[string]FCRSegment{}, map[string]FCRSegment{}
	r.ChannelSwitch = map[string]map[string]int64{}
	r.RepeatTopics = []FCRRepeatTopic{}
	return r
}
