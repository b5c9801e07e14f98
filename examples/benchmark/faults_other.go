//go:build !unix

package main

// pageFaults reports false where the process's page faults are not at
// hand: the table then leaves them out.
func pageFaults() (int64, bool) { return 0, false }
