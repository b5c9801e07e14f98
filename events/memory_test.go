package events_test

import (
	"testing"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/events/storetest"
)

func TestMemoryStoreConformance(t *testing.T) {
	tests := []struct {
		name  string
		store func() *events.MemoryStore
	}{
		{"msgpack", func() *events.MemoryStore { return events.NewMemoryStore() }},
		{"json", func() *events.MemoryStore {
			return events.NewMemoryStore(events.WithMemoryCodec(events.NewJSONCodec(nil)))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			storetest.Run(t, func(*testing.T) events.Store { return tt.store() },
				storetest.Features{GaplessPositions: true})
		})
	}
}
