// Command benchmark measures the library against what its users would use
// instead: the codecs, the true-FCR projection on one core, a full replay
// of the in-memory store into every projection of the report and the
// memory it holds, the runner behind Watermill's GoChannel against the
// bare GoChannel, and, where PostgreSQL is reachable, the Postgres store's
// appends and a reference SQL query of true FCR (fcr_true.sql) against the
// projection on the same issues.
//
//	go run ./examples/benchmark                  # about 8 million events
//	go run ./examples/benchmark -events 200000   # a small version, in seconds
//
// It prints a table as it goes and, last, one line of JSON with every
// figure; a figure it could not measure is null and the table says why.
// Each figure is the median of -runs runs. README.md says what each one
// means and holds the figures measured.
package main
