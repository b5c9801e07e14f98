package contacttest

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/contact"
	"github.com/truefcr/truefcr/events"
)

// Minute returns the time of the n-th given event of a scenario,
// Start plus n minutes; a scenario's command happens at Minute(len(given)+1).
func Minute(n int) time.Time { return Start().Add(time.Duration(n) * time.Minute) }

// Scenario is an issue with a history, ready for commands. Make one with
// Given.
type Scenario struct {
	t testing.TB
	// Clock, IDs and Store are what the scenario's Service runs on.
	Clock     *Clock
	IDs       *IDs
	Store     *events.MemoryStore
	configure []func(*contact.Config)
	// left is the time at which the scenario left the Clock: a Clock
	// elsewhere was moved by the test, and its time is taken as it is.
	left time.Time
}

// Given returns a scenario whose issue, IssueID(), has the given events,
// the first at Minute(1), the next a minute later, and so on, each with
// the partition key that the Service stamps (contact.PartitionKey of the
// opening's customer). With no events the issue was never opened. The
// history must be one that the lifecycle allows (contact.Issue.Check,
// with the default KeyRules): a resolution of a contact the issue does not
// have, or a reopening of an issue never opened, fails the test, as a
// command tested on a state that production cannot reach proves nothing. A test of a stream that breaks
// the rules (an import gone wrong) appends it to Store itself.
func Given(t testing.TB, data ...events.Data) *Scenario {
	t.Helper()
	evs := make([]events.Envelope, len(data))
	for i, d := range data {
		evs[i] = events.Envelope{At: Minute(i + 1), Data: d}
	}
	return given(t, evs)
}

// GivenEvents is Given with events at times of the test's choosing, as an
// email answered after a wait of hours needs (a wait longer than the issue
// has existed is not one the lifecycle allows): each envelope must have
// its Data and At, and its id, issue and version are filled in as Given
// fills them, and the partition key of the opening (its own, or as Given
// stamps it) where its Meta has none. The scenario's Clock stands at the
// last event's time.
func GivenEvents(t testing.TB, evs ...events.Envelope) *Scenario {
	t.Helper()
	for i, e := range evs {
		require.False(t, e.At.IsZero(), "given event %d has no time", i+1)
	}
	return given(t, evs)
}

// given returns the scenario whose issue has evs, their ids, issue and
// versions filled in, its Clock at the last one's time.
func given(t testing.TB, evs []events.Envelope) *Scenario {
	t.Helper()
	s := &Scenario{t: t, Clock: NewClock(Start()), IDs: NewIDs(), Store: events.NewMemoryStore(), left: Start()}
	if len(evs) == 0 {
		return s
	}
	evs = slices.Clone(evs)
	// The opening's key, its own or the Service's, on every event, as the
	// Service gives an issue's events the key of its opening.
	key, own := evs[0].Meta[events.MetaPartitionKey]
	if o, ok := evs[0].Data.(*events.Opened); ok && o != nil && !own {
		key = contact.PartitionKey(o.Customer)
	}
	is := &contact.Issue{}
	for i := range evs {
		evs[i].ID, evs[i].Issue, evs[i].Version = eventID(i+1), IssueID(), uint64(i+1)
		if _, has := evs[i].Meta[events.MetaPartitionKey]; key != "" && !has {
			evs[i].Meta = maps.Clone(evs[i].Meta)
			if evs[i].Meta == nil {
				evs[i].Meta = events.Meta{}
			}
			evs[i].Meta[events.MetaPartitionKey] = key
		}
		require.NoError(t, is.Check(evs[i], contact.KeyRules{}), "given event %d (%s) is not one the lifecycle allows", i+1, evs[i].Type())
		require.NoError(t, is.Apply(evs[i]))
	}
	_, err := s.Store.Append(t.Context(), IssueID(), 0, evs)
	require.NoError(t, err, "append the given events")
	s.Clock.Set(evs[len(evs)-1].At)
	s.left = evs[len(evs)-1].At
	return s
}

// With changes the configuration of the scenario's Service (key rules,
// publisher, resolver…); Store, Clock and IDs are set after f runs.
func (s *Scenario) With(f func(*contact.Config)) *Scenario {
	s.configure = append(s.configure, f)
	return s
}

// Outcome is what a command did in a scenario. Its checks (Then,
// ThenError…) look at the stream as the command left it, so that an
// Outcome may be checked after later commands ran.
type Outcome struct {
	s      *Scenario
	before int               // the events of the stream before the command
	after  []events.Envelope // the stream right after it
	key    string            // the idempotency key it ran with, if any
	// Events are the events the command returned: those it appended, or
	// for a retry (an idempotency key used before) those an earlier run
	// appended. Err is its error.
	Events []events.Envelope
	Err    error
}

// When runs cmd on the scenario's issue a minute after the scenario's
// Clock, which stands at the stream's last event: the last given one, or
// the one a command appended, at its own time (At) too. A test that moves
// the Clock (to a time before the last event, say, to see commands
// refused for their time) has it taken as it is, until a command appends;
// the Service stamps a command at the last event, rather than refusing
// it, when its Clock is behind that event by no more than
// contact.MaxClockSkew.
// A command that appends nothing (refused, or a retry under an idempotency
// key) leaves the Clock and the IDs as they were, so that the next runs
// when it would have, with the ids it would have had (a refused opening
// may have made a contact id before its CustomerResolver failed).
// A command that gives its own time may give any time after the given
// events: the Service's Config.MaxFuture, which refuses event times more
// than an hour after its clock's, does not apply unless With sets it, as
// the scenario's clock stands at the given events. A scenario takes
// several commands, one after the other, each on the stream as the one
// before left it.
func (s *Scenario) When(cmd contact.Command) *Outcome {
	s.t.Helper()
	return s.WhenContext(s.t.Context(), cmd)
}

// WhenContext is When with a context of the test's, which carries what
// the Service stamps on events (contact.WithIdempotencyKey,
// contact.WithCorrelationID…).
func (s *Scenario) WhenContext(ctx context.Context, cmd contact.Command) *Outcome {
	s.t.Helper()
	cfg := contact.Config{}
	for _, f := range s.configure {
		f(&cfg)
	}
	if cfg.MaxFuture == 0 {
		cfg.MaxFuture = -1
	}
	cfg.Store, cfg.Clock, cfg.IDs = s.Store, s.Clock, s.IDs
	svc, err := contact.NewService(cfg)
	require.NoError(s.t, err, "configure the service")
	before, err := s.Store.Load(s.t.Context(), IssueID())
	require.NoError(s.t, err, "load the issue")
	was, made := s.Clock.at(), s.IDs.made()
	if n := len(before); n > 0 && was.Equal(s.left) && before[n-1].At.After(was) {
		s.Clock.Set(before[n-1].At)
	}
	s.Clock.Advance(time.Minute)
	evs, err := svc.Execute(ctx, IssueID(), cmd)
	after, lerr := s.Store.Load(s.t.Context(), IssueID())
	require.NoError(s.t, lerr, "load the issue after the command")
	o := &Outcome{s: s, before: len(before), after: after, key: contact.IdempotencyKey(ctx), Events: evs, Err: err}
	if len(after) == len(before) {
		// Refused, or a retry that returned an earlier run's events:
		// the command appended nothing, and the Clock and the IDs are
		// as the test left them.
		s.Clock.Set(was)
		s.IDs.rewind(made)
		return o
	}
	s.Clock.Set(after[len(after)-1].At) // the stream's last event: a command's own time too
	s.left = s.Clock.at()
	return o
}

// Then checks that the command succeeded and appended events with exactly
// the data want, in order, after the events the stream had, and that the
// events it returned are those the store holds; it returns those events.
// The data is compared as the Service writes it: a customer's Extra
// numbers as json.Number ("2.5" for 2.50), keys normalised (see
// contact.Command).
func (o *Outcome) Then(want ...events.Data) []events.Envelope {
	t := o.s.t
	t.Helper()
	require.NoError(t, o.Err)
	return o.appended(want)
}

// ThenNotPublished checks that the command appended events with exactly
// the data want, as Then does, but that the Service's Publisher (set with
// With) failed: the error wraps contact.ErrNotPublished and names the
// issue. It returns the events appended, which the host is to publish
// again (or its outbox does).
func (o *Outcome) ThenNotPublished(want ...events.Data) []events.Envelope {
	t := o.s.t
	t.Helper()
	require.Error(t, o.Err, "the publisher should fail")
	assert.ErrorIs(t, o.Err, contact.ErrNotPublished)
	assert.Contains(t, o.Err.Error(), IssueID().String(), "the error names the issue")
	return o.appended(want)
}

// appended checks that the command appended events with exactly the data
// want, in order, after the events the stream had, and that the events it
// returned are those the store holds; it returns those events.
func (o *Outcome) appended(want []events.Data) []events.Envelope {
	t := o.s.t
	t.Helper()
	require.Len(t, o.Events, len(want), "events appended")
	for i, e := range o.Events {
		assert.Equal(t, want[i], e.Data, "data of event %d", i+1)
		assert.Equal(t, uint64(o.before+i+1), e.Version, "version of event %d", i+1)
		assert.Equal(t, IssueID(), e.Issue, "issue of event %d", i+1)
	}
	if assert.Len(t, o.after, o.before+len(want), "events in the stream") {
		assert.Equal(t, o.after[o.before:], o.Events, "the events returned are those the store holds")
	}
	return o.Events
}

// ThenRetried checks that the command succeeded as a retry of an earlier
// one with the same idempotency key (contact.WithIdempotencyKey, through
// WhenContext): it appended nothing, and returned the events the earlier
// run appended (those of the stream that carry the key), as the store
// holds them, with exactly the data want, in order; it returns those
// events.
func (o *Outcome) ThenRetried(want ...events.Data) []events.Envelope {
	t := o.s.t
	t.Helper()
	require.NoError(t, o.Err)
	require.NotEmpty(t, o.key, "the command ran with no idempotency key (contact.WithIdempotencyKey): it is no retry")
	assert.Len(t, o.after, o.before, "events in the stream: the retry appended none")
	require.Len(t, o.Events, len(want), "events returned")
	for i, e := range o.Events {
		assert.Equal(t, want[i], e.Data, "data of event %d", i+1)
		if assert.True(t, e.Version >= 1 && e.Version <= uint64(len(o.after)), "event %d (version %d) is in the stream", i+1, e.Version) {
			stored := o.after[e.Version-1]
			assert.Equal(t, stored, e, "event %d is the one the store holds", i+1)
			assert.Equal(t, o.key, stored.Meta[events.MetaIdempotencyKey], "event %d was appended by a run with the key", i+1)
		}
	}
	return o.Events
}

// ThenError checks that the command was refused with an error that wraps
// sentinel and names the issue, and that the stream did not change; it
// returns the error. A command whose events were appended but not
// published (contact.ErrNotPublished) was not refused: check it with
// ThenNotPublished.
func (o *Outcome) ThenError(sentinel error) error {
	t := o.s.t
	t.Helper()
	require.Error(t, o.Err, "the command should be refused")
	assert.ErrorIs(t, o.Err, sentinel)
	assert.Contains(t, o.Err.Error(), IssueID().String(), "the error names the issue")
	assert.Empty(t, o.Events, "events appended")
	assert.Len(t, o.after, o.before, "events in the stream")
	return o.Err
}
