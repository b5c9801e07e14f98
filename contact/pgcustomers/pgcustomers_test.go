package pgcustomers_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/contact"
	"github.com/truefcr/truefcr/contact/contacttest"
	"github.com/truefcr/truefcr/contact/pgcustomers"
	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/events/pgstore/pgtest"
	"github.com/truefcr/truefcr/projections"
)

func newResolver(t *testing.T) (*pgcustomers.Resolver, pgcustomers.Config) {
	t.Helper()
	pool := pgtest.Pool(t)
	cfg := pgcustomers.Config{Schema: pgtest.Schema(t, pool)}
	r, err := pgcustomers.New(context.Background(), pool, cfg)
	require.NoError(t, err)
	return r, cfg
}

// open resolves keys and records the opening that the Service would
// write with the id resolved, as it does once the opening is appended.
func open(t *testing.T, r *pgcustomers.Resolver, id string, keys ...string) string {
	t.Helper()
	ctx := context.Background()
	host := id != ""
	if !host {
		var err error
		id, err = r.ResolveCustomer(ctx, keys)
		require.NoError(t, err)
	}
	require.NoError(t, r.RecordCustomer(ctx, events.Customer{ID: id, Keys: keys}, host))
	return id
}

// A new customer's keys resolve to none and are filed, once recorded,
// under the least of them, which the Service writes as the partition key;
// a later set with any of them resolves to that id, and files the rest; a
// set with the keys of two customers, or a host's id beside another's
// keys, files all of theirs under the opening's partition key.
func TestResolverFilesKeysUnderTheirCustomer(t *testing.T) {
	r, _ := newResolver(t)
	ctx := context.Background()
	id, err := r.ResolveCustomer(ctx, []string{"phone:+358401234567", "email:anna@example.com"})
	require.NoError(t, err)
	assert.Empty(t, id, "a new customer")
	id, err = r.ResolveCustomer(ctx, []string{"phone:+358401234567"})
	require.NoError(t, err)
	assert.Empty(t, id, "resolving files nothing")

	assert.Empty(t, open(t, r, "", "phone:+358401234567", "email:anna@example.com"))
	assert.Equal(t, "email:anna@example.com", open(t, r, "", "phone:+358401234567"))
	assert.Equal(t, "email:anna@example.com", open(t, r, "", "phone:+358401234567", "account:A-1"), "and files the account")
	assert.Equal(t, "email:anna@example.com", open(t, r, "", "account:A-1"))

	assert.Empty(t, open(t, r, "", "phone:+358409999999"), "another customer")
	assert.Equal(t, "email:anna@example.com", open(t, r, "", "phone:+358409999999", "account:A-1"), "linked: the least id")
	assert.Equal(t, "email:anna@example.com", open(t, r, "", "phone:+358409999999"))

	assert.Equal(t, "CRM-7", open(t, r, "CRM-7", "account:A-1"), "the host's id")
	assert.Equal(t, "CRM-7", open(t, r, "", "phone:+358401234567"), "every key of the customer follows it")
	assert.Equal(t, "CRM-7", open(t, r, "", "phone:+358409999999"))
	assert.Empty(t, open(t, r, ""), "no keys")
}

// An id that the resolver gave, recorded after a link moved its customer
// under another (a writer between resolving and recording, or an Open
// retried with its idempotency key), leaves the link as it is: the keys
// follow it.
func TestAStaleIdLeavesALinkAsItIs(t *testing.T) {
	r, _ := newResolver(t)
	ctx := context.Background()
	assert.Empty(t, open(t, r, "", "phone:+358401", "phone:+358402"))
	stale, err := r.ResolveCustomer(ctx, []string{"phone:+358402"})
	require.NoError(t, err)
	require.Equal(t, "phone:+358401", stale)
	assert.Equal(t, "CRM-7", open(t, r, "CRM-7", "phone:+358401"), "a host's id links")
	require.NoError(t, r.RecordCustomer(ctx, events.Customer{ID: stale, Keys: []string{"phone:+358402", "phone:+358403"}}, false))
	for _, k := range []string{"phone:+358401", "phone:+358402", "phone:+358403"} {
		id, err := r.ResolveCustomer(ctx, []string{k})
		require.NoError(t, err)
		assert.Equal(t, "CRM-7", id, k)
	}

	// Through the Service: an opening delivered again after the link.
	store := events.NewMemoryStore()
	svc, err := contact.NewService(contact.Config{Store: store, Clock: contacttest.NewClock(contacttest.Start()), IDs: contacttest.NewIDs(), Customers: r})
	require.NoError(t, err)
	webhook := contact.WithIdempotencyKey(ctx, "webhook-1")
	first := contact.Open{Customer: events.Customer{Keys: []string{"phone:+358409000111"}}, Channel: "phone", Topic: "t"}
	_, _, err = svc.Open(webhook, first)
	require.NoError(t, err)
	_, _, err = svc.Open(ctx, contact.Open{Customer: events.Customer{ID: "CRM-9", Keys: []string{"phone:+358409000111"}}, Channel: "chat", Topic: "t"})
	require.NoError(t, err)
	_, _, err = svc.Open(webhook, first)
	require.NoError(t, err, "delivered again")
	_, evs, err := svc.Open(ctx, contact.Open{Customer: events.Customer{Keys: []string{"phone:+358409000111"}}, Channel: "phone", Topic: "t"})
	require.NoError(t, err)
	assert.Equal(t, "CRM-9", evs[0].Meta[events.MetaPartitionKey], "the link stands")

	// An opening with a host's id delivered again after a later link.
	hook := contact.WithIdempotencyKey(ctx, "webhook-7")
	hosted := contact.Open{Customer: events.Customer{ID: "CRM-7", Keys: []string{"phone:+358409000222"}}, Channel: "phone", Topic: "t"}
	_, _, err = svc.Open(hook, hosted)
	require.NoError(t, err)
	_, _, err = svc.Open(ctx, contact.Open{Customer: events.Customer{ID: "CRM-8", Keys: []string{"phone:+358409000222"}}, Channel: "chat", Topic: "t"})
	require.NoError(t, err)
	_, _, err = svc.Open(hook, hosted)
	require.NoError(t, err, "delivered again")
	_, evs, err = svc.Open(ctx, contact.Open{Customer: events.Customer{Keys: []string{"phone:+358409000222"}}, Channel: "phone", Topic: "t"})
	require.NoError(t, err)
	assert.Equal(t, "CRM-8", evs[0].Meta[events.MetaPartitionKey], "the host's link stands too")
}

// An opening whose append fails files nothing: a link that no event made
// would make two customers one, for good.
func TestAFailedOpeningFilesNothing(t *testing.T) {
	r, _ := newResolver(t)
	ctx := context.Background()
	store := &failingStore{Store: events.NewMemoryStore()}
	svc, err := contact.NewService(contact.Config{Store: store, Clock: contacttest.NewClock(contacttest.Start()),
		IDs: contacttest.NewIDs(), Customers: r})
	require.NoError(t, err)
	_, _, err = svc.Open(ctx, contact.Open{Customer: events.Customer{Keys: []string{"phone:+358401234567"}}, Channel: "phone", Topic: "t"})
	require.NoError(t, err)
	store.fail = true
	_, _, err = svc.Open(ctx, contact.Open{Customer: events.Customer{Keys: []string{"phone:+358401234567", "email:b@example.com"}}, Channel: "chat", Topic: "t"})
	require.Error(t, err)
	id, err := r.ResolveCustomer(ctx, []string{"email:b@example.com"})
	require.NoError(t, err)
	assert.Empty(t, id, "the email of the failed opening is not filed under the phone's customer")
}

// failingStore refuses appends when fail is set.
type failingStore struct {
	events.Store
	fail bool
}

func (s *failingStore) Append(ctx context.Context, issue uuid.UUID, expected uint64, evs []events.Envelope) ([]events.Envelope, error) {
	if s.fail {
		return nil, errors.New("the store is down")
	}
	return s.Store.Append(ctx, issue, expected, evs)
}

// The scenario of the README's "Scaling out": an opening with a phone and
// an email, then a call with the phone alone. Without a resolver the two
// issues carry two partition keys; with one, one, and the report of the
// partitioned FCRs merged is that of one FCR over every event.
func TestResolverKeepsACustomersIssuesInOnePartition(t *testing.T) {
	r, _ := newResolver(t)
	keys := []string{"phone:+358401234567", "email:anna@example.com"}
	require.NotEqual(t, events.PartitionOf("phone:+358401234567", 8), events.PartitionOf("email:anna@example.com", 8),
		"the two keys fall in two of 8 partitions")
	for _, tc := range []struct {
		name     string
		resolver contact.CustomerResolver
		keys     int
	}{{"without a resolver", nil, 2}, {"with the resolver", r, 1}} {
		t.Run(tc.name, func(t *testing.T) {
			store := events.NewMemoryStore()
			clock := contacttest.NewClock(contacttest.Start())
			cfg := contact.Config{Store: store, Clock: clock, IDs: contacttest.NewIDs()}
			if tc.resolver != nil {
				cfg.Customers = tc.resolver
			}
			svc, err := contact.NewService(cfg)
			require.NoError(t, err)
			ctx := context.Background()
			at := contacttest.Start()
			first, _, err := svc.Open(ctx, contact.Open{Customer: events.Customer{Keys: keys}, Channel: "phone", Topic: "billing", At: at})
			require.NoError(t, err)
			_, err = svc.Resolve(ctx, first, contact.Resolve{Agent: "maria", At: at.Add(5 * time.Minute)})
			require.NoError(t, err)
			clock.Set(at.Add(2 * time.Hour))
			second, _, err := svc.Open(ctx, contact.Open{Customer: events.Customer{Keys: keys[:1]}, Channel: "phone", Topic: "billing"})
			require.NoError(t, err)
			_, err = svc.Resolve(ctx, second, contact.Resolve{Agent: "olli"})
			require.NoError(t, err)

			partitionKeys := map[string]bool{}
			const n = 8
			whole := newFCR(t)
			parts := make([]*projections.FCR, n)
			for i := range parts {
				parts[i] = newFCR(t)
			}
			for e, err := range store.ReadAll(ctx, 0) {
				require.NoError(t, err)
				partitionKeys[e.Meta[events.MetaPartitionKey]] = true
				require.NoError(t, whole.Apply(e))
				for i := range parts {
					if events.InPartition(i, n)(e) {
						require.NoError(t, parts[i].Apply(e))
					}
				}
			}
			assert.Len(t, partitionKeys, tc.keys)
			end := at.Add(30 * 24 * time.Hour)
			whole.AdvanceTo(end)
			reports := make([]projections.FCRReport, n)
			for i, p := range parts {
				p.AdvanceTo(end)
				reports[i] = p.Report()
			}
			merged, err := projections.MergeFCRReports(reports...)
			require.NoError(t, err)
			assert.Equal(t, int64(1), whole.Report().Failed, "the call is a repeat")
			if tc.keys == 1 {
				assert.Equal(t, int64(1), merged.Failed, "in the merge too")
			} else {
				assert.Equal(t, int64(2), merged.Achieved, "apart, each issue looks solved")
			}
		})
	}
}

func newFCR(t *testing.T) *projections.FCR {
	t.Helper()
	f, err := projections.NewFCR(projections.FCRConfig{})
	require.NoError(t, err)
	return f
}

// Writers that resolve overlapping sets of keys at once agree: every key
// ends filed under one customer, and each resolution gives the partition
// key that its keys then have, the key filed (a new customer's "" stands
// for the least of its keys, which the Service writes then). Each round
// starts the writers together on keys that none has filed, where they
// race to file them first.
func TestResolversAtOnceAgree(t *testing.T) {
	pool := pgtest.Pool(t)
	cfg := pgcustomers.Config{Schema: pgtest.Schema(t, pool)}
	ctx := context.Background()
	const writers, rounds = 8, 30
	resolvers := make([]*pgcustomers.Resolver, writers)
	for w := range resolvers {
		// Each writer its own Resolver, as several Services would.
		var err error
		resolvers[w], err = pgcustomers.New(ctx, pool, cfg)
		require.NoError(t, err)
	}
	type got struct {
		keys []string
		id   string
	}
	var (
		mu  sync.Mutex
		out []got
	)
	rng := rand.New(rand.NewPCG(1, 7))
	for round := range rounds {
		sets := make([][]string, writers)
		for w := range sets {
			// Two of four keys new to the round, and now and then one of
			// an earlier round: customers that share keys and link.
			for _, i := range rng.Perm(4)[:2] {
				sets[w] = append(sets[w], fmt.Sprintf("k:%02d:%d", round, i))
			}
			if round > 0 && rng.IntN(4) == 0 {
				sets[w] = append(sets[w], fmt.Sprintf("k:%02d:%d", rng.IntN(round), rng.IntN(4)))
			}
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for w, keys := range sets {
			wg.Go(func() {
				<-start
				// As the Service does: resolve, append, record.
				id, err := resolvers[w].ResolveCustomer(ctx, keys)
				if !assert.NoError(t, err) {
					return
				}
				if !assert.NoError(t, resolvers[w].RecordCustomer(ctx, events.Customer{ID: id, Keys: keys}, false)) {
					return
				}
				mu.Lock()
				out = append(out, got{keys, cmp.Or(id, slices.Min(keys))})
				mu.Unlock()
			})
		}
		close(start)
		wg.Wait()
	}
	rows, err := pool.Query(ctx, `SELECT key, customer FROM `+pgtest.Ident(cfg.Schema, pgcustomers.DefaultTable))
	require.NoError(t, err)
	filed := map[string]string{}
	var k, c string
	for rows.Next() {
		require.NoError(t, rows.Scan(&k, &c))
		filed[k] = c
	}
	require.NoError(t, rows.Err())
	require.Len(t, out, writers*rounds)
	// Each customer id is one of its own keys, filed under itself.
	for k, c := range filed {
		assert.Equal(t, c, filed[c], "key %s is filed under %s, which is filed under %s", k, c, filed[c])
	}
	// A resolution's id was, when it was given, its keys' customer; a
	// later link may have filed that customer under another since, and
	// then the keys are all under that one.
	for _, g := range out {
		for _, k := range g.keys {
			assert.Equal(t, filed[g.id], filed[k], "keys %v resolved to %s", g.keys, g.id)
		}
	}
}

// New creates the table once when several start at once, and a role
// that may only read and write it resolves with it.
func TestNewAtOnceAndWithARoleThatMayOnlyReadAndWrite(t *testing.T) {
	admin := pgtest.Pool(t)
	ctx := context.Background()
	schema := pgtest.Schema(t, admin)
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			_, err := pgcustomers.New(ctx, admin, pgcustomers.Config{Schema: schema})
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	app := pgtest.DMLRole(t, admin, schema)
	r, err := pgcustomers.New(ctx, app, pgcustomers.Config{Schema: schema})
	require.NoError(t, err)
	id, err := r.ResolveCustomer(ctx, []string{"email:b@example.com"})
	require.NoError(t, err)
	assert.Empty(t, id)
	require.NoError(t, r.RecordCustomer(ctx, events.Customer{Keys: []string{"email:b@example.com"}}, false))
	id, err = r.ResolveCustomer(ctx, []string{"email:b@example.com", "phone:+358401"})
	require.NoError(t, err)
	assert.Equal(t, "email:b@example.com", id)
	require.NoError(t, r.RecordCustomer(ctx, events.Customer{ID: id, Keys: []string{"email:b@example.com", "phone:+358401"}}, false))
}

// Configurations that cannot work, and tables that are not the
// resolver's, are refused, naming what is wrong.
func TestNewRefusesWhatCannotWork(t *testing.T) {
	pool := pgtest.Pool(t)
	ctx := context.Background()
	_, err := pgcustomers.New(ctx, pool, pgcustomers.Config{Table: "Customers"})
	require.ErrorIs(t, err, pgcustomers.ErrInvalidConfig)
	assert.ErrorContains(t, err, `table name "Customers"`)
	_, err = pgcustomers.New(ctx, nil, pgcustomers.Config{})
	require.ErrorIs(t, err, pgcustomers.ErrInvalidConfig)

	schema := pgtest.Schema(t, pool)
	_, err = pool.Exec(ctx, `CREATE TABLE `+pgtest.Ident(schema, pgcustomers.DefaultTable)+` (id int)`)
	require.NoError(t, err)
	_, err = pgcustomers.New(ctx, pool, pgcustomers.Config{Schema: schema})
	require.ErrorIs(t, err, pgcustomers.ErrSchemaVersion)
	assert.ErrorContains(t, err, "is not a customer keys table")

	schema = pgtest.Schema(t, pool)
	_, err = pgcustomers.New(ctx, pool, pgcustomers.Config{Schema: schema})
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `UPDATE `+pgtest.Ident(schema, pgcustomers.DefaultTable+"_schema")+` SET version = 2`)
	require.NoError(t, err)
	_, err = pgcustomers.New(ctx, pool, pgcustomers.Config{Schema: schema})
	require.ErrorIs(t, err, pgcustomers.ErrSchemaVersion)
	assert.ErrorContains(t, err, "has schema version 2, this package knows up to 1")
}
