package events_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"

	"github.com/truefcr/truefcr/events"
)

func TestValidate(t *testing.T) {
	valid := func() events.Envelope { return envelopeOf(0, dataCases[0].data()) }
	with := func(d events.Data) events.Envelope { e := valid(); e.Data = d; return e }
	tests := []struct {
		name  string
		event events.Envelope
		says  string // "" when the event is valid
	}{
		{"complete", valid(), ""},
		{"no id", func() events.Envelope { e := valid(); e.ID = uuid.Nil; return e }(), "no id"},
		{"no issue", func() events.Envelope { e := valid(); e.Issue = uuid.Nil; return e }(), "no issue id"},
		{"version 0", func() events.Envelope { e := valid(); e.Version = 0; return e }(), "version 0"},
		{"the largest version", func() events.Envelope { e := valid(); e.Version = events.MaxVersion; return e }(), ""},
		{"a version beyond it", func() events.Envelope { e := valid(); e.Version = events.MaxVersion + 1; return e }(), "version 9223372036854775808 is beyond 9223372036854775807"},
		{"no time", func() events.Envelope { e := valid(); e.At = time.Time{}; return e }(), "no event time"},
		{"no data", with(nil), "no data"},

		{"opened without customer", with(&events.Opened{Channel: "phone", Topic: "t", Contact: contactID}), "neither an id nor a key"},
		{"opened with only an id", with(&events.Opened{Customer: events.Customer{ID: "C-1"}, Channel: "phone", Topic: "t", Contact: contactID}), ""},
		{"opened with an empty key", with(&events.Opened{Customer: events.Customer{Keys: []string{"phone:1", ""}}, Channel: "phone", Topic: "t", Contact: contactID}), "customer key 1 is empty"},
		{"opened with an empty key and an id", with(&events.Opened{Customer: events.Customer{ID: "C-1", Keys: []string{""}}, Channel: "phone", Topic: "t", Contact: contactID}), "customer key 0 is empty"},
		{"opened with a key of spaces", with(&events.Opened{Customer: events.Customer{Keys: []string{"phone:1", " \t"}}, Channel: "phone", Topic: "t", Contact: contactID}), `customer key 1 is blank (" \t"), which identifies no one`},
		// A Service that trimmed ids of spaces only wrote this one, which
		// a replay must still read; only keys are judged blank.
		{"opened with a customer id of a zero-width space", with(&events.Opened{Customer: events.Customer{ID: "\u200b"}, Channel: "phone", Topic: "t", Contact: contactID}), ""},
		{"opened with a key that starts with a letter beyond ASCII", with(&events.Opened{Customer: events.Customer{Keys: []string{"ääni:1"}}, Channel: "phone", Topic: "t", Contact: contactID}), ""},
		{"opened with a key of a zero-width space", with(&events.Opened{Customer: events.Customer{Keys: []string{"\u200b"}}, Channel: "phone", Topic: "t", Contact: contactID}), `customer key 0 is blank ("\u200b"), which identifies no one`},
		{"opened without channel, topic, contact", with(&events.Opened{Customer: events.Customer{ID: "C-1"}}), "no channel; no topic; no contact"},
		{"routed without queue", with(&events.Routed{Contact: contactID}), "no queue"},
		{"routed with negative wait", with(&events.Routed{Contact: contactID, Queue: "q", Wait: -time.Second}), "negative wait_ms"},
		{"consulted without expert", with(&events.Consulted{Contact: contactID, Agent: "a"}), "no expert"},
		{"consulted with negative duration", with(&events.Consulted{Contact: contactID, Agent: "a", Expert: "e", Duration: -1}), "negative duration_ms"},
		{"resolved without contact", with(&events.Resolved{Agent: "a"}), "no contact"},
		{"resolved with negative handle time", with(&events.Resolved{Contact: contactID, Handle: -time.Minute}), "negative handle_ms"},
		{"resolved by a bot", with(&events.Resolved{Contact: contactID, Bot: true}), ""},
		{"reopened without channel", with(&events.Reopened{Contact: contactID}), "no channel"},
		{"contacted without contact", with(&events.Contacted{Channel: "chat"}), "no contact"},
		{"abandoned with negative wait", with(&events.Abandoned{Contact: contactID, Wait: -1}), "negative wait_ms"},
		{"csat 0", with(&events.Rated{Survey: events.SurveyCSAT, Score: 0}), "csat score 0 is outside 1–5"},
		{"csat 5", with(&events.Rated{Survey: events.SurveyCSAT, Score: 5}), ""},
		{"csat 6", with(&events.Rated{Survey: events.SurveyCSAT, Score: 6}), "outside 1–5"},
		{"nps 0", with(&events.Rated{Survey: events.SurveyNPS, Score: 0}), ""},
		{"nps 11", with(&events.Rated{Survey: events.SurveyNPS, Score: 11}), "outside 0–10"},
		{"ces 7", with(&events.Rated{Survey: events.SurveyCES, Score: 7}), ""},
		{"ces 8", with(&events.Rated{Survey: events.SurveyCES, Score: 8}), "outside 1–7"},
		{"unknown survey", with(&events.Rated{Survey: "sus", Score: 3}), `survey "sus" is not csat, nps or ces`},
		{"classified without topic", with(&events.Classified{Topics: []string{"x"}}), "no topic"},
		{"host type without validation", with(&Escalated{}), ""},
		{"an unknown type kept as it came", with(&events.Opaque{Type: "crm.note"}), ""},
		{"opaque data without its type", with(&events.Opaque{}), "data of Go type *events.Opaque names no event type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.event.Validate()
			if tt.says == "" {
				assert.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, events.ErrInvalidEvent)
			assert.ErrorContains(t, err, tt.says)
			assert.ErrorContains(t, err, tt.event.Issue.String(), "the error names the issue")
		})
	}
}

func TestSurveyScale(t *testing.T) {
	tests := []struct {
		survey events.Survey
		lo, hi int
		ok     bool
	}{
		{events.SurveyCSAT, 1, 5, true},
		{events.SurveyNPS, 0, 10, true},
		{events.SurveyCES, 1, 7, true},
		{"other", 0, 0, false},
	}
	for _, tt := range tests {
		lo, hi, ok := tt.survey.Scale()
		assert.Equal(t, []any{tt.lo, tt.hi, tt.ok}, []any{lo, hi, ok}, string(tt.survey))
	}
}

// A store refuses to append a version beyond MaxVersion.
func TestCheckAppendRefusesAVersionBeyondTheLargest(t *testing.T) {
	e := envelopeOf(0, dataCases[0].data())
	e.Version = events.MaxVersion + 1
	err := events.CheckAppend(e.Issue, events.MaxVersion, []events.Envelope{e})
	assert.ErrorIs(t, err, events.ErrInvalidEvent)
	assert.ErrorContains(t, err, "beyond 9223372036854775807")
}

// ValidateData of no data says so, where it once returned nil and then,
// looking for the data's type, panicked.
func TestValidateDataOfNoData(t *testing.T) {
	for _, d := range []events.Data{nil, (*events.Opaque)(nil), (*events.Opened)(nil)} {
		assert.EqualError(t, events.ValidateData(d), "no data", "%T", d)
	}
}
