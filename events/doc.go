// Package events is the vocabulary of the contact lifecycle: the Envelope
// that every recorded event travels in, one Go type per lifecycle event
// (issue.opened, issue.routed, …), the codecs that turn events into bytes
// (msgpack, the compact default, and JSON, the wire format that helpdesks
// exchange), the Registry of event types with their schema versions and
// upcasters, and the Store that keeps one stream per issue.
//
// Nothing here knows about the Issue aggregate or the projections: the
// contact package writes events, the projections package reads them, and
// both speak this package.
//
// # Streams and positions
//
// Every issue is one stream. Its events carry versions 1, 2, 3… without
// gaps. A Store appends to a stream only at the version the writer expects
// (optimistic concurrency: a lost race is ErrVersionConflict) and assigns
// every stored event a global Position, so that ReadAll can replay the
// whole history in one order and a projection can resume from where it
// stopped.
//
// # Codecs
//
// A Codec appends one encoded event to a byte slice and decodes one event
// from bytes. Both codecs need a Registry, which says which event types
// exist and how older shapes of them are upcast to the current one; build
// one with NewRegistry and pass it around: there is no global registry.
//
// Decoded events are normalised: times are UTC, durations are whole
// milliseconds (a codec writes a duration's whole milliseconds and drops
// the rest, as the wire format's *_ms members hold), empty metadata is
// nil. What a codec writes, both read
// back: each refuses to write text that is not UTF-8, in the data or the
// metadata, and what Extra says neither reads.
package events
