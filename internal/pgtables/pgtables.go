// Package pgtables checks that a PostgreSQL table of a given name is the
// one its user made, not another's of the same name: the Postgres store
// (events/pgstore), the checkpoint store (projections/pgcheckpoint) and
// the customer resolver (contact/pgcustomers) name their tables after a
// configured name, so that two of them, or a table of the host's, may
// meet in one schema. It also makes and migrates a table of one package
// beside its version table (Versioned).
package pgtables

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/truefcr/truefcr/internal/pglock"
)

// Querier runs a query: a pool, a connection or a transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Check returns an error that wraps kind unless table, which must exist,
// has the columns want, in any order, and perhaps others (an
// administrator's): what is the table's role, for the error ("an
// outbox").
func Check(ctx context.Context, q Querier, table, what string, kind error, want ...string) error {
	rows, err := q.Query(ctx, `SELECT attname FROM pg_attribute
		WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`, table)
	if err != nil {
		return fmt.Errorf("read the columns of %s: %w", table, err)
	}
	have, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("read the columns of %s: %w", table, err)
	}
	for _, c := range want {
		if !slices.Contains(have, c) {
			return fmt.Errorf("table %s is not %s: it has the columns %s, where %s has %s (another store's table of that name?): %w",
				table, what, strings.Join(have, ", "), what, strings.Join(want, ", "), kind)
		}
	}
	return nil
}

// Exists reports whether a table (or another relation) is named table, a
// name as pgx.Identifier.Sanitize writes it.
func Exists(ctx context.Context, q Querier, table string) (bool, error) {
	rows, err := q.Query(ctx, `SELECT to_regclass($1) IS NOT NULL`, table)
	if err != nil {
		return false, err
	}
	return pgx.CollectExactlyOneRow(rows, pgx.RowTo[bool])
}

// CheckIfExists is Check for a table that may not exist: nil when it
// does not.
func CheckIfExists(ctx context.Context, q Querier, table, what string, kind error, want ...string) error {
	exists, err := Exists(ctx, q, table)
	if err != nil {
		return fmt.Errorf("look for %s: %w", table, err)
	}
	if !exists {
		return nil
	}
	return Check(ctx, q, table, what, kind, want...)
}

// Unready reports whether err, of reading a row of a version table, says
// that the table is yet to be made (it or its schema does not exist, or it
// holds no row) or is not what the query expects (a column it lacks: the
// table is another's), which the caller's checks of the tables then
// explain. A permission refused, a connection lost or a context ended is
// not: it is the caller's to report.
func Unready(err error) bool {
	if errors.Is(err, pgx.ErrNoRows) {
		return true
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	// Class 42 is syntax errors and access rule violations; 42501, of
	// them, a privilege that the role lacks.
	return pgErr.Code == "3F000" || strings.HasPrefix(pgErr.Code, "42") && pgErr.Code != "42501"
}

// Versioned is a table that one package makes and migrates, with a table
// beside it that holds its version (one row, columns one and version).
type Versioned struct {
	// Schema is the Postgres schema, as configured; Table and Version are
	// the table's name and its version table's, as pgx.Identifier's
	// Sanitize writes them.
	Schema, Table, Version string
	// What the table is, for errors ("a checkpoint table"), and whose
	// it is ("checkpoint store"), and the columns that tell it from
	// another's table of its name.
	What, Owner string
	Columns     []string
	// Migrations holds, for each version from 0, the statements that
	// take the table to the next; the last version is len(Migrations).
	Migrations [][]string
	// Kind is wrapped by the errors about tables that are not the
	// package's, or of a newer version.
	Kind error
}

// Ensure creates or migrates the table to its last version in one
// transaction, under the advisory lock of the schema that the event
// store's tables take too, so that concurrent starts create everything
// once. The transaction reads committed whatever the server's default
// isolation: under repeatable read, one that waited for the lock would
// not see the version row that the one before it wrote. A table already
// at its last version opens without creating anything, which a role that
// may only read and write it could not do.
func (v Versioned) Ensure(ctx context.Context, pool *pgxpool.Pool) error {
	last := len(v.Migrations)
	// A table of either name may be another's: an event store's of the
	// same name (events/pgstore), whose version table has that name too,
	// or the events table of a store named after the version table.
	ours := func(q Querier) error {
		if err := CheckIfExists(ctx, q, v.Version, v.What+"'s version table", v.Kind, "one", "version"); err != nil {
			return err
		}
		return CheckIfExists(ctx, q, v.Table, v.What, v.Kind, v.Columns...)
	}
	newer := func(n int) error {
		return fmt.Errorf("table %s has schema version %d, this package knows up to %d: %w", v.Table, n, last, v.Kind)
	}
	var ready int
	err := pool.QueryRow(ctx, `SELECT version FROM `+v.Version).Scan(&ready)
	if err != nil && !Unready(err) {
		// A role refused the version table, which creating it would
		// only hide behind a refusal to create.
		return fmt.Errorf("read the schema version in %s: %w", v.Version, err)
	}
	if err == nil {
		if err := ours(pool); err != nil {
			return err
		}
		switch {
		case ready == last:
			return AllThere(ctx, pool, v.Version, ready, v.Kind, v.Table)
		case ready > last: // said before the DDL, which such a role could not run
			return newer(ready)
		}
	}
	return pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
		if err := pglock.LockSchema(ctx, tx, v.Schema); err != nil {
			return err
		}
		if err := ours(tx); err != nil {
			return err
		}
		for _, q := range []string{
			`CREATE TABLE IF NOT EXISTS ` + v.Version + ` (
				one boolean PRIMARY KEY DEFAULT true CHECK (one),
				version integer NOT NULL
			)`,
			`INSERT INTO ` + v.Version + ` (version) VALUES (0) ON CONFLICT DO NOTHING`,
		} {
			if _, err := tx.Exec(ctx, q); err != nil {
				return err
			}
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT version FROM `+v.Version).Scan(&n); err != nil {
			return err
		}
		if n > last {
			return newer(n)
		}
		if n == 0 {
			// The table is the package's to create: one of its name made
			// otherwise (by hand, by a migration tool) is not.
			taken, err := Exists(ctx, tx, v.Table)
			if err != nil {
				return err
			}
			if taken {
				return fmt.Errorf("table %s exists, but %s says that no %s made it: drop it, or give Config.Table another name: %w",
					v.Table, v.Version, v.Owner, v.Kind)
			}
		}
		for ; n < last; n++ {
			for _, q := range v.Migrations[n] {
				if _, err := tx.Exec(ctx, q); err != nil {
					return fmt.Errorf("migrate to version %d: %w", n+1, err)
				}
			}
			if _, err := tx.Exec(ctx, `UPDATE `+v.Version+` SET version = $1`, n+1); err != nil {
				return err
			}
		}
		return nil
	})
}

var nameRE = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// NamesProblem says what keeps schema and table from naming a table of
// one package beside its version table (which adds "_schema"), lower-case
// and unquoted within PostgreSQL's 63 bytes; "" for nothing.
func NamesProblem(schema, table string) string {
	for _, n := range []struct{ what, name string }{{"schema", schema}, {"table", table}} {
		if !nameRE.MatchString(n.name) || len(n.name) > maxVersionedName {
			return fmt.Sprintf("%s name %q: want lower-case letters, digits and _, at most %d bytes, not starting with a digit",
				n.what, n.name, maxVersionedName)
		}
	}
	return ""
}

// maxVersionedName is the longest name of a Versioned table: its version
// table adds "_schema".
const maxVersionedName = 63 - len("_schema")

// AllThere returns an error that wraps kind unless every table of tables
// exists: the tables that version, at version n, says were made (a drop
// by hand, a partial restore, would otherwise show at the first read or
// write).
func AllThere(ctx context.Context, q Querier, version string, n int, kind error, tables ...string) error {
	for _, t := range tables {
		there, err := Exists(ctx, q, t)
		if err != nil {
			return fmt.Errorf("look for %s: %w", t, err)
		}
		if !there {
			return fmt.Errorf("table %s is missing, though %s says that its tables are at version %d (dropped, or not restored?): restore it from a backup, or drop %s and every table it versions, losing their rows, to have them made anew: %w",
				t, version, n, version, kind)
		}
	}
	return nil
}
