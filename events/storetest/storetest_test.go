package storetest_test

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"os"
	"os/exec"
	"slices"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/events/storetest"
)

// broken wraps a MemoryStore and breaks one promise of the contract.
type broken struct {
	*events.MemoryStore
	kind string
	// given holds the events as appended, for a store that keeps them
	// rather than a copy.
	given *aliases
}

// aliases are the events as appended, shared with their callers.
type aliases struct {
	mu  sync.Mutex
	evs map[uuid.UUID][]events.Envelope
}

func (b broken) Append(ctx context.Context, issue uuid.UUID, expected uint64, evs []events.Envelope) ([]events.Envelope, error) {
	switch b.kind {
	case "keeps the caller's events":
		b.given.mu.Lock()
		defer b.given.mu.Unlock()
		got, err := b.MemoryStore.Append(ctx, issue, expected, evs)
		if err == nil {
			b.given.evs[issue] = append(b.given.evs[issue], evs...)
		}
		return got, err
	case "append ignores the context":
		ctx = context.Background()
	case "conflict without details":
		got, err := b.MemoryStore.Append(ctx, issue, expected, evs)
		if errors.Is(err, events.ErrVersionConflict) {
			err = fmt.Errorf("append: %w", events.ErrVersionConflict)
		}
		return got, err
	case "batch split":
		var out []events.Envelope
		for i, e := range evs {
			got, err := b.MemoryStore.Append(ctx, issue, expected+uint64(i), []events.Envelope{e})
			if err != nil {
				return out, err
			}
			out = append(out, got...)
		}
		return out, nil
	}
	return b.MemoryStore.Append(ctx, issue, expected, evs)
}

func (b broken) Load(ctx context.Context, issue uuid.UUID) ([]events.Envelope, error) {
	evs, err := b.MemoryStore.Load(ctx, issue)
	switch b.kind {
	case "load drops metadata":
		for i := range evs {
			evs[i].Meta = nil
		}
	case "load sorts by time and id":
		slices.SortStableFunc(evs, func(a, b events.Envelope) int {
			return cmp.Or(a.At.Compare(b.At), bytes.Compare(a.ID[:], b.ID[:]))
		})
	case "keeps the caller's events":
		b.given.mu.Lock()
		defer b.given.mu.Unlock()
		for i := range evs {
			evs[i].Meta, evs[i].Data = b.given.evs[issue][i].Meta, b.given.evs[issue][i].Data
		}
	}
	return evs, err
}

func (b broken) ReadAll(ctx context.Context, after uint64) iter.Seq2[events.Envelope, error] {
	return func(yield func(events.Envelope, error) bool) {
		n := 0
		for e, err := range b.MemoryStore.ReadAll(ctx, after) {
			if b.kind == "read all skips" && e.Position%97 == 0 {
				continue
			}
			// A read in pages of 1,000 that starts each page after the
			// first one event too far.
			if n++; b.kind == "read all skips at page edges" && n > 1000 && n%1000 == 1 {
				continue
			}
			if b.kind == "read all stops silently" && err != nil {
				return
			}
			if !yield(e, err) {
				return
			}
		}
	}
}

func TestRunOnMemoryStore(t *testing.T) {
	storetest.Run(t, func(*testing.T) events.Store { return events.NewMemoryStore() },
		storetest.Features{GaplessPositions: true, Writers: 3, Events: 50})
}

// The suite runs twice on one store that refuses an event id it holds, as
// a store with a key on ids does: every case writes ids of its own.
func TestRunTwiceOnAStoreOfUniqueIDs(t *testing.T) {
	s := &uniqueIDs{MemoryStore: events.NewMemoryStore(), seen: make(map[uuid.UUID]bool)}
	for range 2 {
		storetest.Run(t, func(*testing.T) events.Store { return s }, storetest.Features{GaplessPositions: true, Writers: 3, Events: 50, LongLog: 500})
	}
}

// uniqueIDs refuses an event whose id it holds already.
type uniqueIDs struct {
	*events.MemoryStore
	mu   sync.Mutex
	seen map[uuid.UUID]bool
}

func (s *uniqueIDs) Append(ctx context.Context, issue uuid.UUID, expected uint64, evs []events.Envelope) ([]events.Envelope, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range evs {
		if s.seen[e.ID] {
			return nil, fmt.Errorf("event id %s is already stored: %w", e.ID, events.ErrInvalidEvent)
		}
	}
	out, err := s.MemoryStore.Append(ctx, issue, expected, evs)
	if err == nil {
		for _, e := range evs {
			s.seen[e.ID] = true
		}
	}
	return out, err
}

func TestRunOnOneSharedStoreWithDefaults(t *testing.T) {
	// Every case runs on the same store, already full of the others' events.
	shared := events.NewMemoryStore()
	storetest.Run(t, func(*testing.T) events.Store { return shared }, storetest.Features{})
	assert.Greater(t, shared.Len(), 1000, "the cases wrote to the shared store")
}

// TestSuiteCatchesBrokenStores runs the suite on stores that each break
// one promise, in a child process (a failing suite fails its test), and
// checks that the case meant to notice does.
func TestSuiteCatchesBrokenStores(t *testing.T) {
	const env = "STORETEST_BROKEN"
	if kind := os.Getenv(env); kind != "" {
		storetest.Run(t, func(*testing.T) events.Store {
			return broken{MemoryStore: events.NewMemoryStore(), kind: kind, given: &aliases{evs: make(map[uuid.UUID][]events.Envelope)}}
		}, storetest.Features{GaplessPositions: true, Writers: 4, Events: 100})
		return
	}
	tests := []struct {
		kind     string
		failures []string // cases that must fail
	}{
		{"append ignores the context", []string{"CancelledContext"}},
		{"conflict without details", []string{"VersionConflict"}},
		{"batch split", []string{"InvalidAppend"}},
		{"load drops metadata", []string{"AppendAndLoadRoundTrip", "ConcurrentAppendsToManyStreams"}},
		{"read all skips", []string{"ConcurrentAppendsToManyStreams", "ReadAllWhileWriting"}},
		{"read all stops silently", []string{"CancelledContext", "CancelDuringReadAll"}},
		{"read all skips at page edges", []string{"ReadAllLongLog"}},
		{"load sorts by time and id", []string{"LoadInVersionOrder"}},
		{"keeps the caller's events", []string{"StoreKeepsItsOwnCopy"}},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestSuiteCatchesBrokenStores$", "-test.v")
			cmd.Env = append(os.Environ(), env+"="+tt.kind)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			require.ErrorAs(t, err, &exit, "the suite fails on a store whose %s:\n%s", tt.kind, out)
			for _, c := range tt.failures {
				assert.Contains(t, string(out), "--- FAIL: TestSuiteCatchesBrokenStores/"+c+" ", "case %s notices", c)
			}
		})
	}
}
