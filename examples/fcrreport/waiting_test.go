package main

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
)

// Lines held, taken and let go in any order: what waiting lets go of,
// and when, is what a plain list of the held lines gives. An issue with
// a line held since before the cutoff gives up its lowest version first,
// whichever of its lines waited longest.
func TestWaitingLetsGoOfTheLowestVersionOfAnIssue(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	issues := []uuid.UUID{uuid.New(), uuid.New(), uuid.New()}
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	w := newWaiting()
	var model []line // what is held, in the order held
	find := func(issue uuid.UUID, v uint64) int {
		return slices.IndexFunc(model, func(l line) bool { return l.e.Issue == issue && l.e.Version == v })
	}
	n := 0
	for step := range 4000 {
		switch k := rng.IntN(10); {
		case k < 5: // hold a line
			issue, v := issues[rng.IntN(len(issues))], uint64(1+rng.IntN(60))
			n++
			l := line{e: events.Envelope{Issue: issue, Version: v}, line: n, at: t0.Add(time.Duration(step) * time.Second)}
			had, twice := w.hold(l)
			if i := find(issue, v); i >= 0 {
				require.True(t, twice, "step %d", step)
				require.Equal(t, model[i].line, had.line)
				continue
			}
			require.False(t, twice, "step %d", step)
			model = append(model, l)
		case k < 8: // take the version an issue expects
			issue, v := issues[rng.IntN(len(issues))], uint64(1+rng.IntN(60))
			got, ok := w.take(issue, v)
			i := find(issue, v)
			require.Equal(t, i >= 0, ok, "step %d", step)
			if ok {
				require.Equal(t, model[i].line, got.line)
				model = slices.Delete(model, i, i+1)
			}
		default: // let go of what waited since before a cutoff
			cutoff := t0.Add(time.Duration(step-rng.IntN(200)) * time.Second)
			got, ok := w.expired(cutoff)
			// The model: the issue of the line held longest, if held
			// since before cutoff, gives up its lowest version.
			oldest := -1
			for i, l := range model {
				if l.at.Before(cutoff) && (oldest < 0 || l.at.Before(model[oldest].at)) {
					oldest = i
				}
			}
			require.Equal(t, oldest >= 0, ok, "step %d", step)
			if !ok {
				continue
			}
			want := -1
			for i, l := range model {
				if l.e.Issue == model[oldest].e.Issue && (want < 0 || l.e.Version < model[want].e.Version) {
					want = i
				}
			}
			require.Equal(t, model[want].line, got.line, "step %d", step)
			model = slices.Delete(model, want, want+1)
		}
	}
	for _, l := range model {
		got, ok := w.take(l.e.Issue, l.e.Version)
		require.True(t, ok)
		assert.Equal(t, l.line, got.line)
	}
	assert.Empty(t, w.byIssue, "nothing is left once every line was taken")
}
