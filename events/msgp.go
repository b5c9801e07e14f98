package events

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/google/uuid"

	"github.com/truefcr/truefcr/internal/msgpackcheck"
)

// This file holds the msgpack primitives of the hand-written fast path. The
// bytes are plain msgpack (https://msgpack.org/): any msgpack library reads
// them. Strings that a decoded event returns are substrings of one copy of
// the input, which a decode allocates with the event's data where it can
// (newData), so that they cost no allocation of their own.

var (
	errShort    = msgpackcheck.ErrShort
	errTooDeep  = msgpackcheck.ErrTooDeep
	errTooLarge = msgpackcheck.ErrTooLarge
)

// maxSkipDepth is how deeply values may nest below a member of the data,
// the same on every path: an Extra value read alone (reader.extra) and
// the whole data read for an upcast (reader.skipData, upcast).
const maxSkipDepth = msgpackcheck.MaxDepth

func appendArrayLen(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x90|byte(n))
	case n <= math.MaxUint16:
		return append(b, 0xdc, byte(n>>8), byte(n))
	}
	return append(b, 0xdd, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

func appendMapLen(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x80|byte(n))
	case n <= math.MaxUint16:
		return append(b, 0xde, byte(n>>8), byte(n))
	}
	return append(b, 0xdf, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

func appendStr(b []byte, s string) []byte {
	n := len(s)
	switch {
	case n < 32:
		b = append(b, 0xa0|byte(n))
	case n <= math.MaxUint8:
		b = append(b, 0xd9, byte(n))
	case n <= math.MaxUint16:
		b = append(b, 0xda, byte(n>>8), byte(n))
	default:
		b = append(b, 0xdb, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(b, s...)
}

// appendUUID writes a UUID as bin 8 of 16 raw bytes.
func appendUUID(b []byte, id uuid.UUID) []byte {
	b = append(b, 0xc4, 16)
	return append(b, id[:]...)
}

func appendUint(b []byte, v uint64) []byte {
	switch {
	case v < 128:
		return append(b, byte(v))
	case v <= math.MaxUint8:
		return append(b, 0xcc, byte(v))
	case v <= math.MaxUint16:
		return append(b, 0xcd, byte(v>>8), byte(v))
	case v <= math.MaxUint32:
		return append(b, 0xce, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xcf), v)
}

func appendInt(b []byte, v int64) []byte {
	if v >= 0 {
		return appendUint(b, uint64(v))
	}
	switch {
	case v >= -32:
		return append(b, byte(v))
	case v >= math.MinInt8:
		return append(b, 0xd0, byte(v))
	case v >= math.MinInt16:
		return append(b, 0xd1, byte(v>>8), byte(v))
	case v >= math.MinInt32:
		return append(b, 0xd2, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xd3), uint64(v))
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 0xc3)
	}
	return append(b, 0xc2)
}

func appendStrs(b []byte, ss []string) []byte {
	b = appendArrayLen(b, len(ss))
	for _, s := range ss {
		b = appendStr(b, s)
	}
	return b
}

// reader decodes msgpack from a string that it owns, or that it copies
// before it reads a string (reader.copyAt), so that the strings it returns
// are substrings and cost no allocation of their own.
type reader struct {
	s   string
	off int
	err error // the first error; every read after it returns zero values
	// spare is room for string slices that was allocated together with
	// the event data, so that a short slice costs no allocation of its own;
	// the slices take it from spareAt on (an index: moving the slice would
	// cost a write barrier at each, while the collector runs).
	spare   []string
	spareAt int
	// memberAt is 1 + the offset of the name of the data member being read
	// (member), 0 outside one, and memberIn the object it is in: an error
	// names the member. Offsets rather than strings, because a string
	// stored through r costs a write barrier while the collector runs,
	// whether r is on the stack or not, and there is one member a field.
	memberAt int
	memberIn scope
	// missing names a member that is missing, which an error names
	// instead of the member being read.
	missing string
	// copyAt is 1 + the offset from which the input is to be copied with
	// the data (newData), 0 for none: the input is then the caller's.
	copyAt int
}

// meta reads n entries of metadata into m: a key with no value removes
// it, as in the JSON codec, and the last of a key wins.
func (r *reader) meta(m Meta, n int) {
	for ; n > 0 && r.err == nil; n-- {
		k := r.text()
		if r.isNil() {
			delete(m, k)
			continue
		}
		m[k] = r.text()
	}
}

// scope is the object a data member is in.
type scope uint8

const (
	inData     scope = iota // data itself
	inCustomer              // data.customer
)

// member reads the name of a data member and notes it, in the object in,
// as the member being read.
func (r *reader) member(in scope) string {
	r.memberAt = 0
	at := r.off
	k := r.str()
	if r.err == nil {
		r.memberAt, r.memberIn = at+1, in
	}
	return k
}

// field names the data member that an error stopped in, as "data.name" or
// "data.customer.name", or "data" outside one.
func (r *reader) field() string {
	name := r.missing
	if name == "" && r.memberAt > 0 {
		again := reader{s: r.s, off: r.memberAt - 1}
		name = again.str()
	}
	switch {
	case name == "":
		return "data"
	case r.memberIn == inCustomer:
		return "data.customer." + name
	}
	return "data." + name
}

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *reader) failf(format string, args ...any) {
	r.fail(fmt.Errorf(format, args...))
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if r.off >= len(r.s) {
		r.fail(errShort)
		return 0
	}
	c := r.s[r.off]
	r.off++
	return c
}

func (r *reader) take(n int) string {
	if r.err != nil {
		return ""
	}
	if n < 0 || n > len(r.s)-r.off {
		r.fail(errShort)
		return ""
	}
	s := r.s[r.off : r.off+n]
	r.off += n
	return s
}

// be reads an unsigned big-endian integer of n bytes (1, 2, 4 or 8).
func (r *reader) be(n int) uint64 {
	if r.err == nil && n == 8 && len(r.s)-r.off >= 8 {
		// The shape of times and of large versions and positions: one
		// load rather than a byte at a time.
		b := r.s[r.off : r.off+8]
		r.off += 8
		return uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 |
			uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7])
	}
	s := r.take(n)
	var v uint64
	for i := 0; i < len(s); i++ {
		v = v<<8 | uint64(s[i])
	}
	return v
}

// isNil consumes a nil and reports whether there was one.
func (r *reader) isNil() bool {
	if r.err == nil && r.off < len(r.s) && r.s[r.off] == 0xc0 {
		r.off++
		return true
	}
	return false
}

func (r *reader) arrayLen() int {
	c := r.byte()
	var n uint64
	switch {
	case c&0xf0 == 0x90:
		n = uint64(c & 0x0f)
	case c == 0xdc:
		n = r.be(2)
	case c == 0xdd:
		n = r.be(4)
	case c == 0xc0:
		return 0
	default:
		r.failf("want an array, found 0x%02x", c)
		return 0
	}
	// Every element takes at least one byte: a length past the input is a lie.
	if n > uint64(len(r.s)-r.off) {
		r.fail(errTooLarge)
		return 0
	}
	return int(n)
}

func (r *reader) mapLen() int {
	c := r.byte()
	var n uint64
	switch {
	case c&0xf0 == 0x80:
		n = uint64(c & 0x0f)
	case c == 0xde:
		n = r.be(2)
	case c == 0xdf:
		n = r.be(4)
	case c == 0xc0:
		return 0
	default:
		r.failf("want a map, found 0x%02x", c)
		return 0
	}
	if n > uint64(len(r.s)-r.off)/2 {
		r.fail(errTooLarge)
		return 0
	}
	return int(n)
}

func (r *reader) str() string {
	// Fast path: a fixstr, the shape of nearly every field name and value.
	if r.err == nil && r.off < len(r.s) {
		if c := r.s[r.off]; c&0xe0 == 0xa0 {
			if n := int(c & 0x1f); n < len(r.s)-r.off {
				s := r.s[r.off+1 : r.off+1+n]
				r.off += 1 + n
				return s
			}
		}
	}
	c := r.byte()
	var n int
	switch {
	case c&0xe0 == 0xa0:
		n = int(c & 0x1f)
	case c == 0xd9:
		n = int(r.be(1))
	case c == 0xda:
		n = int(r.be(2))
	case c == 0xdb:
		n = int(r.be(4))
	case c == 0xc0:
		return ""
	default:
		r.failf("want a string, found 0x%02x", c)
		return ""
	}
	return r.take(n)
}

// text reads a string, which must be UTF-8: JSON could not carry it
// otherwise.
func (r *reader) text() string {
	s := r.str()
	if !validUTF8(s) {
		r.notUTF8(s)
		return ""
	}
	return s
}

// notUTF8 fails the read for s, which is not UTF-8.
func (r *reader) notUTF8(s string) {
	if r.err == nil {
		r.fail(errNotUTF8("", s))
	}
}

// errNotUTF8 is the error of s, a what ("" for a value), that is not
// UTF-8.
func errNotUTF8(what, s string) error {
	if what != "" {
		return fmt.Errorf("%s %q is not UTF-8, which JSON cannot carry", what, s)
	}
	return fmt.Errorf("%q is not UTF-8, which JSON cannot carry", s)
}

// null reports whether the next value is nil, which it does not read.
func (r *reader) null() bool { return r.err == nil && r.off < len(r.s) && r.s[r.off] == 0xc0 }

func (r *reader) uuid() uuid.UUID {
	var id uuid.UUID
	if r.err == nil && len(r.s)-r.off >= 18 && r.s[r.off] == 0xc4 && r.s[r.off+1] == 16 {
		copy(id[:], r.s[r.off+2:r.off+18])
		r.off += 18
		return id
	}
	c := r.byte()
	switch c {
	case 0xc0:
		return id
	case 0xc4:
		if n := r.byte(); n != 16 && r.err == nil {
			r.failf("want a 16-byte uuid, found %d bytes", n)
			return id
		}
	default:
		r.failf("want a uuid, found 0x%02x", c)
		return id
	}
	copy(id[:], r.take(16))
	return id
}

func (r *reader) int() int64 {
	c := r.byte()
	switch {
	case c <= 0x7f:
		return int64(c)
	case c >= 0xe0:
		return int64(int8(c))
	}
	switch c {
	case 0xcc:
		return int64(r.be(1))
	case 0xcd:
		return int64(r.be(2))
	case 0xce:
		return int64(r.be(4))
	case 0xcf:
		v := r.be(8)
		if v > math.MaxInt64 {
			r.failf("integer %d overflows int64", v)
			return 0
		}
		return int64(v)
	case 0xd0:
		return int64(int8(r.be(1)))
	case 0xd1:
		return int64(int16(r.be(2)))
	case 0xd2:
		return int64(int32(r.be(4)))
	case 0xd3:
		return int64(r.be(8))
	case 0xc0:
		return 0
	}
	r.failf("want an integer, found 0x%02x", c)
	return 0
}

func (r *reader) uint() uint64 {
	if r.err == nil && r.off < len(r.s) && r.s[r.off] == 0xcf {
		r.off++ // a uint 64, which may be beyond int64
		return r.be(8)
	}
	v := r.int()
	if v < 0 {
		r.failf("want a non-negative integer, found %d", v)
		return 0
	}
	return uint64(v)
}

func (r *reader) bool() bool {
	switch c := r.byte(); c {
	case 0xc3:
		return true
	case 0xc2, 0xc0:
		return false
	default:
		r.failf("want a bool, found 0x%02x", c)
		return false
	}
}

func (r *reader) strs() []string {
	n := r.arrayLen()
	if n == 0 {
		return nil
	}
	var ss []string
	if at := r.spareAt; n <= len(r.spare)-at {
		ss = r.spare[at : at+n : at+n]
		r.spareAt += n
	} else {
		ss = make([]string, n)
	}
	for i := range ss {
		ss[i] = r.text()
	}
	return ss
}

// skipData passes over the data, a map, and returns its bytes: its
// members' values may nest as deep as one read alone (see maxSkipDepth).
func (r *reader) skipData(nested bool) string {
	if r.err != nil {
		return ""
	}
	start := r.off
	skip := msgpackcheck.SkipMembers[string]
	if nested {
		skip = msgpackcheck.SkipNested[string]
	}
	end, err := skip(r.s, r.off)
	r.off = end
	if err != nil {
		r.fail(err)
		return ""
	}
	return r.s[start:end]
}

// skip passes over one value of any type and returns its bytes.
func (r *reader) skip() string {
	if r.err != nil {
		return ""
	}
	start := r.off
	end, err := msgpackcheck.Skip(r.s, r.off)
	r.off = end // where reading stopped, which an error reports
	if err != nil {
		r.fail(err)
		return ""
	}
	return r.s[start:end]
}
