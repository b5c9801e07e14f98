package projections

import (
	"fmt"
	"math"
	"slices"
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
			f, newErr := NewFCR(tt.cfg)
			if tt.want == "" {
				assert.NoError(t, err)
				require.NoError(t, newErr)
				assert.NotNil(t, f)
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrFCRConfig)
			assert.Contains(t, err.Error(), tt.want)
			assert.Nil(t, f, "NewFCR refuses the configuration")
			assert.Equal(t, err, newErr, "NewFCR returns Validate's error")
		})
	}
}

func TestFCRConfigDefaults(t *testing.T) {
	cfg := mustFCR(FCRConfig{}).Config()
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
		{"version beyond MaxVersion", func(e *events.Envelope) { e.Version = math.MaxUint64 }, "version 18446744073709551615 is beyond 9223372036854775807"},
		{"no data", func(e *events.Envelope) { e.Data = nil }, "no data"},
		{"no time", func(e *events.Envelope) { e.At = time.Time{} }, "no event time"},
		{"time out of range", func(e *events.Envelope) { e.At = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC) }, "out of range"},
		// Unix nanoseconds hold them, but no codec writes them: the FCR
		// could hold such an event for a gap and not save it.
		{"time after the years the codecs write", func(e *events.Envelope) { e.At = time.Date(2262, 1, 2, 0, 0, 0, 0, time.UTC) }, "out of range"},
		{"time before the years the codecs write", func(e *events.Envelope) { e.At = time.Date(1677, 12, 31, 0, 0, 0, 0, time.UTC) }, "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := good
			tt.change(&e)
			err := mustFCR(FCRConfig{}).Apply(e)
			require.Error(t, err)
			assert.ErrorIs(t, err, events.ErrInvalidEvent)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// The FCR alone refuses what does not Validate, as the Reporter does, so
// that the two give the same figures of the same events: through Apply,
// ApplyBatch and Replay alike, and nothing of the refused event is kept.
func TestFCRRefusesWhatTheReporterRefuses(t *testing.T) {
	l := newFCRLog()
	l.solved(at(0, 9, 0), []string{"phone:1"}, "phone", "billing", "ann")
	good := l.evs
	issue := l.id()
	bad := []events.Envelope{
		{Issue: issue, Version: 1, At: at(1, 9, 0), Data: &events.Opened{Customer: events.Customer{ID: "C-1"}, Channel: "chat", Topic: "billing", Contact: l.id()}},
		{ID: l.id(), Issue: issue, Version: 1, At: at(1, 9, 0), Data: &events.Opened{Customer: events.Customer{ID: "C-1"}, Topic: "billing", Contact: l.id()}},
		{ID: l.id(), Issue: good[0].Issue, Version: uint64(len(good)) + 1, At: at(1, 9, 0), Data: &events.Resolved{Agent: "ann"}},
	}
	for i, e := range bad {
		r, err := NewReporter(ReportConfig{})
		require.NoError(t, err)
		require.NoError(t, r.ApplyBatch(good))
		rerr := r.Apply(e)
		require.ErrorIs(t, rerr, events.ErrInvalidEvent, "event %d", i)

		f := mustFCR(FCRConfig{})
		require.NoError(t, f.ApplyBatch(good))
		err = f.Apply(e)
		require.ErrorIs(t, err, events.ErrInvalidEvent, "event %d", i)
		assert.Equal(t, r.FCR().Report(), f.Report(), "event %d", i)

		b := mustFCR(FCRConfig{})
		err = b.ApplyBatch(append(slices.Clone(good), e))
		require.ErrorIs(t, err, events.ErrInvalidEvent, "event %d", i)
		assert.Contains(t, err.Error(), fmt.Sprintf("event %d", len(good)))
		assert.Equal(t, f.Report(), b.Report(), "event %d", i)

		store := events.NewMemoryStore()
		stored := 0
		for _, g := range append(slices.Clone(good), e) {
			// The store refuses an event without an id itself.
			if _, err := store.Append(t.Context(), g.Issue, g.Version-1, []events.Envelope{g}); err == nil {
				stored++
			}
		}
		p := mustFCR(FCRConfig{})
		_, n, err := Replay(t.Context(), store, 0, p)
		assert.Equal(t, len(good), n, "event %d", i)
		if stored > len(good) {
			require.ErrorIs(t, err, events.ErrInvalidEvent, "event %d", i)
		}
		assert.Equal(t, f.Report(), p.Report(), "event %d", i)
	}
}

// LiveProblems counts the problems that the live issues form: two issues
// of one problem are one, and what was folded is not counted.
func TestFCRLiveProblems(t *testing.T) {
	l := newFCRLog()
	f := mustFCR(FCRConfig{Window: 7 * 24 * time.Hour, Lateness: time.Hour})
	apply := func() { l.flush(t, f) }
	a := l.solved(at(0, 9, 0), []string{"phone:1"}, "phone", "billing", "ann")
	l.solved(at(1, 9, 0), []string{"phone:1"}, "chat", "billing", "bob") // a repeat: a's problem
	l.solved(at(1, 10, 0), []string{"phone:1"}, "chat", "tech/tv", "bob")
	l.open(at(1, 11, 0), []string{"phone:2"}, "web", "billing")
	apply()
	assert.Equal(t, 4, f.Live())
	assert.Equal(t, 3, f.LiveProblems())

	l.tick(at(20, 9, 0))
	apply()
	f.sweep()
	require.Less(t, f.lookup(a), int32(0), "the solved problems were folded")
	assert.Equal(t, 2, f.Live(), "the open issue and the clock's")
	assert.Equal(t, 2, f.LiveProblems())

	// On a generated log, at every tenth of it: the problems of the
	// report less those folded.
	g := fcrGen{Seed: 3, Customers: 400, Issues: 4000, Span: 90 * 24 * time.Hour, LooseKeys: true}
	evs := g.log()
	h := mustFCR(FCRConfig{Lateness: time.Hour})
	for i, e := range evs {
		require.NoError(t, h.Apply(e))
		if (i+1)%(len(evs)/10) == 0 {
			live := h.Report().Problems - h.folded.Problems
			require.Positive(t, live)
			assert.Equal(t, int(live), h.LiveProblems(), "after %d events", i+1)
			assert.Less(t, h.LiveProblems(), h.Live(), "after %d events: some problems have several issues", i+1)
		}
	}
}

// An event of a type the reader does not know, passed on as events.Opaque,
// takes its version in every projection: the issue's later events are
// applied, not held for it.
func TestProjectionsPassOverOpaqueEvents(t *testing.T) {
	l := newFCRLog()
	issue, c := l.open(at(0, 9, 0), []string{"email:a@example.com"}, "chat", "billing")
	l.add(issue, at(0, 9, 1), &events.Opaque{Type: "crm.note"})
	l.route(issue, at(0, 9, 2), c, "billing", "maria")
	l.resolve(issue, at(0, 9, 3), c, "maria", false)
	l.tick(at(9, 0, 0))
	rep, err := NewReporter(ReportConfig{})
	require.NoError(t, err)
	for _, e := range l.evs {
		require.NoError(t, rep.Apply(e))
	}
	r := rep.Report()
	assert.Zero(t, r.FCR.HeldEvents)
	assert.Equal(t, int64(1), r.FCR.Achieved)
	assert.Equal(t, int64(1), r.Volume.Resolutions)
}

// An agent whose name is the label of no agent, "(none)", shares that
// segment, as a merge of reports would: neither overwrites the other.
func TestFCRAgentNamedAsTheLabelOfNone(t *testing.T) {
	l := newFCRLog()
	first := l.solved(at(0, 9, 0), []string{"email:c0@example.com"}, "chat", "billing", "")
	l.solved(at(0, 10, 0), []string{"email:c1@example.com"}, "chat", "billing", "(none)")
	l.tick(at(9, 0, 0))
	all, parts := mustFCR(FCRConfig{}), [2]*FCR{mustFCR(FCRConfig{}), mustFCR(FCRConfig{})}
	for _, e := range l.evs {
		require.NoError(t, all.Apply(e))
		p := parts[1]
		if e.Issue == first {
			p = parts[0]
		}
		require.NoError(t, p.Apply(e))
	}
	parts[0].AdvanceTo(at(9, 0, 0))
	got := all.Report()
	assert.Equal(t, int64(2), got.ByAgent["(none)"].True.Total)
	merged, err := MergeFCRReports(parts[0].Report(), parts[1].Report())
	require.NoError(t, err)
	assert.Equal(t, merged.ByAgent, got.ByAgent)
}

// The FCR's own bounds of event times are those of events.InTimeRange.
func TestEventTimeRangeIsTheCodecs(t *testing.T) {
	for _, sec := range []int64{minEventSec - 1, minEventSec, endEventSec - 1, endEventSec} {
		in := sec >= minEventSec && sec < endEventSec
		for _, zone := range []*time.Location{time.UTC, time.FixedZone("+14", 14*3600), time.FixedZone("-12", -12*3600)} {
			assert.Equal(t, in, events.InTimeRange(time.Unix(sec, 0).In(zone)), "%d in %s", sec, zone)
		}
	}
	assert.Equal(t, "1678-01-01T00:00:00Z", time.Unix(minEventSec, 0).UTC().Format(time.RFC3339))
	assert.Equal(t, "2262-01-01T00:00:00Z", time.Unix(endEventSec, 0).UTC().Format(time.RFC3339))
}
