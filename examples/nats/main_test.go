package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/projections"
)

// The example runs end to end against the NATS server of the machine, and
// is skipped without one (it fails instead under CI).
func TestRun(t *testing.T) {
	url := nats.DefaultURL
	if v := os.Getenv("TRUEFCR_NATS_URL"); v != "" {
		url = v
	}
	// Connecting reads the URL as the example does: a list of servers, a
	// port left out.
	nc, err := nats.Connect(url, nats.Timeout(2*time.Second))
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("NATS with JetStream at %s is required under CI: %v", url, err)
		}
		t.Skipf("NATS at %s cannot be reached (%v); start it with: nats-server -js, or set TRUEFCR_NATS_URL", url, err)
	}
	nc.Close()
	// With -json, the output is the report alone; the progress goes apart.
	// (The text headline is internal/headline's, tested there.)
	var report, progress bytes.Buffer
	require.NoError(t, run(context.Background(), &report, &progress, url, 3, 5, 2, true))
	var merged projections.FCRReport
	require.NoError(t, json.Unmarshal(report.Bytes(), &merged), report.String())
	assert.Positive(t, merged.True.Total, "some problems are final")
	assert.Positive(t, merged.Reported.Total)
	for _, want := range []string{"recorded", "partition 0:", "partition 2:"} {
		assert.Contains(t, progress.String(), want)
	}

	assert.ErrorContains(t, run(context.Background(), &report, &progress, url, 3, 0, 2, false), "-days 0")
}
