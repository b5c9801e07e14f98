package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/truefcr/truefcr/events/pgstore/pgtest"
	"github.com/truefcr/truefcr/projections"
)

// Options says what to measure and how often.
type Options struct {
	// Events is about how many events the log has.
	Events int
	// Seed makes the log reproducible.
	Seed uint64
	// Runs is how many times each figure is measured; the median counts.
	Runs int
	// BusEvents caps the events sent through GoChannel, whose messages
	// are built before the clock starts.
	BusEvents int
	// DSN locates PostgreSQL; "" leaves it out.
	DSN string
	// Only, when not empty, names the measurements to make: codecs,
	// projection, replay, gochannel, postgres.
	Only []string
	// Explain, when set, names a file for PostgreSQL's plan of the
	// reference query, run once more under EXPLAIN (ANALYZE, BUFFERS).
	Explain string
	// MemProfile, when set, names a file for a heap profile of what the
	// replay's projections hold at the end of the log.
	MemProfile string
}

// measurements names what Options.Only may choose.
var measurements = []string{"codecs", "projection", "replay", "gochannel", "postgres"}

// does reports whether opts asks for the measurement.
func (o Options) does(name string) bool {
	return len(o.Only) == 0 || slices.Contains(o.Only, name)
}

func main() {
	opts := Options{DSN: pgtest.DSN()}
	flag.IntVar(&opts.Events, "events", 8_000_000, "about how many events the simulated log has")
	flag.Uint64Var(&opts.Seed, "seed", 1, "seed of the simulated log")
	flag.IntVar(&opts.Runs, "runs", 3, "runs of each measurement; the median is reported")
	flag.IntVar(&opts.BusEvents, "bus-events", 1_000_000, "at most this many events go through GoChannel")
	noPG := flag.Bool("no-postgres", false, "leave PostgreSQL out")
	flag.StringVar(&opts.Explain, "explain", "", "write PostgreSQL's plan of the reference query (EXPLAIN (ANALYZE, BUFFERS)) to this file")
	flag.StringVar(&opts.MemProfile, "memprofile", "", "write a heap profile of what the replay's projections hold at the end of the log to this file")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the run to this file (with -only, of those measurements)")
	only := flag.String("only", "", "comma-separated measurements to make, of "+strings.Join(measurements, ", ")+"; all by default")
	flag.Parse()
	if *only != "" {
		opts.Only = strings.Split(*only, ",")
	}
	// A usage error stops the program before anything is measured, and
	// prints no result.
	err := opts.check()
	switch {
	case flag.NArg() > 0:
		err = fmt.Errorf("benchmark: unexpected argument %q", flag.Arg(0))
	case err == nil && opts.Runs < 1:
		err = fmt.Errorf("benchmark: -runs %d: need at least one run", opts.Runs)
	case err == nil && opts.BusEvents < 1:
		err = fmt.Errorf("benchmark: -bus-events %d: need at least one event", opts.BusEvents)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if *noPG {
		opts.DSN = ""
	}
	if opts.MemProfile != "" {
		// Every allocation of 512 bytes on average is sampled, rather
		// than of 512 KB: the state is millions of small objects.
		runtime.MemProfileRate = 512
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer func() {
			pprof.StopCPUProfile()
			_ = f.Close()
		}()
	}
	res, err := Measure(context.Background(), os.Stdout, opts)
	fmt.Println(res.JSON())
	if err != nil {
		log.Print(err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

// minEvents is the fewest events that -events may ask for: the simulator
// gives a log too short to measure, or none, below it.
const minEvents = 1000

// check reports options that Measure cannot work with.
func (o Options) check() error {
	if o.Events < minEvents {
		return fmt.Errorf("benchmark: -events %d: give at least %d", o.Events, minEvents)
	}
	for _, m := range o.Only {
		if !slices.Contains(measurements, m) {
			return fmt.Errorf("benchmark: no measurement %q; there are %s", m, strings.Join(measurements, ", "))
		}
	}
	return nil
}

// Measure generates the log of opts and measures everything in turn,
// printing a table to w as it goes. The Result holds what was measured
// before an error.
func Measure(ctx context.Context, w io.Writer, opts Options) (Result, error) {
	res := Result{Events: opts.Events, Seed: opts.Seed, Runs: max(1, opts.Runs)}
	if err := opts.check(); err != nil {
		return res, err
	}
	runs := res.Runs
	t := table{w: w}
	cfg := logConfig(opts.Seed, opts.Events, logDays)
	fmt.Fprintf(w, "truefcr benchmark: %s/%s, %d cores, GOMAXPROCS %d, %d runs each (median)\n",
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0), runs)

	start := time.Now()
	store, err := fillStore(ctx, cfg)
	if err != nil {
		return res, err
	}
	res.Events = store.Len()
	fmt.Fprintf(w, "log: %d events, %d days, %d customers, seed %d (generated and stored in %.1f s)\n",
		store.Len(), cfg.Days, cfg.Customers, cfg.Seed, time.Since(start).Seconds())
	if store.Len() == 0 {
		return res, fmt.Errorf("the log of -events %d has no events: give at least %d", opts.Events, minEvents)
	}
	if skip := opts.skipped(); len(skip) > 0 {
		fmt.Fprintf(w, "not measured (-only), their figures null: %s\n", strings.Join(skip, ", "))
	}

	steps := []struct {
		name string
		run  func() error
	}{
		{"codecs", func() error { return measureCodecs(ctx, t, &res, store, runs) }},
		{"projection", func() error { return measureProjection(ctx, t, &res, store, runs) }},
		{"replay", func() error { return measureReplay(ctx, t, &res, store, cfg, runs, opts.MemProfile) }},
		{"gochannel", func() error { return measureBus(ctx, t, &res, store, max(1, opts.BusEvents), runs) }},
	}
	for _, s := range steps {
		if !opts.does(s.name) {
			continue
		}
		if err := s.run(); err != nil {
			return res, fmt.Errorf("%s: %w", s.name, err)
		}
	}
	store = nil // the simple log takes its place
	runtime.GC()

	if !opts.does("postgres") {
		if opts.Explain != "" {
			t.note("no plan written to %s: PostgreSQL is not measured (-only)", opts.Explain)
		}
		return res, nil
	}
	t.section("5. PostgreSQL: the store's appends, and true FCR in SQL against the projection")
	noPlan := func() {
		if opts.Explain != "" {
			t.note("no plan written to %s", opts.Explain)
		}
	}
	if opts.DSN == "" {
		t.note("not measured: left out (-no-postgres)")
		noPlan()
		return res, nil
	}
	pool, err := pgtest.Connect(ctx, opts.DSN)
	if err != nil {
		t.note("not measured: PostgreSQL at %s cannot be reached (%v); set %s", pgtest.Server(opts.DSN), err, pgtest.EnvDSN)
		noPlan()
		return res, nil
	}
	defer pool.Close()
	start = time.Now()
	simple, err := buildSimpleLog(ctx, cfg, projections.DefaultFCRWindow)
	if err != nil {
		return res, err
	}
	t.note("simple log for SQL: %d events, %d issues, one key a customer, opening topics (%d reclassifications", simple.events, len(simple.rows), simple.dropped)
	t.note("left out), %d streams cut where they settled (%.1f s)", simple.cut, time.Since(start).Seconds())
	if err := measurePostgres(ctx, t, &res, simple, pool, runs, opts.Explain); err != nil {
		return res, fmt.Errorf("postgres: %w", err)
	}
	return res, nil
}

// skipped lists the measurements that opts leaves out, whose figures
// stay null.
func (o Options) skipped() []string {
	var out []string
	for _, m := range measurements {
		if !o.does(m) {
			out = append(out, m)
		}
	}
	return out
}
