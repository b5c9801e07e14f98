package simulate_test

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/contact"
	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/internal/simulate"
)

func collect(t *testing.T, cfg simulate.Config) ([]events.Envelope, simulate.Truth) {
	t.Helper()
	log, truth, err := simulate.Collect(cfg)
	require.NoError(t, err)
	require.NotEmpty(t, log)
	return log, truth
}

func TestSameSeedGivesTheSameLog(t *testing.T) {
	cfg := simulate.Config{Seed: 42, Days: 3}
	a, ta := collect(t, cfg)
	b, tb := collect(t, cfg)
	assert.Equal(t, a, b)
	assert.Equal(t, ta, tb)

	g, err := simulate.New(cfg)
	require.NoError(t, err)
	var again []events.Envelope
	for e := range g.Events() {
		again = append(again, e)
	}
	assert.Equal(t, a, again, "a Generator replays the same log on every call")
}

func TestDifferentSeedsGiveDifferentLogs(t *testing.T) {
	a, _ := collect(t, simulate.Config{Seed: 1, Days: 2})
	b, _ := collect(t, simulate.Config{Seed: 2, Days: 2})
	ids := map[uuid.UUID]bool{}
	for _, e := range a {
		ids[e.ID] = true
		ids[e.Issue] = true
	}
	shared := 0
	for _, e := range b {
		if ids[e.ID] || ids[e.Issue] {
			shared++
		}
	}
	assert.NotEqual(t, len(a), 0)
	assert.Zero(t, shared, "logs of two seeds share no ids")
	assert.NotEqual(t, a[0].At, b[0].At)
}

func TestEveryStreamIsValidAndEncodes(t *testing.T) {
	codec := events.NewJSONCodec(nil)
	cases := []struct {
		name string
		cfg  simulate.Config
	}{
		{"zero value and a seed", simulate.Config{Seed: 7}},
		{"busy, few customers", simulate.Config{Seed: 8, Days: 6, Customers: 50, IssuesPerDay: 300}},
		{"start off the hour, custom channel", simulate.Config{
			Seed: 9, Days: 5, Start: time.Date(2025, 12, 31, 22, 17, 3, 500, time.FixedZone("EET", 7200)),
			Channels: []simulate.Channel{{"phone", 1}, {"sms", 1}, {"bot", 2}},
		}},
		{"one topic, no phone", simulate.Config{
			Seed: 10, Days: 4, Channels: []simulate.Channel{{"chat", 1}},
			Topics: []simulate.Topic{{Name: "tech/outage", Weight: 1, Repeat: 1}},
		}},
		{"a short window", simulate.Config{Seed: 11, Days: 6, Window: time.Hour, Agents: 1}},
		{"longer than the auto-close", simulate.Config{Seed: 12, Days: 20, AutoClose: 2 * 24 * time.Hour}},
		{"closed at once", simulate.Config{Seed: 13, Days: 4, AutoClose: time.Millisecond}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g, err := simulate.New(tc.cfg)
			require.NoError(t, err)
			c := newChecker()
			lifecycle := map[uuid.UUID]*contact.Issue{} // the write side's rules
			n := 0
			start, end := g.Config().Start, g.End()
			var b []byte
			for e := range g.Events() {
				// Testify only on failure: it is slow per event under -race.
				if err := c.check(e); err != nil {
					require.NoError(t, err)
				}
				is := lifecycle[e.Issue]
				if is == nil {
					is = &contact.Issue{}
					lifecycle[e.Issue] = is
				}
				if err := is.Check(e, contact.KeyRules{}); err != nil {
					require.NoError(t, err, "event %d", n)
				}
				require.NoError(t, is.Apply(e))
				if e.At.Before(start) || !e.At.Before(end) {
					require.Fail(t, "event outside the log's time", "%s not in [%s, %s)", e.At, start, end)
				}
				b, err = codec.Append(b[:0], e)
				require.NoError(t, err)
				back, err := codec.Decode(b)
				require.NoError(t, err)
				if !reflect.DeepEqual(e, back) {
					require.Equal(t, e, back, "JSON round trip of %s", b)
				}
				n++
			}
			assert.Equal(t, g.Truth().Events, n)
			assert.Positive(t, g.Truth().Issues)
			if tc.cfg.AutoClose > 0 {
				assert.Positive(t, g.Truth().AutoClosed, "issues closed by the helpdesk")
			}
		})
	}
}

// tally counts a log by what its events say.
type tally struct {
	types                  map[events.Type]int
	bot, transfers         int
	surveys                map[events.Survey]int
	byChannel              map[string]int
	customers              map[string]bool
	waitTotal, handleTotal time.Duration
}

func count(log []events.Envelope) tally {
	t := tally{types: map[events.Type]int{}, surveys: map[events.Survey]int{}, byChannel: map[string]int{}, customers: map[string]bool{}}
	routed := map[uuid.UUID]bool{}
	for _, e := range log {
		t.types[e.Type()]++
		switch d := e.Data.(type) {
		case *events.Opened:
			t.byChannel[d.Channel]++
		case *events.Routed:
			if routed[d.Contact] {
				t.transfers++
			}
			routed[d.Contact] = true
		case *events.Resolved:
			if d.Bot {
				t.bot++
			}
			t.handleTotal += d.Handle
		case *events.Rated:
			t.surveys[d.Survey]++
		}
	}
	return t
}

func TestTruthCountsWhatTheLogHolds(t *testing.T) {
	log, truth := collect(t, simulate.Config{Seed: 3, Days: 14})
	c := count(log)
	assert.Equal(t, len(log), truth.Events)
	assert.Equal(t, c.types[events.TypeOpened], truth.Issues)
	assert.Equal(t, truth.Issues, truth.Fresh+truth.Repeats+truth.LateRepeats)
	assert.Equal(t, c.types[events.TypeOpened]+c.types[events.TypeContacted]+c.types[events.TypeReopened], truth.Offered)
	assert.Equal(t, c.types[events.TypeAbandoned], truth.Abandoned)
	assert.Equal(t, c.types[events.TypeContacted], truth.FollowUps)
	assert.Equal(t, c.types[events.TypeReopened], truth.Reopens)
	assert.Equal(t, c.types[events.TypeRouted], truth.Routings)
	assert.Equal(t, c.transfers, truth.Transfers)
	assert.Equal(t, c.types[events.TypeConsulted], truth.Consults)
	assert.Equal(t, c.types[events.TypeResolved], truth.Resolutions)
	assert.Equal(t, c.bot, truth.BotResolutions)
	assert.Equal(t, c.handleTotal, truth.Handle)
	assert.Equal(t, c.surveys, truth.Surveys)
	assert.Equal(t, c.types[events.TypeClassified], truth.Classifications)
	assert.Equal(t, c.byChannel, truth.ByChannel)
	assert.LessOrEqual(t, truth.Answered+truth.Abandoned, truth.Offered)
	assert.LessOrEqual(t, truth.FirstContactResolutions, truth.Resolutions)
	assert.LessOrEqual(t, truth.ContainmentFailures, truth.Repeats+truth.LateRepeats)
}

func TestLogHasTheShapeOfAContactCentre(t *testing.T) {
	cfg := simulate.Config{Seed: 5, Days: 28, Customers: 4000, IssuesPerDay: 500}
	log, truth := collect(t, cfg)
	share := func(n, of int) float64 { return float64(n) / float64(of) }

	// Fresh problems follow the configured mix; repeats lean to the phone.
	for _, ch := range simulate.DefaultChannels() {
		got := share(truth.ByChannel[ch.Name], truth.Issues)
		assert.InDelta(t, ch.Weight, got, 0.06, "share of %s", ch.Name)
	}
	assert.InDelta(t, float64(cfg.IssuesPerDay*float64(cfg.Days)), float64(truth.Fresh), 0.05*float64(truth.Fresh))
	assert.Greater(t, truth.ByTopic["billing/invoice-error"], truth.ByTopic["tech/login"], "Zipf-like topics")
	assert.Greater(t, truth.ByTopic["tech/login"], truth.ByTopic["product/question"])

	abandonment := share(truth.Abandoned, truth.Answered+truth.Abandoned)
	assert.Greater(t, abandonment, 0.02)
	assert.Less(t, abandonment, 0.2)
	repeats := share(truth.Repeats, truth.Issues)
	assert.Greater(t, repeats, 0.05)
	assert.Less(t, repeats, 0.35)
	assert.Positive(t, truth.LateRepeats)
	assert.Positive(t, truth.ContainmentFailures)
	assert.Positive(t, truth.Retries)
	assert.InDelta(t, 0.08, share(truth.Transfers, truth.Answered), 0.03)
	assert.InDelta(t, 0.07, share(truth.Consults, truth.Answered), 0.03)
	asa := truth.Wait / time.Duration(truth.Queued)
	assert.Greater(t, asa, 5*time.Second)
	assert.Less(t, asa, 3*time.Minute)
	assert.Greater(t, truth.TwoKey, truth.Customers/4)
	assert.Less(t, truth.TwoKey, truth.Customers*3/5)

	// Satisfaction is higher for one-contact issues and short waits.
	type issueInfo struct {
		contacts int
		wait     time.Duration
		queued   bool
	}
	issues := map[uuid.UUID]*issueInfo{}
	var good, bad, short, long []float64
	both, single := 0, 0
	for _, e := range log {
		in := issues[e.Issue]
		if in == nil {
			in = &issueInfo{}
			issues[e.Issue] = in
		}
		switch d := e.Data.(type) {
		case *events.Opened:
			if len(d.Customer.Keys) == 2 {
				both++
			} else if strings.HasPrefix(d.Customer.Keys[0], "email:") {
				single++
			}
		case *events.Contacted, *events.Reopened:
			in.contacts++
		case *events.Routed:
			if !in.queued && d.Wait > 0 {
				in.queued, in.wait = true, d.Wait
			}
		case *events.Rated:
			if d.Survey != events.SurveyCSAT {
				continue
			}
			s := float64(d.Score)
			if in.contacts == 0 {
				good = append(good, s)
			} else {
				bad = append(bad, s)
			}
			if in.queued && in.wait < 60*time.Second {
				short = append(short, s)
			} else if in.queued && in.wait > 180*time.Second {
				long = append(long, s)
			}
		}
	}
	require.NotEmpty(t, bad)
	require.NotEmpty(t, long)
	assert.Greater(t, mean(good)-mean(bad), 0.5, "CSAT of one-contact issues against others")
	assert.Greater(t, mean(short)-mean(long), 0.3, "CSAT after short waits against long ones")
	assert.Positive(t, both, "some events carry two keys of a customer")
	assert.Greater(t, single, both, "most events of two-key customers carry one key")
}

func mean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

func TestAbandonmentRisesWithTheWait(t *testing.T) {
	// Abandoned attempts give up after their patience; answered contacts
	// waited their wait. Busy hours have longer queues and so more
	// abandonment than quiet ones.
	log, _ := collect(t, simulate.Config{Seed: 6, Days: 14, IssuesPerDay: 800})
	offered := map[bool]int{}
	abandoned := map[bool]int{}
	for _, e := range log {
		busy := e.At.Hour() >= 9 && e.At.Hour() < 17 && e.At.Weekday() != time.Saturday && e.At.Weekday() != time.Sunday
		switch d := e.Data.(type) {
		case *events.Routed:
			if d.Wait > 0 && d.Skills != nil {
				offered[busy]++
			}
		case *events.Abandoned:
			offered[busy]++
			abandoned[busy]++
		}
	}
	rate := func(b bool) float64 { return float64(abandoned[b]) / float64(offered[b]) }
	assert.Greater(t, rate(true), rate(false)*1.2, "busy %.3f, quiet %.3f", rate(true), rate(false))
}

func TestEventsSetsTheSizeOfTheLog(t *testing.T) {
	for _, target := range []int{5_000, 40_000} {
		g, err := simulate.New(simulate.Config{Seed: 12, Events: target, Days: 10})
		require.NoError(t, err)
		n := 0
		for range g.Events() {
			n++
		}
		assert.InEpsilon(t, target, n, 0.25, "asked for %d events", target)
	}
}

func TestBreakingOutOfTheLoopStops(t *testing.T) {
	g, err := simulate.New(simulate.Config{Seed: 13})
	require.NoError(t, err)
	n := 0
	for range g.Events() {
		n++
		if n == 10 {
			break
		}
	}
	assert.Equal(t, 10, n)
	assert.Equal(t, 10, g.Truth().Events)
}

func TestInvalidConfigsAreRefused(t *testing.T) {
	cases := []struct {
		name string
		cfg  simulate.Config
		want string
	}{
		{"negative days", simulate.Config{Days: -1}, "Days -1"},
		{"negative customers", simulate.Config{Customers: -5}, "Customers -5"},
		{"NaN rate", simulate.Config{IssuesPerDay: math.NaN()}, "IssuesPerDay NaN"},
		{"negative events", simulate.Config{Events: -1}, "Events -1"},
		{"empty channels", simulate.Config{Channels: []simulate.Channel{}}, "Channels is empty"},
		{"channel name", simulate.Config{Channels: []simulate.Channel{{"Phone", 1}}}, `"Phone" is not a lower-case token`},
		{"channel weight", simulate.Config{Channels: []simulate.Channel{{"phone", 0}}}, `channel "phone": weight 0`},
		{"topic name", simulate.Config{Topics: []simulate.Topic{{Name: "/billing", Weight: 1}}}, `"/billing"`},
		{"empty topic segment", simulate.Config{Topics: []simulate.Topic{{Name: "billing//refund", Weight: 1}}}, `"billing//refund"`},
		{"padded topic segment", simulate.Config{Topics: []simulate.Topic{{Name: "billing /refund", Weight: 1}}}, `"billing /refund"`},
		{"topic behind a byte-order mark", simulate.Config{Topics: []simulate.Topic{{Name: "\ufeffbilling", Weight: 1}}}, `"\ufeffbilling"`},
		{"topic repeat", simulate.Config{Topics: []simulate.Topic{{Name: "billing", Weight: 1, Repeat: 2}}}, "repeat probability 2"},
		{"negative window", simulate.Config{Window: -time.Hour}, "Window -1h0m0s"},
		{"start before 1970", simulate.Config{Start: time.Date(1969, 12, 1, 0, 0, 0, 0, time.UTC)}, "Start 1969-12-01T00:00:00Z"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := simulate.New(tc.cfg)
			require.Error(t, err)
			assert.True(t, errors.Is(err, simulate.ErrInvalidConfig))
			assert.Contains(t, err.Error(), tc.want)
			_, _, err = simulate.Collect(tc.cfg)
			assert.ErrorIs(t, err, simulate.ErrInvalidConfig)
		})
	}
}

func TestDefaults(t *testing.T) {
	g, err := simulate.New(simulate.Config{})
	require.NoError(t, err)
	c := g.Config()
	assert.Equal(t, 7, c.Days)
	assert.Equal(t, time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), c.Start)
	assert.Equal(t, time.Monday, c.Start.Weekday())
	assert.Equal(t, simulate.DefaultChannels(), c.Channels)
	assert.Equal(t, simulate.DefaultTopics(), c.Topics)
	assert.Equal(t, 7*24*time.Hour, c.Window)
	assert.Equal(t, c.Start.Add(7*24*time.Hour), g.End())
	assert.Zero(t, g.Truth().Events, "no run yet")
}
