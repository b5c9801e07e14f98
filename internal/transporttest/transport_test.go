package transporttest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/projections"
)

// TestTransports plays one simulated log through contact.Service → memory
// store → events.Publisher → each transport → Runner → FCR, and expects
// the report of the same events fed straight into an FCR.
func TestTransports(t *testing.T) {
	log := simLog(t, 11, 1500)
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			ctx := context.Background()
			prefix := newPrefix()
			pub, subscriber := tr.open(t, prefix)
			topic := topicOf(prefix)

			fcr := newFCR(t)
			runner, err := projections.NewRunner(projections.RunnerConfig{
				Name: "fcr-" + tr.name, Projection: fcr,
				Subscriber: subscriber("fcr"), Topic: topic,
				Logger: quiet(),
			})
			require.NoError(t, err)
			r := start(t, runner)
			r.waitCaughtUp(t)

			store := events.NewMemoryStore()
			publisher, err := events.NewPublisher(events.PublisherConfig{Publisher: pub, Topic: func(events.Envelope) string { return topic }})
			require.NoError(t, err)
			n := record(ctx, t, newService(t, store, publisher), log)
			require.Equal(t, store.Len(), n)

			r.waitApplied(t, n)
			require.NoError(t, r.stop())
			st := r.Stats()
			assert.Equal(t, int64(n), st.Applied)
			assert.Zero(t, st.Poisoned)
			assert.Zero(t, st.Rejected)
			assert.Equal(t, reference(t, store), fcr.Report())
		})
	}
}
