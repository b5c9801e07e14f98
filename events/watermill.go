package events

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
)

// Metadata keys of the Watermill messages that carry events. The payload is
// the encoded event; the metadata repeats what a router or a broker needs
// without decoding it.
const (
	MetadataEventType     = "event_type"
	MetadataIssue         = "issue_id"
	MetadataVersion       = "version"
	MetadataCodec         = "codec"
	MetadataPartitionKey  = MetaPartitionKey
	MetadataCorrelationID = MetaCorrelationID
	MetadataCausationID   = MetaCausationID
	// MetadataBatch is set on a message that carries several events
	// (NewBatchMessage): how many.
	MetadataBatch = "batch"
	// MetadataPosition is the store Position of the message's event, or
	// the highest of a batch's, when the events were read from or appended
	// to a store: NewMessage and NewBatchMessage set it from the envelopes,
	// and pgstore's outbox from the positions it allocates. A runner that
	// reads the same store passes over a message at or below the position
	// it has applied from the store: a redelivery of what it has.
	MetadataPosition = "store_position"
)

// MessagePosition returns the MetadataPosition of msg, and whether it has
// one.
func MessagePosition(msg *message.Message) (uint64, bool) {
	p, err := strconv.ParseUint(msg.Metadata.Get(MetadataPosition), 10, 64)
	return p, err == nil && p > 0
}

// DefaultTopic is the topic that events are published to unless a
// PublisherConfig says otherwise.
const DefaultTopic = "contact.events"

// NewMessage encodes e with codec into a Watermill message whose UUID is
// the event id, so that a redelivered message is recognised as the same
// event.
func NewMessage(codec Codec, e Envelope) (*message.Message, error) {
	payload, err := codec.Append(nil, e)
	if err != nil {
		return nil, err
	}
	msg := message.NewMessage(e.ID.String(), payload)
	msg.Metadata.Set(MetadataEventType, string(e.Type()))
	msg.Metadata.Set(MetadataIssue, e.Issue.String())
	msg.Metadata.Set(MetadataVersion, strconv.FormatUint(e.Version, 10))
	msg.Metadata.Set(MetadataCodec, codec.Name())
	msg.Metadata.Set(MetadataPartitionKey, PartitionKey(e))
	if e.Position > 0 {
		msg.Metadata.Set(MetadataPosition, strconv.FormatUint(e.Position, 10))
	}
	for _, k := range []string{MetaCorrelationID, MetaCausationID} {
		if v := e.Meta[k]; v != "" {
			msg.Metadata.Set(k, v)
		}
	}
	return msg, nil
}

// DecodeMessage decodes the event in msg with the codec its metadata names,
// chosen among codecs (msgpack with the built-in types when none is given).
func DecodeMessage(msg *message.Message, codecs ...Codec) (Envelope, error) {
	if n := msg.Metadata.Get(MetadataBatch); n != "" {
		return Envelope{}, fmt.Errorf("message %s: a batch of %s events; use DecodeMessages: %w", msg.UUID, n, ErrMalformed)
	}
	codec, err := messageCodec(msg, codecs)
	if err != nil {
		return Envelope{}, err
	}
	e, err := codec.Decode(msg.Payload)
	if err != nil {
		return Envelope{}, fmt.Errorf("%s: %w", messageName(msg, codec), err)
	}
	return e, nil
}

// messageName names msg, whose events codec reads, in an error: with the
// codec, when the message's metadata names none (a producer that wrote
// another codec without saying so reads as malformed).
func messageName(msg *message.Message, codec Codec) string {
	if msg.Metadata.Get(MetadataCodec) == "" {
		return fmt.Sprintf("message %s (its metadata names no codec: read as %s)", msg.UUID, codec.Name())
	}
	return "message " + msg.UUID
}

// NewBatchMessage encodes evs with codec into one Watermill message, for
// transports whose cost is per message rather than per byte: the payload
// is the events one after another, each preceded by its length as a
// uvarint, and MetadataBatch says how many there are. The message's UUID
// is the first event's id and the count (longer than the 36 characters
// that watermill-sql keeps for a UUID: do not batch over it), and its
// metadata holds the codec, the count, the partition key when every
// event has the same one and the highest store position when every event
// has one, not the events' own metadata: batch only events
// bound for the same topic and, where the topic is partitioned, the same
// partition.
// DecodeMessages reads it back.
func NewBatchMessage(codec Codec, evs []Envelope) (*message.Message, error) {
	if len(evs) == 0 {
		return nil, fmt.Errorf("batch message: no events: %w", ErrInvalidEvent)
	}
	var payload []byte
	var frame []byte
	key := PartitionKey(evs[0])
	position := evs[0].Position // the highest; 0 once an event has none
	for i, e := range evs {
		if e.Position == 0 {
			position = 0
		} else if position > 0 {
			position = max(position, e.Position)
		}
		var err error
		if frame, err = codec.Append(frame[:0], e); err != nil {
			return nil, fmt.Errorf("batch message: event %d of %d: %w", i+1, len(evs), err)
		}
		payload = binary.AppendUvarint(payload, uint64(len(frame)))
		payload = append(payload, frame...)
		if key != "" && PartitionKey(e) != key {
			key = ""
		}
	}
	msg := message.NewMessage(evs[0].ID.String()+"+"+strconv.Itoa(len(evs)), payload)
	msg.Metadata.Set(MetadataBatch, strconv.Itoa(len(evs)))
	msg.Metadata.Set(MetadataCodec, codec.Name())
	if key != "" {
		msg.Metadata.Set(MetadataPartitionKey, key)
	}
	if position > 0 {
		msg.Metadata.Set(MetadataPosition, strconv.FormatUint(position, 10))
	}
	return msg, nil
}

// DecodeMessages decodes the events of msg: the one event of a message of
// NewMessage, or every event of a message of NewBatchMessage, with the
// codec its metadata names, chosen among codecs as DecodeMessage does. An
// error names the message and, in a batch, the position of each event
// that does not decode; the events of the batch that do are returned with
// it, up to the first whose length is broken or the eighth that does not
// decode.
func DecodeMessages(msg *message.Message, codecs ...Codec) ([]Envelope, error) {
	n := msg.Metadata.Get(MetadataBatch)
	if n == "" {
		e, err := DecodeMessage(msg, codecs...)
		if err != nil {
			return nil, err
		}
		return []Envelope{e}, nil
	}
	count, err := strconv.Atoi(n)
	if err != nil || count < 1 {
		return nil, fmt.Errorf("message %s: batch of %q events: %w", msg.UUID, n, ErrMalformed)
	}
	codec, err := messageCodec(msg, codecs)
	if err != nil {
		return nil, err
	}
	// No event takes fewer than 32 bytes: a count that claims more than the
	// payload could hold reserves no more than it could.
	evs := make([]Envelope, 0, min(count, len(msg.Payload)/32+1))
	var errs []error
	bad := 0 // events that do not decode, those of unknown types not counted
	rest := msg.Payload
	for i := range count {
		size, k := binary.Uvarint(rest)
		if k <= 0 || size > uint64(len(rest)-k) {
			errs = append(errs, fmt.Errorf("message %s: event %d of %d: truncated: %w", msg.UUID, i+1, count, ErrMalformed))
			return evs, errors.Join(errs...)
		}
		e, err := codec.Decode(rest[k : k+int(size)])
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: event %d of %d: %w", messageName(msg, codec), i+1, count, err))
			if !errors.Is(err, ErrUnknownType) {
				bad++
			}
			if bad == maxBatchErrors {
				// Not a batch with a bad event or two: a bad batch,
				// which is not read on. Events of types this reader
				// does not know are well formed: a newer producer's.
				errs = append(errs, fmt.Errorf("message %s: %d events of %d do not decode: the rest is not read: %w", msg.UUID, bad, count, ErrMalformed))
				return evs, errors.Join(errs...)
			}
		} else {
			evs = append(evs, e)
		}
		rest = rest[k+int(size):]
	}
	if len(rest) > 0 {
		errs = append(errs, fmt.Errorf("message %s: %d bytes after the %d events of the batch: %w", msg.UUID, len(rest), count, ErrMalformed))
	}
	return evs, errors.Join(errs...)
}

// maxBatchErrors is how many events of a batch may fail to decode, other
// than for an unknown type, before DecodeMessages stops reading it.
const maxBatchErrors = 8

// messageCodec returns the codec among codecs that msg's metadata names
// (msgpack with the built-in types when none is given).
func messageCodec(msg *message.Message, codecs []Codec) (Codec, error) {
	name := msg.Metadata.Get(MetadataCodec)
	if len(codecs) == 0 {
		codecs = []Codec{NewMsgpackCodec(nil)}
	}
	for _, c := range codecs {
		if c.Name() == name || (name == "" && len(codecs) == 1) {
			return c, nil
		}
	}
	return nil, fmt.Errorf("message %s: no codec named %q: %w", msg.UUID, name, ErrMalformed)
}

// PartitionKey returns the key that keeps one customer's events together:
// the MetaPartitionKey of the event, stamped at write time from the
// customer's stable id, or the issue id when there is none.
func PartitionKey(e Envelope) string {
	if k := e.Meta[MetaPartitionKey]; k != "" {
		return k
	}
	return e.Issue.String()
}

// PartitionOf returns which of n partitions the key belongs to (FNV-1a).
func PartitionOf(key string, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return int(uint64(h.Sum32()) % uint64(n)) // uint32(n) would wrap for n ≥ 2³²
}

// PartitionedTopic returns a topic function that spreads events over n
// topics named prefix.0 … prefix.(n-1) by PartitionKey, so that every
// event of one customer lands on the same topic.
func PartitionedTopic(prefix string, n int) func(Envelope) string {
	return func(e Envelope) string {
		return prefix + "." + strconv.Itoa(PartitionOf(PartitionKey(e), n))
	}
}

// InPartition returns a filter of the events of partition i of n, as
// PartitionedTopic spreads them: for a runner of one partition that reads
// a store shared by all (projections.RunnerConfig.Filter). It panics when
// i is not one of the n partitions (0 to n-1; n of 0 or 1 is one), which
// would filter out everything.
func InPartition(i, n int) func(Envelope) bool {
	if i < 0 || i >= max(n, 1) {
		panic(fmt.Sprintf("events.InPartition(%d, %d): no partition %d of %d", i, n, i, max(n, 1)))
	}
	return func(e Envelope) bool { return PartitionOf(PartitionKey(e), n) == i }
}

// PublisherConfig configures a Publisher.
type PublisherConfig struct {
	// Publisher is the Watermill publisher to send to. Required.
	Publisher message.Publisher
	// Codec encodes the payloads; msgpack by default.
	Codec Codec
	// Topic names the topic of each event; DefaultTopic for all by default.
	Topic func(Envelope) string
	// Batch is the most events that one message carries: consecutive
	// events of one Publish call bound for the same topic go in one
	// message of NewBatchMessage, which takes Watermill's cost per message
	// off each event. The consumer must read messages with DecodeMessages,
	// as the projections' Runner does. A batch carries the partition key
	// only when all its events have the same: where the broker places
	// messages by that key (Kafka with a partitioning marshaler), give each
	// partition a topic of its own (PartitionedTopic) or leave Batch
	// zero, as over watermill-sql (see NewBatchMessage). Zero or one, the
	// default: one message per event (NewMessage), which any consumer of
	// DecodeMessage reads.
	Batch int
}

func (c *PublisherConfig) setDefaults() {
	if c.Codec == nil {
		c.Codec = NewMsgpackCodec(nil)
	}
	if c.Topic == nil {
		c.Topic = func(Envelope) string { return DefaultTopic }
	}
}

// Validate reports a configuration that cannot work.
func (c PublisherConfig) Validate() error {
	if c.Publisher == nil {
		return errors.New("events publisher: no Watermill publisher")
	}
	if c.Batch < 0 {
		return fmt.Errorf("events publisher: batch of %d events", c.Batch)
	}
	return nil
}

// Publisher publishes appended events to a Watermill publisher, one message
// per event or, with PublisherConfig.Batch, per batch of events, in the
// order given. It is what a contact.Service hands new events to when the
// store has no transactional outbox.
type Publisher struct {
	cfg PublisherConfig
}

// NewPublisher returns a Publisher for cfg.
func NewPublisher(cfg PublisherConfig) (*Publisher, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Publisher{cfg: cfg}, nil
}

// Publish sends evs, grouping consecutive events of the same topic into one
// Publish call and, with Batch, into messages of up to Batch events. When
// a call fails, it stops: its error names the events of that call (their
// places in evs and their issues; for an event that cannot be encoded, the
// events of its message) and says how many before them were published,
// and the events after them are not sent.
func (p *Publisher) Publish(ctx context.Context, evs []Envelope) error {
	for start := 0; start < len(evs); {
		topic := p.cfg.Topic(evs[start])
		end := start + 1
		for end < len(evs) && p.cfg.Topic(evs[end]) == topic {
			end++
		}
		msgs, from, to, err := p.messages(evs[start:end])
		if err != nil {
			return fmt.Errorf("publish %s: %w%s", which(evs, start+from, start+to), err, published(start))
		}
		for _, msg := range msgs {
			msg.SetContext(ctx)
		}
		if err := p.cfg.Publisher.Publish(topic, msgs...); err != nil {
			return fmt.Errorf("publish %s to %q: %w%s", which(evs, start, end), topic, err, published(start))
		}
		start = end
	}
	return nil
}

// which names the events evs[start:end] for an error: their places in
// evs, and their issues.
func which(evs []Envelope, start, end int) string {
	first := evs[start]
	if end-start == 1 {
		return fmt.Sprintf("event %d of %d (issue %s version %d)", start+1, len(evs), first.Issue, first.Version)
	}
	issues := make(map[uuid.UUID]struct{})
	for _, e := range evs[start:end] {
		issues[e.Issue] = struct{}{}
	}
	of := fmt.Sprintf("issue %s, from version %d", first.Issue, first.Version)
	if len(issues) > 1 {
		of = fmt.Sprintf("%d issues, from issue %s version %d", len(issues), first.Issue, first.Version)
	}
	return fmt.Sprintf("events %d to %d of %d (%s)", start+1, end, len(evs), of)
}

// published says, for the error of a Publish, that the first n events
// were sent.
func published(n int) string {
	switch n {
	case 0:
		return ""
	case 1:
		return "; the first was published"
	}
	return fmt.Sprintf("; the first %d were published", n)
}

// messages encodes evs, which go to one topic, into messages. When an
// event cannot be encoded, it returns the events of its message,
// evs[from:to], with the error.
func (p *Publisher) messages(evs []Envelope) (msgs []*message.Message, from, to int, err error) {
	msgs = make([]*message.Message, 0, len(evs))
	for start := 0; start < len(evs); {
		end := min(start+max(1, p.cfg.Batch), len(evs))
		var msg *message.Message
		if end-start == 1 {
			msg, err = NewMessage(p.cfg.Codec, evs[start])
		} else {
			msg, err = NewBatchMessage(p.cfg.Codec, evs[start:end])
		}
		if err != nil {
			return nil, start, end, err
		}
		msgs = append(msgs, msg)
		start = end
	}
	return msgs, 0, 0, nil
}
