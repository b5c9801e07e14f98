package projections

import (
	"context"
	"sync"
	"time"
)

// Checkpoint records how far a projection has come: the global store
// position it covers and, for projections that can save their state, that
// state, so that a restart resumes instead of replaying history.
type Checkpoint struct {
	// Position is the last store Position the state covers; 0 for none.
	Position uint64
	// State is the projection's saved state (encoding.BinaryMarshaler), or
	// nil for a projection that keeps its state elsewhere.
	State []byte
	// Saved is when the checkpoint was written.
	Saved time.Time
}

// CheckpointStore keeps one checkpoint per projection name. Save replaces
// the previous checkpoint atomically: after a crash, Load returns either
// the old checkpoint or the new one, never a mix.
type CheckpointStore interface {
	// Load returns the checkpoint of name, and false when there is none.
	Load(ctx context.Context, name string) (Checkpoint, bool, error)
	// Save stores cp as the checkpoint of name.
	Save(ctx context.Context, name string, cp Checkpoint) error
}

// MemoryCheckpoints is a CheckpointStore in memory, for tests and for
// projections that rebuild on every start. It is safe for concurrent use.
type MemoryCheckpoints struct {
	mu  sync.Mutex
	cps map[string]Checkpoint
}

// NewMemoryCheckpoints returns an empty MemoryCheckpoints.
func NewMemoryCheckpoints() *MemoryCheckpoints {
	return &MemoryCheckpoints{cps: make(map[string]Checkpoint)}
}

// Load implements CheckpointStore.
func (m *MemoryCheckpoints) Load(ctx context.Context, name string) (Checkpoint, bool, error) {
	if err := ctx.Err(); err != nil {
		return Checkpoint{}, false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cp, ok := m.cps[name]
	if ok {
		cp.State = append([]byte(nil), cp.State...)
	}
	return cp, ok, nil
}

// Save implements CheckpointStore.
func (m *MemoryCheckpoints) Save(ctx context.Context, name string, cp Checkpoint) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	cp.State = append([]byte(nil), cp.State...)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cps[name] = cp
	return nil
}
