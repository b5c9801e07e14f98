package projections

import (
	"encoding/json"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
)

// Monday 09:00 a customer chats about an invoice error and the agent
// resolves it at 09:10; Tuesday 10:00 the same customer phones about the
// same topic and another agent resolves that at 10:10. One problem, two
// counted contacts, the second within 7 days of the first resolution:
// true FCR 0/1. Each ticket was resolved on its own opening contact:
// reported FCR 2/2, inflation 1. The clock issue 30 days later makes the
// verdict final and is one unresolved problem.
func TestFCRChatThenCall(t *testing.T) {
	l := newFCRLog()
	keys := []string{"email:anna@example.com"}
	a, ca := l.open(at(0, 9, 0), keys, "chat", "billing/invoice-error")
	l.route(a, at(0, 9, 1), ca, "billing", "ann")
	l.resolve(a, at(0, 9, 10), ca, "ann", false)
	l.rate(a, at(0, 9, 20), 5)
	b, cb := l.open(at(1, 10, 0), keys, "phone", "billing/invoice-error")
	l.route(b, at(1, 10, 1), cb, "billing-voice", "bob")
	l.resolve(b, at(1, 10, 10), cb, "bob", false)
	l.rate(b, at(1, 10, 20), 2)
	l.tick(at(30, 0, 0))

	r := runFCR(t, FCRConfig{}, l.evs)
	assert.Equal(t, FCRRate{Achieved: 0, Total: 1, Rate: 0, CI95: wilsonPair(0, 1), Small: true}, r.True)
	assert.Equal(t, FCRRate{Achieved: 2, Total: 2, Rate: 1, CI95: wilsonPair(2, 2), Small: true}, r.Reported)
	assert.InDelta(t, 1.0, r.Inflation, 1e-12)
	assert.Equal(t, int64(2), r.Problems)
	assert.Equal(t, int64(3), r.Issues)
	assert.Equal(t, int64(1), r.Failed)
	assert.Equal(t, int64(0), r.Achieved)
	assert.Equal(t, int64(1), r.Unresolved)
	assert.Equal(t, int64(0), r.Pending)

	// The problem's first channel is chat; the tickets' own channels are
	// chat and phone.
	assert.Equal(t, int64(1), r.ByChannel["chat"].True.Total)
	assert.Equal(t, int64(0), r.ByChannel["chat"].True.Achieved)
	assert.Equal(t, int64(1), r.ByChannel["chat"].Reported.Achieved)
	assert.Equal(t, int64(1), r.ByChannel["phone"].Reported.Achieved)
	assert.Equal(t, int64(0), r.ByChannel["phone"].True.Total)
	// Resolved by ann in queue billing: the problem's resolution.
	assert.Equal(t, int64(1), r.ByAgent["ann"].True.Total)
	assert.Equal(t, int64(0), r.ByAgent["bob"].True.Total)
	assert.Equal(t, int64(1), r.ByQueue["billing"].True.Total)
	assert.Equal(t, int64(1), r.ByQueue["billing-voice"].Reported.Total)
	assert.Equal(t, int64(1), r.ByAgentKind["human"].True.Total)
	assert.Equal(t, int64(1), r.ByDay["2026-03-02"].True.Total)
	assert.Equal(t, int64(1), r.ByWeek["2026-W10"].True.Total)
	assert.Equal(t, int64(1), r.ByTopic["billing/invoice-error"].True.Total)

	assert.Equal(t, map[string]map[string]int64{"chat": {"phone": 1}}, r.ChannelSwitch)
	assert.Equal(t, []FCRRepeatTopic{{Topic: "billing/invoice-error", Repeats: 1, Share: 1, Problems: 1}}, r.RepeatTopics)
	assert.Equal(t, FCRContacts{Two: 1}, r.ContactsPerProblem)
	// CSAT 5 and 2 on the failed problem: mean 3.5, one top-2 answer of two.
	assert.Equal(t, FCRCSAT{Problems: 1, Answers: 2, Mean: 3.5, Top2: NewRate(1, 2)}, r.CSAT.Failed)
	assert.Equal(t, FCRCSAT{Top2: NewRate(0, 0)}, r.CSAT.Achieved)
}

func wilsonPair(hits, total int64) [2]float64 {
	lo, hi := Wilson(hits, total)
	return [2]float64{lo, hi}
}

// Monday the customer phones and is helped; nine days later (more than
// W = 7 days after the resolution) they phone about the same topic again.
// The first issue is no longer live, so there are two problems, each with
// one contact: true 2/2, reported 2/2, no inflation.
func TestFCRRepeatAfterWindow(t *testing.T) {
	l := newFCRLog()
	keys := []string{"phone:+358401234567"}
	l.solved(at(0, 9, 0), keys, "phone", "tech/wifi", "ann")
	l.solved(at(9, 9, 0), keys, "phone", "tech/wifi", "ann")
	l.tick(at(40, 0, 0))

	r := runFCR(t, FCRConfig{}, l.evs)
	assert.Equal(t, int64(2), r.True.Achieved)
	assert.Equal(t, int64(2), r.True.Total)
	assert.Equal(t, int64(2), r.Reported.Achieved)
	assert.InDelta(t, 0, r.Inflation, 1e-12)
	assert.Equal(t, FCRContacts{One: 2}, r.ContactsPerProblem)
	assert.Empty(t, r.ChannelSwitch)
	assert.Empty(t, r.RepeatTopics)
}

// The bot resolves a chat at 09:05; at 11:00 the customer phones about the
// same thing and a human resolves it. One failed problem whose resolution
// was the bot's: bot containment 0/1, true FCR of bots 0/1; each ticket
// by itself looks solved first time: reported 1/1 for bot and for human.
func TestFCRBotFollowedByCall(t *testing.T) {
	l := newFCRLog()
	keys := []string{"account:A-1"}
	a, ca := l.open(at(0, 9, 0), keys, "bot", "orders/where-is-my-order")
	l.resolve(a, at(0, 9, 5), ca, "", true)
	l.solved(at(0, 11, 0), keys, "phone", "orders/where-is-my-order", "bob")
	l.tick(at(30, 0, 0))

	r := runFCR(t, FCRConfig{}, l.evs)
	assert.Equal(t, FCRRate{Achieved: 0, Total: 1, CI95: wilsonPair(0, 1), Small: true}, r.BotContainment)
	assert.Equal(t, int64(1), r.ByAgentKind["bot"].True.Total)
	assert.Equal(t, int64(0), r.ByAgentKind["bot"].True.Achieved)
	assert.Equal(t, int64(1), r.ByAgentKind["bot"].Reported.Achieved)
	assert.Equal(t, int64(1), r.ByAgentKind["human"].Reported.Achieved)
	assert.Equal(t, int64(0), r.ByAgentKind["human"].True.Total)
	assert.Equal(t, int64(1), r.ByAgent["(none)"].True.Total, "a bot without an agent name")
	assert.Equal(t, map[string]map[string]int64{"bot": {"phone": 1}}, r.ChannelSwitch)
}

// Monday a caller known by phone:1 is helped; Tuesday an emailer known by
// email:x asks about the same topic and is helped. Nothing links them:
// two achieved problems (once the window has passed, on day 15).
//
// If on Thursday (day 3) an issue.opened carries both keys, they are one
// customer, inference is redone, and the two issues are one failed
// problem: true 0/1, the day-3 issue (another topic, unresolved) and the
// clock are problems of their own. The link came before Monday's issue
// settled (day 7), so it counts.
//
// If the same issue comes on day 20 instead, Monday's issue had settled
// before the link was made: it does not count for it (a projection that
// folded the problem could not revise it), and the two problems stay
// achieved. Later issues of the customer are linked as usual: a call on
// day 21 by phone:1 about the day-20 issue's topic, resolved at once, is
// a repeat of it (one failed problem): true 2/3.
func TestFCRIdentityLinkedLater(t *testing.T) {
	base := func() *fcrLog {
		l := newFCRLog()
		l.solved(at(0, 9, 0), []string{"phone:1"}, "phone", "billing/refund", "ann")
		l.solved(at(1, 9, 0), []string{"email:x"}, "email", "billing/refund", "bob")
		return l
	}
	alone := base()
	alone.tick(at(15, 0, 0))
	before := runFCR(t, FCRConfig{}, alone.evs)
	assert.Equal(t, int64(2), before.True.Achieved)
	assert.Equal(t, int64(2), before.True.Total)

	within := base()
	within.open(at(3, 9, 0), []string{"email:x", "phone:1"}, "web", "account/address")
	within.tick(at(15, 0, 0))
	after := runFCR(t, FCRConfig{}, within.evs)
	assert.Equal(t, int64(0), after.True.Achieved)
	assert.Equal(t, int64(1), after.True.Total)
	assert.Equal(t, int64(3), after.Problems, "the linked problem, the new issue and the clock")
	assert.Equal(t, map[string]map[string]int64{"phone": {"email": 1}}, after.ChannelSwitch)

	late := base()
	late.open(at(20, 9, 0), []string{"email:x", "phone:1"}, "web", "account/address")
	late.solved(at(21, 9, 0), []string{"phone:1"}, "phone", "account/address", "ann")
	late.tick(at(40, 0, 0))
	r := runFCR(t, FCRConfig{}, late.evs)
	assert.Equal(t, int64(2), r.True.Achieved, "the day-0 and day-1 problems")
	assert.Equal(t, int64(3), r.True.Total)
	assert.Equal(t, int64(1), r.Failed, "the day-20 and day-21 issues are one problem, with two contacts")
}

// A customer who already has an id in the CRM is linked by it too.
func TestFCRIdentityByCustomerID(t *testing.T) {
	l := newFCRLog()
	a, ca := l.open(at(0, 9, 0), nil, "phone", "x")
	l.evs[len(l.evs)-1].Data.(*events.Opened).Customer.ID = "C-1"
	l.resolve(a, at(0, 9, 5), ca, "ann", false)
	b, cb := l.open(at(0, 12, 0), []string{"email:z"}, "email", "x")
	l.evs[len(l.evs)-1].Data.(*events.Opened).Customer.ID = "C-1"
	l.resolve(b, at(0, 12, 5), cb, "ann", false)
	l.tick(at(30, 0, 0))
	r := runFCR(t, FCRConfig{}, l.evs)
	assert.Equal(t, int64(1), r.Failed)
	assert.Equal(t, int64(0), r.Achieved)
}

// The customer phones at 09:00, follows up by chat at 12:00 ("is my case
// moving?") and the issue is resolved at 13:00 on the chat. Two counted
// contacts before the resolution: true 0/1. The ticket was not resolved
// on its opening contact: reported 0/1.
func TestFCRFollowUpOnOpenIssue(t *testing.T) {
	l := newFCRLog()
	a, _ := l.open(at(0, 9, 0), []string{"phone:2"}, "phone", "orders/late")
	c := l.contacted(a, at(0, 12, 0), "chat")
	l.resolve(a, at(0, 13, 0), c, "ann", false)
	l.tick(at(30, 0, 0))
	r := runFCR(t, FCRConfig{}, l.evs)
	assert.Equal(t, int64(1), r.Failed)
	assert.Equal(t, int64(0), r.Reported.Achieved)
	assert.Equal(t, int64(1), r.Reported.Total)
	assert.Equal(t, map[string]map[string]int64{"phone": {"chat": 1}}, r.ChannelSwitch)
	assert.Equal(t, FCRContacts{Two: 1}, r.ContactsPerProblem)
}

// A reopen on the issue itself within the window is a second contact.
func TestFCRReopenWithinWindow(t *testing.T) {
	l := newFCRLog()
	a := l.solved(at(0, 9, 0), []string{"phone:3"}, "phone", "tech/tv", "ann")
	c := l.reopen(a, at(2, 9, 0), "email")
	l.resolve(a, at(2, 10, 0), c, "bob", false)
	l.tick(at(30, 0, 0))
	r := runFCR(t, FCRConfig{}, l.evs)
	assert.Equal(t, int64(1), r.Failed)
	assert.Equal(t, int64(1), r.Reported.Achieved, "the ticket was first resolved on its opening contact")
}

// The customer's first call is abandoned in the queue at 09:02; they call
// again at 09:10, are answered and resolved at 09:20. The abandoned
// attempt is not a counted contact: one counted contact, true 1/1. Nor
// is it a contact for the ticket, which was resolved on its first
// counted contact: reported 1/1.
func TestFCRAbandonedThenAnswered(t *testing.T) {
	l := newFCRLog()
	a, c1 := l.open(at(0, 9, 0), []string{"phone:4"}, "phone", "billing/plan")
	l.abandon(a, at(0, 9, 2), c1)
	c2 := l.contacted(a, at(0, 9, 10), "phone")
	l.resolve(a, at(0, 9, 20), c2, "ann", false)
	l.tick(at(30, 0, 0))
	r := runFCR(t, FCRConfig{}, l.evs)
	assert.Equal(t, int64(1), r.True.Achieved)
	assert.Equal(t, int64(1), r.True.Total)
	assert.Equal(t, [2]int64{1, 1}, [2]int64{r.Reported.Achieved, r.Reported.Total}, "resolved on its first counted contact")
	assert.Equal(t, FCRContacts{One: 1}, r.ContactsPerProblem)
	assert.Equal(t, int64(1), r.ByDay["2026-03-02"].True.Achieved, "the first counted contact's day")
}

// An issue whose only contact was abandoned and that was resolved by a
// callback has no counted contact: no_contact, in no denominator.
func TestFCROnlyAbandoned(t *testing.T) {
	l := newFCRLog()
	a, c1 := l.open(at(0, 9, 0), []string{"phone:5"}, "phone", "billing/plan")
	l.abandon(a, at(0, 9, 2), c1)
	l.resolve(a, at(0, 11, 0), c1, "ann", false)
	l.tick(at(30, 0, 0))
	r := runFCR(t, FCRConfig{}, l.evs)
	assert.Equal(t, int64(1), r.NoContact)
	assert.Equal(t, int64(0), r.True.Total)
	assert.Equal(t, int64(0), r.Reported.Total)
}

// The customer's call at 09:00 is abandoned and the helpdesk closes the
// ticket on it at 18:00; they call again the next morning about the same
// thing, are answered and resolved. One problem, whose only counted
// contact came after its resolution: failed. The first ticket had no
// counted contact, so it was not resolved on one: reported 1/2, where
// counting the abandoned call as its first contact gave 2/2.
func TestFCRClosedOnAbandonedAttempt(t *testing.T) {
	l := newFCRLog()
	keys := []string{"phone:6"}
	a, c1 := l.open(at(0, 9, 0), keys, "phone", "billing/plan")
	l.abandon(a, at(0, 9, 2), c1)
	l.resolve(a, at(0, 18, 0), c1, "auto", false)
	l.solved(at(1, 9, 0), keys, "phone", "billing/plan", "ann")
	l.tick(at(30, 0, 0))
	r := runFCR(t, FCRConfig{}, l.evs)
	assert.Equal(t, int64(1), r.Failed)
	assert.Equal(t, [2]int64{1, 2}, [2]int64{r.Reported.Achieved, r.Reported.Total})
	assert.Equal(t, [2]int64{0, 1}, [2]int64{r.ByAgent["auto"].Reported.Achieved, r.ByAgent["auto"].Reported.Total}, "the closed ticket")
}

// With a lateness of one hour and the watermark at 12:00: a reopen at
// 11:30 is within the lateness and turns the 09:00 problem into a failed
// one; a rating at 10:30 of a live issue is late but applied; an
// issue.opened at 10:00 of an issue never seen is late and only counted.
// Events delivered shuffled and several times give the report of the log
// in order.
// Monday billing/invoice-error, Tuesday billing/refund, Wednesday
// tech/wifi, each resolved on its contact. Same topic: three problems, all
// achieved. Same top-level topic: Monday and Tuesday are one failed
// problem, Wednesday achieved. Any topic: Tuesday repeats Monday and
// Wednesday repeats Tuesday: one failed problem of three contacts.
func TestFCRMatchRules(t *testing.T) {
	l := newFCRLog()
	keys := []string{"phone:8"}
	l.solved(at(0, 9, 0), keys, "phone", "billing/invoice-error", "ann")
	l.solved(at(1, 9, 0), keys, "chat", "billing/refund", "ann")
	l.solved(at(2, 9, 0), keys, "email", "tech/wifi", "ann")
	l.tick(at(30, 0, 0))

	tests := []struct {
		match              TopicMatch
		achieved, failed   int64
		contacts           FCRContacts
		reportedAchieved   int64
		channelSwitchTotal int64
	}{
		{MatchTopic, 3, 0, FCRContacts{One: 3}, 3, 0},
		{MatchRoot, 1, 1, FCRContacts{One: 1, Two: 1}, 3, 1},
		{MatchAny, 0, 1, FCRContacts{Three: 1}, 3, 2},
	}
	for _, tt := range tests {
		t.Run(tt.match.String(), func(t *testing.T) {
			r := runFCR(t, FCRConfig{Match: tt.match}, l.evs)
			assert.Equal(t, tt.achieved, r.Achieved)
			assert.Equal(t, tt.failed, r.Failed)
			assert.Equal(t, tt.contacts, r.ContactsPerProblem)
			assert.Equal(t, tt.reportedAchieved, r.Reported.Achieved)
			var switches int64
			for _, row := range r.ChannelSwitch {
				for _, n := range row {
					switches += n
				}
			}
			assert.Equal(t, tt.channelSwitchTotal, switches)
			assert.Equal(t, tt.match.String(), r.Definition.Match)
		})
	}
}

// An issue reclassified onto the topic of an earlier live issue becomes a
// repeat of it: the current topic counts.
func TestFCRReclassification(t *testing.T) {
	l := newFCRLog()
	keys := []string{"phone:10"}
	l.solved(at(0, 9, 0), keys, "phone", "billing/refund", "ann")
	b := l.solved(at(1, 9, 0), keys, "chat", "general", "ann")
	l.tick(at(30, 0, 0))
	assert.Equal(t, int64(2), runFCR(t, FCRConfig{}, l.evs).Achieved)

	l.classify(b, at(1, 9, 30), "billing/refund")
	r := runFCR(t, FCRConfig{}, l.evs)
	assert.Equal(t, int64(0), r.Achieved)
	assert.Equal(t, int64(1), r.Failed)
}

// Resolved Monday 09:10 with W = 7 days: the verdict is pending while the
// watermark is at or before the next Monday 09:10, and final after it.
// The JSON form has the keys a full report relies on.
func TestFCRReportJSON(t *testing.T) {
	l := newFCRLog()
	l.solved(at(0, 9, 0), []string{"phone:12"}, "phone", "tech/tv", "ann")
	l.tick(at(30, 0, 0))
	b, err := json.Marshal(runFCR(t, FCRConfig{}, l.evs))
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	for _, k := range []string{"definition", "true", "reported", "pending", "by_channel", "problems", "issues",
		"unresolved", "failed", "late_events", "held_events", "channel_switch", "repeat_topics",
		"contacts_per_problem", "csat", "by_agent_kind", "by_week"} {
		assert.Contains(t, m, k)
	}
	tr := m["true"].(map[string]any)
	assert.Equal(t, 1.0, tr["achieved"])
	assert.Equal(t, 1.0, tr["total"])
	assert.Len(t, tr["ci95"], 2)
	def := m["definition"].(map[string]any)
	assert.Equal(t, 604800.0, def["window_seconds"])
	assert.Equal(t, "topic", def["match"])
	assert.Equal(t, map[string]any{"true": tr, "reported": m["reported"], "inflation": 0.0}, m["by_channel"].(map[string]any)["phone"])
}

// With W = 24 h and a lateness of 1 h, a problem solved on Monday is
// folded once the watermark passes Tuesday 10:10: its issue is freed. A
// reopen of it on Thursday then waits for a gap that never fills (the
// projection forgot the issue) and, once beyond the lateness, is counted
// as orphaned. A stream that does not start with issue.opened is ignored.
// The small-sample flag follows MinSample, in every rate of the report.
func TestFCRMinSample(t *testing.T) {
	l := newFCRLog()
	a := l.solved(at(0, 9, 0), []string{"phone:14"}, "phone", "tech/tv", "ann")
	l.rate(a, at(0, 9, 30), 4)
	l.tick(at(30, 0, 0))
	for _, tt := range []struct {
		minSample int64
		small     bool
	}{{0, true}, {1, false}, {2, true}} {
		r := runFCR(t, FCRConfig{MinSample: tt.minSample}, l.evs)
		require.Equal(t, int64(1), r.True.Total)
		assert.Equal(t, tt.small, r.True.Small, "min sample %d", tt.minSample)
		assert.Equal(t, tt.small, r.Reported.Small)
		assert.Equal(t, tt.small, r.ByChannel["phone"].True.Small)
		assert.Equal(t, tt.small, r.CSAT.Achieved.Top2.Small)
	}
}

// A problem first contacted on the first UTC day that the projections
// take (1678-01-01, as the codecs write), and one on the last, count
// under their own days, and a snapshot of each restores.
func TestFCRDaysAtTheEndsOfTheRange(t *testing.T) {
	first := time.Date(1678, 1, 1, 1, 0, 0, 0, time.UTC)
	last := time.Date(2261, 12, 31, 22, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		at  time.Time
		day string
	}{{first, "1678-01-01"}, {last, "2261-12-31"}} {
		l := newFCRLog()
		a, ca := l.open(c.at, []string{"email:anna@example.com"}, "chat", "billing")
		l.resolve(a, c.at.Add(time.Minute), ca, "ann", false)
		f := mustFCR(FCRConfig{Window: time.Hour, Lateness: time.Minute, MaxFuture: -1})
		for _, e := range l.evs {
			require.NoError(t, f.Apply(e))
		}
		require.NoError(t, f.AdvanceTo(c.at.Add(90*time.Minute)))
		r := f.Report()
		assert.Equal(t, []string{c.day}, slices.Collect(maps.Keys(r.ByDay)), "%s", c.at)
		assert.Equal(t, int64(1), r.ByDay[c.day].True.Achieved, "%s", c.at)
		snap, err := f.MarshalBinary()
		require.NoError(t, err)
		g := mustFCR(FCRConfig{Window: time.Hour, Lateness: time.Minute, MaxFuture: -1})
		require.NoError(t, g.UnmarshalBinary(snap))
		assert.Equal(t, r, g.Report())
	}
}

// A problem whose only counted contact came after its resolution (the
// opening call abandoned, the issue closed on it, the customer back on
// chat the next day) failed: the resolution did not hold. The report's
// definition says so, where it read that one counted contact achieved.
func TestOneCountedContactAfterTheResolutionFailed(t *testing.T) {
	l := newFCRLog()
	issue, c := l.open(at(0, 9, 0), []string{"phone:+358401234567"}, "phone", "billing")
	l.abandon(issue, at(0, 9, 1), c)
	l.resolve(issue, at(0, 9, 30), c, "agent-1", false) // closed after a callback
	l.reopen(issue, at(1, 9, 0), "chat")
	f := mustFCR(FCRConfig{})
	l.flush(t, f)
	require.NoError(t, f.AdvanceTo(at(30, 0, 0)))
	rep := f.Report()
	assert.Equal(t, int64(0), rep.Achieved)
	assert.Equal(t, int64(1), rep.Failed)
	assert.Contains(t, rep.Definition.Denominator, "number exactly one, at or before the resolution (achieved), or more, or only after it (failed")
}
