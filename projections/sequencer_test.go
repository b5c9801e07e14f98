package projections

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
)

// The held events of a stream stay in version order however they come:
// newest first, in order after a gap, or any way round, with duplicates;
// and a stream delivered newest first costs no more than one in order.
func TestSequencerHoldsInAnyOrder(t *testing.T) {
	issue := uuid.New()
	ev := func(v uint64) events.Envelope {
		return events.Envelope{ID: uuid.New(), Issue: issue, Version: v, At: time.Unix(int64(v), 0), Data: &events.Classified{Topic: "x"}}
	}
	for name, order := range map[string][]uint64{
		"newest first": {9, 8, 7, 6, 5, 4, 3, 2, 1},
		"in order":     {2, 3, 4, 5, 6, 7, 8, 9, 1},
		"mixed":        {5, 9, 2, 7, 7, 3, 8, 2, 6, 4, 1},
	} {
		t.Run(name, func(t *testing.T) {
			s := NewSequencer()
			var got []uint64
			emit := func(e events.Envelope) error { got = append(got, e.Version); return nil }
			for _, v := range order[:len(order)-1] {
				out, err := s.Offer(ev(v), emit)
				require.NoError(t, err)
				require.NotEqual(t, Applied, out)
				held := s.HeldEvents()
				require.True(t, slices.IsSortedFunc(held, func(a, b events.Envelope) int { return cmp.Compare(a.Version, b.Version) }), "%v", held)
			}
			require.Empty(t, got)
			_, err := s.Offer(ev(1), emit)
			require.NoError(t, err)
			assert.Equal(t, []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9}, got)
			assert.Zero(t, s.Held())
			assert.Equal(t, 1, s.Streams())
		})
	}
}

// BenchmarkSequencerNewestFirst: one stream of n events delivered newest
// first: time an event should not grow with n (it grew as n: 84 µs an
// event at 40,000 in the FCR).
func BenchmarkSequencerNewestFirst(b *testing.B) {
	for _, n := range []int{1000, 40000} {
		issue := uuid.New()
		evs := make([]events.Envelope, n)
		for i := range evs {
			evs[i] = events.Envelope{ID: uuid.New(), Issue: issue, Version: uint64(i + 1), At: time.Unix(int64(i), 0), Data: &events.Classified{Topic: "x"}}
		}
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			emit := func(events.Envelope) error { return nil }
			for b.Loop() {
				s := NewSequencer()
				for i := n - 1; i >= 0; i-- {
					if _, err := s.Offer(evs[i], emit); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(b.N)/float64(n), "ns/event")
		})
	}
}

// Changing a Sequencer from inside its Offer's emit function corrupted
// it (a forgotten stream came back, Held went below zero, HeldEvents
// panicked on a negative capacity, an event was emitted twice): it now
// panics there, saying so, and the Sequencer works on once Offer returned,
// also after an emit that panicked.
func TestSequencerRefusesChangesFromInsideEmit(t *testing.T) {
	issue := uuid.New()
	ev := func(v uint64) events.Envelope {
		return events.Envelope{ID: uuid.New(), Issue: issue, Version: v, At: time.Unix(int64(v), 0), Data: &events.Classified{Topic: "x"}}
	}
	nop := func(events.Envelope) error { return nil }
	for name, inside := range map[string]func(s *Sequencer){
		"Forget":  func(s *Sequencer) { s.Forget(issue) },
		"Offer":   func(s *Sequencer) { _, _ = s.Offer(ev(1), nop) },
		"Restore": func(s *Sequencer) { s.Restore(nil) },
	} {
		t.Run(name, func(t *testing.T) {
			s := NewSequencer()
			for _, v := range []uint64{2, 3} {
				_, err := s.Offer(ev(v), nop)
				require.NoError(t, err)
			}
			assert.PanicsWithValue(t, "projections: Sequencer."+name+" called from inside the emit function of its Offer: call it once Offer has returned", func() {
				_, _ = s.Offer(ev(1), func(e events.Envelope) error {
					if e.Version == 2 {
						inside(s)
					}
					return nil
				})
			})
			// The panic left version 2 held (its emit did not return) and
			// the Sequencer usable: Forget once Offer returned.
			assert.Equal(t, uint64(1), s.Version(issue))
			assert.Equal(t, 2, s.Held())
			s.Forget(issue)
			assert.Zero(t, s.Held())
			assert.Zero(t, s.Streams())
			assert.Empty(t, s.HeldEvents())
		})
	}
}

// The zero Sequencer works as NewSequencer's, where it panicked on its
// first event; an event whose version no stream has is Refused, with an
// error that names it, and changes nothing, where version 0 passed for a
// Duplicate.
func TestSequencerZeroValueAndRefusedVersions(t *testing.T) {
	issue := uuid.New()
	ev := func(v uint64) events.Envelope {
		return events.Envelope{ID: uuid.New(), Issue: issue, Version: v, At: time.Unix(int64(v), 0), Data: &events.Classified{Topic: "x"}}
	}
	var s Sequencer
	var got []uint64
	emit := func(e events.Envelope) error { got = append(got, e.Version); return nil }
	for _, v := range []uint64{0, events.MaxVersion + 1, math.MaxUint64} {
		bad := ev(v)
		out, err := s.Offer(bad, emit)
		require.ErrorIs(t, err, events.ErrInvalidEvent)
		assert.ErrorContains(t, err, fmt.Sprintf("event %s of issue %s has version %d", bad.ID, issue, v))
		assert.Equal(t, Refused, out)
	}
	assert.Zero(t, s.Streams())
	assert.Zero(t, s.Held())
	out, err := s.Offer(ev(2), emit)
	require.NoError(t, err)
	assert.Equal(t, Held, out)
	out, err = s.Offer(ev(1), emit)
	require.NoError(t, err)
	assert.Equal(t, Applied, out)
	out, err = s.Offer(ev(2), emit)
	require.NoError(t, err)
	assert.Equal(t, Duplicate, out)
	assert.Equal(t, []uint64{1, 2}, got)
	assert.Equal(t, uint64(2), s.Version(issue))
}
