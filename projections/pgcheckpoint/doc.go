// Package pgcheckpoint keeps projection checkpoints in PostgreSQL: a
// projections.CheckpointStore whose Save is one upsert, so that after a
// crash Load returns the old checkpoint or the new one, never a mix.
//
// A host that keeps its read model in the same database saves the
// checkpoint inside its own transaction with SaveTx, so that the read
// model and the position it covers commit together:
//
//	tx, _ := pool.Begin(ctx)
//	// … update the read model through tx …
//	_ = checkpoints.SaveTx(ctx, tx, "fcr", projections.Checkpoint{Position: pos})
//	_ = tx.Commit(ctx)
//
// New creates the table on first use (by default
// public.truefcr_checkpoints), records its schema version beside it in
// <table>_schema, and refuses a table of a newer version.
package pgcheckpoint
