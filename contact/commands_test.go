package contact_test

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/contact"
	"github.com/truefcr/truefcr/contact/contacttest"
	"github.com/truefcr/truefcr/events"
)

var (
	c1 = contacttest.Contact(1)
	c2 = contacttest.Contact(2)
)

func opened() *events.Opened {
	return &events.Opened{
		Customer: events.Customer{Keys: []string{"email:anna@example.com"}},
		Channel:  "chat", Topic: "billing/invoice-error", Contact: c1,
	}
}

func routed() *events.Routed     { return &events.Routed{Contact: c1, Queue: "billing", Agent: "maria"} }
func resolved() *events.Resolved { return &events.Resolved{Contact: c1, Agent: "maria"} }

// manyKeys returns n distinct account keys.
func manyKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("account:%d", i)
	}
	return keys
}

func TestCommandsRefused(t *testing.T) {
	anna := events.Customer{Keys: []string{"email:anna@example.com"}}
	tests := []struct {
		name   string
		given  []events.Data
		cmd    contact.Command
		err    error
		reason string
	}{
		{"open an open issue", []events.Data{opened()}, contact.Open{Customer: anna, Channel: "chat", Topic: "billing"}, contact.ErrIssueExists, "already opened at 2026-03-02T09:01:00Z"},
		{"open a resolved issue", []events.Data{opened(), resolved()}, contact.Open{Customer: anna, Channel: "chat", Topic: "billing"}, contact.ErrIssueExists, "already opened"},
		{"open for nobody", nil, contact.Open{Channel: "chat", Topic: "billing"}, contact.ErrInvalidCommand, "neither an id nor an identity key"},
		{"open with blank customer id", nil, contact.Open{Customer: events.Customer{ID: "  "}, Channel: "chat", Topic: "billing"}, contact.ErrInvalidCommand, "neither an id nor an identity key"},
		{"open with a malformed key", nil, contact.Open{Customer: events.Customer{Keys: []string{"Phone:040"}}, Channel: "chat", Topic: "billing"}, contact.ErrInvalidKey, `"Phone:040"`},
		{"open with a national phone and no default country", nil, contact.Open{Customer: events.Customer{Keys: []string{"phone:040 123 4567"}}, Channel: "phone", Topic: "billing"}, contact.ErrInvalidKey, "no default country"},
		{"open without channel", nil, contact.Open{Customer: anna, Topic: "billing"}, contact.ErrInvalidCommand, "no channel"},
		{"open with an upper-case channel", nil, contact.Open{Customer: anna, Channel: "Phone", Topic: "billing"}, contact.ErrInvalidCommand, `channel "Phone"`},
		{"open without topic", nil, contact.Open{Customer: anna, Channel: "chat"}, contact.ErrInvalidCommand, "no topic"},
		{"open with an empty topic segment", nil, contact.Open{Customer: anna, Channel: "chat", Topic: "billing//refund"}, contact.ErrInvalidCommand, `topic "billing//refund"`},
		{"open with a trailing slash", nil, contact.Open{Customer: anna, Channel: "chat", Topic: "billing/"}, contact.ErrInvalidCommand, "empty or padded segment"},
		{"open with a padded segment", nil, contact.Open{Customer: anna, Channel: "chat", Topic: "billing/ refund"}, contact.ErrInvalidCommand, "empty or padded segment"},

		{"route on a never opened issue", nil, contact.Route{Contact: c1, Queue: "billing"}, contact.ErrUnknownIssue, "never opened"},
		{"consult on a never opened issue", nil, contact.Consult{Contact: c1, Agent: "maria", Expert: "olli"}, contact.ErrUnknownIssue, "never opened"},
		{"resolve a never opened issue", nil, contact.Resolve{}, contact.ErrUnknownIssue, "never opened"},
		{"reopen a never opened issue", nil, contact.Reopen{Channel: "phone"}, contact.ErrUnknownIssue, "never opened"},
		{"follow up a never opened issue", nil, contact.FollowUp{Channel: "phone"}, contact.ErrUnknownIssue, "never opened"},
		{"reply to a never opened issue", nil, contact.Reply{Channel: "phone"}, contact.ErrUnknownIssue, "never opened"},
		{"abandon on a never opened issue", nil, contact.Abandon{}, contact.ErrUnknownIssue, "never opened"},
		{"rate a never opened issue", nil, contact.Rate{Survey: events.SurveyCSAT, Score: 5}, contact.ErrUnknownIssue, "never opened"},
		{"classify a never opened issue", nil, contact.Classify{Topic: "billing"}, contact.ErrUnknownIssue, "never opened"},

		{"resolve a resolved issue", []events.Data{opened(), routed(), resolved()}, contact.Resolve{Agent: "maria"}, contact.ErrAlreadyResolved, "already resolved at 2026-03-02T09:03:00Z"},
		{"reopen an open issue", []events.Data{opened()}, contact.Reopen{Channel: "phone"}, contact.ErrNotResolved, "follow-up"},
		{"follow up a resolved issue", []events.Data{opened(), resolved()}, contact.FollowUp{Channel: "phone"}, contact.ErrAlreadyResolved, "is a reopen"},
		{"route on a resolved issue", []events.Data{opened(), resolved()}, contact.Route{Queue: "billing"}, contact.ErrAlreadyResolved, "already resolved"},
		{"consult on a resolved issue", []events.Data{opened(), resolved()}, contact.Consult{Agent: "maria", Expert: "olli"}, contact.ErrAlreadyResolved, "already resolved"},
		{"abandon on a resolved issue", []events.Data{opened(), resolved()}, contact.Abandon{}, contact.ErrAlreadyResolved, "already resolved"},

		{"route a foreign contact", []events.Data{opened()}, contact.Route{Contact: c2, Queue: "billing"}, contact.ErrUnknownContact, "contact " + c2.String() + " does not belong"},
		{"consult on a foreign contact", []events.Data{opened()}, contact.Consult{Contact: c2, Agent: "maria", Expert: "olli"}, contact.ErrUnknownContact, c2.String()},
		{"resolve on a foreign contact", []events.Data{opened()}, contact.Resolve{Contact: c2}, contact.ErrUnknownContact, c2.String()},
		{"abandon a foreign contact", []events.Data{opened()}, contact.Abandon{Contact: c2}, contact.ErrUnknownContact, c2.String()},
		{"rate a foreign contact", []events.Data{opened()}, contact.Rate{Survey: events.SurveyCSAT, Score: 4, Contact: c2}, contact.ErrUnknownContact, c2.String()},

		{"route an abandoned contact", []events.Data{opened(), &events.Abandoned{Contact: c1}}, contact.Route{Queue: "billing"}, contact.ErrAbandoned, "abandoned in the queue"},
		{"consult on an abandoned contact", []events.Data{opened(), &events.Abandoned{Contact: c1}}, contact.Consult{Agent: "maria", Expert: "olli"}, contact.ErrAbandoned, "abandoned"},
		{"resolve on an abandoned contact of an answered issue", []events.Data{opened(), &events.Abandoned{Contact: c1}, &events.Contacted{Contact: c2, Channel: "chat"}},
			contact.Resolve{Contact: c1}, contact.ErrAbandoned, "resolve the issue on one that was not, such as " + c2.String()},
		{"abandon an answered contact", []events.Data{opened(), routed()}, contact.Abandon{Contact: c1}, contact.ErrAnswered, "already answered (routed to billing)"},
		{"abandon twice", []events.Data{opened(), &events.Abandoned{Contact: c1}}, contact.Abandon{}, contact.ErrAbandoned, "already abandoned"},
		{"abandon a contact a bot resolved, after a reopen", []events.Data{opened(), &events.Resolved{Contact: c1, Bot: true}, &events.Reopened{Contact: c2, Channel: "phone"}},
			contact.Abandon{Contact: c1}, contact.ErrContactEnded, "contact " + c1.String() + " ended before the issue was reopened on contact " + c2.String() + " at 2026-03-02T09:03:00Z"},
		// A reopen's resolution ended every contact before it: a transfer
		// or a second resolution recorded on one of them would count
		// twice for it in the transfer rate and the reported FCR.
		{"route a contact from before a reopen", []events.Data{opened(), routed(), resolved(), &events.Reopened{Contact: c2, Channel: "phone"}},
			contact.Route{Contact: c1, Queue: "billing"}, contact.ErrContactEnded, "ended before the issue was reopened on contact " + c2.String()},
		{"consult on a contact from before a reopen", []events.Data{opened(), routed(), resolved(), &events.Reopened{Contact: c2, Channel: "phone"}},
			contact.Consult{Contact: c1, Agent: "maria", Expert: "olli"}, contact.ErrContactEnded, "act on that contact or a later one"},
		{"resolve on a contact from before a reopen", []events.Data{opened(), routed(), resolved(), &events.Reopened{Contact: c2, Channel: "phone"}},
			contact.Resolve{Contact: c1, Agent: "maria"}, contact.ErrContactEnded, "ended before the issue was reopened"},
		{"resolve on a contact from before the latest of two reopens", []events.Data{opened(), resolved(), &events.Reopened{Contact: c2, Channel: "phone"},
			&events.Resolved{Contact: c2}, &events.Reopened{Contact: contacttest.Contact(3), Channel: "email"}},
			contact.Resolve{Contact: c2}, contact.ErrContactEnded, "reopened on contact " + contacttest.Contact(3).String()},
		{"abandon a contact consulted on", []events.Data{opened(), &events.Consulted{Contact: c1, Agent: "maria", Expert: "olli"}},
			contact.Abandon{Contact: c1}, contact.ErrAnswered, "already handled"},

		{"route to no queue", []events.Data{opened()}, contact.Route{Agent: "maria"}, contact.ErrInvalidCommand, "no queue"},
		{"route to a padded queue", []events.Data{opened()}, contact.Route{Queue: "billing "}, contact.ErrInvalidCommand, `queue "billing " is padded with spaces: it would count apart from "billing"`},
		{"route to a padded agent", []events.Data{opened()}, contact.Route{Queue: "billing", Agent: " maria"}, contact.ErrInvalidCommand, `agent " maria" is padded`},
		{"route with a blank skill", []events.Data{opened()}, contact.Route{Queue: "billing", Skills: []string{"fi", " "}}, contact.ErrInvalidCommand, `skill " " is blank`},
		{"route with an empty skill", []events.Data{opened()}, contact.Route{Queue: "billing", Skills: []string{"fi", ""}}, contact.ErrInvalidCommand, `skill 2 of 2 is empty`},
		{"resolve by a blank agent", []events.Data{opened(), routed()}, contact.Resolve{Agent: "  "}, contact.ErrInvalidCommand, `agent "  " is blank: leave it empty for none`},
		{"resolve with a padded code", []events.Data{opened(), routed()}, contact.Resolve{Code: "fixed\u00a0"}, contact.ErrInvalidCommand, `code "fixed\u00a0" is padded`},
		{"abandon in a padded queue", []events.Data{opened()}, contact.Abandon{Queue: "billing\t"}, contact.ErrInvalidCommand, `queue "billing\t"`},
		{"route to an agent behind a byte-order mark", []events.Data{opened()}, contact.Route{Queue: "billing", Agent: "\ufeffmaria"}, contact.ErrInvalidCommand, `is padded`},
		{"route to an agent with a trailing zero-width space", []events.Data{opened()}, contact.Route{Queue: "billing", Agent: "maria\u200b"}, contact.ErrInvalidCommand, `is padded`},
		{"route to a zero-width agent", []events.Data{opened()}, contact.Route{Queue: "billing", Agent: "\u200b"}, contact.ErrInvalidCommand, `is blank`},
		{"route to a zero-width queue", []events.Data{opened()}, contact.Route{Queue: "\u200b"}, contact.ErrInvalidCommand, `no queue`},
		{"open with a topic behind a byte-order mark", nil, contact.Open{Customer: anna, Channel: "chat", Topic: "\ufeffbilling"}, contact.ErrInvalidCommand, "empty or padded segment"},
		{"consult a padded expert", []events.Data{opened(), routed()}, contact.Consult{Agent: "maria", Expert: "olli "}, contact.ErrInvalidCommand, `expert "olli " is padded`},
		{"consult nobody", []events.Data{opened(), routed()}, contact.Consult{Agent: "maria"}, contact.ErrInvalidCommand, "no expert"},
		{"consult without agent", []events.Data{opened(), routed()}, contact.Consult{Expert: "olli"}, contact.ErrInvalidCommand, "no agent"},
		{"negative wait in routing", []events.Data{opened()}, contact.Route{Queue: "billing", Wait: -time.Second}, contact.ErrInvalidCommand, "wait -1s is negative"},
		{"negative consult duration", []events.Data{opened(), routed()}, contact.Consult{Agent: "maria", Expert: "olli", Duration: -time.Minute}, contact.ErrInvalidCommand, "duration -1m0s is negative"},
		{"negative handle time", []events.Data{opened(), routed()}, contact.Resolve{Handle: -time.Second}, contact.ErrInvalidCommand, "handle time -1s is negative"},
		{"negative abandon wait", []events.Data{opened()}, contact.Abandon{Wait: -time.Second}, contact.ErrInvalidCommand, "wait -1s is negative"},
		{"open with a line break in its topic", nil, contact.Open{Customer: anna, Channel: "chat", Topic: "billing/re\nfund"}, contact.ErrInvalidCommand, `topic "billing/re\nfund" holds the control character U+000A`},
		{"route to a queue with a NUL", []events.Data{opened()}, contact.Route{Queue: "bill\x00ing"}, contact.ErrInvalidCommand, "queue \"bill\\x00ing\" holds the control character U+0000"},
		{"route to an agent with a tab", []events.Data{opened()}, contact.Route{Queue: "billing", Agent: "maria\t"}, contact.ErrInvalidCommand, "agent \"maria\\t\" holds the control character U+0009"},
		{"resolve by an agent with a line break", []events.Data{opened(), routed()}, contact.Resolve{Agent: "maria\r\n"}, contact.ErrInvalidCommand, "control character U+000D"},
		{"classify with a control character", []events.Data{opened()}, contact.Classify{Topic: "billing", Topics: []string{"re\x7ffund"}}, contact.ErrInvalidCommand, "secondary topic \"re\\x7ffund\" holds the control character U+007F"},
		{"abandon in a queue with a line break", []events.Data{opened()}, contact.Abandon{Queue: "billing\n"}, contact.ErrInvalidCommand, `queue "billing\n" holds the control character U+000A`},
		{"route with a skill that turns text around", []events.Data{opened()}, contact.Route{Queue: "billing", Skills: []string{"fi", "\u202eif"}}, contact.ErrInvalidCommand, `skill "\u202eif" holds the control of the direction of text U+202E`},
		{"route to a queue with a line separator", []events.Data{opened()}, contact.Route{Queue: "bill\u2028ing"}, contact.ErrInvalidCommand, "holds the line separator U+2028"},
		{"open for a customer id with a direction mark", nil, contact.Open{Customer: events.Customer{ID: "C-1\u200f"}, Channel: "chat", Topic: "billing"}, contact.ErrInvalidCommand, `customer id "C-1\u200f" holds the control of the direction of text U+200F`},
		{"resolve with a code that is not UTF-8", []events.Data{opened(), routed()}, contact.Resolve{Code: "ok\xff"}, contact.ErrInvalidCommand, `code "ok\xff" is not UTF-8`},
		{"route to a queue that is not UTF-8", []events.Data{opened()}, contact.Route{Queue: "bill\xffing"}, contact.ErrInvalidCommand, `queue "bill\xffing" is not UTF-8`},
		{"a wait that is an epoch in milliseconds", []events.Data{opened()}, contact.Route{Queue: "billing", Wait: 1_700_000_000_000 * time.Millisecond}, contact.ErrInvalidCommand,
			"wait 472222h13m20s is longer than the issue has existed: it opened at 2026-03-02T09:01:00Z, 1m0s before"},
		{"a wait longer than the issue and the slack", []events.Data{opened()}, contact.Route{Queue: "billing", Wait: time.Hour + time.Minute + time.Millisecond}, contact.ErrInvalidCommand, "wait 1h1m0.001s is longer than the issue has existed"},
		{"a wait of an event out of range", []events.Data{opened()}, contact.Route{Queue: "billing", Wait: time.Second, At: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)}, contact.ErrInvalidCommand, "event time 3000-01-01T00:00:00Z is out of range"},
		{"a consultation longer than the issue", []events.Data{opened(), routed()}, contact.Consult{Agent: "maria", Expert: "olli", Duration: 3 * time.Hour}, contact.ErrInvalidCommand, "duration 3h0m0s is longer than the issue has existed"},
		{"a handle time longer than the issue", []events.Data{opened(), routed()}, contact.Resolve{Handle: 3 * time.Hour}, contact.ErrInvalidCommand, "handle time 3h0m0s is longer than the issue has existed"},
		{"an abandon wait longer than the issue", []events.Data{opened()}, contact.Abandon{Wait: 3 * time.Hour}, contact.ErrInvalidCommand, "wait 3h0m0s is longer than the issue has existed"},

		{"reopen without channel", []events.Data{opened(), resolved()}, contact.Reopen{}, contact.ErrInvalidCommand, "no channel"},
		{"follow up on a bad channel", []events.Data{opened()}, contact.FollowUp{Channel: "e mail"}, contact.ErrInvalidCommand, `channel "e mail"`},
		{"reply without channel", []events.Data{opened()}, contact.Reply{}, contact.ErrInvalidCommand, "no channel"},
		{"reply to a resolved issue on a bad channel", []events.Data{opened(), resolved()}, contact.Reply{Channel: "e mail"}, contact.ErrInvalidCommand, `channel "e mail"`},
		{"reply reusing a contact id", []events.Data{opened()}, contact.Reply{Contact: c1, Channel: "phone"}, contact.ErrDuplicateContact, "contact " + c1.String() + " is already"},
		{"follow up reusing a contact id", []events.Data{opened()}, contact.FollowUp{Contact: c1, Channel: "phone"}, contact.ErrDuplicateContact, "contact " + c1.String() + " is already"},
		{"reopen reusing a contact id", []events.Data{opened(), resolved()}, contact.Reopen{Contact: c1, Channel: "phone"}, contact.ErrDuplicateContact, c1.String()},
		// A retry of a reopen, or of a follow-up once the issue was
		// resolved, is told as one, not by the issue's status.
		{"reopen again", []events.Data{opened(), resolved(), &events.Reopened{Contact: c2, Channel: "phone"}}, contact.Reopen{Contact: c2, Channel: "phone"}, contact.ErrDuplicateContact, c2.String()},
		{"follow up again once resolved", []events.Data{opened(), &events.Contacted{Contact: c2, Channel: "phone"}, resolved()}, contact.FollowUp{Contact: c2, Channel: "phone"}, contact.ErrDuplicateContact, c2.String()},

		{"survey of another kind", []events.Data{opened(), resolved()}, contact.Rate{Survey: "nss", Score: 3}, contact.ErrInvalidCommand, `survey "nss" is not csat, nps or ces`},
		{"csat 0", []events.Data{opened(), resolved()}, contact.Rate{Survey: events.SurveyCSAT, Score: 0}, contact.ErrInvalidCommand, "csat score 0 is outside 1–5"},
		{"csat 6", []events.Data{opened(), resolved()}, contact.Rate{Survey: events.SurveyCSAT, Score: 6}, contact.ErrInvalidCommand, "csat score 6 is outside 1–5"},
		{"nps -1", []events.Data{opened(), resolved()}, contact.Rate{Survey: events.SurveyNPS, Score: -1}, contact.ErrInvalidCommand, "nps score -1 is outside 0–10"},
		{"nps 11", []events.Data{opened(), resolved()}, contact.Rate{Survey: events.SurveyNPS, Score: 11}, contact.ErrInvalidCommand, "nps score 11 is outside 0–10"},
		{"ces 0", []events.Data{opened(), resolved()}, contact.Rate{Survey: events.SurveyCES, Score: 0}, contact.ErrInvalidCommand, "ces score 0 is outside 1–7"},
		{"ces 8", []events.Data{opened(), resolved()}, contact.Rate{Survey: events.SurveyCES, Score: 8}, contact.ErrInvalidCommand, "ces score 8 is outside 1–7"},

		{"open with a topic too long", nil, contact.Open{Customer: anna, Channel: "chat", Topic: strings.Repeat("t", 17<<20)}, contact.ErrInvalidCommand, `topic "tttttttttttttttttttttttttttttttt"… is 17825792 bytes long, more than 1024`},
		{"open on a channel too long", nil, contact.Open{Customer: anna, Channel: strings.Repeat("c", contact.MaxText+1), Topic: "billing"}, contact.ErrInvalidCommand, "is 1025 bytes long, more than 1024"},
		{"open with a key not UTF-8", nil, contact.Open{Customer: events.Customer{Keys: []string{"account:\xff\xfe"}}, Channel: "chat", Topic: "billing"}, contact.ErrInvalidKey, "is not UTF-8"},
		{"open with too many keys", nil, contact.Open{Customer: events.Customer{Keys: manyKeys(contact.MaxList + 1)}, Channel: "chat", Topic: "billing"}, contact.ErrInvalidCommand, "257 identity keys, more than 256"},
		{"route with an agent too long", []events.Data{opened()}, contact.Route{Queue: "billing", Agent: strings.Repeat("a", 5<<20)}, contact.ErrInvalidCommand, "agent \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"… is 5242880 bytes long"},
		{"route with too many skills", []events.Data{opened()}, contact.Route{Queue: "billing", Skills: make([]string, contact.MaxList+1)}, contact.ErrInvalidCommand, "257 skills, more than 256"},
		{"reopen with a reason too long", []events.Data{opened(), resolved()}, contact.Reopen{Channel: "phone", Reason: strings.Repeat("x", events.MaxLineBytes)}, contact.ErrInvalidCommand, "reason \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"… is 16777216 bytes long"},
		{"reply to an open issue with a reason too long", []events.Data{opened()}, contact.Reply{Channel: "phone", Reason: strings.Repeat("x", contact.MaxText+1)}, contact.ErrInvalidCommand, "is 1025 bytes long"},
		{"reply with a reason that is not UTF-8", []events.Data{opened(), resolved()}, contact.Reply{Channel: "phone", Reason: "late\xff"}, contact.ErrInvalidCommand, `reason "late\xff" is not UTF-8`},
		{"open with a long key in characters of two bytes", nil, contact.Open{Customer: events.Customer{Keys: []string{"account:x" + strings.Repeat("ä", 600)}}, Channel: "chat", Topic: "billing"}, contact.ErrInvalidKey, `identity key "account:xäääääääääää"…: is 1209 bytes long`},
		{"classify with too many secondary topics", []events.Data{opened()}, contact.Classify{Topic: "billing", Topics: make([]string, contact.MaxList+1)}, contact.ErrInvalidCommand, "257 secondary topics, more than 256"},
		{"open with customer fields too large", nil, contact.Open{Customer: events.Customer{ID: "C-1", Extra: events.Extra{"note": strings.Repeat("x", contact.MaxExtra)}}, Channel: "chat", Topic: "billing"}, contact.ErrInvalidCommand, "customer fields beyond id and keys take 16395 bytes as JSON, more than 16384"},
		{"open with too many customer fields", nil, contact.Open{Customer: events.Customer{ID: "C-1", Extra: manyFields(contact.MaxList + 1)}, Channel: "chat", Topic: "billing"}, contact.ErrInvalidCommand, "257 customer fields beyond id and keys, more than 256"},
		{"open with a customer field that is not UTF-8", nil, contact.Open{Customer: events.Customer{ID: "C-1", Extra: events.Extra{"name": "Ann\xe4"}}, Channel: "chat", Topic: "billing"}, contact.ErrInvalidCommand, `customer field "name": "Ann\xe4" is not UTF-8`},
		{"open with a customer field of a Go type holding text that is not UTF-8", nil, contact.Open{Customer: events.Customer{ID: "C-1", Extra: events.Extra{"tags": []string{"vip\xff"}}}, Channel: "chat", Topic: "billing"}, contact.ErrInvalidCommand, `customer field "tags": holds text that is not UTF-8`},
		{"open with a customer field name that is not printable", nil, contact.Open{Customer: events.Customer{ID: "C-1", Extra: events.Extra{"na\nme": "Ann"}}, Channel: "chat", Topic: "billing"}, contact.ErrInvalidCommand, `customer field "na\nme" holds the control character U+000A`},
		{"open with a customer field nested too deep", nil, contact.Open{Customer: events.Customer{ID: "C-1", Extra: events.Extra{"tree": nested(70)}}, Channel: "chat", Topic: "billing"}, contact.ErrInvalidCommand, `customer field "tree": nesting too deep`},
		{"open with a customer id in Extra", nil, contact.Open{Customer: events.Customer{ID: "C-1", Extra: events.Extra{"id": "C-2"}}, Channel: "chat", Topic: "billing"}, contact.ErrInvalidCommand, `customer field "id" in Extra: the customer's id is Customer.ID`},

		{"classify without topic", []events.Data{opened()}, contact.Classify{Topics: []string{"billing"}}, contact.ErrInvalidCommand, "no topic"},
		{"classify with a bad secondary topic", []events.Data{opened()}, contact.Classify{Topic: "billing", Topics: []string{"/refund"}}, contact.ErrInvalidCommand, `secondary topic "/refund"`},

		{"event before the previous one", []events.Data{opened(), routed()}, contact.Resolve{At: contacttest.Minute(1)}, contact.ErrOutOfOrder, "event time 2026-03-02T09:01:00Z is before the issue's previous event at 2026-03-02T09:02:00Z"},
		{"event a fraction of a second before the previous one", []events.Data{opened(), routed()}, contact.Resolve{At: contacttest.Minute(2).Add(-300 * time.Millisecond)}, contact.ErrOutOfOrder, "event time 2026-03-02T09:01:59.7Z is before the issue's previous event at 2026-03-02T09:02:00Z"},
		{"reopen before the resolution", []events.Data{opened(), resolved()}, contact.Reopen{Channel: "phone", At: contacttest.Start()}, contact.ErrOutOfOrder, "before the issue's previous event"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := contacttest.Given(t, tt.given...).When(tt.cmd).ThenError(tt.err)
			var ce *contact.CommandError
			if assert.ErrorAs(t, err, &ce) {
				assert.Equal(t, tt.cmd.Op(), ce.Op)
				assert.Equal(t, contacttest.IssueID(), ce.Issue)
			}
			assert.Contains(t, err.Error(), tt.cmd.Op()+" issue "+contacttest.IssueID().String()+": ")
			assert.Contains(t, err.Error(), tt.reason)
		})
	}
}

// A command refused for the issue's state whose time is before the
// issue's latest event says so too, and matches ErrOutOfOrder beside the
// state's sentinel: a routing delivered after the resolution is a late
// one, not a wrong one.
func TestRefusalOfALateCommandSaysItIsLate(t *testing.T) {
	err := contacttest.Given(t, opened(), resolved()).
		When(contact.Route{Queue: "billing", At: contacttest.Minute(1).Add(30 * time.Second)}).
		ThenError(contact.ErrAlreadyResolved)
	assert.ErrorContains(t, err, "already resolved at 2026-03-02T09:02:00Z; and its time, 2026-03-02T09:01:30Z, is before the issue's latest event, at 2026-03-02T09:02:00Z")
	assert.ErrorIs(t, err, contact.ErrOutOfOrder, "a host that sets late webhooks aside by ErrOutOfOrder finds it")

	err = contacttest.Given(t, opened(), resolved()).When(contact.Route{Queue: "billing"}).ThenError(contact.ErrAlreadyResolved)
	assert.NotContains(t, err.Error(), "before the issue's latest event", "a command of now is not late")
	assert.NotErrorIs(t, err, contact.ErrOutOfOrder)

	// Err stays the sentinel; a command wrong whatever the state does not
	// match ErrOutOfOrder for its time.
	err = contacttest.Given(t, opened(), resolved()).
		When(contact.Route{Queue: "billing", At: contacttest.Minute(1).Add(30 * time.Second)}).
		ThenError(contact.ErrAlreadyResolved)
	var ce *contact.CommandError
	if assert.ErrorAs(t, err, &ce) {
		assert.Equal(t, contact.ErrAlreadyResolved, ce.Err)
	}
	err = contacttest.Given(t, opened(), resolved()).
		When(contact.Rate{Survey: "csat", Score: 99, At: contacttest.Minute(1).Add(30 * time.Second)}).
		ThenError(contact.ErrInvalidCommand)
	assert.NotErrorIs(t, err, contact.ErrOutOfOrder, "an invalid score is no late webhook")
}

func TestCommandsAccepted(t *testing.T) {
	fi := func(c *contact.Config) { c.Keys = contact.KeyRules{DefaultCountry: "358"} }
	tests := []struct {
		name  string
		given []events.Data
		cmd   contact.Command
		want  events.Data
	}{
		{
			"open normalises keys and makes a contact id", nil,
			contact.Open{Customer: events.Customer{Keys: []string{"phone:(040) 123-4567", "email:Anna@Example.com", "phone:+358 40 1234567"}}, Channel: "phone", Topic: "billing/invoice-error"},
			&events.Opened{Customer: events.Customer{Keys: []string{"phone:+358401234567", "email:anna@example.com"}}, Channel: "phone", Topic: "billing/invoice-error", Contact: contacttest.ID(1)},
		},
		{
			"open with customer id and contact", nil,
			contact.Open{Customer: events.Customer{ID: " C-1 "}, Channel: "web", Topic: "orders", Contact: c1},
			&events.Opened{Customer: events.Customer{ID: "C-1"}, Channel: "web", Topic: "orders", Contact: c1},
		},
		{
			"open with a customer id behind a byte-order mark, as an export leaves it", nil,
			contact.Open{Customer: events.Customer{ID: "\ufeffC-1\u200b"}, Channel: "web", Topic: "orders", Contact: c1},
			&events.Opened{Customer: events.Customer{ID: "C-1"}, Channel: "web", Topic: "orders", Contact: c1},
		},
		{
			"open with keys behind zero-width characters, as an export leaves them", nil,
			contact.Open{Customer: events.Customer{Keys: []string{"\ufeffaccount:A-1001\u200b", "account:A-1001", "email:anna@example.com\u2060"}}, Channel: "web", Topic: "orders", Contact: c1},
			&events.Opened{Customer: events.Customer{Keys: []string{"account:A-1001", "email:anna@example.com"}}, Channel: "web", Topic: "orders", Contact: c1},
		},
		{
			"route the latest contact", []events.Data{opened()},
			contact.Route{Queue: "billing", Agent: "maria", Skills: []string{"fi", "billing"}, Wait: 35 * time.Second},
			&events.Routed{Contact: c1, Queue: "billing", Agent: "maria", Skills: []string{"fi", "billing"}, Wait: 35 * time.Second},
		},
		{
			"close an issue nobody answered, on its contact", []events.Data{opened(), &events.Abandoned{Contact: c1}},
			contact.Resolve{Contact: c1, Code: "callback"},
			&events.Resolved{Contact: c1, Code: "callback"},
		},
		{
			"a wait as long as the issue and the slack (clocks disagree)", []events.Data{opened()},
			contact.Route{Queue: "billing", Wait: time.Hour + time.Minute},
			&events.Routed{Contact: c1, Queue: "billing", Wait: time.Hour + time.Minute},
		},
		{
			"resolve on the latest contact not abandoned, when no contact is named", []events.Data{opened(), routed(),
				&events.Contacted{Contact: contacttest.Contact(2), Channel: "phone"}, &events.Abandoned{Contact: contacttest.Contact(2)}},
			contact.Resolve{Agent: "maria"},
			&events.Resolved{Contact: c1, Agent: "maria"},
		},
		{
			"resolve on the latest contact when every one was abandoned", []events.Data{opened(), &events.Abandoned{Contact: c1},
				&events.Contacted{Contact: contacttest.Contact(2), Channel: "phone"}, &events.Abandoned{Contact: contacttest.Contact(2)}},
			contact.Resolve{Code: "callback"},
			&events.Resolved{Contact: contacttest.Contact(2), Code: "callback"},
		},
		{
			"route a follow-up after a reopen", []events.Data{opened(), resolved(), &events.Reopened{Contact: c2, Channel: "phone"},
				&events.Contacted{Contact: contacttest.Contact(3), Channel: "email"}},
			contact.Route{Contact: c2, Queue: "billing"},
			&events.Routed{Contact: c2, Queue: "billing"},
		},
		{
			"resolve on the reopen's contact when it was abandoned, not on one from before it", []events.Data{opened(), routed(), resolved(),
				&events.Reopened{Contact: c2, Channel: "phone"}, &events.Abandoned{Contact: c2}},
			contact.Resolve{Code: "callback"},
			&events.Resolved{Contact: c2, Code: "callback"},
		},
		{
			"rate a contact from before a reopen", []events.Data{opened(), routed(), resolved(), &events.Reopened{Contact: c2, Channel: "phone"}},
			contact.Rate{Survey: events.SurveyCSAT, Score: 2, Contact: c1},
			&events.Rated{Survey: events.SurveyCSAT, Score: 2, Contact: c1},
		},
		{
			"abandon in a queue", []events.Data{opened()},
			contact.Abandon{Queue: "billing", Wait: 40 * time.Second},
			&events.Abandoned{Contact: c1, Wait: 40 * time.Second, Extra: events.Extra{"queue": "billing"}},
		},
		{
			"transfer", []events.Data{opened(), routed()},
			contact.Route{Contact: c1, Queue: "payments", Agent: "olli"},
			&events.Routed{Contact: c1, Queue: "payments", Agent: "olli"},
		},
		{
			"consult", []events.Data{opened(), routed()},
			contact.Consult{Agent: "maria", Expert: "supervisor-ella", Duration: 2 * time.Minute},
			&events.Consulted{Contact: c1, Agent: "maria", Expert: "supervisor-ella", Duration: 2 * time.Minute},
		},
		{
			"resolve by an agent", []events.Data{opened(), routed()},
			contact.Resolve{Agent: "maria", Code: "credit-note", Handle: 6 * time.Minute},
			&events.Resolved{Contact: c1, Agent: "maria", Code: "credit-note", Handle: 6 * time.Minute},
		},
		{
			"resolve by a bot without routing", []events.Data{opened()},
			contact.Resolve{Agent: "faq-bot", Bot: true},
			&events.Resolved{Contact: c1, Agent: "faq-bot", Bot: true},
		},
		{
			"resolve a follow-up", []events.Data{opened(), &events.Contacted{Contact: c2, Channel: "phone"}},
			contact.Resolve{Contact: c2, Agent: "olli"},
			&events.Resolved{Contact: c2, Agent: "olli"},
		},
		{
			"resolve on the first contact after an abandoned follow-up", []events.Data{opened(), routed(), &events.Contacted{Contact: c2, Channel: "phone"}, &events.Abandoned{Contact: c2}},
			contact.Resolve{Contact: c1, Agent: "maria"},
			&events.Resolved{Contact: c1, Agent: "maria"},
		},
		{
			"reopen", []events.Data{opened(), resolved()},
			contact.Reopen{Channel: "phone", Reason: "invoice still wrong"},
			&events.Reopened{Contact: contacttest.ID(1), Channel: "phone", Reason: "invoice still wrong"},
		},
		{
			"reopen with its contact id", []events.Data{opened(), resolved()},
			contact.Reopen{Contact: c2, Channel: "email"},
			&events.Reopened{Contact: c2, Channel: "email"},
		},
		{
			"follow up", []events.Data{opened()},
			contact.FollowUp{Channel: "email"},
			&events.Contacted{Contact: contacttest.ID(1), Channel: "email"},
		},
		{
			"follow up after a reopen", []events.Data{opened(), resolved(), &events.Reopened{Contact: c2, Channel: "phone"}},
			contact.FollowUp{Channel: "chat"},
			&events.Contacted{Contact: contacttest.ID(1), Channel: "chat"},
		},
		{
			"abandon", []events.Data{opened()},
			contact.Abandon{Wait: 3 * time.Minute},
			&events.Abandoned{Contact: c1, Wait: 3 * time.Minute},
		},
		{
			"lowest csat", []events.Data{opened(), resolved()},
			contact.Rate{Survey: events.SurveyCSAT, Score: 1},
			&events.Rated{Survey: events.SurveyCSAT, Score: 1},
		},
		{
			"highest nps about a contact", []events.Data{opened(), resolved()},
			contact.Rate{Survey: events.SurveyNPS, Score: 10, Contact: c1},
			&events.Rated{Survey: events.SurveyNPS, Score: 10, Contact: c1},
		},
		{
			"nps 0", []events.Data{opened()},
			contact.Rate{Survey: events.SurveyNPS, Score: 0},
			&events.Rated{Survey: events.SurveyNPS, Score: 0},
		},
		{
			"ces 7", []events.Data{opened(), resolved()},
			contact.Rate{Survey: events.SurveyCES, Score: 7},
			&events.Rated{Survey: events.SurveyCES, Score: 7},
		},
		{
			"classify", []events.Data{opened(), resolved()},
			contact.Classify{Topic: "billing/refund", Topics: []string{"orders/late-delivery"}},
			&events.Classified{Topic: "billing/refund", Topics: []string{"orders/late-delivery"}},
		},
		{
			"an event at the time of the previous one", []events.Data{opened()},
			contact.Route{Queue: "billing", At: contacttest.Minute(1)},
			&events.Routed{Contact: c1, Queue: "billing"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			contacttest.Given(t, tt.given...).With(fi).When(tt.cmd).Then(tt.want)
		})
	}
}

func TestCommandEventTime(t *testing.T) {
	evs := contacttest.Given(t, opened()).When(contact.Route{Queue: "billing"}).Then(&events.Routed{Contact: c1, Queue: "billing"})
	assert.Equal(t, contacttest.Minute(2), evs[0].At, "the clock gives the time")

	at := time.Date(2026, 3, 2, 11, 30, 0, 0, time.FixedZone("EET", 2*3600))
	evs = contacttest.Given(t, opened()).When(contact.Route{Queue: "billing", At: at}).Then(&events.Routed{Contact: c1, Queue: "billing"})
	assert.Equal(t, at.UTC(), evs[0].At, "the command gives the time, in UTC")
	assert.Equal(t, time.UTC, evs[0].At.Location())
}

// manyFields returns n customer fields.
func manyFields(n int) events.Extra {
	x := make(events.Extra, n)
	for i := range n {
		x[fmt.Sprintf("f%d", i)] = "v"
	}
	return x
}

// nested returns a value nested n lists deep.
func nested(n int) any {
	v := any("x")
	for range n {
		v = []any{v}
	}
	return v
}

// A customer's fields are measured as the opening is stored, where a
// number given in short is written out in full: the Service writes no
// opening that Issue.Check refuses.
func TestCustomerFieldsMeasuredAsStored(t *testing.T) {
	big := make([]any, 2000)
	for i := range big {
		big[i] = json.Number("1e18") // as a webhook decoded with UseNumber holds it: some 10 KB as JSON
	}
	svc, store := newService(t)
	_, _, err := svc.Open(t.Context(), contact.Open{
		Customer: events.Customer{ID: "C-1", Extra: events.Extra{"scores": big}}, Channel: "chat", Topic: "billing"})
	require.ErrorIs(t, err, contact.ErrInvalidCommand)
	assert.ErrorContains(t, err, "customer fields beyond id and keys take 40012 bytes as JSON as stored (10012 as given: numbers given short are written out in full), more than 16384")
	n := 0
	for _, err := range store.ReadAll(t.Context(), 0) {
		require.NoError(t, err)
		n++
	}
	assert.Zero(t, n, "a refused command appends nothing")

	// Numbers given long are stored short: measured so too.
	long := make([]any, 3000)
	for i := range long {
		long[i] = json.Number("1.000")
	}
	_, _, err = svc.Open(t.Context(), contact.Open{
		Customer: events.Customer{ID: "C-1", Extra: events.Extra{"scores": long, "note": strings.Repeat("x", 12000)}}, Channel: "chat", Topic: "billing"})
	assert.ErrorContains(t, err, "take 18022 bytes as JSON as stored (30022 as given), more than 16384")

	// -0 is stored as 0, a byte shorter.
	zeros := make([]any, 6000)
	for i := range zeros {
		zeros[i] = math.Copysign(0, -1)
	}
	_, _, err = svc.Open(t.Context(), contact.Open{
		Customer: events.Customer{ID: "C-3", Extra: events.Extra{"z": zeros}}, Channel: "chat", Topic: "billing"})
	require.NoError(t, err, "12 KB as stored")

	// Under the limit as stored: written, and the stored event passes Check.
	id, _, err := svc.Open(t.Context(), contact.Open{
		Customer: events.Customer{ID: "C-2", Extra: events.Extra{"scores": big[:300]}}, Channel: "chat", Topic: "billing"})
	require.NoError(t, err)
	stored, err := store.Load(t.Context(), id)
	require.NoError(t, err)
	require.NoError(t, (&contact.Issue{}).Check(stored[0], contact.KeyRules{}))
}
