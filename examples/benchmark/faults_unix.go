//go:build unix

package main

import "syscall"

// pageFaults returns the minor page faults of the process so far, and
// false where they cannot be read.
func pageFaults() (int64, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return int64(ru.Minflt), true
}
