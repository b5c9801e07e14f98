package contact

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/internal/text"
)

// keyed returns the event of evs that carries r's idempotency key, if
// any: the command ran before and appended it. An event of another kind,
// or one that another command appended (its fingerprint differs: other
// data, other metadata of the host's, another tenant), refuses it.
func keyed(evs []events.Envelope, r *run) ([]events.Envelope, bool, error) {
	i := lastKeyed(evs, func(k string) bool { return k == r.key })
	if i < 0 {
		// The key recorded with padding that shows as nothing, or
		// without (sameKey): earlier builds took both as keys apart, so
		// the exact one goes first.
		i = lastKeyed(evs, r.sameKey)
	}
	if i < 0 {
		return nil, false, nil
	}
	e := &evs[i]
	reused := func(format string, args ...any) ([]events.Envelope, bool, error) {
		// Quoted with what shows as nothing escaped: the keys may
		// differ by it.
		said := fmt.Sprintf("idempotency key %s names version %d, ", text.Quoted(r.key), e.Version)
		if k := e.Meta[events.MetaIdempotencyKey]; k != r.key {
			said = fmt.Sprintf("idempotency key %s names version %d (recorded as %s), ", text.Quoted(r.key), e.Version, text.Quoted(k))
		}
		return nil, true, &CommandError{Op: r.cmd.Op(), Issue: r.issue, Err: ErrKeyReused, Reason: said + fmt.Sprintf(format, args...)}
	}
	if ts := appends(r.cmd); !slices.Contains(ts, e.Type()) {
		return reused("an %s event, where %s appends %s", e.Type(), r.cmd.Op(), joinTypes(ts))
	}
	if fp, ok := e.Meta[metaFingerprint]; ok && !sameCommand(fp, r) {
		return reused("which another %s command appended (its data or metadata differ)", r.cmd.Op())
	}
	return evs[i : i+1 : i+1], true, nil
}

// lastKeyed returns the index of the last event of evs whose idempotency
// key is, -1 for none.
func lastKeyed(evs []events.Envelope, is func(key string) bool) int {
	for i := len(evs) - 1; i >= 0; i-- {
		if k := evs[i].Meta[events.MetaIdempotencyKey]; k != "" && is(k) {
			return i
		}
	}
	return -1
}

// metaFingerprint is the metadata key of the fingerprint of the command
// that appended an event with an idempotency key.
const metaFingerprint = "idempotency_fingerprint"

// fingerprint returns a digest of cmd as given, and of the host's
// metadata (hostMeta, nil for none): two runs of one command have the same, two commands that
// differ in any field, or in the tenant they ran for, not. What Decide
// makes the same does not count: the time's zone (and monotonic reading),
// parts of durations finer than a millisecond, a nil slice or map against
// an empty one, and of an Open, padding around the customer's id (spaces
// and zero-width characters, as Decide trims them) and the
// keys as keys normalises them (padding as around the id, case, spelling, keys given twice,
// withheld numbers; not for an Open that gives more keys than it may,
// which Decide refuses as given) and their order, which identifies no
// one otherwise (a host that builds them from a map gives each delivery
// its own). The command is encoded in Go's syntax (%#v), exact to the
// byte, but for the extra data of a customer, which is encoded as the
// wire format writes it (JSON: numbers apart from strings, what pointers
// point to). The digest starts with the version of this encoding
// (fingerprintVersion).
func fingerprint(cmd Command, host events.Meta, keys KeyRules) string {
	return digest(fingerprintVersion, cmd, host, &keys, true, text.Trim)
}

// fingerprintV4 is fingerprint as version "f4:" made it, whose keys were
// trimmed of white space only (KeyRules.Parse trims the characters that
// show as nothing too since f5): the events stamped so are compared with
// it.
func fingerprintV4(cmd Command, host events.Meta, keys KeyRules) string {
	keys.spacesOnly = true
	return digest(fingerprintV4Tag, cmd, host, &keys, true, text.Trim)
}

// fingerprintV3 is fingerprint as version "f3:" made it, which trimmed an
// Open's customer id of spaces only, and its keys as f4: the events
// stamped so are compared with it.
func fingerprintV3(cmd Command, host events.Meta, keys KeyRules) string {
	keys.spacesOnly = true
	return digest(fingerprintV3Tag, cmd, host, &keys, true, strings.TrimSpace)
}

// fingerprintV2 is fingerprint as version "f2:" made it, in which the
// order of an Open's keys counted: the events stamped so are compared
// with it.
func fingerprintV2(cmd Command, host events.Meta, keys KeyRules) string {
	keys.spacesOnly = true
	return digest(fingerprintV2Tag, cmd, host, &keys, false, strings.TrimSpace)
}

// fingerprintV1 is fingerprint as version "f1:" made it, which did not
// normalise an Open's customer: the events stamped so are compared with
// it.
func fingerprintV1(cmd Command, host events.Meta) string {
	return digest(fingerprintV1Tag, cmd, host, nil, false, nil)
}

// digest is the fingerprint of cmd tagged tag, an Open's customer
// normalised by keys unless keys is nil (its id trimmed by trim), and its
// keys then sorted when sorted is set.
func digest(tag string, cmd Command, host events.Meta, keys *KeyRules, sorted bool, trim func(string) string) string {
	v := reflect.ValueOf(cmd)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	c := reflect.New(v.Type()).Elem()
	c.Set(v)
	if o, ok := c.Addr().Interface().(*Open); ok && keys != nil && len(o.Customer.Keys) <= MaxList {
		o.Customer.ID = trim(o.Customer.ID)
		if ks, err := keys.NormalizeAll(o.Customer.Keys); err == nil {
			if sorted {
				slices.Sort(ks) // a copy of the command's keys
			}
			o.Customer.Keys = ks // else the command is refused
		}
	}
	var extras []byte
	normalise(c, &extras)
	sum := sha256.Sum256(fmt.Appendf(nil, "%s\x00%#v\x00%#v\x00%s", cmd.Op(), c.Interface(), host, extras))
	return tag + hex.EncodeToString(sum[:16])
}

// fingerprintVersion tags a fingerprint with its encoding: an event whose
// fingerprint has the tag of an earlier one is compared with the command's
// by that encoding (fingerprintV4 to fingerprintV1), so that a command
// retried across an upgrade is the command it was; one with another tag
// (or none) was stamped by an encoding this build does not know, and its
// key is taken for the command's without comparing.
const (
	fingerprintVersion = "f5:"
	fingerprintV4Tag   = "f4:"
	fingerprintV3Tag   = "f3:"
	fingerprintV2Tag   = "f2:"
	fingerprintV1Tag   = "f1:"
)

// sameCommand reports whether fp, the fingerprint an event carries, may
// be the one of r's command, by the encoding fp names.
func sameCommand(fp string, r *run) bool {
	switch {
	case strings.HasPrefix(fp, fingerprintVersion):
		return fp == r.fp
	case strings.HasPrefix(fp, fingerprintV4Tag):
		return fp == fingerprintV4(r.cmd, r.host, r.rules)
	case strings.HasPrefix(fp, fingerprintV3Tag):
		return fp == fingerprintV3(r.cmd, r.host, r.rules)
	case strings.HasPrefix(fp, fingerprintV2Tag):
		return fp == fingerprintV2(r.cmd, r.host, r.rules)
	case strings.HasPrefix(fp, fingerprintV1Tag):
		return fp == fingerprintV1(r.cmd, r.host)
	}
	return true
}

// normalise sets the fields of the struct v, and of the structs in it, to
// what Decide makes of them: times in UTC, durations in whole
// milliseconds, empty slices and maps nil. Extra data (events.Extra) it
// takes out, appending its JSON to extras.
func normalise(v reflect.Value, extras *[]byte) {
	for i := range v.NumField() {
		f := v.Field(i)
		if !f.CanSet() {
			continue
		}
		switch {
		case f.Type() == reflect.TypeFor[time.Time]():
			f.Set(reflect.ValueOf(f.Interface().(time.Time).UTC()))
		case f.Type() == reflect.TypeFor[time.Duration]():
			f.SetInt(int64(wholeMS(time.Duration(f.Int()))))
		case (f.Kind() == reflect.Slice || f.Kind() == reflect.Map) && f.Len() == 0:
			f.SetZero()
		case f.Type() == reflect.TypeFor[events.Extra]():
			b, err := json.Marshal(f.Interface())
			if err != nil {
				// Data the wire format cannot hold, which the command's
				// checks refuse: what is wrong with it, as printing it
				// might not end (a map that holds itself).
				b = fmt.Appendf(nil, "unencodable: %v", err)
			}
			*extras = append(append(*extras, b...), 0)
			f.SetZero()
		case f.Kind() == reflect.Struct:
			normalise(f, extras)
		}
	}
}

// keyProblem says what is wrong with an idempotency key: one that is not
// UTF-8, holds a control character (or a line separator, or a control of
// the direction of text), is padded or longer than 256 bytes.
func keyProblem(key string) string { return keyProblemBy(key, text.Trim) }

// keyProblemBy is keyProblem with padding as trim takes it off.
func keyProblemBy(key string, trim func(string) string) string {
	switch {
	case len(key) > 256:
		return fmt.Sprintf("idempotency key of %d bytes is longer than 256", len(key))
	case trim(key) != key:
		// Quoted with what shows as nothing escaped: the padding may.
		return fmt.Sprintf("idempotency key %s is blank or padded", text.Quoted(key))
	}
	return printable("idempotency key", key)
}

// earlierKey reports whether key, which keyProblem refuses, is one that
// earlier builds took, as they looked for padding of spaces only: padded
// with characters that show as nothing (a byte-order mark, a zero-width
// space), or made of them only, with nothing else wrong.
func earlierKey(key string) bool { return keyProblemBy(key, strings.TrimSpace) == "" }

// sameKey reports whether key, which an event carries, is the key of r:
// the same, or the same but for padding that shows as nothing, which
// earlier builds took (an event recorded with "webhook:41" followed by a
// zero-width space is a run of the command that "webhook:41" runs, and
// the other way round). A key that shows as nothing at all is only
// itself.
func (r *run) sameKey(key string) bool {
	if key == r.key {
		return true
	}
	if key == "" || r.trimmedKey == "" {
		return false
	}
	return key == r.trimmedKey || len(key) > len(r.trimmedKey) && text.Trim(key) == r.trimmedKey
}

// keyedIssues is the namespace of the ids that IssueForKey makes.
var keyedIssues = uuid.MustParse("8f1d6a62-3c1e-4d4b-9a57-2b0e6f7c9d11")

// IssueForKey returns the id of the issue that an Open with issue
// uuid.Nil opens when run with idempotency key key: a name-based UUID
// (version 5) of the key, the same for every run.
func IssueForKey(key string) uuid.UUID { return uuid.NewSHA1(keyedIssues, []byte(key)) }
