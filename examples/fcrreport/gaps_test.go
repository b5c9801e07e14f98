package main

import (
	"encoding/json"
	"fmt"
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

// closer is an opening of a new issue long after last, so that every gap
// is older than the lateness.
func closer(last time.Time) events.Envelope {
	return events.Envelope{ID: uuid.MustParse("00000000-0000-7000-8000-0000000fffff"), Issue: uuid.MustParse("00000000-0000-7000-8000-0000000ffffe"), Version: 1, At: last.Add(72 * time.Hour),
		Data: &events.Opened{Customer: events.Customer{Keys: []string{"email:zz@example.com"}}, Channel: "web", Topic: "tech", Contact: uuid.MustParse("00000000-0000-7000-8000-0000000ffffd")}}
}

// compareWithLibrary runs the tool with -skip-invalid on kept, and a
// Reporter fed kept directly: their reports must be equal, but for which
// of the FCR's events that never joined their stream are still held and
// which were orphaned: the tool hands on a line that waited for an earlier
// version of its issue later than the log has it, and those counts depend
// on delivery.
func compareWithLibrary(t *testing.T, kept []events.Envelope) output {
	t.Helper()
	kept = append(kept, closer(kept[len(kept)-1].At))
	code, stdout, stderr := runTool(t, jsonLines(t, kept), "-skip-invalid", "-")
	require.Equal(t, 0, code, stderr)
	var got output
	require.NoError(t, json.Unmarshal([]byte(stdout), &got))
	r, err := projections.NewReporter(projections.ReportConfig{})
	require.NoError(t, err)
	for _, e := range kept {
		require.NoError(t, r.Apply(e))
	}
	want := r.Report()
	stateKeys(&want, contact.KeyRules{}) // as the tool states its rule
	assert.Equal(t, want.FCR.HeldEvents+want.FCR.OrphanedEvents, got.FCR.HeldEvents+got.FCR.OrphanedEvents, "held or orphaned")
	gotReport := got.Report
	gotReport.FCR.HeldEvents, gotReport.FCR.OrphanedEvents = want.FCR.HeldEvents, want.FCR.OrphanedEvents
	wj, err := json.Marshal(want)
	require.NoError(t, err)
	gj, err := json.Marshal(gotReport)
	require.NoError(t, err)
	assert.JSONEq(t, string(wj), string(gj))
	return got
}

// Lines removed from the log, openings or later versions: the tool
// reports what the library fed the remaining events reports, once the
// lateness passed, and skips no remaining line.
func TestRemovedLinesGiveTheLibrarysReport(t *testing.T) {
	log, _, err := simulate.Collect(simulate.Config{Seed: 11, Days: 21, Customers: 400, IssuesPerDay: 50})
	require.NoError(t, err)
	for _, openings := range []bool{false, true} {
		t.Run(fmt.Sprintf("openings=%t", openings), func(t *testing.T) {
			var kept []events.Envelope
			n := 0
			for _, e := range log {
				if (e.Version == 1) == openings {
					if n++; n%37 == 0 {
						continue
					}
				}
				kept = append(kept, e)
			}
			got := compareWithLibrary(t, kept)
			assert.Zero(t, got.Input.Invalid, got.Input.FirstInvalid)
			assert.Positive(t, got.Input.Missing)
			if !openings {
				// A stream without its opening is no issue's: the FCR
				// ignores it rather than go past its gap.
				assert.Positive(t, got.FCR.MissingEvents)
			}
		})
	}
}

// The lines of an issue opened on chat, followed up on the phone, routed
// and resolved, and of another customer's issue three days later.
const (
	handOpened    = `{"id":"00000000-0000-7000-8000-000000000001","issue":"00000000-0000-7000-8000-0000000000a1","version":1,"type":"issue.opened","at":"2026-03-02T09:00:00Z","data":{"customer":{"keys":["email:anna@example.com"]},"channel":"chat","topic":"billing","contact":"00000000-0000-7000-8000-0000000000c1"}}` + "\n"
	handContacted = `{"id":"00000000-0000-7000-8000-000000000002","issue":"00000000-0000-7000-8000-0000000000a1","version":2,"type":"issue.contacted","at":"2026-03-02T09:01:00Z","data":{"contact":"00000000-0000-7000-8000-0000000000c2","channel":"phone"}}` + "\n"
	handRouted    = `{"id":"00000000-0000-7000-8000-000000000003","issue":"00000000-0000-7000-8000-0000000000a1","version":3,"type":"issue.routed","at":"2026-03-02T09:02:00Z","data":{"contact":"00000000-0000-7000-8000-0000000000c2","queue":"billing","agent":"maria"}}` + "\n"
	handResolved  = `{"id":"00000000-0000-7000-8000-000000000004","issue":"00000000-0000-7000-8000-0000000000a1","version":4,"type":"issue.resolved","at":"2026-03-02T09:10:00Z","data":{"contact":"00000000-0000-7000-8000-0000000000c2","agent":"maria"}}` + "\n"
	handLater     = `{"id":"00000000-0000-7000-8000-000000000005","issue":"00000000-0000-7000-8000-0000000000a2","version":1,"type":"issue.opened","at":"2026-03-05T09:00:00Z","data":{"customer":{"keys":["email:bo@example.com"]},"channel":"web","topic":"tech","contact":"00000000-0000-7000-8000-0000000000c3"}}` + "\n"
)

// libraryReport is the report of a Reporter fed the lines of log that it
// takes.
func libraryReport(t *testing.T, log string) projections.Report {
	t.Helper()
	r, err := projections.NewReporter(projections.ReportConfig{})
	require.NoError(t, err)
	for e, err := range events.NewLineReader(strings.NewReader(log), events.NewJSONCodec(nil)).All() {
		require.NoError(t, err)
		_ = r.Apply(e) // what the Reporter refuses, it refuses
	}
	rep := r.Report()
	stateKeys(&rep, contact.KeyRules{}) // as the tool states its rule
	return rep
}

// The line the log lacks (issue.contacted, version 2) brought contact c2:
// the routing and the resolution of c2 after the gap are not judged
// against a state without it (they would break its rules), but passed on
// unchecked, as the library takes them.
func TestLinesAfterAGapAreNotJudgedByAStateMissingIt(t *testing.T) {
	log := handOpened + handRouted + handResolved + handLater
	got, _ := jsonReport(t, log, "-skip-invalid")
	want := libraryReport(t, log)
	assert.Equal(t, int64(1), got.Input.Missing)
	assert.Zero(t, got.Input.Invalid, got.Input.FirstInvalid)
	assert.Equal(t, want.FCR.Unresolved, got.FCR.Unresolved, "the library has the issue resolved")
	assert.Equal(t, want.Service.Answered, got.Service.Answered)
}

// An opening the log lacks: the later lines of its issue are passed on,
// not skipped as of another issue, as the library takes them.
func TestAMissingOpeningDoesNotCascade(t *testing.T) {
	log := handContacted + handRouted + handResolved + handLater
	got, _ := jsonReport(t, log, "-skip-invalid")
	want := libraryReport(t, log)
	assert.NotContains(t, got.Input.FirstInvalid, "00000000-0000-0000-0000-000000000000")
	assert.Zero(t, got.Input.Invalid, got.Input.FirstInvalid)
	wj, _ := json.Marshal(want)
	gj, _ := json.Marshal(got.Report)
	assert.JSONEq(t, string(wj), string(gj))
}

// An opening skipped (stamped far ahead): the later lines of its issue
// are passed on, not skipped one after the other.
func TestASkippedOpeningDoesNotCascade(t *testing.T) {
	ahead := strings.Replace(handOpened, "2026-03-02T09:00:00Z", "2062-03-02T09:00:00Z", 1)
	log := ahead + handContacted + handRouted + handResolved + handLater
	got, _ := jsonReport(t, log, "-skip-invalid")
	want := libraryReport(t, log)
	assert.Equal(t, int64(1), got.Input.Invalid, "the opening alone: %s", got.Input.FirstInvalid)
	wj, _ := json.Marshal(want)
	gj, _ := json.Marshal(got.Report)
	assert.JSONEq(t, string(wj), string(gj), "the library (which refuses the opening too) takes the rest")
}

// An unknown-type line stamped too far ahead takes its version too: the
// next line is not taken for one after a version the log lacks.
func TestAnUnknownLineAheadTakesItsVersion(t *testing.T) {
	unknown := `{"id":"00000000-0000-7000-8000-000000000009","issue":"00000000-0000-7000-8000-0000000000a1","version":2,"type":"acme.escalated","at":"2062-03-02T09:05:00Z","data":{}}` + "\n"
	resolved := `{"id":"00000000-0000-7000-8000-000000000004","issue":"00000000-0000-7000-8000-0000000000a1","version":3,"type":"issue.resolved","at":"2026-03-02T09:10:00Z","data":{"contact":"00000000-0000-7000-8000-0000000000c1","agent":"maria"}}` + "\n"
	log := handOpened + unknown + resolved
	code, _, stderr := runTool(t, log, "-skip-unknown-types", "-")
	assert.Equal(t, 0, code, stderr)
	got, _ := jsonReport(t, log, "-skip-invalid")
	assert.Equal(t, int64(1), got.Input.UnknownType)
	assert.Zero(t, got.Input.Missing, "the log lacks no version")
}

// With -skip-unknown-types alone, an unknown-type line after versions the
// log lacks stops the tool: the unknown type is skipped, the gap is not.
func TestAGapBeforeAnUnknownLineStopsTheTool(t *testing.T) {
	unknown := `{"id":"00000000-0000-7000-8000-000000000009","issue":"00000000-0000-7000-8000-0000000000a1","version":3,"type":"acme.escalated","at":"2026-03-02T09:05:00Z","data":{}}` + "\n"
	code, _, stderr := runTool(t, handOpened+unknown, "-skip-unknown-types", "-")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "version 2 is not in the log before it")
}

// Every line is counted once: an unchecked line (a version gone past,
// come late) whose keys do not normalise counts as invalid only.
func TestAnUncheckedLineThatFailsCountsOnce(t *testing.T) {
	badKeys := strings.Replace(handOpened, "email:anna@example.com", "phone:040 123 4567", 1)
	log := handContacted + badKeys + handLater
	got, _ := jsonReport(t, log, "-skip-invalid")
	in := got.Input
	assert.Equal(t, int64(in.Lines), in.Events+in.Duplicates+in.Invalid+in.UnknownType+int64(in.Blank), "every line counted once: %+v", in)
	// unchecked is a part of events (lines applied unchecked); handLater is
	// a fresh line, so at most events-1 lines are unchecked.
	assert.LessOrEqual(t, in.Unchecked, in.Events-1, "a refused line counted as unchecked too: %+v", in)
}

// A version gone past that comes after the checker would have let its
// issue go (tidy) is late, as the library counts it, not a duplicate: an
// issue with versions missing is kept.
func TestAJumpedVersionComeAfterItsIssueWasLetGoIsLate(t *testing.T) {
	var fill strings.Builder
	for i := range 4100 {
		fmt.Fprintf(&fill, `{"id":"00000000-0000-7000-9000-%012x","issue":"00000000-0000-7000-a000-%012x","version":1,"type":"issue.opened","at":"2026-03-20T09:30:00Z","data":{"customer":{"keys":["email:f%d@example.com"]},"channel":"web","topic":"tech/tv","contact":"00000000-0000-7000-b000-%012x"}}`+"\n", i, i, i, i)
	}
	resolved := strings.Replace(handResolved, "0000000000c2", "0000000000c1", 1)
	log := handOpened + strings.Replace(strings.Replace(resolved, `"version":4`, `"version":3`, 1), "000000000004", "000000000004", 1) + fill.String()
	missing := `{"id":"00000000-0000-7000-8000-000000000003","issue":"00000000-0000-7000-8000-0000000000a1","version":2,"type":"issue.routed","at":"2026-03-02T09:02:00Z","data":{"contact":"00000000-0000-7000-8000-0000000000c1","queue":"billing","agent":"maria"}}` + "\n"
	log += missing
	got, _ := jsonReport(t, log, "-skip-invalid")
	want := libraryReport(t, log)
	assert.Zero(t, got.Input.Duplicates, "no line repeats another")
	assert.Equal(t, want.FCR.LateDropped, got.FCR.LateDropped)
}

// A line refused as stamped far ahead, then its corrected copy (same id,
// right time): the projections never had that version, so the copy is no
// duplicate, and the library fed the same lines takes it.
func TestACorrectedCopyOfAFutureLineIsTaken(t *testing.T) {
	ahead := strings.Replace(handRouted, "2026-03-02T09:02:00Z", "2062-03-02T09:02:00Z", 1)
	log := handOpened + handContacted + ahead + handRouted + handResolved + handLater
	got, _ := jsonReport(t, log, "-skip-invalid")
	want := libraryReport(t, log)
	assert.Zero(t, got.Input.Duplicates)
	assert.Equal(t, want.Service.Answered, got.Service.Answered, "the routing counts")
}

// A copy of a line skipped for breaking the lifecycle rules is skipped
// again, as a copy of one with malformed data is
// (TestACopyOfASkippedLineChangesNothing), not counted as a duplicate.
func TestACopyOfAnInvalidLineCountsAsInvalid(t *testing.T) {
	first := strings.Replace(strings.Replace(handResolved, `"version":4`, `"version":2`, 1), "0000000000c2", "0000000000c1", 1)
	again := strings.Replace(strings.Replace(first, `"version":2`, `"version":3`, 1), "000000000004", "000000000044", 1) // a second resolution: breaks the rules
	log := handOpened + first + again + again + handLater
	got, _ := jsonReport(t, log, "-skip-invalid")
	assert.Equal(t, int64(2), got.Input.Invalid, "both copies of the bad line")
	assert.Zero(t, got.Input.Duplicates)
}

// A line whose version is far beyond its stream's is skipped as invalid,
// not gone past: the checker would keep a place for every version between.
func TestAVersionFarBeyondItsStreamIsInvalid(t *testing.T) {
	far := strings.Replace(handResolved, `"version":4`, `"version":1099511627776`, 1)
	got, _ := jsonReport(t, handOpened+far+handLater, "-skip-invalid")
	assert.Equal(t, int64(1), got.Input.Invalid)
	assert.Contains(t, got.Input.FirstInvalid, "versions 2 to 1099511627775 are not in the log before it, more than 65536 to go past")
	assert.Zero(t, got.Input.Missing)
	assert.Equal(t, int64(2), got.Input.Events)
}

// A line that comes before an earlier version of its issue (two events of
// one second in either order, clocks that disagree) waits for it, without
// -skip-invalid: the report is the one of the log in order, and the line
// is counted as reordered, not as a gap.
func TestLinesOfAnIssueOutOfOrderWaitForTheEarlierOnes(t *testing.T) {
	inOrder := handOpened + handContacted + handRouted + handResolved + handLater
	swapped := handOpened + handRouted + handContacted + handResolved + handLater
	want, _ := jsonReport(t, inOrder)
	got, _ := jsonReport(t, swapped)
	assert.Equal(t, int64(1), got.Input.Reordered)
	got.Input.Reordered = 0
	assert.Equal(t, want, got)

	// The resolution first, then the rest in reverse: each waits.
	reversed := handResolved + handRouted + handContacted + handOpened + handLater
	got, _ = jsonReport(t, reversed)
	assert.Equal(t, int64(3), got.Input.Reordered)
	assert.Zero(t, got.Input.Missing)
	assert.Zero(t, got.Input.Unchecked)
	got.Input.Reordered = 0
	assert.Equal(t, want, got)
}

// A simulated log in which every issue's second and third events trade
// places, when they are less than half the lateness apart, reads as the
// log in order does; the events further apart are gaps, as before.
func TestASimulatedLogWithSwappedLinesReadsAsInOrder(t *testing.T) {
	log, _, err := simulate.Collect(simulate.Config{Seed: 5, Days: 14, Customers: 300, IssuesPerDay: 40})
	require.NoError(t, err)
	swapped := append([]events.Envelope{}, log...)
	at := map[uuid.UUID]map[uint64]int{} // issue → version → index
	for i, e := range swapped {
		if at[e.Issue] == nil {
			at[e.Issue] = map[uint64]int{}
		}
		at[e.Issue][e.Version] = i
	}
	n := 0
	for _, vs := range at {
		i, ok2 := vs[2]
		j, ok3 := vs[3]
		if ok2 && ok3 && swapped[j].At.Sub(swapped[i].At) < 12*time.Hour {
			swapped[i], swapped[j] = swapped[j], swapped[i]
			n++
		}
	}
	require.Greater(t, n, 100)
	want, _ := jsonReport(t, jsonLines(t, log))
	got, _ := jsonReport(t, jsonLines(t, swapped))
	assert.Equal(t, int64(n), got.Input.Reordered)
	got.Input.Reordered = 0
	assert.Equal(t, want.Input, got.Input)
	assert.Equal(t, want.FCR.True, got.FCR.True)
	assert.Equal(t, want.FCR.Problems, got.FCR.Problems)
	assert.Equal(t, want.Service.Answered, got.Service.Answered)
	assert.Zero(t, got.FCR.LateEvents)
}

// A line whose earlier version has not come within half the lateness of
// its time is a gap: it stops the tool, naming the line, without
// -skip-invalid, even when the version comes later.
func TestALineWaitsHalfTheLateness(t *testing.T) {
	// The contact of 09:01 comes after the other issue's opening three
	// days later: the routing of 09:02 waited too long.
	log := handOpened + handRouted + handLater + handContacted + handResolved
	code, stdout, stderr := runTool(t, log, "-")
	assert.Equal(t, 1, code)
	assert.Empty(t, stdout)
	assert.Contains(t, stderr, "line 2: issue 00000000-0000-7000-8000-0000000000a1 version 3: version 2 is not in the log before it")

	got, _ := jsonReport(t, log, "-skip-invalid")
	assert.Equal(t, int64(1), got.Input.Missing)
	assert.Zero(t, got.Input.Reordered)
}

// An issue whose lines come out of order twice: the first wait ended when
// its version came, and does not cut the second one short when its time
// is half the lateness past.
func TestAnIssueWaitsAgainAfterAWaitThatEnded(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	issue := uuid.MustParse("00000000-0000-7000-8000-0000000000b1")
	other, third := uuid.MustParse("00000000-0000-7000-8000-0000000000b2"), uuid.MustParse("00000000-0000-7000-8000-0000000000b3")
	id := func(n int) uuid.UUID { return uuid.MustParse(fmt.Sprintf("00000000-0000-7000-8000-%012d", n)) }
	opened := func(issue uuid.UUID, at time.Time, n int) events.Envelope {
		return events.Envelope{ID: id(n), Issue: issue, Version: 1, At: at, Data: &events.Opened{
			Customer: events.Customer{Keys: []string{fmt.Sprintf("email:c%d@example.com", n)}}, Channel: "chat", Topic: "billing", Contact: id(100 + n)}}
	}
	contacted := func(v uint64, at time.Time) events.Envelope {
		return events.Envelope{ID: id(10 + int(v)), Issue: issue, Version: v, At: at, Data: &events.Contacted{Contact: id(200 + int(v)), Channel: "phone"}}
	}
	inOrder := []events.Envelope{
		opened(issue, t0, 1), contacted(2, t0.Add(time.Minute)), contacted(3, t0.Add(2*time.Minute)),
		opened(other, t0.Add(11*time.Hour), 2),
		contacted(4, t0.Add(11*time.Hour+time.Minute)), contacted(5, t0.Add(11*time.Hour+2*time.Minute)),
		opened(third, t0.Add(12*time.Hour+10*time.Minute), 3),
	}
	swapped := []events.Envelope{inOrder[0], inOrder[2], inOrder[1], inOrder[3], inOrder[5], inOrder[6], inOrder[4]}
	want, _ := jsonReport(t, jsonLines(t, inOrder))
	got, _ := jsonReport(t, jsonLines(t, swapped))
	assert.Equal(t, int64(2), got.Input.Reordered)
	got.Input.Reordered = 0
	assert.Equal(t, want, got)
}

// skippedAhead are lines skipped as invalid, stamped three weeks after the
// hand-written log: one that breaks the lifecycle (a resolution of an
// issue never opened), and one whose data alone is malformed (an opening
// whose contact is no uuid).
var skippedAhead = map[string]string{
	"lifecycle":      `{"id":"00000000-0000-7000-8000-000000000301","issue":"00000000-0000-7000-8000-000000000003","version":1,"type":"issue.resolved","at":"2026-03-25T09:00:00Z","data":{"contact":"00000000-0000-7000-8000-0000000000c3","agent":"x"}}` + "\n",
	"malformed data": `{"id":"00000000-0000-7000-8000-000000000301","issue":"00000000-0000-7000-8000-000000000003","version":1,"type":"issue.opened","at":"2026-03-25T09:00:00Z","data":{"customer":{"keys":["email:b@example.com"]},"channel":"chat","topic":"x","contact":"not-a-uuid"}}` + "\n",
}

// A line skipped as invalid changes no figure: its time is not to be
// trusted, so it moves no watermark, of the tool or of the projections.
// Stamped three weeks ahead, it made the lines after it late, and the
// report of another moment.
func TestASkippedLineMovesNoWatermark(t *testing.T) {
	want, _ := jsonReport(t, handOpened+handContacted+handRouted+handResolved, "-skip-invalid")
	for name, bad := range skippedAhead {
		// Second, or first, when the log has no time yet: the projections
		// are then not given its version.
		for _, log := range []string{handOpened + bad, bad + handOpened} {
			log += handContacted + handRouted + handResolved
			code, stdout, stderr := runTool(t, log, "-skip-invalid", "-")
			require.Zero(t, code, "%s: %s", name, stderr)
			var got output
			require.NoError(t, json.Unmarshal([]byte(stdout), &got), name)
			assert.Equal(t, int64(1), got.Input.Invalid, name)
			assert.Equal(t, want.Watermark, got.Watermark, name)
			assert.Zero(t, got.FCR.LateEvents, name)
			assert.Equal(t, want.FCR.Pending, got.FCR.Pending, name)
			assert.Equal(t, want.Report.Service.ServiceFigures, got.Report.Service.ServiceFigures, name)
		}
	}
}

// Nor does such a line end the wait of a line that came before an
// earlier version of its issue: the version comes after it, and the
// stream is read in order, with nothing missing.
func TestASkippedLineEndsNoWait(t *testing.T) {
	for name, bad := range skippedAhead {
		got, _ := jsonReport(t, handOpened+handRouted+bad+handContacted+handResolved, "-skip-invalid")
		assert.Equal(t, int64(1), got.Input.Invalid, name)
		assert.Zero(t, got.Input.Missing, name)
		assert.Equal(t, int64(1), got.Input.Reordered, name)
		assert.Equal(t, int64(4), got.Input.Events, name)
		assert.Zero(t, got.Input.Unchecked, name)
	}
}

// With -skip-unknown-types alone, a line of an unknown type at a version
// its issue already has, another event, breaks its stream (a version
// conflict) and stops the tool, as versions missing before one do
// (TestAGapBeforeAnUnknownLineStopsTheTool); with -skip-invalid it is
// skipped.
func TestAConflictOfAnUnknownLineStopsTheTool(t *testing.T) {
	conflict := `{"id":"00000000-0000-7000-8000-00000000000a","issue":"00000000-0000-7000-8000-0000000000a1","version":2,"type":"acme.escalated","at":"2026-03-02T09:11:00Z","data":{}}` + "\n"
	log := handOpened + handContacted + conflict
	code, _, stderr := runTool(t, log, "-skip-unknown-types", "-")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "line 3: issue 00000000-0000-7000-8000-0000000000a1 version 2: event 00000000-0000-7000-8000-00000000000a, where the log had event 00000000-0000-7000-8000-000000000002")
	assert.Contains(t, stderr, "version conflict")
	got, _ := jsonReport(t, log, "-skip-invalid")
	assert.Equal(t, int64(1), got.Input.UnknownType)
	assert.Equal(t, int64(2), got.Input.Events)
}

// A skipped line that comes before any line of time is given to the
// projections once the log has a time, as one after it is: which comes
// first changes no figure. Its stream has no opening, so the lines after
// it are ignored either way.
func TestASkippedFirstLineCountsAsOneAfter(t *testing.T) {
	bad := strings.Replace(skippedAhead["malformed data"], "2026-03-25T09:00:00Z", "2026-03-02T08:59:00Z", 1)
	v2 := `{"id":"00000000-0000-7000-8000-000000000302","issue":"00000000-0000-7000-8000-000000000003","version":2,"type":"issue.contacted","at":"2026-03-02T09:03:00Z","data":{"contact":"00000000-0000-7000-8000-0000000000d2","channel":"phone"}}` + "\n"
	v3 := `{"id":"00000000-0000-7000-8000-000000000303","issue":"00000000-0000-7000-8000-000000000003","version":3,"type":"issue.routed","at":"2026-03-02T09:04:00Z","data":{"contact":"00000000-0000-7000-8000-0000000000d2","queue":"billing","agent":"maria"}}` + "\n"
	rest := v2 + v3 + handContacted + handRouted + handResolved + handLater
	for _, ahead := range []bool{false, true} {
		b := bad
		if ahead {
			b = skippedAhead["malformed data"]
		}
		first, _ := jsonReport(t, b+handOpened+rest, "-skip-invalid")
		second, _ := jsonReport(t, handOpened+b+rest, "-skip-invalid")
		assert.Equal(t, "line 2: ", second.Input.FirstInvalid[:len("line 2: ")])
		first.Input.FirstInvalid, second.Input.FirstInvalid = "", ""
		assert.Equal(t, second, first, "ahead %v", ahead)
		assert.Equal(t, int64(3), first.FCR.IgnoredEvents, "the issue without an opening: the line skipped, and the two after it")
		assert.Equal(t, second.Watermark, first.Watermark)
	}
	// In a log that never has a time, at its own.
	alone, _ := jsonReport(t, bad, "-skip-invalid")
	assert.Equal(t, int64(1), alone.Input.Invalid)
	assert.Equal(t, int64(1), alone.FCR.IgnoredEvents)
}

// A line that waits for an earlier version ends, as it is read, the waits
// that it comes too late for: released only later (here, when its
// issue's opening comes), it would leave a line of an issue whose opening
// the log lacks more than the lateness behind.
func TestAReleasedLineEndsTheWaitsItComesTooLateFor(t *testing.T) {
	opened := `{"id":"00000000-0000-7000-8000-000000000401","issue":"00000000-0000-7000-8000-0000000000b4","version":1,"type":"issue.opened","at":"2026-03-02T15:00:00Z","data":{"customer":{"keys":["email:dee@example.com"]},"channel":"chat","topic":"tech","contact":"00000000-0000-7000-8000-0000000004c1"}}` + "\n"
	contacted := `{"id":"00000000-0000-7000-8000-000000000402","issue":"00000000-0000-7000-8000-0000000000b4","version":2,"type":"issue.contacted","at":"2026-03-03T09:30:00Z","data":{"contact":"00000000-0000-7000-8000-0000000004c2","channel":"phone"}}` + "\n"
	want, _ := jsonReport(t, handContacted+opened+contacted, "-skip-invalid")
	code, stdout, stderr := runTool(t, handContacted+contacted+opened, "-skip-invalid", "-")
	require.Zero(t, code, stderr)
	var got output
	require.NoError(t, json.Unmarshal([]byte(stdout), &got))
	assert.Zero(t, got.FCR.LateEvents)
	assert.Equal(t, want.Report.Volume.Contacts, got.Report.Volume.Contacts)
	assert.Equal(t, int64(3), got.Report.Volume.Contacts)
	got.Input.Reordered = want.Input.Reordered
	assert.Equal(t, want, got)
}

// A line whose data alone is malformed, and a corrected copy of it (the
// same event id): the copy is the event, whichever of the two comes
// first, as it is to the library, which never has the malformed line.
func TestACorrectedCopyOfAMalformedLineIsTheEventInAnyOrder(t *testing.T) {
	bad := strings.Replace(handContacted, `"contact":"00000000-0000-7000-8000-0000000000c2"`, `"contact":"not-a-uuid"`, 1)
	require.NotEqual(t, handContacted, bad)
	lines := []string{handOpened, bad, handContacted}
	rest := handRouted + handResolved + handLater
	want := libraryReport(t, handOpened+handContacted+rest)
	for _, order := range [][]int{{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}} {
		var log strings.Builder
		for _, i := range order {
			log.WriteString(lines[i])
		}
		got, stderr := jsonReport(t, log.String()+rest, "-skip-invalid")
		assert.Equal(t, int64(1), got.Input.Invalid, "%v", order)
		assert.Equal(t, int64(5), got.Input.Events, "%v", order)
		assert.Zero(t, got.Input.Duplicates, "%v", order)
		assert.Empty(t, stderr, "%v", order)
		assert.Equal(t, want.FCR, got.Report.FCR, "%v", order)
		assert.Equal(t, want.Volume.Contacts, got.Report.Volume.Contacts, "%v", order)
		assert.Equal(t, want.Service.ServiceFigures, got.Report.Service.ServiceFigures, "%v", order)
	}
}

// A line of an unknown type with the id and version of an event of a
// known type, or the other way round, is another event at that version:
// a version conflict, not a copy. A copy of the unknown line, its members
// in another order and its time in another zone, is a copy.
func TestAnUnknownLineWithAKnownEventsIDIsAConflict(t *testing.T) {
	unknown := `{"id":"00000000-0000-7000-8000-000000000002","issue":"00000000-0000-7000-8000-0000000000a1","version":2,"type":"acme.escalated","at":"2026-03-02T09:01:00Z","data":{"level":2}}` + "\n"
	for _, log := range []string{handOpened + handContacted + unknown, handOpened + unknown + handContacted} {
		code, _, stderr := runTool(t, log, "-skip-unknown-types", "-")
		assert.Equal(t, 1, code)
		assert.Contains(t, stderr, "line 3: issue 00000000-0000-7000-8000-0000000000a1 version 2: event 00000000-0000-7000-8000-000000000002 again, holding other than before")
	}
	again := `{"data":{"level":2},"at":"2026-03-02T10:01:00+01:00","type":"acme.escalated","version":2,"issue":"00000000-0000-7000-8000-0000000000a1","id":"00000000-0000-7000-8000-000000000002"}` + "\n"
	got, _ := jsonReport(t, handOpened+unknown+again+handRouted, "-skip-unknown-types")
	assert.Equal(t, int64(2), got.Input.UnknownType)
	assert.Equal(t, int64(2), got.Input.Events)
	later := strings.Replace(again, "10:01:00+01:00", "10:02:00+01:00", 1)
	code, _, stderr := runTool(t, handOpened+unknown+later, "-skip-unknown-types", "-")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "line 3: ")
	assert.Contains(t, stderr, "version conflict")
}
