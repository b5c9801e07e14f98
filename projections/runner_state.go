package projections

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/google/uuid"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/internal/msgpackcheck"
)

// runnerStateMagic starts a checkpoint state written by a Runner that
// sequences the events for its projection: the runner's own sequencer (the
// last version applied of every issue and the events held for a gap)
// followed by the projection's state. runnerDirectMagic starts one of a
// runner whose projection sequences the events itself (SelfSequencing):
// the same layout, with no versions and no held events. A runner that
// sequences refuses it, as it could not tell which events were applied;
// a runner of a SelfSequencing projection takes both. runnerStateMagic1
// starts the states of runners before held events were saved each in a
// codec of its own (see appendRunnerState), which are still read.
const (
	runnerStateMagic1 = "TFRS\x01"
	runnerDirectMagic = "TFRS\x02"
	runnerStateMagic  = "TFRS\x03"
)

// runnerState is what decodeRunnerState reads.
type runnerState struct {
	positions  map[uuid.UUID]uint64
	held       []events.Envelope
	projection []byte
	direct     bool // written for a SelfSequencing projection
}

// appendRunnerState appends the runner's checkpoint state to b, sealed
// (see seal): seq's, or
// that of a runner that does not sequence when seq is nil. Each held
// event is saved with the name of the codec that saved it, the first of
// codecs that can: an event that came in JSON may hold what msgpack
// cannot (a number beyond a float64's range in a field the type does not
// know). An events.Opaque (RunnerConfig.SkipUnknownTypes), which no codec
// writes, is saved by its name, as the projections' snapshots save it
// (snapOpaque), under the codec name "".
func appendRunnerState(b []byte, seq *Sequencer, codecs []events.Codec, projection []byte) ([]byte, error) {
	magic := runnerDirectMagic
	var positions map[uuid.UUID]uint64
	var held []events.Envelope
	if seq != nil {
		magic, positions, held = runnerStateMagic, seq.Positions(), seq.HeldEvents()
	}
	b = append(b, sealMagic...)
	start := len(b)
	b = append(b, magic...)
	b = appendString(b, codecs[0].Name())
	b = binary.AppendUvarint(b, uint64(len(positions)))
	for id, v := range positions {
		b = append(b, id[:]...)
		b = binary.AppendUvarint(b, v)
	}
	b = binary.AppendUvarint(b, uint64(len(held)))
	for _, e := range held {
		name, enc, err := encodeHeld(e, codecs)
		if err != nil {
			return nil, fmt.Errorf("held event of issue %s version %d: %w", e.Issue, e.Version, err)
		}
		b = appendString(appendString(b, name), string(enc))
	}
	b = append(b, projection...)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b[start:], castagnoli)), nil
}

// encodeHeld returns the name of the first of codecs that encodes e, and
// the encoding; for an events.Opaque, "" and its snapOpaque in msgpack.
// The error is the first codec's.
func encodeHeld(e events.Envelope, codecs []events.Codec) (string, []byte, error) {
	if _, ok := e.Data.(*events.Opaque); ok {
		o := opaqueOf(&e)
		enc, err := msgpack.Marshal(&o)
		return "", enc, err
	}
	var first error
	for _, c := range codecs {
		enc, err := c.Append(nil, e)
		if err == nil {
			return c.Name(), enc, nil
		}
		first = cmp.Or(first, err)
	}
	return "", nil, first
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// errState is the cause of every runner state that does not decode.
var errState = errors.New("not a runner state")

// decodeRunnerState reads back what appendRunnerState wrote.
func decodeRunnerState(b []byte, codecs []events.Codec) (runnerState, error) {
	// With no codecs at all, held events are read past, not decoded.
	var st runnerState
	b, err := unseal("runner state", b, errState)
	if err != nil {
		return st, err
	}
	d := stateReader{b: b}
	perEvent := false // each held event names its codec
	switch {
	case len(b) < len(runnerStateMagic):
		return st, fmt.Errorf("runner state: bad header: %w", errState)
	case string(b[:len(runnerStateMagic)]) == runnerStateMagic:
		perEvent = true
	case string(b[:len(runnerStateMagic1)]) == runnerStateMagic1:
	case string(b[:len(runnerDirectMagic)]) == runnerDirectMagic:
		st.direct = true
	default:
		return st, fmt.Errorf("runner state: bad header: %w", errState)
	}
	d.off = len(runnerStateMagic)
	name := d.string()
	n := d.uvarint()
	if d.err == nil && n > uint64(len(b)) {
		d.fail("stream count")
	}
	st.positions = make(map[uuid.UUID]uint64, min(n, uint64(len(b))))
	for i := uint64(0); i < n && d.err == nil; i++ {
		var id uuid.UUID
		copy(id[:], d.take(16))
		if st.positions[id] = d.uvarint(); st.positions[id] > events.MaxVersion {
			d.fail("version")
		}
	}
	nh := d.uvarint()
	for i := uint64(0); i < nh && d.err == nil; i++ {
		if perEvent {
			name = d.string()
		}
		raw := d.string()
		if d.err != nil || codecs == nil {
			continue // read past
		}
		e, err := decodeHeld(name, []byte(raw), codecs)
		if err != nil {
			return runnerState{}, fmt.Errorf("runner state: held event %d: %w", i, err)
		}
		st.held = append(st.held, e)
	}
	if d.err != nil {
		return runnerState{}, d.err
	}
	st.projection = b[d.off:]
	return st, nil
}

// decodeHeld decodes a held event that encodeHeld saved with the codec
// named name, or by its name when name is "".
func decodeHeld(name string, raw []byte, codecs []events.Codec) (events.Envelope, error) {
	if name == "" {
		var o snapOpaque
		if err := msgpackcheck.Unmarshal(raw, &o); err != nil {
			return events.Envelope{}, fmt.Errorf("saved without its data: %w: %w", err, errState)
		}
		evs, err := loadHeld(nil, []snapOpaque{o}, nil)
		if err != nil {
			return events.Envelope{}, fmt.Errorf("%w: %w", err, errState)
		}
		return evs[0], nil
	}
	for _, c := range codecs {
		if c.Name() == name {
			return c.Decode(raw)
		}
	}
	return events.Envelope{}, fmt.Errorf("in codec %q, which the runner does not have: %w", name, errState)
}

// stateReader reads the parts of a runner state, keeping the first error.
type stateReader struct {
	b   []byte
	off int
	err error
}

func (d *stateReader) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("runner state: bad %s at byte %d: %w", what, d.off, errState)
	}
}

func (d *stateReader) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.fail("number")
		return 0
	}
	d.off += n
	return v
}

func (d *stateReader) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || d.off+n > len(d.b) {
		d.fail("length")
		return nil
	}
	s := d.b[d.off : d.off+n]
	d.off += n
	return s
}

func (d *stateReader) string() string {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)) {
		d.fail("length")
		return ""
	}
	return string(d.take(int(n)))
}
