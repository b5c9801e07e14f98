package pgcustomers_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/truefcr/truefcr/contact/pgcustomers"
	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/events/pgstore/pgtest"
)

// BenchmarkResolve resolves the keys of an opening and records it, as the
// Service does once it is appended: a new customer's two keys, which it
// files under the table's lock, and a known customer's, which it only
// reads.
func BenchmarkResolve(b *testing.B) {
	pool := pgtest.Pool(b)
	ctx := context.Background()
	r, err := pgcustomers.New(ctx, pool, pgcustomers.Config{Schema: pgtest.Schema(b, pool)})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("new", func(b *testing.B) {
		for i := range b.N {
			keys := []string{fmt.Sprintf("email:c%d@example.com", i), fmt.Sprintf("phone:+35840%07d", i)}
			id, err := r.ResolveCustomer(ctx, keys)
			if err == nil {
				err = r.RecordCustomer(ctx, events.Customer{ID: id, Keys: keys}, false)
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("known", func(b *testing.B) {
		keys := []string{"email:known@example.com", "phone:+358401234567"}
		if err := r.RecordCustomer(ctx, events.Customer{Keys: keys}, false); err != nil {
			b.Fatal(err)
		}
		for range b.N {
			id, err := r.ResolveCustomer(ctx, keys[1:])
			if err == nil {
				err = r.RecordCustomer(ctx, events.Customer{ID: id, Keys: keys[1:]}, false)
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}
