package contact_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/contact"
	"github.com/truefcr/truefcr/contact/contacttest"
	"github.com/truefcr/truefcr/events"
)

func recorded(issue uuid.UUID, version uint64, at time.Time, d events.Data) events.Envelope {
	return events.Envelope{ID: uuid.New(), Issue: issue, Version: version, At: at, Data: d}
}

func TestCheckAcceptsAValidStreamAndRefusesWhatBreaksIt(t *testing.T) {
	issue := uuid.MustParse("0193a4c2-7a9e-7000-8000-000000000001")
	c1 := uuid.MustParse("0193a4c2-7a9e-7000-8000-0000000000c1")
	c2 := uuid.MustParse("0193a4c2-7a9e-7000-8000-0000000000c2")
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	valid := []events.Envelope{
		recorded(issue, 1, t0, &events.Opened{Customer: events.Customer{Keys: []string{"email:a@example.com"}}, Channel: "chat", Topic: "billing", Contact: c1}),
		recorded(issue, 2, t0.Add(time.Minute), &events.Routed{Contact: c1, Queue: "billing", Agent: "maria"}),
		recorded(issue, 3, t0.Add(5*time.Minute), &events.Resolved{Contact: c1, Agent: "maria"}),
	}
	is := &contact.Issue{}
	for _, e := range valid {
		require.NoError(t, is.Check(e, contact.KeyRules{}))
		require.NoError(t, is.Apply(e))
	}

	tests := []struct {
		name     string
		e        events.Envelope
		sentinel error
	}{
		{"resolved twice", recorded(issue, 4, t0.Add(6*time.Minute), &events.Resolved{Contact: c1}), contact.ErrAlreadyResolved},
		{"routing a resolved issue", recorded(issue, 4, t0.Add(6*time.Minute), &events.Routed{Contact: c1, Queue: "q"}), contact.ErrAlreadyResolved},
		{"rating a contact of another issue", recorded(issue, 4, t0.Add(6*time.Minute), &events.Rated{Survey: events.SurveyCSAT, Score: 4, Contact: c2}), contact.ErrUnknownContact},
		{"a follow-up on a resolved issue", recorded(issue, 4, t0.Add(6*time.Minute), &events.Contacted{Contact: c2, Channel: "phone"}), contact.ErrAlreadyResolved},
		{"time going backwards", recorded(issue, 4, t0, &events.Reopened{Contact: c2, Channel: "phone"}), contact.ErrOutOfOrder},
		{"a version gap", recorded(issue, 5, t0.Add(6*time.Minute), &events.Reopened{Contact: c2, Channel: "phone"}), events.ErrInvalidEvent},
		{"another issue's event", recorded(uuid.New(), 4, t0.Add(6*time.Minute), &events.Reopened{Contact: c2, Channel: "phone"}), events.ErrInvalidEvent},
		{"a score off its scale", recorded(issue, 4, t0.Add(6*time.Minute), &events.Rated{Survey: events.SurveyCSAT, Score: 6}), events.ErrInvalidEvent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := is.Check(tc.e, contact.KeyRules{})
			require.ErrorIs(t, err, tc.sentinel)
			assert.Contains(t, err.Error(), issue.String())
			assert.Equal(t, uint64(3), is.Version, "Check does not apply")
		})
	}
	require.NoError(t, is.Check(recorded(issue, 4, t0.Add(time.Hour), &events.Reopened{Contact: c2, Channel: "phone"}), contact.KeyRules{}))
}

// A recorded event must name its contact, where a command may leave it to
// the issue's latest: Check refuses what Validate refuses.
func TestCheckRefusesAnEventThatDoesNotValidate(t *testing.T) {
	issue, c1 := uuid.New(), uuid.New()
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	is := &contact.Issue{}
	opened := recorded(issue, 1, t0, &events.Opened{Customer: events.Customer{ID: "C-1"}, Channel: "chat", Topic: "billing", Contact: c1})
	require.NoError(t, is.Check(opened, contact.KeyRules{}))
	require.NoError(t, is.Apply(opened))
	for _, d := range []events.Data{
		&events.Routed{Queue: "billing", Agent: "maria"},
		&events.Consulted{Agent: "maria", Expert: "li"},
		&events.Resolved{Agent: "maria"},
		&events.Abandoned{},
	} {
		e := recorded(issue, 2, t0.Add(time.Minute), d)
		err := is.Check(e, contact.KeyRules{})
		require.ErrorIs(t, err, events.ErrInvalidEvent, "%s with no contact", e.Type())
		assert.Contains(t, err.Error(), issue.String())
		assert.Equal(t, uint64(1), is.Version)
	}
}

func TestCheckRefusesAStreamThatDoesNotStartWithAnOpening(t *testing.T) {
	is := &contact.Issue{}
	e := recorded(uuid.New(), 1, time.Now(), &events.Routed{Contact: uuid.New(), Queue: "q"})
	err := is.Check(e, contact.KeyRules{})
	require.ErrorIs(t, err, contact.ErrUnknownIssue)
	assert.Contains(t, err.Error(), e.Issue.String())
}

// A recorded opening that keeps a withheld number is refused: the Service
// drops it, and kept, it makes every caller who withheld theirs one
// customer.
func TestCheckRefusesAWithheldNumber(t *testing.T) {
	e := recorded(uuid.New(), 1, time.Now(), &events.Opened{
		Customer: events.Customer{Keys: []string{"phone:anonymous", "email:anna@example.com"}},
		Channel:  "phone", Topic: "billing", Contact: uuid.New()})
	err := (&contact.Issue{}).Check(e, contact.KeyRules{})
	require.ErrorIs(t, err, contact.ErrWithheld)
	assert.ErrorContains(t, err, `identity key "phone:anonymous": is a withheld number, which identifies no one; drop it from the opening`)
	assert.ErrorContains(t, err, e.Issue.String())
}

// An opening whose only key is a withheld number is refused for it too.
func TestCheckRefusesAWithheldNumberAlone(t *testing.T) {
	e := recorded(uuid.New(), 1, time.Now(), &events.Opened{
		Customer: events.Customer{Keys: []string{"phone:withheld"}}, Channel: "phone", Topic: "billing", Contact: uuid.New()})
	err := (&contact.Issue{}).Check(e, contact.KeyRules{})
	require.ErrorIs(t, err, contact.ErrWithheld)
}

// A recorded opening whose customer is not as the Service writes it is
// refused, naming what it would be: the projections compare customers as
// recorded, and "email:Anna@Example.COM" would be another customer than
// the "email:anna@example.com" of the next issue.
func TestCheckRefusesACustomerTheServiceWouldWriteOtherwise(t *testing.T) {
	for _, tc := range []struct {
		name     string
		customer events.Customer
		sentinel error
		want     string
	}{
		{"a key not normalised", events.Customer{Keys: []string{"email:Anna@Example.COM"}}, contact.ErrInvalidKey,
			`customer keys ["email:Anna@Example.COM"] are not as the Service writes them, ["email:anna@example.com"]`},
		{"a key given twice", events.Customer{Keys: []string{"email:anna@example.com", "email:anna@example.com"}}, contact.ErrInvalidKey,
			`are not as the Service writes them, ["email:anna@example.com"]`},
		{"a padded customer id", events.Customer{ID: " C-1"}, contact.ErrInvalidCommand, `customer id " C-1" is padded; the Service writes "C-1"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := recorded(uuid.New(), 1, time.Now(), &events.Opened{Customer: tc.customer, Channel: "phone", Topic: "billing", Contact: uuid.New()})
			err := (&contact.Issue{}).Check(e, contact.KeyRules{})
			require.ErrorIs(t, err, tc.sentinel)
			assert.ErrorContains(t, err, tc.want)
			assert.ErrorContains(t, err, e.Issue.String())
		})
	}
	e := recorded(uuid.New(), 1, time.Now(), &events.Opened{Customer: events.Customer{ID: "C-1", Keys: []string{"phone:+358401234567", "email:anna@example.com"}},
		Channel: "phone", Topic: "billing", Contact: uuid.New()})
	assert.NoError(t, (&contact.Issue{}).Check(e, contact.KeyRules{}), "as the Service writes it, in any order of keys")
}

// A command timed before the issue opened is refused for its time, not
// for a duration that the time makes look too long.
func TestCheckRefusesAnEventBeforeTheOpeningForItsTime(t *testing.T) {
	issue := uuid.New()
	c := uuid.New()
	opening := recorded(issue, 1, time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC), &events.Opened{
		Customer: events.Customer{ID: "C-1"}, Channel: "phone", Topic: "billing", Contact: c})
	is, err := contact.Rebuild(issue, []events.Envelope{opening})
	require.NoError(t, err)
	err = is.Check(recorded(issue, 2, opening.At.Add(-2*time.Hour), &events.Routed{Contact: c, Queue: "billing"}), contact.KeyRules{})
	require.ErrorIs(t, err, contact.ErrOutOfOrder)
	assert.NotErrorIs(t, err, contact.ErrInvalidCommand)

	// A recorded abandonment's queue is judged as the Service judges the
	// command's, as the service level counts the abandonment under it; a
	// "queue" data field that is not a string is not the Service's, and
	// is kept as it is.
	err = is.Check(recorded(issue, 2, opening.At.Add(time.Minute), &events.Abandoned{Contact: c, Extra: events.Extra{"queue": " billing\n"}}), contact.KeyRules{})
	require.ErrorIs(t, err, contact.ErrInvalidCommand)
	assert.ErrorContains(t, err, "queue")
	err = is.Check(recorded(issue, 2, opening.At.Add(time.Minute), &events.Abandoned{Contact: c, Extra: events.Extra{"queue": "billing"}}), contact.KeyRules{})
	require.NoError(t, err)
	err = is.Check(recorded(issue, 2, opening.At.Add(time.Minute), &events.Abandoned{Contact: c, Extra: events.Extra{"queue": 7}}), contact.KeyRules{})
	require.NoError(t, err)
}

// A nil Issue is one that was never opened, to Check and to Decide alike.
func TestCheckAndDecideTakeANilIssueAsNeverOpened(t *testing.T) {
	var is *contact.Issue
	e := recorded(uuid.New(), 1, time.Now(), &events.Routed{Contact: uuid.New(), Queue: "q"})
	require.ErrorIs(t, is.Check(e, contact.KeyRules{}), contact.ErrUnknownIssue)
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	opened := &events.Opened{Customer: events.Customer{ID: "cust-1"}, Channel: "phone", Topic: "tech/login", Contact: uuid.New()}
	require.NoError(t, is.Check(recorded(uuid.New(), 1, at, opened), contact.KeyRules{}))

	_, err := contact.Decide(nil, contact.Resolve{}, at, contact.UUIDv7{}, contact.KeyRules{})
	require.ErrorIs(t, err, contact.ErrUnknownIssue)
	data, err := contact.Decide(nil, contact.Open{Customer: events.Customer{ID: "cust-1"}, Channel: "phone", Topic: "tech/login"}, at, contact.UUIDv7{}, contact.KeyRules{})
	require.NoError(t, err)
	assert.Equal(t, "tech/login", data.(*events.Opened).Topic)
}

func TestCommandOfIsTheInverseOfDecide(t *testing.T) {
	issue := uuid.New()
	c1 := uuid.New()
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	opened := &events.Opened{Customer: events.Customer{ID: "cust-1"}, Channel: "phone", Topic: "tech/login", Contact: c1}
	cmd, err := contact.CommandOf(recorded(issue, 1, at, opened))
	require.NoError(t, err)
	data, err := contact.Decide(&contact.Issue{ID: issue}, cmd, time.Time{}, contact.UUIDv7{}, contact.KeyRules{})
	require.NoError(t, err)
	assert.Equal(t, opened, data)

	// An abandonment keeps the queue it was given up in, which the
	// service level counts it under.
	is, err := contact.Rebuild(issue, []events.Envelope{recorded(issue, 1, at, opened)})
	require.NoError(t, err)
	abandoned, err := contact.Decide(is, contact.Abandon{Contact: c1, Queue: "billing", Wait: time.Second}, at.Add(time.Minute), contact.UUIDv7{}, contact.KeyRules{})
	require.NoError(t, err)
	cmd, err = contact.CommandOf(recorded(issue, 2, at.Add(time.Minute), abandoned))
	require.NoError(t, err)
	again, err := contact.Decide(is, cmd, time.Time{}, contact.UUIDv7{}, contact.KeyRules{})
	require.NoError(t, err)
	assert.Equal(t, abandoned, again)
}

// A command at a time no codec could write is refused by Decide, as a
// CommandError, rather than by the store's codec.
func TestDecideRefusesATimeOutOfRange(t *testing.T) {
	for _, at := range []time.Time{time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC)} {
		cmd := contact.Open{Customer: events.Customer{ID: "C-1"}, Channel: "chat", Topic: "billing", At: at}
		_, err := contact.Decide(&contact.Issue{ID: uuid.New()}, cmd, time.Time{}, contact.UUIDv7{}, contact.KeyRules{})
		var ce *contact.CommandError
		require.ErrorAs(t, err, &ce, "%s", at)
		assert.ErrorIs(t, err, contact.ErrInvalidCommand)
		assert.Contains(t, err.Error(), "out of range")
	}
}

// A routing recorded with an empty skill, as the Service wrote it before
// it refused one, passes Check; the command is refused today.
func TestCheckTakesAnEmptySkillOfAnOldLog(t *testing.T) {
	issue := uuid.MustParse("0190a4f0-0000-7000-8000-000000000001")
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	c := contacttest.Contact(1)
	var is contact.Issue
	for v, d := range []events.Data{
		&events.Opened{Customer: events.Customer{ID: "C-1"}, Channel: "chat", Topic: "billing", Contact: c},
		&events.Routed{Contact: c, Queue: "q", Skills: []string{"fi", ""}},
	} {
		e := events.Envelope{ID: uuid.New(), Issue: issue, Version: uint64(v + 1), At: at.Add(time.Duration(v) * time.Minute), Data: d}
		require.NoError(t, is.Check(e, contact.KeyRules{}), "%T", d)
		require.NoError(t, is.Apply(e))
	}
	_, err := contact.Decide(&is, contact.Route{Contact: c, Queue: "q", Skills: []string{""}}, at.Add(time.Hour), nil, contact.KeyRules{})
	assert.ErrorContains(t, err, "skill 1 of 1 is empty")
	// The Service counted empty skills toward the limit: more than it
	// takes is refused, empty ones among them.
	many := events.Envelope{ID: uuid.New(), Issue: issue, Version: 3, At: at.Add(2 * time.Minute),
		Data: &events.Routed{Contact: c, Queue: "q", Skills: append([]string{"fi"}, make([]string, contact.MaxList)...)}}
	assert.ErrorContains(t, is.Check(many, contact.KeyRules{}), fmt.Sprintf("%d skills, more than %d", contact.MaxList+1, contact.MaxList))
}
