package transporttest

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/contact"
	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/projections"
)

// alignWatermarks opens one issue in each of n partitions at time at, so
// that every partition's FCR sees events up to the same time and gives
// the same verdicts as one FCR over all partitions would.
func alignWatermarks(ctx context.Context, tb testing.TB, svc *contact.Service, n int, at time.Time) {
	tb.Helper()
	for p, i := 0, 0; p < n; i++ {
		id := "customer:watermark-" + strconv.Itoa(i)
		if events.PartitionOf(id, n) != p {
			continue
		}
		_, _, err := svc.Open(ctx, contact.Open{Customer: events.Customer{ID: id}, Channel: "web", Topic: "watermark", At: at})
		require.NoError(tb, err)
		p++
	}
}

// Events spread over per-partition NATS JetStream subjects by partition
// key; one runner per partition, each with its own connection and durable
// consumer; the merged per-partition reports equal the report of one
// runner that follows every partition, and the in-process report.
func TestScaleOutNATSPartitions(t *testing.T) {
	const partitions = 4
	ctx := context.Background()
	log := simLog(t, 31, 2000)
	prefix := newPrefix()
	pub, subscriber := openNATS(t, prefix)
	topics := make([]string, partitions)
	for p := range topics {
		topics[p] = fmt.Sprintf("%s.p.%d", prefix, p)
	}

	parts := make([]*projections.FCR, partitions)
	runners := make([]*running, partitions)
	for p := range partitions {
		parts[p] = newFCR(t)
		group := fmt.Sprintf("part%d", p)
		runner, err := projections.NewRunner(projections.RunnerConfig{Name: "fcr-" + group, Projection: parts[p],
			Subscriber: subscriber(group), Topic: topics[p], Pending: natsPending(t, prefix, group, topics[p]), Logger: quiet()})
		require.NoError(t, err)
		runners[p] = start(t, runner)
	}
	whole := newFCR(t)
	runner, err := projections.NewRunner(projections.RunnerConfig{Name: "fcr-all", Projection: whole,
		Subscriber: subscriber("all"), Topics: topics, Logger: quiet()})
	require.NoError(t, err)
	all := start(t, runner)
	for _, r := range append(runners, all) {
		r.waitCaughtUp(t)
	}

	store := events.NewMemoryStore()
	publisher, err := events.NewPublisher(events.PublisherConfig{Publisher: pub, Topic: events.PartitionedTopic(prefix+".p", partitions)})
	require.NoError(t, err)
	svc := newService(t, store, publisher)
	record(ctx, t, svc, log)
	alignWatermarks(ctx, t, svc, partitions, log[len(log)-1].At)
	n := store.Len()

	all.waitApplied(t, n)
	require.Eventually(t, func() bool {
		sum := int64(0)
		for _, r := range runners {
			sum += r.Stats().Applied
		}
		return sum == int64(n)
	}, 60*time.Second, 2*time.Millisecond)
	for p, r := range runners {
		require.Eventually(t, func() bool {
			lag, err := r.Lag(ctx)
			return err == nil && lag.Pending == 0
		}, 30*time.Second, 5*time.Millisecond, "partition %d has acknowledged everything", p)
	}
	reports := make([]projections.FCRReport, partitions)
	for p, r := range runners {
		require.NoError(t, r.stop())
		assert.Positive(t, r.Stats().Applied, "partition %d received events", p)
		reports[p] = parts[p].Report()
	}
	require.NoError(t, all.stop())

	merged, err := projections.MergeFCRReports(reports...)
	require.NoError(t, err)
	want := reference(t, store)
	assert.Equal(t, want, whole.Report(), "one runner over every partition")
	want.Definition.Partitions = partitions // which the merge says
	assert.Equal(t, want, merged, "the merged partitions")
}
