package events

import (
	"reflect"
	"time"
)

// Codec turns events into bytes and back. Implementations are safe for
// concurrent use.
type Codec interface {
	// Name names the codec ("msgpack", "json"); transports carry it in the
	// message metadata so that a reader knows how to decode.
	Name() string
	// Append appends the encoding of e to dst and returns the result.
	Append(dst []byte, e Envelope) ([]byte, error)
	// Decode decodes one event. Errors are *DecodeError and wrap
	// ErrMalformed, or ErrUnknownType for a type the registry does not know.
	Decode(src []byte) (Envelope, error)
}

// checkEncodable reports what keeps e from being encoded.
func checkEncodable(codec string, e Envelope, reg *Registry) (*typeInfo, error) {
	if !e.HasData() {
		return nil, invalid(codec+" encode", e, "%s", e.NoData())
	}
	info := reg.lookup(e.Data.EventType())
	if info == nil {
		return nil, invalid(codec+" encode", e, "type %q is not registered", e.Data.EventType())
	}
	if typeWord(e.Data) != info.typeWord && reflect.TypeOf(e.Data) != info.goType {
		// It would not read back as what was written, if whole.
		return nil, invalid(codec+" encode", e, "data of type %q is a %T, where the registry has a %s", e.Data.EventType(), e.Data, info.goType)
	}
	if e.Version == 0 {
		// Both decoders refuse it: a message or a line no one could read.
		return nil, invalid(codec+" encode", e, "versions start at 1")
	}
	if e.At.IsZero() {
		return nil, invalid(codec+" encode", e, "no event time")
	}
	if !InTimeRange(e.At) {
		return nil, invalid(codec+" encode", e, "event time %s is out of range", e.At)
	}
	return info, nil
}

// InTimeRange reports whether t lies within the years that the codecs
// write, 1678 to 2261 in UTC, whatever t's zone: within the range of Unix
// nanoseconds, which the projections compare.
func InTimeRange(t time.Time) bool {
	sec := t.Unix()
	return sec >= minTimeSec && sec < endTimeSec
}

// The first seconds of 1678 and of 2262 UTC, in Unix seconds: the range
// of InTimeRange, which a year's arithmetic would cost several times as
// much to compute.
const (
	minTimeSec = -9_214_560_000
	endTimeSec = 9_214_646_400
)

// inTimeRangeNS is InTimeRange of a time in Unix nanoseconds.
func inTimeRangeNS(ns int64) bool {
	return ns >= minTimeSec*int64(time.Second) && ns < endTimeSec*int64(time.Second)
}
