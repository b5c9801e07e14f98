// Package pgcheckpoint keeps projection checkpoints in PostgreSQL: a
// projections.CheckpointStore whose Save is one upsert, so that after a
// crash Load returns the old checkpoint or the new one, never a mix.
//
// A host that keeps its read model in the same database, and feeds it
// from the store with a loop of its own, saves the checkpoint inside its
// own transaction with SaveTx, so that the read model and the position it
// covers commit together, and resumes its loop after the position that
// Load returns:
//
//	tx, _ := pool.Begin(ctx)
//	// … update the read model through tx …
//	_ = checkpoints.SaveTx(ctx, tx, "fcr", projections.Checkpoint{Position: pos})
//	_ = tx.Commit(ctx)
//
// A projections.Runner does not resume from such a checkpoint: it saves
// the projection's state with the position, and replays the store from
// the start into a projection that cannot save its state (see Runner).
//
// New creates the table on first use (by default
// public.truefcr_checkpoints), records its schema version beside it in
// <table>_schema, and refuses a table of a newer version.
package pgcheckpoint
