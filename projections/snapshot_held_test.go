package projections

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
)

// hostRes is a host's own Go type for issue.resolved, which its registry
// reads that type as.
type hostRes struct{}

func (*hostRes) EventType() events.Type { return events.TypeResolved }

// A held event of a built-in Go type, whose data the FCR reads, is never
// saved by name alone: when the registry would read it back as another
// type (the host's own for issue.resolved), the snapshot fails and says
// why, rather than lose the resolution.
func TestSnapshotRefusesToDropTheDataOfABuiltInEvent(t *testing.T) {
	reg := events.NewRegistry()
	require.NoError(t, reg.Register(events.TypeResolved, 1, func() events.Data { return new(hostRes) }))
	f := mustFCR(FCRConfig{Registry: reg})
	issue, c1 := uuid.New(), uuid.New()
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	require.NoError(t, f.Apply(events.Envelope{ID: uuid.New(), Issue: issue, Version: 1, At: t0, Data: &events.Opened{Customer: events.Customer{ID: "C"}, Channel: "chat", Topic: "b", Contact: c1}}))
	require.NoError(t, f.Apply(events.Envelope{ID: uuid.New(), Issue: issue, Version: 3, At: t0, Data: &events.Resolved{Contact: c1}}))
	_, err := f.MarshalBinary()
	require.ErrorIs(t, err, events.ErrUnknownType)
	require.ErrorContains(t, err, "*events.Resolved")
}
