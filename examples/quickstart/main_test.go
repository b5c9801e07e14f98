package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
)

func TestDayPlaysEveryKindOfEvent(t *testing.T) {
	store, err := day(t.Context())
	require.NoError(t, err)
	count := map[events.Type]int{}
	issues := map[string]bool{}
	for e, err := range store.ReadAll(t.Context(), 0) {
		require.NoError(t, err)
		count[e.Type()]++
		issues[e.Issue.String()] = true
		assert.NotEmpty(t, e.Meta[events.MetaPartitionKey], "event %d has a partition key", e.Position)
	}
	assert.Len(t, issues, 6)
	for _, typ := range []events.Type{events.TypeOpened, events.TypeRouted, events.TypeConsulted, events.TypeResolved,
		events.TypeReopened, events.TypeContacted, events.TypeAbandoned, events.TypeRated, events.TypeClassified} {
		assert.Positive(t, count[typ], typ)
	}
	assert.Equal(t, 6, count[events.TypeOpened])
}

func TestDayPrintsTheSameEveryTime(t *testing.T) {
	var runs [2]bytes.Buffer
	for i := range runs {
		store, err := day(t.Context())
		require.NoError(t, err)
		require.NoError(t, printIssues(t.Context(), &runs[i], store))
	}
	assert.Equal(t, runs[0].String(), runs[1].String())
	out := runs[0].String()
	for _, want := range []string{
		"transferred  to payments, agent olli",
		"resolved     by bot helpbot",
		"reopened     the customer came back: reset link expired",
		"abandoned    hung up after 3 min in the queue",
		"Issue 6 · Dana (email:dana@example.com, phone:+358507654321)",
	} {
		assert.Contains(t, out, want)
	}
}

func TestReportShowsTrueAgainstReportedFCRAndWhoCameBack(t *testing.T) {
	store, err := day(t.Context())
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, printReport(t.Context(), &buf, store))
	out := buf.String()
	// Five problems: Anna, Carla (her abandoned call does not count) and
	// Dana's address change were solved at the first contact; Ben's bot
	// resolution and Dana's chat were followed by a call about the same
	// thing. Six tickets, each closed on its own first contact (Carla's on
	// her call back: her abandoned call is not a contact).
	for _, want := range []string{
		"Monday 9 March, 18:00",
		"true FCR      3 of 5 problems",
		"reported FCR  6 of 6 tickets",
		"inflation     +40 points",
		"Ben    account/password-reset   bot 09:10 → phone 11:32  (switched channel)",
		"Dana   billing/refund           chat 09:30 → phone 14:10  (switched channel, 2 tickets for one problem)",
		"Carla  orders/late-delivery     1 contact   achieved",
	} {
		assert.Contains(t, out, want)
	}
}
