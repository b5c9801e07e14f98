// Command postgres shows the production wiring of true FCR on PostgreSQL
// alone, with no other broker: the contact Service appends every
// command's events to the Postgres store, which writes them to its
// transactional outbox in the same transaction; the outbox forwarder
// moves them to a Watermill publisher; a projections.Runner follows it
// live, catches up from the store and checkpoints in Postgres. A second
// runner of the same name then resumes from that checkpoint.
//
// It needs a PostgreSQL server: see README.md.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/truefcr/truefcr/contact"
	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/events/pgstore/pgtest"
	"github.com/truefcr/truefcr/internal/cli"
	"github.com/truefcr/truefcr/internal/headline"
	"github.com/truefcr/truefcr/internal/simulate"
	"github.com/truefcr/truefcr/projections"
)

// Where the database is when neither -dsn nor the environment says.
const (
	envDSN     = "TRUEFCR_POSTGRES_DSN"
	defaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
)

// runnerName names the runner's checkpoint; the second runner shares it.
const runnerName = "fcr"

var (
	// errInvalidOption: a flag value the program cannot run with.
	errInvalidOption = errors.New("invalid option")
	// errNotCaughtUp: a runner stopped before it had read every event.
	errNotCaughtUp = errors.New("runner did not catch up")
	// errResumed: the resumed runner did not end where the first one did.
	errResumed = errors.New("resumed runner differs")
)

// fcrConfig is the definition of true FCR that the runners measure.
func fcrConfig() projections.FCRConfig {
	return projections.FCRConfig{Window: 72 * time.Hour}
}

// options are the program's flags.
type options struct {
	DSN          string
	Days         int
	Seed         uint64
	IssuesPerDay float64 // 0 for the simulator's default
	JSON         bool
	Keep         bool
}

func main() {
	var o options
	flag.StringVar(&o.DSN, "dsn", "", "PostgreSQL connection string (default $"+envDSN+", else "+defaultDSN+")")
	flag.IntVar(&o.Days, "days", 7, "days of simulated contact centre traffic")
	flag.Uint64Var(&o.Seed, "seed", 1, "seed of the simulated traffic")
	flag.Float64Var(&o.IssuesPerDay, "issues", 0, "new issues a day (default the simulator's, 150)")
	flag.BoolVar(&o.JSON, "json", false, "print the run and the report as one JSON object")
	flag.BoolVar(&o.Keep, "keep", false, "keep the schema of the run instead of dropping it")
	cli.Parse()
	o.DSN = dsnOf(o.DSN)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout, o); err != nil {
		log.Fatal(err)
	}
}

// dsnOf returns the connection string: the flag's, else the environment's,
// else defaultDSN.
func dsnOf(flagged string) string {
	if flagged != "" {
		return flagged
	}
	if env := os.Getenv(envDSN); env != "" {
		return env
	}
	return defaultDSN
}

// summary is what a run found; it is the program's JSON output.
type summary struct {
	Schema string `json:"schema"`
	// Events is how many events the Service recorded.
	Events int `json:"events"`
	// RecordMS is how long recording took, in milliseconds.
	RecordMS int64         `json:"record_ms"`
	First    runnerSummary `json:"first"`
	Resumed  runnerSummary `json:"resumed"`
	// Identical says whether the resumed runner's report is the first's.
	Identical bool `json:"identical"`
	// Pruned is how many forwarded messages were deleted from the outbox.
	Pruned int64                 `json:"pruned"`
	Report projections.FCRReport `json:"report"`
}

// runnerSummary is what one runner did.
type runnerSummary struct {
	// From is the checkpoint position the runner started from.
	From uint64 `json:"from"`
	// Checkpoint is the position of its checkpoint when it stopped.
	Checkpoint  uint64 `json:"checkpoint"`
	Applied     int64  `json:"applied"`
	Duplicates  int64  `json:"duplicates"`
	Checkpoints int64  `json:"checkpoints"`
}

func run(ctx context.Context, out io.Writer, o options) (err error) {
	if o.Days < 1 {
		return fmt.Errorf("-days %d: want at least one day: %w", o.Days, errInvalidOption)
	}
	if o.IssuesPerDay < 0 {
		return fmt.Errorf("-issues %v: want a rate of zero (the default) or more: %w", o.IssuesPerDay, errInvalidOption)
	}
	say := func(format string, args ...any) {
		if !o.JSON {
			fmt.Fprintf(out, format, args...)
		}
	}
	pool, where, err := connect(ctx, o.DSN)
	if err != nil {
		return err
	}
	defer pool.Close()
	// A schema of its own, so that a run never meets another's tables.
	s := summary{Schema: pgtest.NewSchemaName("example")}
	if !o.Keep {
		defer func() {
			if dropErr := dropSchema(ctx, pool, s.Schema); err == nil {
				err = dropErr
			}
		}()
	}
	say("PostgreSQL %s, schema %s\n", where, s.Schema)
	p, err := newPipeline(ctx, pool, s.Schema)
	if err != nil {
		return err
	}
	defer p.close()

	// The first runner subscribes before anything is forwarded.
	first, err := p.start(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = first.stop() }()
	if err := first.waitCaughtUp(ctx); err != nil {
		return err
	}
	p.forward(ctx)

	started := time.Now()
	if s.Events, err = record(ctx, p.store, o); err != nil {
		return err
	}
	recorded := time.Now()
	s.RecordMS = recorded.Sub(started).Milliseconds()
	say("recorded %d events through the Service in %s: events and outbox in one transaction each\n",
		s.Events, recorded.Sub(started).Round(time.Millisecond))
	if err := first.waitCaughtUp(ctx); err != nil {
		return err
	}
	say("runner %q caught up %s after the last command\n", runnerName, time.Since(recorded).Round(time.Millisecond))
	if s.First, err = first.finish(ctx, p.checkpoints); err != nil {
		return err
	}
	say("runner %q stopped: %d applied, %d duplicates (met on the broker and in the store), %d checkpoints, the last at position %d\n",
		runnerName, s.First.Applied, s.First.Duplicates, s.First.Checkpoints, s.First.Checkpoint)

	// A restarted process does the same: the name finds the checkpoint.
	second, err := p.start(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = second.stop() }()
	if err := second.waitCaughtUp(ctx); err != nil {
		return err
	}
	if s.Resumed, err = second.finish(ctx, p.checkpoints); err != nil {
		return err
	}
	s.Report = second.fcr.Report()
	if s.Identical, err = sameJSON(first.fcr.Report(), s.Report); err != nil {
		return err
	}
	say("runner %q resumed from position %d: %d applied, %d duplicates; report identical: %t\n",
		runnerName, s.Resumed.From, s.Resumed.Applied, s.Resumed.Duplicates, s.Identical)

	if s.Pruned, err = p.prune(ctx, s.Events); err != nil {
		return err
	}
	say("pruned %d forwarded messages from the outbox\n", s.Pruned)
	if o.Keep {
		say("kept schema %s\n", s.Schema)
	}
	if err := write(out, s, o.JSON); err != nil {
		return err
	}
	if !s.Identical || s.Resumed.From != s.First.Checkpoint {
		return fmt.Errorf("runner %q resumed from position %d after stopping at %d, identical report %t: %w",
			runnerName, s.Resumed.From, s.First.Checkpoint, s.Identical, errResumed)
	}
	return nil
}

// write writes the report as text, or the whole summary as JSON.
func write(out io.Writer, s summary, asJSON bool) error {
	if !asJSON {
		headline.Write(out, s.Report)
		return nil
	}
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

// sameJSON reports whether a and b have the same JSON form.
func sameJSON(a, b any) (bool, error) {
	ja, err := json.Marshal(a)
	if err != nil {
		return false, err
	}
	jb, err := json.Marshal(b)
	if err != nil {
		return false, err
	}
	return bytes.Equal(ja, jb), nil
}

// dropSchema drops schema and everything in it, even when ctx is done.
func dropSchema(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if _, err := pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
		return fmt.Errorf("drop schema %s: %w", schema, err)
	}
	return nil
}

// connect opens a pool on dsn and checks that the server answers; where
// names the server without the password.
func connect(ctx context.Context, dsn string) (pool *pgxpool.Pool, where string, err error) {
	where = pgtest.Server(dsn)
	if pool, err = pgtest.Connect(ctx, dsn); err != nil {
		return nil, "", fmt.Errorf("connect to PostgreSQL at %s (is it running? see README.md): %w", where, err)
	}
	return pool, where, nil
}

// record plays the simulated traffic through the Service, each event as
// the command a helpdesk would have sent, and returns how many events it
// recorded. The store's outbox publishes them: the Service needs no
// Publisher.
func record(ctx context.Context, store events.Store, o options) (int, error) {
	traffic, _, err := simulate.Collect(simulate.Config{Seed: o.Seed, Days: o.Days, IssuesPerDay: o.IssuesPerDay})
	if err != nil {
		return 0, err
	}
	svc, err := contact.NewService(contact.Config{Store: store})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range traffic {
		cmd, err := contact.CommandOf(e)
		if err != nil {
			return n, err
		}
		evs, err := svc.Execute(ctx, e.Issue, cmd)
		if err != nil {
			return n, err
		}
		n += len(evs)
	}
	return n, nil
}
