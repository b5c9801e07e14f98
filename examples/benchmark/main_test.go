package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/events/pgstore/pgtest"
	"github.com/truefcr/truefcr/projections"
)

// tiny is a log of a few thousand events, measured once.
func tiny(dsn string, only ...string) Options {
	return Options{Events: 4000, Seed: 7, Runs: 1, BusEvents: 2000, DSN: dsn, Only: only}
}

// the fields the JSON line must hold, measured without PostgreSQL.
var everyField = []string{
	"events", "codec_msgpack_encode_ns", "codec_msgpack_decode_ns", "codec_msgpack_decode_allocs",
	"codec_json_encode_ns", "codec_json_decode_ns", "projection_events_per_s", "replay_events_per_s",
	"peak_heap_bytes", "bytes_per_active_problem", "bytes_per_live_issue", "live_problems", "memory_ratio_2x_history",
	"gochannel_raw_events_per_s", "gochannel_events_per_s", "gochannel_overhead_ratio", "gochannel_agrees",
	"gochannel_batch", "gochannel_single_events_per_s", "gochannel_single_ratio",
	"gochannel_raw_batched_events_per_s", "gochannel_batched_ratio",
}

// the lists of runs, one figure a run, measured without PostgreSQL.
var everyList = []string{"projection_events_per_s_runs", "replay_events_per_s_runs"}

// the fields only PostgreSQL fills.
var postgresFields = []string{
	"pg_append_single_events_per_s", "pg_append_events_per_s", "sql_events", "sql_issues", "sql_seconds",
	"projection_seconds", "speedup_vs_sql", "speedup_vs_sql_runs", "sql_achieved", "sql_failed", "fcr_achieved", "fcr_failed", "sql_agrees",
}

// decodeLine reads the JSON line of res back as a map.
func decodeLine(t *testing.T, res Result) map[string]any {
	t.Helper()
	line := res.JSON()
	require.NotContains(t, line, "\n")
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(line), &m))
	return m
}

func TestMeasureWithoutPostgresFillsEveryOtherField(t *testing.T) {
	var table strings.Builder
	res, err := Measure(context.Background(), &table, tiny(""))
	require.NoError(t, err)
	m := decodeLine(t, res)
	for _, k := range everyField {
		require.Contains(t, m, k)
		if b, ok := m[k].(bool); ok {
			assert.True(t, b, k)
			continue
		}
		assert.Positive(t, m[k], k)
	}
	for _, k := range everyList {
		require.Contains(t, m, k)
		runs, ok := m[k].([]any)
		require.True(t, ok, "%s is a list", k)
		require.Len(t, runs, 1, "%s: one figure a run", k)
		assert.Equal(t, m[strings.TrimSuffix(k, "_runs")], runs[0], "%s: one run is its own median", k)
	}
	for _, k := range postgresFields {
		require.Contains(t, m, k)
		assert.Nil(t, m[k], k)
	}
	assert.InDelta(t, 4000, m["events"], 400)
	// Memory is per live problem; a problem may hold several issues.
	heap, issues, problems := m["projection_heap_bytes"].(float64), m["live_issues"].(float64), m["live_problems"].(float64)
	assert.LessOrEqual(t, problems, issues)
	assert.InDelta(t, heap/problems, m["bytes_per_active_problem"], 1e-6)
	assert.InDelta(t, heap/issues, m["bytes_per_live_issue"], 1e-6)
	assert.LessOrEqual(t, m["codec_msgpack_decode_allocs"], 3.0)
	assert.Contains(t, table.String(), "PostgreSQL")
	assert.Contains(t, table.String(), "not measured: left out")
}

func TestMeasureWithPostgresAgreesWithSQL(t *testing.T) {
	pgtest.Pool(t) // skips, or fails under CI, when the server is down
	res, err := Measure(context.Background(), io.Discard, tiny(pgtest.DSN(), "postgres"))
	require.NoError(t, err)
	m := decodeLine(t, res)
	for _, k := range postgresFields {
		require.Contains(t, m, k)
		require.NotNil(t, m[k], k)
	}
	assert.Equal(t, true, m["sql_agrees"])
	assert.Equal(t, []any{m["speedup_vs_sql"]}, m["speedup_vs_sql_runs"])
	assert.Positive(t, m["sql_events"])
	assert.Positive(t, m["sql_achieved"])
	assert.Positive(t, m["sql_failed"])
	assert.Equal(t, m["sql_achieved"], m["fcr_achieved"])
	assert.Equal(t, m["sql_failed"], m["fcr_failed"])
	assert.Positive(t, m["pg_append_events_per_s"])
}

// A server that cannot be reached leaves the PostgreSQL figures null and
// says why, before the simple log is built for nothing.
func TestMeasureWithPostgresUnreachable(t *testing.T) {
	var table strings.Builder
	dsn := "postgres://nobody:s3cret@127.0.0.1:1/none?connect_timeout=2"
	res, err := Measure(context.Background(), &table, tiny(dsn, "postgres"))
	require.NoError(t, err)
	m := decodeLine(t, res)
	for _, k := range postgresFields {
		assert.Nil(t, m[k], k)
	}
	assert.Contains(t, table.String(), "not measured: PostgreSQL at nobody@127.0.0.1:1/none cannot be reached")
	assert.NotContains(t, table.String(), "s3cret", "the password")
	assert.NotContains(t, table.String(), "simple log for SQL")
	assert.Contains(t, table.String(), "not measured (-only), their figures null: codecs, projection, replay, gochannel")
}

// -memprofile writes a heap profile that holds the projections' state.
func TestMeasureWritesAHeapProfile(t *testing.T) {
	opts := tiny("", "replay")
	opts.MemProfile = filepath.Join(t.TempDir(), "heap.pprof")
	_, err := Measure(context.Background(), io.Discard, opts)
	require.NoError(t, err)
	b, err := os.ReadFile(opts.MemProfile)
	require.NoError(t, err)
	require.Greater(t, len(b), 2, "a profile")
	assert.Equal(t, []byte{0x1f, 0x8b}, b[:2], "gzipped, as pprof writes it")
}

func TestMeasureRefusesWhatItCannotDo(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"no events", Options{Events: 0}, "-events 0: give at least 1000"},
		{"too few events", Options{Events: 999}, "-events 999: give at least 1000"},
		{"unknown measurement", Options{Events: 1000, Only: []string{"codec"}}, `no measurement "codec"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Measure(context.Background(), io.Discard, tc.opts)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestOneKey(t *testing.T) {
	for _, tc := range []struct {
		name string
		keys []string
		want string
		err  bool
	}{
		{"phone", []string{"phone:+3584123456789"}, "phone:+3584123456789", false},
		{"email alone", []string{"email:anna.123456789@example.com"}, "phone:+3584123456789", false},
		{"email then phone", []string{"email:anna.123456789@example.com", "phone:+3584123456789"}, "phone:+3584123456789", false},
		{"account", []string{"account:A-1001"}, "account:A-1001", false},
		{"email without digits", []string{"email:anna@example.com"}, "", true},
		{"no key", nil, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := oneKey(events.Customer{Keys: tc.keys})
			if tc.err {
				require.ErrorIs(t, err, errSimpleLog)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestSimpleLogKnowsEveryCustomerByOneKeyAndNoStreamComesBack(t *testing.T) {
	ctx := context.Background()
	cfg := logConfig(3, 40_000, 30)
	w := projections.DefaultFCRWindow
	s, err := buildSimpleLog(ctx, cfg, w)
	require.NoError(t, err)
	require.Equal(t, s.events, s.store.Len())
	require.NotEmpty(t, s.rows)

	type stream struct {
		open   bool
		closed time.Time
	}
	streams := map[[16]byte]*stream{}
	opened, reopens := 0, 0
	for e, err := range s.store.ReadAll(ctx, 0) {
		require.NoError(t, err)
		st := streams[e.Issue]
		if st != nil && !st.open {
			assert.Less(t, e.At.Sub(st.closed), w, "issue %s has a %s %s after it closed", e.Issue, e.Type(), e.At.Sub(st.closed))
		}
		switch d := e.Data.(type) {
		case *events.Opened:
			opened++
			require.Len(t, d.Customer.Keys, 1, "issue %s", e.Issue)
			st = &stream{open: true}
			streams[e.Issue] = st
		case *events.Resolved:
			if st.open {
				st.open, st.closed = false, e.At
			}
		case *events.Reopened:
			reopens++
			st.open = true
		case *events.Classified:
			t.Errorf("issue %s version %d: a reclassification", e.Issue, e.Version)
		}

		assert.False(t, e.At.After(s.watermark))
	}
	assert.Equal(t, len(s.rows), opened)
	assert.Positive(t, reopens, "reopens within the window stay")
	assert.Positive(t, s.cut, "a log of this size has events after issues settled")
	assert.Positive(t, s.dropped, "the simulator reclassifies issues; the simple log keeps their opening topics")
}

func TestIssueRowCountsTheTwoEarliestAnsweredContacts(t *testing.T) {
	at := func(m int) time.Time { return time.Date(2026, 3, 2, 9, m, 0, 0, time.UTC) }
	for _, tc := range []struct {
		name          string
		contacts      []contactAt
		first, second time.Time
	}{
		{"one", []contactAt{{at: at(1)}}, at(1), time.Time{}},
		{"abandoned first", []contactAt{{at: at(1), abandoned: true}, {at: at(2)}}, at(2), time.Time{}},
		{"three", []contactAt{{at: at(3)}, {at: at(1)}, {at: at(2)}}, at(1), at(2)},
		{"none answered", []contactAt{{at: at(1), abandoned: true}}, time.Time{}, time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			first, second := (&issueRow{contacts: tc.contacts}).counted()
			assert.Equal(t, tc.first, first)
			assert.Equal(t, tc.second, second)
		})
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		xs   []float64
		want float64
	}{
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
		{nil, 0},
	} {
		t.Run(fmt.Sprint(tc.xs), func(t *testing.T) {
			runs := slices.Clone(tc.xs)
			assert.Equal(t, tc.want, median(tc.xs))
			assert.Equal(t, runs, tc.xs, "the runs stay in the order they ran")
		})
	}
}

// ExampleMeasure measures the codecs on a small log; the figures vary
// from machine to machine, the log does not.
func ExampleMeasure() {
	res, err := Measure(context.Background(), io.Discard, Options{Events: 2000, Seed: 1, Runs: 1, Only: []string{"codecs"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("events:", res.Events)
	fmt.Println("msgpack measured:", res.CodecMsgpackDecodeNs != nil, "json measured:", res.CodecJSONDecodeNs != nil)
	fmt.Println("replay measured:", res.ReplayEventsPerS != nil)
	// Output:
	// events: 2095
	// msgpack measured: true json measured: true
	// replay measured: false
}
