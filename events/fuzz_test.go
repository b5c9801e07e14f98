package events_test

import (
	"testing"

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
	require.NoError(t, reg.AddUpcaster(events.TypeClassified, 1, func(f map[string]any) (map[string]any, error) { return f, nil }))
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
// encode, and the encoding to decode to the same event.
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
	f.Fuzz(func(t *testing.T, input []byte) { checkFuzzed(t, c, input) })
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
	f.Fuzz(func(t *testing.T, input []byte) { checkFuzzed(t, c, input) })
}
