package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// EnvDSN names the environment variable that holds the test database's
// connection string.
const EnvDSN = "TRUEFCR_POSTGRES_DSN"

// DefaultDSN is the connection string used when EnvDSN is not set.
const DefaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// DSN returns the connection string of the test database.
func DSN() string {
	if dsn := os.Getenv(EnvDSN); dsn != "" {
		return dsn
	}
	return DefaultDSN
}

// Server names the server of connection string dsn for a message, as
// user@host:port/database, without the password that dsn may hold, which
// a log must not show; "an unparsable connection string" when it is one.
func Server(dsn string) string {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return "an unparsable connection string"
	}
	return fmt.Sprintf("%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
}

// howTo tells a reader how to get a server for the tests.
const howTo = "start PostgreSQL (pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start) or set " + EnvDSN

// Connect opens a pool on dsn and checks, within five seconds, that the
// server answers.
func Connect(ctx context.Context, dsn string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse connection string: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, err
	}
	return pool, nil
}

// Pool returns a pool on the test database, closed when tb ends. When the
// server cannot be reached it skips tb, or fails it when CI is set.
func Pool(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	pool, err := Connect(context.Background(), DSN())
	if err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("PostgreSQL at %s is required under CI: %v", Server(DSN()), err)
		}
		tb.Skipf("PostgreSQL at %s cannot be reached (%v): %s", Server(DSN()), err, howTo)
	}
	tb.Cleanup(pool.Close)
	return pool
}

// Schema creates a schema of its own for tb and drops it, with everything
// in it, when tb ends, so that tests can run in parallel against one
// database and leave nothing behind.
func Schema(tb testing.TB, pool *pgxpool.Pool) string {
	tb.Helper()
	name := NewSchemaName("test")
	ctx := context.Background()
	if _, err := pool.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{name}.Sanitize()); err != nil {
		tb.Fatalf("create schema %s: %v", name, err)
	}
	tb.Cleanup(func() { DropSchema(tb, pool, name) })
	return name
}

// DropSchema drops schema name and everything in it.
func DropSchema(tb testing.TB, pool *pgxpool.Pool, name string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
		tb.Errorf("drop schema %s: %v", name, err)
	}
}

// NewSchemaName returns a schema name that no other test run uses:
// truefcr_<kind>_<random hex>.
func NewSchemaName(kind string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "truefcr_" + kind + "_" + hex.EncodeToString(b[:])
}

// Main runs the tests of a package whose examples need the test database,
// as TestMain: when the server cannot be reached and CI is not set, it
// skips the examples (tests skip themselves through Pool); under CI the
// examples run and fail.
func Main(m *testing.M) {
	flag.Parse()
	if os.Getenv("CI") == "" {
		pool, err := Connect(context.Background(), DSN())
		if err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: skipping examples: PostgreSQL at %s cannot be reached (%v): %s\n", Server(DSN()), err, howTo)
			skip := "^Example"
			if old := flag.Lookup("test.skip"); old != nil && old.Value.String() != "" {
				skip = old.Value.String() + "|" + skip
			}
			_ = flag.Set("test.skip", skip)
		} else {
			pool.Close()
		}
	}
	os.Exit(m.Run())
}

// Ident returns the quoted identifier of parts (schema, table), for tests
// that write SQL by hand.
func Ident(parts ...string) string {
	return pgx.Identifier(parts).Sanitize()
}

// AtOnce calls start with each of n pools of their own, as n processes
// starting together would, on connections whose transactions default to
// the isolation level given ("read committed", "repeatable read",
// "serializable"), all at once, and returns their errors in order. It
// tests that what a process prepares at start (tables, schemas) comes out
// right whatever the server's default isolation. The pools close when tb
// ends; a server that cannot be reached skips tb, or fails it under CI, as
// Pool does.
func AtOnce(tb testing.TB, level string, n int, start func(*pgxpool.Pool) error) []error {
	tb.Helper()
	Pool(tb) // skips or fails without a server
	cfg := configAt(tb, level)
	errs := make([]error, n)
	ready := make(chan struct{})
	var wg sync.WaitGroup
	for i := range errs {
		pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
		if err != nil {
			tb.Fatalf("pool %d: %v", i, err)
		}
		tb.Cleanup(pool.Close)
		wg.Go(func() {
			<-ready
			errs[i] = start(pool)
		})
	}
	close(ready)
	wg.Wait()
	return errs
}

// PoolAt returns a pool on the test database whose transactions default
// to the isolation level given ("read committed", "repeatable read",
// "serializable"), closed when tb ends; a server that cannot be reached
// skips tb, or fails it under CI, as Pool does.
func PoolAt(tb testing.TB, level string) *pgxpool.Pool {
	tb.Helper()
	Pool(tb) // skips or fails without a server
	pool, err := pgxpool.NewWithConfig(context.Background(), configAt(tb, level))
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	tb.Cleanup(pool.Close)
	return pool
}

// configAt returns the test database's pool configuration with
// transactions that default to level.
func configAt(tb testing.TB, level string) *pgxpool.Config {
	tb.Helper()
	cfg := config(tb)
	cfg.ConnConfig.RuntimeParams["default_transaction_isolation"] = level
	return cfg
}

// config returns the test database's pool configuration.
func config(tb testing.TB) *pgxpool.Config {
	tb.Helper()
	cfg, err := pgxpool.ParseConfig(DSN())
	if err != nil {
		tb.Fatalf("parse the connection string of %s: %v", EnvDSN, err)
	}
	return cfg
}

// RefusesNewerTables checks what a role that may only read and write the
// tables hears of tables of a newer version: open, which opens a store of
// schema on pool, makes the tables; the version in versionTable (a table
// of schema, whose row has a column version) is then raised, and open
// must fail with want, for the tables' owner and for such a role
// (DMLRole), rather than with a refused DDL.
func RefusesNewerTables(t *testing.T, versionTable string, want error, open func(pool *pgxpool.Pool, schema string) error) {
	t.Helper()
	admin := Pool(t)
	schema := Schema(t, admin)
	if err := open(admin, schema); err != nil {
		t.Fatalf("make the tables: %v", err)
	}
	if _, err := admin.Exec(context.Background(), "UPDATE "+Ident(schema, versionTable)+" SET version = version + 1"); err != nil {
		t.Fatalf("raise the version: %v", err)
	}
	if err := open(admin, schema); !errors.Is(err, want) {
		t.Fatalf("the owner: got %v, want %v", err, want)
	}
	err := open(DMLRole(t, admin, schema), schema)
	t.Logf("DML role: %v", err)
	if !errors.Is(err, want) {
		t.Errorf("the DML role: got %v, want %v", err, want)
	}
}

// DMLRole returns a pool of a new role that may use schema and read and
// write its tables, as an application's role does where another role,
// which migrates, owns them; the role is dropped when tb ends. It needs a
// server that lets the test's user create roles and trusts their logins
// (as the default DSN's does).
func DMLRole(tb testing.TB, admin *pgxpool.Pool, schema string) *pgxpool.Pool {
	tb.Helper()
	ctx := context.Background()
	role := NewSchemaName("role")
	s, r := pgx.Identifier{schema}.Sanitize(), pgx.Identifier{role}.Sanitize()
	for _, q := range []string{
		"CREATE ROLE " + r + " LOGIN",
		"GRANT USAGE ON SCHEMA " + s + " TO " + r,
		"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA " + s + " TO " + r,
		"GRANT USAGE ON ALL SEQUENCES IN SCHEMA " + s + " TO " + r,
	} {
		if _, err := admin.Exec(ctx, q); err != nil {
			tb.Fatalf("%s: %v", q, err)
		}
	}
	cfg := config(tb)
	cfg.ConnConfig.User, cfg.ConnConfig.Password = role, ""
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		tb.Fatalf("connect as %s: %v", role, err)
	}
	tb.Cleanup(func() {
		pool.Close()
		for _, q := range []string{"DROP OWNED BY " + r, "DROP ROLE " + r} {
			if _, err := admin.Exec(ctx, q); err != nil {
				tb.Errorf("%s: %v", q, err)
			}
		}
	})
	return pool
}

// Revoke takes from the role that role connects as (a DMLRole) every
// right on table, a name as Ident writes it: a grant forgotten.
func Revoke(tb testing.TB, admin, role *pgxpool.Pool, table string) {
	tb.Helper()
	ctx := context.Background()
	var name string
	if err := role.QueryRow(ctx, "SELECT current_user").Scan(&name); err != nil {
		tb.Fatalf("the role's name: %v", err)
	}
	if _, err := admin.Exec(ctx, "REVOKE ALL ON "+table+" FROM "+pgx.Identifier{name}.Sanitize()); err != nil {
		tb.Fatalf("revoke the rights of %s on %s: %v", name, table, err)
	}
}
