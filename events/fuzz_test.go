package events_test

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
)

// fuzzRegistry knows the built-in types, a host type, and a built-in type
// at schema 2 with an upcaster, so that fuzzing reaches every decode path.
func fuzzRegistry(t testing.TB) *events.Registry {
	reg := events.NewRegistry()
	require.NoError(t, reg.Register(typeEscalated, 1, func() events.Data { return new(Escalated) }))
	require.NoError(t, reg.Register(events.TypeClassified, 2, func() events.Data { return new(events.Classified) }))
	require.NoError(t, reg.AddUpcaster(events.TypeClassified, 1, identityUpcast))
	return reg
}

// fuzzSeeds returns encodings of every sample event in c, written with
// the default registry (Classified at schema 1) and with reg.
func fuzzSeeds(t testing.TB, reg *events.Registry, c events.Codec) [][]byte {
	seeds := sampleEncodings(t, c)
	host, err := c.Append(nil, envelopeOf(0, &Escalated{Contact: "c-1", Level: 2, Tags: []string{"a"}, Notes: map[string]string{"k": "v"}}))
	require.NoError(t, err)
	classified, err := c.Append(nil, envelopeOf(3, &events.Classified{Topic: "a/b", Topics: []string{"c"}}))
	require.NoError(t, err)
	return append(seeds, host, classified)
}

// checkFuzzed decodes input and, if that succeeds, requires the event to
// encode, and the encoding to decode to the same event. A host type's
// empty list or map under omitempty is not written, and reads back as
// none: the event is compared with its data so.
func checkFuzzed(t *testing.T, c events.Codec, input []byte) {
	e, err := c.Decode(input)
	if err != nil {
		var de *events.DecodeError
		require.ErrorAs(t, err, &de)
		return
	}
	b, err := c.Append(nil, e)
	require.NoError(t, err, "a decoded event encodes")
	again, err := c.Decode(b)
	require.NoError(t, err, "an encoded event decodes")
	if d, host := e.Data.(*Escalated); host {
		back := *d
		if len(back.Tags) == 0 {
			back.Tags = nil
		}
		if len(back.Notes) == 0 {
			back.Notes = nil
		}
		e.Data = &back
	}
	assert.Equal(t, e, again)
}

func FuzzMsgpackDecode(f *testing.F) {
	reg := fuzzRegistry(f)
	c := events.NewMsgpackCodec(reg)
	for _, s := range fuzzSeeds(f, reg, events.NewMsgpackCodec(reg)) {
		f.Add(s)
	}
	for _, s := range sampleEncodings(f, events.NewMsgpackCodec(nil)) {
		f.Add(s) // Classified at schema 1 is upcast
	}
	// Numbers in the Extra of an upcast event.
	upcast, err := events.NewMsgpackCodec(nil).Append(nil, envelopeOf(3, &events.Classified{Topic: "a/b",
		Extra: events.Extra{"min": float64(math.MinInt64), "half": 0.5, "big": 1e20}}))
	require.NoError(f, err)
	f.Add(upcast)
	f.Fuzz(func(t *testing.T, input []byte) {
		checkFuzzed(t, c, input)
		checkSharesNoBytes(t, c, input)
	})
}

func FuzzJSONDecode(f *testing.F) {
	reg := fuzzRegistry(f)
	c := events.NewJSONCodec(reg)
	for _, s := range fuzzSeeds(f, reg, c) {
		f.Add(s)
	}
	for _, s := range sampleEncodings(f, events.NewJSONCodec(nil)) {
		f.Add(s)
	}
	f.Add([]byte(domainExample))
	f.Add([]byte(` {"id":"0193a4c2-7a9e-7c61-9d41-1a2b3c4d5e6f","issue":"0193a4c2-7a9e-7000-8000-000000000001","version":2,"type":"issue.rated","schema":1,"at":"2026-03-02T11:15:00+02:00","data":{"survey":"csat","score":5,"x":[1,{"y":null}]}} `))
	f.Fuzz(func(t *testing.T, input []byte) {
		checkFuzzed(t, c, input)
		checkSharesNoBytes(t, c, input)
	})
}

// checkSharesNoBytes checks that c reads input in place at most: nothing
// that Decode returns, event or error, shares the caller's bytes, which
// may change next (a LineReader's buffer, a message's payload).
func checkSharesNoBytes(t *testing.T, c events.Codec, input []byte) {
	own := bytes.Clone(input)
	e, err := c.Decode(own)
	for i := range own {
		own[i] ^= 0xff
	}
	want, wantErr := c.Decode(input)
	assert.Equal(t, want, e)
	if wantErr != nil || err != nil {
		require.Error(t, err)
		require.Error(t, wantErr)
		assert.Equal(t, wantErr.Error(), err.Error())
	}
}

// A batch message decodes to its events or to an error that names the
// message, whatever its payload and count.
func FuzzDecodeMessages(f *testing.F) {
	codec := events.NewMsgpackCodec(nil)
	good, err := events.NewBatchMessage(codec, bridgeEvents(3))
	require.NoError(f, err)
	f.Add([]byte(good.Payload), "3")
	f.Add([]byte(good.Payload), "2")
	f.Add([]byte{0x05, 0x01}, "1")
	f.Add([]byte{}, "9223372036854775807")
	f.Fuzz(func(t *testing.T, payload []byte, count string) {
		msg := message.NewMessage("m-1", payload)
		msg.Metadata.Set(events.MetadataBatch, count)
		msg.Metadata.Set(events.MetadataCodec, codec.Name())
		evs, err := events.DecodeMessages(msg, codec)
		if err != nil {
			assert.Contains(t, err.Error(), "message m-1")
			return
		}
		n, err := strconv.Atoi(count)
		require.NoError(t, err, "a batch decoded with count %q", count)
		assert.Equal(t, n, len(evs))
	})
}

// One input gives one error: of the members of an Extra map that cannot
// be read, the error names that of the first name in sort order, not the
// first that the map's walk came to.
func TestMsgpackDecodeErrorIsTheSameEveryTime(t *testing.T) {
	// Found by FuzzMsgpackDecode: an issue.resolved whose Extra "crm" map
	// has both a member name and a member value that are not UTF-8.
	in := "\x99\x01\xc4\x10\x01\x93\xa4\xc2z\x9e|a\x9dA\x1a+<M^o\xc4\x10\x01\x93\xa4\xc2z\x9ep\x00\x80\x00\x00\x00\x00\x00\x00\x01\b\xaeissue.resolved\x01\xcf\x18\x99\x12X\x9b\x91\xf5\x15\xc0\x8d\xa7contact\xc4\x10\x01\x93\xa4\xc2z\x9ep\x00\x80\x00\x00\x00\x00\x00\x00\xc1\xa5agent\xa5bot-1\xa3botäcode\xa6refund\xa9handle_ms\xce\x00\x04\x93\xe0\xa3crm\x83\xa4case\xa7CS-10\xff\xff\xa5score\x90\xbf\xf8\x00\x00\x00\x00\x00\x00\xa4tags\x91\xa1a\xa6labels\x93\xa6urgent\xd3\x00\xa7contact\x00\x00\x00\x00\x00\x00\x03¤note\xaccalled twice\xa7nothing\xc0\xa8priorit\x00\x00\x00\x10\x00\x00\x00\x00\x00\x02\xa5ratio\xcb?\xd0\x00\x00\x00\x00\x00\x00\xa5tweet\xd3\x10\x00\x00\x00\x00\x00\x00\x01\xa3vip\xc3"
	requireOneError(t, events.NewMsgpackCodec(fuzzRegistry(t)), in)
}

// requireOneError decodes in with c fifty times, and requires that it is
// refused with one error every time.
func requireOneError(t *testing.T, c events.Codec, in string) {
	t.Helper()
	msgs := map[string]int{}
	for range 50 {
		_, err := c.Decode([]byte(in))
		require.Error(t, err)
		msgs[err.Error()]++
	}
	require.Len(t, msgs, 1, "one error for one input: %v", msgs)
}

// The JSON codec too names the first of several Extra members that cannot
// be read by name, not the first its walk of a map came to.
func TestJSONDecodeErrorIsTheSameEveryTime(t *testing.T) {
	deep := strings.Repeat("[", 80) + strings.Repeat("]", 80)
	in := `{"id":"0193a4c2-7a9e-7c61-9d41-1a2b3c4d5e6f","issue":"0193a4c2-7a9e-7000-8000-000000000001","version":2,"type":"issue.resolved","at":"2026-03-02T09:15:00Z","data":{"contact":"0193a4c2-7a9e-7000-8000-0000000000c1","a":` + deep + `,"b":` + deep + `,"c":` + deep + `}}`
	requireOneError(t, events.NewJSONCodec(nil), in)
}
