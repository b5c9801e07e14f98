package contact

import (
	"context"

	"github.com/truefcr/truefcr/events"
)

type ctxKey int

const (
	correlationKey ctxKey = iota
	causationKey
	idempotencyKey
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
// (events.MetaIdempotencyKey) and, finding it in the stream, does
// not decide the command again (see Service.Execute). Keys from several
// sources must not collide: prefix them with the source ("zendesk:…").
// "" is no key.
func WithIdempotencyKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, idempotencyKey, key)
}

// IdempotencyKey returns the idempotency key that ctx carries, or "".
func IdempotencyKey(ctx context.Context) string {
	key, _ := ctx.Value(idempotencyKey).(string)
	return key
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

// meta returns the metadata of the events of one command, whose partition
// key is key ("" for none).
func meta(ctx context.Context, key string) events.Meta {
	m := events.Meta{}
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
	}
	if len(m) == 0 {
		return nil
	}
	return m
}
