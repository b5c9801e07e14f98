// Package pgtables checks that a PostgreSQL table of a given name is the
// one its user made, not another's of the same name: the Postgres store
// (events/pgstore) and the checkpoint store (projections/pgcheckpoint)
// name their tables after a configured name, so that two of them, or a
// table of the host's, may meet in one schema.
package pgtables

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
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
