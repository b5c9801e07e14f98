package main

import (
	"context"
	"fmt"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/internal/simulate"
)

// logDays is how long the benchmark's log lasts; the 2× history run lasts
// twice as long at the same daily rate.
const logDays = 90

// logConfig returns the simulated contact centre of a log of about n
// events over days days: some 2 million issues from 320,000 customers
// over 90 days for 8 million events. The customers are set by n alone, so
// that a log twice as long at the same rate has the same customers.
func logConfig(seed uint64, n, days int) simulate.Config {
	return simulate.Config{Seed: seed, Days: days, Events: n, Customers: max(1000, n/25)}
}

// fillStore appends every event of the log of cfg to a new memory store,
// one Append per event as a live system records them, and returns it with
// the number of events.
func fillStore(ctx context.Context, cfg simulate.Config) (*events.MemoryStore, error) {
	g, err := simulate.New(cfg)
	if err != nil {
		return nil, err
	}
	store := events.NewMemoryStore()
	one := make([]events.Envelope, 1)
	for e := range g.Events() {
		one[0] = e
		if _, err := store.Append(ctx, e.Issue, e.Version-1, one); err != nil {
			return nil, fmt.Errorf("store the simulated log: %w", err)
		}
	}
	return store, nil
}
