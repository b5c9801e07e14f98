package events

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// JSONCodec reads and writes the JSON wire format: one event is one object
//
//	{"id":…,"issue":…,"version":1,"type":"issue.opened","at":"2026-03-02T09:15:00Z",
//	 "data":{…},"meta":{…}}
//
// with UUID strings, RFC 3339 times and durations in integer milliseconds.
// Times are read with any offset, and with a lower-case t or z, as RFC
// 3339 allows; they are written with an upper-case T, and as UTC with a Z
// where their offset has seconds. A leap second (23:59:60) reads as the
// last nanosecond before the next second, as Go's times have none. A type whose current schema version is
// above 1 is written with a "schema" member; an event without one is at
// schema 1. Unknown data fields are kept (see Extra); unknown top-level
// members are ignored. Text must be UTF-8: the reader refuses bytes that
// are not, and escapes of half a surrogate pair, and the writer refuses
// data or metadata that encoding/json would write with the escape \ufffd
// for such bytes (a host type's MarshalJSON that writes U+FFFD so is
// refused too: write it as the character).
type JSONCodec struct {
	reg *Registry
}

// NewJSONCodec returns the JSON codec for the types of reg; a nil reg means
// NewRegistry().
func NewJSONCodec(reg *Registry) *JSONCodec {
	if reg == nil {
		reg = NewRegistry()
	}
	return &JSONCodec{reg: reg}
}

// Name returns "json".
func (*JSONCodec) Name() string { return "json" }

// Append implements Codec. It writes one object and no newline.
func (c *JSONCodec) Append(dst []byte, e Envelope) ([]byte, error) {
	info, err := checkEncodable("json", e, c.reg)
	if err != nil {
		return dst, err
	}
	// encoding/json writes text that is not UTF-8 as U+FFFD: the built-in
	// types' fields are looked at before (their Extra is, member by
	// member, as it is written), and what was written after.
	if fast, ok := e.Data.(msgpackData); ok {
		if err := fast.checkText(); err != nil {
			return dst, invalid("json encode", e, "data: %v", err)
		}
	}
	data, err := json.Marshal(e.Data)
	if err != nil {
		// What the data's MarshalJSON said, without encoding/json's
		// words around it, as msgpack says it.
		for {
			me, ok := err.(*json.MarshalerError)
			if !ok {
				break
			}
			err = me.Unwrap()
		}
		return dst, invalid("json encode", e, "data: %v", err)
	}
	if writesBadText(data) {
		return dst, invalid("json encode", e, "data: %v", errNotText)
	}
	b := append(dst, `{"id":"`...)
	b = appendUUIDText(b, e.ID)
	b = append(b, `","issue":"`...)
	b = appendUUIDText(b, e.Issue)
	b = append(b, `","version":`...)
	b = strconv.AppendUint(b, e.Version, 10)
	b = append(b, `,"type":`...)
	b = appendJSONString(b, string(e.Data.EventType()))
	if info.schema > 1 {
		b = append(b, `,"schema":`...)
		b = strconv.AppendUint(b, info.schema, 10)
	}
	b = append(b, `,"at":"`...)
	at := e.At
	if _, offset := at.Zone(); offset%60 != 0 || offset <= -24*3600 || offset >= 24*3600 {
		// RFC 3339 has no seconds in an offset (Helsinki's of 1900:
		// +01:39:49), nor hours beyond 23, which the reader refuses.
		at = at.UTC()
	}
	b = at.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","data":`...)
	b = append(b, data...)
	if len(e.Meta) > 0 {
		// In the order of its keys: the same error every time.
		if err := metaText(e.Meta, slices.Sorted(maps.Keys(e.Meta))); err != nil {
			return dst, invalid("json encode", e, "%v", err)
		}
		meta, err := json.Marshal(e.Meta)
		if err != nil {
			return dst, invalid("json encode", e, "meta: %v", err)
		}
		b = append(append(b, `,"meta":`...), meta...)
	}
	return append(b, '}'), nil
}

// appendJSONString appends s as a JSON string: as it is when it needs no
// escape (an event type, most often), else as encoding/json writes it.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func appendUUIDText(b []byte, id uuid.UUID) []byte {
	var buf [36]byte
	// uuid.UUID.MarshalText cannot fail, but allocates; encode in place.
	const hex = "0123456789abcdef"
	j := 0
	for i, c := range id {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			buf[j] = '-'
			j++
		}
		buf[j], buf[j+1] = hex[c>>4], hex[c&0x0f]
		j += 2
	}
	return append(b, buf[:]...)
}

// envelopeNames are the members of the envelope object.
var envelopeNames = []string{"id", "issue", "version", "type", "schema", "at", "data", "meta"}

// hasAmbiguousName reports whether encoding/json could read the JSON
// object src, which decoded without an error, otherwise than by the exact
// names of its members: a member name written with escapes, one that is
// not one of names but matches one regardless of case, or one of names
// that comes twice (encoding/json merges two objects of one name).
func hasAmbiguousName(src []byte, names []string) bool {
	ambiguous := false
	var seen uint64 // a bit for each of names met, up to 64
	eachMember(src, func(name, _ []byte) bool {
		if bytes.IndexByte(name, '\\') >= 0 {
			ambiguous = true
			return false
		}
		if i := nameIndex(names, name); i >= 0 {
			ambiguous = i < 64 && seen&(1<<i) != 0
			seen |= 1 << (i & 63)
		} else {
			ambiguous = foldsTo(names, string(name))
		}
		return !ambiguous
	})
	return ambiguous
}

// onlyNames reports whether every member of the JSON object src is named
// exactly as one of names, without escapes, and none comes twice: then
// encoding/json reads it by its exact names, and nothing is left for
// Extra.
func onlyNames(src []byte, names []string) bool {
	ok := true
	var seen uint64 // a bit for each of names met, up to 64
	eachMember(src, func(name, _ []byte) bool {
		i := nameIndex(names, name)
		if i < 0 || i >= 64 || seen&(1<<i) != 0 {
			ok = false
			return false
		}
		seen |= 1 << i
		return true
	})
	return ok
}

// nameIndex returns the index of name among names, compared without a
// copy, or -1.
func nameIndex(names []string, name []byte) int {
	for i, n := range names {
		if string(name) == n {
			return i
		}
	}
	return -1
}

// eachMember calls fn with the name, as written, and the value of each
// member of the JSON object src, which decoded without an error, until fn
// returns false.
func eachMember(src []byte, fn func(name, value []byte) bool) {
	i := skipSpace(src, 0)
	if i >= len(src) || src[i] != '{' {
		return
	}
	for i++; ; {
		i = skipSpace(src, i)
		if i >= len(src) || src[i] != '"' {
			return // the end of the object
		}
		end := endOfString(src, i)
		if end-1 <= i {
			return
		}
		name := src[i+1 : end-1]
		from := skipSpace(src, skipSpace(src, end)+1) // after the colon
		to := skipValue(src, from)
		if !fn(name, src[from:to]) {
			return
		}
		i = skipSpace(src, to)
		if i < len(src) && src[i] == ',' {
			i++
		}
	}
}

// memberOffset returns where the value of the last member of the JSON
// object src named name (its escapes read) starts, 0 when there is none.
func memberOffset(src []byte, name string) int {
	offset := 0
	eachMember(src, func(n, value []byte) bool {
		if bytes.IndexByte(n, '\\') >= 0 {
			var unquoted string
			if json.Unmarshal(append(append([]byte{'"'}, n...), '"'), &unquoted) == nil {
				n = []byte(unquoted)
			}
		}
		if string(n) == name {
			offset = cap(src) - cap(value) // value is a slice of src
		}
		return true
	})
	return offset
}

// skipSpace returns the index of the first byte of src from i on that is
// not JSON white space.
func skipSpace(src []byte, i int) int {
	for i < len(src) && (src[i] == ' ' || src[i] == '\t' || src[i] == '\n' || src[i] == '\r') {
		i++
	}
	return i
}

// endOfString returns the index after the string that starts at src[i].
func endOfString(src []byte, i int) int {
	for i++; i < len(src); i++ {
		switch src[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(src)
}

// skipValue returns the index after the valid JSON value at src[i].
func skipValue(src []byte, i int) int {
	if i >= len(src) {
		return i
	}
	switch src[i] {
	case '"':
		return endOfString(src, i)
	case '{', '[':
		depth := 0
		for i < len(src) {
			switch src[i] {
			case '"':
				i = endOfString(src, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	}
	for i < len(src) && src[i] != ',' && src[i] != '}' && src[i] != ']' && src[i] != ' ' && src[i] != '\t' && src[i] != '\n' && src[i] != '\r' {
		i++
	}
	return i
}

type jsonEnvelope struct {
	ID      *string         `json:"id"` // parsed after, so that an error names the field
	Issue   *string         `json:"issue"`
	Version *uint64         `json:"version"`
	Type    *string         `json:"type"`
	Schema  *uint64         `json:"schema"`
	At      *string         `json:"at"`
	Data    json.RawMessage `json:"data"`
	Meta    Meta            `json:"meta"`
}

// readSimpleEnvelope reads the envelope src as encoding/json reads it
// into a jsonEnvelope, where that takes no more than a walk over its
// members, and reports whether it could: src is valid JSON, an object
// whose members are named without escapes, none of the envelope's twice
// and none that matches one of them regardless of case only; the values
// of id, issue, type and at are strings without escapes, or null; those
// of version and schema are whole numbers of at most 19 digits, or null;
// and meta decodes. Decode reads any other envelope, and the errors of
// one, with encoding/json. The data is left as written, a slice of src.
func readSimpleEnvelope(src []byte) (j jsonEnvelope, ok bool) {
	if at := skipSpace(src, 0); at >= len(src) || src[at] != '{' || !json.Valid(src) {
		return j, false
	}
	ok = true
	var seen uint8 // a bit for each of envelopeNames met
	eachMember(src, func(name, value []byte) bool {
		k := nameIndex(envelopeNames, name)
		switch {
		case bytes.IndexByte(name, '\\') >= 0:
			ok = false
		case k < 0:
			// Not a member of the envelope: passed over, unless
			// encoding/json would take it for one.
			ok = !foldsTo(envelopeNames, string(name))
			return ok
		case seen&(1<<k) != 0:
			ok = false
		case string(value) == "null" && envelopeNames[k] != "data":
			// No member, as encoding/json reads it; data keeps its
			// null, as a json.RawMessage does.
		default:
			switch envelopeNames[k] {
			case "id":
				j.ID, ok = plainString(value)
			case "issue":
				j.Issue, ok = plainString(value)
			case "type":
				j.Type, ok = plainString(value)
			case "at":
				j.At, ok = plainString(value)
			case "version":
				j.Version, ok = plainUint(value)
			case "schema":
				j.Schema, ok = plainUint(value)
			case "data":
				j.Data = value
			case "meta":
				ok = json.Unmarshal(value, &j.Meta) == nil
			}
		}
		if ok {
			seen |= 1 << k
		}
		return ok
	})
	return j, ok
}

// plainString returns the text of the JSON string v when it holds no
// escape and is UTF-8 (encoding/json reads other bytes as U+FFFD), and
// whether it does.
func plainString(v []byte) (*string, bool) {
	if len(v) < 2 || v[0] != '"' || bytes.IndexByte(v, '\\') >= 0 || !utf8.Valid(v) {
		return nil, false
	}
	s := string(v[1 : len(v)-1])
	return &s, true
}

// plainUint returns the JSON number v when it is written as at most 19
// digits, which a uint64 holds, and whether it is.
func plainUint(v []byte) (*uint64, bool) {
	if len(v) == 0 || len(v) > 19 {
		return nil, false
	}
	var n uint64
	for _, c := range v {
		if c < '0' || c > '9' {
			return nil, false
		}
		n = n*10 + uint64(c-'0')
	}
	return &n, true
}

// unmarshalValid is json.Unmarshal of the valid JSON value b into v,
// without checking b again where v is of a built-in type, which reads
// itself. A host's type is given a copy of b: b may be the caller's bytes,
// which a host's UnmarshalJSON that keeps what it is given would share.
func unmarshalValid(b []byte, v Data) error {
	if IsBuiltin(v) {
		return v.(json.Unmarshaler).UnmarshalJSON(b)
	}
	return unmarshalJSON(bytes.Clone(b), v)
}

// Decode implements Codec. Leading and trailing white space is allowed.
func (c *JSONCodec) Decode(src []byte) (Envelope, error) {
	fail := func(offset int, field string, err error) (Envelope, error) {
		return Envelope{}, newDecodeError("json", offset, field, err)
	}
	// offsetOf returns where the value of the envelope's member name (of
	// a field name such as "data.channel", data) starts, 0 when it has
	// none.
	offsetOf := func(name string) int {
		name, _, _ = strings.Cut(name, ".")
		return memberOffset(src, name)
	}
	// encoding/json reads bytes that are not UTF-8, and escapes of half a
	// surrogate pair, as U+FFFD: two names that differ there would be one.
	if at, err := badText(src); err != nil {
		return fail(at, "", err)
	}
	if at := skipSpace(src, 0); bytes.HasPrefix(src[at:], bom) && json.Valid(src[at+len(bom):]) {
		return fail(at, "", errBOM)
	} else if at < len(src) && src[at] != '{' && json.Valid(src) {
		return fail(at, "", fmt.Errorf("want an event object, found %s", jsonKind(src[at])))
	}
	// typeFail reports an error of encoding/json: a syntax error where it
	// is, a type error where the value of its member starts.
	typeFail := func(err error) (Envelope, error) {
		if f := jsonField(err); f != "" {
			return fail(offsetOf(f), f, err)
		}
		return fail(jsonOffset(err, src), "", err)
	}
	j, simple := readSimpleEnvelope(src)
	if !simple {
		j = jsonEnvelope{}
		err := json.Unmarshal(src, &j)
		var syntax *json.SyntaxError
		switch ambiguous := !errors.As(err, &syntax) && hasAmbiguousName(src, envelopeNames); {
		case err != nil && !ambiguous:
			return typeFail(err)
		case ambiguous:
			// encoding/json may have matched a name such as "Version" to
			// version, which the wire format does not, or merged two meta
			// objects, or failed on such a member: read the members named
			// exactly, the last of each.
			var top map[string]json.RawMessage
			if err := json.Unmarshal(src, &top); err != nil {
				return typeFail(err)
			}
			exact, err := onlyKnown(top, envelopeNames)
			if err != nil {
				return fail(0, "", err)
			}
			j = jsonEnvelope{}
			if err := json.Unmarshal(exact, &j); err != nil {
				return fail(offsetOf(jsonField(err)), jsonField(err), err)
			}
		}
	}
	switch {
	case j.ID == nil:
		return fail(offsetOf("id"), "id", errors.New("missing"))
	case j.Issue == nil:
		return fail(offsetOf("issue"), "issue", errors.New("missing"))
	case j.Version == nil || *j.Version == 0:
		return fail(offsetOf("version"), "version", errors.New("missing, or not 1 or more"))
	case j.Type == nil || *j.Type == "":
		return fail(offsetOf("type"), "type", errors.New("missing"))
	case j.At == nil:
		return fail(offsetOf("at"), "at", errors.New("missing"))
	}
	id, err := uuid.Parse(*j.ID)
	if err != nil {
		return fail(offsetOf("id"), "id", err)
	}
	issue, err := uuid.Parse(*j.Issue)
	if err != nil {
		return fail(offsetOf("issue"), "issue", err)
	}
	at, err := parseTime(*j.At)
	if err != nil {
		return fail(offsetOf("at"), "at", err)
	}
	if !InTimeRange(at) { // no codec could write it again
		return fail(offsetOf("at"), "at", fmt.Errorf("%s is out of range", *j.At))
	}
	typ := Type(*j.Type)
	// read returns the envelope as read, without data.
	read := func() Envelope {
		return Envelope{ID: id, Issue: issue, Version: *j.Version, At: at.UTC(), Meta: metaOf(j.Meta, src)}
	}
	info := c.reg.lookup(typ)
	if info == nil {
		return fail(offsetOf("type"), "type", &UnknownTypeError{Type: typ, Event: read()})
	}
	// Past here only the data, or its schema, can fail: the error holds
	// the envelope as read (DecodeError.Event).
	failData := func(field string, err error) (Envelope, error) {
		e, derr := fail(offsetOf(field), field, err)
		env := read()
		derr.(*DecodeError).Event = &env
		return e, derr
	}
	schema := uint64(1)
	if j.Schema != nil {
		schema = *j.Schema
	}
	if len(j.Data) == 0 || bytes.Equal(j.Data, []byte("null")) && !info.readsNull(schema) {
		// After the type: an event of a type this reader does not know
		// is of an unknown type, data or not, as in msgpack.
		return failData("data", errors.New("missing"))
	}
	data := info.new()
	raw := []byte(j.Data)
	switch {
	case schema == info.schema:
	case schema > 0 && schema < info.schema:
		exactly := func() (map[string]any, error) {
			var fields map[string]any
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.UseNumber()
			return fields, dec.Decode(&fields)
		}
		var fields map[string]any
		err := json.Unmarshal(raw, &fields)
		if te := (*json.UnmarshalTypeError)(nil); errors.As(err, &te) && strings.HasPrefix(te.Value, "number") {
			// A number beyond a float64's range: read again, it stays a
			// json.Number (upcastNumbers).
			if fields, err = exactly(); err == nil {
				upcastNumbers(fields)
			}
		}
		if err != nil {
			return failData("data", err)
		}
		var exact map[string]any
		if hasLongDigits(raw) {
			if exact, err = exactly(); err != nil {
				return failData("data", err)
			}
		}
		fields, err = c.reg.upcast(typ, schema, fields)
		if err != nil {
			return failData("data", err)
		}
		if exact != nil {
			keepDigits(fields, exact)
		}
		if raw, err = marshalUpcast(json.Marshal, fields); err != nil {
			return failData("data", err)
		}
	default:
		return failData("schema", fmt.Errorf("%s schema %d, this reader knows up to %d", typ, schema, info.schema))
	}
	if err := unmarshalValid(raw, data); err != nil {
		field := "data"
		if f := jsonField(err); f != "" {
			field = "data." + f
		} else if f := failingMember(raw, info.new); f != "" {
			field = "data." + f
		}
		// Where data starts: the field's own offset would be one in the
		// data as decoded, which may have been written again (upcast, or
		// read by exact names).
		return failData(field, err)
	}
	e := Envelope{ID: id, Issue: issue, Version: *j.Version, At: at.UTC(), Data: data}
	e.Meta = metaOf(j.Meta, src)
	return e, nil
}

// checkRFC3339 reports what keeps s from being an RFC 3339 date-time
// (section 5.6) in the shape that time.Time's parser does not check: it
// takes a one-digit hour, a comma before the fraction, and offsets
// beyond ±23:59, which move the time by a day.
func checkRFC3339(s string) error {
	const shape = "YYYY-MM-DDThh:mm:ss, a fraction after a dot if any, and Z or ±hh:mm"
	digits := func(s string) bool {
		for i := range len(s) {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		}
		return true
	}
	if len(s) < 20 || !digits(s[0:4]) || s[4] != '-' || !digits(s[5:7]) || s[7] != '-' || !digits(s[8:10]) ||
		s[10] != 'T' && s[10] != 't' || !digits(s[11:13]) || s[13] != ':' || !digits(s[14:16]) || s[16] != ':' || !digits(s[17:19]) {
		return fmt.Errorf("%q is not RFC 3339: want %s", s, shape)
	}
	zone := s[19:]
	if zone[0] == '.' {
		n := 1
		for n < len(zone) && zone[n] >= '0' && zone[n] <= '9' {
			n++
		}
		if n == 1 {
			return fmt.Errorf("%q is not RFC 3339: no digit after the dot", s)
		}
		zone = zone[n:]
	}
	switch {
	case zone == "Z" || zone == "z":
		return nil
	case len(zone) == 6 && (zone[0] == '+' || zone[0] == '-') && digits(zone[1:3]) && zone[3] == ':' && digits(zone[4:6]):
		if zone[1:3] > "23" || zone[4:6] > "59" {
			return fmt.Errorf("%q: offset %s is out of range", s, zone)
		}
		return nil
	}
	return fmt.Errorf("%q is not RFC 3339: want %s", s, shape)
}

// errNotText is the error of a value that encoding/json would write
// other than it is (see writesBadText).
var errNotText = errors.New("holds text that is not UTF-8, which JSON cannot carry (or the escape \\ufffd, which encoding/json writes for it)")

// writesBadText reports whether b, which encoding/json wrote, holds text
// that is not: bytes replaced by it, or what a host's MarshalJSON or a
// json.RawMessage passed through as it is (bytes that are not UTF-8, an
// escape of half a surrogate pair), which the reader refuses.
func writesBadText(b []byte) bool {
	_, err := badText(b)
	return replaced(b) || err != nil
}

// replaced reports whether encoding/json wrote text that is not UTF-8
// into its output b: it writes each such byte of a string as the escape
// \ufffd, and a U+FFFD of the text itself as it is. Written, two names
// that differ only there would read back as one. The same escape passed
// through by a MarshalJSON or a json.RawMessage cannot be told apart from
// it, and is refused as well.
func replaced(b []byte) bool {
	for i := bytes.IndexByte(b, '\\'); i >= 0 && i+1 < len(b); {
		if b[i+1] == 'u' && bytes.HasPrefix(b[i+2:], []byte("fffd")) {
			return true
		}
		k := bytes.IndexByte(b[i+2:], '\\')
		if k < 0 {
			break
		}
		i += 2 + k
	}
	return false
}

// badText reports where JSON text src holds what is not text: a byte
// that is not UTF-8, or an escape of half a surrogate pair ("\ud800"
// alone); nil if none.
func badText(src []byte) (int, error) {
	if !utf8.Valid(src) {
		for i := 0; i < len(src); {
			r, n := utf8.DecodeRune(src[i:])
			if r == utf8.RuneError && n == 1 {
				return i, fmt.Errorf("byte %#02x is not UTF-8", src[i])
			}
			i += n
		}
	}
	// Backslashes stand in strings only, each starting an escape.
	for i := bytes.IndexByte(src, '\\'); i >= 0 && i+1 < len(src); {
		next := i + 2
		if r, ok := hex4(src[next:]); src[i+1] == 'u' && ok {
			next += 4
			switch {
			case r >= 0xd800 && r < 0xdc00:
				lo, ok := hex4(src[min(next+2, len(src)):])
				if !ok || !bytes.HasPrefix(src[next:], []byte(`\u`)) || lo < 0xdc00 || lo >= 0xe000 {
					return i, fmt.Errorf(`\u%04x is half a surrogate pair`, r)
				}
				next += 6
			case r >= 0xdc00 && r < 0xe000:
				return i, fmt.Errorf(`\u%04x is half a surrogate pair`, r)
			}
		}
		k := bytes.IndexByte(src[min(next, len(src)):], '\\')
		if k < 0 {
			break
		}
		i = next + k
	}
	return 0, nil
}

// hex4 returns the number that the four hexadecimal digits b starts with
// write, and whether it starts with four.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// metaOf returns the metadata m read from the envelope src, nil for none.
// A member whose value is null is no member, as elsewhere in the wire
// format: encoding/json reads it as the empty string, so where m holds
// one, src's meta is read again to tell the two apart.
func metaOf(m Meta, src []byte) Meta {
	if len(m) == 0 {
		return nil
	}
	empty := false
	for _, v := range m {
		empty = empty || v == ""
	}
	if !empty {
		return m
	}
	var withNulls map[string]*string
	if json.NewDecoder(bytes.NewReader(src[memberOffset(src, "meta"):])).Decode(&withNulls) != nil {
		return m
	}
	for k, v := range withNulls {
		if v == nil && m[k] == "" {
			delete(m, k)
		}
	}
	if len(m) == 0 {
		return nil
	}
	return m
}

// parseTime parses an RFC 3339 time, where the T between date and time
// and the Z of UTC may be written in lower case (RFC 3339, section 5.6),
// which time.Time's parser refuses, as it refuses a leap second (second
// 60), read here as the last nanosecond of second 59.
func parseTime(s string) (time.Time, error) {
	if err := checkRFC3339(s); err != nil {
		return time.Time{}, err
	}
	b := []byte(s)
	if len(b) > 10 && b[10] == 't' {
		b[10] = 'T'
	}
	if n := len(b); n > 0 && b[n-1] == 'z' {
		b[n-1] = 'Z'
	}
	leap := b[17] == '6' && b[18] == '0'
	if leap {
		b[17] = '5' // Go's times have no leap second
		b[18] = '9'
	}
	var t time.Time
	if err := t.UnmarshalText(b); err != nil {
		return time.Time{}, err
	}
	if leap {
		// Second 60, whatever its fraction: the last instant of second 59,
		// which keeps it after every time of that second. A leap second
		// ends a UTC day, at 23:59:60 UTC.
		if u := t.UTC(); u.Hour() != 23 || u.Minute() != 59 {
			return time.Time{}, fmt.Errorf("%q: second 60 is a leap second, which is 23:59:60 UTC only", s)
		}
		t = t.Truncate(time.Second).Add(time.Second - 1)
	}
	return t, nil
}

// jsonKind names the kind of the valid JSON value that starts with c.
func jsonKind(c byte) string {
	switch c {
	case 'n':
		return "null"
	case 't', 'f':
		return "a boolean"
	case '"':
		return "a string"
	case '[':
		return "an array"
	}
	return "a number"
}

// typeText says what the value that encoding/json could not decode is,
// and what the wire format wants there, in JSON's terms rather than Go's
// ("want a whole number, written without a point or an exponent, found
// the number 1500.5", where encoding/json names its Go struct and type).
func typeText(te *json.UnmarshalTypeError) string {
	found := te.Value
	// A number written as one, which a type of integers holds only within
	// its range, or written with a point or an exponent, which it refuses.
	number, whole := false, false
	if n, ok := strings.CutPrefix(found, "number "); ok {
		found = "the number " + n
		number, whole = true, !strings.ContainsAny(n, ".eE")
	} else {
		found = map[string]string{"number": "a number", "string": "a string", "bool": "true or false",
			"array": "an array", "object": "an object"}[found]
	}
	if t := te.Type; t != nil && t.Kind() == reflect.Map && te.Value == "object" && !jsonReadsKey(t.Key()) {
		return fmt.Sprintf("found an object, which cannot be read into a map keyed by %s: only into one keyed by strings, integers or a type with UnmarshalText", t.Key())
	}
	want := "a value of another kind"
	if t := te.Type; t != nil {
		switch {
		case t == reflect.TypeFor[uuid.UUID]():
			want = "an id, a UUID string"
		case t.Kind() == reflect.String:
			want = "a string"
		case t.Kind() == reflect.Bool:
			want = "true or false"
		case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
			want = "a whole number"
			if whole {
				want = fmt.Sprintf("a whole number from %d to %d", int64(-1)<<(t.Bits()-1), uint64(1)<<(t.Bits()-1)-1)
			}
		case te.Field == "version" && t.Kind() == reflect.Uint64:
			// Versions count from 1 (a 0 is refused as missing) up to
			// MaxVersion, which Validate holds them to.
			want = fmt.Sprintf("a whole number from 1 to %d", uint64(MaxVersion))
		case t.Kind() >= reflect.Uint && t.Kind() <= reflect.Uintptr:
			want = "a whole number, 0 or more"
			if whole {
				want = fmt.Sprintf("a whole number from 0 to %d", ^uint64(0)>>(64-t.Bits()))
			}
		case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
			want = "a number"
		case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
			want = "an array of strings"
		case t.Kind() == reflect.Slice || t.Kind() == reflect.Array:
			want = "an array"
		case t.Kind() == reflect.Map || t.Kind() == reflect.Struct:
			want = "an object"
		}
	}
	if number && !whole && strings.HasPrefix(want, "a whole number") {
		want += ", written without a point or an exponent"
	}
	if found == "" {
		return "want " + want
	}
	return fmt.Sprintf("want %s, found %s", want, found)
}

// jsonReadsKey reports whether encoding/json reads an object's member
// names into a map key of type t.
func jsonReadsKey(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.String, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return true
	}
	return reflect.PointerTo(t).Implements(reflect.TypeFor[encoding.TextUnmarshaler]())
}

// jsonOffset returns where in the input src the error err of
// encoding/json is: the byte that broke the syntax (encoding/json counts
// the bytes read up to it, itself included), the end for an input that
// ended too soon (encoding/json reads a space past the end, and may blame
// that), or what it says of a type error.
func jsonOffset(err error, src []byte) int {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		at := int(se.Offset) - 1
		if at >= len(src) || strings.HasPrefix(se.Error(), "unexpected end of JSON input") ||
			strings.HasPrefix(se.Error(), "invalid character ' '") && (at < 0 || src[at] != ' ') {
			return len(src)
		}
		return max(0, at)
	case errors.As(err, &te):
		return int(te.Offset)
	}
	return 0
}

// failingMember returns the name of the first member of the object raw,
// by name, that a new value of the type fails to decode on its own, or
// "" for none: an error such as an id's parse error does not name it.
func failingMember(raw []byte, newData func() Data) string {
	var members map[string]json.RawMessage
	if json.Unmarshal(raw, &members) != nil {
		return ""
	}
	for _, k := range slices.Sorted(maps.Keys(members)) {
		one, err := json.Marshal(map[string]json.RawMessage{k: members[k]})
		if err != nil {
			continue
		}
		// A member alone lacks the others: that is not its fault.
		var missing *missingFieldError
		if err := unmarshalJSON(one, newData()); err != nil && !errors.As(err, &missing) {
			return k
		}
	}
	return ""
}

func jsonField(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return te.Field
	}
	var me *missingFieldError
	if errors.As(err, &me) {
		return me.Field
	}
	return ""
}
