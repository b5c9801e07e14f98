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
	// State is the Runner's saved state: what it keeps itself (the last
	// version of each issue it sequences, the events it holds for a gap)
	// and the projection's state (encoding.BinaryMarshaler), which
	// ProjectionState returns. For a projection that keeps its state
	// elsewhere it is nil, but with no Store, for one that the runner
	// sequences (one that is not SelfSequencing), it holds the runner's
	// sequencing alone (ProjectionState then returns an empty state).
	State []byte
	// Saved is when the checkpoint was written.
	Saved time.Time
}

// ProjectionState returns the projection's own state in a checkpoint that
// a Runner saved, as its MarshalBinary wrote it: for a process that keeps
// a copy of the projection, such as a report served from the runner's
// checkpoints, to restore with UnmarshalBinary. The projection is the one
// the Runner was given: for one behind Sequence, the Sequence's state,
// which a Sequence of the same projection restores. The events the runner held
// for a gap, if any, are not in it. It fails when cp.State is not a
// runner's.
func (cp Checkpoint) ProjectionState() ([]byte, error) {
	if cp.State == nil {
		return nil, nil
	}
	st, err := decodeRunnerState(cp.State, nil)
	if err != nil {
		return nil, err
	}
	return st.projection, nil
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
