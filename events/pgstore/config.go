package pgstore

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/truefcr/truefcr/events"
)

// Sentinel errors of the package, besides those of package events.
var (
	// ErrInvalidConfig: a Config or ForwarderConfig that cannot work.
	ErrInvalidConfig = errors.New("invalid configuration")
	// ErrSchemaVersion: the tables were made by a newer version of this
	// package, or with another codec, or a table of an outbox's name is
	// not one (another store's), or an outbox's offsets are of another
	// cluster (the database was moved), and cannot be used as they are.
	ErrSchemaVersion = errors.New("unsupported schema")
)

// Defaults of Config.
const (
	DefaultSchema    = "public"
	DefaultTable     = "truefcr_events"
	DefaultReadBatch = 1000
	DefaultMaxGroup  = 64
)

// Config configures a Store. The zero value works: events go to
// public.truefcr_events, encoded with msgpack, without an outbox.
type Config struct {
	// Schema is the Postgres schema that holds the tables; DefaultSchema
	// by default. It is created when it does not exist.
	Schema string
	// Table names the events table; the store's other tables share it as
	// a prefix (<table>_streams, <table>_head, <table>_schema and, with an
	// outbox, <table>_outbox and <table>_outbox_offsets), so two stores of
	// one schema must not be named so that one's tables take the other's
	// names (New refuses them). DefaultTable by default.
	Table string
	// Codec encodes the stored payloads (bytea); msgpack with the built-in
	// types by default. A table keeps the codec it was created with.
	Codec events.Codec
	// ReadBatch is how many rows one ReadAll query fetches; DefaultReadBatch
	// by default, at most MaxReadBatch.
	ReadBatch int
	// MaxGroup is how many concurrent appends, each to one stream, may
	// share one transaction and its commit; DefaultMaxGroup by default, 1
	// for a transaction per append. An append that loses a race fails
	// alone; the others of its transaction go on.
	MaxGroup int
	// Outbox, when set, makes every append also write one Watermill
	// message per event to the outbox table, in the same transaction.
	Outbox *OutboxConfig
	// SkipUnknownTypes makes Load and ReadAll return an event of a type
	// that Codec's registry does not know (one a newer producer wrote) as
	// an events.Opaque of its type, rather than fail: projections pass
	// over it while its version keeps its issue's stream going, and
	// contact.Issue only takes its version.
	SkipUnknownTypes bool
}

// OutboxConfig configures the transactional outbox of a Store.
type OutboxConfig struct {
	// Topic names the destination topic of each event, which the forwarder
	// publishes it to: events.DefaultTopic for all by default;
	// events.PartitionedTopic for partitioned setups.
	Topic func(events.Envelope) string
	// Codec encodes the message payloads; the store's codec by default.
	Codec events.Codec
	// Logger receives Watermill's logs; none by default.
	Logger watermill.LoggerAdapter
}

func (c *Config) setDefaults() {
	if c.Schema == "" {
		c.Schema = DefaultSchema
	}
	if c.Table == "" {
		c.Table = DefaultTable
	}
	if c.Codec == nil {
		c.Codec = events.NewMsgpackCodec(nil)
	}
	if c.ReadBatch == 0 {
		c.ReadBatch = DefaultReadBatch
	}
	if c.MaxGroup == 0 {
		c.MaxGroup = DefaultMaxGroup
	}
	if o := c.Outbox; o != nil {
		out := *o // never change the caller's value
		if out.Topic == nil {
			out.Topic = func(events.Envelope) string { return events.DefaultTopic }
		}
		if out.Codec == nil {
			out.Codec = c.Codec
		}
		if out.Logger == nil {
			out.Logger = watermill.NopLogger{}
		}
		c.Outbox = &out
	}
}

// Validate reports a configuration that cannot work, its empty fields
// taken as their defaults (as New takes them): the zero value is valid.
func (c Config) Validate() error {
	c.setDefaults()
	if err := validName("schema", c.Schema); err != nil {
		return err
	}
	if err := validName("table", c.Table); err != nil {
		return err
	}
	if c.ReadBatch < 0 || c.MaxGroup < 0 {
		return fmt.Errorf("pgstore: read batch %d or group size %d is negative: %w", c.ReadBatch, c.MaxGroup, ErrInvalidConfig)
	}
	if c.ReadBatch > MaxReadBatch {
		// ReadAll holds a batch's rows at once: a buffer of this many.
		return fmt.Errorf("pgstore: read batch %d is more than %d rows: %w", c.ReadBatch, MaxReadBatch, ErrInvalidConfig)
	}
	return nil
}

// MaxReadBatch is the largest Config.ReadBatch.
const MaxReadBatch = 1 << 20

// maxName leaves room for the longest suffix (_outbox_offsets) within
// Postgres' 63-byte identifiers.
const maxName = 63 - len("_outbox_offsets")

var nameRE = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// validName accepts plain lower-case identifiers only, so that names never
// need quoting rules to be right in generated SQL and Watermill topics.
func validName(what, name string) error {
	if !nameRE.MatchString(name) || len(name) > maxName {
		return fmt.Errorf("pgstore: %s name %q: want lower-case letters, digits and _, at most %d bytes, not starting with a digit: %w",
			what, name, maxName, ErrInvalidConfig)
	}
	return nil
}
