package simulate

import (
	"maps"
	"time"

	"github.com/truefcr/truefcr/events"
)

// Truth counts what a run emitted, as the generator meant it, so that a
// test can hold a projection's figures against it. Everything cut off at
// the end of the log is left out. A fresh problem that happens to come
// from the same customer with the same topic soon after an earlier one is
// counted as Fresh, though repeat inference will rightly chain the two:
// with few customers and many issues, expect more inferred repeats than
// Repeats.
type Truth struct {
	// Events is how many events were emitted.
	Events int
	// Issues is how many issues were opened; Fresh of them are new
	// problems, Repeats and LateRepeats are new issues about an earlier
	// problem of the same customer and topic (opened while it was open or
	// within Window of its resolution, and after Window), and
	// ContainmentFailures are those repeats whose earlier issue a bot
	// resolved.
	Issues, Fresh, Repeats, LateRepeats, ContainmentFailures int
	// Customers is how many distinct customers opened an issue, TwoKey how
	// many of them are known by two keys that not every event carries.
	Customers, TwoKey int
	// Offered is how many inbound contacts arrived (opened, contacted and
	// reopened), Answered how many of them an agent or a bot took, and
	// Abandoned how many were given up in the queue.
	Offered, Answered, Abandoned int
	// FollowUps is how many issue.contacted events there were; Retries of
	// them came after an abandoned attempt on the issue.
	FollowUps, Retries int
	// Reopens is how many issue.reopened events there were.
	Reopens int
	// Routings counts issue.routed events, Transfers those of them that
	// routed a contact again, Consults issue.consulted events.
	Routings, Transfers, Consults int
	// Resolutions counts issue.resolved events, BotResolutions those by a
	// bot, FirstContactResolutions those on an issue that had exactly one
	// answered contact (what per-ticket FCR counts as a success), and
	// AutoClosed those by which the helpdesk closed an issue left open.
	Resolutions, BotResolutions, FirstContactResolutions, AutoClosed int
	// Surveys counts issue.rated events by survey.
	Surveys map[events.Survey]int
	// Classifications counts issue.classified events.
	Classifications int
	// ByChannel and ByTopic count opened issues by channel and topic.
	ByChannel, ByTopic map[string]int
	// Wait is the total queue wait of answered contacts routed from a
	// queue (ASA = Wait / Queued); Queued is how many there were.
	Wait   time.Duration
	Queued int
	// Handle is the total handle time of resolutions.
	Handle time.Duration
}

// clone returns a copy that shares no maps with t.
func (t Truth) clone() Truth {
	t.Surveys = maps.Clone(t.Surveys)
	t.ByChannel = maps.Clone(t.ByChannel)
	t.ByTopic = maps.Clone(t.ByTopic)
	return t
}

// tag says what a planned event means beyond its type, for Truth.
type tag uint16

const (
	tagAnswered tag = 1 << iota // the contact was taken by an agent or a bot
	tagQueued                   // answered from a queue, so its wait counts
	tagTransfer
	tagFresh
	tagRepeat
	tagLateRepeat
	tagContainment
	tagRetry
	tagFirstContact // a resolution after exactly one answered contact
	tagAutoClose    // the helpdesk closed an issue left open
)

// count adds one emitted event to t.
func (t *Truth) count(e events.Envelope, tg tag) {
	t.Events++
	if tg&tagAnswered != 0 {
		t.Answered++
	}
	switch d := e.Data.(type) {
	case *events.Opened: // ByChannel and ByTopic are counted by index, see run.snapshot

		t.Issues++
		t.Offered++
		switch {
		case tg&tagFresh != 0:
			t.Fresh++
		case tg&tagRepeat != 0:
			t.Repeats++
		case tg&tagLateRepeat != 0:
			t.LateRepeats++
		}
		if tg&tagContainment != 0 {
			t.ContainmentFailures++
		}
	case *events.Contacted:
		t.Offered++
		t.FollowUps++
		if tg&tagRetry != 0 {
			t.Retries++
		}
	case *events.Reopened:
		t.Offered++
		t.Reopens++
	case *events.Abandoned:
		t.Abandoned++
	case *events.Routed:
		t.Routings++
		if tg&tagTransfer != 0 {
			t.Transfers++
		}
		if tg&tagQueued != 0 {
			t.Queued++
			t.Wait += d.Wait
		}
	case *events.Consulted:
		t.Consults++
	case *events.Resolved:
		t.Resolutions++
		t.Handle += d.Handle
		if d.Bot {
			t.BotResolutions++
		}
		if tg&tagFirstContact != 0 {
			t.FirstContactResolutions++
		}
		if tg&tagAutoClose != 0 {
			t.AutoClosed++
		}
	case *events.Rated:
		t.Surveys[d.Survey]++
	case *events.Classified:
		t.Classifications++
	}
}
