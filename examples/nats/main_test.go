package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/internal/natstest"
	"github.com/truefcr/truefcr/projections"
)

// The example runs end to end against the NATS server of the machine, and
// is skipped without one (it fails instead under CI).
func TestRun(t *testing.T) {
	url := natstest.URL(t)
	// With -json, the output is the report alone; the progress goes apart.
	// (The text headline is internal/headline's, tested there.)
	var report, progress bytes.Buffer
	require.NoError(t, run(context.Background(), &report, &progress, url, 3, 5, 2, true))
	var merged projections.Report
	require.NoError(t, json.Unmarshal(report.Bytes(), &merged), report.String())
	assert.Positive(t, merged.FCR.True.Total, "some problems are final")
	assert.Positive(t, merged.FCR.Reported.Total)
	assert.Equal(t, 3, merged.FCR.Definition.Partitions)
	// The other sections are every partition's contacts together.
	assert.Positive(t, merged.Service.Answered)
	assert.Positive(t, merged.Satisfaction.CSAT.Responses)
	assert.Equal(t, merged.Volume.Issues, merged.FCR.Issues, "one opening an issue")
	for _, want := range []string{"recorded", "partition 0:", "partition 2:"} {
		assert.Contains(t, progress.String(), want)
	}

	assert.ErrorContains(t, run(context.Background(), &report, &progress, url, 3, 0, 2, false), "-days 0")
}

// Two runs at once each have a stream of their own: neither deletes the
// other's, nor reads its events, and both report the same figures.
func TestTwoRunsAtOnce(t *testing.T) {
	url := natstest.URL(t)
	var reports [2]bytes.Buffer
	errs := make(chan error, 2)
	for i := range reports {
		go func() { errs <- run(context.Background(), &reports[i], io.Discard, url, 2, 5, 3, true) }()
	}
	require.NoError(t, <-errs)
	require.NoError(t, <-errs)
	var a, b projections.Report
	require.NoError(t, json.Unmarshal(reports[0].Bytes(), &a))
	require.NoError(t, json.Unmarshal(reports[1].Bytes(), &b))
	assert.Positive(t, a.FCR.True.Total)
	assert.Equal(t, a, b)
}

// newStream connects to the machine's NATS server and makes the example's
// stream afresh, which the test's end deletes.
func newStream(t *testing.T) (nats.JetStreamContext, string, space) {
	t.Helper()
	url := natstest.URL(t)
	nc, err := nats.Connect(url)
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := nc.JetStream()
	require.NoError(t, err)
	sp := newSpace()
	require.NoError(t, sp.create(js))
	t.Cleanup(func() { sp.delete(js) })
	return js, url, sp
}

// A message that the subscription hands on but that is not acknowledged
// when the subscription ends (a runner that stops with it queued or in
// hand) stays with the broker, to come again: the subscription does not
// acknowledge what its reader did not.
func TestAMessageNotAcknowledgedStaysWithTheBroker(t *testing.T) {
	js, url, sp := newStream(t)
	pub, err := wmnats.NewPublisher(wmnats.PublisherConfig{URL: url, Marshaler: &wmnats.NATSMarshaler{}}, watermill.NopLogger{})
	require.NoError(t, err)
	defer pub.Close()
	require.NoError(t, pub.Publish(sp.prefix+".0", message.NewMessage(watermill.NewUUID(), []byte("x"))))

	sub, durable, subject, err := subscribe(js, url, sp, 0, watermill.NopLogger{})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := sub.Subscribe(ctx, subject)
	require.NoError(t, err)
	select {
	case <-ch: // in hand, not acknowledged
	case <-time.After(10 * time.Second):
		t.Fatal("no message")
	}
	cancel()
	for range ch { // the subscription ends
	}
	require.NoError(t, sub.Close())
	time.Sleep(100 * time.Millisecond) // an acknowledgement would have come by now
	info, err := js.ConsumerInfo(sp.stream, durable)
	require.NoError(t, err)
	assert.Equal(t, 1, info.NumAckPending+int(info.NumPending), "the message is still the broker's to deliver")
}

// A runner stopped and started again on its partition's consumer (as a
// restarted process would make it) resumes where the consumer stands: the
// consumer outlives the subscription, and nothing is delivered twice.
func TestARestartedRunnerResumesItsConsumer(t *testing.T) {
	js, url, sp := newStream(t)

	pub, err := wmnats.NewPublisher(wmnats.PublisherConfig{URL: url, Marshaler: &wmnats.NATSMarshaler{}}, watermill.NopLogger{})
	require.NoError(t, err)
	defer pub.Close()
	codec := events.NewMsgpackCodec(nil)
	issue, contact := uuid.New(), uuid.New()
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for _, e := range []events.Envelope{
		{ID: uuid.New(), Issue: issue, Version: 1, At: at, Data: &events.Opened{
			Customer: events.Customer{ID: "c-1"}, Channel: "chat", Topic: "billing", Contact: contact}},
		{ID: uuid.New(), Issue: issue, Version: 2, At: at.Add(time.Minute), Data: &events.Resolved{Contact: contact, Agent: "ana"}},
	} {
		msg, err := events.NewMessage(codec, e)
		require.NoError(t, err)
		require.NoError(t, pub.Publish(sp.prefix+".0", msg))
	}

	checkpoints := projections.NewMemoryCheckpoints()
	run := func(wantApplied int64) projections.RunnerStats {
		sub, durable, subject, err := subscribe(js, url, sp, 0, watermill.NopLogger{})
		require.NoError(t, err)
		defer sub.Close()
		fcr, err := projections.NewFCR(projections.FCRConfig{})
		require.NoError(t, err)
		r, err := projections.NewRunner(projections.RunnerConfig{Name: durable, Projection: fcr,
			Subscriber: sub, Topic: subject, Checkpoints: checkpoints, Logger: watermill.NopLogger{}})
		require.NoError(t, err)
		ctx, stop := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- r.Run(ctx) }()
		require.Eventually(t, func() bool {
			info, err := js.ConsumerInfo(sp.stream, durable)
			return r.Stats().Applied == wantApplied && err == nil && info.NumPending+uint64(info.NumAckPending) == 0
		}, 10*time.Second, time.Millisecond)
		time.Sleep(50 * time.Millisecond) // a redelivery would come now
		stop()
		require.NoError(t, <-done)
		_, err = js.ConsumerInfo(sp.stream, durable)
		require.NoError(t, err, "the consumer after the runner stopped")
		return r.Stats()
	}
	assert.Equal(t, int64(2), run(2).Applied)
	st := run(0)
	assert.Zero(t, st.Applied+st.Duplicates, "delivered again after the restart")
}
