package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/contact"
	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/internal/simulate"
	"github.com/truefcr/truefcr/projections"
)

// simulatedLog returns a generated log as JSON Lines, and its events.
func simulatedLog(t *testing.T) (string, []events.Envelope) {
	t.Helper()
	log, _, err := simulate.Collect(simulate.Config{Seed: 11, Days: 21, Customers: 400, IssuesPerDay: 50})
	require.NoError(t, err)
	return jsonLines(t, log), log
}

// jsonLines returns evs as JSON Lines.
func jsonLines(t *testing.T, evs []events.Envelope) string {
	t.Helper()
	codec := events.NewJSONCodec(nil)
	var b []byte
	var err error
	for _, e := range evs {
		b, err = events.AppendLine(b, codec, e)
		require.NoError(t, err)
	}
	return string(b)
}

// jsonReport runs the tool with flags on stdin, which it must take (exit
// status 0, or exitLate exactly when the figures left events out as
// late), and returns its report and what it wrote on standard error.
func jsonReport(t *testing.T, stdin string, flags ...string) (output, string) {
	t.Helper()
	code, stdout, stderr := runTool(t, stdin, append(flags, "-")...)
	require.Contains(t, []int{0, exitLate}, code, stderr)
	var got output
	require.NoError(t, json.Unmarshal([]byte(stdout), &got))
	// The report was written either way; the status says whether events
	// were left out of its figures as late.
	late := max(got.FCR.LateDropped, got.Service.LateEvents, got.Satisfaction.LateEvents, got.Volume.LateEvents) > 0
	require.Equal(t, late, code == exitLate, "exit status %d: %s", code, stderr)
	return got, stderr
}

func runTool(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestReportEqualsTheReporterFedDirectly(t *testing.T) {
	jsonl, log := simulatedLog(t)
	code, stdout, stderr := runTool(t, jsonl, "-window", "72h", "-match", "root", "-")
	require.Equal(t, 0, code, stderr)

	var got output
	require.NoError(t, json.Unmarshal([]byte(stdout), &got))

	r, err := projections.NewReporter(projections.ReportConfig{
		FCR: projections.FCRConfig{Window: 72 * 3600e9, Match: projections.MatchRoot},
	})
	require.NoError(t, err)
	for _, e := range log {
		require.NoError(t, r.Apply(e))
	}
	// But for the identity rule, which says that the tool normalised the
	// keys (TestTheStatedIdentityRuleIsTheOneApplied).
	direct := r.Report()
	stateKeys(&direct, contact.KeyRules{})
	want, err := json.Marshal(direct)
	require.NoError(t, err)
	gotJSON, err := json.Marshal(got.Report)
	require.NoError(t, err)
	assert.JSONEq(t, string(want), string(gotJSON))
	assert.Equal(t, len(log), got.Input.Lines)
	assert.Equal(t, int64(len(log)), got.Input.Events)
	assert.Zero(t, got.Input.Duplicates)
	assert.Equal(t, "72h0m0s", got.Definition.Window)
	assert.Equal(t, "root", got.Definition.Match)
	assert.Positive(t, got.FCR.True.Total)
	assert.Empty(t, stderr, "a log in time order gives no warning")
}

// A log in ticket order (each issue's events together, as a helpdesk's
// export has them) leaves events out as late, and the tool says so.
func TestWarnsOfALogOutOfTimeOrder(t *testing.T) {
	_, log := simulatedLog(t)
	byIssue := slices.Clone(log)
	first := map[uuid.UUID]int{}
	for i, e := range log {
		if _, ok := first[e.Issue]; !ok {
			first[e.Issue] = i
		}
	}
	slices.SortStableFunc(byIssue, func(a, b events.Envelope) int { return first[a.Issue] - first[b.Issue] })
	got, stderr := jsonReport(t, jsonLines(t, byIssue))
	require.Positive(t, got.FCR.LateDropped)
	n := max(got.FCR.LateDropped, got.Service.LateEvents)
	assert.Contains(t, stderr, fmt.Sprintf("warning: %d events came more than the lateness", n))
	assert.Contains(t, stderr, "sort the log by event time")
	// The report is written, and the exit status says that its figures
	// are wrong, so that a script does not take them.
	code, stdout, _ := runTool(t, jsonLines(t, byIssue), "-format", "text", "-")
	assert.Equal(t, exitLate, code)
	assert.Contains(t, stdout, "true FCR")
}

// So it does when only the KPI projections left an event out: a survey
// answer that comes days after its issue's last event, behind later ones.
func TestWarnsOfALateSurvey(t *testing.T) {
	_, log := simulatedLog(t)
	last := map[uuid.UUID]int{} // the index of each issue's last event
	for i, e := range log {
		last[e.Issue] = i
	}
	// A survey answer that is its issue's last event, early in the log.
	i := -1
	for k, e := range log {
		// Older than the lateness (24 h), its issue still live in the
		// FCR (a week's window): late for the KPI projections alone.
		end := log[len(log)-1].At
		if e.Type() == events.TypeRated && last[e.Issue] == k && e.At.Before(end.Add(-48*time.Hour)) && e.At.After(end.Add(-96*time.Hour)) {
			i = k
			break
		}
	}
	require.GreaterOrEqual(t, i, 0)
	rated := log[i]
	moved := append(slices.Delete(slices.Clone(log), i, i+1), rated) // last, days after its time
	got, stderr := jsonReport(t, jsonLines(t, moved))
	require.Zero(t, got.FCR.LateDropped)
	require.Positive(t, got.Satisfaction.LateEvents)
	assert.Contains(t, stderr, "fcrreport: warning:")
}

func TestTextFormat(t *testing.T) {
	jsonl, _ := simulatedLog(t)
	code, stdout, stderr := runTool(t, jsonl, "-format", "text", "-")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "true FCR")
	assert.Contains(t, stdout, "reported FCR")
	assert.Contains(t, stdout, "SERVICE LEVEL")
	assert.Contains(t, stdout, "read ")
}

// A hand-made log: one chat resolved, the same customer's call about the
// same topic, and what each test adds to it.
const handLog = `{"id":"00000000-0000-7000-8000-000000000001","issue":"00000000-0000-7000-8000-0000000000a1","version":1,"type":"issue.opened","at":"2026-03-02T09:00:00Z","data":{"customer":{"keys":["email:anna@example.com"]},"channel":"chat","topic":"billing/refund","contact":"00000000-0000-7000-8000-0000000000c1"}}
{"id":"00000000-0000-7000-8000-000000000002","issue":"00000000-0000-7000-8000-0000000000a1","version":2,"type":"issue.resolved","at":"2026-03-02T09:10:00Z","data":{"contact":"00000000-0000-7000-8000-0000000000c1","agent":"maria"}}
`

func TestAnEventThatBreaksItsStreamStopsTheToolWithItsLine(t *testing.T) {
	broken := handLog + `{"id":"00000000-0000-7000-8000-000000000003","issue":"00000000-0000-7000-8000-0000000000a1","version":3,"type":"issue.resolved","at":"2026-03-02T09:20:00Z","data":{"contact":"00000000-0000-7000-8000-0000000000c1","agent":"maria"}}
`
	code, stdout, stderr := runTool(t, broken, "-")
	assert.Equal(t, 1, code)
	assert.Empty(t, stdout)
	assert.Contains(t, stderr, "line 3")
	assert.Contains(t, stderr, "already resolved")
}

func TestBadLinesStopTheToolOrAreSkippedAndCounted(t *testing.T) {
	bad := handLog +
		"{not json\n" +
		`{"id":"00000000-0000-7000-8000-000000000009","issue":"00000000-0000-7000-8000-0000000000a1","version":3,"type":"issue.escalated","at":"2026-03-02T09:30:00Z","data":{}}` + "\n" +
		`{"id":"00000000-0000-7000-8000-000000000004","issue":"00000000-0000-7000-8000-0000000000a2","version":1,"type":"issue.opened","at":"2026-03-03T09:00:00Z","data":{"customer":{"keys":["email:anna@example.com"]},"channel":"phone","topic":"billing/refund","contact":"00000000-0000-7000-8000-0000000000c2"}}` + "\n"

	code, _, stderr := runTool(t, bad, "-")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "line 3")
	code, _, stderr = runTool(t, bad, "-skip-unknown-types", "-")
	assert.Equal(t, 1, code, "a line that does not decode still stops the tool")
	assert.Contains(t, stderr, "line 3")

	got, stderr := jsonReport(t, bad, "-skip-invalid")
	assert.Equal(t, int64(1), got.Input.Invalid)
	assert.Equal(t, int64(1), got.Input.UnknownType)
	assert.Contains(t, got.Input.FirstInvalid, "line 3")
	assert.Equal(t, int64(3), got.Input.Events)
	assert.Equal(t, 5, got.Input.Lines)
	// The call a day after the resolved chat is a repeat: one problem, not
	// yet final (the watermark is within W of the resolution).
	assert.Equal(t, int64(1), got.FCR.Problems)
	assert.Equal(t, int64(2), got.FCR.Issues)
}

// A skipped event of an unknown type takes its version, so that the events
// after it in its stream are read: the issue is resolved, as its log says.
func TestASkippedUnknownTypeKeepsItsStreamGoing(t *testing.T) {
	log := `{"id":"00000000-0000-7000-8000-000000000001","issue":"00000000-0000-7000-8000-0000000000a1","version":1,"type":"issue.opened","at":"2026-03-02T09:00:00Z","data":{"customer":{"keys":["email:anna@example.com"]},"channel":"chat","topic":"billing/refund","contact":"00000000-0000-7000-8000-0000000000c1"}}
{"id":"00000000-0000-7000-8000-000000000009","issue":"00000000-0000-7000-8000-0000000000a1","version":2,"type":"acme.escalated","at":"2026-03-02T09:05:00Z","data":{"level":2}}
{"id":"00000000-0000-7000-8000-000000000002","issue":"00000000-0000-7000-8000-0000000000a1","version":3,"type":"issue.resolved","at":"2026-03-02T09:10:00Z","data":{"contact":"00000000-0000-7000-8000-0000000000c1","agent":"maria"}}
{"id":"00000000-0000-7000-8000-000000000009","issue":"00000000-0000-7000-8000-0000000000a1","version":2,"type":"acme.escalated","at":"2026-03-02T09:05:00Z","data":{"level":2}}
`
	for _, flag := range []string{"-skip-invalid", "-skip-unknown-types"} {
		got, _ := jsonReport(t, log, flag)
		assert.Equal(t, int64(2), got.Input.UnknownType, flag)
		assert.Zero(t, got.Input.Invalid, "%s: the resolution after the unknown event is valid", flag)
		assert.Zero(t, got.Input.Duplicates, "%s: the repeated unknown line counts once, as of an unknown type", flag)
		assert.Equal(t, int64(2), got.Input.Events, flag)
		assert.Equal(t, int64(1), got.FCR.Issues, flag)
		assert.Zero(t, got.FCR.Unresolved, flag)
		assert.Equal(t, int64(1), got.FCR.Pending, "%s: resolved, within W of the resolution", flag)
		assert.Equal(t, int64(1), got.Service.Reopen.Total, "%s: one resolution", flag)
	}
}

// What an unknown event did is not known: the lines of its issue after it
// are passed on unchecked, as after a line skipped as invalid. One at
// version 1 (a newer producer's opening) stopped the tool at the next
// line, as of an issue never opened; the projections count the stream's
// events as ignored.
func TestAnUnknownTypeAtVersionOneKeepsItsStreamGoing(t *testing.T) {
	log := `{"id":"00000000-0000-7000-8000-000000000001","issue":"00000000-0000-7000-8000-0000000000a1","version":1,"type":"acme.opened","at":"2026-03-02T09:00:00Z","data":{"customer":{"keys":["email:anna@example.com"]},"channel":"chat","topic":"billing/refund","contact":"00000000-0000-7000-8000-0000000000c1"}}
{"id":"00000000-0000-7000-8000-000000000002","issue":"00000000-0000-7000-8000-0000000000a1","version":2,"type":"issue.routed","at":"2026-03-02T09:01:00Z","data":{"contact":"00000000-0000-7000-8000-0000000000c1","queue":"billing"}}
{"id":"00000000-0000-7000-8000-000000000003","issue":"00000000-0000-7000-8000-0000000000a1","version":3,"type":"issue.resolved","at":"2026-03-02T09:10:00Z","data":{"contact":"00000000-0000-7000-8000-0000000000c1","agent":"maria"}}
{"id":"00000000-0000-7000-8000-000000000004","issue":"00000000-0000-7000-8000-0000000000a1","version":4,"type":"issue.resolved","at":"2026-03-02T09:11:00Z","data":{"contact":"00000000-0000-7000-8000-0000000000c1","agent":"maria"}}
`
	for _, flag := range []string{"-skip-unknown-types", "-skip-invalid"} {
		code, _, stderr := runTool(t, log, flag, "-")
		require.Equal(t, 0, code, "%s: %s", flag, stderr)
		got, _ := jsonReport(t, log, flag)
		assert.Equal(t, int64(1), got.Input.UnknownType, flag)
		assert.Zero(t, got.Input.Invalid, "%s: the lines after the unknown one are not refused, a second resolution included", flag)
		assert.Equal(t, int64(3), got.Input.Events, flag)
		assert.Equal(t, int64(3), got.Input.Unchecked, flag)
		assert.Zero(t, got.FCR.Issues, "%s: the projections saw no opening", flag)
		assert.Equal(t, int64(4), got.FCR.IgnoredEvents, "%s: the unknown line passed on as its version, and the three after it", flag)
	}
}

// An unknown event after versions the log lacks takes its version past
// them, which are counted as missing; one at a version its stream has (a
// conflict) is counted once, as of an unknown type.
func TestAnUnknownTypeThatBreaksItsStreamCountsOnce(t *testing.T) {
	log := handLog + `{"id":"00000000-0000-7000-8000-000000000009","issue":"00000000-0000-7000-8000-0000000000a1","version":5,"type":"acme.escalated","at":"2026-03-02T09:30:00Z","data":{}}
{"id":"00000000-0000-7000-8000-00000000000a","issue":"00000000-0000-7000-8000-0000000000a1","version":1,"type":"acme.escalated","at":"2026-03-02T09:31:00Z","data":{}}
`
	got, _ := jsonReport(t, log, "-skip-invalid")
	assert.Equal(t, input{Lines: 4, Events: 2, UnknownType: 2, Missing: 2, FirstInvalid: got.Input.FirstInvalid}, got.Input)
}

func TestDuplicateLinesAreCountedNotDoubled(t *testing.T) {
	got, _ := jsonReport(t, handLog+handLog)
	assert.Equal(t, int64(2), got.Input.Duplicates)
	assert.Equal(t, int64(1), got.FCR.Issues)
	assert.Equal(t, int64(1), got.Volume.Contacts)
}

// Another event at a version the log already has is a conflict, not a
// redelivery: it stops the tool with its line, or is counted as invalid.
func TestAnotherEventAtAVersionTakenIsAConflict(t *testing.T) {
	conflict := handLog + `{"id":"00000000-0000-7000-8000-000000000099","issue":"00000000-0000-7000-8000-0000000000a1","version":2,"type":"issue.rated","at":"2026-03-02T09:20:00Z","data":{"survey":"csat","score":1}}
`
	code, stdout, stderr := runTool(t, conflict, "-")
	assert.Equal(t, 1, code)
	assert.Empty(t, stdout)
	assert.Contains(t, stderr, "line 3")
	assert.Contains(t, stderr, "where the log had event 00000000-0000-7000-8000-000000000002 at that version")

	got, stderr := jsonReport(t, conflict, "-skip-invalid")
	assert.Equal(t, int64(1), got.Input.Invalid)
	assert.Zero(t, got.Input.Duplicates)
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-match", "fuzzy", "-"},
		{"-format", "xml", "-"},
		{"-window", "-1h", "-"},
		{"-value", "billing=priceless", "-"},
		{"-country", "35x", "-"},
		{"-window", "0", "-"},
		{"-lateness", "0s", "-"},
		{"-threshold", "0", "-"},
	} {
		code, _, stderr := runTool(t, "", args...)
		assert.Equal(t, 2, code, "%v: %s", args, stderr)
		assert.NotEmpty(t, stderr)
	}
	code, _, stderr := runTool(t, "", "/nonexistent/log.jsonl")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "/nonexistent/log.jsonl")
}

// annaLog is Anna's chat on Monday and her call on Tuesday about the same
// refund, her keys written as a helpdesk export may have them.
func annaLog(t *testing.T) string {
	t.Helper()
	monday := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	chat, call := uuid.MustParse("0195a000-0000-7000-8000-000000000001"), uuid.MustParse("0195a000-0000-7000-8000-000000000002")
	c1, c2 := uuid.MustParse("0195a000-0000-7000-8000-0000000000c1"), uuid.MustParse("0195a000-0000-7000-8000-0000000000c2")
	n := 0
	ev := func(issue uuid.UUID, v uint64, at time.Time, d events.Data) events.Envelope {
		n++
		return events.Envelope{ID: uuid.MustParse(fmt.Sprintf("0195a000-0000-7000-8000-%012d", 100+n)), Issue: issue, Version: v, At: at, Data: d}
	}
	log := []events.Envelope{
		ev(chat, 1, monday, &events.Opened{Customer: events.Customer{Keys: []string{"email:Anna@Example.com"}}, Channel: "chat", Topic: "billing/refund", Contact: c1}),
		ev(chat, 2, monday.Add(9*time.Minute), &events.Resolved{Contact: c1, Agent: "maria"}),
		ev(call, 1, monday.Add(24*time.Hour), &events.Opened{Customer: events.Customer{Keys: []string{"phone:040 123 4567", "email:anna@example.com"}}, Channel: "phone", Topic: "billing/refund", Contact: c2}),
		ev(call, 2, monday.Add(24*time.Hour+6*time.Minute), &events.Resolved{Contact: c2, Agent: "olli"}),
		// A clock issue a fortnight later, so that the verdict is final.
		ev(uuid.MustParse("0195a000-0000-7000-8000-000000000003"), 1, monday.Add(14*24*time.Hour), &events.Opened{Customer: events.Customer{ID: "clock"}, Channel: "web", Topic: "other", Contact: c1}),
	}
	var b []byte
	for _, e := range log {
		var err error
		b, err = events.AppendLine(b, events.NewJSONCodec(nil), e)
		require.NoError(t, err)
	}
	return string(b)
}

// Keys are normalised as the write side does, with -country for national
// numbers: Anna's two tickets are one problem, not solved the first time.
func TestKeysAreNormalisedAsTheWriteSideDoes(t *testing.T) {
	log := annaLog(t)
	got, _ := jsonReport(t, log, "-country", "358")
	assert.Equal(t, int64(0), got.FCR.True.Achieved)
	assert.Equal(t, int64(1), got.FCR.True.Total, "one problem: the email matches in any case")
	assert.Equal(t, int64(2), got.FCR.Reported.Achieved)

	code, _, stderr := runTool(t, log, "-")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "line 3")
	assert.Contains(t, stderr, "no default country")
}

// A customer id is trimmed as the write side trims it: " anna " and
// "anna" are one customer, whose two tickets are one problem.
func TestCustomerIDsAreTrimmedAsTheWriteSideDoes(t *testing.T) {
	log := annaLog(t)
	for from, to := range map[string]string{
		`"customer":{"keys":["email:Anna@Example.com"]}`:                      `"customer":{"id":" anna\t"}`,
		`"customer":{"keys":["phone:040 123 4567","email:anna@example.com"]}`: `"customer":{"id":"anna"}`,
	} {
		require.Contains(t, log, from)
		log = strings.Replace(log, from, to, 1)
	}
	got, _ := jsonReport(t, log)
	assert.Equal(t, int64(1), got.FCR.True.Total, "one problem")
	assert.Equal(t, int64(0), got.FCR.True.Achieved)
}

// A redelivery, however late, is a duplicate: it changes no figure and
// gets no warning, even once its issue's state was forgotten behind a
// reopen days later.
func TestADuplicateGetsNoWarning(t *testing.T) {
	log := handLog +
		`{"id":"00000000-0000-7000-8000-000000000003","issue":"00000000-0000-7000-8000-0000000000a1","version":3,"type":"issue.reopened","at":"2026-03-04T11:00:00Z","data":{"contact":"00000000-0000-7000-8000-0000000000c3","channel":"phone"}}` + "\n" +
		strings.SplitAfter(handLog, "\n")[0]
	got, stderr := jsonReport(t, log)
	assert.Equal(t, int64(1), got.Input.Duplicates)
	assert.Zero(t, got.Service.LateEvents)
	assert.Empty(t, stderr)
}

// A line that gives an event again, by its id and version, holding
// something else is no redelivery: the log has two events there. The tool
// stops on it, or skips it; the same event written otherwise (members in
// another order, its time in another zone) is a duplicate.
func TestAnEventGivenAgainHoldingOtherThanBeforeIsAConflict(t *testing.T) {
	lines := strings.SplitAfter(handLog, "\n")
	other := strings.Replace(lines[1], `"agent":"maria"`, `"agent":"olli"`, 1)
	same := `{"data":{"agent":"maria","contact":"00000000-0000-7000-8000-0000000000c1"},"at":"2026-03-02T11:10:00+02:00","type":"issue.resolved","version":2,"issue":"00000000-0000-7000-8000-0000000000a1","id":"00000000-0000-7000-8000-000000000002"}` + "\n"
	for _, at := range []string{"right after", "while held"} {
		log, line := handLog+other, "line 3"
		if at == "while held" {
			// The copy comes before the opening, while its original
			// waits for it.
			log, line = lines[1]+other+lines[0], "line 2"
		}
		code, _, stderr := runTool(t, log, "-")
		require.Equal(t, 1, code, at)
		assert.Contains(t, stderr, line, at)
		assert.Contains(t, stderr, "holding other than before", at)
		got, _ := jsonReport(t, log, "-skip-invalid")
		assert.Equal(t, int64(1), got.Input.Invalid, at)
		assert.Zero(t, got.Input.Duplicates, at)

		got, stderr = jsonReport(t, strings.Replace(log, other, same, 1))
		assert.Equal(t, int64(1), got.Input.Duplicates, at)
		assert.Empty(t, stderr, at)
	}
}

// A skipped event whose data alone is malformed takes its version, as one
// of an unknown type does: the resolution after it counts, rather than
// being skipped too as a break of its stream.
func TestASkippedMalformedEventKeepsItsStreamGoing(t *testing.T) {
	log := `{"id":"00000000-0000-7000-8000-000000000001","issue":"00000000-0000-7000-8000-0000000000a1","version":1,"type":"issue.opened","at":"2026-03-02T09:00:00Z","data":{"customer":{"keys":["email:anna@example.com"]},"channel":"phone","topic":"billing/refund","contact":"00000000-0000-7000-8000-0000000000c1"}}
{"id":"00000000-0000-7000-8000-000000000002","issue":"00000000-0000-7000-8000-0000000000a1","version":2,"type":"issue.routed","at":"2026-03-02T09:01:00Z","data":{"contact":"00000000-0000-7000-8000-0000000000c1","queue":"billing","wait_ms":1500.5}}
{"id":"00000000-0000-7000-8000-000000000003","issue":"00000000-0000-7000-8000-0000000000a1","version":3,"type":"issue.resolved","at":"2026-03-02T09:10:00Z","data":{"contact":"00000000-0000-7000-8000-0000000000c1","agent":"maria"}}
`
	code, _, stderr := runTool(t, log, "-")
	require.Equal(t, 1, code)
	assert.Contains(t, stderr, "line 2")
	got, stderr := jsonReport(t, log, "-skip-invalid")
	assert.Equal(t, int64(1), got.Input.Invalid)
	assert.Contains(t, got.Input.FirstInvalid, "line 2")
	assert.Equal(t, int64(2), got.Input.Events)
	assert.Zero(t, got.Volume.Backlog.Open, "resolved")
	assert.Equal(t, int64(1), got.Service.Reopen.Total, "one resolution")
}

// A skipped resolution whose data is malformed does not resolve its issue
// in any projection: the report is the one without that line.
func TestASkippedMalformedResolutionResolvesNothing(t *testing.T) {
	opened := `{"id":"00000000-0000-7000-8000-000000000001","issue":"00000000-0000-7000-8000-0000000000a1","version":1,"type":"issue.opened","at":"2026-03-02T09:00:00Z","data":{"customer":{"keys":["email:anna@example.com"]},"channel":"phone","topic":"billing/refund","contact":"00000000-0000-7000-8000-0000000000c1"}}
`
	bad := `{"id":"00000000-0000-7000-8000-000000000002","issue":"00000000-0000-7000-8000-0000000000a1","version":2,"type":"issue.resolved","at":"2026-03-02T09:10:00Z","data":{"contact":"00000000-0000-7000-8000-0000000000c1","handle_ms":"x"}}
`
	later := `{"id":"00000000-0000-7000-8000-000000000003","issue":"00000000-0000-7000-8000-0000000000a2","version":1,"type":"issue.opened","at":"2026-03-20T09:00:00Z","data":{"customer":{"keys":["email:bo@example.com"]},"channel":"chat","topic":"other","contact":"00000000-0000-7000-8000-0000000000c2"}}
`
	report := func(log string) output {
		got, _ := jsonReport(t, log, "-skip-invalid")
		return got
	}
	with, without := report(opened+bad+later), report(opened+later)
	assert.Equal(t, int64(1), with.Input.Invalid)
	assert.Equal(t, int64(2), with.Volume.Backlog.Open)
	assert.Equal(t, without.Volume.Backlog, with.Volume.Backlog)
	assert.Equal(t, without.FCR.Unresolved, with.FCR.Unresolved)
	assert.Equal(t, without.Service.ServiceFigures, with.Service.ServiceFigures)
}

// A copy of a skipped line is skipped too, and changes no figure: its
// first copy passed its version on, so the projections do not take it for
// a late event, and nothing warns of one.
func TestACopyOfASkippedLineChangesNothing(t *testing.T) {
	log := `{"id":"00000000-0000-7000-8000-000000000001","issue":"00000000-0000-7000-8000-0000000000a1","version":1,"type":"issue.opened","at":"2026-03-02T09:00:00Z","data":{"customer":{"keys":["email:anna@example.com"]},"channel":"phone","topic":"billing/refund","contact":"00000000-0000-7000-8000-0000000000c1"}}
{"id":"00000000-0000-7000-8000-000000000002","issue":"00000000-0000-7000-8000-0000000000a1","version":2,"type":"issue.routed","at":"2026-03-02T09:01:00Z","data":{"contact":"00000000-0000-7000-8000-0000000000c1","queue":"billing","wait_ms":"x"}}
{"id":"00000000-0000-7000-8000-000000000003","issue":"00000000-0000-7000-8000-0000000000a1","version":3,"type":"issue.resolved","at":"2026-03-02T09:10:00Z","data":{"contact":"00000000-0000-7000-8000-0000000000c1","agent":"maria"}}
{"id":"00000000-0000-7000-8000-000000000004","issue":"00000000-0000-7000-8000-0000000000a2","version":1,"type":"issue.opened","at":"2026-03-20T09:00:00Z","data":{"customer":{"keys":["email:bo@example.com"]},"channel":"chat","topic":"other","contact":"00000000-0000-7000-8000-0000000000c2"}}
`
	copied := log + strings.SplitAfter(log, "\n")[1]
	once, _ := jsonReport(t, log, "-skip-invalid")
	twice, stderr := jsonReport(t, copied, "-skip-invalid")
	assert.Equal(t, int64(2), twice.Input.Invalid, "two bad lines")
	assert.Zero(t, twice.Input.Duplicates)
	assert.Zero(t, twice.Service.LateEvents)
	assert.Zero(t, twice.Volume.LateEvents)
	assert.Empty(t, stderr)
	once.Input, twice.Input = input{}, input{}
	assert.Equal(t, once, twice)
}

// An event stamped years ahead of the clock (a typo in the year) stops the
// tool with its line, or is skipped with -skip-invalid, rather than make
// every event after it late; -max-future -1 takes it.
func TestAnEventFarAheadOfTheClockStopsTheTool(t *testing.T) {
	ahead := handLog + `{"id":"00000000-0000-7000-8000-000000000004","issue":"00000000-0000-7000-8000-0000000000a2","version":1,"type":"issue.opened","at":"2062-03-03T09:00:00Z","data":{"customer":{"keys":["email:anna@example.com"]},"channel":"phone","topic":"billing/refund","contact":"00000000-0000-7000-8000-0000000000c2"}}` + "\n"
	code, stdout, stderr := runTool(t, ahead, "-")
	assert.Equal(t, 1, code)
	assert.Empty(t, stdout)
	assert.Contains(t, stderr, "line 3")
	assert.Contains(t, stderr, "event time 2062-03-03T09:00:00Z is more than 1h0m0s after the clock's time")
	assert.Contains(t, stderr, "-max-future")

	got, stderr := jsonReport(t, ahead, "-skip-invalid")
	assert.Equal(t, int64(1), got.Input.Invalid)
	assert.Equal(t, int64(1), got.FCR.Issues)
	assert.Zero(t, got.FCR.LateEvents)

	got, stderr = jsonReport(t, ahead, "-max-future", "-1ns")
	assert.Equal(t, int64(2), got.FCR.Issues)
}

// A line refused as stamped far ahead changes nothing of the stream
// checker either: before, it moved the checker's watermark to 2062, so
// that every resolved issue was let go at the next tidy and a second
// resolution that came later was passed on unchecked, not skipped.
func TestAFutureLineChangesNothingOfTheChecker(t *testing.T) {
	ahead := `{"id":"00000000-0000-7000-8000-000000000004","issue":"00000000-0000-7000-8000-0000000000a2","version":1,"type":"issue.opened","at":"2062-03-03T09:00:00Z","data":{"customer":{"keys":["email:bo@example.com"]},"channel":"phone","topic":"billing/refund","contact":"00000000-0000-7000-8000-0000000000c2"}}` + "\n"
	var fill strings.Builder
	for i := range 4100 {
		fmt.Fprintf(&fill, `{"id":"00000000-0000-7000-9000-%012x","issue":"00000000-0000-7000-a000-%012x","version":1,"type":"issue.opened","at":"2026-03-02T09:30:00Z","data":{"customer":{"keys":["email:f%d@example.com"]},"channel":"web","topic":"tech/tv","contact":"00000000-0000-7000-b000-%012x"}}`+"\n", i, i, i, i)
	}
	again := `{"id":"00000000-0000-7000-8000-000000000003","issue":"00000000-0000-7000-8000-0000000000a1","version":3,"type":"issue.resolved","at":"2026-03-02T09:40:00Z","data":{"contact":"00000000-0000-7000-8000-0000000000c1","agent":"maria"}}` + "\n"
	for _, log := range []string{handLog + fill.String() + again, handLog + ahead + fill.String() + again} {
		got, _ := jsonReport(t, log, "-skip-invalid")
		assert.Zero(t, got.Input.Unchecked, "the second resolution is checked")
		assert.Equal(t, int64(1), got.FCR.Achieved+got.FCR.Pending, "and not applied")
	}
}

// gappedLog is an issue opened, classified (a line the log lacks, version
// 2), routed and resolved, then another customer's issue two days later,
// which moves the event time beyond the lateness; ahead, when set, is the
// time of the routing, stamped far ahead.
func gappedLog(ahead string) (log string, missing string) {
	routedAt := "2026-03-02T09:05:00Z"
	if ahead != "" {
		routedAt = ahead
	}
	missing = `{"id":"00000000-0000-7000-8000-000000000012","issue":"00000000-0000-7000-8000-0000000000a1","version":2,"type":"issue.classified","at":"2026-03-02T09:01:00Z","data":{"topic":"billing/refund"}}` + "\n"
	log = `{"id":"00000000-0000-7000-8000-000000000011","issue":"00000000-0000-7000-8000-0000000000a1","version":1,"type":"issue.opened","at":"2026-03-02T09:00:00Z","data":{"customer":{"keys":["email:anna@example.com"]},"channel":"chat","topic":"billing","contact":"00000000-0000-7000-8000-0000000000c1"}}` + "\n" +
		`{"id":"00000000-0000-7000-8000-000000000013","issue":"00000000-0000-7000-8000-0000000000a1","version":3,"type":"issue.routed","at":"` + routedAt + `","data":{"contact":"00000000-0000-7000-8000-0000000000c1","queue":"billing","agent":"maria"}}` + "\n" +
		`{"id":"00000000-0000-7000-8000-000000000014","issue":"00000000-0000-7000-8000-0000000000a1","version":4,"type":"issue.resolved","at":"2026-03-02T09:10:00Z","data":{"contact":"00000000-0000-7000-8000-0000000000c1","agent":"maria"}}` + "\n" +
		`{"id":"00000000-0000-7000-8000-000000000015","issue":"00000000-0000-7000-8000-0000000000a2","version":1,"type":"issue.opened","at":"2026-03-04T09:00:00Z","data":{"customer":{"keys":["email:bo@example.com"]},"channel":"phone","topic":"tech","contact":"00000000-0000-7000-8000-0000000000c2"}}` + "\n"
	return log, missing
}

// A version the log lacks stops the tool, naming it; with -skip-invalid,
// the stream goes on past it, as the projections' streams do once the
// lateness passed, and the version is counted as missing. If it comes
// later in the log after all, it is late.
func TestVersionsMissingFromTheLogAreGonePast(t *testing.T) {
	log, missing := gappedLog("")
	code, stdout, stderr := runTool(t, log, "-")
	assert.Equal(t, 1, code)
	assert.Empty(t, stdout)
	assert.Contains(t, stderr, "line 2: issue 00000000-0000-7000-8000-0000000000a1 version 3: version 2 is not in the log before it")

	for _, tt := range []struct {
		name string
		log  string
		late int64
	}{{"missing", log, 0}, {"come late", log + missing, 1}} {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := jsonReport(t, tt.log, "-skip-invalid")
			assert.Equal(t, int64(1), got.Input.Missing)
			assert.Zero(t, got.Input.Invalid)
			assert.Equal(t, int64(1), got.FCR.MissingEvents, "the projections went past it too")
			assert.Equal(t, int64(1), got.FCR.Pending, "resolved: the resolution after the gap was read")
			assert.Equal(t, int64(1), got.Service.Answered, "and the routing")
			assert.Equal(t, tt.late, got.FCR.LateDropped)
			assert.Equal(t, 2+tt.late, got.Input.Unchecked, "the lines after the gap, and the version come late, are the projections' to judge")
		})
	}
}

// A line refused as stamped far ahead takes its version in its stream, so
// that the events after it are read: the routing is lost, the resolution
// after it is not.
func TestTheLineAfterAFutureLineIsRead(t *testing.T) {
	log, missing := gappedLog("2062-03-02T09:05:00Z")
	first, rest, _ := strings.Cut(log, "\n")
	got, _ := jsonReport(t, first+"\n"+missing+rest, "-skip-invalid")
	assert.Equal(t, int64(1), got.Input.Invalid)
	assert.Contains(t, got.Input.FirstInvalid, "line 3")
	assert.Zero(t, got.Input.Missing, "the log lacks no line")
	assert.Equal(t, int64(1), got.FCR.Pending, "resolved")
	assert.Zero(t, got.Service.Answered, "the routing was left out")
	assert.Equal(t, int64(1), got.FCR.MissingEvents, "the projections went past the routing")
}

// -channel-threshold gives a channel its own service level threshold.
func TestChannelThresholds(t *testing.T) {
	jsonl, _ := simulatedLog(t)
	def, _ := jsonReport(t, jsonl)
	got, _ := jsonReport(t, jsonl, "-channel-threshold", "email=24h", "-channel-threshold", "chat=2m")
	assert.Equal(t, map[string]float64{"email": 86400, "chat": 120}, got.Service.Definition.ChannelThresholdsS)
	assert.Greater(t, got.Service.ByChannel["chat"].ServiceLevel.Hits, def.Service.ByChannel["chat"].ServiceLevel.Hits)
	assert.Equal(t, def.Service.ByChannel["phone"].ServiceLevel, got.Service.ByChannel["phone"].ServiceLevel)

	code, _, stderr := runTool(t, jsonl, "-channel-threshold", "email=0s", "-")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, `threshold "0s" of email is not a positive duration`)

	_, stderr = jsonReport(t, jsonl, "-channel-threshold", "Email=24h")
	assert.Contains(t, stderr, `-channel-threshold names channel "Email", which no contact of the log came on`)
	_, stderr = jsonReport(t, jsonl, "-channel-threshold", "email=24h")
	assert.NotContains(t, stderr, "-channel-threshold")
}

// An opening whose key does not normalise (a national number without
// -country), skipped with -skip-invalid, passes its version over as any
// line skipped for breaking its stream: the events after it are read as
// its stream's, and no version is missing from the log.
func TestAnOpeningWithABadKeyPassesItsVersionOver(t *testing.T) {
	log := `{"id":"00000000-0000-7000-8000-000000000001","issue":"00000000-0000-7000-8000-0000000000a1","version":1,"type":"issue.opened","at":"2026-03-02T09:00:00Z","data":{"customer":{"keys":["phone:040 123 4567"]},"channel":"phone","topic":"billing/refund","contact":"00000000-0000-7000-8000-0000000000c1"}}
{"id":"00000000-0000-7000-8000-000000000002","issue":"00000000-0000-7000-8000-0000000000a1","version":2,"type":"issue.routed","at":"2026-03-02T09:01:00Z","data":{"contact":"00000000-0000-7000-8000-0000000000c1","queue":"billing"}}
{"id":"00000000-0000-7000-8000-000000000003","issue":"00000000-0000-7000-8000-0000000000a1","version":3,"type":"issue.resolved","at":"2026-03-02T09:10:00Z","data":{"contact":"00000000-0000-7000-8000-0000000000c1","agent":"maria"}}
{"id":"00000000-0000-7000-8000-000000000004","issue":"00000000-0000-7000-8000-0000000000a2","version":1,"type":"issue.opened","at":"2026-03-20T09:00:00Z","data":{"customer":{"keys":["email:bo@example.com"]},"channel":"chat","topic":"other","contact":"00000000-0000-7000-8000-0000000000c2"}}
`
	got, _ := jsonReport(t, log, "-skip-invalid")
	assert.Equal(t, int64(1), got.Input.Invalid, "the opening")
	assert.Zero(t, got.Input.Missing, "the skipped opening's version was in the log")
	assert.Zero(t, got.Input.Reordered)
}

// A second issue.opened (version 3) comes before version 2: it waits for
// version 2 and is then skipped, its version passed over, whether its key
// normalises or not; no version is missing from the log.
func TestASkippedOpeningAheadOfItsStreamWaits(t *testing.T) {
	for _, key := range []string{"email:bo@example.com", "phone:040 123 4567"} {
		log := `{"id":"00000000-0000-7000-8000-000000000001","issue":"00000000-0000-7000-8000-0000000000a1","version":1,"type":"issue.opened","at":"2026-03-02T09:00:00Z","data":{"customer":{"id":"c1"},"channel":"phone","topic":"billing/refund","contact":"00000000-0000-7000-8000-0000000000c1"}}
{"id":"00000000-0000-7000-8000-000000000003","issue":"00000000-0000-7000-8000-0000000000a1","version":3,"type":"issue.opened","at":"2026-03-02T09:02:00Z","data":{"customer":{"keys":["` + key + `"]},"channel":"phone","topic":"billing/refund","contact":"00000000-0000-7000-8000-0000000000c3"}}
{"id":"00000000-0000-7000-8000-000000000002","issue":"00000000-0000-7000-8000-0000000000a1","version":2,"type":"issue.routed","at":"2026-03-02T09:01:00Z","data":{"contact":"00000000-0000-7000-8000-0000000000c1","queue":"billing"}}
{"id":"00000000-0000-7000-8000-000000000004","issue":"00000000-0000-7000-8000-0000000000a1","version":4,"type":"issue.resolved","at":"2026-03-02T09:10:00Z","data":{"contact":"00000000-0000-7000-8000-0000000000c1","agent":"maria"}}
{"id":"00000000-0000-7000-8000-000000000005","issue":"00000000-0000-7000-8000-0000000000a2","version":1,"type":"issue.opened","at":"2026-03-20T09:00:00Z","data":{"customer":{"keys":["email:bo@example.com"]},"channel":"chat","topic":"other","contact":"00000000-0000-7000-8000-0000000000c2"}}
`
		got, stderr := jsonReport(t, log, "-skip-invalid")
		msg := fmt.Sprintf("key %q: %+v %s", key, got.Input, stderr)
		assert.Equal(t, int64(1), got.Input.Invalid, msg)
		assert.Zero(t, got.Input.Missing, msg)
		assert.Equal(t, int64(4), got.Input.Events, msg)
	}
}

// The largest -lateness the flag takes (2562047h) still checks every
// event against its stream: the checker's horizon is W + lateness, which
// must not wrap around to a negative duration and let go of every
// resolved issue at once.
func TestTheLargestLatenessStillChecksTheLifecycle(t *testing.T) {
	_, log := simulatedLog(t)
	require.Greater(t, len(log), 4096, "enough lines for the checker to tidy")
	var first events.Envelope // the first resolution of the log
	last := map[uuid.UUID]uint64{}
	for _, e := range log {
		last[e.Issue] = e.Version
		if first.Issue == uuid.Nil && e.Type() == events.TypeResolved {
			first = e
		}
	}
	// Its issue resolved twice more at the end: the second of these is a
	// resolution of a resolved issue, whatever came before.
	again := first
	again.ID = uuid.New()
	again.Version = last[first.Issue] + 1
	again.At = log[len(log)-1].At.Add(time.Second)
	twice := again
	twice.ID = uuid.New()
	twice.Version++
	twice.At = again.At.Add(time.Second)
	jsonl := jsonLines(t, append(log, again, twice))

	for _, lateness := range []string{"2000000h", "2562047h"} {
		code, _, stderr := runTool(t, jsonl, "-lateness", lateness, "-")
		assert.Equal(t, 1, code, "-lateness %s: %s", lateness, stderr)
		assert.Contains(t, stderr, "already resolved", "-lateness %s", lateness)
	}
}

// The text format says which line was skipped first, and why, as the
// JSON's input.first_invalid does.
func TestTextFormatNamesTheSkippedLine(t *testing.T) {
	log := handLog + "garbage\n"
	_, stdout, _ := runTool(t, log, "-skip-invalid", "-")
	var got output
	require.NoError(t, json.Unmarshal([]byte(stdout), &got))
	require.Contains(t, got.Input.FirstInvalid, "line 3")

	code, text, stderr := runTool(t, log, "-skip-invalid", "-format", "text", "-")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, text, "first line skipped: "+got.Input.FirstInvalid+"\n")
}

// The report states the identity rule that made it, as it states every rule:
// the tool normalises the keys of every opening before the FCR compares
// them, so "phone:040 123 4567" and "phone:+358401234567" are one customer
// with -country 358.
func TestTheStatedIdentityRuleIsTheOneApplied(t *testing.T) {
	got, _ := jsonReport(t, annaLog(t), "-country", "358")
	require.Equal(t, int64(1), got.FCR.True.Total, "the two tickets were linked by normalised keys")
	for _, def := range []string{got.FCR.Definition.Identity, got.Definition.Identity} {
		assert.NotContains(t, def, "keys are compared as given")
		assert.Contains(t, def, "keys are normalised as the write side does (contact.KeyRules: phone numbers to E.164, +358 for those written without a country code;")
		assert.Contains(t, def, "belong to one customer, transitively", "the rest of the rule stays")
	}
	_, text, _ := runTool(t, annaLog(t), "-country", "358", "-format", "text", "-")
	assert.Contains(t, text, "+358 for those written without a country code")

	got, _ = jsonReport(t, handLog)
	assert.Contains(t, got.FCR.Definition.Identity, "those written without a country code refused")
}

// An opening whose customer is only an id of invisible characters, as a
// write side that trimmed ids of spaces only wrote it, is refused, saying
// why: the write side trims such an id to nothing.
func TestAnOpeningWithAnInvisibleIDAlone(t *testing.T) {
	log := strings.Replace(handLog, `"keys":["email:anna@example.com"]`, `"id":"\u200b"`, 1)
	require.NotEqual(t, handLog, log)
	code, _, stderr := runTool(t, log, "-")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "line 1: ")
	assert.Contains(t, stderr, `the customer has neither an id nor an identity key: an id of invisible characters only identifies no one ("\u200b")`)
}

// An opening whose only key is a withheld number is refused, saying so,
// as the write side refuses it; with -skip-invalid it is skipped and
// counted.
func TestAnOpeningWithAWithheldNumberAlone(t *testing.T) {
	log := strings.Replace(handLog, `"keys":["email:anna@example.com"]`, `"keys":["phone:anonymous"]`, 1)
	require.NotEqual(t, handLog, log)
	code, _, stderr := runTool(t, log, "-")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "line 1: ")
	assert.Contains(t, stderr, `the customer has neither an id nor an identity key: a withheld number, or a key of invisible characters only, identifies no one (["phone:anonymous"])`)

	got, _ := jsonReport(t, log, "-skip-invalid")
	assert.Contains(t, got.Input.FirstInvalid, "identifies no one")

	// So does one whose only key is invisible characters, which the
	// write side drops too.
	log = strings.Replace(handLog, `"keys":["email:anna@example.com"]`, `"keys":["account:\u200b"]`, 1)
	require.NotEqual(t, handLog, log)
	code, _, stderr = runTool(t, log, "-")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, `identifies no one (["account:\u200b"])`)
}

// A log of no events gives an empty report, and a warning: a script that
// exported nothing would otherwise carry on with it. Blank lines count as
// such, so that the lines read add up.
func TestALogOfNoEvents(t *testing.T) {
	code, stdout, stderr := runTool(t, "\n \n", "-format", "text", "-")
	assert.Equal(t, 0, code)
	assert.Equal(t, "fcrreport: warning: the log holds no events (2 lines read)\n", stderr)
	assert.Contains(t, stdout, "read 2 lines: 0 events (0 unchecked, 0 reordered), 0 duplicates, 0 skipped as invalid, 0 of unknown type, 2 blank; 0 versions missing")

	got, stderr := jsonReport(t, "\n"+handLog+"\n") // handLog ends its last line
	assert.Empty(t, stderr)
	assert.Equal(t, 2, got.Input.Blank)
	assert.Equal(t, int64(got.Input.Lines), got.Input.Events+int64(got.Input.Blank))
}

// Without a file, or with two, the tool says what it wants before its
// usage.
func TestOneFileIsWanted(t *testing.T) {
	for _, args := range [][]string{nil, {"a.jsonl", "b.jsonl"}} {
		code, _, stderr := runTool(t, handLog, args...)
		assert.Equal(t, 2, code)
		assert.True(t, strings.HasPrefix(stderr, fmt.Sprintf("fcrreport: want one FILE, or - for standard input, got %d arguments\n\nusage: fcrreport", len(args))), stderr)
	}
}

// Flags after the file name are refused with a word on where they go.
func TestFlagsAfterTheFileName(t *testing.T) {
	code, _, stderr := runTool(t, handLog, "-", "-format", "text")
	assert.Equal(t, 2, code)
	assert.Equal(t, "fcrreport: -format after the file name: flags go before it (fcrreport [flags] FILE)\n", stderr)
}
