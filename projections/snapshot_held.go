package projections

import (
	"fmt"
	"reflect"
	"time"

	"github.com/google/uuid"

	"github.com/truefcr/truefcr/events"
)

// snapOpaque is an event held for a gap that a snapshot saves without its
// data, because the projection's registry would not read it back as the
// Go type it has (a host's type that the registry does not know, or knows
// under another Go type), or an events.Opaque: its id, place in its
// stream, time, type name, metadata and store position. The projections
// of this package do not read such data; a held event of a built-in Go
// type is never saved so (saveHeld).
type snapOpaque struct {
	ID, Issue [16]byte
	Version   uint64
	At        int64
	Type      string
	Meta      map[string]string `msgpack:",omitempty"`
	Position  uint64            `msgpack:",omitempty"`
}

// opaqueOf returns e saved by its name, without its data.
func opaqueOf(e *events.Envelope) snapOpaque {
	return snapOpaque{ID: e.ID, Issue: e.Issue, Version: e.Version, At: e.At.UnixNano(), Type: string(e.Type()),
		Meta: e.Meta, Position: e.Position}
}

// readsBack reports whether reg decodes the events of e's type into data
// of e's Go type, so that an encoded e reads back as it is: not so for a
// type it does not know, nor for a host's own Go type under a built-in
// name, which would read back as the built-in type.
func readsBack(reg *events.Registry, e *events.Envelope) bool {
	d, err := reg.New(e.Type())
	return err == nil && reflect.TypeOf(d) == reflect.TypeOf(e.Data)
}

// heldSaver saves events held for a gap: the encoded ones, their store
// positions (which the encoding leaves out; nil when all are 0), and the
// ones saved by name.
type heldSaver func(evs []events.Envelope) (enc [][]byte, pos []uint64, opaque []snapOpaque, err error)

// saveHeld encodes the held events evs with the msgpack codec of reg
// (events.NewRegistry() when nil). An event that reg would not read back
// as it is fails, unless byName allows saving it by name: for the
// projections of this package, which do not read its data, and only when
// it is not of a built-in Go type, whose data they do read. An
// events.Opaque, whose name is all it holds, is saved by name always.
func saveHeld(evs []events.Envelope, reg *events.Registry, byName bool) (enc [][]byte, pos []uint64, opaque []snapOpaque, err error) {
	if reg == nil {
		reg = events.NewRegistry()
	}
	codec := events.NewMsgpackCodec(reg)
	for i := range evs {
		e := &evs[i]
		_, isOpaque := e.Data.(*events.Opaque) // its name is all it holds
		if isOpaque || !readsBack(reg, e) {
			if !isOpaque && (!byName || events.IsBuiltin(e.Data)) {
				return nil, nil, nil, fmt.Errorf("held event of issue %s version %d: the registry does not read %q back as a %T: %w",
					e.Issue, e.Version, e.Type(), e.Data, events.ErrUnknownType)
			}
			opaque = append(opaque, opaqueOf(e))
			continue
		}
		b, err := codec.Append(nil, *e)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("held event of issue %s version %d: %w", e.Issue, e.Version, err)
		}
		enc, pos = append(enc, b), append(pos, e.Position)
	}
	return enc, noPositions(pos), opaque, nil
}

// noPositions returns pos, or nil when every position is 0.
func noPositions(pos []uint64) []uint64 {
	for _, p := range pos {
		if p != 0 {
			return pos
		}
	}
	return nil
}

// loadHeld returns the held events that saveHeld saved, encoded ones
// first, or an error naming the one that is not an event.
func loadHeld(enc [][]byte, opaque []snapOpaque, codec *events.MsgpackCodec) ([]events.Envelope, error) {
	out := make([]events.Envelope, 0, len(enc)+len(opaque))
	for i, b := range enc {
		e, err := codec.Decode(b)
		if err != nil {
			return nil, fmt.Errorf("held event %d: %w", i, err)
		}
		out = append(out, e)
	}
	for i, o := range opaque {
		if o.ID == uuid.Nil || o.Issue == uuid.Nil || o.Version == 0 || o.Type == "" {
			return nil, fmt.Errorf("held event %d saved without its data: no id, issue, version or type", len(enc)+i)
		}
		out = append(out, events.Envelope{ID: o.ID, Issue: o.Issue, Version: o.Version, At: time.Unix(0, o.At).UTC(),
			Data: &events.Opaque{Type: events.Type(o.Type)}, Meta: events.Meta(o.Meta), Position: o.Position})
	}
	return out, nil
}
