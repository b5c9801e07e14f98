// Package pgtest connects the tests of the Postgres backends to a test
// database: one pool per test, a fresh schema per test that is dropped when
// the test ends, and one rule for a server that cannot be reached (skip the
// test, or fail it when the CI environment variable is set).
//
// Use it from TestMain (pgtest.Main) and in each test:
//
//	pool := pgtest.Pool(t)          // skips, or fails under CI, without a server
//	schema := pgtest.Schema(t, pool) // dropped when the test ends
//
// The connection string comes from the TRUEFCR_POSTGRES_DSN environment
// variable, DefaultDSN when it is not set.
package pgtest
