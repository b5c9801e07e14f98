package events

import (
	"context"
	"fmt"
	"iter"
	"math"
	"sync"

	"github.com/google/uuid"
)

// MemoryStore is a Store that keeps events in memory, encoded with a Codec
// (msgpack by default), so that what it holds costs what it would cost on a
// wire and no caller can change a stored event through a shared pointer. It
// is safe for concurrent use. The zero value is not usable: call
// NewMemoryStore.
//
// Encoded events lie back to back in large chunks, so that a log of
// millions of events is a few thousand objects for the garbage collector,
// not millions; a store holds up to 2³¹−1 events (ErrStoreFull beyond). The strings of the
// events that Load and ReadAll return share those chunks (with the msgpack
// codec): keeping one keeps its chunk.
type MemoryStore struct {
	codec   Codec
	scratch sync.Pool // *[]byte: encodings of one Append, made outside the lock

	mu      sync.RWMutex
	chunks  [][]byte // full-length chunks; bytes below a chunk's used part never change
	cur     int      // the chunk being filled
	used    int      // bytes used in chunks[cur]
	index   []span   // index i is the event at Position i+1
	streams map[uuid.UUID]streamTail
}

// span locates one encoded event and links it to the one before it in its
// stream, so that a stream costs no allocation of its own.
type span struct {
	chunk, off, n uint32
	prev          int32 // index of the previous event of the stream, or -1
}

// streamTail is the last event of a stream and the stream's length.
type streamTail struct {
	last    int32
	version uint32
}

// memoryStoreCap is how many events a MemoryStore holds: its links
// between a stream's events are int32 (a variable, for tests).
var memoryStoreCap = math.MaxInt32

const (
	firstChunk = 4 << 10 // a small store stays small
	maxChunk   = 1 << 20
)

// MemoryOption configures a MemoryStore.
type MemoryOption func(*MemoryStore)

// WithMemoryCodec makes the store keep events in the given codec's encoding.
func WithMemoryCodec(c Codec) MemoryOption {
	return func(s *MemoryStore) { s.codec = c }
}

// NewMemoryStore returns an empty in-memory store. Nil options are
// passed over.
func NewMemoryStore(opts ...MemoryOption) *MemoryStore {
	s := &MemoryStore{streams: make(map[uuid.UUID]streamTail), cur: -1}
	for _, o := range opts {
		if o != nil {
			o(s)
		}
	}
	if s.codec == nil {
		s.codec = NewMsgpackCodec(nil)
	}
	return s
}

// Append implements Store.
func (s *MemoryStore) Append(ctx context.Context, issue uuid.UUID, expected uint64, evs []Envelope) ([]Envelope, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := CheckAppend(issue, expected, evs); err != nil {
		return nil, err
	}
	// Encode outside the lock: it is the costly part and needs no state.
	buf, _ := s.scratch.Get().(*[]byte)
	if buf == nil {
		buf = new([]byte)
	}
	defer s.scratch.Put(buf)
	var endsArr [8]int
	ends := endsArr[:0]
	b := (*buf)[:0]
	for _, e := range evs {
		var err error
		if b, err = s.codec.Append(b, e); err != nil {
			return nil, err
		}
		ends = append(ends, len(b))
	}
	*buf = b

	s.mu.Lock()
	defer s.mu.Unlock()
	tail, ok := s.streams[issue]
	if !ok {
		tail.last = -1
	}
	if actual := uint64(tail.version); actual != expected {
		return nil, &VersionConflictError{Issue: issue, Expected: expected, Actual: actual}
	}
	if len(evs) > memoryStoreCap-len(s.index) {
		// Positions and links are 32-bit: one more would wrap.
		return nil, fmt.Errorf("append to issue %s: %d events would take the memory store beyond the %d it holds: %w",
			issue, len(evs), memoryStoreCap, ErrStoreFull)
	}
	out := make([]Envelope, len(evs))
	start := 0
	for i, end := range ends {
		sp := s.place(b[start:end])
		sp.prev = tail.last
		tail.last = int32(len(s.index))
		tail.version++
		s.index = append(s.index, sp)
		out[i] = evs[i]
		out[i].Position = uint64(len(s.index))
		start = end
	}
	s.streams[issue] = tail
	return out, nil
}

// place copies one encoded event into a chunk and returns where it is.
// The caller holds the write lock.
func (s *MemoryStore) place(b []byte) span {
	if s.cur < 0 || len(b) > len(s.chunks[s.cur])-s.used {
		size := firstChunk
		if s.cur >= 0 {
			size = min(2*len(s.chunks[s.cur]), maxChunk)
		}
		if len(b) > size {
			// An event larger than a chunk gets one of its own, and
			// the chunk being filled stays the same.
			s.chunks = append(s.chunks, append([]byte(nil), b...))
			return span{chunk: uint32(len(s.chunks) - 1), n: uint32(len(b))}
		}
		s.chunks = append(s.chunks, make([]byte, size))
		s.cur, s.used = len(s.chunks)-1, 0
	}
	copy(s.chunks[s.cur][s.used:], b)
	sp := span{chunk: uint32(s.cur), off: uint32(s.used), n: uint32(len(b))}
	s.used += len(b)
	return sp
}

// decode decodes a stored encoding. With the msgpack codec the event's
// strings are views of the stored bytes, which never change, rather than
// of a copy: reading copies no bytes, and an event longer than Decode
// copies with its data costs one allocation less.
func (s *MemoryStore) decode(b []byte) (Envelope, error) {
	if c, ok := s.codec.(*MsgpackCodec); ok {
		return c.decodeShared(b)
	}
	return s.codec.Decode(b)
}

// bytes returns the encoding that sp locates in chunks.
func (sp span) bytes(chunks [][]byte) []byte {
	return chunks[sp.chunk][sp.off : sp.off+sp.n : sp.off+sp.n]
}

// Load implements Store.
func (s *MemoryStore) Load(ctx context.Context, issue uuid.UUID) ([]Envelope, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	tail := s.streams[issue]
	raw := make([][]byte, tail.version)
	positions := make([]uint64, tail.version)
	for i, j := len(raw)-1, tail.last; i >= 0; i-- {
		raw[i], positions[i] = s.index[j].bytes(s.chunks), uint64(j)+1
		j = s.index[j].prev
	}
	s.mu.RUnlock()

	out := make([]Envelope, len(raw))
	for i, b := range raw {
		e, err := s.decode(b)
		if err != nil {
			return nil, fmt.Errorf("load issue %s: decode event at position %d (version %d): %w", issue, positions[i], i+1, err)
		}
		e.Position = positions[i]
		out[i] = e
	}
	return out, nil
}

// ReadAll implements Store.
func (s *MemoryStore) ReadAll(ctx context.Context, after uint64) iter.Seq2[Envelope, error] {
	return func(yield func(Envelope, error) bool) {
		next := after // the Position of the last event yielded
		for {
			if err := ctx.Err(); err != nil {
				yield(Envelope{}, err)
				return
			}
			// Spans below len(index) and the chunk bytes they locate never
			// change, so they are read without the lock.
			s.mu.RLock()
			index, chunks := s.index, s.chunks
			s.mu.RUnlock()
			if next >= uint64(len(index)) {
				return
			}
			for ; next < uint64(len(index)); next++ {
				if next%256 == 0 {
					if err := ctx.Err(); err != nil {
						yield(Envelope{}, err)
						return
					}
				}
				e, err := s.decode(index[next].bytes(chunks))
				if err != nil {
					yield(Envelope{}, fmt.Errorf("decode event at position %d: %w", next+1, err))
					return
				}
				e.Position = next + 1
				if !yield(e, nil) {
					return
				}
			}
		}
	}
}

// Len returns how many events the store holds.
func (s *MemoryStore) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.index)
}
