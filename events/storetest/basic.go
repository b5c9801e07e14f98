package storetest

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
)

// testRoundTrip: what is appended is what is loaded and read, field for
// field, with positions that increase.
func testRoundTrip(t *testing.T, fx *fixture) {
	a, b := fx.newIssue(), fx.newIssue()
	evs := fx.batch(a, 0, 10, "w") // every built-in type, and one more Opened
	evs[4].At = evs[4].At.In(time.FixedZone("EET", 2*60*60))

	var want []events.Envelope
	bVersion := uint64(0)
	for _, part := range [][2]int{{0, 1}, {1, 5}, {5, 10}} {
		in := evs[part[0]:part[1]]
		got := fx.append(a, uint64(part[0]), in)
		batch := make([]events.Envelope, len(in))
		for i := range in {
			batch[i] = in[i]
			batch[i].Position = got[i].Position
		}
		fx.assertSame(batch, got, "append returns the events as given, with positions")
		for i := 1; i < len(got) && fx.f.GaplessPositions; i++ {
			assert.Equal(t, got[i-1].Position+1, got[i].Position, "gapless positions within a batch")
		}
		want = append(want, batch...)
		// Another stream in between, which Load of a must not return.
		fx.append(b, bVersion, fx.batch(b, bVersion, 1, "w"))
		bVersion++
	}
	for i := 1; i < len(want); i++ {
		assert.Greater(t, want[i].Position, want[i-1].Position, "positions strictly increase")
	}

	fx.assertSame(want, fx.load(a), "load returns the appended events in version order")
	var readA []events.Envelope
	for _, e := range fx.readOwn(before(want)) {
		if e.Issue == a {
			readA = append(readA, e)
		}
	}
	fx.assertSame(want, readA, "read all returns the appended events")
	assert.Len(t, fx.load(b), int(bVersion))
}

// testLoadUnknown: an issue with no stream has no events and no error,
// also in a store that has other streams.
func testLoadUnknown(t *testing.T, fx *fixture) {
	other := fx.newIssue()
	fx.append(other, 0, fx.batch(other, 0, 2, "w"))
	got, err := fx.store.Load(fx.ctx(), uuid.New())
	require.NoError(t, err)
	assert.Empty(t, got)
}

// testVersionConflict: an append at a version the stream is not at fails
// with a *events.VersionConflictError and changes nothing.
func testVersionConflict(t *testing.T, fx *fixture) {
	tests := []struct {
		name     string
		existing uint64 // events already in the stream
		expected uint64
	}{
		{"stream exists, writer expects none", 2, 0},
		{"writer is one behind", 2, 1},
		{"writer is ahead", 2, 5},
		{"no stream, writer expects one", 0, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := fx.sub(t)
			issue := fx.newIssue()
			var before []events.Envelope
			if tt.existing > 0 {
				before = fx.append(issue, 0, fx.batch(issue, 0, int(tt.existing), "first"))
			}
			_, err := fx.store.Append(fx.ctx(), issue, tt.expected, fx.batch(issue, tt.expected, 2, "second"))
			require.Error(t, err)
			assert.ErrorIs(t, err, events.ErrVersionConflict)
			var conflict *events.VersionConflictError
			if assert.ErrorAs(t, err, &conflict) {
				assert.Equal(t, issue, conflict.Issue, "conflict names the issue")
				assert.Equal(t, tt.expected, conflict.Expected, "conflict carries the expected version")
				assert.Equal(t, tt.existing, conflict.Actual, "conflict carries the stream's version")
			}
			fx.assertSame(before, fx.load(issue), "a conflict appends nothing")
		})
	}
}

// testInvalidAppend: events that do not fit the stream fail with
// events.ErrInvalidEvent and append nothing, to the stream or elsewhere.
func testInvalidAppend(t *testing.T, fx *fixture) {
	tests := []struct {
		name  string
		spoil func(issue, other uuid.UUID, evs []events.Envelope) []events.Envelope
	}{
		{"empty batch", func(_, _ uuid.UUID, _ []events.Envelope) []events.Envelope { return nil }},
		{"event of another issue", func(_, other uuid.UUID, evs []events.Envelope) []events.Envelope {
			evs[1].Issue = other
			return evs
		}},
		{"version gap", func(_, _ uuid.UUID, evs []events.Envelope) []events.Envelope { return evs[1:] }},
		{"version repeated", func(_, _ uuid.UUID, evs []events.Envelope) []events.Envelope {
			evs[1].Version = evs[0].Version
			return evs
		}},
		{"versions out of order", func(_, _ uuid.UUID, evs []events.Envelope) []events.Envelope {
			evs[0], evs[1] = evs[1], evs[0]
			return evs
		}},
		{"no id", func(_, _ uuid.UUID, evs []events.Envelope) []events.Envelope {
			evs[2].ID = uuid.Nil
			return evs
		}},
		{"no data", func(_, _ uuid.UUID, evs []events.Envelope) []events.Envelope {
			evs[2].Data = nil
			return evs
		}},
		{"no event time", func(_, _ uuid.UUID, evs []events.Envelope) []events.Envelope {
			evs[2].At = time.Time{}
			return evs
		}},
		{"opaque data", func(_, _ uuid.UUID, evs []events.Envelope) []events.Envelope {
			evs[2].Data = &events.Opaque{Type: "crm.note"}
			return evs
		}},
		{"data that does not validate", func(_, _ uuid.UUID, evs []events.Envelope) []events.Envelope {
			// The projections would refuse it at every replay.
			evs[2].Data = &events.Rated{Survey: events.SurveyCSAT, Score: 0}
			return evs
		}},
	}
	for _, tt := range tests {
		for _, existing := range []uint64{0, 2} {
			t.Run(fmt.Sprintf("%s at version %d", tt.name, existing), func(t *testing.T) {
				fx := fx.sub(t)
				issue, other := fx.newIssue(), fx.newIssue()
				var before []events.Envelope
				if existing > 0 {
					before = fx.append(issue, 0, fx.batch(issue, 0, int(existing), "first"))
				}
				evs := tt.spoil(issue, other, fx.batch(issue, existing, 3, "second"))
				got, err := fx.store.Append(fx.ctx(), issue, existing, evs)
				assert.ErrorIs(t, err, events.ErrInvalidEvent, "stream at version %d", existing)
				assert.Empty(t, got)
				fx.assertSame(before, fx.load(issue), "an invalid append appends nothing")
				assert.Empty(t, fx.load(other), "an invalid append appends nothing to other streams")
			})
		}
	}
	t.Run("events of the nil issue", func(t *testing.T) {
		fx := fx.sub(t)
		got, err := fx.store.Append(fx.ctx(), uuid.Nil, 0, fx.batch(uuid.Nil, 0, 2, "nil"))
		assert.ErrorIs(t, err, events.ErrInvalidEvent)
		assert.Empty(t, got)
		assert.Empty(t, fx.load(uuid.Nil), "an invalid append appends nothing")
	})
}

// testBatchAllOrNothing: writers race with batches of different sizes
// at different expected versions. Every append that succeeded has its
// whole batch in the stream at its versions; no event of one that failed
// is stored.
func testBatchAllOrNothing(t *testing.T, fx *fixture) {
	for round := range 20 {
		issue := fx.newIssue()
		fx.append(issue, 0, fx.batch(issue, 0, 1, "first"))
		type attempt struct {
			expected uint64
			evs      []events.Envelope
			err      error
		}
		attempts := make([]attempt, fx.f.Writers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for w := range attempts {
			a := &attempts[w]
			a.expected = 1 + uint64(w%3)
			a.evs = fx.batch(issue, a.expected, 1+w%4, writerName(w))
			wg.Go(func() {
				<-start
				_, a.err = fx.store.Append(fx.ctx(), issue, a.expected, a.evs)
			})
		}
		close(start)
		wg.Wait()

		got := fx.load(issue)
		stored := make(map[uuid.UUID]uint64, len(got))
		for _, e := range got {
			stored[e.ID] = e.Version
		}
		total := 1
		for w, a := range attempts {
			if a.err != nil {
				assert.ErrorIs(t, a.err, events.ErrVersionConflict, "round %d writer %d", round, w)
				for _, e := range a.evs {
					assert.NotContains(t, stored, e.ID, "round %d: writer %d failed, yet its version %d is stored", round, w, e.Version)
				}
				continue
			}
			total += len(a.evs)
			for _, e := range a.evs {
				assert.Equal(t, e.Version, stored[e.ID], "round %d: writer %d succeeded, so its event is stored at its version", round, w)
			}
		}
		require.Greater(t, total, 1, "round %d: one writer wins", round)
		require.Len(t, got, total, "round %d: the stream holds the winners' batches and nothing else", round)
	}
}

// testReadFromPosition: ReadAll after a position yields exactly the
// events after it.
func testReadFromPosition(t *testing.T, fx *fixture) {
	a, b := fx.newIssue(), fx.newIssue()
	var all []events.Envelope
	for v := uint64(0); v < 6; v++ {
		all = append(all, fx.append(a, v, fx.batch(a, v, 1, "w"))...)
		all = append(all, fx.append(b, v, fx.batch(b, v, 1, "w"))...)
	}
	for _, k := range []int{0, 1, 5, len(all) - 1, len(all)} {
		after := before(all)
		if k > 0 {
			after = all[k-1].Position
		}
		fx.assertSame(all[k:], fx.readOwn(after), "events after position "+positionName(after))
	}
	last := all[len(all)-1].Position
	assert.Empty(t, fx.readOwn(last+1_000_000), "reading far beyond the end yields nothing")
}

// testCancelledContext: a cancelled context stops Append, Load and ReadAll
// with ctx.Err() and appends nothing.
func testCancelledContext(t *testing.T, fx *fixture) {
	issue := fx.newIssue()
	stored := fx.append(issue, 0, fx.batch(issue, 0, 2, "w"))
	ctx, cancel := context.WithCancel(fx.ctx())
	cancel()

	_, err := fx.store.Append(ctx, issue, 2, fx.batch(issue, 2, 1, "w"))
	assert.ErrorIs(t, err, context.Canceled, "append")
	fresh := fx.newIssue()
	_, err = fx.store.Append(ctx, fresh, 0, fx.batch(fresh, 0, 1, "w"))
	assert.ErrorIs(t, err, context.Canceled, "append to a new stream")
	fx.assertSame(stored, fx.load(issue), "a cancelled append appends nothing")
	assert.Empty(t, fx.load(fresh), "a cancelled append appends nothing")

	_, err = fx.store.Load(ctx, issue)
	assert.ErrorIs(t, err, context.Canceled, "load")

	var yielded []error
	n := 0
	for _, err := range fx.store.ReadAll(ctx, before(stored)) {
		n++
		if err != nil {
			yielded = append(yielded, err)
		}
	}
	require.NotEmpty(t, yielded, "read all with a cancelled context yields an error")
	assert.ErrorIs(t, yielded[0], context.Canceled)
	assert.Equal(t, 1, n, "read all with a cancelled context yields its error and nothing else")
}

// testCancelDuringReadAll: a ReadAll whose context is cancelled part way
// either finishes or ends with ctx.Err(); it never stops short in silence.
func testCancelDuringReadAll(t *testing.T, fx *fixture) {
	issue := fx.newIssue()
	var all []events.Envelope
	for v := uint64(0); v < 600; v += 100 {
		all = append(all, fx.append(issue, v, fx.batch(issue, v, 100, "w"))...)
	}
	ctx, cancel := context.WithCancel(fx.ctx())
	defer cancel()
	var got []events.Envelope
	var errs []error
	afterErr := 0
	for e, err := range fx.store.ReadAll(ctx, before(all)) {
		if len(errs) > 0 {
			afterErr++
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		cancel()
		if e.Issue == issue {
			got = append(got, e)
		}
	}
	assert.Zero(t, afterErr, "read all yields nothing after its error")
	if len(got) < len(all) {
		require.NotEmpty(t, errs, "read all stopped after %d of %d events without an error", len(got), len(all))
		assert.ErrorIs(t, errs[0], context.Canceled)
	} else {
		assert.Empty(t, errs)
	}
	fx.assertSame(all[:len(got)], got, "what was read before the cancellation")
}

// testStopReadingEarly: breaking out of a ReadAll loop releases whatever
// the read held, so that appends and reads go on.
func testStopReadingEarly(t *testing.T, fx *fixture) {
	issue := fx.newIssue()
	all := fx.append(issue, 0, fx.batch(issue, 0, 10, "w"))
	for range 3 {
		n := 0
		for _, err := range fx.store.ReadAll(fx.ctx(), before(all)) {
			require.NoError(t, err)
			if n++; n == 3 {
				break
			}
		}
	}
	done := make(chan error, 1)
	go func() {
		_, err := fx.store.Append(fx.ctx(), issue, 10, fx.batch(issue, 10, 1, "w"))
		done <- err
	}()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second): // a hang guard, not a measure
		require.FailNow(t, "append blocks after ReadAll loops stopped early")
	}
	assert.Len(t, fx.readOwn(before(all)), 11)
}

func positionName(p uint64) string { return "p" + strconv.FormatUint(p, 10) }

func writerName(w int) string { return "writer-" + strconv.Itoa(w) }
