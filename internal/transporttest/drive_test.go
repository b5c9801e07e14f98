package transporttest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/contact"
	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/internal/simulate"
	"github.com/truefcr/truefcr/projections"
)

// fcrConfig is the FCR that every test measures with: a one-day window
// and the default lateness, so that the week-long logs see problems
// settle and fold while the events are still arriving.
// fcrConfig allows a lateness longer than any log of these tests: brokers
// that redeliver and reorder may hold a message back for more than the
// default day of event time, and what these tests compare is delivery, not
// the late-event policy (which the projections' own tests cover).
var fcrConfig = projections.FCRConfig{Window: 24 * time.Hour, Lateness: 30 * 24 * time.Hour}

// newFCR returns an FCR of fcrConfig.
func newFCR(tb testing.TB) *projections.FCR {
	tb.Helper()
	f, err := projections.NewFCR(fcrConfig)
	require.NoError(tb, err)
	return f
}

// simLog returns a reproducible week of a contact centre of about n events.
func simLog(tb testing.TB, seed uint64, n int) []events.Envelope {
	tb.Helper()
	log, _, err := simulate.Collect(simulate.Config{Seed: seed, Days: 7, Customers: max(50, n/12), Events: n})
	require.NoError(tb, err)
	require.NotEmpty(tb, log)
	return log
}

// command returns the command that records e, with the customer's CRM id
// on openings, so that the Service stamps a partition key that is stable
// from the first contact.
func command(c simulate.CRM, e events.Envelope) (contact.Command, error) {
	cmd, err := contact.CommandOf(e)
	if err != nil {
		return nil, err
	}
	if o, ok := cmd.(contact.Open); ok {
		o.Customer.ID = c.ID(o.Customer.Keys[0])
		cmd = o
	}
	return cmd, nil
}

// record plays log through svc, command by command, as the helpdesk would
// have, and returns how many events the Service appended.
func record(ctx context.Context, tb testing.TB, svc *contact.Service, log []events.Envelope) int {
	tb.Helper()
	n, err := play(ctx, svc, simulate.NewCRM(log), log)
	require.NoError(tb, err)
	return n
}

// play is record for goroutines other than the test's, with the CRM of
// the whole log of which log may be a part.
func play(ctx context.Context, svc *contact.Service, c simulate.CRM, log []events.Envelope) (int, error) {
	n := 0
	for _, e := range log {
		cmd, err := command(c, e)
		if err != nil {
			return n, err
		}
		evs, err := svc.Execute(ctx, e.Issue, cmd)
		if err != nil {
			return n, fmt.Errorf("%s of issue %s version %d: %w", e.Type(), e.Issue, e.Version, err)
		}
		n += len(evs)
	}
	return n, nil
}

// newService returns a Service over store that publishes with pub.
func newService(tb testing.TB, store events.Store, pub contact.Publisher) *contact.Service {
	tb.Helper()
	cfg := contact.Config{Store: store}
	if pub != nil {
		cfg.Publisher = pub
	}
	svc, err := contact.NewService(cfg)
	require.NoError(tb, err)
	return svc
}

// reference returns the report of every event in store fed straight into
// a fresh FCR: what every runner must end up with.
func reference(tb testing.TB, store events.Store) projections.FCRReport {
	tb.Helper()
	f := newFCR(tb)
	for e, err := range store.ReadAll(context.Background(), 0) {
		require.NoError(tb, err)
		require.NoError(tb, f.Apply(e))
	}
	rep := f.Report()
	require.NotZero(tb, rep.Achieved, "the log has achieved problems")
	require.NotZero(tb, rep.Failed, "the log has failed problems")
	return rep
}

// running is a Runner running in the background.
type running struct {
	*projections.Runner
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

// start runs r until stop; the test stops it at the latest when it ends.
func start(tb testing.TB, r *projections.Runner) *running {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	rr := &running{Runner: r, cancel: cancel, done: make(chan error, 1)}
	go func() { rr.done <- r.Run(ctx) }()
	tb.Cleanup(func() { _ = rr.stop() })
	return rr
}

// stop cancels the runner and returns what Run returned.
func (r *running) stop() error {
	r.once.Do(func() {
		r.cancel()
		r.err = <-r.done
	})
	return r.err
}

// waitCaughtUp waits until the runner has subscribed and read its store.
func (r *running) waitCaughtUp(tb testing.TB) {
	tb.Helper()
	require.Eventually(tb, func() bool {
		select {
		case err := <-r.done:
			r.done <- err
			return true
		default:
		}
		return r.CaughtUp()
	}, 30*time.Second, time.Millisecond)
	require.True(tb, r.CaughtUp(), "the runner stopped before catching up")
}

// waitApplied waits until the runner has applied n events.
func (r *running) waitApplied(tb testing.TB, n int) {
	tb.Helper()
	if !assert.Eventually(tb, func() bool { return r.Stats().Applied >= int64(n) }, 60*time.Second, 2*time.Millisecond) {
		tb.Fatalf("the runner applied %d of %d events: %+v", r.Stats().Applied, n, r.Stats())
	}
}

// quiet is the logger of runners and transports in tests.
func quiet() watermill.LoggerAdapter { return watermill.NopLogger{} }
