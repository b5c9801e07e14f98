package projections

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ident is one identifier for the identity tests: a key, or with id set a
// customer id.
type ident struct {
	s  string
	id bool
}

func TestIdentitiesLinkTransitively(t *testing.T) {
	tests := []struct {
		name   string
		events [][]ident // the identifiers seen together on each event
		same   [][2]ident
		apart  [][2]ident
		roots  int
	}{
		{
			name:   "keys on one event",
			events: [][]ident{{{"phone:1", false}, {"email:a", false}}},
			same:   [][2]ident{{{"phone:1", false}, {"email:a", false}}},
			roots:  1,
		},
		{
			name:   "a chain of events",
			events: [][]ident{{{"phone:1", false}, {"email:a", false}}, {{"email:a", false}, {"account:7", false}}, {{"phone:2", false}}},
			same:   [][2]ident{{{"phone:1", false}, {"account:7", false}}},
			apart:  [][2]ident{{{"phone:1", false}, {"phone:2", false}}},
			roots:  2,
		},
		{
			name:   "a customer id links keys",
			events: [][]ident{{{"C-1", true}, {"phone:1", false}}, {{"C-1", true}, {"email:b", false}}},
			same:   [][2]ident{{{"phone:1", false}, {"email:b", false}}},
			roots:  1,
		},
		{
			name:   "a customer id and an equal key are different identifiers",
			events: [][]ident{{{"phone:1", true}}, {{"phone:1", false}}},
			apart:  [][2]ident{{{"phone:1", true}, {"phone:1", false}}},
			roots:  2,
		},
		{
			name:   "keys are compared as given",
			events: [][]ident{{{"email:A@x", false}}, {{"email:a@x", false}}},
			apart:  [][2]ident{{{"email:A@x", false}, {"email:a@x", false}}},
			roots:  2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newIdentities()
			for _, ev := range tt.events {
				root := int32(-1)
				for _, id := range ev {
					n := d.node(id.s, id.id)
					if root < 0 {
						root = n
					} else {
						root = d.union(root, n, nil)
					}
				}
			}
			rootOf := func(id ident) int32 {
				n, ok := d.lookup(identHash(id.s, id.id))
				require.True(t, ok, "%v is known", id)
				return d.find(n)
			}
			for _, p := range tt.same {
				assert.Equal(t, rootOf(p[0]), rootOf(p[1]), "%v and %v are one customer", p[0], p[1])
			}
			for _, p := range tt.apart {
				assert.NotEqual(t, rootOf(p[0]), rootOf(p[1]), "%v and %v are two customers", p[0], p[1])
			}
			assert.Equal(t, tt.roots, d.roots)
		})
	}
}

// A customer keeps one link per pair of identifiers seen together, with
// the earliest time they were, and a union keeps the links of both sides.
func TestIdentityLinks(t *testing.T) {
	d := newIdentities()
	a := d.node("phone:1", false)
	b := d.node("C-9", true)
	r := d.union(a, b, nil)
	d.addLink(r, a, b, 50)
	d.addLink(r, b, a, 20)
	d.addLink(r, a, b, 90)
	c := d.node("email:x", false)
	e := d.node("email:y", false)
	r2 := d.union(c, e, nil)
	d.addLink(r2, c, e, 70)
	r = d.union(r, r2, nil)
	assert.ElementsMatch(t, []uint64{identHash("phone:1", false), identHash("C-9", true), identHash("email:x", false), identHash("email:y", false)}, d.hashesByRoot()[r])
	var got [][3]int64
	for i := d.nodes[r].link; i >= 0; i = d.links[i].next {
		l := d.links[i]
		got = append(got, [3]int64{int64(l.a), int64(l.b), l.from})
	}
	assert.ElementsMatch(t, [][3]int64{{int64(a), int64(b), 20}, {int64(c), int64(e), 70}}, got)
	assert.Equal(t, 1, d.roots)
}

// The hash is fixed, so that snapshots restore in another process: these
// values are part of the snapshot format. It keeps namespaces apart and
// does not collide on a million keys shaped like real ones.
func TestIdentHash(t *testing.T) {
	for _, tt := range []struct {
		s    string
		isID bool
		want uint64
	}{
		{"phone:+358401234567", false, 0x7933fe9585550502},
		{"C-1", true, 0x4a8789367a3789f5},
		{"", false, 0xbd0789a2bf6643c7},
		{"", true, 0xb979fedb67069296},
		{"email:someone.with.a.long.address@example.com", false, 0x234e388ea40cc8fe},
	} {
		assert.Equal(t, tt.want, identHash(tt.s, tt.isID), "%q", tt.s)
	}
	assert.NotEqual(t, identHash("phone:1", false), identHash("phone:1", true))
	seen := make(map[uint64]string, 1_000_000)
	for i := range 500_000 {
		for _, k := range []string{fmt.Sprintf("phone:+35840%07d", i), fmt.Sprintf("email:c%d@example.com", i)} {
			h := identHash(k, false)
			if other, dup := seen[h]; dup {
				t.Fatalf("%q and %q share a hash", k, other)
			}
			seen[h] = k
		}
	}
}

// walkLinked is linked written out: whether the links of the customer
// whose root is r made before t join identifiers a and b.
func walkLinked(d *identities, r, a, b int32, t int64) bool {
	reach := map[int32]bool{a: true}
	for grown := true; grown; {
		grown = false
		for i := d.nodes[r].link; i >= 0; i = d.links[i].next {
			l := d.links[i]
			if l.from < t && reach[l.a] != reach[l.b] {
				reach[l.a], reach[l.b], grown = true, true, true
			}
		}
	}
	return reach[b]
}

// linkPairs returns the links of the customer whose root is r by pair,
// failing on a pair listed twice.
func linkPairs(t *testing.T, d *identities, r int32) map[uint64]int64 {
	out := map[uint64]int64{}
	for i := d.nodes[r].link; i >= 0; i = d.links[i].next {
		l := d.links[i]
		_, dup := out[pairKey(l.a, l.b)]
		require.False(t, dup, "link %d–%d listed twice", l.a, l.b)
		out[pairKey(l.a, l.b)] = l.from
	}
	return out
}

// A customer of many links answers linked from its forest as a walk over
// its links would, for every pair and time, ties included, through new
// links, earlier sightings of known ones and unions with customers of few
// links or of many.
func TestLinkForestAgreesWithAWalk(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	d := newIdentities()
	var nodes []int32
	for i := range 60 {
		nodes = append(nodes, d.node(fmt.Sprintf("phone:%d", i), false))
	}
	// link sees a and b together at time from, as an opening does.
	link := func(a, b int32, from int64) int32 {
		r := d.union(a, b, nil)
		d.addLink(r, a, b, from)
		return r
	}
	check := func(r int32) {
		t.Helper()
		lf := d.forest(r)
		require.NotNil(t, lf, "a customer of %d links has no forest", len(linkPairs(t, &d, r)))
		var members []int32
		for _, n := range nodes {
			if d.find(n) == r {
				members = append(members, n)
			}
		}
		for _, a := range members {
			for _, b := range members {
				if a == b {
					continue
				}
				for tm := int64(0); tm <= 12; tm++ {
					require.Equal(t, walkLinked(&d, r, a, b, tm), lf.linked(a, b, tm), "%d and %d before %d", a, b, tm)
				}
			}
		}
	}
	// Two customers of many links, on nodes 0–29 and 30–59, at times
	// 0–10 so that links tie.
	var r1, r2 int32
	for range 40 {
		r1 = link(nodes[rng.IntN(30)], nodes[rng.IntN(30)], rng.Int64N(11))
		r2 = link(nodes[30+rng.IntN(30)], nodes[30+rng.IntN(30)], rng.Int64N(11))
	}
	r1, r2 = d.find(r1), d.find(r2)
	require.NotEqual(t, r1, r2)
	check(r1)
	check(r2)
	// A known pair seen earlier, and new links, after the forest was built.
	before := linkPairs(t, &d, r1)
	for i := d.nodes[r1].link; i >= 0; i = d.links[i].next {
		if l := d.links[i]; l.from > 3 {
			link(l.a, l.b, 3)
			break
		}
	}
	link(nodes[0], nodes[29], 9)
	after := linkPairs(t, &d, r1)
	assert.LessOrEqual(t, len(after)-len(before), 1, "a known pair was listed again")
	check(r1)
	// A customer of few links joins one of many, and then two of many
	// become one.
	member := func(r int32) int32 {
		i := slices.IndexFunc(nodes, func(n int32) bool { return d.find(n) == r })
		require.GreaterOrEqual(t, i, 0)
		return nodes[i]
	}
	few := link(d.node("email:a", false), d.node("email:b", false), 2)
	nodes = append(nodes, d.node("email:a", false), d.node("email:b", false))
	r1 = link(member(r1), d.node("email:a", false), 6)
	require.Equal(t, r1, d.find(few))
	check(r1)
	r := link(member(r1), member(r2), 8)
	require.Equal(t, r, d.find(r2))
	check(r)
	assert.Len(t, d.many, 1, "the customer that joined kept its index")
	for key, from := range linkPairs(t, &d, r) {
		i, ok := d.pairs[key]
		require.True(t, ok, "a link of a customer of many links is not in pairs")
		assert.Equal(t, from, d.links[i].from)
	}
}

// A customer's link forest follows each kind of change on its own: a known
// pair seen earlier, a new link, and a union with another customer of many
// links before any link joins the two.
func TestLinkForestFollowsEachChange(t *testing.T) {
	d := newIdentities()
	// star returns the hub and leaves of a customer of 20 links, leaf i
	// linked to the hub at time 10+i.
	star := func(name string) (int32, []int32) {
		hub := d.node(name, false)
		var leaves []int32
		for i := range 20 {
			leaf := d.node(fmt.Sprintf("%s:%d", name, i), false)
			r := d.union(hub, leaf, nil)
			d.addLink(r, hub, leaf, int64(10+i))
			leaves = append(leaves, leaf)
		}
		return hub, leaves
	}
	hubA, a := star("phone:a")
	r := d.find(hubA)
	require.NotNil(t, d.forest(r))
	require.False(t, d.forest(r).linked(a[0], a[5], 12), "a[5] joined at 15")

	d.addLink(r, hubA, a[5], 5) // a known pair, seen earlier
	assert.True(t, d.forest(r).linked(a[0], a[5], 12), "after an earlier sighting of a known pair")
	require.Len(t, linkPairs(t, &d, r), 20)

	assert.False(t, d.forest(r).linked(a[1], a[2], 11))
	d.addLink(r, a[1], a[2], 1) // a new link
	assert.True(t, d.forest(r).linked(a[1], a[2], 2), "after a new link")

	hubB, b := star("phone:b")
	rb := d.find(hubB)
	require.NotNil(t, d.forest(rb))
	r = d.union(hubA, hubB, nil) // no link joins them yet
	other := b
	if r == rb {
		other = a
	}
	assert.True(t, d.forest(r).linked(other[0], other[1], 100), "the customer that joined keeps its links")
	assert.False(t, d.forest(r).linked(a[0], b[0], 100), "no link joins the two customers")
}
