package projections

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
)

// keyedTopics are topics that the topic rules tell apart in every way:
// many roots, roots alone, a trailing slash, an empty root, deep paths.
func keyedTopics() []string {
	ts := []string{"/a", "/b", "billing", "billing/", "billing/refund", "billing/refund/late", "tech", "tech/wifi"}
	for i := range 30 {
		ts = append(ts, fmt.Sprintf("r%d", i), fmt.Sprintf("r%d/s%d", i%10, i))
	}
	return ts
}

// keyedLog is a generated log of a few customers of many live issues
// each, of many topics, with many reclassifications: every topic of the
// generator is replaced at random, and half of the surveys become
// reclassifications (some after the issue settled).
func keyedLog(seed uint64, customers, issues int) []events.Envelope {
	g := fcrGen{Seed: seed, Customers: customers, Issues: issues, Span: 30 * 24 * time.Hour, LooseKeys: true, Rough: true}
	evs := g.log()
	topics := keyedTopics()
	rng := rand.New(rand.NewPCG(seed, 0x70b1c))
	for i, e := range evs {
		switch d := e.Data.(type) {
		case *events.Opened:
			o := *d
			o.Topic = topics[rng.IntN(len(topics))]
			evs[i].Data = &o
		case *events.Classified:
			evs[i].Data = &events.Classified{Topic: topics[rng.IntN(len(topics))]}
		case *events.Rated:
			if rng.IntN(2) == 0 {
				evs[i].Data = &events.Classified{Topic: topics[rng.IntN(len(topics))]}
			}
		}
	}
	return evs
}

// keyedRuns is what TestFCRKeyedDifferential computes of one log: the
// report without folding, folding as it goes (with a snapshot restored
// midway) and of the log scrambled.
type keyedRuns struct {
	Report    FCRReport
	Folding   FCRReport
	Scrambled FCRReport
}

func runKeyed(t *testing.T, match TopicMatch, seed uint64, evs []events.Envelope) keyedRuns {
	var out keyedRuns
	f := mustFCR(FCRConfig{Match: match, Lateness: farLateness})
	for _, e := range evs {
		require.NoError(t, f.Apply(e))
	}
	out.Report = f.Report()
	out.Scrambled = runFCR(t, FCRConfig{Match: match, Lateness: farLateness}, scramble(evs, seed, 0.2))
	f = mustFCR(FCRConfig{Match: match, Lateness: time.Hour})
	for i, e := range evs {
		require.NoError(t, f.Apply(e))
		if i%5 == 0 {
			f.sweep()
		}
		if i == len(evs)/2 {
			b, err := f.Snapshot(uint64(i))
			require.NoError(t, err)
			f = mustFCR(FCRConfig{Match: match, Lateness: time.Hour})
			_, err = f.Restore(b)
			require.NoError(t, err)
		}
	}
	out.Folding = f.Report()
	return out
}

// Few customers of many issues, of many topics and reclassified often:
// the report (chain) and the reports folding every few events (blocker)
// and of the log scrambled are those of the reference, and folding changes
// no figure.
func TestFCRKeyedDifferential(t *testing.T) {
	t.Parallel() // long, and of its own state only
	for _, match := range []TopicMatch{MatchTopic, MatchRoot} {
		for seed := uint64(1); seed <= 3; seed++ {
			name := fmt.Sprintf("%v/%d", match, seed)
			t.Run(name, func(t *testing.T) {
				evs := keyedLog(seed, 3, 1500)
				got := runKeyed(t, match, seed, evs)
				assertReference(t, referenceFCR(evs, DefaultFCRWindow, match), got.Report)
				assertReference(t, referenceFCR(evs, DefaultFCRWindow, match), got.Scrambled)
				want, rep := got.Report, got.Folding
				want.Definition, rep.Definition = FCRDefinition{}, FCRDefinition{}
				want.OrphanedEvents, rep.OrphanedEvents = 0, 0
				want.LateEvents, rep.LateEvents = 0, 0
				assert.Equal(t, want, rep)
			})
		}
	}
}
