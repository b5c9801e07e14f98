package main

import (
	"context"
	_ "embed"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/events/pgstore"
	"github.com/truefcr/truefcr/events/pgstore/pgtest"
	"github.com/truefcr/truefcr/projections"
)

// fcrTrueSQL is the reference query of true FCR.
//
//go:embed fcr_true.sql
var fcrTrueSQL string

// How much of the log the append measurements write: single appends are
// one transaction each, so fewer of them.
const (
	pgSingleEvents = 2_000
	pgBatchEvents  = 100_000
	pgBatchSize    = 1_000 // events per AppendBatch
)

// appendSingle appends the first n events of the store to a new pgstore
// table, one Append (one transaction) per event, and returns events per
// second.
func appendSingle(ctx context.Context, pool *pgxpool.Pool, schema, table string, store *events.MemoryStore, n int) (float64, error) {
	s, err := pgstore.New(ctx, pool, pgstore.Config{Schema: schema, Table: table})
	if err != nil {
		return 0, err
	}
	evs, err := firstEvents(ctx, store, n)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	for _, e := range evs {
		if _, err := s.Append(ctx, e.Issue, e.Version-1, []events.Envelope{e}); err != nil {
			return 0, err
		}
	}
	return float64(len(evs)) / time.Since(start).Seconds(), nil
}

// appendBatched appends the first n events of the store with AppendBatch,
// pgBatchSize events of many streams per transaction, and returns events
// per second.
func appendBatched(ctx context.Context, pool *pgxpool.Pool, schema, table string, store *events.MemoryStore, n int) (float64, error) {
	s, err := pgstore.New(ctx, pool, pgstore.Config{Schema: schema, Table: table})
	if err != nil {
		return 0, err
	}
	evs, err := firstEvents(ctx, store, n)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	for i := 0; i < len(evs); i += pgBatchSize {
		if _, err := s.AppendBatch(ctx, byStream(evs[i:min(i+pgBatchSize, len(evs))])); err != nil {
			return 0, err
		}
	}
	return float64(len(evs)) / time.Since(start).Seconds(), nil
}

// byStream groups events by issue, in the order each issue first appears,
// keeping each issue's events in order.
func byStream(evs []events.Envelope) []pgstore.Batch {
	at := make(map[uuid.UUID]int)
	var out []pgstore.Batch
	for _, e := range evs {
		i, ok := at[e.Issue]
		if !ok {
			i = len(out)
			at[e.Issue] = i
			out = append(out, pgstore.Batch{Issue: e.Issue, Expected: e.Version - 1})
		}
		out[i].Events = append(out[i].Events, e)
	}
	return out
}

// firstEvents returns the first n events of the store.
func firstEvents(ctx context.Context, store *events.MemoryStore, n int) ([]events.Envelope, error) {
	out := make([]events.Envelope, 0, min(n, store.Len()))
	for e, err := range store.ReadAll(ctx, 0) {
		if err != nil {
			return nil, err
		}
		if len(out) == n {
			break
		}
		out = append(out, e)
	}
	return out, nil
}

// loadIssues creates the issues table of the reference query in schema
// and loads the rows with COPY.
func loadIssues(ctx context.Context, pool *pgxpool.Pool, schema string, rows []*issueRow) error {
	table := pgx.Identifier{schema, "issues"}
	_, err := pool.Exec(ctx, `CREATE TABLE `+table.Sanitize()+` (
		issue_id          uuid PRIMARY KEY,
		customer_key      text NOT NULL,
		topic             text NOT NULL,
		opened_at         timestamptz NOT NULL,
		first_resolved_at timestamptz,
		closed_at         timestamptz,
		first_contact_at  timestamptz,
		second_contact_at timestamptz)`)
	if err != nil {
		return fmt.Errorf("create table issues: %w", err)
	}
	orNull := func(t time.Time) any {
		if t.IsZero() {
			return nil
		}
		return t
	}
	i := 0
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if i == len(rows) {
			return nil, nil
		}
		r := rows[i]
		i++
		first, second := r.counted()
		closed := r.closed
		if r.open {
			closed = time.Time{}
		}
		// [16]byte, which pgx encodes as it is; a uuid.UUID goes through
		// its string and back (see pgstore's pgUUID).
		return []any{[16]byte(r.id), r.customer, r.topic, r.opened, orNull(r.firstResolved), orNull(closed), orNull(first), orNull(second)}, nil
	})
	cols := []string{"issue_id", "customer_key", "topic", "opened_at", "first_resolved_at", "closed_at", "first_contact_at", "second_contact_at"}
	if _, err := pool.CopyFrom(ctx, table, cols, src); err != nil {
		return fmt.Errorf("copy %d issues: %w", len(rows), err)
	}
	if _, err := pool.Exec(ctx, `ANALYZE `+table.Sanitize()); err != nil {
		return fmt.Errorf("analyze issues: %w", err)
	}
	return nil
}

// querySQL runs the reference query over the issues table in schema.
func querySQL(ctx context.Context, pool *pgxpool.Pool, schema string, watermark time.Time, window time.Duration) (achieved, failed int64, err error) {
	err = inSchema(ctx, pool, schema, func(conn *pgxpool.Conn) error {
		return conn.QueryRow(ctx, fcrTrueSQL, watermark, window.Seconds()).Scan(&achieved, &failed)
	})
	if err != nil {
		return 0, 0, fmt.Errorf("reference query: %w", err)
	}
	return achieved, failed, nil
}

// explainSQL runs the reference query under EXPLAIN (ANALYZE, BUFFERS) and
// writes the plan to the file path.
func explainSQL(ctx context.Context, pool *pgxpool.Pool, schema string, watermark time.Time, window time.Duration, path string) error {
	var plan []string
	err := inSchema(ctx, pool, schema, func(conn *pgxpool.Conn) error {
		rows, err := conn.Query(ctx, `EXPLAIN (ANALYZE, BUFFERS) `+fcrTrueSQL, watermark, window.Seconds())
		if err != nil {
			return err
		}
		plan, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		return fmt.Errorf("explain the reference query: %w", err)
	}
	return os.WriteFile(path, []byte(strings.Join(plan, "\n")+"\n"), 0o644)
}

// inSchema runs fn on a connection of pool whose search path is schema.
func inSchema(ctx context.Context, pool *pgxpool.Pool, schema string, fn func(*pgxpool.Conn) error) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SET search_path TO `+pgx.Identifier{schema}.Sanitize()); err != nil {
		return err
	}
	defer conn.Exec(context.WithoutCancel(ctx), `RESET search_path`) //nolint:errcheck // the connection is reset on release anyway
	return fn(conn)
}

// projectionOnSimple replays the simple log from its store into an FCR
// with the configuration the reference query follows (projections.Replay:
// decoding on one goroutine, the FCR on another) and makes the report.
func projectionOnSimple(ctx context.Context, s *simpleLog) (seconds float64, achieved, failed int64, err error) {
	start := time.Now()
	f, err := projections.NewFCR(projections.FCRConfig{Window: projections.DefaultFCRWindow, Match: projections.MatchTopic})
	if err != nil {
		return 0, 0, 0, err
	}
	if _, _, err := projections.Replay(ctx, s.store, 0, f); err != nil {
		return 0, 0, 0, err
	}
	rep := f.Report()
	return time.Since(start).Seconds(), rep.Achieved, rep.Failed, nil
}

// measurePostgres measures the Postgres store's appends and the reference
// SQL query against the projection on the simple log, in a schema of its
// own that it drops at the end, through pool; explain, when set, names
// the file for the query's plan.
func measurePostgres(ctx context.Context, t table, res *Result, s *simpleLog, pool *pgxpool.Pool, runs int, explain string) (err error) {
	schema := pgtest.NewSchemaName("benchmark")
	if _, err := pool.Exec(ctx, `CREATE SCHEMA `+pgx.Identifier{schema}.Sanitize()); err != nil {
		return fmt.Errorf("create schema %s: %w", schema, err)
	}
	defer func() {
		dropCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if _, derr := pool.Exec(dropCtx, `DROP SCHEMA `+pgx.Identifier{schema}.Sanitize()+` CASCADE`); derr != nil && err == nil {
			err = fmt.Errorf("drop schema %s: %w", schema, derr)
		}
	}()

	var singles, batches []float64
	for run := range runs {
		r, err := appendSingle(ctx, pool, schema, fmt.Sprintf("single_%d", run), s.store, pgSingleEvents)
		if err != nil {
			return fmt.Errorf("append single events: %w", err)
		}
		singles = append(singles, r)
		r, err = appendBatched(ctx, pool, schema, fmt.Sprintf("batch_%d", run), s.store, pgBatchEvents)
		if err != nil {
			return fmt.Errorf("append batches: %w", err)
		}
		batches = append(batches, r)
	}
	single, batch := median(singles), median(batches)
	res.PgAppendSingleEventsPerS, res.PgAppendEventsPerS = num(single), num(batch)
	t.row(fmt.Sprintf("Append, 1 event a transaction (%d)", min(pgSingleEvents, s.events)), si(single, "events/s"), "", false)
	t.row(fmt.Sprintf("AppendBatch, %d events a call (%d)", pgBatchSize, min(pgBatchEvents, s.events)), si(batch, "events/s"), "≥ 20 k/s", batch >= 20000)

	start := time.Now()
	if err := loadIssues(ctx, pool, schema, s.rows); err != nil {
		return err
	}
	load := time.Since(start).Seconds()
	res.SQLEvents, res.SQLIssues, res.SQLLoadSeconds = num(float64(s.events)), num(float64(len(s.rows))), num(load)
	t.row(fmt.Sprintf("COPY %d issue rows, ANALYZE", len(s.rows)), fmt.Sprintf("%.2f s", load), "", false)

	window := projections.DefaultFCRWindow
	var sqlTimes, projTimes []float64
	var sa, sf, pa, pf int64
	for range runs {
		start := time.Now()
		if sa, sf, err = querySQL(ctx, pool, schema, s.watermark, window); err != nil {
			return err
		}
		sqlTimes = append(sqlTimes, time.Since(start).Seconds())
		secs, a, f, err := projectionOnSimple(ctx, s)
		if err != nil {
			return err
		}
		projTimes = append(projTimes, secs)
		pa, pf = a, f
	}
	sqlSecs, projSecs := median(sqlTimes), median(projTimes)
	for i := range sqlTimes {
		res.SpeedupVsSQLRuns = append(res.SpeedupVsSQLRuns, sqlTimes[i]/projTimes[i])
	}
	agrees := sa == pa && sf == pf
	res.SQLSeconds, res.ProjectionSeconds, res.SpeedupVsSQL = num(sqlSecs), num(projSecs), num(sqlSecs/projSecs)
	res.SQLAchieved, res.SQLFailed = num(float64(sa)), num(float64(sf))
	res.FCRAchieved, res.FCRFailed = num(float64(pa)), num(float64(pf))
	res.SQLAgrees = boolean(agrees)
	t.row("reference query (fcr_true.sql)", fmt.Sprintf("%.3f s", sqlSecs), "", false)
	t.row(fmt.Sprintf("projection: ReadAll, decode, FCR (%d events)", s.events), fmt.Sprintf("%.3f s", projSecs), "", false)
	t.row("speedup vs SQL", fmt.Sprintf("%.2f×", sqlSecs/projSecs), "≥ 3×", sqlSecs/projSecs >= 3)
	t.row("achieved / failed, SQL", fmt.Sprintf("%d / %d", sa, sf), "", false)
	t.row("achieved / failed, projection", fmt.Sprintf("%d / %d", pa, pf), "", false)
	t.row("SQL agrees", fmt.Sprint(agrees), "true", agrees)
	if explain != "" {
		if err := explainSQL(ctx, pool, schema, s.watermark, window, explain); err != nil {
			return err
		}
		t.note("the query's plan, run once more under EXPLAIN (ANALYZE, BUFFERS): %s", explain)
	}
	return nil
}
