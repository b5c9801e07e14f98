package simulate

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/truefcr/truefcr/internal/text"
)

// ErrInvalidConfig is wrapped by every error about a Config that cannot
// be simulated.
var ErrInvalidConfig = errors.New("invalid simulation config")

// Channel is one contact channel of the mix and its share of first
// contacts. The built-in channels (phone, chat, email, web, social, bot)
// behave as the package overview describes; any other name behaves like
// email: no queue, no abandonment.
type Channel struct {
	Name   string
	Weight float64
}

// Topic is one contact reason of the mix: its '/'-separated name, its
// share of new issues and the probability that a resolution of it does
// not hold, so that the customer comes back.
type Topic struct {
	Name   string
	Weight float64
	Repeat float64
}

// Config describes a simulated contact centre. The zero value with a Seed
// is a valid, small one: a week, 1,000 customers, 150 new issues a day.
type Config struct {
	// Seed makes the log reproducible: the same Config gives the same log.
	Seed uint64
	// Start is when the log begins; 2026-03-02 00:00 UTC (a Monday) if zero.
	Start time.Time
	// Days is how long the log lasts; 7 if zero. Events later than
	// Start+Days are not emitted, so issues still in flight stay open.
	Days int
	// Customers is how many customers raise issues; 1,000 if zero.
	Customers int
	// IssuesPerDay is the mean number of new problems a day, before
	// repeat contacts; derived from Events, or 150, if zero.
	IssuesPerDay float64
	// Events, when IssuesPerDay is zero, sets IssuesPerDay so that the log
	// has about this many events.
	Events int
	// Channels is the mix of first contacts; DefaultChannels if nil.
	Channels []Channel
	// Topics is the mix of contact reasons; DefaultTopics if nil.
	Topics []Topic
	// Agents is how many human agents answer; 50 if zero.
	Agents int
	// Window is the repeat window that Truth classifies repeats by; 7 days
	// if zero. It does not change the log.
	Window time.Duration
	// AutoClose is how long an issue left open (abandoned in the queue and
	// never answered, or dropped by a customer who went elsewhere) stays
	// open after its last event, before the helpdesk resolves it with code
	// "auto-closed", as helpdesks close stale tickets; 14 days if zero,
	// never if negative. It keeps the open backlog, and what a projection
	// holds for it, from growing with the length of the log.
	AutoClose time.Duration
}

// Events per new issue that the default model produces, measured; used to
// turn Config.Events into a rate.
const eventsPerIssue = 4.86

// DefaultChannels returns the default channel mix.
func DefaultChannels() []Channel {
	return []Channel{
		{"phone", 0.38}, {"chat", 0.22}, {"email", 0.14},
		{"web", 0.08}, {"social", 0.05}, {"bot", 0.13},
	}
}

// DefaultTopics returns the default contact reasons, with Zipf-like
// weights (the most common reason is about twice the second) and repeat
// propensities that differ by topic.
func DefaultTopics() []Topic {
	names := []struct {
		name   string
		repeat float64
	}{
		{"billing/invoice-error", 0.22},
		{"tech/login", 0.12},
		{"orders/delivery", 0.28},
		{"billing/refund", 0.30},
		{"tech/outage", 0.35},
		{"account/password-reset", 0.06},
		{"orders/return", 0.16},
		{"billing/payment-method", 0.10},
		{"tech/app-crash", 0.20},
		{"account/change-address", 0.05},
		{"account/close", 0.12},
		{"product/question", 0.04},
	}
	ts := make([]Topic, len(names))
	for i, n := range names {
		ts[i] = Topic{Name: n.name, Weight: 1 / float64(i+1), Repeat: n.repeat}
	}
	return ts
}

// withDefaults returns c with its zero fields set, or an error that says
// which field is wrong.
func (c Config) withDefaults() (Config, error) {
	if c.Start.IsZero() {
		c.Start = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	}
	c.Start = c.Start.UTC().Truncate(time.Millisecond)
	if c.Days == 0 {
		c.Days = 7
	}
	if c.Customers == 0 {
		c.Customers = 1000
	}
	if c.Agents == 0 {
		c.Agents = 50
	}
	if c.AutoClose == 0 {
		c.AutoClose = 14 * 24 * time.Hour
	}
	if c.Window == 0 {
		c.Window = 7 * 24 * time.Hour
	}
	if c.Channels == nil {
		c.Channels = DefaultChannels()
	}
	if c.Topics == nil {
		c.Topics = DefaultTopics()
	}
	switch {
	case c.Days < 0:
		return c, invalidf("Days %d is negative", c.Days)
	case c.Start.Year() < 1970 || c.Days > 365*100 || c.Start.Year()+c.Days/365 > 2200:
		return c, invalidf("Start %s and Days %d are not between 1970 and 2200", c.Start.Format(time.RFC3339), c.Days)
	case c.Customers < 0 || c.Customers > maxCustomers:
		return c, invalidf("Customers %d is outside 1–%d", c.Customers, maxCustomers)
	case c.Agents < 0:
		return c, invalidf("Agents %d is negative", c.Agents)
	case c.IssuesPerDay < 0 || math.IsNaN(c.IssuesPerDay) || math.IsInf(c.IssuesPerDay, 0):
		return c, invalidf("IssuesPerDay %v is not a non-negative number", c.IssuesPerDay)
	case c.Events < 0:
		return c, invalidf("Events %d is negative", c.Events)
	case c.Window < 0:
		return c, invalidf("Window %s is negative", c.Window)
	case len(c.Channels) == 0:
		return c, invalidf("Channels is empty")
	case len(c.Topics) == 0:
		return c, invalidf("Topics is empty")
	}
	if c.IssuesPerDay == 0 {
		c.IssuesPerDay = 150
		if c.Events > 0 {
			c.IssuesPerDay = float64(c.Events) / float64(c.Days) / eventsPerIssue
		}
	}
	for i, ch := range c.Channels {
		if !isToken(ch.Name) {
			return c, invalidf("channel %d: name %q is not a lower-case token", i, ch.Name)
		}
		if !(ch.Weight > 0) || math.IsInf(ch.Weight, 0) {
			return c, invalidf("channel %q: weight %v is not positive", ch.Name, ch.Weight)
		}
	}
	for i, t := range c.Topics {
		if !isTopic(t.Name) {
			return c, invalidf("topic %d: name %q is not a '/'-separated topic of segments that are neither empty nor padded", i, t.Name)
		}
		if !(t.Weight > 0) || math.IsInf(t.Weight, 0) {
			return c, invalidf("topic %q: weight %v is not positive", t.Name, t.Weight)
		}
		if !(t.Repeat >= 0 && t.Repeat <= 1) {
			return c, invalidf("topic %q: repeat probability %v is outside 0–1", t.Name, t.Repeat)
		}
	}
	return c, nil
}

// isTopic reports whether name is a topic that the lifecycle takes: its
// '/'-separated segments are neither empty nor padded (text.Trim).
func isTopic(name string) bool {
	for seg := range strings.SplitSeq(name, "/") {
		if seg == "" || text.Trim(seg) != seg {
			return false
		}
	}
	return true
}

func invalidf(format string, args ...any) error {
	return fmt.Errorf("simulate: %s: %w", fmt.Sprintf(format, args...), ErrInvalidConfig)
}

// isToken reports whether s is a lower-case token, [a-z][a-z0-9_-]*.
func isToken(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}
