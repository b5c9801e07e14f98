package events_test

import (
	"encoding/json"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
)

// identityUpcast returns the fields it is given.
func identityUpcast(f map[string]any) (map[string]any, error) { return f, nil }

// contactedV2 is a registry whose issue.contacted is at schema 2, read from
// schema 1 through identityUpcast.
func contactedV2(t *testing.T) *events.Registry {
	reg := events.NewRegistry()
	require.NoError(t, reg.Register(events.TypeContacted, 2, func() events.Data { return new(events.Contacted) }))
	require.NoError(t, reg.AddUpcaster(events.TypeContacted, 1, identityUpcast))
	return reg
}

// hostV2 returns two registries of a host's type typ: at schema 1, and at
// schema 2 read from schema 1 through identityUpcast.
func hostV2(t *testing.T, typ events.Type, newData func() events.Data) (v1, v2 *events.Registry) {
	t.Helper()
	v1, v2 = events.NewRegistry(), events.NewRegistry()
	require.NoError(t, v1.Register(typ, 1, newData))
	require.NoError(t, v2.Register(typ, 2, newData))
	require.NoError(t, v2.AddUpcaster(typ, 1, identityUpcast))
	return v1, v2
}

// throughUpcast writes e with each codec over registry old (nil: the
// default one) and reads it back with that codec, and with one over
// registry up, whose upcasters it goes through; fn gets the codec's name,
// the event as read without the upcasters and through them.
func throughUpcast(t *testing.T, old, up *events.Registry, e events.Envelope, fn func(codec string, plain, got events.Envelope)) {
	t.Helper()
	for _, cs := range [][2]events.Codec{
		{events.NewJSONCodec(old), events.NewJSONCodec(up)},
		{events.NewMsgpackCodec(old), events.NewMsgpackCodec(up)},
	} {
		b, err := cs[0].Append(nil, e)
		require.NoError(t, err, cs[0].Name())
		plain, err := cs[0].Decode(b)
		require.NoError(t, err, cs[0].Name())
		got, err := cs[1].Decode(b)
		require.NoError(t, err, cs[1].Name())
		fn(cs[1].Name(), plain, got)
	}
}

// mpContactedWith is the msgpack of an issue.contacted at schema 1 whose
// Extra "x" is the msgpack value v, as another writer may write it.
func mpContactedWith(t *testing.T, v []byte) []byte {
	b, err := events.NewMsgpackCodec(nil).Append(nil, envelopeOf(1, &events.Contacted{Contact: contactID, Channel: "chat", Extra: events.Extra{"x": "AAAA"}}))
	require.NoError(t, err)
	return append(b[:len(b)-len("\xa4AAAA"):len(b)-len("\xa4AAAA")], v...)
}

// An upcaster that returns its fields as they are leaves an event as the
// codec reads it without one, whatever another writer put in its Extra:
// a whole float above 2^53, a map with a nil key.
func TestAnIdentityUpcastReadsMsgpackAsThePlainReader(t *testing.T) {
	for name, v := range map[string][]byte{
		"float64 2^60":    {0xcb, 0x43, 0xb0, 0, 0, 0, 0, 0, 0},
		"float32 2^60":    {0xca, 0x5d, 0x80, 0, 0},
		"float64":         {0xcb, 0x43, 0x61, 0x31, 0x30, 0x30, 0x30, 0x30, 0x30},
		"a nil key":       {0x81, 0xc0, 0x30},
		"nested nil key":  {0x91, 0x81, 0xc0, 0x30},
		"an integer 2^60": {0xcf, 0x10, 0, 0, 0, 0, 0, 0, 0},
	} {
		raw := mpContactedWith(t, v)
		plain, err := events.NewMsgpackCodec(nil).Decode(raw)
		require.NoError(t, err, name)
		up, err := events.NewMsgpackCodec(contactedV2(t)).Decode(raw)
		require.NoError(t, err, name)
		assert.Equal(t, plain.Data.(*events.Contacted).Extra, up.Data.(*events.Contacted).Extra, name)
	}
}

// bigHost is a host's type with numbers of every kind.
type bigHost struct {
	I int64       `json:"i"`
	U uint64      `json:"u"`
	F float64     `json:"f"`
	B *big.Int    `json:"b"`
	N json.Number `json:"n"`
}

func (bigHost) EventType() events.Type { return "acme.big" }

// A number beyond a float64's range, which JSON reads without an
// upcaster, is read through one too, a host's and a built-in type's.
func TestAnIdentityUpcastReadsJSONNumbersBeyondAFloat64(t *testing.T) {
	v1, v2 := hostV2(t, "acme.big", func() events.Data { return new(bigHost) })
	huge, ok := new(big.Int).SetString("1"+strings.Repeat("0", 400), 10)
	require.True(t, ok)
	e := events.Envelope{ID: uuid.New(), Issue: uuid.New(), Version: 1, At: time.Date(2026, 3, 2, 9, 15, 0, 0, time.UTC),
		Data: &bigHost{I: -1 << 62, U: 1<<64 - 1, F: 0.1, B: huge, N: "1e400"}}
	throughUpcast(t, v1, v2, e, func(codec string, plain, got events.Envelope) {
		assert.Equal(t, plain.Data, got.Data, codec)
	})

	line := []byte(`{"id":"0193a4c2-7a9e-7c61-9d41-1a2b3c4d5e6f","issue":"0193a4c2-7a9e-7000-8000-000000000001",` +
		`"version":2,"type":"issue.contacted","at":"2026-03-02T09:15:00Z",` +
		`"data":{"contact":"0193a4c2-7a9e-7000-8000-0000000000c1","channel":"chat","x":1` + strings.Repeat("0", 400) + `}}`)
	plain, err := events.NewJSONCodec(nil).Decode(line)
	require.NoError(t, err)
	up, err := events.NewJSONCodec(contactedV2(t)).Decode(line)
	require.NoError(t, err)
	assert.Equal(t, plain.Data, up.Data)
}

// nilKeyHost is a host's type with a map whose keys are of any type.
type nilKeyHost struct {
	A map[any]any `json:"a"`
}

func (nilKeyHost) EventType() events.Type { return "acme.nilkey" }

// A host's map with a nil key among others comes through an upcaster
// that returns its fields as they are as msgpack reads it without one:
// its nil key stays nil, and apart from "".
func TestAnIdentityUpcastKeepsAHostsNilKey(t *testing.T) {
	v1, v2 := hostV2(t, "acme.nilkey", func() events.Data { return new(nilKeyHost) })
	for _, m := range []map[any]any{{nil: int64(1)}, {nil: int64(2), "": int64(1)}, {nil: int64(2), int64(7): int64(1)}} {
		e := events.Envelope{ID: uuid.New(), Issue: uuid.New(), Version: 1, At: time.Date(2026, 3, 2, 9, 15, 0, 0, time.UTC),
			Data: &nilKeyHost{A: m}}
		b, err := events.NewMsgpackCodec(v1).Append(nil, e)
		require.NoError(t, err)
		plain, err := events.NewMsgpackCodec(v1).Decode(b)
		require.NoError(t, err)
		got, err := events.NewMsgpackCodec(v2).Decode(b)
		require.NoError(t, err, "%v", m)
		assert.Equal(t, plain.Data, got.Data, "%v", m)
		assert.Len(t, got.Data.(*nilKeyHost).A, len(m), "%v", m)
	}
}
