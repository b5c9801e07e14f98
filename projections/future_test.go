package projections

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
)

// nowLog is a morning of two customers solved on their first contact, an
// hour ago, and one event of a third stamped ahead of the clock by ahead.
func nowLog(ahead time.Duration) (evs []events.Envelope, future events.Envelope) {
	l := newFCRLog()
	t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Minute)
	l.solved(t0, []string{"phone:41"}, "phone", "tech/tv", "ann")
	l.solved(t0.Add(5*time.Minute), []string{"phone:42"}, "chat", "billing/refund", "bob")
	future = l.add(l.id(), time.Now().Add(ahead), &events.Opened{
		Customer: events.Customer{Keys: []string{"phone:43"}}, Channel: "web", Topic: "tech/tv", Contact: l.id()})
	return l.evs[:len(l.evs)-1], future
}

// TestFutureEventsAreRefused: an event further after the clock's time
// than MaxFuture (by default the lateness) is refused by every projection
// and changes nothing, so that the events after it are not late; a
// negative MaxFuture sets no limit.
func TestFutureEventsAreRefused(t *testing.T) {
	evs, future := nowLog(200 * 365 * 24 * time.Hour) // a typo in the year
	// Each makes a projection of the given MaxFuture, and returns it with
	// its report.
	projs := map[string]func(maxFuture time.Duration) (Projection, func() any){
		"FCR": func(m time.Duration) (Projection, func() any) {
			p := mustFCR(FCRConfig{MaxFuture: m})
			return p, func() any { return p.Report() }
		},
		"service level": func(m time.Duration) (Projection, func() any) {
			p, err := NewServiceLevel(ServiceConfig{MaxFuture: m})
			require.NoError(t, err)
			return p, func() any { return p.Report() }
		},
		"satisfaction": func(m time.Duration) (Projection, func() any) {
			p, err := NewSatisfaction(SatisfactionConfig{MaxFuture: m})
			require.NoError(t, err)
			return p, func() any { return p.Report() }
		},
		"volume": func(m time.Duration) (Projection, func() any) {
			p, err := NewVolume(VolumeConfig{MaxFuture: m})
			require.NoError(t, err)
			return p, func() any { return p.Report() }
		},
		"report": func(m time.Duration) (Projection, func() any) {
			p, err := NewReporter(ReportConfig{MaxFuture: m})
			require.NoError(t, err)
			return p, func() any { return p.Report() }
		},
		"sequence": func(m time.Duration) (Projection, func() any) {
			f := mustFCR(FCRConfig{MaxFuture: -1})
			p, err := Sequence(f, SequenceConfig{MaxFuture: m})
			require.NoError(t, err)
			return p, func() any { return f.Report() }
		},
	}
	for name, make := range projs {
		t.Run(name, func(t *testing.T) {
			want, wantReport := make(0)
			for _, e := range evs {
				require.NoError(t, want.Apply(e))
			}
			got, gotReport := make(0)
			require.NoError(t, got.Apply(evs[0]))
			err := got.Apply(future)
			require.ErrorIs(t, err, ErrFutureEvent)
			assert.NotErrorIs(t, err, events.ErrInvalidEvent, "it may be taken once the clock caught up")
			assert.ErrorContains(t, err, "issue "+future.Issue.String()+" version 1: event time "+future.At.UTC().Format(time.RFC3339Nano))
			for _, e := range evs[1:] {
				require.NoError(t, got.Apply(e))
			}
			assert.Equal(t, wantReport(), gotReport(), "as if the event had not come")

			none, _ := make(-1)
			require.NoError(t, none.Apply(future), "a negative MaxFuture sets no limit")
		})
	}
}

// The limit is the clock's time plus MaxFuture, read again only when an
// event is later than the limit last read.
func TestFutureGuardReadsTheClockOnlyWhenNeeded(t *testing.T) {
	clock := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	reads := 0
	g := newFutureGuard(time.Hour, "X.MaxFuture")
	g.now = func() time.Time { reads++; return clock }
	e := &events.Envelope{Issue: uuid.New(), Version: 3}
	check := func(at time.Time) error {
		e.At = at
		return g.check("test", e, at.UnixNano())
	}
	require.NoError(t, check(clock))
	assert.Equal(t, 1, reads)
	require.NoError(t, check(clock.Add(time.Hour)), "up to the limit")
	require.NoError(t, check(clock.Add(-24*time.Hour)))
	assert.Equal(t, 1, reads, "no read for events within the limit last read")
	err := check(clock.Add(time.Hour + time.Nanosecond))
	require.ErrorIs(t, err, ErrFutureEvent)
	assert.EqualError(t, err, "test apply issue "+e.Issue.String()+" version 3: event time 2026-03-02T10:00:00.000000001Z"+
		" is more than 1h0m0s after the clock's time 2026-03-02T09:00:00Z (X.MaxFuture): event time too far after the clock's time")
	assert.Equal(t, 2, reads)
	clock = clock.Add(time.Minute)
	require.NoError(t, check(clock.Add(time.Hour)), "taken once the clock caught up")
	assert.Equal(t, 3, reads)

	none := newFutureGuard(-1, "X.MaxFuture")
	none.now = func() time.Time { t.Fatal("no limit reads no clock"); return time.Time{} }
	e.At = time.Date(2261, 1, 1, 0, 0, 0, 0, time.UTC)
	require.NoError(t, none.check("test", e, e.At.UnixNano()))
}

// A Reporter's replay stops at an event stamped in the future, with its
// position, having applied the events before it.
func TestReplayStopsAtAFutureEvent(t *testing.T) {
	evs, future := nowLog(72 * time.Hour)
	s := events.NewMemoryStore()
	ctx := context.Background()
	for _, e := range evs {
		_, err := s.Append(ctx, e.Issue, e.Version-1, []events.Envelope{e})
		require.NoError(t, err)
	}
	_, err := s.Append(ctx, future.Issue, 0, []events.Envelope{future})
	require.NoError(t, err)
	r, err := NewReporter(ReportConfig{})
	require.NoError(t, err)
	last, n, err := r.Replay(ctx, s, 0)
	require.ErrorIs(t, err, ErrFutureEvent)
	assert.Equal(t, len(evs), n)
	assert.Equal(t, uint64(len(evs)), last)
	assert.ErrorContains(t, err, "position 5")
	assert.Equal(t, int64(2), r.Report().FCR.Issues)

	f := mustFCR(FCRConfig{})
	last, n, err = Replay(ctx, s, 0, f)
	require.ErrorIs(t, err, ErrFutureEvent)
	assert.Equal(t, [2]uint64{uint64(len(evs)), uint64(len(evs))}, [2]uint64{last, uint64(n)})
	assert.ErrorContains(t, err, "position 5")
	assert.Equal(t, int64(2), f.Report().Issues)
}

// By default an event may be an hour ahead of the clock: one taken 50
// minutes ahead leaves the events of the present 23 h 10 min of the 24 h
// lateness.
func TestAnEventAheadOfTheClockLeavesTheRestOfTheLateness(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Minute)
	l := newFCRLog()
	open := func(at time.Time) events.Envelope {
		return l.add(l.id(), at, &events.Opened{Customer: events.Customer{Keys: []string{"phone:44"}}, Channel: "web", Topic: "tech/tv", Contact: l.id()})
	}
	ahead, delayed, tooLate := open(now.Add(50*time.Minute)), open(now.Add(-23*time.Hour)), open(now.Add(-23*time.Hour-30*time.Minute))
	r, err := NewReporter(ReportConfig{})
	require.NoError(t, err)
	require.ErrorIs(t, r.Apply(open(now.Add(61*time.Minute))), ErrFutureEvent)
	for _, e := range []events.Envelope{ahead, delayed, tooLate} {
		require.NoError(t, r.Apply(e))
	}
	rep := r.Report().FCR
	assert.Equal(t, int64(2), rep.Issues)
	assert.Equal(t, [2]int64{1, 1}, [2]int64{rep.LateEvents, rep.LateDropped}, "23 h 30 min late is too late")
}
