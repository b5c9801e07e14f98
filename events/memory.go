package events

import (
	"context"
	"iter"
	"sync"

	"github.com/google/uuid"
)

// MemoryStore is a Store that keeps events in memory, encoded with a Codec
// (msgpack by default), so that what it holds costs what it would cost on a
// wire and no caller can change a stored event through a shared pointer. It
// is safe for concurrent use. The zero value is not usable: call
// NewMemoryStore.
type MemoryStore struct {
	codec Codec

	mu      sync.RWMutex
	log     [][]byte              // encoded events; index i has Position i+1
	streams map[uuid.UUID][]int32 // log indexes of each stream, in version order
}

// MemoryOption configures a MemoryStore.
type MemoryOption func(*MemoryStore)

// WithMemoryCodec makes the store keep events in the given codec's encoding.
func WithMemoryCodec(c Codec) MemoryOption {
	return func(s *MemoryStore) { s.codec = c }
}

// NewMemoryStore returns an empty in-memory store.
func NewMemoryStore(opts ...MemoryOption) *MemoryStore {
	s := &MemoryStore{streams: make(map[uuid.UUID][]int32)}
	for _, o := range opts {
		o(s)
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
	encoded := make([][]byte, len(evs))
	for i, e := range evs {
		b, err := s.codec.Append(nil, e)
		if err != nil {
			return nil, err
		}
		encoded[i] = b
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	stream := s.streams[issue]
	if actual := uint64(len(stream)); actual != expected {
		return nil, &VersionConflictError{Issue: issue, Expected: expected, Actual: actual}
	}
	out := make([]Envelope, len(evs))
	for i, b := range encoded {
		stream = append(stream, int32(len(s.log)))
		s.log = append(s.log, b)
		out[i] = evs[i]
		out[i].Position = uint64(len(s.log))
	}
	s.streams[issue] = stream
	return out, nil
}

// Load implements Store.
func (s *MemoryStore) Load(ctx context.Context, issue uuid.UUID) ([]Envelope, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	idx := s.streams[issue]
	raw := make([][]byte, len(idx))
	for i, j := range idx {
		raw[i] = s.log[j]
	}
	positions := idx // never changed in place: appends copy or extend beyond len
	s.mu.RUnlock()

	out := make([]Envelope, len(raw))
	for i, b := range raw {
		e, err := s.codec.Decode(b)
		if err != nil {
			return nil, err
		}
		e.Position = uint64(positions[i]) + 1
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
			s.mu.RLock()
			log := s.log // elements below len never change, so no lock is needed to read them
			s.mu.RUnlock()
			if next >= uint64(len(log)) {
				return
			}
			for ; next < uint64(len(log)); next++ {
				if next%256 == 0 {
					if err := ctx.Err(); err != nil {
						yield(Envelope{}, err)
						return
					}
				}
				e, err := s.codec.Decode(log[next])
				if err != nil {
					yield(Envelope{}, err)
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
	return len(s.log)
}
