package contact

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/truefcr/truefcr/events"
)

type ctxKey int

const (
	correlationKey ctxKey = iota
	causationKey
	idempotencyKey
	metaKey
)

// WithCorrelationID returns ctx carrying the correlation id that the
// Service stamps on the events of the commands it runs with it.
func WithCorrelationID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, correlationKey, id)
}

// WithCausationID returns ctx carrying the causation id (the id of the
// message or event that caused the command) that the Service stamps on the
// events of the commands it runs with it.
func WithCausationID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, causationKey, id)
}

// WithIdempotencyKey returns ctx carrying an idempotency key: a name for
// one command, unique among the commands of the Service's store, such as
// the id of the webhook delivery that asked for it. A command run again
// with the same key (a redelivery, a retry after a timeout) then takes
// effect once: the Service stamps the key on the command's event
// (events.MetaIdempotencyKey, with a fingerprint of the command and of the
// host's metadata, "idempotency_fingerprint") and, finding it in the
// issue's stream, does not decide the command again (see
// Service.Execute). The key is looked for in the stream of the command's
// issue: run the command the same way each time (an Open with the issue's
// id, or without one, not one and then the other; Resolve{} and a Resolve
// that names the contact are two commands, though they may append the
// same event). What the Service makes the same counts as the same: a
// time in another zone, a duration's part finer than a millisecond, an
// empty slice for a nil one, an Open's customer id padded, its keys
// spelt otherwise but normalised alike (KeyRules), in another order,
// given twice or with a withheld number among them (the retry returns the
// event of the first run, its keys in that run's order). A customer's
// extra data counts as the JSON wire format writes it, which keeps a
// number's text: json.Number("2.50") and 2.5 are two commands, though a
// msgpack store holds both as 2.5, so decode each delivery alike. Keys from several sources must not collide:
// prefix them with the source ("zendesk:…"); a key that comes back with
// another command on the same issue is refused (ErrKeyReused), while one
// reused on another issue goes unnoticed, as only the stream is
// looked at. A key is at most 256 bytes of UTF-8, not padded with
// spaces or characters that show as nothing (a byte-order mark), without
// control characters, line separators or controls of the direction of
// text; "" is no key. (Earlier builds took a key padded with characters
// that show as nothing, or made of them: a retry of a command that one
// recorded with such a key returns its event; any other command with one
// is refused. A key is the same with or without such padding, so a
// delivery recorded with it and retried without, or the other way round,
// takes effect once; but for an Open by key, whose issue IssueForKey
// makes of the key as given.)
func WithIdempotencyKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, idempotencyKey, key)
}

// IdempotencyKey returns the idempotency key that ctx carries, or "".
func IdempotencyKey(ctx context.Context) string {
	key, _ := ctx.Value(idempotencyKey).(string)
	return key
}

// WithMeta returns ctx carrying metadata of the host's (events.MetaTenant,
// events.MetaSource, keys of its own) that the Service stamps on the
// events of the commands it runs with it. It adds to the metadata that ctx
// carries already, a key given again taking its new value. The Service
// does not take from it the keys that it sets itself:
// events.MetaPartitionKey, which follows the opening, and the
// correlation and causation ids and the idempotency key, which the
// functions above give.
func WithMeta(ctx context.Context, m events.Meta) context.Context {
	merged := Meta(ctx)
	if merged == nil {
		merged = events.Meta{}
	}
	maps.Copy(merged, m)
	return context.WithValue(ctx, metaKey, merged)
}

// Meta returns a copy of the metadata that ctx carries (WithMeta), or nil.
func Meta(ctx context.Context) events.Meta {
	m, _ := ctx.Value(metaKey).(events.Meta)
	return maps.Clone(m)
}

// CorrelationID returns the correlation id that ctx carries, or "".
func CorrelationID(ctx context.Context) string {
	id, _ := ctx.Value(correlationKey).(string)
	return id
}

// CausationID returns the causation id that ctx carries, or "".
func CausationID(ctx context.Context) string {
	id, _ := ctx.Value(causationKey).(string)
	return id
}

// serviceMeta are the metadata keys that the Service sets itself.
var serviceMeta = []string{events.MetaPartitionKey, events.MetaCorrelationID, events.MetaCausationID, events.MetaIdempotencyKey, metaFingerprint}

// hostMeta returns the metadata of the host's that ctx carries (WithMeta)
// without the keys the Service sets itself, whatever WithMeta said; nil
// for none.
func hostMeta(ctx context.Context) events.Meta {
	m := Meta(ctx)
	for _, k := range serviceMeta {
		delete(m, k)
	}
	if len(m) == 0 {
		return nil
	}
	return m
}

// metaProblem says what is wrong with the host's metadata m: more than
// MaxList entries, or a key or value that is not printable (see
// printable); "" for nothing.
func metaProblem(m events.Meta) string {
	if problem := tooMany("metadata entries", len(m)); problem != "" {
		return problem
	}
	for _, k := range slices.Sorted(maps.Keys(m)) { // the same error every time
		if problem := printable("metadata key", k); problem != "" {
			return problem
		}
		if problem := printable(fmt.Sprintf("metadata %s", abbreviate(k)), m[k]); problem != "" {
			return problem
		}
	}
	return ""
}

// meta returns the metadata of the events of one command, whose partition
// key is key ("" for none) and whose fingerprint, with an idempotency
// key, is fp.
func meta(ctx context.Context, key, fp string) events.Meta {
	m := hostMeta(ctx)
	if m == nil {
		m = events.Meta{}
	}
	if key != "" {
		m[events.MetaPartitionKey] = key
	}
	if id := CorrelationID(ctx); id != "" {
		m[events.MetaCorrelationID] = id
	}
	if id := CausationID(ctx); id != "" {
		m[events.MetaCausationID] = id
	}
	if k := IdempotencyKey(ctx); k != "" {
		m[events.MetaIdempotencyKey] = k
		m[metaFingerprint] = fp
	}
	if len(m) == 0 {
		return nil
	}
	return m
}
