// Package pglock names the PostgreSQL advisory locks that the Postgres
// store (events/pgstore) and the checkpoint store
// (projections/pgcheckpoint) take, so that both derive each key the same
// way. A key is part of the on-disk protocol: processes of different
// versions that share a database must compute the same keys, so a key
// never changes (TestKeysStay).
package pglock

import "hash/fnv"

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
