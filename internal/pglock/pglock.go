// Package pglock names the PostgreSQL advisory locks that the Postgres
// store (events/pgstore), the checkpoint store (projections/pgcheckpoint)
// and the customer resolver (contact/pgcustomers) take, so that all derive
// each key the same way, and takes the schema's lock for all (LockSchema). A key is part of the on-disk protocol: processes of different
// versions that share a database must compute the same keys, so a key
// never changes (TestKeysStay).
package pglock

import (
	"context"
	"hash/fnv"

	"github.com/jackc/pgx/v5"
)

// Key returns the key of the advisory lock name, of the thing id when
// there is one: a hash of "truefcr ", name and id.
func Key(name string, id []byte) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte("truefcr " + name))
	_, _ = h.Write(id)
	return int64(h.Sum64())
}

// Schema returns the key of the lock that serialises the creation and
// migration of every table in the Postgres schema schema.
func Schema(schema string) int64 { return Key("schema "+schema, nil) }

// CustomerKeys returns the key of the lock that serialises the filing of
// keys in the customer keys table table (a name as pgx.Identifier's
// Sanitize writes it).
func CustomerKeys(table string) int64 { return Key("customer keys "+table, nil) }

// LockSchema takes, in tx, the lock of Schema(schema), which every
// transaction that creates or migrates tables in the schema takes first,
// and creates the schema when it does not exist.
func LockSchema(ctx context.Context, tx pgx.Tx, schema string) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, Schema(schema)); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{schema}.Sanitize())
	return err
}
