//go:build !unix

package projections

// cpuTime returns 0 where the process's CPU time is not at hand: the
// benchmarks then report wall-clock figures only.
func cpuTime() int64 { return 0 }
