package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/truefcr/truefcr/events"
)

// Errors of the Runner. Every error it returns for a reason of its own
// wraps one of them.
var (
	// ErrRunnerConfig: a RunnerConfig that cannot work.
	ErrRunnerConfig = errors.New("invalid runner configuration")
	// ErrRunnerBusy: Run was called while the runner was already running.
	ErrRunnerBusy = errors.New("runner already running")
	// ErrCannotRebuild: Rebuild needs a Store to replay and a projection
	// that can be reset or can save and restore its state.
	ErrCannotRebuild = errors.New("cannot rebuild")
	// ErrCheckpoint: a checkpoint could not be written or read back, or
	// is not of the runner's Store (beyond its last position).
	ErrCheckpoint = errors.New("checkpoint failed")
	// ErrPanicked: a call that changed the projection's state panicked
	// in an earlier Run or Rebuild of the runner, which a host recovered:
	// the projection's own, or the Store's or a codec's while a Rebuild
	// replayed into the projection it had reset. Its state may be half
	// changed: Run and Rebuild refuse to go on from it, and a new Runner
	// restores the last checkpoint.
	ErrPanicked = errors.New("the projection panicked")
)

// Metadata keys that the Runner sets on a message it sends to the poison
// topic. The first two are Watermill's own (middleware.PoisonQueue), so
// that tools that read Watermill's poison queues read ours. The copy has
// a UUID of its own (a broker that drops a message whose id it has seen
// would drop it), the same for every delivery of a message that has a
// UUID (a broker that deduplicates keeps one copy); MetadataPoisonUUID
// holds the UUID of the message as it came.
const (
	MetadataPoisonReason = "reason_poisoned"
	MetadataPoisonTopic  = "topic_poisoned"
	MetadataPoisonUUID   = "uuid_poisoned"
)

// Resetter is a projection that can drop everything it absorbed, so that
// Runner.Rebuild can replay the store into it. A Runner whose projection
// cannot save its state resets it at start too, before it replays the
// store from the start.
type Resetter interface {
	Reset()
}

// RunnerConfig configures a Runner. A Runner needs a Projection and at
// least one source: a Store, a Subscriber with a topic, or both.
type RunnerConfig struct {
	// Name identifies the runner's checkpoint: UTF-8 text without control
	// characters. Required.
	Name string
	// Projection receives the events. Required.
	Projection Projection

	// Store, when set, is read from the checkpoint's position on start
	// (catch-up) and whenever the runner checkpoints, so that no
	// committed event is ever missed. A Subscriber's message that
	// carries a store position (events.MetadataPosition) is taken to be
	// of this Store's events: at or below the runner's position, it is
	// passed over.
	Store events.Store
	// Subscriber, when set, delivers events live from Topic and Topics.
	// The runner cancels its subscriptions when it stops; closing the
	// Subscriber is up to its owner.
	Subscriber message.Subscriber
	// Topic is the topic to follow; Topics adds more (partitions).
	Topic  string
	Topics []string
	// Filter, when set, picks the events the projection sees: the others,
	// from the Store or the Subscriber, are passed over (counted in
	// RunnerStats.Filtered), and the runner's position moves past them.
	// It may be called more than once for an event. For a projection that
	// the runner sequences (not SelfSequencing), a Filter may pass over
	// some of an issue's events, by type say, but not its first version:
	// the runner sequences the versions it passes over of the issues it
	// has taken an event of, applied or held, so that the later ones do
	// not wait for them, and forgets those of the issues it has taken
	// nothing of (another partition's). So a version passed over before
	// any kept version of its issue arrived, as a Subscriber may deliver
	// them, is forgotten, and the versions after it wait for it
	// (RunnerStats.Held): with a Store, until the runner reads the Store
	// past it again (a checkpoint reads it first); with none, for good.
	// The runner of one partition whose Store holds every partition's
	// events takes events.InPartition(i, n), so that its catch-up and its
	// Rebuild read its partition only. The checkpoint does not record the
	// filter: give each partition's runner a Name of its own, and Rebuild
	// when the filter changes (another number of partitions). Lag counts
	// the store's events, the others' included.
	Filter func(events.Envelope) bool

	// Codecs decode messages by the codec their metadata names; msgpack
	// and JSON with the built-in event types by default. A runner that
	// sequences for its projection saves the events it holds for a gap in
	// its checkpoints with the first of them that writes each, and
	// refuses a checkpoint whose held events name a codec it no longer has.
	Codecs []events.Codec
	// SkipUnknownTypes passes an event of a type that the Codecs do not
	// know (one a newer producer published) on to the projection as an
	// events.Opaque of its type, counted in RunnerStats.UnknownTypes: its
	// version keeps its issue's stream going, and the projections of this
	// package read nothing else of it (held for a gap, a checkpoint saves
	// it so, by its type). Without it, such a message is
	// poison, and the later events of its issue wait for its version. A
	// Store's events are read as the store reads them (see
	// pgstore.Config.SkipUnknownTypes).
	SkipUnknownTypes bool
	// Checkpoints keeps the runner's checkpoint; a MemoryCheckpoints by
	// default.
	Checkpoints CheckpointStore
	// CheckpointEvery checkpoints after that many events (duplicates not
	// counted); 1000 by default, negative for never.
	CheckpointEvery int
	// CheckpointInterval checkpoints that often while events arrive; 5 s
	// by default, negative for never.
	CheckpointInterval time.Duration
	// CheckpointShare is the largest share of the runner's time that
	// checkpoints may take: after one that took 10 ms or more to make and
	// save, those that CheckpointEvery and CheckpointInterval call for
	// wait until it is that small a share, and are then made whether or
	// not more events come. A large state takes long to save (some 45 MB
	// and half a second for a Reporter holding 100,000 live issues), and
	// catching up would otherwise spend its time saving. 0.1 by default;
	// negative for no limit. Stopping always checkpoints.
	CheckpointShare float64
	// PollInterval is how often a runner without a Subscriber looks for
	// new events in the Store; 500 ms by default.
	PollInterval time.Duration
	// IdleAdvance, when positive, moves the projection's watermark to the
	// clock (Now) once the runner has caught up and no event (that Filter
	// keeps) has come for that long, and again at that interval while none
	// comes, so that a verdict that waits only for time to pass (the window
	// after a resolution, through a quiet night or on a quiet partition)
	// becomes final without a newer event. The projection must be an
	// Advancer. A runner with a Store reads it at each tick before it
	// judges the interval; a runner without one has caught up when
	// Pending says that its broker holds nothing for it, and needs
	// Pending for it.
	//
	// The watermark then follows the clock, as it follows the events when
	// they come: an event that reaches the runner more than the
	// projection's lateness after its own time is late, as it would be
	// behind a newer one. The runner cannot tell old events from delayed
	// ones: leave IdleAdvance 0 on a runner that is fed history with no
	// new events among it (an import into its Store or through its
	// broker), all of which would be late. An advance is saved by the
	// final checkpoint and by those that events call for, not by a timed
	// one while nothing comes: a restarted runner advances again at its
	// first quiet tick. After a crash, then, an event that comes before
	// that tick is judged against the watermark of the last checkpoint:
	// one that the runner that crashed would have counted as late may
	// count in full. 0 (never) by default.
	IdleAdvance time.Duration
	// ResubscribeDelay is how long the runner waits before it subscribes
	// again to a topic whose channel closed; 100 ms by default, doubling
	// up to 5 s while subscribing fails.
	ResubscribeDelay time.Duration
	// Pending, when set, tells how many messages the broker holds for the
	// runner's subscription (a JetStream consumer's pending count, say),
	// for Lag and for IdleAdvance; Watermill has no way to ask.
	Pending func(ctx context.Context) (int64, error)

	// PoisonPublisher receives, on PoisonTopic, the messages that cannot
	// be decoded, with the reason in MetadataPoisonReason. Without one,
	// or when it refuses a message PoisonAttempts times (with waits that
	// double from ResubscribeDelay), such a message is counted, logged and
	// acknowledged.
	PoisonPublisher message.Publisher
	PoisonTopic     string
	// PoisonAttempts is how many times a failing PoisonPublisher is tried
	// with one message before the message is dropped; 5 by default, about
	// 1.5 s with the default ResubscribeDelay. A negative value keeps
	// trying until the publisher takes the message or Run stops (the
	// message is then left to the broker): nothing is dropped, but the
	// topic waits while the poison topic is down.
	PoisonAttempts int

	// Logger logs what the runner cannot return as an error; slog's
	// default logger by default. watermill.NewSlogLogger adapts a
	// *slog.Logger.
	Logger watermill.LoggerAdapter
	// Now is the clock that stamps checkpoints and that IdleAdvance moves
	// the watermark to; time.Now by default. The projections' own limit
	// on future event times (MaxFuture) reads the machine's clock: a
	// simulation whose clock runs ahead of it needs MaxFuture < 0.
	Now func() time.Time
}

func (c *RunnerConfig) setDefaults() {
	if len(c.Codecs) == 0 {
		reg := events.NewRegistry()
		c.Codecs = []events.Codec{events.NewMsgpackCodec(reg), events.NewJSONCodec(reg)}
	}
	if c.Checkpoints == nil {
		c.Checkpoints = NewMemoryCheckpoints()
	}
	if c.CheckpointEvery == 0 {
		c.CheckpointEvery = 1000
	}
	if c.CheckpointInterval == 0 {
		c.CheckpointInterval = 5 * time.Second
	}
	if c.CheckpointShare == 0 {
		c.CheckpointShare = 0.1
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 500 * time.Millisecond
	}
	if c.ResubscribeDelay <= 0 {
		c.ResubscribeDelay = 100 * time.Millisecond
	}
	if c.PoisonAttempts == 0 {
		c.PoisonAttempts = defaultPoisonAttempts
	}
	if c.Logger == nil {
		c.Logger = watermill.NewSlogLogger(slog.Default())
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// topics returns every topic to follow.
func (c RunnerConfig) topics() []string {
	var ts []string
	if c.Topic != "" {
		ts = append(ts, c.Topic)
	}
	for _, t := range c.Topics {
		if t != "" {
			ts = append(ts, t)
		}
	}
	return ts
}

// Validate reports a configuration that cannot work.
func (c RunnerConfig) Validate() error {
	bad := func(why string) error { return fmt.Errorf("runner %q: %s: %w", c.Name, why, ErrRunnerConfig) }
	switch {
	case c.Name == "":
		return bad("no name")
	case !utf8.ValidString(c.Name) || strings.IndexFunc(c.Name, unicode.IsControl) >= 0:
		// A checkpoint store or a consumer group could not hold it.
		return bad("the name is not UTF-8 text without control characters")
	case c.Projection == nil:
		return bad("no projection")
	case isNilPointer(c.Projection):
		return bad(fmt.Sprintf("no projection (a nil %T)", c.Projection))
	case c.Store == nil && c.Subscriber == nil:
		return bad("neither a store nor a subscriber to read events from")
	case c.Subscriber != nil && len(c.topics()) == 0:
		return bad("a subscriber but no topic")
	case c.Subscriber == nil && len(c.topics()) > 0:
		return bad("a topic but no subscriber")
	case c.IdleAdvance < 0:
		return bad(fmt.Sprintf("IdleAdvance %s is negative", c.IdleAdvance))
	case c.IdleAdvance > 0 && !isAdvancer(c.Projection):
		return bad(fmt.Sprintf("IdleAdvance is set, but the projection, a %T, has no AdvanceTo(time.Time) error method", c.Projection))
	case c.IdleAdvance > 0 && c.Store == nil && c.Pending == nil:
		// It could not tell a broker's backlog from a quiet time.
		return bad("IdleAdvance is set on a runner without a Store, but not Pending, which tells when the broker's backlog is read")
	case c.PoisonPublisher != nil && c.PoisonTopic == "":
		return bad("a poison publisher but no poison topic")
	case c.PoisonPublisher != nil && slices.Contains(c.topics(), c.PoisonTopic):
		// Each poisoned message would come back to be poisoned again.
		return bad(fmt.Sprintf("poison topic %q is one the runner reads", c.PoisonTopic))
	}
	return nil
}

// RunnerStats counts what a Runner did with the events it received. Every
// event the runner read, from the Store or from a message, counts once in
// Applied, Duplicates, Rejected or Filtered, or in Held while it waits in
// the runner for a gap. Poisoned counts messages, not events: those that
// did not decode. UnknownTypes counts again, of the events handed to the
// projection, the events.Opaque, as an Opaque is applied like any event.
type RunnerStats struct {
	// Applied is how many events the projection absorbed. A
	// SelfSequencing projection absorbs what it does not recognise as a
	// duplicate, and says in its own report which events it holds for a
	// gap or drops as late.
	Applied int64
	// Duplicates is how many events were skipped because their version
	// was already applied or held, or their message's store position
	// was covered: redeliveries, and events met both in the store and on
	// the subscriber. A SelfSequencing projection
	// recognises them itself (see its DuplicatesIgnored).
	Duplicates int64
	// Held is how many events wait in the runner for an earlier version
	// of their issue: always 0 for a SelfSequencing projection, which
	// holds them itself.
	Held int
	// Rejected is how many events the projection returned an error for,
	// or that the runner refused as their version is one no stream has (0,
	// or beyond events.MaxVersion, which a codec reads); they are logged
	// and passed over.
	Rejected int64
	// Poisoned is how many messages could not be decoded.
	Poisoned int64
	// UnknownTypes is how many events of unknown types the runner handed
	// to its projection as events.Opaque: from messages
	// (RunnerConfig.SkipUnknownTypes) and from a Store that reads them so
	// (pgstore.Config.SkipUnknownTypes). One that was filtered, covered
	// by the store or skipped as a duplicate is not handed, and so not
	// counted; a SelfSequencing projection is handed the duplicates it
	// recognises itself, which are.
	UnknownTypes int64
	// Filtered is how many events RunnerConfig.Filter passed over, each
	// time one came (from the Store and the Subscriber, say).
	Filtered int64
	// Checkpoints is how many checkpoints were saved.
	Checkpoints int64
	// Position is the last store position covered.
	Position uint64
	// AdvancedTo is the clock's time to which IdleAdvance last advanced
	// the projection without an error (one is logged), whether or not
	// the watermark was behind it; zero if it never did since the runner
	// was made or rebuilt.
	AdvancedTo time.Time
}

// isAdvancer reports whether p is an Advancer.
func isAdvancer(p Projection) bool {
	_, ok := p.(Advancer)
	return ok
}

// Lag says how far a Runner is behind its sources.
type Lag struct {
	// Position is the last store position the runner covers; Head is the
	// store's last position. Both are 0 without a Store.
	Position, Head uint64
	// Behind is Head − Position: committed events not read yet. With a
	// Subscriber too, it counts the events applied live until the next
	// checkpoint reads them from the Store (CheckpointInterval).
	Behind uint64
	// Held is how many received events wait in the runner for an earlier
	// version of their issue; always 0 for a SelfSequencing projection,
	// which holds them itself.
	Held int
	// Pending is how many messages the broker holds for the runner, as
	// RunnerConfig.Pending tells; -1 when it is not known.
	Pending int64
}
