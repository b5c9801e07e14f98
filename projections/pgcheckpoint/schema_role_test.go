package pgcheckpoint_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events/pgstore/pgtest"
	"github.com/truefcr/truefcr/projections/pgcheckpoint"
)

// A role that may only read and write a table of a newer version is told
// so (ErrSchemaVersion), as its owner is, rather than refused the DDL it
// would not run.
func TestARoleThatMayOnlyReadAndWriteHearsOfANewerTable(t *testing.T) {
	ctx := context.Background()
	admin := pgtest.Pool(t)
	schema := pgtest.Schema(t, admin)
	cfg := pgcheckpoint.Config{Schema: schema}
	_, err := pgcheckpoint.New(ctx, admin, cfg)
	require.NoError(t, err)
	_, err = admin.Exec(ctx, "UPDATE "+pgtest.Ident(schema, pgcheckpoint.DefaultTable+"_schema")+" SET version = version + 1")
	require.NoError(t, err)
	_, err = pgcheckpoint.New(ctx, admin, cfg)
	require.ErrorIs(t, err, pgcheckpoint.ErrSchemaVersion, "the owner")
	app := pgtest.DMLRole(t, admin, schema)
	_, err = pgcheckpoint.New(ctx, app, cfg)
	t.Logf("DML role: %v", err)
	assert.ErrorIs(t, err, pgcheckpoint.ErrSchemaVersion, "the DML role")
}
