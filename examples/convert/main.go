// Command convert turns the public data sets of ../shared/data into a JSON
// Lines event log in the wire format, so that the FCR report can run on
// real data:
//
//	go run ./examples/convert -dataset pwc  FILE > log.jsonl
//	go run ./examples/convert -dataset twcs [-window 168h] [-gap 24h] FILE > log.jsonl
//
// Malformed rows are reported on standard error with their line number and
// skipped (or, with -strict, stop the conversion; the events written
// before such a stop are a log cut short). A summary of what was
// converted goes to standard error at the end. See README.md for what the
// conversion assumes.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "convert:", err)
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// run parses the command line, converts the file it names to stdout and
// reports to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("convert", flag.ContinueOnError)
	fs.SetOutput(stderr)
	opt := options{warn: stderr}
	fs.StringVar(&opt.dataset, "dataset", "", "the data set: pwc (call centre) or twcs (Twitter support)")
	fs.DurationVar(&opt.window, "window", 7*24*time.Hour, "repeat window of the summary's count of repeat conversations")
	fs.DurationVar(&opt.gap, "gap", 24*time.Hour, "twcs: a silence longer than this starts a new conversation")
	fs.BoolVar(&opt.classify, "classify", true, "twcs: guess topics from keywords; false: one topic, support/general")
	fs.BoolVar(&opt.strict, "strict", false, "stop at the first malformed row")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: convert -dataset pwc|twcs [flags] FILE > log.jsonl")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%v: %w", err, errUsage)
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("want one FILE, got %d arguments: %w", fs.NArg(), errUsage)
	}
	if opt.window <= 0 || opt.gap <= 0 {
		return fmt.Errorf("-window %s and -gap %s must be positive: %w", opt.window, opt.gap, errUsage)
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer f.Close()
	sum, err := convert(ctx, f, stdout, opt)
	if err != nil {
		if sum.Events > 0 {
			// pwc writes as it reads, a day behind.
			return fmt.Errorf("%s: %w (the %d events written before it are a log cut short)", fs.Arg(0), err, sum.Events)
		}
		return fmt.Errorf("%s: %w", fs.Arg(0), err)
	}
	fmt.Fprintf(stderr, "%s (%s): %s\n", fs.Arg(0), opt.dataset, sum)
	return nil
}
