// Package storetest is the conformance suite of events.Store. Any
// implementation (the in-memory store, a database backend, a host
// application's own) runs the whole suite with one call:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) events.Store {
//			return newStore(t)
//		}, storetest.Features{Writers: 4})
//	}
//
// The suite checks the contract written on events.Store: round trips of
// data, metadata, times and versions; streams in version order whatever
// their events' times and ids; a store's own copy of what it keeps;
// optimistic concurrency with *events.VersionConflictError; invalid
// appends that store nothing; all-or-nothing batches; many writers racing
// on one stream and on many; the global order of ReadAll over a log longer
// than a page, reading from a position, reading while writers append and
// stopping a read early; context cancellation; and loading an unknown
// issue.
//
// Features declares what a store promises beyond the contract (for
// instance gapless Positions) and how hard to push it, and the suite
// adapts. The suite never assumes that a store starts empty: it writes to
// fresh issues and only judges the events of the issues it wrote, so a
// store backed by a shared database may be reused between cases.
package storetest
