package events_test

import (
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/truefcr/truefcr/events"
)

type timedInner struct {
	At time.Time `json:"at"`
}

type timedHost struct {
	T    time.Time               `json:"t"`
	P    *time.Time              `json:"p"`
	L    []time.Time             `json:"l"`
	A    [2]time.Time            `json:"a"`
	M    map[string]time.Time    `json:"m"`
	K    map[time.Time]int       `json:"k"`
	In   timedInner              `json:"in"`
	Deep map[string][]timedInner `json:"deep"`
	Zero time.Time               `json:"zero"`
}

func (*timedHost) EventType() events.Type { return "timed.host" }

// A host's times read back in UTC in both codecs, where the msgpack
// decoder read them in the machine's Local zone: an event with UTC times
// reads back equal to the value written.
func TestHostTimesReadInUTC(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 15, 0, 123456789, time.UTC)
	later := at.Add(time.Hour)
	d := &timedHost{T: at, P: &later, L: []time.Time{at, later}, A: [2]time.Time{later, at},
		M: map[string]time.Time{"a": at}, K: map[time.Time]int{at: 1, later: 2}, In: timedInner{at},
		Deep: map[string][]timedInner{"x": {{at}, {later}}}}
	roundTrips(t, d)
}

type timedAny struct {
	V any `json:"v"`
}

func (*timedAny) EventType() events.Type { return "timed.any" }

// What the msgpack decoder reads into the constructor's pointer in an
// interface field is in UTC too.
func TestHostTimeBehindAnInterfaceReadsInUTC(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 15, 0, 0, time.UTC)
	agree(t, func() events.Data { return &timedAny{V: &timedInner{}} }, &timedAny{V: &timedInner{at}})
}

// localStamp reads itself, and keeps its time in the Local zone.
type localStamp struct {
	At time.Time
}

func (s localStamp) MarshalMsgpack() ([]byte, error) { return msgpack.Marshal(s.At.UnixNano()) }
func (s *localStamp) UnmarshalMsgpack(b []byte) error {
	var ns int64
	err := msgpack.Unmarshal(b, &ns)
	s.At = time.Unix(0, ns)
	return err
}

type localHost struct {
	S localStamp `json:"s"`
	T time.Time  `json:"t"`
}

func (*localHost) EventType() events.Type { return "local.host" }

// What a type that reads itself sets stays as it set it.
func TestHostTimesOfATypeThatReadsItselfStay(t *testing.T) {
	reg := events.NewRegistry()
	require.NoError(t, reg.Register("local.host", 1, func() events.Data { return new(localHost) }))
	at := time.Date(2026, 3, 2, 9, 15, 0, 0, time.UTC)
	m := events.NewMsgpackCodec(reg)
	b, err := m.Append(nil, hostEvent(&localHost{S: localStamp{at}, T: at}))
	require.NoError(t, err)
	got, err := m.Decode(b)
	require.NoError(t, err)
	h := got.Data.(*localHost)
	assert.Equal(t, time.Local, h.S.At.Location(), "as its reader set it")
	assert.True(t, h.S.At.Equal(at))
	assert.Equal(t, at, h.T)
}

// nanKey is a float key, which may be a NaN: an entry no lookup finds.
type nanKey float64

func (k nanKey) MarshalText() ([]byte, error) {
	return strconv.AppendFloat(nil, float64(k), 'g', -1, 64), nil
}
func (k *nanKey) UnmarshalText(b []byte) error {
	f, err := strconv.ParseFloat(string(b), 64)
	*k = nanKey(f)
	return err
}

type nanHost struct {
	M map[nanKey]time.Time `json:"m"`
}

func (*nanHost) EventType() events.Type { return "nan.host" }

// span's first field has its address: a pointer to it is not a pointer to
// the span.
type span struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

type aliasHost struct {
	Start *time.Time `json:"start"`
	Span  *span      `json:"span"`
}

func (*aliasHost) EventType() events.Type { return "alias.host" }

func TestHostTimesReadInUTCWhereTheyHide(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 15, 0, 0, time.UTC)
	reg := events.NewRegistry()
	require.NoError(t, reg.Register("nan.host", 1, func() events.Data { return new(nanHost) }))
	for _, c := range []events.Codec{events.NewMsgpackCodec(reg), events.NewJSONCodec(reg)} {
		b, err := c.Append(nil, hostEvent(&nanHost{M: map[nanKey]time.Time{nanKey(math.NaN()): at, 1: at}}))
		require.NoError(t, err, "%T", c)
		got, err := c.Decode(b)
		require.NoError(t, err, "%T", c)
		m := got.Data.(*nanHost).M
		assert.Len(t, m, 2, "%T", c)
		assert.Equal(t, at, m[1], "%T", c)
	}
	later := at.Add(time.Hour)
	agree(t, func() events.Data {
		s := &span{}
		return &aliasHost{Start: &s.From, Span: s}
	}, &aliasHost{Start: &at, Span: &span{at, later}})
}

// Times the decoder does not read (skipped by their tags, or held where
// nothing can set them) stay as the constructor set them, in both codecs.
type window [2]time.Time

type stamper interface{ Stamp() time.Time }

type stampAt struct{ At time.Time }

func (s *stampAt) Stamp() time.Time { return s.At }

type skippedTimes struct {
	N       int       `json:"n"`
	Seen    time.Time `json:"-"`
	window  `json:"-"`
	stamper `json:"-"`
}

func (*skippedTimes) EventType() events.Type { return "skipped.times" }

func TestHostTimesTheDecoderSkipsStay(t *testing.T) {
	local := time.Unix(1700000000, 0)
	newData := func() events.Data {
		return &skippedTimes{Seen: local, window: window{local, local}, stamper: &stampAt{local}}
	}
	reg := events.NewRegistry()
	require.NoError(t, reg.Register("skipped.times", 1, newData))
	for _, c := range []events.Codec{events.NewMsgpackCodec(reg), events.NewJSONCodec(reg)} {
		b, err := c.Append(nil, hostEvent(&skippedTimes{N: 3}))
		require.NoError(t, err, "%T", c)
		got, err := c.Decode(b)
		require.NoError(t, err, "%T", c)
		want := newData().(*skippedTimes)
		want.N = 3
		assert.Equal(t, want, got.Data, "%T", c)
	}
}
