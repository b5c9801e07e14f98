package msgpackcheck

import (
	"bytes"
	"math"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"
)

// Every kind of value that msgpack writes passes, and Skip ends just
// after it.
func TestCheckPassesWhatMsgpackWrites(t *testing.T) {
	type rec struct {
		A int
		B string
		C []byte
		D map[string]any
		E []float64
		F *rec
	}
	values := []any{
		nil, true, false, 0, -1, 127, -32, 200, -200, 70000, -70000, int64(math.MaxInt64), int64(math.MinInt64),
		uint64(math.MaxUint64), float32(1.5), 2.5, "", "short", strings.Repeat("x", 40), strings.Repeat("y", 300),
		strings.Repeat("z", 70000), []byte{}, []byte("bin"), bytes.Repeat([]byte{1}, 300), bytes.Repeat([]byte{2}, 70000),
		[]int{}, make([]int, 20), make([]int, 70000), map[string]int{}, map[string]int{"a": 1},
		rec{A: 1, B: "b", C: []byte("c"), D: map[string]any{"k": []any{1, "v", nil}}, E: []float64{1, 2}, F: &rec{A: 2}},
	}
	for _, v := range values {
		b, err := msgpack.Marshal(v)
		require.NoError(t, err)
		require.NoError(t, Check(b), "%T %.40v", v, v)
		end, err := Skip(string(append(b, 0xc0)), 0)
		require.NoError(t, err)
		assert.Equal(t, len(b), end, "%T %.40v", v, v)
	}
	// Extensions, which the values above do not write.
	for _, b := range [][]byte{
		{0xd4, 1, 0}, {0xd5, 1, 0, 0}, {0xd6, 1, 0, 0, 0, 0}, {0xd7, 1, 0, 0, 0, 0, 0, 0, 0, 0},
		append([]byte{0xd8, 1}, make([]byte, 16)...), {0xc7, 2, 1, 0, 0}, {0xc8, 0, 1, 1, 0}, {0xc9, 0, 0, 0, 1, 1, 0},
	} {
		assert.NoError(t, Check(b), "% x", b)
	}
}

func TestCheckRefuses(t *testing.T) {
	deep := append(bytes.Repeat([]byte{0x91}, MaxDepth+1), 0xc0)
	tests := []struct {
		name string
		b    []byte
		want string
	}{
		{"nothing", nil, ErrShort.Error()},
		{"array of 2³²−1", []byte{0xdd, 0xff, 0xff, 0xff, 0xff, 1, 2}, ErrTooLarge.Error()},
		{"map of 2¹⁶−1", []byte{0xde, 0xff, 0xff, 1, 2}, ErrTooLarge.Error()},
		{"fixarray of 3 with 2", []byte{0x93, 1, 2}, ErrTooLarge.Error()},
		{"fixarray of 2 with 1", []byte{0x92, 0xcd, 1, 2}, ErrShort.Error()},
		{"string past the end", []byte{0xdb, 0, 1, 0, 0, 'a'}, ErrShort.Error()},
		{"binary past the end", []byte{0xc4, 5, 'a'}, ErrShort.Error()},
		{"extension past the end", []byte{0xc9, 0xff, 0xff, 0xff, 0xff, 1}, ErrShort.Error()},
		{"truncated int", []byte{0xcf, 1, 2}, ErrShort.Error()},
		{"too deep", deep, ErrTooDeep.Error()},
		{"never used code", []byte{0xc1}, "invalid msgpack code 0xc1"},
		{"two values", []byte{1, 2}, "1 bytes after the value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check(tt.b)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			var v any
			assert.Error(t, Unmarshal(tt.b, &v))
		})
	}
	// As deep as allowed passes.
	require.NoError(t, Check(deep[1:]))

	// Skip says where reading stopped: after the first element, with no
	// byte left for the second.
	end, err := Skip([]byte{0x92, 0xcd, 1, 2}, 0)
	require.ErrorIs(t, err, ErrShort)
	assert.Equal(t, 4, end)
}

// SmallInts passes data whose integers are all from 0 to 127, at any
// depth, and no other: an integer of any other size or sign, anywhere,
// or malformed input.
func TestSmallIntsPassesOnlyIntegersFrom0To127(t *testing.T) {
	small := []any{
		nil, 0, 127, "text", 2.5, float32(-1.5), []byte("bin"), []any{1, 2, 3},
		map[string]any{"a": 1, "b": map[string]any{"c": []any{127, "x", 3.5}}},
	}
	for _, v := range small {
		b, err := msgpack.Marshal(v)
		require.NoError(t, err)
		assert.True(t, SmallInts(b), "%v", v)
	}
	for _, n := range []any{128, -1, -32, 255, 256, -129, 70000, int64(math.MinInt64), uint64(math.MaxUint64)} {
		for _, v := range []any{n, []any{1, n}, map[string]any{"a": map[string]any{"b": []any{"x", n}}}} {
			enc := msgpack.GetEncoder()
			var buf bytes.Buffer
			enc.Reset(&buf)
			enc.UseCompactInts(true)
			require.NoError(t, enc.Encode(v))
			msgpack.PutEncoder(enc)
			assert.False(t, SmallInts(buf.Bytes()), "%v", v)
		}
	}
	assert.False(t, SmallInts([]byte{0x92, 1}), "short input")
	assert.False(t, SmallInts([]byte{1, 2}), "bytes after the value")
}

// MapHeadsInExts finds an extension whose header is followed by a map's
// head or nil, at any depth and of any size, the header of one of no
// data included (which a map after it follows), and no other: one whose
// data starts otherwise, or malformed input.
func TestMapHeadsInExtsFindsExtensionsFollowedByAMapsHead(t *testing.T) {
	ext := func(data ...byte) [][]byte {
		n := len(data)
		var out [][]byte
		if fix := map[int]byte{1: 0xd4, 2: 0xd5, 4: 0xd6, 8: 0xd7, 16: 0xd8}[n]; fix != 0 {
			out = append(out, append([]byte{fix, 0x30}, data...))
		}
		out = append(out, append([]byte{0xc7, byte(n), 0x30}, data...))
		out = append(out, append([]byte{0xc8, 0, byte(n), 0x30}, data...))
		return append(out, append([]byte{0xc9, 0, 0, 0, byte(n), 0x30}, data...))
	}
	in := func(v []byte) [][]byte {
		return [][]byte{v, append([]byte{0x92, 0x01}, v...), append([]byte{0x81, 0xa1, 'a', 0x91}, v...)}
	}
	for _, head := range []byte{0x80, 0x8f, 0xde, 0xdf, 0xc0} {
		for _, e := range ext(head, 0, 0, 0) {
			for _, b := range in(e) {
				require.NoError(t, Check(b), "% x", b)
				assert.True(t, MapHeadsInExts(b), "% x", b)
			}
		}
	}
	// An extension of no data, followed by a map.
	assert.True(t, MapHeadsInExts([]byte{0x92, 0xc7, 0x00, 0x30, 0x80}))
	for _, head := range []byte{0x00, 0x7f, 0x90, 0xa0, 0xc2, 0xcc, 0xd4, 0xdc, 0xdd, 0xe0, 0xff} {
		for _, e := range ext(head, 0, 0, 0) {
			for _, b := range in(e) {
				assert.False(t, MapHeadsInExts(b), "% x", b)
			}
		}
	}
	// A map's head in an extension's data past its first byte, a map
	// beside an extension, and malformed input.
	assert.False(t, MapHeadsInExts([]byte{0x92, 0xd5, 0x30, 0x01, 0x80, 0x80}))
	assert.False(t, MapHeadsInExts([]byte{0xd8, 0x30, 0x80}), "short input")
	assert.False(t, MapHeadsInExts([]byte{0xd4, 0x30, 0x80, 0x01}), "bytes after the value")
}

// Unmarshal refuses an extension that the decoder would read as a map of
// four billion entries, where it made one of a million (some 56 MB) and
// then read on through bytes that Check did not walk.
func TestUnmarshalRefusesAMapInAnExtension(t *testing.T) {
	b := []byte("\x81\xa1M\xd8\x30\xdf\xff\xff\xff\xff\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00")
	require.NoError(t, Check(b))
	var v struct{ M map[string]int64 }
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err := Unmarshal(b, &v)
	runtime.ReadMemStats(&after)
	assert.ErrorIs(t, err, ErrExtMap)
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(8<<20), "bytes allocated")

	var ok struct{ M map[string]int64 }
	require.NoError(t, Unmarshal([]byte("\x81\xa1M\x81\xa1a\x01"), &ok))
	assert.Equal(t, map[string]int64{"a": 1}, ok.M)
}
