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

// check reports options that Measure cannot work with.
func (o Options) check() error {
	if o.Events <= 0 {
		return fmt.Errorf("benchmark: -events %d is not positive", o.Events)
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

	steps := []struct {
		name string
		run  func() error
	}{
		{"codecs", func() error { return measureCodecs(ctx, t, &res, store, runs) }},
		{"projection", func() error { return measureProjection(ctx, t, &res, store, runs) }},
		{"replay", func() error { return measureReplay(ctx, t, &res, store, cfg, runs) }},
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
		return res, nil
	}
	if opts.DSN == "" {
		t.section("5. PostgreSQL")
		t.note("not measured: left out (-no-postgres)")
		return res, nil
	}
	start = time.Now()
	simple, err := buildSimpleLog(ctx, cfg, projections.DefaultFCRWindow)
	if err != nil {
		return res, err
	}
	fmt.Fprintf(w, "\nsimple log for SQL: %d events, %d issues, one key a customer, opening topics (%d reclassifications left out), %d streams cut where they settled (%.1f s)\n",
		simple.events, len(simple.rows), simple.dropped, simple.cut, time.Since(start).Seconds())
	if err := measurePostgres(ctx, t, &res, simple, opts.DSN, runs); err != nil {
		return res, fmt.Errorf("postgres: %w", err)
	}
	return res, nil
}
