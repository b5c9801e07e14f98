package events_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
)

func bridgeEvents(n int) []events.Envelope {
	issue := uuid.MustParse("0193a4c2-7a9e-7000-8000-000000000001")
	contactID := uuid.MustParse("0193a4c2-7a9e-7000-8000-0000000000c1")
	at := time.Date(2026, 3, 2, 9, 15, 0, 0, time.UTC)
	out := make([]events.Envelope, n)
	for i := range out {
		out[i] = events.Envelope{
			ID: uuid.NewSHA1(issue, []byte{byte(i)}), Issue: issue, Version: uint64(i + 1),
			At:   at.Add(time.Duration(i) * time.Minute),
			Data: &events.Contacted{Contact: contactID, Channel: "chat"},
			Meta: events.Meta{events.MetaPartitionKey: "cust-1", events.MetaCorrelationID: "corr-1"},
		}
	}
	out[0].Data = &events.Opened{Customer: events.Customer{ID: "cust-1"}, Channel: "chat", Topic: "billing", Contact: contactID}
	return out
}

func TestMessageRoundTrip(t *testing.T) {
	for _, codec := range []events.Codec{events.NewMsgpackCodec(nil), events.NewJSONCodec(nil)} {
		t.Run(codec.Name(), func(t *testing.T) {
			e := bridgeEvents(1)[0]
			msg, err := events.NewMessage(codec, e)
			require.NoError(t, err)

			assert.Equal(t, e.ID.String(), msg.UUID)
			assert.Equal(t, "issue.opened", msg.Metadata.Get(events.MetadataEventType))
			assert.Equal(t, e.Issue.String(), msg.Metadata.Get(events.MetadataIssue))
			assert.Equal(t, "1", msg.Metadata.Get(events.MetadataVersion))
			assert.Equal(t, codec.Name(), msg.Metadata.Get(events.MetadataCodec))
			assert.Equal(t, "cust-1", msg.Metadata.Get(events.MetadataPartitionKey))
			assert.Equal(t, "corr-1", msg.Metadata.Get(events.MetadataCorrelationID))

			got, err := events.DecodeMessage(msg, events.NewMsgpackCodec(nil), events.NewJSONCodec(nil))
			require.NoError(t, err)
			assert.Equal(t, e, got)
		})
	}
}

func TestDecodeMessageRefusesAnUnknownCodec(t *testing.T) {
	msg, err := events.NewMessage(events.NewJSONCodec(nil), bridgeEvents(1)[0])
	require.NoError(t, err)
	_, err = events.DecodeMessage(msg, events.NewMsgpackCodec(nil))
	require.ErrorIs(t, err, events.ErrMalformed)
	assert.Contains(t, err.Error(), `no codec named "json"`)
}

func TestPublisherSendsOneMessagePerEventInOrder(t *testing.T) {
	// GoChannel keeps order only when each publish waits for the ack.
	pubsub := gochannel.NewGoChannel(gochannel.Config{BlockPublishUntilSubscriberAck: true}, watermill.NopLogger{})
	defer pubsub.Close()
	topic := events.PartitionedTopic("issues", 4)
	evs := bridgeEvents(5)
	wantTopic := topic(evs[0])
	sub, err := pubsub.Subscribe(context.Background(), wantTopic)
	require.NoError(t, err)

	p, err := events.NewPublisher(events.PublisherConfig{Publisher: pubsub, Topic: topic})
	require.NoError(t, err)
	published := make(chan error, 1)
	go func() { published <- p.Publish(context.Background(), evs) }()

	for i := range evs {
		select {
		case msg := <-sub:
			got, err := events.DecodeMessage(msg)
			require.NoError(t, err)
			assert.Equal(t, evs[i].ID, got.ID)
			assert.Equal(t, evs[i].Version, got.Version)
			msg.Ack()
		case <-time.After(5 * time.Second):
			t.Fatalf("message %d did not arrive", i)
		}
	}
	require.NoError(t, <-published)
}

func TestPublisherConfigNeedsAPublisher(t *testing.T) {
	_, err := events.NewPublisher(events.PublisherConfig{})
	require.Error(t, err)
	var _ message.Publisher = (*gochannel.GoChannel)(nil)
}

func TestPublisherConfigRefusesANegativeBatch(t *testing.T) {
	_, err := events.NewPublisher(events.PublisherConfig{Publisher: &recorder{}, Batch: -1})
	require.ErrorContains(t, err, "batch of -1 events")
}

// recorder is a Watermill publisher that keeps what it is given.
type recorder struct {
	topics []string
	msgs   [][]*message.Message
}

func (r *recorder) Publish(topic string, msgs ...*message.Message) error {
	r.topics = append(r.topics, topic)
	r.msgs = append(r.msgs, msgs)
	return nil
}

func (r *recorder) Close() error { return nil }

// With Batch, consecutive events of one topic share a message, at most
// Batch of them, which carries their partition key when they share one; a
// message with one event is a plain one.
func TestPublisherBatchesEventsOfOneTopic(t *testing.T) {
	evs := bridgeEvents(9)
	for i := 4; i < 7; i++ {
		evs[i].Meta = events.Meta{events.MetaPartitionKey: "cust-2"}
	}
	topic := func(e events.Envelope) string {
		if e.Version == 9 {
			return "other"
		}
		return "contacts"
	}
	rec := &recorder{}
	p, err := events.NewPublisher(events.PublisherConfig{Publisher: rec, Topic: topic, Batch: 3})
	require.NoError(t, err)
	require.NoError(t, p.Publish(context.Background(), evs))

	require.Equal(t, []string{"contacts", "other"}, rec.topics)
	var sizes []int
	var keys []string
	var got []events.Envelope
	for _, call := range rec.msgs {
		for _, msg := range call {
			out, err := events.DecodeMessages(msg)
			require.NoError(t, err)
			sizes = append(sizes, len(out))
			got = append(got, out...)
			if len(out) == 1 {
				assert.Empty(t, msg.Metadata.Get(events.MetadataBatch), "a single event goes as a plain message")
			}
			keys = append(keys, msg.Metadata.Get(events.MetadataPartitionKey))
		}
	}
	// Versions 1-3, 4-6 (cust-1 and cust-2), 7-8 (cust-2, cust-1), and 9
	// to the other topic.
	assert.Equal(t, []int{3, 3, 2, 1}, sizes)
	assert.Equal(t, []string{"cust-1", "", "", "cust-1"}, keys)
	require.Len(t, got, len(evs))
	for i := range evs {
		assert.Equal(t, evs[i].ID, got[i].ID)
	}
}

func TestPartitionOfIsStableAndInRange(t *testing.T) {
	for _, key := range []string{"cust-1", "cust-2", "phone:+358401234567", ""} {
		p := events.PartitionOf(key, 8)
		assert.GreaterOrEqual(t, p, 0)
		assert.Less(t, p, 8)
		assert.Equal(t, p, events.PartitionOf(key, 8), "same key, same partition")
	}
	assert.Equal(t, 0, events.PartitionOf("anything", 1))
	// From 2³² partitions on, every hash is a partition of its own: the
	// count neither wraps to 0 (a division by zero) nor to 2.
	if strconv.IntSize < 64 {
		return // no int holds 2³²
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte("cust-1"))
	shift := 32 // a variable: a constant 1 << 32 overflows int on 32 bits
	for _, n := range []int{1 << shift, 1<<shift + 2} {
		assert.Equal(t, int(h.Sum32()), events.PartitionOf("cust-1", n), "n %d", n)
	}
}

// InPartition picks the events that PartitionedTopic sends to its topic,
// one partition each, and refuses a partition that is not one of n.
func TestInPartitionMatchesPartitionedTopic(t *testing.T) {
	const n = 4
	topic := events.PartitionedTopic("contacts", n)
	for i, e := range bridgeEvents(40) {
		e.Meta = events.Meta{events.MetaPartitionKey: fmt.Sprint("cust-", i%9)}
		in := 0
		for p := range n {
			if events.InPartition(p, n)(e) {
				in++
				assert.Equal(t, fmt.Sprint("contacts.", p), topic(e))
			}
		}
		assert.Equal(t, 1, in, "one partition each")
	}
	assert.True(t, events.InPartition(0, 1)(bridgeEvents(1)[0]))
	assert.True(t, events.InPartition(0, 0)(bridgeEvents(1)[0]))
	for _, bad := range [][2]int{{1, 1}, {-1, 4}, {4, 4}} {
		assert.PanicsWithValue(t, fmt.Sprintf("events.InPartition(%d, %d): no partition %d of %d", bad[0], bad[1], bad[0], max(bad[1], 1)),
			func() { events.InPartition(bad[0], bad[1]) })
	}
}

// A batch message carries its events in order and reads back as they
// were, with either codec; a plain message reads back as a batch of one.
func TestBatchMessageRoundTrip(t *testing.T) {
	for _, codec := range []events.Codec{events.NewMsgpackCodec(nil), events.NewJSONCodec(nil)} {
		t.Run(codec.Name(), func(t *testing.T) {
			evs := bridgeEvents(5)
			msg, err := events.NewBatchMessage(codec, evs)
			require.NoError(t, err)
			assert.Equal(t, "5", msg.Metadata.Get(events.MetadataBatch))
			assert.Equal(t, "cust-1", msg.Metadata.Get(events.MetadataPartitionKey))
			assert.Equal(t, evs[0].ID.String()+"+5", msg.UUID)
			got, err := events.DecodeMessages(msg, events.NewMsgpackCodec(nil), events.NewJSONCodec(nil))
			require.NoError(t, err)
			assert.Equal(t, evs, got)

			_, err = events.DecodeMessage(msg, codec)
			require.ErrorIs(t, err, events.ErrMalformed, "a batch is not one event")

			one, err := events.NewMessage(codec, evs[2])
			require.NoError(t, err)
			got, err = events.DecodeMessages(one, codec)
			require.NoError(t, err)
			assert.Equal(t, []events.Envelope{evs[2]}, got)
		})
	}
}

// Events of different partition keys make a batch without one; a broken
// batch is refused with what is wrong and where.
func TestBatchMessageKeysAndDamage(t *testing.T) {
	codec := events.NewMsgpackCodec(nil)
	evs := bridgeEvents(3)
	evs[2].Meta = events.Meta{events.MetaPartitionKey: "cust-2"}
	msg, err := events.NewBatchMessage(codec, evs)
	require.NoError(t, err)
	assert.Empty(t, msg.Metadata.Get(events.MetadataPartitionKey))

	_, err = events.NewBatchMessage(codec, nil)
	require.ErrorIs(t, err, events.ErrInvalidEvent)

	damaged := func(change func(*message.Message)) error {
		m := msg.Copy()
		change(m)
		_, err := events.DecodeMessages(m, codec)
		return err
	}
	for _, tt := range []struct {
		name   string
		change func(*message.Message)
		want   string
	}{
		{"count not a number", func(m *message.Message) { m.Metadata.Set(events.MetadataBatch, "x") }, `batch of "x" events`},
		{"count too high", func(m *message.Message) { m.Metadata.Set(events.MetadataBatch, "4") }, "event 4 of 4: truncated"},
		{"count too low", func(m *message.Message) { m.Metadata.Set(events.MetadataBatch, "2") }, "bytes after the 2 events"},
		{"cut short", func(m *message.Message) { m.Payload = m.Payload[:len(m.Payload)-3] }, "event 3 of 3"},
		{"unknown codec", func(m *message.Message) { m.Metadata.Set(events.MetadataCodec, "xml") }, `no codec named "xml"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := damaged(tt.change)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Contains(t, err.Error(), msg.UUID)
		})
	}
}

// The events of a batch that decode come back with the error that names
// the position of each one that does not.
func TestDecodeMessagesReturnsTheEventsOfABatchThatDecode(t *testing.T) {
	codec := events.NewMsgpackCodec(nil)
	first := envelopeOf(1, &events.Contacted{Contact: contactID, Channel: "chat"})
	last := envelopeOf(2, &events.Contacted{Contact: contactID, Channel: "phone"})
	var payload []byte
	for _, frame := range [][]byte{mustAppend(t, codec, first), []byte("bad"), mustAppend(t, codec, last)} {
		payload = binary.AppendUvarint(payload, uint64(len(frame)))
		payload = append(payload, frame...)
	}
	msg := message.NewMessage("m-1", payload)
	msg.Metadata.Set(events.MetadataBatch, "3")
	msg.Metadata.Set(events.MetadataCodec, codec.Name())
	evs, err := events.DecodeMessages(msg, codec)
	require.ErrorIs(t, err, events.ErrMalformed)
	assert.Contains(t, err.Error(), "event 2 of 3", "counted from 1")
	assert.NotContains(t, err.Error(), "event 1 of 3")
	assert.NotContains(t, err.Error(), "event 3 of 3")
	assert.Equal(t, []events.Envelope{first, last}, evs)
}

func mustAppend(t *testing.T, c events.Codec, e events.Envelope) []byte {
	t.Helper()
	b, err := c.Append(nil, e)
	require.NoError(t, err)
	return b
}

// A message carries the store position of its event, or the highest of a
// batch's, when every event has one; an event never stored gives none.
func TestMessagesCarryTheStorePosition(t *testing.T) {
	codec := events.NewMsgpackCodec(nil)
	evs := []events.Envelope{envelopeOf(0, &events.Classified{Topic: "a"}), envelopeOf(1, &events.Classified{Topic: "b"}), envelopeOf(2, &events.Classified{Topic: "c"})}
	msg, err := events.NewMessage(codec, evs[0])
	require.NoError(t, err)
	_, ok := events.MessagePosition(msg)
	assert.False(t, ok, "never stored")

	for i, p := range []uint64{7, 12, 9} {
		evs[i].Position = p
	}
	msg, err = events.NewMessage(codec, evs[1])
	require.NoError(t, err)
	p, ok := events.MessagePosition(msg)
	assert.True(t, ok)
	assert.Equal(t, uint64(12), p)
	decoded, err := events.DecodeMessage(msg)
	require.NoError(t, err)
	assert.Zero(t, decoded.Position, "the event read from a message was not read from a store")

	msg, err = events.NewBatchMessage(codec, evs)
	require.NoError(t, err)
	p, ok = events.MessagePosition(msg)
	assert.True(t, ok)
	assert.Equal(t, uint64(12), p, "the highest of the batch")
	evs[2].Position = 0
	msg, err = events.NewBatchMessage(codec, evs)
	require.NoError(t, err)
	_, ok = events.MessagePosition(msg)
	assert.False(t, ok, "an event of the batch was never stored")
}

// SplitUnknownTypes parts the events of unknown types of a batch from its
// other errors: each comes back as an Opaque of its type, as read.
func TestSplitUnknownTypes(t *testing.T) {
	reg := events.NewRegistry()
	require.NoError(t, reg.Register(typeEscalated, 1, func() events.Data { return new(Escalated) }))
	newer := events.NewMsgpackCodec(reg)
	first := envelopeOf(1, &events.Contacted{Contact: contactID, Channel: "chat"})
	esc := envelopeOf(2, &Escalated{Contact: "c-1", Level: 2})
	var payload []byte
	for _, frame := range [][]byte{mustAppend(t, newer, first), mustAppend(t, newer, esc), []byte("bad")} {
		payload = binary.AppendUvarint(payload, uint64(len(frame)))
		payload = append(payload, frame...)
	}
	msg := message.NewMessage("m-1", payload)
	msg.Metadata.Set(events.MetadataBatch, "3")
	msg.Metadata.Set(events.MetadataCodec, newer.Name())
	evs, err := events.DecodeMessages(msg, events.NewMsgpackCodec(nil))
	assert.Equal(t, []events.Envelope{first}, evs)
	unknown, rest := events.SplitUnknownTypes(err)
	require.Len(t, unknown, 1)
	want := esc
	want.Data = &events.Opaque{Type: typeEscalated}
	assert.Equal(t, want, unknown[0].Opaque())
	assert.ErrorIs(t, rest, events.ErrMalformed)
	assert.NotErrorIs(t, rest, events.ErrUnknownType)
	assert.Contains(t, rest.Error(), "event 3 of 3")

	unknown, rest = events.SplitUnknownTypes(fmt.Errorf("read: %w", unknown[0]))
	assert.Len(t, unknown, 1)
	assert.NoError(t, rest)
	// A join wrapped with words of its own: every unknown type is found,
	// and what is left keeps the words.
	u1, u2 := &events.UnknownTypeError{Type: "a.b"}, &events.UnknownTypeError{Type: "c.d"}
	malformed := fmt.Errorf("event 2: %w", events.ErrMalformed)
	unknown, rest = events.SplitUnknownTypes(fmt.Errorf("message m-1: %w", errors.Join(u1, malformed, u2)))
	assert.Equal(t, []*events.UnknownTypeError{u1, u2}, unknown)
	assert.ErrorIs(t, rest, events.ErrMalformed)
	assert.ErrorContains(t, rest, "message m-1")
	unknown, rest = events.SplitUnknownTypes(fmt.Errorf("message m-1: %w", errors.Join(u1, u2)))
	assert.Len(t, unknown, 2)
	assert.NoError(t, rest)
	unknown, rest = events.SplitUnknownTypes(fmt.Errorf("message m-1: %w; %w", u1, malformed))
	assert.Equal(t, []*events.UnknownTypeError{u1}, unknown)
	assert.ErrorContains(t, rest, "message m-1", "fmt's words of its own")
	assert.ErrorIs(t, rest, events.ErrMalformed)
	unknown, rest = events.SplitUnknownTypes(nil)
	assert.Empty(t, unknown)
	assert.NoError(t, rest)
}

// A batch of a newer producer's with many events of a type this reader
// does not know is read whole: such events are well formed, and do not
// count towards the errors after which a batch is not read on.
func TestDecodeMessagesReadsOnPastManyUnknownTypes(t *testing.T) {
	reg := events.NewRegistry()
	require.NoError(t, reg.Register(typeEscalated, 1, func() events.Data { return new(Escalated) }))
	newer := events.NewMsgpackCodec(reg)
	var evs []events.Envelope
	for i := range 12 {
		if i%6 == 0 {
			evs = append(evs, envelopeOf(i, &events.Contacted{Contact: contactID, Channel: "chat"}))
		} else {
			evs = append(evs, envelopeOf(i, &Escalated{Contact: "c-1", Level: i}))
		}
	}
	msg, err := events.NewBatchMessage(newer, evs)
	require.NoError(t, err)
	got, err := events.DecodeMessages(msg, events.NewMsgpackCodec(nil))
	assert.Equal(t, []events.Envelope{evs[0], evs[6]}, got)
	unknown, rest := events.SplitUnknownTypes(err)
	assert.Len(t, unknown, 10)
	assert.NoError(t, rest)
}

// refusing is a Watermill publisher that refuses every call on topic.
type refusing struct {
	recorder
	topic string
}

func (r *refusing) Publish(topic string, msgs ...*message.Message) error {
	if topic == r.topic {
		return errors.New("broker down")
	}
	return r.recorder.Publish(topic, msgs...)
}

// A Publish that fails part of the way says which events it could not
// send, of which issues, and how many it had sent: the host retries the
// rest. It named the first event's issue for events of several.
func TestPublisherFailureSaysWhatWasSent(t *testing.T) {
	evs := append(bridgeEvents(2), bridgeEvents(3)...)
	second := uuid.MustParse("0193a4c2-7a9e-7000-8000-000000000002")
	for i := 2; i < 5; i++ {
		evs[i].Issue = second
	}
	topic := func(e events.Envelope) string {
		if e.Issue == second && e.Version == 1 {
			return "first"
		}
		return "rest"
	}
	// Topics: rest (issue 1, v1-2), first (issue 2, v1), rest (issue 2, v2-3).
	p, err := events.NewPublisher(events.PublisherConfig{Publisher: &refusing{topic: "first"}, Topic: topic})
	require.NoError(t, err)
	err = p.Publish(context.Background(), evs)
	assert.EqualError(t, err, `publish event 3 of 5 (issue `+second.String()+` version 1) to "first": broker down; the first 2 were published`)

	evs[2], evs[0] = evs[0], evs[2] // issue 2 v1 first, then issue 1 v2, then issue 1 v1 on "first"
	p, err = events.NewPublisher(events.PublisherConfig{Publisher: &refusing{topic: "rest"}, Topic: topic})
	require.NoError(t, err)
	err = p.Publish(context.Background(), evs)
	assert.EqualError(t, err, `publish events 2 to 5 of 5 (2 issues, from issue 0193a4c2-7a9e-7000-8000-000000000001 version 2) to "rest": broker down; the first was published`)
}

// An event that cannot be encoded stops Publish with an error that names
// it (the events of its message) and says what was sent before, as a
// broker's refusal does, where it was the codec's error alone, though the
// events of earlier topics had gone out.
func TestPublisherEncodeFailureSaysWhatWasSent(t *testing.T) {
	evs := bridgeEvents(3)
	evs[2].Data = &events.Opaque{Type: "crm.note"} // not registered: cannot be encoded
	rec := &recorder{}
	p, err := events.NewPublisher(events.PublisherConfig{Publisher: rec,
		Topic: func(e events.Envelope) string { return fmt.Sprintf("t%d", e.Version) }})
	require.NoError(t, err)
	err = p.Publish(context.Background(), evs)
	require.ErrorIs(t, err, events.ErrInvalidEvent)
	assert.Len(t, rec.msgs, 2, "the events of the first two topics were published")
	assert.ErrorContains(t, err, "publish event 3 of 3 (issue "+evs[2].Issue.String()+" version 3): msgpack encode")
	assert.ErrorContains(t, err, "; the first 2 were published")

	evs = bridgeEvents(4)
	evs[3].Data = &events.Opaque{Type: "crm.note"}
	rec = &recorder{}
	p, err = events.NewPublisher(events.PublisherConfig{Publisher: rec, Batch: 2})
	require.NoError(t, err)
	err = p.Publish(context.Background(), evs)
	require.ErrorIs(t, err, events.ErrInvalidEvent)
	assert.Empty(t, rec.msgs, "one topic, one call: nothing was sent")
	assert.ErrorContains(t, err, "publish events 3 to 4 of 4 (issue "+evs[2].Issue.String()+", from version 3): batch message: event 2 of 2: msgpack encode")
	assert.NotContains(t, err.Error(), "were published")
}

// A message whose metadata names no codec is read with the only codec
// given (msgpack by default): when that fails, the error says so, which
// points at a producer that wrote another codec without saying it.
func TestAMessageThatNamesNoCodecSaysWhichWasUsed(t *testing.T) {
	single, err := events.NewMessage(events.NewJSONCodec(nil), bridgeEvents(1)[0])
	require.NoError(t, err)
	batch, err := events.NewBatchMessage(events.NewJSONCodec(nil), bridgeEvents(2))
	require.NoError(t, err)
	for _, msg := range []*message.Message{single, batch} {
		msg.Metadata.Set(events.MetadataCodec, "")
		_, err := events.DecodeMessages(msg)
		require.ErrorIs(t, err, events.ErrMalformed)
		assert.ErrorContains(t, err, "message "+msg.UUID+" (its metadata names no codec: read as msgpack)")
	}
	// A message that names its codec says nothing of it.
	named, err := events.NewMessage(events.NewMsgpackCodec(nil), bridgeEvents(1)[0])
	require.NoError(t, err)
	named.Payload = named.Payload[:10]
	_, err = events.DecodeMessages(named)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "names no codec")
}
