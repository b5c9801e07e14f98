package projections

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/vmihailenco/msgpack/v5"
)

// sealMagic starts a sealed snapshot: the snapshot's bytes follow it, and
// then their CRC-32C (Castagnoli), big-endian. Every snapshot and
// checkpoint state is written sealed, so that one damaged in storage (a
// flipped bit, a stray edit) is refused at its restore rather than
// restored into a state that counts wrong. A snapshot written before they
// were sealed starts with a msgpack map or a runner state's "TFRS", never
// with this, and is read as it is.
const sealMagic = "TFSEAL\x01"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// marshalSealed returns the sealed msgpack encoding of v, as
// msgpack.Marshal encodes it: encoded after the magic and summed in place,
// rather than copied behind it, which cost a quarter more time on a
// Reporter's snapshot, whose parts are sealed too.
func marshalSealed(v any) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(sealMagic)
	if err := msgpack.NewEncoder(&buf).Encode(v); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b[len(sealMagic):], castagnoli)), nil
}

// sealed returns the snapshot that b seals, unchecked, and whether b is
// sealed.
func sealed(b []byte) ([]byte, bool) {
	if !bytes.HasPrefix(b, []byte(sealMagic)) || len(b) < len(sealMagic)+4 {
		return nil, false
	}
	return b[len(sealMagic) : len(b)-4], true
}

// unseal returns the snapshot that b seals once its checksum holds, or b
// itself when it is not sealed. The error, of a restore by what, wraps
// sentinel.
func unseal(what string, b []byte, sentinel error) ([]byte, error) {
	if !bytes.HasPrefix(b, []byte(sealMagic)) {
		return b, nil
	}
	body, ok := sealed(b)
	if !ok {
		return nil, fmt.Errorf("%s restore: a sealed snapshot of %d bytes, shorter than its checksum: %w", what, len(b), sentinel)
	}
	want := binary.BigEndian.Uint32(b[len(b)-4:])
	if got := crc32.Checksum(body, castagnoli); got != want {
		return nil, fmt.Errorf("%s restore: the snapshot's checksum is %08x where its bytes sum to %08x: it was damaged after it was written: %w",
			what, want, got, sentinel)
	}
	return body, nil
}
