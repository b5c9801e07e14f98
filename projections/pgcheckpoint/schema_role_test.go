package pgcheckpoint_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/truefcr/truefcr/events/pgstore/pgtest"
	"github.com/truefcr/truefcr/projections/pgcheckpoint"
)

// A role that may only read and write a table of a newer version is told
// so (ErrSchemaVersion), as its owner is, rather than refused the DDL it
// would not run.
func TestARoleThatMayOnlyReadAndWriteHearsOfANewerTable(t *testing.T) {
	pgtest.RefusesNewerTables(t, pgcheckpoint.DefaultTable+"_schema", pgcheckpoint.ErrSchemaVersion, func(pool *pgxpool.Pool, schema string) error {
		_, err := pgcheckpoint.New(context.Background(), pool, pgcheckpoint.Config{Schema: schema})
		return err
	})
}
