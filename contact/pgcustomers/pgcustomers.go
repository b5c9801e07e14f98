// Package pgcustomers is a contact.CustomerRecorder over a PostgreSQL
// table of the identity keys of the openings written, each filed under
// the customer it belongs to. Given to a contact.Service
// (Config.Customers), it gives an opening without a customer id the id
// under which the table files its keys, so that the events of a
// customer's issues carry one partition key (events.MetaPartitionKey)
// and meet in one partition whichever of their keys each contact gives:
// without it, a customer who opened an issue with a phone number and an
// email address (the least key: the email) and later calls with the phone
// alone goes out under the phone.
//
// Resolving only reads. The Service records the customer of each opening
// once it is appended, so nothing is filed of a command that failed. An
// opening whose keys the table holds none of is a new customer's: the
// resolver returns "", and the opening is written as it would be without
// one; recorded, its keys are filed under the least of them, its
// partition key (or, when another writer filed one of them meanwhile,
// under that one's customer). An opening with some known keys gets their
// customer's id (the least, when they are two customers'); recorded, the
// keys it added are filed under the customer that the others are filed
// under then, which a link recorded meanwhile may have changed (an id
// that the resolver gave follows the link). An opening that holds the
// keys of two customers links them: recorded, every key of both is filed
// under the id it was written with, or, when a link recorded since moved
// that customer, under the least of the customers they are filed under.
// An opening with a customer id of the host's files its keys, and every
// key of the customers they were filed under, under that id; delivered
// again (an Open retried with its idempotency key), it is recorded as one
// whose id the resolver gave, so that a link recorded since stands. The issues of linked customers keep the partition keys
// they went out under, so the later issues of one of them go out under
// another key than its earlier ones, and a repeat of those is not found
// across the two partitions (a link made late, which no partitioning
// undoes: see the README's "Scaling out"). A host's id is not a key: the
// new keys of a customer whose keys a later host id took over are filed
// under the customer's id apart from them.
//
// A customer id that the table gives is one of the customer's keys (or
// the host's id), which events then carry in their customer's id as well:
// a key such as an email address is personal data there too. The table
// keeps every key it was given, a row each, for good.
//
// Given to the Service of each writer:
//
//	customers, err := pgcustomers.New(ctx, pool, pgcustomers.Config{})
//	...
//	svc, err := contact.NewService(contact.Config{Store: store, Customers: customers})
//
// Several Services may share the table. Resolving reads and takes no
// lock; recording files keys, or links customers, in a transaction that
// holds an advisory lock of the table's, so that recordings wait for
// each other, and does nothing when every key is filed where it would
// file it already. On the 2-core machine of the README's
// figures, one writer resolved and recorded a new customer's two keys in
// 0.20–0.57 ms, and a known customer's in 110–140 µs (two reads, no
// write), in five runs of 7 December, which move with the load on the
// machine and its disk: go test ./contact/pgcustomers -run '^$' -bench
// Resolve -benchmem.
package pgcustomers

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/truefcr/truefcr/contact"
	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/internal/pglock"
	"github.com/truefcr/truefcr/internal/pgtables"
)

// Sentinel errors of the package.
var (
	// ErrInvalidConfig: a Config that cannot work.
	ErrInvalidConfig = errors.New("invalid configuration")
	// ErrSchemaVersion: the table is another's, or was made by a newer
	// version of this package.
	ErrSchemaVersion = errors.New("unsupported schema")
)

// SchemaVersion is the version of the table that this package creates and
// reads.
const SchemaVersion = 1

// Defaults of Config.
const (
	DefaultSchema = "public"
	DefaultTable  = "truefcr_customers"
)

// Config configures a Resolver. The zero value files keys in
// public.truefcr_customers.
type Config struct {
	// Schema is the Postgres schema of the table; DefaultSchema by
	// default. It is created when it does not exist.
	Schema string
	// Table names the table; DefaultTable by default.
	Table string
}

func (c *Config) setDefaults() {
	if c.Schema == "" {
		c.Schema = DefaultSchema
	}
	if c.Table == "" {
		c.Table = DefaultTable
	}
}

// Validate reports a configuration that cannot work, its empty fields
// taken as their defaults (as New takes them): the zero value is valid.
func (c Config) Validate() error {
	c.setDefaults()
	if problem := pgtables.NamesProblem(c.Schema, c.Table); problem != "" {
		return fmt.Errorf("pgcustomers: %s: %w", problem, ErrInvalidConfig)
	}
	return nil
}

// Resolver is a contact.CustomerRecorder over a table of keys. It is safe
// for concurrent use; the pool is the caller's.
type Resolver struct {
	pool                            *pgxpool.Pool
	table                           string
	lock                            int64 // the key of the table's advisory lock
	find, takeLock, refile, fileNew string
}

var _ contact.CustomerRecorder = (*Resolver)(nil)

// New returns a Resolver on pool configured by cfg, creating its table
// when it does not exist.
func New(ctx context.Context, pool *pgxpool.Pool, cfg Config) (*Resolver, error) {
	if pool == nil {
		return nil, fmt.Errorf("pgcustomers: no pool: %w", ErrInvalidConfig)
	}
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	table := pgx.Identifier{cfg.Schema, cfg.Table}.Sanitize()
	migrations := [SchemaVersion][]string{ // one a version, so that SchemaVersion is the last
		{`CREATE TABLE ` + table + ` (
			key text PRIMARY KEY,
			customer text NOT NULL
		)`, `CREATE INDEX ON ` + table + ` (customer)`},
	}
	err := pgtables.Versioned{
		Schema: cfg.Schema, Table: table, Version: pgx.Identifier{cfg.Schema, cfg.Table + "_schema"}.Sanitize(),
		What: "a customer keys table", Owner: "customer resolver", Columns: []string{"key", "customer"},
		Migrations: migrations[:], Kind: ErrSchemaVersion,
	}.Ensure(ctx, pool)
	if err != nil {
		return nil, fmt.Errorf("pgcustomers: prepare table %s: %w", table, err)
	}
	return &Resolver{
		pool:     pool,
		table:    table,
		lock:     pglock.CustomerKeys(table),
		find:     `SELECT key, customer FROM ` + table + ` WHERE key = ANY($1)`,
		takeLock: `SELECT pg_advisory_xact_lock($1)`,
		refile:   `UPDATE ` + table + ` SET customer = $1 WHERE customer = ANY($2)`,
		fileNew:  `INSERT INTO ` + table + ` (key, customer) SELECT unnest($1::text[]), $2 ON CONFLICT (key) DO NOTHING`,
	}, nil
}

// ResolveCustomer implements contact.CustomerResolver: the id under which
// the table files the keys it holds of keys, normalised as the Service
// gives them (the least such id, when they are two customers'); "" for
// none. It files nothing.
func (r *Resolver) ResolveCustomer(ctx context.Context, keys []string) (string, error) {
	keys = slices.Compact(slices.Sorted(slices.Values(keys)))
	if len(keys) == 0 {
		return "", nil
	}
	filed, err := r.filed(ctx, r.pool, keys)
	if err != nil {
		return "", fmt.Errorf("pgcustomers: resolve %q in %s: %w", keys, r.table, err)
	}
	customers := customersOf(filed)
	if len(customers) == 0 {
		return "", nil
	}
	return customers[0], nil
}

// RecordCustomer implements contact.CustomerRecorder: it files the keys
// of c, the customer of an opening appended, that the table does not hold
// under the customer it files the others under. Keys of several customers
// (a link) file every key of theirs under one: c's id when it is one of
// theirs (the resolver gave it), else the least; a host's id (hostID)
// files every key of theirs under it.
func (r *Resolver) RecordCustomer(ctx context.Context, c events.Customer, hostID bool) error {
	keys := slices.Compact(slices.Sorted(slices.Values(c.Keys)))
	if len(keys) == 0 {
		return nil
	}
	filed, err := r.filed(ctx, r.pool, keys)
	if err != nil {
		return fmt.Errorf("pgcustomers: record %q in %s: %w", keys, r.table, err)
	}
	if _, under := target(filed, keys, c, hostID); under {
		return nil // filed so already
	}
	err = pgx.BeginTxFunc(ctx, r.pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
		return r.file(ctx, tx, keys, c, hostID)
	})
	if err != nil {
		return fmt.Errorf("pgcustomers: record %q in %s: %w", keys, r.table, err)
	}
	return nil
}

// target returns the customer under which the keys of an opening of c go,
// given where filed files them now, and whether they are all there
// already. An id that the resolver gave may be stale: a link recorded
// since filed its customer under another, which the keys then follow. A
// host's id is the customer, whichever it was filed under.
func target(filed map[string]string, keys []string, c events.Customer, hostID bool) (string, bool) {
	customers := customersOf(filed)
	var id string
	switch {
	case hostID:
		id = c.ID
	case len(customers) == 0:
		id = contact.PartitionKey(c) // a new customer's
	case slices.Contains(customers, c.ID):
		id = c.ID
	default:
		id = customers[0]
	}
	return id, len(filed) == len(keys) && len(customers) == 1 && customers[0] == id
}

// customersOf returns the customers under which filed files keys, in
// order, each once.
func customersOf(filed map[string]string) []string {
	var customers []string
	for _, c := range filed {
		customers = append(customers, c)
	}
	slices.Sort(customers)
	return slices.Compact(customers)
}

// filed returns the customers under which the keys of keys are filed, by
// key.
func (r *Resolver) filed(ctx context.Context, q pgtables.Querier, keys []string) (map[string]string, error) {
	rows, err := q.Query(ctx, r.find, keys)
	if err != nil {
		return nil, err
	}
	filed := map[string]string{}
	var k, c string
	_, err = pgx.ForEachRow(rows, []any{&k, &c}, func() error {
		filed[k] = c
		return nil
	})
	return filed, err
}

// file files keys, sorted and unique, of an opening of c, in tx, under
// the table's lock (see target).
func (r *Resolver) file(ctx context.Context, tx pgx.Tx, keys []string, c events.Customer, hostID bool) error {
	if _, err := tx.Exec(ctx, r.takeLock, r.lock); err != nil {
		return err
	}
	filed, err := r.filed(ctx, tx, keys)
	if err != nil {
		return err
	}
	id, _ := target(filed, keys, c, hostID)
	if others := slices.DeleteFunc(customersOf(filed), func(c string) bool { return c == id }); len(others) > 0 {
		// The keys link customers: all of theirs go under one.
		if _, err := tx.Exec(ctx, r.refile, id, others); err != nil {
			return err
		}
	}
	var unfiled []string
	for _, k := range keys {
		if _, ok := filed[k]; !ok {
			unfiled = append(unfiled, k)
		}
	}
	if len(unfiled) > 0 {
		tag, err := tx.Exec(ctx, r.fileNew, unfiled, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() < int64(len(unfiled)) {
			// Only a writer that took no lock files keys: another
			// build's, or a hand's.
			return fmt.Errorf("%d of the keys were filed meanwhile by a writer that did not take the table's lock", int64(len(unfiled))-tag.RowsAffected())
		}
	}
	return nil
}
