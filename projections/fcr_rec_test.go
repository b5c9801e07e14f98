package projections

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
)

// recLog is one issue with k follow-up contacts a second apart, each
// routed only after all of them: routing looks up an old contact.
func recLog(k int) []events.Envelope {
	l := newFCRLog()
	t := day0
	issue, c := l.open(t, []string{"phone:+358403333333"}, "phone", "billing")
	cs := []uuid.UUID{c}
	for range k {
		t = t.Add(time.Second)
		cs = append(cs, l.contacted(issue, t, "phone"))
	}
	for _, c := range cs {
		t = t.Add(time.Second)
		l.route(issue, t, c, "q", "a")
	}
	return decodedInOrder(l.evs)
}

// BenchmarkFCRRecOldContacts: an issue of k contacts, each routed after
// all of them came (a long thread answered late). An issue of many
// contacts finds one through an index: time an event should not grow with
// k (it grew as k before: 6.3 µs an event at k = 40,000).
func BenchmarkFCRRecOldContacts(b *testing.B) {
	for _, k := range []int{10000, 40000} {
		evs := recLog(k)
		b.Run(fmt.Sprint(k), func(b *testing.B) {
			for b.Loop() {
				f := mustFCR(FCRConfig{})
				for _, e := range evs {
					if err := f.Apply(e); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(b.N)/float64(len(evs)), "ns/event")
		})
	}
}

// FCR.rec, by its index, finds the rec that fcrIssue.rec walks to, as
// recs are pushed between lookups: contacts repeated, abandoned,
// resolutions and reclassifications among them.
func TestFCRRecIndexAgreesWithWalk(t *testing.T) {
	l := newFCRLog()
	t0 := day0
	issue, first := l.open(t0, []string{"phone:+358404444444"}, "phone", "billing")
	f := mustFCR(FCRConfig{})
	l.flush(t, f)
	ix := f.lookup(issue)
	keys := []uuid.UUID{first, l.id()} // the second is never a contact
	check := func() {
		t.Helper()
		is := f.issues.at(ix)
		for _, c := range keys {
			k := f.recKey(c)
			if got, want := f.rec(ix, is, k), is.rec(k); got != want {
				t.Fatalf("rec of %v after %d recs: %p, want %p", c, len(is.recs()), got, want)
			}
		}
	}
	for i := range 3 * recIndexMin {
		at := t0.Add(time.Duration(i+1) * time.Minute)
		switch i % 5 {
		case 0, 1:
			keys = append(keys, l.contacted(issue, at, "chat"))
		case 2:
			c := keys[len(keys)-3] // an earlier contact again
			l.add(issue, at, &events.Reopened{Contact: c, Channel: "email"})
			l.abandon(issue, at, c)
		case 3:
			l.resolve(issue, at, keys[len(keys)-1], "ann", false)
		case 4:
			l.classify(issue, at, fmt.Sprintf("topic-%d", i%3))
			l.route(issue, at, first, "q", "ann")
		}
		l.flush(t, f)
		check()
	}
	require.Greater(t, len(f.issues.at(ix).recs()), 2*recIndexMin)
	require.NotNil(t, f.recIx[ix])
}

// An issue of many contacts that folds leaves no index behind: the next
// issue in its slot, of many contacts too, finds its own, and not those
// of the issue before (free drops the index); and a restored FCR indexes
// its issues afresh.
func TestFCRRecIndexSlotReuseAndRestore(t *testing.T) {
	cfg := FCRConfig{Window: time.Hour, Lateness: time.Minute}
	f := mustFCR(cfg)
	l := newFCRLog()
	many := func(t0 time.Time, phone string) (uuid.UUID, []uuid.UUID) {
		issue, c := l.open(t0, []string{phone}, "phone", "billing")
		cs := []uuid.UUID{c}
		for i := range 2 * recIndexMin {
			cs = append(cs, l.contacted(issue, t0.Add(time.Duration(i+1)*time.Second), "chat"))
		}
		l.route(issue, t0.Add(3*time.Minute), cs[1], "q", "ann") // builds the index
		return issue, cs
	}
	check := func(issue uuid.UUID, keys ...[]uuid.UUID) {
		t.Helper()
		ix := f.lookup(issue)
		require.GreaterOrEqual(t, ix, int32(0))
		is := f.issues.at(ix)
		for _, ks := range keys {
			for _, c := range ks {
				if got, want := f.rec(ix, is, f.recKey(c)), is.rec(f.recKey(c)); got != want {
					t.Fatalf("rec of %v: %p, want %p", c, got, want)
				}
			}
		}
	}
	a, as := many(day0, "phone:+358405555551")
	l.resolve(a, day0.Add(4*time.Minute), as[0], "ann", false)
	l.flush(t, f)
	ixA := f.lookup(a)
	require.NotNil(t, f.recIx[ixA])
	l.tick(day0.Add(3 * time.Hour))
	l.flush(t, f)
	f.sweep()
	require.Negative(t, f.lookup(a), "a folded")
	b, bs := many(day0.Add(4*time.Hour), "phone:+358405555552")
	l.flush(t, f)
	require.Equal(t, ixA, f.lookup(b), "b in a's slot")
	check(b, bs, as)
	snap, err := f.Snapshot(1)
	require.NoError(t, err)
	g := mustFCR(cfg)
	_, err = g.Restore(snap)
	require.NoError(t, err)
	require.Empty(t, g.recIx)
	f = g
	l.route(b, day0.Add(5*time.Hour), bs[2], "q2", "bob")
	l.flush(t, f)
	check(b, bs, as)
}
