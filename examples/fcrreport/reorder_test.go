package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
)

// Two held lines of one issue, the higher version stamped earlier, with a
// version missing below each: the lower one is taken when the higher
// one's time is up, and the higher one must not be lost.
func TestAHeldLineAboveAnotherGapIsNotLost(t *testing.T) {
	log := handOpened +
		`{"id":"00000000-0000-7000-8000-000000000005","issue":"00000000-0000-7000-8000-0000000000a1","version":5,"type":"issue.resolved","at":"2026-03-02T09:10:00Z","data":{"contact":"00000000-0000-7000-8000-0000000000c1","agent":"maria"}}` + "\n" +
		`{"id":"00000000-0000-7000-8000-000000000003","issue":"00000000-0000-7000-8000-0000000000a1","version":3,"type":"issue.routed","at":"2026-03-02T09:20:00Z","data":{"contact":"00000000-0000-7000-8000-0000000000c1","queue":"billing","agent":"maria"}}` + "\n"
	got, _ := jsonReport(t, log, "-skip-invalid")
	assert.Equal(t, int64(3), got.Input.Events, "every line reaches the projections")
	assert.Equal(t, int64(2), got.Input.Missing, "versions 2 and 4")
	assert.Zero(t, got.Input.Invalid)
}

// An issue resolved longer ago than the window and the lateness is let go
// of; its reopening, and the resolution that comes before it in the log
// (equal clocks, or ones that disagree), are both events, not duplicates.
func TestReorderedLinesOfAnIssueLetGoAreNotDuplicates(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	n := 0
	id := func() uuid.UUID { n++; return uuid.MustParse(fmt.Sprintf("00000000-0000-7000-8000-%012d", n)) }
	a, ca := id(), id()
	log := []events.Envelope{
		{ID: id(), Issue: a, Version: 1, At: t0, Data: &events.Opened{Customer: events.Customer{Keys: []string{"email:anna@example.com"}}, Channel: "chat", Topic: "billing", Contact: ca}},
		{ID: id(), Issue: a, Version: 2, At: t0.Add(time.Minute), Data: &events.Resolved{Contact: ca, Agent: "maria"}},
	}
	// Enough other issues, ten days later, that the checker lets go of a.
	at := t0.Add(10 * 24 * time.Hour)
	for i := range 2100 {
		is, c := id(), id()
		log = append(log,
			events.Envelope{ID: id(), Issue: is, Version: 1, At: at, Data: &events.Opened{Customer: events.Customer{Keys: []string{fmt.Sprintf("email:c%d@example.com", i)}}, Channel: "chat", Topic: "tech", Contact: c}},
			events.Envelope{ID: id(), Issue: is, Version: 2, At: at, Data: &events.Resolved{Contact: c, Agent: "bo"}})
		at = at.Add(time.Second)
	}
	cb := id()
	reopened := events.Envelope{ID: id(), Issue: a, Version: 3, At: at, Data: &events.Reopened{Contact: cb, Channel: "phone"}}
	resolved := events.Envelope{ID: id(), Issue: a, Version: 4, At: at, Data: &events.Resolved{Contact: cb, Agent: "maria"}}
	inOrder := append(append([]events.Envelope{}, log...), reopened, resolved)
	swapped := append(append([]events.Envelope{}, log...), resolved, reopened)

	want, _ := jsonReport(t, jsonLines(t, inOrder))
	got, _ := jsonReport(t, jsonLines(t, swapped))
	require.Zero(t, want.Input.Duplicates)
	assert.Zero(t, got.Input.Duplicates, "the reopening is no duplicate")
	assert.Equal(t, want.Input.Events, got.Input.Events)
	assert.Equal(t, want.Report.Volume, got.Report.Volume)
}

// A line skipped as invalid takes its version, so that its stream goes on;
// it must do so too when it comes before an earlier version of its issue.
func TestAnInvalidLineBeforeAnEarlierVersionStillTakesItsVersion(t *testing.T) {
	noTopic := `{"id":"00000000-0000-7000-8000-000000000013","issue":"00000000-0000-7000-8000-0000000000a1","version":3,"type":"issue.classified","at":"2026-03-02T09:02:30Z","data":{"topic":""}}` + "\n"
	routed4 := `{"id":"00000000-0000-7000-8000-000000000014","issue":"00000000-0000-7000-8000-0000000000a1","version":4,"type":"issue.routed","at":"2026-03-02T09:03:00Z","data":{"contact":"00000000-0000-7000-8000-0000000000c2","queue":"billing","agent":"maria"}}` + "\n"
	inOrder := handOpened + handContacted + noTopic + routed4 + handLater
	swapped := handOpened + noTopic + handContacted + routed4 + handLater
	want, _ := jsonReport(t, inOrder, "-skip-invalid")
	got, _ := jsonReport(t, swapped, "-skip-invalid")
	require.Equal(t, int64(1), want.Input.Invalid)
	require.Zero(t, want.Input.Missing)
	assert.Equal(t, int64(1), got.Input.Invalid)
	assert.Zero(t, got.Input.Missing, "version 3 is in the log")
	assert.Equal(t, want.FCR.MissingEvents, got.FCR.MissingEvents)
}

// A line stamped far ahead is skipped as invalid; its time must not end
// the wait of a line held meanwhile, whose version comes right after it.
func TestALineStampedFarAheadEndsNoWait(t *testing.T) {
	future := `{"id":"00000000-0000-7000-8000-000000000009","issue":"00000000-0000-7000-8000-0000000000a9","version":1,"type":"issue.opened","at":"2099-01-01T00:00:00Z","data":{"customer":{"keys":["email:cy@example.com"]},"channel":"web","topic":"tech","contact":"00000000-0000-7000-8000-0000000000c9"}}` + "\n"
	swapped := handOpened + handRouted + future + handContacted + handResolved + handLater
	got, _ := jsonReport(t, swapped, "-skip-invalid")
	assert.Equal(t, int64(1), got.Input.Invalid)
	assert.Equal(t, int64(1), got.Input.Reordered)
	assert.Zero(t, got.Input.Missing)
	assert.Zero(t, got.Input.Unchecked)

	// Without -skip-invalid the tool stops at the line stamped ahead, not
	// at the held one, whose version came.
	code, _, stderr := runTool(t, swapped, "-")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "line 3: ")
}

// A line stamped far ahead, and then its corrected copy, both before an
// earlier version of their issue: the copy is the event, as it is when the
// log is in order, not a duplicate of the refused line.
func TestACorrectedCopyOfALineStampedAheadIsNotADuplicateWhenHeld(t *testing.T) {
	ahead := strings.Replace(handContacted, "2026-03-02T09:01:00Z", "2099-01-01T00:00:00Z", 1)
	inOrder := handOpened + ahead + handContacted + handRouted + handResolved + handLater
	swapped := ahead + handContacted + handOpened + handRouted + handResolved + handLater
	want, _ := jsonReport(t, inOrder, "-skip-invalid")
	got, _ := jsonReport(t, swapped, "-skip-invalid")
	require.Equal(t, int64(5), want.Input.Events)
	assert.Equal(t, want.Input.Events, got.Input.Events)
	assert.Zero(t, got.Input.Duplicates)
	assert.Equal(t, want.FCR.MissingEvents, got.FCR.MissingEvents)
	assert.Equal(t, want.Report.Volume, got.Report.Volume)
}
