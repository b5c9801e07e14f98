package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/vmihailenco/msgpack/v5"
)

// msgpackData is implemented by the built-in event types: a hand-written
// msgpack encoding of their fields, as a map keyed by the wire names.
type msgpackData interface {
	appendMsgpack(b []byte) ([]byte, error)
	decodeMsgpack(r *reader)
	// checkText reports a text field that is not UTF-8, which neither
	// codec writes (Extra aside, which the writers check).
	checkText() error
}

// Wire names of each built-in type's fields; Extra keys that clash with
// them are not written.
var (
	openedFields     = []string{"customer", "channel", "topic", "contact"}
	routedFields     = []string{"contact", "queue", "agent", "skills", "wait_ms"}
	consultedFields  = []string{"contact", "agent", "expert", "duration_ms"}
	resolvedFields   = []string{"contact", "agent", "bot", "code", "handle_ms"}
	reopenedFields   = []string{"contact", "channel", "reason"}
	contactedFields  = []string{"contact", "channel"}
	abandonedFields  = []string{"contact", "wait_ms"}
	ratedFields      = []string{"survey", "score", "contact"}
	classifiedFields = []string{"topic", "topics"}
)

func isKnown(known []string, k string) bool {
	for _, f := range known {
		if f == k {
			return true
		}
	}
	return false
}

// foldsTo reports whether k matches one of names regardless of case, as
// encoding/json matches a member to a field.
func foldsTo(names []string, k string) bool {
	return slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, k) })
}

// CheckExtra reports what keeps the values of x from being written by
// both codecs: a member name or a string that is not UTF-8, a value
// nested more than 64 deep below its member, a number that msgpack cannot
// hold as written, or a value that encoding/json cannot encode. The
// codecs also refuse a member named like a field of the event's type,
// which CheckExtra, not knowing the type, does not check.
func CheckExtra(x Extra) error {
	for _, k := range slices.Sorted(maps.Keys(x)) { // the same error every time
		if _, err := extraValue(k, x[k]); err != nil {
			return err
		}
	}
	return nil
}

// StoredExtra returns x as an event that carries it reads back from the
// msgpack codec: its numbers as json.Number in the form that msgpack keeps
// ("1e18" written out in full, "2.50" as "2.5", -0 as "0"), as
// CheckExtra's values would be written and read (nil for an empty x); or
// CheckExtra's error.
func StoredExtra(x Extra) (Extra, error) {
	if len(x) == 0 {
		return nil, nil
	}
	out := make(Extra, len(x))
	for _, k := range slices.Sorted(maps.Keys(x)) { // the same error every time
		v, err := extraValue(k, x[k])
		if err != nil {
			return nil, err
		}
		var read any
		b, err := msgpack.Marshal(v)
		if err == nil {
			err = decodeGeneric(func() error { return msgpack.Unmarshal(b, &read) })
		}
		if err == nil {
			read, err = jsonValue(read, 0, true)
		}
		if err != nil {
			return nil, fmt.Errorf("field %q: %w", k, err)
		}
		out[k] = read
	}
	return out, nil
}

// extraValue returns v, the value of Extra member k, as msgpack writes it
// (asJSON, msgpackNumbers), or the error, naming k, of what keeps it from
// being written.
func extraValue(k string, v any) (any, error) {
	if !utf8.ValidString(k) {
		return nil, errNotUTF8("field", k)
	}
	v, err := asJSON(v)
	if err == nil {
		v, err = msgpackNumbers(v, 0)
	}
	if err != nil {
		return nil, fmt.Errorf("field %q: %w", k, err)
	}
	return v, nil
}

// shadowing returns an error that names a member of x that is a field of
// its type, nil when there is none: keys are the others (extraKeys). Such
// a member would be written in the field's place or dropped, and come back
// as the field, so neither codec writes it.
func shadowing(x Extra, keys []string) error {
	if len(keys) == len(x) {
		return nil
	}
	var known []string
	for k := range x {
		if _, found := slices.BinarySearch(keys, k); !found {
			known = append(known, k)
		}
	}
	return fmt.Errorf("Extra member %q is a field of the type", slices.Min(known))
}

// extraKeys returns the sorted keys of x that are not known fields.
func extraKeys(x Extra, known []string) []string {
	if len(x) == 0 {
		return nil
	}
	keys := make([]string, 0, len(x))
	for k := range x {
		if !isKnown(known, k) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

func appendExtraMsgpack(b []byte, x Extra, keys []string) ([]byte, error) {
	if err := shadowing(x, keys); err != nil {
		return b, err
	}
	if len(keys) == 0 {
		return b, nil
	}
	buf := bytes.NewBuffer(b)
	enc := msgpack.NewEncoder(buf)
	enc.SetSortMapKeys(true) // the same event always has the same bytes
	for _, k := range keys {
		v, err := extraValue(k, x[k])
		if err != nil {
			return b, err
		}
		buf.Write(appendStr(buf.AvailableBuffer(), k))
		if err := enc.Encode(v); err != nil {
			return b, err
		}
	}
	return buf.Bytes(), nil
}

// asJSON returns v as encoding/json would decode it after encoding it,
// numbers as json.Number, so that both codecs write the same Extra values
// and read back the same, or an error for text in it that is not UTF-8.
func asJSON(v any) (any, error) {
	if isJSONValue(v, 0) {
		return v, nil // already so: the common case (msgpackNumbers checks its text)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return readJSONValue(b)
}

// readJSONValue returns the value that b, which encoding/json wrote,
// reads back as, numbers as json.Number; an error when b holds what is
// not text (writesBadText): the value would come back other than it was,
// or not at all.
func readJSONValue(b []byte) (any, error) {
	if writesBadText(b) {
		return nil, errNotText
	}
	var out any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	err := d.Decode(&out)
	return out, err
}

// msgpackNumbers returns v, a JSON value, with each number as msgpack
// writes it, in new lists and maps (msgpack would write a json.Number as a
// string): as an integer when it is one within int64 or uint64, however
// written ("2", "2.0", "2e0", float64(2)), else as a float64, so that one
// value has one encoding. A number that is neither, and not written as
// the float64 nearest it prints ("0.10000000000000001", which a float64
// reads as 0.1; one beyond a float64's range), is refused: the JSON codec
// keeps its text, msgpack cannot.
func msgpackNumbers(v any, depth int) (any, error) {
	if depth > maxSkipDepth {
		return nil, errTooDeep
	}
	switch v := v.(type) {
	case json.Number:
		if n, ok := wholeNumber(string(v)); ok {
			return n, nil
		}
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil || !sameDecimal(string(v), strconv.FormatFloat(f, 'e', -1, 64)) {
			return nil, fmt.Errorf("number %s is held by no int64 or uint64, and by a float64 only as %s",
				v, strconv.FormatFloat(f, 'g', -1, 64))
		}
		return msgpackFloat(f), nil
	case float64:
		return msgpackFloat(v), nil
	case string:
		if !utf8.ValidString(v) {
			return nil, errNotUTF8("", v)
		}
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			var err error
			if out[i], err = msgpackNumbers(e, depth+1); err != nil {
				return nil, err
			}
		}
		return out, nil
	case map[string]any:
		return convertMembers(v, make(map[string]any, len(v)), func(e any) (any, error) { return msgpackNumbers(e, depth+1) })
	}
	return v, nil
}

// convertMembers puts conv of each value of m into out, under its name (out
// may be m itself), and returns out; or, of the members whose name is not
// UTF-8 or whose value conv refuses, the error of that whose name sorts
// first (firstError).
func convertMembers(m, out map[string]any, conv func(any) (any, error)) (map[string]any, error) {
	var first firstError
	for k, e := range m {
		if !utf8.ValidString(k) {
			first.note(k, errNotUTF8("member", k))
			continue
		}
		c, err := conv(e)
		if err != nil {
			first.note(k, err)
			continue
		}
		out[k] = c
	}
	if first.err != nil {
		return nil, first.err
	}
	return out, nil
}

// firstError keeps, of the errors of a map's members, that of the member
// whose name sorts first: one value gives one error, whatever order the
// map is walked in.
type firstError struct {
	key string
	err error
}

// note records err, the error of member k.
func (f *firstError) note(k string, err error) {
	if f.err == nil || k < f.key {
		f.key, f.err = k, err
	}
}

// tooDeep reports whether v, a JSON value at the given depth below a data
// member, nests deeper than either codec reads (maxSkipDepth), as
// msgpackNumbers refuses it.
func tooDeep(v any, depth int) bool {
	if depth > maxSkipDepth {
		return true
	}
	switch v := v.(type) {
	case []any:
		for _, e := range v {
			if tooDeep(e, depth+1) {
				return true
			}
		}
	case map[string]any:
		for _, e := range v {
			if tooDeep(e, depth+1) {
				return true
			}
		}
	}
	return false
}

// isJSONValue reports whether v is made only of what encoding/json decodes
// into an any.
func isJSONValue(v any, depth int) bool {
	if depth > maxSkipDepth {
		return false
	}
	switch v := v.(type) {
	case nil, bool, string:
		return true
	case float64:
		return !math.IsNaN(v) && !math.IsInf(v, 0)
	case json.Number:
		return isJSONNumber(v)
	case []any:
		for _, e := range v {
			if !isJSONValue(e, depth+1) {
				return false
			}
		}
		return true
	case map[string]any:
		for _, e := range v {
			if !isJSONValue(e, depth+1) {
				return false
			}
		}
		return true
	}
	return false
}

// wholeNumber returns the JSON number s as an int64, or a uint64 above
// int64's range, when it is a whole number that one of them holds, however
// written ("2.0", "2e19").
func wholeNumber(s string) (any, bool) {
	neg, digits, exp, ok := decimalOf(s)
	switch {
	case !ok || exp < 0 || len(digits)+exp > 20: // 2^64 has 20 digits
		return nil, false
	case digits == "":
		return int64(0), true
	}
	text := digits + strings.Repeat("0", exp)
	if neg {
		i, err := strconv.ParseInt("-"+text, 10, 64)
		return i, err == nil
	}
	if i, err := strconv.ParseInt(text, 10, 64); err == nil {
		return i, true
	}
	u, err := strconv.ParseUint(text, 10, 64)
	return u, err == nil
}

// msgpackFloat returns f as wholeNumber would: an int64 when it is a whole
// number within int64's range but -2^63, a uint64 when within uint64's
// above it, else a float64. -2^63 stays a float64: it prints as
// -9223372036854776000, beyond int64, which an int64 would change.
func msgpackFloat(f float64) any {
	switch {
	case f != math.Trunc(f):
		return f
	case f > math.MinInt64 && f < math.MaxInt64: // -2^63 < f < 2^63
		return int64(f)
	case f >= 0 && f < math.MaxUint64: // 2^63 ≤ f < 2^64
		return uint64(f)
	}
	return f
}

// sameDecimal reports whether the JSON numbers a and b have the same value
// in decimal: the same sign, significant digits and power of ten, however
// written.
func sameDecimal(a, b string) bool {
	na, da, ea, oka := decimalOf(a)
	nb, db, eb, okb := decimalOf(b)
	return oka && okb && da == db && (da == "" || na == nb && ea == eb)
}

// decimalOf returns the JSON number s as its sign, its significant digits
// without leading or trailing zeros ("" for zero, whatever its exponent)
// and the power of ten of the last of them, or false when its exponent is
// beyond ±2^31.
func decimalOf(s string) (neg bool, digits string, exp int, ok bool) {
	s, neg = strings.CutPrefix(s, "-")
	mant, e, hasExp := s, "", false
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant, e, hasExp = s[:i], s[i+1:], true
	}
	whole, frac, _ := strings.Cut(mant, ".")
	digits = strings.TrimLeft(whole+frac, "0")
	if digits == "" {
		return neg, "", 0, true
	}
	if hasExp {
		x, err := strconv.Atoi(e)
		if err != nil || x > math.MaxInt32 || x < math.MinInt32 {
			return false, "", 0, false
		}
		exp = x
	}
	exp -= len(frac)
	trimmed := strings.TrimRight(digits, "0")
	return neg, trimmed, exp + len(digits) - len(trimmed), true
}

// isJSONNumber reports whether n is a number as JSON writes one.
func isJSONNumber(n json.Number) bool {
	return n != "" && (n[0] == '-' || n[0] >= '0' && n[0] <= '9') && json.Valid([]byte(n))
}

// extra decodes the value of an unknown field into x, its numbers as
// json.Number, as the JSON codec decodes Extra.
func (r *reader) extra(x *Extra, key string) {
	if !utf8.ValidString(key) {
		r.notUTF8(key)
		return
	}
	raw := r.skip()
	if r.err != nil {
		return
	}
	var v any
	err := decodeGeneric(func() error { return msgpack.Unmarshal([]byte(raw), &v) })
	if err == nil {
		v, err = jsonValue(v, 0, true)
	}
	if err != nil {
		r.failf("field %q: %v", key, err)
		return
	}
	if *x == nil {
		*x = make(Extra)
	}
	(*x)[key] = v
}

// jsonValue returns v, a value decoded from msgpack, as encoding/json
// decodes the same value from JSON (maps have string keys; numbers are
// float64, or json.Number when exact, as Extra keeps them: an integer's
// exact digits, a float's shortest form as encoding/json writes it, a
// whole float's as the integer's that msgpack writes for it), so that a
// value is the same whichever codec read it, and refuses what JSON cannot
// carry.
func jsonValue(v any, depth int, exact bool) (any, error) {
	if depth > maxSkipDepth {
		return nil, errTooDeep
	}
	switch v := v.(type) {
	case nil, bool:
		return v, nil
	case string:
		if !utf8.ValidString(v) {
			return nil, errNotUTF8("", v)
		}
		return v, nil
	case int8:
		return jsonInt(int64(v), exact), nil
	case int16:
		return jsonInt(int64(v), exact), nil
	case int32:
		return jsonInt(int64(v), exact), nil
	case int64:
		return jsonInt(v, exact), nil
	case uint8:
		return jsonInt(int64(v), exact), nil
	case uint16:
		return jsonInt(int64(v), exact), nil
	case uint32:
		return jsonInt(int64(v), exact), nil
	case uint64:
		if exact {
			return json.Number(strconv.FormatUint(v, 10)), nil
		}
		return float64(v), nil
	case float32:
		return jsonValue(float64(v), depth, exact)
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("%v is not a JSON number", v)
		}
		if !exact {
			return v, nil
		}
		// A whole number reads as the integer that msgpack writes for
		// it, so that reading what was written gives the same text; any
		// other as encoding/json writes a float64, as an upcaster's
		// fields come back.
		if n := msgpackFloat(v); n != any(v) {
			return jsonValue(n, depth, exact)
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		return json.Number(b), nil
	case []any:
		for i, e := range v {
			var err error
			if v[i], err = jsonValue(e, depth+1, exact); err != nil {
				return nil, err
			}
		}
		return v, nil
	case map[string]any:
		return convertMembers(v, v, func(e any) (any, error) { return jsonValue(e, depth+1, exact) })
	case map[any]any:
		// As a map of names, once every key is one; of keys that are not,
		// the error names the first by type and value.
		m := make(map[string]any, len(v))
		var other firstError
		for k, e := range v {
			if ks, ok := k.(string); ok {
				m[ks] = e
			} else {
				other.note(fmt.Sprintf("%T %v", k, k), fmt.Errorf("map key %v is not a string", k))
			}
		}
		if other.err != nil {
			return nil, other.err
		}
		return jsonValue(m, depth, exact)
	}
	return nil, fmt.Errorf("a %T is not a JSON value", v)
}

// jsonInt returns i as a json.Number when exact, else as a float64.
func jsonInt(i int64, exact bool) any {
	if exact {
		return json.Number(strconv.FormatInt(i, 10))
	}
	return float64(i)
}

func ms(d time.Duration) int64 { return d.Milliseconds() }

// maxMS is the largest number of milliseconds a time.Duration holds.
const maxMS = math.MaxInt64 / int64(time.Millisecond)

// checkMS returns the duration of v milliseconds, or an error when
// time.Duration cannot hold it.
func checkMS(v int64) (time.Duration, error) {
	if v > maxMS || v < -maxMS {
		return 0, fmt.Errorf("%d ms is out of range (about 292 years)", v)
	}
	return time.Duration(v) * time.Millisecond, nil
}

func (r *reader) ms() time.Duration {
	d, err := checkMS(r.int())
	if err != nil {
		r.fail(err)
	}
	return d
}

// count returns how many of the conditions hold.
func count(conds ...bool) int {
	n := 0
	for _, c := range conds {
		if c {
			n++
		}
	}
	return n
}

func (d *Opened) checkText() error {
	if err := notText("customer.id", d.Customer.ID, "channel", d.Channel, "topic", d.Topic); err != nil {
		return err
	}
	return notTexts("customer.keys", d.Customer.Keys)
}

func (d *Opened) appendMsgpack(b []byte) ([]byte, error) {
	keys := extraKeys(d.Extra, openedFields)
	b = appendMapLen(b, 4+len(keys))
	b = appendStr(b, "customer")
	ckeys := extraKeys(d.Customer.Extra, customerNames)
	b = appendMapLen(b, count(d.Customer.ID != "", len(d.Customer.Keys) > 0)+len(ckeys))
	if d.Customer.ID != "" {
		b = appendStr(appendStr(b, "id"), d.Customer.ID)
	}
	if len(d.Customer.Keys) > 0 {
		b = appendStrs(appendStr(b, "keys"), d.Customer.Keys)
	}
	b, err := appendExtraMsgpack(b, d.Customer.Extra, ckeys)
	if err != nil {
		return b, fmt.Errorf("customer: %w", err)
	}
	b = appendStr(appendStr(b, "channel"), d.Channel)
	b = appendStr(appendStr(b, "topic"), d.Topic)
	b = appendUUID(appendStr(b, "contact"), d.Contact)
	return appendExtraMsgpack(b, d.Extra, keys)
}

func (d *Opened) decodeMsgpack(r *reader) {
	for n := r.mapLen(); n > 0 && r.err == nil; n-- {
		switch k := r.member(inData); k {
		case "customer":
			d.Customer = Customer{} // the last of two, whole, as in JSON
			for m := r.mapLen(); m > 0 && r.err == nil; m-- {
				switch ck := r.member(inCustomer); ck {
				case "id":
					d.Customer.ID = r.text()
				case "keys":
					d.Customer.Keys = r.strs()
				default:
					r.extra(&d.Customer.Extra, ck)
				}
			}
		case "channel":
			d.Channel = r.name()
		case "topic":
			d.Topic = r.name()
		case "contact":
			d.Contact = r.uuid()
		default:
			r.extra(&d.Extra, k)
		}
	}
}

func (d *Routed) checkText() error {
	if err := notText("queue", d.Queue, "agent", d.Agent); err != nil {
		return err
	}
	return notTexts("skills", d.Skills)
}

func (d *Routed) appendMsgpack(b []byte) ([]byte, error) {
	keys := extraKeys(d.Extra, routedFields)
	b = appendMapLen(b, 2+count(d.Agent != "", len(d.Skills) > 0, ms(d.Wait) != 0)+len(keys))
	b = appendUUID(appendStr(b, "contact"), d.Contact)
	b = appendStr(appendStr(b, "queue"), d.Queue)
	if d.Agent != "" {
		b = appendStr(appendStr(b, "agent"), d.Agent)
	}
	if len(d.Skills) > 0 {
		b = appendStrs(appendStr(b, "skills"), d.Skills)
	}
	if ms(d.Wait) != 0 {
		b = appendInt(appendStr(b, "wait_ms"), ms(d.Wait))
	}
	return appendExtraMsgpack(b, d.Extra, keys)
}

func (d *Routed) decodeMsgpack(r *reader) {
	for n := r.mapLen(); n > 0 && r.err == nil; n-- {
		switch k := r.member(inData); k {
		case "contact":
			d.Contact = r.uuid()
		case "queue":
			d.Queue = r.name()
		case "agent":
			d.Agent = r.name()
		case "skills":
			d.Skills = r.strs()
		case "wait_ms":
			d.Wait = r.ms()
		default:
			r.extra(&d.Extra, k)
		}
	}
}

func (d *Consulted) checkText() error {
	return notText("agent", d.Agent, "expert", d.Expert)
}

func (d *Consulted) appendMsgpack(b []byte) ([]byte, error) {
	keys := extraKeys(d.Extra, consultedFields)
	b = appendMapLen(b, 3+count(ms(d.Duration) != 0)+len(keys))
	b = appendUUID(appendStr(b, "contact"), d.Contact)
	b = appendStr(appendStr(b, "agent"), d.Agent)
	b = appendStr(appendStr(b, "expert"), d.Expert)
	if ms(d.Duration) != 0 {
		b = appendInt(appendStr(b, "duration_ms"), ms(d.Duration))
	}
	return appendExtraMsgpack(b, d.Extra, keys)
}

func (d *Consulted) decodeMsgpack(r *reader) {
	for n := r.mapLen(); n > 0 && r.err == nil; n-- {
		switch k := r.member(inData); k {
		case "contact":
			d.Contact = r.uuid()
		case "agent":
			d.Agent = r.name()
		case "expert":
			d.Expert = r.name()
		case "duration_ms":
			d.Duration = r.ms()
		default:
			r.extra(&d.Extra, k)
		}
	}
}

func (d *Resolved) checkText() error {
	return notText("agent", d.Agent, "code", d.Code)
}

func (d *Resolved) appendMsgpack(b []byte) ([]byte, error) {
	keys := extraKeys(d.Extra, resolvedFields)
	b = appendMapLen(b, 1+count(d.Agent != "", d.Bot, d.Code != "", ms(d.Handle) != 0)+len(keys))
	b = appendUUID(appendStr(b, "contact"), d.Contact)
	if d.Agent != "" {
		b = appendStr(appendStr(b, "agent"), d.Agent)
	}
	if d.Bot {
		b = appendBool(appendStr(b, "bot"), true)
	}
	if d.Code != "" {
		b = appendStr(appendStr(b, "code"), d.Code)
	}
	if ms(d.Handle) != 0 {
		b = appendInt(appendStr(b, "handle_ms"), ms(d.Handle))
	}
	return appendExtraMsgpack(b, d.Extra, keys)
}

func (d *Resolved) decodeMsgpack(r *reader) {
	for n := r.mapLen(); n > 0 && r.err == nil; n-- {
		switch k := r.member(inData); k {
		case "contact":
			d.Contact = r.uuid()
		case "agent":
			d.Agent = r.name()
		case "bot":
			d.Bot = r.bool()
		case "code":
			d.Code = r.name()
		case "handle_ms":
			d.Handle = r.ms()
		default:
			r.extra(&d.Extra, k)
		}
	}
}

func (d *Reopened) checkText() error {
	return notText("channel", d.Channel, "reason", d.Reason)
}

func (d *Reopened) appendMsgpack(b []byte) ([]byte, error) {
	keys := extraKeys(d.Extra, reopenedFields)
	b = appendMapLen(b, 2+count(d.Reason != "")+len(keys))
	b = appendUUID(appendStr(b, "contact"), d.Contact)
	b = appendStr(appendStr(b, "channel"), d.Channel)
	if d.Reason != "" {
		b = appendStr(appendStr(b, "reason"), d.Reason)
	}
	return appendExtraMsgpack(b, d.Extra, keys)
}

func (d *Reopened) decodeMsgpack(r *reader) {
	for n := r.mapLen(); n > 0 && r.err == nil; n-- {
		switch k := r.member(inData); k {
		case "contact":
			d.Contact = r.uuid()
		case "channel":
			d.Channel = r.name()
		case "reason":
			d.Reason = r.text()
		default:
			r.extra(&d.Extra, k)
		}
	}
}

func (d *Contacted) checkText() error {
	return notText("channel", d.Channel)
}

func (d *Contacted) appendMsgpack(b []byte) ([]byte, error) {
	keys := extraKeys(d.Extra, contactedFields)
	b = appendMapLen(b, 2+len(keys))
	b = appendUUID(appendStr(b, "contact"), d.Contact)
	b = appendStr(appendStr(b, "channel"), d.Channel)
	return appendExtraMsgpack(b, d.Extra, keys)
}

func (d *Contacted) decodeMsgpack(r *reader) {
	for n := r.mapLen(); n > 0 && r.err == nil; n-- {
		switch k := r.member(inData); k {
		case "contact":
			d.Contact = r.uuid()
		case "channel":
			d.Channel = r.name()
		default:
			r.extra(&d.Extra, k)
		}
	}
}

func (d *Abandoned) checkText() error { return nil }

func (d *Abandoned) appendMsgpack(b []byte) ([]byte, error) {
	keys := extraKeys(d.Extra, abandonedFields)
	b = appendMapLen(b, 1+count(ms(d.Wait) != 0)+len(keys))
	b = appendUUID(appendStr(b, "contact"), d.Contact)
	if ms(d.Wait) != 0 {
		b = appendInt(appendStr(b, "wait_ms"), ms(d.Wait))
	}
	return appendExtraMsgpack(b, d.Extra, keys)
}

func (d *Abandoned) decodeMsgpack(r *reader) {
	for n := r.mapLen(); n > 0 && r.err == nil; n-- {
		switch k := r.member(inData); k {
		case "contact":
			d.Contact = r.uuid()
		case "wait_ms":
			d.Wait = r.ms()
		default:
			r.extra(&d.Extra, k)
		}
	}
}

func (d *Rated) checkText() error {
	return notText("survey", string(d.Survey))
}

func (d *Rated) appendMsgpack(b []byte) ([]byte, error) {
	keys := extraKeys(d.Extra, ratedFields)
	hasContact := d.Contact != uuid.Nil
	b = appendMapLen(b, 2+count(hasContact)+len(keys))
	b = appendStr(appendStr(b, "survey"), string(d.Survey))
	b = appendInt(appendStr(b, "score"), int64(d.Score))
	if hasContact {
		b = appendUUID(appendStr(b, "contact"), d.Contact)
	}
	return appendExtraMsgpack(b, d.Extra, keys)
}

func (d *Rated) decodeMsgpack(r *reader) {
	scored := false
	defer func() {
		if !scored && r.err == nil {
			// A score of 0 is one of NPS: a missing one must not read as it.
			r.memberIn, r.missing = inData, "score"
			r.fail(&missingFieldError{Field: "score"})
		}
	}()
	for n := r.mapLen(); n > 0 && r.err == nil; n-- {
		switch k := r.member(inData); k {
		case "survey":
			d.Survey = Survey(r.name())
		case "score":
			// A nil score is none, as JSON's null is (the last of
			// two wins, as in JSON).
			if scored = !r.isNil(); scored {
				d.Score = int(r.int())
			}
		case "contact":
			d.Contact = r.uuid()
		default:
			r.extra(&d.Extra, k)
		}
	}
}

func (d *Classified) checkText() error {
	if err := notText("topic", d.Topic); err != nil {
		return err
	}
	return notTexts("topics", d.Topics)
}

func (d *Classified) appendMsgpack(b []byte) ([]byte, error) {
	keys := extraKeys(d.Extra, classifiedFields)
	b = appendMapLen(b, 1+count(len(d.Topics) > 0)+len(keys))
	b = appendStr(appendStr(b, "topic"), d.Topic)
	if len(d.Topics) > 0 {
		b = appendStrs(appendStr(b, "topics"), d.Topics)
	}
	return appendExtraMsgpack(b, d.Extra, keys)
}

func (d *Classified) decodeMsgpack(r *reader) {
	for n := r.mapLen(); n > 0 && r.err == nil; n-- {
		switch k := r.member(inData); k {
		case "topic":
			d.Topic = r.name()
		case "topics":
			d.Topics = r.strs()
		default:
			r.extra(&d.Extra, k)
		}
	}
}

// notText returns an error that names the first of fields, given as
// pairs of a name and a value, whose value is not UTF-8: the decoder
// refuses such text, so the encoder does not write it.
func notText(fields ...string) error {
	for i := 0; i+1 < len(fields); i += 2 {
		if !utf8.ValidString(fields[i+1]) {
			return fmt.Errorf("field %q: %w", fields[i], errNotUTF8("", fields[i+1]))
		}
	}
	return nil
}

// notTexts is notText of the elements of the list field name.
func notTexts(name string, list []string) error {
	for _, v := range list {
		if !utf8.ValidString(v) {
			return fmt.Errorf("field %q: %w", name, errNotUTF8("", v))
		}
	}
	return nil
}
