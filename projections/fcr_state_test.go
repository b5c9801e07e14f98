package projections

import (
	"math"
	"math/rand/v2"
	"testing"
)

// settled finds, walking back from an issue's last change, what replaying
// all of its changes from the opening finds: whether it is open and, if
// not, when it settles.
func TestFCRIssueSettledAgreesWithItsReplay(t *testing.T) {
	const window = 100
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := range 20000 {
		is := &fcrIssue{first: fcrRec{at: 0, key: 4}}
		at := int64(0)
		for range rng.IntN(7) {
			at += int64(rng.IntN(3))
			switch rng.IntN(4) {
			case 0:
				is.resolve(at, 4, 0, false)
			case 1:
				is.contact(at, uint64(8+4*rng.IntN(3)), 0)
			case 2:
				is.classify(at, uint32(1+rng.IntN(3)))
			case 3:
				if r := is.rec(4); r != nil {
					r.key |= recAbandoned // an abandoned contact still reopens
				}
			}
		}
		open, res := is.status(math.MaxInt64)
		got, ok := is.settled(window)
		if ok == open || (ok && got != res+window) {
			t.Fatalf("trial %d: settled = %d, %v; replay says open %v, resolved at %d (issue %+v, recs %+v)",
				trial, got, ok, open, res, *is, is.recs())
		}
	}
}
