package pgcustomers_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/truefcr/truefcr/contact/pgcustomers"
	"github.com/truefcr/truefcr/events/pgstore/pgtest"
)

// BenchmarkResolve resolves the keys of an opening: a new customer's two
// keys, which it files under the table's lock, and a known customer's,
// which it only reads.
func BenchmarkResolve(b *testing.B) {
	pool := pgtest.Pool(b)
	ctx := context.Background()
	r, err := pgcustomers.New(ctx, pool, pgcustomers.Config{Schema: pgtest.Schema(b, pool)})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("new", func(b *testing.B) {
		for i := range b.N {
			if _, err := r.ResolveCustomer(ctx, []string{fmt.Sprintf("email:c%d@example.com", i), fmt.Sprintf("phone:+35840%07d", i)}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("known", func(b *testing.B) {
		keys := []string{"email:known@example.com", "phone:+358401234567"}
		if _, err := r.ResolveCustomer(ctx, keys); err != nil {
			b.Fatal(err)
		}
		for range b.N {
			if _, err := r.ResolveCustomer(ctx, keys[1:]); err != nil {
				b.Fatal(err)
			}
		}
	})
}
