package projections

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
)

// The FCR sequences live issues in their slots and the rest in its
// Sequencer; together they keep what one Sequencer fed the same events
// keeps: the same versions and the same held events, at every point.
func TestFCRStreamVersionsFollowASequencer(t *testing.T) {
	g := fcrGen{Seed: 23, Customers: 300, Issues: 3000, Span: 60 * 24 * time.Hour, LooseKeys: true, Open: 0.05}
	evs := jitter(scramble(g.log(), 5, 0.2), 6, 12*time.Hour)
	f := mustFCR(FCRConfig{Lateness: farLateness})
	seq := NewSequencer()
	ignore := func(events.Envelope) error { return nil }
	checked, heldChecked := 0, 0
	for i, e := range evs {
		require.NoError(t, f.Apply(e))
		_, err := seq.Offer(e, ignore)
		require.NoError(t, err)
		if i%211 == 0 || i == len(evs)-1 {
			require.Equal(t, seq.Positions(), f.StreamVersions(), "after %d events", i+1)
			require.Equal(t, int64(seq.Held()), f.Report().HeldEvents, "after %d events", i+1)
			checked++
			if seq.Held() > 0 {
				heldChecked++
			}
		}
	}
	assert.Greater(t, checked, 50)
	assert.Positive(t, heldChecked, "some checks saw held events")
	assert.Zero(t, seq.Held(), "every gap filled in the end")
}

// One issue's events in a given delivery order: where its stream is kept
// (its slot or the Sequencer), its version and its held events, and that a
// snapshot taken then restores to the same and ends as the whole run does.
func TestFCRSequencesInTheSlot(t *testing.T) {
	l := newFCRLog()
	issue, c := l.open(at(0, 9, 0), []string{"phone:1"}, "phone", "billing/refund")
	l.route(issue, at(0, 9, 1), c, "q1", "ann")
	l.contacted(issue, at(0, 9, 2), "chat")
	l.resolve(issue, at(0, 9, 3), c, "ann", false)
	l.rate(issue, at(0, 9, 4), 5)
	ev := l.evs // versions 1 to 5
	far := ev[4]
	far.Version = 1 << 33 // beyond what a slot keeps

	tests := []struct {
		name    string
		order   []events.Envelope
		version uint64
		held    int
		inSlot  bool // the slot keeps the stream, not the Sequencer
	}{
		{"in order", ev, 5, 0, true},
		{"duplicates", []events.Envelope{ev[0], ev[1], ev[0], ev[1], ev[2]}, 3, 0, true},
		{"a gap", []events.Envelope{ev[0], ev[1], ev[3], ev[4]}, 2, 2, false},
		{"a gap filled", []events.Envelope{ev[0], ev[1], ev[3], ev[4], ev[2]}, 5, 0, true},
		{"before its opening", []events.Envelope{ev[2], ev[1]}, 0, 2, false},
		{"opened after its events", []events.Envelope{ev[2], ev[1], ev[0]}, 3, 0, true},
		{"a version beyond the slot", []events.Envelope{ev[0], far}, 1, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mustFCR(FCRConfig{})
			for _, e := range tt.order {
				require.NoError(t, f.Apply(e))
			}
			assertStream(t, f, issue, tt.version, tt.held)
			ix := f.lookup(issue)
			assert.Equal(t, tt.inSlot, ix >= 0 && !f.issues.at(ix).has(fSeqd), "kept in the slot")
			_, tracked := f.seq.known(&events.Envelope{Issue: issue, Version: 1 << 62})
			assert.Equal(t, !tt.inSlot, tracked, "kept in the Sequencer")

			snap, err := f.Snapshot(0)
			require.NoError(t, err)
			g := mustFCR(FCRConfig{})
			_, err = g.Restore(snap)
			require.NoError(t, err)
			assertStream(t, g, issue, tt.version, tt.held)
			assert.Equal(t, f.Report(), g.Report())
			for _, e := range ev {
				require.NoError(t, f.Apply(e))
				require.NoError(t, g.Apply(e))
			}
			assert.Equal(t, f.Report(), g.Report(), "the restored FCR goes on as the saved one")
			assert.Equal(t, f.StreamVersions(), g.StreamVersions())
		})
	}
}

// An issue's stream outgrows what its slot keeps (65,535 versions) in
// order: the Sequencer takes it over, and every event still counts once,
// a redelivery of an early one included; a snapshot then restores it.
func TestFCRStreamOutgrowsItsSlot(t *testing.T) {
	l := newFCRLog()
	issue, c := l.open(at(0, 9, 0), []string{"phone:1"}, "phone", "billing/refund")
	const answers = 70_000
	for i := range answers {
		l.rate(issue, at(0, 9, 1).Add(time.Duration(i)*time.Millisecond), 1+i%5)
	}
	l.resolve(issue, at(0, 10, 0), c, "ann", false)
	f := mustFCR(FCRConfig{})
	for i, e := range l.evs {
		require.NoError(t, f.Apply(e))
		if i == 100 {
			require.NoError(t, f.Apply(l.evs[50]), "a redelivery")
		}
	}
	ix := f.lookup(issue)
	require.GreaterOrEqual(t, ix, int32(0))
	assert.True(t, f.issues.at(ix).has(fSeqd), "the Sequencer keeps the stream")
	assert.Equal(t, uint64(answers+2), f.StreamVersions()[issue])
	require.NoError(t, f.Apply(l.evs[3]), "a redelivery")
	assert.Equal(t, int64(2), f.DuplicatesIgnored())
	snap, err := f.Snapshot(0)
	require.NoError(t, err)
	g := mustFCR(FCRConfig{})
	_, err = g.Restore(snap)
	require.NoError(t, err)
	assert.Equal(t, f.StreamVersions(), g.StreamVersions())
	l.evs = l.evs[:0]
	l.tick(at(30, 0, 0))
	require.NoError(t, f.Apply(l.evs[0]))
	require.NoError(t, g.Apply(l.evs[0]))
	assert.Equal(t, f.Report(), g.Report())
	rep := f.Report()
	assert.Equal(t, int64(1), rep.Achieved)
	// CSAT counts up to 255 answers of an issue: 51 of each score.
	assert.Equal(t, FCRCSAT{Problems: 1, Answers: 255, Mean: 3, Top2: NewRate(102, 255)}, rep.CSAT.Achieved)
}

func assertStream(t *testing.T, f *FCR, issue uuid.UUID, version uint64, held int) {
	t.Helper()
	want := map[uuid.UUID]uint64{}
	if version > 0 {
		want[issue] = version
	}
	assert.Equal(t, want, f.StreamVersions())
	assert.Equal(t, int64(held), f.Report().HeldEvents)
}
