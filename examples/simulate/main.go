// Command simulate writes a realistic, reproducible contact-centre event
// log as JSON Lines, in the wire format that examples/fcrreport reads.
//
//	go run ./examples/simulate -seed 1 -days 30 -customers 5000 > log.jsonl
//
// What was generated (issues, repeats, abandons…) goes to standard error as
// JSON, so that a report can be checked against it.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/internal/simulate"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg simulate.Config
	fs.Uint64Var(&cfg.Seed, "seed", 1, "random seed: the same flags give the same log")
	fs.IntVar(&cfg.Days, "days", 7, "days of traffic")
	fs.IntVar(&cfg.Customers, "customers", 1000, "number of customers")
	fs.Float64Var(&cfg.IssuesPerDay, "issues-per-day", 0, "new problems a day (0: derived from -events, or 150)")
	fs.IntVar(&cfg.Events, "events", 0, "about how many events to write, when -issues-per-day is 0")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	usage := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "simulate: "+format+"\n", args...)
		return 2
	}
	switch {
	case fs.NArg() > 0:
		return usage("unexpected argument %q: the log goes to standard output", fs.Arg(0))
	case cfg.Days < 1:
		return usage("-days %d: need at least one day", cfg.Days)
	case cfg.Customers < 1:
		return usage("-customers %d: need at least one customer", cfg.Customers)
	case !(cfg.IssuesPerDay >= 0) || math.IsInf(cfg.IssuesPerDay, 0):
		return usage("-issues-per-day %g: need 0 or a positive number", cfg.IssuesPerDay)
	case cfg.Events < 0:
		return usage("-events %d: need 0 or a positive number", cfg.Events)
	}
	g, err := simulate.New(cfg)
	if err != nil {
		fmt.Fprintln(stderr, err) // it says "simulate:" already
		return 2
	}
	codec := events.NewJSONCodec(nil)
	w := bufio.NewWriterSize(stdout, 1<<20)
	var line []byte
	for e := range g.Events() {
		if line, err = events.AppendLine(line[:0], codec, e); err != nil {
			fmt.Fprintf(stderr, "simulate: %v\n", err)
			return 1
		}
		if _, err := w.Write(line); err != nil {
			fmt.Fprintf(stderr, "simulate: %v\n", err)
			return 1
		}
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintf(stderr, "simulate: %v\n", err)
		return 1
	}
	truth, _ := json.Marshal(g.Truth())
	fmt.Fprintf(stderr, "%s\n", truth)
	return 0
}
