package projections

import (
	"fmt"
	"time"

	"github.com/truefcr/truefcr/events"
)

// TopicMatch says when two issues are about the same topic for repeat
// contact inference.
type TopicMatch uint8

// The topic matching rules.
const (
	// MatchTopic: the same topic, such as billing/invoice-error.
	MatchTopic TopicMatch = iota
	// MatchRoot: the same top-level segment, such as billing.
	MatchRoot
	// MatchAny: any topic (the repeat-caller rule).
	MatchAny
)

// String returns "topic", "root" or "any".
func (m TopicMatch) String() string {
	switch m {
	case MatchTopic:
		return "topic"
	case MatchRoot:
		return "root"
	case MatchAny:
		return "any"
	}
	return fmt.Sprintf("TopicMatch(%d)", uint8(m))
}

// The defaults of FCRConfig.
const (
	// DefaultFCRWindow is the repeat window W.
	DefaultFCRWindow = 7 * 24 * time.Hour
	// DefaultFCRLateness is how late an event may arrive and still count
	// in full: a day covers a nightly export and a delayed survey batch.
	DefaultFCRLateness = 24 * time.Hour
)

// FCRConfig configures the true-FCR projection. The zero value means the
// defaults: a 7-day window, same-topic matching, 24 h lateness, events at
// most an hour after the clock's time, and MinReliable as the small-sample
// threshold.
type FCRConfig struct {
	// Window is the repeat window W: a contact less than W after a
	// resolution is a repeat of the problem. 0 means DefaultFCRWindow.
	Window time.Duration
	// Match is the topic rule of repeat contact inference.
	Match TopicMatch
	// Lateness is how far behind the watermark an event may be and still
	// count in full. 0 means DefaultFCRLateness.
	Lateness time.Duration
	// MinSample is the denominator below which a rate is flagged as a
	// small sample. 0 means MinReliable.
	MinSample int64
	// MaxFuture is how far after the clock's time an event may be: one
	// further ahead is refused (ErrFutureEvent), as it would move the
	// watermark there and make every event after it late. An event taken
	// m ahead leaves the events of the present the lateness minus m to
	// arrive in. 0 means DefaultMaxFuture, or half the lateness when that
	// is less; a negative value sets no limit, for a log stamped ahead of
	// the clock on purpose.
	MaxFuture time.Duration
	// Registry knows the event types of the held events that a snapshot
	// carries; nil means events.NewRegistry(). A held event that it would
	// not read back as the Go type it has (a host's type it does not know,
	// or knows under another Go type) is saved without its data, which the
	// FCR does not read: by its id, place in its stream, time and type
	// name. One of a built-in Go type that it would read back as another
	// fails the snapshot.
	Registry *events.Registry
}

func (c *FCRConfig) setDefaults() {
	if c.Window == 0 {
		c.Window = DefaultFCRWindow
	}
	if c.Lateness == 0 {
		c.Lateness = DefaultFCRLateness
	}
	if c.MinSample == 0 {
		c.MinSample = MinReliable
	}
	c.MaxFuture = maxFutureOr(c.MaxFuture, c.Lateness)
}

// Validate reports what makes c unusable: a negative window, lateness or
// minimum sample, or an unknown match rule. Zero values are valid: they
// mean the defaults.
func (c FCRConfig) Validate() error {
	switch {
	case c.Window < 0:
		return fmt.Errorf("FCR window %s is negative: %w", c.Window, ErrFCRConfig)
	case c.Lateness < 0:
		return fmt.Errorf("FCR lateness %s is negative: %w", c.Lateness, ErrFCRConfig)
	case c.MinSample < 0:
		return fmt.Errorf("FCR minimum sample %d is negative: %w", c.MinSample, ErrFCRConfig)
	case c.Match > MatchAny:
		return fmt.Errorf("FCR topic match %s is not topic, root or any: %w", c.Match, ErrFCRConfig)
	}
	return nil
}
