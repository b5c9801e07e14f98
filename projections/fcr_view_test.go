package projections

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Anna chats about a refund on day 0 (resolved), phones about it on day 1
// (resolved), and Ben's login problem is solved on his single call.
func TestProblemsShowTheCustomersWhoCameBackAndAdvanceToMakesVerdictsFinal(t *testing.T) {
	l := newFCRLog()
	chat := l.solved(at(0, 9, 0), []string{"email:anna@example.com"}, "chat", "billing/refund", "maria")
	ben := l.solved(at(0, 11, 0), []string{"phone:+358401111111"}, "phone", "tech/login", "sami")
	call := l.solved(at(1, 14, 0), []string{"email:anna@example.com"}, "phone", "billing/refund", "olli")

	f := mustFCR(FCRConfig{})
	for _, e := range l.evs {
		require.NoError(t, f.Apply(e))
	}
	// Both problems are still inside their window: pending.
	rep := f.Report()
	assert.Equal(t, int64(2), rep.Pending)
	assert.Zero(t, rep.True.Total)

	probs := f.Problems()
	require.Len(t, probs, 2)
	anna, benP := probs[0], probs[1] // in the order of their first contact
	assert.Equal(t, "pending", anna.Verdict)
	assert.Equal(t, "failed", anna.Outcome, "a second contact within W")
	assert.Equal(t, []string{chat.String(), call.String()}, []string{anna.Issues[0].String(), anna.Issues[1].String()})
	require.Len(t, anna.Contacts, 2)
	assert.Equal(t, "chat", anna.Contacts[0].Channel)
	assert.Equal(t, "phone", anna.Contacts[1].Channel)
	assert.True(t, anna.Switched())
	assert.Equal(t, at(0, 9, 10), anna.Resolved)
	assert.Equal(t, ben, benP.Issues[0])
	assert.Equal(t, "achieved", benP.Outcome)
	assert.False(t, benP.Switched())

	// A week and a day later, with no new events, both verdicts are final:
	// true FCR 1 of 2; reported FCR 3 of 3 issue records.
	f.AdvanceTo(at(0, 9, 0)) // earlier than the watermark: no change
	assert.Equal(t, int64(2), f.Report().Pending)
	f.AdvanceTo(at(9, 0, 0))
	rep = f.Report()
	assert.Zero(t, rep.Pending)
	assert.Equal(t, FCRRate{Achieved: 1, Total: 2, Rate: 0.5, CI95: rep.True.CI95, Small: true}, rep.True)
	assert.Equal(t, int64(3), rep.Reported.Achieved)
	assert.Equal(t, int64(3), rep.Reported.Total)
	assert.Equal(t, at(9, 0, 0), rep.Watermark)
}

func TestReporterAdvanceToAgesTheBacklog(t *testing.T) {
	l := newFCRLog()
	l.open(at(0, 9, 0), []string{"email:anna@example.com"}, "chat", "billing/refund")
	r, err := NewReporter(ReportConfig{})
	require.NoError(t, err)
	for _, e := range l.evs {
		require.NoError(t, r.Apply(e))
	}
	require.NoError(t, r.AdvanceTo(at(2, 9, 0)))
	rep := r.Report()
	assert.Equal(t, int64(1), rep.Volume.Backlog.Open)
	assert.InDelta(t, (48 * time.Hour).Seconds(), rep.Volume.Backlog.MeanAgeS, 1)
	assert.Equal(t, int64(1), rep.FCR.Unresolved)
}

// A bot's resolution of an opening that was abandoned: the problem has no
// counted contact. Pending, its Outcome says what it would be if the
// window closed now, no_contact (it said nothing); final, it is in neither
// FCR's denominators nor bot containment's, which count the problems that
// achieved or failed.
func TestAProblemWithNoCountedContactOutcomeAndContainment(t *testing.T) {
	l := newFCRLog()
	issue, c := l.open(at(0, 9, 0), []string{"email:a@example.com"}, "bot", "billing")
	l.abandon(issue, at(0, 9, 1), c)
	l.resolve(issue, at(0, 9, 2), c, "helpbot", true)
	// And a bot's resolution that held, for the denominator.
	held, c2 := l.open(at(0, 10, 0), []string{"email:b@example.com"}, "bot", "billing")
	l.resolve(held, at(0, 10, 2), c2, "helpbot", true)
	f := mustFCR(FCRConfig{})
	for _, e := range l.evs {
		require.NoError(t, f.Apply(e))
	}
	probs := f.Problems()
	require.Len(t, probs, 2)
	assert.Equal(t, "pending", probs[0].Verdict)
	assert.Equal(t, "no_contact", probs[0].Outcome)
	assert.Equal(t, "achieved", probs[1].Outcome)

	f.AdvanceTo(at(30, 0, 0))
	rep := f.Report()
	assert.Equal(t, int64(1), rep.NoContact)
	assert.Equal(t, int64(1), rep.True.Total)
	assert.Equal(t, [2]int64{1, 1}, [2]int64{rep.BotContainment.Achieved, rep.BotContainment.Total})
}
