package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Result holds every figure of one benchmark run: the line of JSON the
// program prints last. A figure that could not be measured is null.
type Result struct {
	Events int    `json:"events"`
	Seed   uint64 `json:"seed"`
	Runs   int    `json:"runs"`

	// The codecs over a sample of the log: ns, heap allocations and bytes
	// per event.
	CodecMsgpackEncodeNs     *float64 `json:"codec_msgpack_encode_ns"`
	CodecMsgpackEncodeAllocs *float64 `json:"codec_msgpack_encode_allocs"`
	CodecMsgpackDecodeNs     *float64 `json:"codec_msgpack_decode_ns"`
	CodecMsgpackDecodeAllocs *float64 `json:"codec_msgpack_decode_allocs"`
	CodecMsgpackBytes        *float64 `json:"codec_msgpack_bytes"`
	CodecJSONEncodeNs        *float64 `json:"codec_json_encode_ns"`
	CodecJSONEncodeAllocs    *float64 `json:"codec_json_encode_allocs"`
	CodecJSONDecodeNs        *float64 `json:"codec_json_decode_ns"`
	CodecJSONDecodeAllocs    *float64 `json:"codec_json_decode_allocs"`
	CodecJSONBytes           *float64 `json:"codec_json_bytes"`

	// ProjectionEventsPerS is the FCR alone on decoded events, one core:
	// the median of the runs, which ProjectionEventsPerSRuns lists in the
	// order they ran (as the other lists of runs below).
	ProjectionEventsPerS     *float64  `json:"projection_events_per_s"`
	ProjectionEventsPerSRuns []float64 `json:"projection_events_per_s_runs"`

	// The full replay: store, decode, every projection of the report.
	ReplayEventsPerS     *float64  `json:"replay_events_per_s"`
	ReplayEventsPerSRuns []float64 `json:"replay_events_per_s_runs"`
	PeakHeapBytes        *float64  `json:"peak_heap_bytes"`
	// ProjectionHeapBytes is the heap the projections hold after the
	// replay; LiveIssues the issues the FCR holds (FCR.Live).
	ProjectionHeapBytes *float64 `json:"projection_heap_bytes"`
	LiveIssues          *float64 `json:"live_issues"`
	// OpenBacklog is the issues open at the end of the log (the Volume
	// report's backlog): an open issue keeps its problem live.
	OpenBacklog *float64 `json:"open_backlog"`
	// LiveProblems is the problems that the live issues form
	// (FCR.LiveProblems): the active problems. BytesPerActiveProblem is
	// the projections' heap over them, BytesPerLiveIssue over the issues.
	LiveProblems          *float64 `json:"live_problems"`
	BytesPerActiveProblem *float64 `json:"bytes_per_active_problem"`
	BytesPerLiveIssue     *float64 `json:"bytes_per_live_issue"`
	// The same with twice the history at the same daily rate.
	ProjectionHeapBytes2x *float64 `json:"projection_heap_bytes_2x_history"`
	LiveIssues2x          *float64 `json:"live_issues_2x_history"`
	OpenBacklog2x         *float64 `json:"open_backlog_2x_history"`
	MemoryRatio2xHistory  *float64 `json:"memory_ratio_2x_history"`
	// LiveRatio2xHistory is the ratio of the live issues: when it is
	// near the memory ratio, memory follows what is live, and what is
	// live follows the open backlog of the log.
	LiveRatio2xHistory *float64 `json:"live_ratio_2x_history"`

	// GoChannel: the runner behind it, fed by an events.Publisher that
	// batches GoChannelBatch events to a message, against the bare
	// GoChannel at one event a message (the overhead ratio, the goal's);
	// the runner at one event a message too; and the bare GoChannel at
	// the same batches, which moves them without decoding, with the
	// runner's ratio to it.
	GoChannelEvents               *float64 `json:"gochannel_events"`
	GoChannelBatch                *float64 `json:"gochannel_batch"`
	GoChannelRawEventsPerS        *float64 `json:"gochannel_raw_events_per_s"`
	GoChannelEventsPerS           *float64 `json:"gochannel_events_per_s"`
	GoChannelOverheadRatio        *float64 `json:"gochannel_overhead_ratio"`
	GoChannelSingleEventsPerS     *float64 `json:"gochannel_single_events_per_s"`
	GoChannelSingleRatio          *float64 `json:"gochannel_single_ratio"`
	GoChannelRawBatchedEventsPerS *float64 `json:"gochannel_raw_batched_events_per_s"`
	GoChannelBatchedRatio         *float64 `json:"gochannel_batched_ratio"`
	GoChannelAgrees               *bool    `json:"gochannel_agrees"`

	// PostgreSQL: appends, and the SQL baseline against the projection.
	PgAppendSingleEventsPerS *float64 `json:"pg_append_single_events_per_s"`
	PgAppendEventsPerS       *float64 `json:"pg_append_events_per_s"`
	// SQLEvents is the events of the simple log that the SQL baseline and
	// the projection compute true FCR from, SQLIssues its issues.
	SQLEvents         *float64  `json:"sql_events"`
	SQLIssues         *float64  `json:"sql_issues"`
	SQLLoadSeconds    *float64  `json:"sql_load_seconds"`
	SQLSeconds        *float64  `json:"sql_seconds"`
	ProjectionSeconds *float64  `json:"projection_seconds"`
	SpeedupVsSQL      *float64  `json:"speedup_vs_sql"`
	SpeedupVsSQLRuns  []float64 `json:"speedup_vs_sql_runs"`
	SQLAchieved       *float64  `json:"sql_achieved"`
	SQLFailed         *float64  `json:"sql_failed"`
	FCRAchieved       *float64  `json:"fcr_achieved"`
	FCRFailed         *float64  `json:"fcr_failed"`
	SQLAgrees         *bool     `json:"sql_agrees"`
}

func num(v float64) *float64 { return &v }

func boolean(v bool) *bool { return &v }

// median returns the median of xs (the mean of the middle two for an even
// count), leaving xs in the order the runs gave it.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	xs = slices.Sorted(slices.Values(xs))
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// JSON returns the result as one line of JSON.
func (r Result) JSON() string {
	b, err := json.Marshal(r)
	if err != nil {
		// Only NaN or infinities can fail, which no figure here holds.
		return fmt.Sprintf(`{"error":%q}`, err.Error())
	}
	return string(b)
}

// table prints the figures as they are measured, with their goals.
type table struct {
	w io.Writer
}

// section starts a group of rows.
func (t table) section(title string) {
	fmt.Fprintf(t.w, "\n%s\n%s\n", title, strings.Repeat("─", len([]rune(title))))
}

// row prints one figure; goal is "" when it has none, else met says
// whether it is reached.
func (t table) row(name, value, goal string, met bool) {
	mark := ""
	if goal != "" {
		mark = "✗ goal " + goal
		if met {
			mark = "✓ goal " + goal
		}
	}
	fmt.Fprintf(t.w, "  %-44s %18s   %s\n", name, value, mark)
}

// note prints a line of explanation.
func (t table) note(format string, args ...any) {
	fmt.Fprintf(t.w, "  "+format+"\n", args...)
}

// si formats v with a thousands separator, or with a unit suffix.
func si(v float64, unit string) string {
	switch {
	case v >= 1e9:
		return fmt.Sprintf("%.2f G%s", v/1e9, unit)
	case v >= 1e6:
		return fmt.Sprintf("%.2f M%s", v/1e6, unit)
	case v >= 1e4:
		return fmt.Sprintf("%.1f k%s", v/1e3, unit)
	}
	return fmt.Sprintf("%.0f %s", v, unit)
}
