package projections

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
)

func TestFCRConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  FCRConfig
		want string // part of the error, "" for none
	}{
		{"zero means defaults", FCRConfig{}, ""},
		{"explicit", FCRConfig{Window: time.Hour, Lateness: time.Minute, Match: MatchAny, MinSample: 5}, ""},
		{"negative window", FCRConfig{Window: -time.Hour}, "window -1h0m0s is negative"},
		{"negative lateness", FCRConfig{Lateness: -time.Second}, "lateness -1s is negative"},
		{"negative sample", FCRConfig{MinSample: -1}, "minimum sample -1 is negative"},
		{"unknown match", FCRConfig{Match: 7}, "TopicMatch(7) is not topic, root or any"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			f := NewFCR(tt.cfg)
			if tt.want == "" {
				assert.NoError(t, err)
				assert.NoError(t, f.Err())
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrFCRConfig)
			assert.Contains(t, err.Error(), tt.want)
			assert.ErrorIs(t, f.Apply(events.Envelope{}), ErrFCRConfig, "Apply returns the configuration error")
		})
	}
}

func TestFCRConfigDefaults(t *testing.T) {
	cfg := NewFCR(FCRConfig{}).Config()
	assert.Equal(t, 7*24*time.Hour, cfg.Window)
	assert.Equal(t, 24*time.Hour, cfg.Lateness)
	assert.Equal(t, MatchTopic, cfg.Match)
	assert.Equal(t, int64(MinReliable), cfg.MinSample)
}

func TestFCRApplyRefusesIncompleteEvents(t *testing.T) {
	l := newFCRLog()
	good := l.add(l.id(), at(0, 9, 0), &events.Classified{Topic: "x"})
	tests := []struct {
		name   string
		change func(*events.Envelope)
		want   string
	}{
		{"no issue", func(e *events.Envelope) { e.Issue = [16]byte{} }, "no issue id"},
		{"version 0", func(e *events.Envelope) { e.Version = 0 }, "version 0"},
		{"no data", func(e *events.Envelope) { e.Data = nil }, "no data"},
		{"no time", func(e *events.Envelope) { e.At = time.Time{} }, "no event time"},
		{"time out of range", func(e *events.Envelope) { e.At = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC) }, "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := good
			tt.change(&e)
			err := NewFCR(FCRConfig{}).Apply(e)
			require.Error(t, err)
			assert.ErrorIs(t, err, events.ErrInvalidEvent)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}
