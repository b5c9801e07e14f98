package pgcheckpoint_test

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/truefcr/truefcr/events/pgstore/pgtest"
	"github.com/truefcr/truefcr/projections"
	"github.com/truefcr/truefcr/projections/pgcheckpoint"
)

// A projection saves how far it has come, and resumes from there.
func Example() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, pgtest.DSN())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pool.Close()
	schema := pgtest.NewSchemaName("example")
	defer func() { _, _ = pool.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE") }()

	checkpoints, err := pgcheckpoint.New(ctx, pool, pgcheckpoint.Config{Schema: schema})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := checkpoints.Save(ctx, "fcr", projections.Checkpoint{Position: 1200, State: []byte("…")}); err != nil {
		fmt.Println(err)
		return
	}
	cp, ok, err := checkpoints.Load(ctx, "fcr")
	fmt.Println(cp.Position, ok, err)
	// Output: 1200 true <nil>
}
