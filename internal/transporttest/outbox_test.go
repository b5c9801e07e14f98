package transporttest

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/events/pgstore"
	"github.com/truefcr/truefcr/internal/simulate"
	"github.com/truefcr/truefcr/projections"
)

// The durable production line: the Service appends to the Postgres store,
// whose transactional outbox the forwarder moves to NATS JetStream; the
// runner follows NATS and catches up from the Postgres store. Halfway
// through, the runner is stopped and a new one resumes from the checkpoint.
func TestPostgresOutboxToNATS(t *testing.T) {
	dsn := postgresService.need(t)
	prefix := newPrefix()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	pool, err := pgxpool.New(ctx, dsn)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = pool.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+prefix+` CASCADE`)
		pool.Close()
	})
	natsPub, subscriber := openNATS(t, prefix)
	topic := topicOf(prefix)
	store, err := pgstore.New(ctx, pool, pgstore.Config{Schema: prefix,
		Outbox: &pgstore.OutboxConfig{Topic: func(events.Envelope) string { return topic }}})
	require.NoError(t, err)
	fwd, err := pgstore.NewForwarder(ctx, pool, natsPub, pgstore.ForwarderConfig{Schema: prefix, PollInterval: 10 * time.Millisecond})
	require.NoError(t, err)
	go func() { _ = fwd.Run(ctx) }()
	t.Cleanup(func() { _ = fwd.Close() })

	cps := projections.NewMemoryCheckpoints()
	newRunner := func() (*running, *projections.FCR) {
		fcr := newFCR(t)
		runner, err := projections.NewRunner(projections.RunnerConfig{Name: "fcr", Projection: fcr,
			Store: store, Subscriber: subscriber("fcr"), Topic: topic, Checkpoints: cps,
			CheckpointEvery: 100, CheckpointInterval: 20 * time.Millisecond, Logger: quiet()})
		require.NoError(t, err)
		r := start(t, runner)
		r.waitCaughtUp(t)
		return r, fcr
	}

	log := simLog(t, 41, 800)
	c := simulate.NewCRM(log)
	svc := newService(t, store, nil) // the outbox publishes
	first, _ := newRunner()
	_, err = play(ctx, svc, c, log[:len(log)/2])
	require.NoError(t, err)
	require.NoError(t, first.stop())

	second, fcr := newRunner()
	_, err = play(ctx, svc, c, log[len(log)/2:])
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		lag, err := second.Lag(ctx)
		return err == nil && lag.Behind == 0
	}, time.Minute, 5*time.Millisecond)
	// The events of the second half come both ways, from the store and,
	// through the forwarder, from NATS, in whichever order the machine's
	// load makes: the runner counts the second arrival of each as a
	// duplicate, and applies each once.
	require.Eventually(t, func() bool { return second.Stats().Duplicates > 0 }, time.Minute, 5*time.Millisecond,
		"no event arrived from NATS as well as from the store")
	require.NoError(t, second.stop())
	assert.Equal(t, reference(t, store), fcr.Report())
}
