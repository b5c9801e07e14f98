// Package msgpackcheck checks msgpack input before a reflecting decoder
// reads it. The decoder of github.com/vmihailenco/msgpack/v5 (v5.4.1)
// allocates a slice of structs at the length that the input declares,
// however few bytes follow: a few corrupted bytes of a snapshot can ask
// for hundreds of gigabytes and end the process. Input that Check passes
// declares no array, map, string or binary longer than the bytes that
// remain, nests no deeper than MaxDepth, and holds exactly one value.
package msgpackcheck

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/vmihailenco/msgpack/v5"
)

// MaxDepth is how deeply arrays and maps may nest below the top value.
const MaxDepth = 64

// Errors of malformed input.
var (
	ErrShort    = errors.New("unexpected end of input")
	ErrTooDeep  = errors.New("nesting too deep")
	ErrTooLarge = errors.New("length exceeds input")
)

// Check reports whether b holds exactly one well-formed msgpack value.
func Check(b []byte) error { return whole(walker[[]byte]{s: b}, 0) }

// whole walks w's input from its start, its top value at depth, and
// reports what is wrong with it, bytes after the value included.
func whole(w walker[[]byte], depth int) error {
	w.value(depth)
	switch {
	case w.err != nil:
		return w.err
	case w.off != len(w.s):
		return fmt.Errorf("%d bytes after the value", len(w.s)-w.off)
	}
	return nil
}

// ErrExtMap: an extension whose header a map's head or nil follows
// (Unmarshal).
var ErrExtMap = errors.New("an extension is followed by a map's head")

// Unmarshal decodes b into v with msgpack.Unmarshal once Check passed it,
// and MapHeadsInExts found nothing: where v has a map, the decoder would
// read such an extension as a map, through bytes that Check did not walk.
// It is for values that hold no extension (snapshots of this module's
// own types).
func Unmarshal(b []byte, v any) error {
	if err := Check(b); err != nil {
		return fmt.Errorf("msgpack: %w", err)
	}
	if MapHeadsInExts(b) {
		return fmt.Errorf("msgpack: %w", ErrExtMap)
	}
	return msgpack.Unmarshal(b, v)
}

// Skip passes over the value that starts at s[off] and returns the offset
// just after it, or, with the error of a malformed value, where reading
// stopped.
func Skip[T ~string | ~[]byte](s T, off int) (int, error) {
	w := walker[T]{s: s, off: off}
	w.value(0)
	return w.off, w.err
}

// SkipAt is Skip of a value that stands depth levels below a top value,
// which may nest MaxDepth-depth deeper: as part of the data around it.
func SkipAt[T ~string | ~[]byte](s T, off, depth int) (int, error) {
	w := walker[T]{s: s, off: off}
	w.value(depth)
	return w.off, w.err
}

// SkipMembers is Skip of a map whose members' values may each nest
// MaxDepth deep below themselves: the map is one level more.
func SkipMembers[T ~string | ~[]byte](s T, off int) (int, error) {
	w := walker[T]{s: s, off: off}
	w.value(-1)
	return w.off, w.err
}

// SkipNested is SkipMembers of a map whose members may be maps whose
// members' values may each nest MaxDepth deep below themselves: the
// data of an issue.opened, whose customer is such a map.
func SkipNested[T ~string | ~[]byte](s T, off int) (int, error) {
	w := walker[T]{s: s, off: off}
	w.value(-2)
	return w.off, w.err
}

// CheckText is Check that also refuses a string, value or map key, that
// is not UTF-8: what JSON could not carry.
func CheckText(b []byte) error {
	// The top value is an object of members, as in SkipMembers.
	return whole(walker[[]byte]{s: b, text: true}, -1)
}

// CheckTextAt is CheckText of a value that stands depth levels below a
// top value (see SkipAt).
func CheckTextAt(b []byte, depth int) error {
	return whole(walker[[]byte]{s: b, text: true}, depth)
}

// CheckNestedText is CheckText of a map whose members may be maps, as
// in SkipNested.
func CheckNestedText(b []byte) error {
	return whole(walker[[]byte]{s: b, text: true}, -2)
}

// SmallInts reports whether b holds one well-formed msgpack value whose
// integers are all from 0 to 127 (positive fixints), which every integer
// type of Go holds.
func SmallInts(b []byte) bool {
	w := walker[[]byte]{s: b}
	w.value(-1)
	return w.err == nil && w.off == len(b) && !w.wide
}

// MapHeadsInExts reports whether b, which Check passed, holds an
// extension whose header is followed by the head of a map, or by nil: a
// decoder that reads a map skips an extension's header and reads on, so
// that such an extension may be read as a map whose entries Check did not
// walk. False for malformed input (as Check finds it, but nested up to
// two levels deeper, as CheckNestedText allows).
func MapHeadsInExts(b []byte) bool {
	w := walker[[]byte]{s: b, exts: true}
	w.value(-2)
	return w.err == nil && w.off == len(b) && w.extMap
}

// ErrNotText: a string that is not UTF-8 (CheckText).
var ErrNotText = errors.New("a string is not UTF-8")

// walker reads s from off; after the first error every read does nothing.
// With text, it checks that strings are UTF-8. It notes in wide whether
// it passed an integer that is not a positive fixint (0 to 127). With
// exts, it notes in extMap whether it passed an extension whose header is
// followed by a map's head or nil (MapHeadsInExts).
type walker[T ~string | ~[]byte] struct {
	s      T
	off    int
	err    error
	text   bool
	wide   bool
	exts   bool
	extMap bool
}

// str passes over a string of n bytes, checking it with text.
func (w *walker[T]) str(n int) {
	at := w.off
	w.take(n)
	if w.text && w.err == nil && !utf8.Valid([]byte(w.s[at:w.off])) {
		w.fail(fmt.Errorf("%w: %q", ErrNotText, string(w.s[at:w.off])))
	}
}

func (w *walker[T]) fail(err error) {
	if w.err == nil {
		w.err = err
	}
}

func (w *walker[T]) byte() byte {
	if w.err != nil {
		return 0
	}
	if w.off >= len(w.s) {
		w.fail(ErrShort)
		return 0
	}
	c := w.s[w.off]
	w.off++
	return c
}

// take passes over n bytes.
func (w *walker[T]) take(n int) {
	if w.err != nil {
		return
	}
	if n < 0 || n > len(w.s)-w.off {
		w.fail(ErrShort)
		return
	}
	w.off += n
}

// be reads an n-byte big-endian unsigned integer.
func (w *walker[T]) be(n int) int {
	if w.err != nil {
		return 0
	}
	if n > len(w.s)-w.off {
		w.fail(ErrShort)
		return 0
	}
	v := 0
	for i := range n {
		v = v<<8 | int(w.s[w.off+i])
	}
	w.off += n
	return v
}

func (w *walker[T]) value(depth int) {
	if depth > MaxDepth {
		w.fail(ErrTooDeep)
		return
	}
	c := w.byte()
	if w.err != nil {
		return
	}
	switch {
	case c <= 0x7f, c == 0xc0, c == 0xc2, c == 0xc3:
		return
	case c >= 0xe0:
		w.wide = true
		return
	case c&0xe0 == 0xa0:
		w.str(int(c & 0x1f))
		return
	case c&0xf0 == 0x90:
		w.values(int(c&0x0f), depth)
		return
	case c&0xf0 == 0x80:
		w.values(2*int(c&0x0f), depth)
		return
	}
	if c >= 0xcc && c <= 0xd3 {
		w.wide = true
	}
	switch c {
	case 0xcc, 0xd0:
		w.take(1)
	case 0xcd, 0xd1:
		w.take(2)
	case 0xce, 0xd2, 0xca:
		w.take(4)
	case 0xcf, 0xd3, 0xcb:
		w.take(8)
	case 0xc4:
		w.take(w.be(1))
	case 0xc5:
		w.take(w.be(2))
	case 0xc6:
		w.take(w.be(4))
	case 0xd9:
		w.str(w.be(1))
	case 0xda:
		w.str(w.be(2))
	case 0xdb:
		w.str(w.be(4))
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8:
		w.ext(1 << (c - 0xd4))
	case 0xc7:
		w.ext(w.be(1))
	case 0xc8:
		w.ext(w.be(2))
	case 0xc9:
		w.ext(w.be(4))
	case 0xdc:
		w.values(w.be(2), depth)
	case 0xdd:
		w.values(w.be(4), depth)
	case 0xde:
		w.values(2*w.be(2), depth)
	case 0xdf:
		w.values(2*w.be(4), depth)
	default:
		w.fail(fmt.Errorf("invalid msgpack code 0x%02x", c))
	}
}

// ext passes over an extension's type and its n bytes of data, noting
// with exts whether its header is followed by a map's head or nil.
func (w *walker[T]) ext(n int) {
	w.take(1)
	if w.exts && w.err == nil && w.off < len(w.s) {
		if c := w.s[w.off]; c&0xf0 == 0x80 || c == 0xde || c == 0xdf || c == 0xc0 {
			w.extMap = true
		}
	}
	w.take(n)
}

// values passes over n values nested one level below depth. Every value
// takes at least one byte: more than remain is a length that lies.
func (w *walker[T]) values(n, depth int) {
	if w.err != nil {
		return
	}
	if n > len(w.s)-w.off {
		w.fail(ErrTooLarge)
		return
	}
	for i := 0; i < n && w.err == nil; i++ {
		w.value(depth + 1)
	}
}
