package events

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/google/uuid"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/truefcr/truefcr/internal/msgpackcheck"
)

// msgpackFormat is the first element of every msgpack-encoded envelope, so
// that the layout can change without guessing.
const msgpackFormat = 1

// MsgpackCodec is the compact binary codec and the default. An event is one
// msgpack array: format, id, issue, version, type, schema, time (Unix
// nanoseconds), meta (a map or nil) and data (a map keyed by the wire names
// of the JSON wire format). UUIDs are 16 raw bytes.
//
// The built-in types are encoded and decoded by hand, with no reflection: a
// decode of an event of up to 384 bytes costs one allocation, for the data
// with its short lists and a copy of the bytes its strings need, which
// they share (a projection that keeps a string for long should copy or
// intern it; it keeps the data's allocation otherwise); a longer event
// costs a second one, for a copy of the input. Metadata, when there is
// any, costs what a small Go map costs. Registered host types go through
// the msgpack library, with their json tags as field names; their times
// are read in UTC (msgpack's carry no zone), but for those read as
// generic values into an empty interface, and a field of type any that
// the type's constructor fills with a pointer reads nil as nil, as in the
// JSON codec.
type MsgpackCodec struct {
	reg *Registry
	// builtin holds the registry's entries that made the built-in types
	// when the codec was made; an entry replaced since takes the general
	// path.
	builtin builtinInfos
}

// NewMsgpackCodec returns the msgpack codec for the types of reg; a nil reg
// means NewRegistry().
func NewMsgpackCodec(reg *Registry) *MsgpackCodec {
	if reg == nil {
		reg = NewRegistry()
	}
	c := &MsgpackCodec{reg: reg}
	c.builtin.find(reg)
	return c
}

// Name returns "msgpack".
func (*MsgpackCodec) Name() string { return "msgpack" }

// Append implements Codec.
func (c *MsgpackCodec) Append(dst []byte, e Envelope) ([]byte, error) {
	info, err := checkEncodable("msgpack", e, c.reg)
	if err != nil {
		return dst, err
	}
	b := appendArrayLen(dst, 9)
	b = appendUint(b, msgpackFormat)
	b = appendUUID(b, e.ID)
	b = appendUUID(b, e.Issue)
	b = appendUint(b, e.Version)
	b = appendStr(b, string(e.Data.EventType()))
	b = appendUint(b, info.schema)
	b = appendInt(b, e.At.UnixNano())
	if len(e.Meta) == 0 {
		b = append(b, 0xc0)
	} else {
		keys := make([]string, 0, len(e.Meta))
		for k := range e.Meta {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if err := metaText(e.Meta, keys); err != nil {
			return dst, invalid("msgpack encode", e, "%v", err)
		}
		b = appendMapLen(b, len(keys))
		for _, k := range keys {
			b = appendStr(appendStr(b, k), e.Meta[k])
		}
	}
	if fast, ok := e.Data.(msgpackData); ok {
		if err = fast.checkText(); err == nil {
			b, err = fast.appendMsgpack(b)
		}
	} else {
		var raw []byte
		if err = holdsItself(reflect.ValueOf(e.Data)); err == nil {
			if raw, err = marshalMsgpack(e.Data); err == nil {
				// As the decoder checks it, every string included.
				err = msgpackcheck.CheckText(raw)
			}
		}
		b = append(b, raw...)
	}
	if err != nil {
		return dst, invalid("msgpack encode", e, "data: %v", err)
	}
	return b, nil
}

// Decode implements Codec.
func (c *MsgpackCodec) Decode(src []byte) (Envelope, error) {
	if len(src) > 0 && len(src) <= maxInlineCopy {
		// Read in place, and copy the bytes that the event's strings
		// need into the allocation of its data (see decodeBuiltin). What
		// that cannot decode, an error included, is decoded again from a
		// copy, as every other event is.
		if e, err := c.decode(unsafe.String(&src[0], len(src)), true); err == nil {
			return e, nil
		}
	}
	return c.decode(string(src), false)
}

// decodeShared is Decode of bytes that never change while the event is
// in use, such as a MemoryStore's: the event's strings are views of src
// rather than of a copy of it.
func (c *MsgpackCodec) decodeShared(src []byte) (Envelope, error) {
	if len(src) == 0 {
		return c.decode("", false)
	}
	return c.decode(unsafe.String(&src[0], len(src)), false)
}

// errCopyFirst is what decode returns, with borrowed set, for an event
// whose strings it cannot give a copy of its own: it is decoded again
// from a copy of its input.
var errCopyFirst = errors.New("decode a copy")

// decode decodes the encoding src, which the event's strings may share.
// With borrowed, src is the caller's and may change once decode returns:
// only the data of a built-in type at its current schema is decoded,
// together with a copy of the bytes from the metadata on, which the
// strings of the data and of the metadata then share; any other event,
// and any error, gives errCopyFirst.
func (c *MsgpackCodec) decode(src string, borrowed bool) (Envelope, error) {
	// r stays on the stack as long as it is only passed to concrete
	// functions: no closures and no interface calls take it.
	var e Envelope
	r := reader{s: src}
	if n := r.arrayLen(); r.err == nil && n != 9 {
		return msgpackFail(r.off, "", fmt.Errorf("want an envelope of 9 elements, found %d", n))
	}
	if f := r.uint(); r.err == nil && f != msgpackFormat {
		return msgpackFail(r.off, "", fmt.Errorf("unknown envelope format %d", f))
	}
	// A nil where the envelope needs a value is missing, as JSON's null
	// is there.
	if r.null() {
		return msgpackFail(r.off, "id", errors.New("missing"))
	}
	e.ID = r.uuid()
	if r.null() {
		return msgpackFail(r.off, "issue", errors.New("missing"))
	}
	e.Issue = r.uuid()
	e.Version = r.uint()
	typ := Type(r.str()) // a registered type is UTF-8; another is checked below
	schema := r.uint()
	if r.null() {
		return msgpackFail(r.off, "at", errors.New("missing"))
	}
	at := r.int()
	if r.err != nil {
		return msgpackFail(r.off, "", r.err)
	}
	if e.Version == 0 {
		return msgpackFail(r.off, "version", errors.New("version must be 1 or more"))
	}
	e.At = time.Unix(0, at).UTC()
	if !inTimeRangeNS(at) { // no codec could write it again
		return msgpackFail(r.off, "at", fmt.Errorf("%s is out of range", e.At.Format(time.RFC3339Nano)))
	}
	metaAt := r.off
	if n := r.mapLen(); n > 0 {
		e.Meta = make(Meta, n)
		r.meta(e.Meta, n)
		if len(e.Meta) == 0 {
			e.Meta = nil
		}
	}
	if r.err != nil {
		return msgpackFail(r.off, "meta", r.err)
	}
	if typ == "" {
		return msgpackFail(r.off, "type", errors.New("missing"))
	}
	info := c.reg.lookup(typ)
	if info == nil && !utf8.ValidString(string(typ)) {
		return msgpackFail(r.off, "type", errNotUTF8("", string(typ)))
	}
	if info == nil {
		// Of a type this reader does not know, the data must still be
		// msgpack, and the event end with it: damage is malformed,
		// whatever the type, so that a reader that passes unknown types
		// on does not pass damage on with them.
		at := r.off
		r.skipData(false)
		switch {
		case r.err != nil:
			return msgpackFail(r.off, "data", r.err)
		case r.off != len(r.s):
			return msgpackFail(r.off, "", r.trailing())
		}
		return msgpackFail(at, "type", &UnknownTypeError{Type: typ, Event: e})
	}
	// Past here only the data, or its schema, can fail: the error holds
	// the envelope as read (DecodeError.Event).
	failData := func(offset int, field string, err error) (Envelope, error) {
		_, derr := msgpackFail(offset, field, err)
		read := e
		read.Data = nil
		derr.(*DecodeError).Event = &read
		return Envelope{}, derr
	}
	if schema == 0 || schema > info.schema {
		return failData(r.off, "schema", fmt.Errorf("%s schema %d, this reader knows up to %d", typ, schema, info.schema))
	}
	if r.null() && !info.readsNull(schema) {
		return failData(r.off, "data", errors.New("missing"))
	}
	if borrowed {
		if schema != info.schema {
			return Envelope{}, errCopyFirst
		}
		r.copyAt = metaAt + 1
	}
	if schema == info.schema {
		e.Data = c.decodeBuiltin(info, &r)
	}
	if borrowed {
		if e.Data == nil || r.err != nil || r.off != len(r.s) {
			return Envelope{}, errCopyFirst
		}
		if e.Meta != nil {
			// Read it again from the copy, which r now reads from
			// offset 0 on.
			clear(e.Meta)
			again := reader{s: r.s}
			again.meta(e.Meta, again.mapLen())
		}
		return e, nil
	}
	if e.Data == nil && r.err == nil {
		// An opening's customer is an object whose members may nest as
		// deep as the data's: an opening is told by its Go type, as in
		// decodeData, since the registry may have replaced the entry
		// that the codec found.
		raw := r.skipData(info == c.builtin.opened || info.goType == openedType)
		if r.err == nil {
			e.Data, r.err = c.decodeData(typ, info, schema, raw)
		}
	}
	if r.err != nil {
		field := r.field()
		if me := (*memberError)(nil); errors.As(r.err, &me) {
			field = "data." + me.field
		}
		return failData(r.off, field, r.err)
	}
	if r.off != len(r.s) {
		return msgpackFail(r.off, "", r.trailing())
	}
	return e, nil
}

// metaText returns the error of the first key or value of m, taken in
// the order of keys, that is not UTF-8, which neither codec writes; nil
// when all are.
func metaText(m Meta, keys []string) error {
	for _, k := range keys {
		if !utf8.ValidString(k) {
			return fmt.Errorf("meta: %w", errNotUTF8("key", k))
		}
		if v := m[k]; !utf8.ValidString(v) {
			return fmt.Errorf("meta %q: %w", k, errNotUTF8("", v))
		}
	}
	return nil
}

// trailing is the error of bytes after the event, which r has read.
func (r *reader) trailing() error { return fmt.Errorf("%d bytes after the event", len(r.s)-r.off) }

// decodeData decodes raw, the data of an event of type t at the given
// schema, into a value of the registered type, upcasting it if need be.
func (c *MsgpackCodec) decodeData(t Type, info *typeInfo, schema uint64, raw string) (Data, error) {
	data := info.new()
	fast, builtin := data.(msgpackData)
	if schema < info.schema || !builtin {
		// Read generically, through no reader that checks each string:
		// every string is checked here, member names included.
		check := msgpackcheck.CheckText
		if _, opened := data.(*Opened); opened {
			check = msgpackcheck.CheckNestedText // see decode
		}
		if err := check([]byte(raw)); err != nil {
			return data, err
		}
	}
	if schema < info.schema {
		return data, c.upcast(t, schema, raw, data, info.new)
	}
	if builtin {
		r := reader{s: raw}
		fast.decodeMsgpack(&r)
		return data, r.err
	}
	if err := unmarshalMsgpack([]byte(raw), data, info.new); err != nil {
		return data, hostMemberError(raw, info.new, err)
	}
	return data, nil
}

// maxMemberProbes is how many members of a host's data hostMemberError
// looks at, at most, for the one at fault.
const maxMemberProbes = 1024

// memberError is the error of the member field of an event's data, which
// the data's reader failed on.
type memberError struct {
	field string
	err   error
}

func (e *memberError) Error() string { return e.err.Error() }
func (e *memberError) Unwrap() error { return e.err }

// hostMemberError returns err, the error of reading raw, the msgpack data
// of a host's type that newData makes, as a *memberError where one member
// is at fault: the first, by name, that neither msgpack nor JSON reads
// alone for its type (a string for a number, say), named with the path
// within it and in the wire format's words, as the JSON codec names it.
// Otherwise (a type's own check of the whole object, say) err as it is.
// It looks at the first maxMemberProbes members by name alone: each look
// decodes a value of the type, and data of a great many members would
// cost that many times the type's size.
func hostMemberError(raw string, newData func() Data, err error) error {
	members, derr := decodeObject(raw, decodeAnyMap)
	if derr != nil {
		return err
	}
	for i, k := range slices.Sorted(maps.Keys(members)) {
		if i == maxMemberProbes {
			break
		}
		one := map[string]any{k: members[k]}
		b, merr := marshalMsgpack(one)
		if merr != nil || unmarshalMsgpack(b, newData(), newData) == nil {
			continue
		}
		var te *json.UnmarshalTypeError
		if b, jerr := json.Marshal(one); jerr == nil && errors.As(unmarshalJSON(b, newData()), &te) && te.Field != "" {
			return &memberError{field: te.Field, err: te}
		}
	}
	return err
}

// openedType is the Go type of issue.opened's data.
var openedType = reflect.TypeFor[*Opened]()

// builtinInfos are the Registry entries that make the built-in types.
type builtinInfos struct {
	opened, routed, consulted, resolved, reopened, contacted, abandoned, rated, classified *typeInfo
}

// find records the entries of reg that make the built-in types.
func (b *builtinInfos) find(reg *Registry) {
	for _, info := range reg.types {
		switch info.new().(type) {
		case *Opened:
			b.opened = info
		case *Routed:
			b.routed = info
		case *Consulted:
			b.consulted = info
		case *Resolved:
			b.resolved = info
		case *Reopened:
			b.reopened = info
		case *Contacted:
			b.contacted = info
		case *Abandoned:
			b.abandoned = info
		case *Rated:
			b.rated = info
		case *Classified:
			b.classified = info
		}
	}
}

// decodeBuiltin decodes the data of a built-in type at its current schema
// in one allocation, with room for its string slices and, when r says so
// (reader.copyAt), for a copy of its input, and returns nil for any
// other type. It calls no interface method with r, so that the caller's
// reader need not escape to the heap.
func (c *MsgpackCodec) decodeBuiltin(info *typeInfo, r *reader) Data {
	switch info {
	case c.builtin.opened:
		b := newData[struct {
			d    Opened
			keys [2]string
		}](r)
		r.spare = b.keys[:]
		b.d.decodeMsgpack(r)
		return &b.d
	case c.builtin.routed:
		b := newData[struct {
			d      Routed
			skills [2]string
		}](r)
		r.spare = b.skills[:]
		b.d.decodeMsgpack(r)
		return &b.d
	case c.builtin.classified:
		b := newData[struct {
			d      Classified
			topics [2]string
		}](r)
		r.spare = b.topics[:]
		b.d.decodeMsgpack(r)
		return &b.d
	case c.builtin.consulted:
		d := newData[Consulted](r)
		d.decodeMsgpack(r)
		return d
	case c.builtin.resolved:
		d := newData[Resolved](r)
		d.decodeMsgpack(r)
		return d
	case c.builtin.reopened:
		d := newData[Reopened](r)
		d.decodeMsgpack(r)
		return d
	case c.builtin.contacted:
		d := newData[Contacted](r)
		d.decodeMsgpack(r)
		return d
	case c.builtin.abandoned:
		d := newData[Abandoned](r)
		d.decodeMsgpack(r)
		return d
	case c.builtin.rated:
		d := newData[Rated](r)
		d.decodeMsgpack(r)
		return d
	}
	return nil
}

// maxInlineCopy is the longest input that Decode copies into the
// allocation of the event's data (newData): 384 bytes hold nearly every
// event, metadata included.
const maxInlineCopy = 384

// newData returns new data of type D for r to decode. With r.copyAt
// set, it is allocated together with room for a copy of r's input from
// that offset on, which r then reads from offset 0, so that the strings
// that r returns share that copy: one allocation for the data and its
// strings. The room comes in steps that follow the runtime's size
// classes closely enough to waste little.
func newData[D any](r *reader) *D {
	if r.copyAt == 0 {
		return new(D)
	}
	switch n := len(r.s) - (r.copyAt - 1); {
	case n <= 32:
		return withCopy[D, [32]byte](r)
	case n <= 64:
		return withCopy[D, [64]byte](r)
	case n <= 96:
		return withCopy[D, [96]byte](r)
	case n <= 128:
		return withCopy[D, [128]byte](r)
	case n <= 160:
		return withCopy[D, [160]byte](r)
	case n <= 192:
		return withCopy[D, [192]byte](r)
	case n <= 256:
		return withCopy[D, [256]byte](r)
	}
	return withCopy[D, [maxInlineCopy]byte](r)
}

// withCopy is newData with room T, an array of bytes, for the copy.
func withCopy[D, T any](r *reader) *D {
	b := new(struct {
		d    D
		text T
	})
	room := unsafe.Slice((*byte)(unsafe.Pointer(&b.text)), unsafe.Sizeof(b.text))
	from := r.copyAt - 1
	n := copy(room, r.s[from:])
	r.s, r.off, r.copyAt = unsafe.String(&room[0], n), r.off-from, 0
	return &b.d
}

func msgpackFail(offset int, field string, err error) (Envelope, error) {
	return Envelope{}, newDecodeError("msgpack", offset, field, err)
}

// upcast decodes raw, the data of an event of type t at an older schema,
// into into through the registry's upcasters. For a built-in type the
// upcasters see the fields as the JSON codec gives them (upcastValue), and
// what they return is read as JSON, so that an upcaster works the same
// whichever codec read the event, and then as msgpack writes it. A host
// type's fields are msgpack's (hostValue), and what the upcasters return is
// read as msgpack with the type's json tags, as the type was written.
func (c *MsgpackCodec) upcast(t Type, schema uint64, raw string, into Data, newData func() Data) error {
	_, builtin := into.(msgpackData)
	_, opened := into.(*Opened)
	decode := func() (map[string]any, error) {
		if builtin {
			return decodeObject(raw, decodeDataMap)
		}
		return decodeObject(raw, decodeAnyMap)
	}
	// convert makes fields what upcasters see: for a built-in type, its
	// numbers as float64, or exact as the Extra of one keeps them
	// (keepDigits).
	convert := func(fields map[string]any, exact bool) error {
		for k, v := range fields {
			var err error
			if builtin {
				depth := 0
				if opened && k == "customer" {
					depth = -1 // its members nest as deep as the data's (see decode)
				}
				fields[k], err = upcastValue(v, depth, exact)
			} else {
				fields[k], err = hostValue(v, 0)
			}
			if err != nil {
				return fmt.Errorf("field %q: %w", k, err)
			}
		}
		return nil
	}
	fields, err := decode()
	if err != nil {
		return err
	}
	// A host's type's integers stay int64 and uint64; a built-in type's
	// become float64, which may lose digits of one.
	var exact map[string]any
	// The fields' values are at depth 0 for convert, an opening's
	// customer's at -1: the data map is at -2 for hasBigInt, so that it
	// looks as deep as convert reads.
	if builtin && hasBigInt(fields, -2) {
		if exact, err = decode(); err != nil {
			return err
		}
		if err := convert(exact, true); err != nil {
			return err
		}
	}
	if err := convert(fields, false); err != nil {
		return err
	}
	fields, err = c.reg.upcast(t, schema, fields)
	if err != nil {
		return err
	}
	if exact != nil {
		keepDigits(fields, exact)
	}
	if !builtin {
		b, err := marshalUpcast(marshalMsgpack, fields)
		if err != nil {
			return err
		}
		if err := unmarshalMsgpack(b, into, newData); err != nil {
			return hostMemberError(string(b), newData, err)
		}
		return nil
	}
	b, err := marshalUpcast(json.Marshal, fields)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, into); err != nil {
		// The member, as the JSON codec names it.
		if f := jsonField(err); f != "" {
			return &memberError{field: f, err: err}
		}
		if f := failingMember(b, newData); f != "" {
			return &memberError{field: f, err: err}
		}
		return err
	}
	// What the upcasters returned is read again as msgpack writes it, so
	// that the event's Extra holds its numbers as msgpack reads them back,
	// and a number that msgpack cannot write is refused now rather than
	// when the event is written. (A host's type that embeds a built-in one
	// is left as JSON read it: its own fields are not msgpack's to write.)
	if !IsBuiltin(into) {
		return nil
	}
	fast := into.(msgpackData)
	if b, err = fast.appendMsgpack(nil); err == nil {
		reflect.ValueOf(into).Elem().SetZero()
		r := reader{s: string(b)}
		fast.decodeMsgpack(&r)
		err = r.err
	}
	if err != nil {
		return fmt.Errorf("what the upcasters of %s from schema %d returned: %w", t, schema, err)
	}
	return nil
}

// IsBuiltin reports whether d is of one of the Go types of the lifecycle
// events (*Opened, *Routed, …) itself, rather than a host's type, one that
// embeds them included.
func IsBuiltin(d Data) bool {
	switch d.(type) {
	case *Opened, *Routed, *Consulted, *Resolved, *Reopened, *Contacted, *Abandoned, *Rated, *Classified:
		return true
	}
	return false
}

// upcastValue returns v, a field value of a built-in type decoded from
// msgpack, as the JSON codec decodes the same field: a 16-byte binary (an
// id) as its uuid string, numbers as float64, or as json.Number with
// exact (jsonValue).
func upcastValue(v any, depth int, exact bool) (any, error) {
	return eachValue(v, depth, func(v any) (any, error) {
		if b, ok := v.([]byte); ok {
			if len(b) == 16 {
				return uuid.UUID(b).String(), nil
			}
			return base64.StdEncoding.EncodeToString(b), nil
		}
		return jsonValue(v, depth, exact)
	})
}

// hasBigInt reports whether v, a value decoded from msgpack, holds an
// integer beyond what a float64 holds exactly (2^53), or a whole float
// beyond it, which msgpack reads as the integer it is (jsonValue), as far
// down as values may nest below depth; or is nested deeper than that,
// which converting it refuses.
func hasBigInt(v any, depth int) bool {
	big := false
	_, err := eachValue(v, depth, func(x any) (any, error) {
		switch n := x.(type) {
		case int64:
			big = big || n > 1<<53 || n < -(1<<53)
		case uint64:
			big = big || n > 1<<53
		case float32:
			big = big || wholeBeyond53(float64(n))
		case float64:
			big = big || wholeBeyond53(n)
		}
		return x, nil
	})
	return big || err != nil
}

// wholeBeyond53 reports whether f is a whole number beyond 2^53.
func wholeBeyond53(f float64) bool { return math.Abs(f) > 1<<53 && f == math.Trunc(f) }

// hostValue returns v, a field value of a host type decoded from msgpack,
// with its integers in fixed Go types whatever size they were written in:
// int64, or uint64 above its range. Other values (floats, binaries,
// times, strings) stay as msgpack decodes them: a float32 is written back
// as one, which a float32 field needs.
func hostValue(v any, depth int) (any, error) {
	return eachValue(v, depth, func(v any) (any, error) {
		switch v := v.(type) {
		case int8:
			return int64(v), nil
		case int16:
			return int64(v), nil
		case int32:
			return int64(v), nil
		case uint8:
			return int64(v), nil
		case uint16:
			return int64(v), nil
		case uint32:
			return int64(v), nil
		case uint64:
			if v <= math.MaxInt64 {
				return int64(v), nil
			}
		}
		return v, nil
	})
}

// decodeAnyMap decodes a msgpack map as map[string]any when its keys are
// strings, as msgpack does by default, and as map[any]any otherwise (a
// host type's map[int]T, say), which msgpack's default refuses; an empty
// map, whose keys it cannot tell, as map[string]any. A binary key becomes
// a string; a list or a map as a key is refused.
func decodeAnyMap(d *msgpack.Decoder) (any, error) { return decodeMap(d, false) }

// decodeObject decodes raw, an object of members, with mapDecoder for
// every map in it, rather than the decoder's own reading of a
// map[string]any, which makes the map at the length that its head
// declares, however few bytes follow.
//
// The object itself must be a map or nil: the decoder reads a map through
// an extension's head, and then what follows it, which no check before
// the decoder walked (the extension's bytes are opaque to it); a member
// named nil at its top is read as "", as the decoder reads a member name.
func decodeObject(raw string, mapDecoder func(*msgpack.Decoder) (any, error)) (map[string]any, error) {
	if c := firstByte(raw); c != 0xc0 && c&0xf0 != 0x80 && c != 0xde && c != 0xdf {
		return nil, fmt.Errorf("msgpack: the data is not a map (code 0x%02x)", c)
	}
	dec := msgpack.NewDecoder(strings.NewReader(raw))
	dec.SetMapDecoder(mapDecoder)
	var v any
	if err := decodeGeneric(func() (err error) { v, err = decodeMap(dec, true); return err }); err != nil {
		return nil, err
	}
	switch m := v.(type) {
	case nil:
		return nil, nil
	case map[string]any:
		return m, nil
	}
	return nil, fmt.Errorf("msgpack: the data is a map whose keys are not all strings")
}

// firstByte returns the first byte of s, 0xc1 (which msgpack never uses)
// for none.
func firstByte(s string) byte {
	if s == "" {
		return 0xc1
	}
	return s[0]
}

// decodeDataMap is decodeAnyMap for the data of a built-in type, which
// reads a nil key as "", as its reader does (reader.str).
func decodeDataMap(d *msgpack.Decoder) (any, error) { return decodeMap(d, true) }

// decodeMap is decodeAnyMap, with a nil key read as "" when nilIsEmpty.
// Of a key given twice, the later value is kept.
func decodeMap(d *msgpack.Decoder, nilIsEmpty bool) (any, error) {
	n, err := d.DecodeMapLen()
	if err != nil || n == -1 {
		return nil, err
	}
	// The entries grow as they are read, never ahead of the input: a
	// head (or one read through an extension's, which no check before
	// the decoder sees as a map) may declare billions.
	keys, vals := make([]any, 0, min(n, 64)), make([]any, 0, min(n, 64))
	strs := true
	for i := range n {
		key, err := d.DecodeInterface()
		if err != nil {
			return nil, err
		}
		keys, vals = append(keys, key), append(vals, nil)
		switch k := keys[i].(type) {
		case string:
		case []byte:
			keys[i] = string(k)
		case nil:
			if nilIsEmpty {
				keys[i] = ""
			} else {
				strs = false
			}
		case bool, int8, int16, int32, int64, uint8, uint16, uint32, uint64, float32, float64, time.Time:
			strs = false
		default:
			return nil, fmt.Errorf("a map key of type %T", k)
		}
		if vals[i], err = d.DecodeInterface(); err != nil {
			return nil, err
		}
	}
	if strs {
		m := make(map[string]any, n)
		for i, k := range keys {
			m[k.(string)] = vals[i]
		}
		return m, nil
	}
	m := make(map[any]any, n)
	for i, k := range keys {
		m[k] = vals[i]
	}
	return m, nil
}

// eachValue returns v, a value decoded from msgpack, with leaf applied to
// every value in it that is not a list or an object, in place, and to the
// keys of a map whose keys are not strings.
func eachValue(v any, depth int, leaf func(any) (any, error)) (any, error) {
	if depth > maxSkipDepth {
		return nil, errTooDeep
	}
	var err error
	switch v := v.(type) {
	case []any:
		for i := range v {
			if v[i], err = eachValue(v[i], depth+1, leaf); err != nil {
				return nil, err
			}
		}
		return v, nil
	case map[string]any:
		for k := range v {
			if v[k], err = eachValue(v[k], depth+1, leaf); err != nil {
				return nil, err
			}
		}
		return v, nil
	case map[any]any:
		out := make(map[any]any, len(v))
		for k, x := range v {
			if k, err = leaf(k); err != nil {
				return nil, err
			}
			if out[k], err = eachValue(x, depth+1, leaf); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return leaf(v)
}

// marshalMsgpack encodes a host type with its json tags as field names,
// and the keys of its maps in order.
func marshalMsgpack(v any) ([]byte, error) { return encodeHost(v, true) }

// encodeHost is marshalMsgpack, with the keys of maps in order when
// sorted, or else in the order of a range over each.
func encodeHost(v any, sorted bool) (_ []byte, err error) {
	defer func() {
		// The encoder panics on some values that it cannot write (a map
		// of an embedded type that is not exported): an error of the
		// event, not the end of the process. A fault of the runtime (a
		// host's marshaler that dereferenced nil) is the host's to see.
		if p := recover(); p != nil {
			if _, fault := p.(runtime.Error); fault {
				panic(p)
			}
			err = fmt.Errorf("the msgpack encoder cannot write %T (a map or a marshaler of an embedded type that is not exported?): %v", v, p)
		}
	}()
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.SetCustomStructTag("json")
	enc.UseCompactInts(true)
	enc.SetSortMapKeys(sorted)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// unmarshalMsgpack decodes a host type with its json tags as field names.
// A field of type any that holds a pointer or a map reads nil as nil, as
// encoding/json reads null (see standIns), times are read in UTC (see
// timesInUTC), and a number that does not fit its integer field is an
// error (see numbersKept), as encoding/json makes it; newData makes a
// value of v's type, as its constructor does. An extension where the
// decoder would read a map through its header is refused (see extAtMap).
func unmarshalMsgpack(b []byte, v any, newData func() Data) error {
	if err := extAtMap(b, v); err != nil {
		return err
	}
	err := decodeHost(v, func() error {
		rv := reflect.ValueOf(v)
		if rv.Kind() != reflect.Pointer || rv.IsNil() {
			return msgpackDecode(b, v)
		}
		err := func() (err error) {
			s := standIns(rv)
			defer func() {
				if rerr := restore(rv, s); err == nil {
					err = rerr
				}
			}()
			return msgpackDecode(b, v)
		}()
		if err == nil {
			timesInUTC(rv.Elem())
		}
		return err
	})
	if err != nil {
		return err
	}
	return numbersKept(b, v, newData)
}

// msgpackDecode decodes b into v with json tags as field names.
func msgpackDecode(b []byte, v any) error {
	dec := msgpack.NewDecoder(bytes.NewReader(b))
	dec.SetCustomStructTag("json")
	return dec.Decode(v)
}

// decodeHost returns decode(), the decoding of a host's value v, with a
// panic of the decoder as its error: where a decoder cannot set what it
// reads (behind a nil embedded pointer to a struct type that is not
// exported, which Register refuses where it sees one; into an interface
// field of methods left nil), or reads keys it cannot hash, that is an
// error of the event, not the end of the process. A panic raised in the
// host's own code (an unmarshaler's) is the host's to see, and goes on,
// unless that code raised it in reflect or a codec it called.
func decodeHost(v any, decode func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			if !decoderPanic() {
				panic(p)
			}
			err = fmt.Errorf("decoding %T panicked in the decoder: %v", v, p)
		}
	}()
	return decode()
}

// decodeGeneric returns decode(), a decoding into generic values (any,
// map[string]any), with a panic of the decoder as its error: the msgpack
// decoder reads an extension that a host registered with the msgpack
// package as a value of the registered type, and panics, in reflect, for
// one that is a map or a list (v5.4.1 sets a nil map to a pointer to its
// element type). Wherever such an extension stands in an event, that is
// an error of the event, not the end of the process.
func decodeGeneric(decode func() error) error {
	return decodeHost(map[string]any(nil), decode)
}

// decoderPanics are the packages whose panics, in decoding a host's
// value, are the decoder's: the decoders' own and reflect's.
var decoderPanics = []string{"reflect.", "encoding/json.", "github.com/vmihailenco/msgpack/"}

// decoderPanic reports whether the panic being recovered was raised in a
// decoder (see decoderPanics): by the first function below the runtime's
// frames of the panic (and the runtime's internal packages, maps'), on the
// stack of the deferred call that recovers it.
func decoderPanic() bool {
	var pcs [64]uintptr
	frames := runtime.CallersFrames(pcs[:runtime.Callers(1, pcs[:])])
	panicking := false
	for {
		f, more := frames.Next()
		switch {
		case f.Function == "runtime.gopanic" || f.Function == "runtime.panicmem" || f.Function == "runtime.sigpanic":
			panicking = true
		case panicking && !strings.HasPrefix(f.Function, "runtime.") && !strings.HasPrefix(f.Function, "internal/"):
			return slices.ContainsFunc(decoderPanics, func(p string) bool { return strings.HasPrefix(f.Function, p) })
		}
		if !more {
			return false
		}
	}
}

// unmarshalJSON is json.Unmarshal of b into v, a host's value, with a
// panic of the decoder as its error (see decodeHost).
func unmarshalJSON(b []byte, v any) error {
	return decodeHost(v, func() error { return json.Unmarshal(b, v) })
}
