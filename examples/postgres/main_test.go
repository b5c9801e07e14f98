package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events/pgstore"
	"github.com/truefcr/truefcr/events/pgstore/pgtest"
	"github.com/truefcr/truefcr/internal/headline"
	"github.com/truefcr/truefcr/internal/simulate"
	"github.com/truefcr/truefcr/projections"
)

// small is a log of a few hundred events whose first days' verdicts are
// final within the 72 h window.
func small() options {
	return options{DSN: pgtest.DSN(), Days: 5, Seed: 3, IssuesPerDay: 30, JSON: true}
}

// inProcess returns the FCR report of the simulated traffic of o, fed
// straight to the projection, and the number of events.
func inProcess(t *testing.T, o options) (projections.FCRReport, int) {
	t.Helper()
	traffic, _, err := simulate.Collect(simulate.Config{Seed: o.Seed, Days: o.Days, IssuesPerDay: o.IssuesPerDay})
	require.NoError(t, err)
	fcr, err := projections.NewFCR(fcrConfig())
	require.NoError(t, err)
	for _, e := range traffic {
		require.NoError(t, fcr.Apply(e))
	}
	return fcr.Report(), len(traffic)
}

// The program runs end to end against the PostgreSQL of the machine, and
// is skipped without one (it fails instead under CI).
func TestRunReportsWhatTheEventsSayAndResumes(t *testing.T) {
	pool := pgtest.Pool(t)
	want, n := inProcess(t, small())
	wantJSON, err := json.Marshal(want)
	require.NoError(t, err)
	require.Positive(t, want.Final, "the log is long enough for final verdicts")

	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprintf("keep=%t", keep), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			o := small()
			o.Keep = keep
			var out bytes.Buffer
			require.NoError(t, run(ctx, &out, o))

			var got summary
			require.NoError(t, json.Unmarshal(out.Bytes(), &got))
			var raw struct{ Report json.RawMessage }
			require.NoError(t, json.Unmarshal(out.Bytes(), &raw))
			if keep {
				t.Cleanup(func() { pgtest.DropSchema(t, pool, got.Schema) })
			}

			assert.JSONEq(t, string(wantJSON), string(raw.Report), "the report of the pipeline is that of the events fed in process")
			assert.Equal(t, n, got.Events)
			assert.Equal(t, int64(n), got.First.Applied)
			assert.Equal(t, uint64(n), got.First.Checkpoint, "the first runner checkpointed every event")
			assert.Equal(t, got.First.Checkpoint, got.Resumed.From)
			assert.Zero(t, got.Resumed.Applied, "the resumed runner found everything in its checkpoint")
			assert.True(t, got.Identical)
			assert.Equal(t, int64(n), got.Pruned, "every message was forwarded")

			var exists bool
			require.NoError(t, pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, got.Schema).Scan(&exists))
			assert.Equal(t, keep, exists, "the schema is kept only with -keep")
			if keep {
				store, err := pgstore.New(ctx, pool, pgstore.Config{Schema: got.Schema, Outbox: &pgstore.OutboxConfig{}})
				require.NoError(t, err)
				stored := 0
				for _, err := range store.ReadAll(ctx, 0) {
					require.NoError(t, err)
					stored++
				}
				assert.Equal(t, n, stored)
			}
		})
	}
}

func TestRunRefusesOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*options)
	}{
		{"no days", func(o *options) { o.Days = 0 }},
		{"negative rate", func(o *options) { o.IssuesPerDay = -1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := small()
			tc.edit(&o)
			var out bytes.Buffer
			err := run(t.Context(), &out, o)
			require.ErrorIs(t, err, errInvalidOption)
			assert.Empty(t, out.String())
		})
	}
}

func TestPrintReportShowsTheHeadlineFigures(t *testing.T) {
	rep, _ := inProcess(t, small())
	var out bytes.Buffer
	headline.Write(&out, rep)
	text := out.String()
	for _, want := range []string{
		fmt.Sprintf("true FCR        %5.1f %% (%d/%d", 100*rep.True.Rate, rep.True.Achieved, rep.True.Total),
		fmt.Sprintf("reported FCR    %5.1f %% (%d/%d", 100*rep.Reported.Rate, rep.Reported.Achieved, rep.Reported.Total),
		fmt.Sprintf("inflation       %+.1f points", 100*rep.Inflation),
		fmt.Sprintf("problems %d: %d final", rep.Problems, rep.Final),
	} {
		assert.Contains(t, text, want)
	}
	for ch := range rep.ByChannel {
		assert.Contains(t, text, "first channel "+ch)
	}
}

func TestDSNComesFromTheFlagThenTheEnvironment(t *testing.T) {
	t.Setenv(envDSN, "")
	assert.Equal(t, defaultDSN, dsnOf(""))
	t.Setenv(envDSN, "postgres://env/db")
	assert.Equal(t, "postgres://env/db", dsnOf(""))
	assert.Equal(t, "postgres://flag/db", dsnOf("postgres://flag/db"))
}

// A server that cannot be reached is named without the password of the
// connection string, which a log must not show.
func TestAConnectionErrorHidesThePassword(t *testing.T) {
	_, where, err := connect(t.Context(), "postgres://u:s3cretpw@127.0.0.1:1/x?connect_timeout=2")
	require.Error(t, err)
	assert.Empty(t, where)
	assert.NotContains(t, err.Error(), "s3cretpw")
	assert.Contains(t, err.Error(), "at u@127.0.0.1:1/x")
}
