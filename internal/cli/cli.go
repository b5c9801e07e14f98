// Package cli holds what the example programs share on their command
// lines.
package cli

import (
	"flag"
	"fmt"
	"io"
	"os"
)

// Parse parses the command line of a program that takes flags and no
// arguments, as flag.Parse does. An argument, such as a flag put after one
// (flag stops at the first argument), is refused: it is reported, with
// the usage, and the program exits with status 2.
func Parse() {
	flag.Parse()
	if err := noArgs(flag.CommandLine); err != nil {
		fmt.Fprintln(flag.CommandLine.Output(), err)
		flag.Usage()
		os.Exit(2)
	}
}

// noArgs refuses the arguments that fs parsed beyond its flags.
func noArgs(fs *flag.FlagSet) error {
	if fs.NArg() == 0 {
		return nil
	}
	return fmt.Errorf("%s: unexpected argument %q: the program takes flags only, and they go before any argument", fs.Name(), fs.Arg(0))
}

// Usage returns a flag.Usage for a program that takes no flags either: it
// says so, and what the program does.
func Usage(w io.Writer, name, does string) func() {
	return func() { fmt.Fprintf(w, "usage: %s\n%s; it takes no flags or arguments.\n", name, does) }
}
