package storetest

import (
	"errors"
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

// testRaceOneStream: writers race for every next version of one stream.
// Exactly one wins each version; every winner's event is stored once, and
// no loser's.
func testRaceOneStream(t *testing.T, fx *fixture) {
	issue := fx.newIssue()
	n := uint64(fx.f.Events)
	wins := make([][]events.Envelope, fx.f.Writers)
	errs := make([]error, fx.f.Writers)
	var wg sync.WaitGroup
	for w := range wins {
		wg.Go(func() {
			v := uint64(0) // the version this writer believes the stream is at
			for attempt := 0; v < n; attempt++ {
				if attempt > 10*int(n) {
					errs[w] = fmt.Errorf("no progress after %d attempts, at version %d", attempt, v)
					return
				}
				got, err := fx.store.Append(fx.ctx(), issue, v, []events.Envelope{fx.event(issue, v+1, writerName(w))})
				var conflict *events.VersionConflictError
				switch {
				case err == nil:
					wins[w] = append(wins[w], got[0])
					v++
				case errors.As(err, &conflict):
					if conflict.Actual <= v {
						errs[w] = fmt.Errorf("append at version %d lost a race to a stream at version %d: %w", v, conflict.Actual, err)
						return
					}
					v = conflict.Actual
				default:
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	for w, err := range errs {
		require.NoError(t, err, "writer %d", w)
	}

	byVersion := make(map[uint64]events.Envelope)
	var all []events.Envelope
	for w, won := range wins {
		for _, e := range won {
			if prev, ok := byVersion[e.Version]; ok {
				require.Failf(t, "two winners", "version %d was won by writer %d and by %s", e.Version, w, prev.Meta["writer"])
			}
			byVersion[e.Version] = e
			all = append(all, e)
		}
	}
	require.Len(t, byVersion, int(n), "every version is won once")
	loaded := fx.load(issue)
	require.Len(t, loaded, int(n), "the stream holds every winner's event and nothing else")
	for i, e := range loaded {
		if !fx.assertSame([]events.Envelope{byVersion[uint64(i+1)]}, []events.Envelope{e}, "version "+strconv.Itoa(i+1)) {
			break
		}
	}
	fx.checkGlobalOrder(before(all), all, fx.readOwn(before(all)))
}

// testManyStreams: writers append to many streams at once; every stream
// holds its events in version order, and ReadAll yields every event once
// in strictly increasing position.
func testManyStreams(t *testing.T, fx *fixture) {
	byStream, err := fx.writeMany()
	require.NoError(t, err)
	var all []events.Envelope
	for issue, evs := range byStream {
		fx.assertSame(evs, fx.load(issue), "load issue "+issue.String())
		all = append(all, evs...)
	}
	require.Len(t, all, fx.f.Events)
	fx.checkGlobalOrder(before(all), all, fx.readOwn(before(all)))
}

// testReadWhileWriting: a reader that follows the log with ReadAll while
// writers append sees, in position order, exactly what a final read sees:
// it never skips an event that committed after it had read past its
// position.
func testReadWhileWriting(t *testing.T, fx *fixture) {
	marker := fx.newIssue()
	start := fx.append(marker, 0, fx.batch(marker, 0, 1, "marker"))[0].Position

	finished := make(chan struct{})
	var seen []events.Envelope
	var readErr error
	reader := make(chan struct{})
	go func() {
		defer close(reader)
		last := start
		for {
			var done bool
			select {
			case <-finished:
				done = true // this pass starts after the last commit and must see it
			default:
			}
			progress := false
			for e, err := range fx.store.ReadAll(fx.ctx(), last) {
				if err != nil {
					readErr = err
					return
				}
				if e.Position <= last {
					readErr = fmt.Errorf("read all after position %d yielded position %d", last, e.Position)
					return
				}
				last, progress = e.Position, true
				if fx.isOwn(e.Issue) {
					seen = append(seen, e)
				}
			}
			if done {
				return
			}
			if !progress {
				time.Sleep(100 * time.Microsecond)
			}
		}
	}()
	byStream, err := fx.writeMany()
	close(finished)
	<-reader
	require.NoError(t, err)
	require.NoError(t, readErr)

	var all []events.Envelope
	for _, evs := range byStream {
		all = append(all, evs...)
	}
	final := fx.readOwn(start)
	fx.checkGlobalOrder(start, all, final)
	for i := range min(len(seen), len(final)) {
		if seen[i].ID != final[i].ID {
			require.Failf(t, "reader skipped an event",
				"the following reader's event %d is at position %d (issue %s version %d), the final read has position %d (issue %s version %d) there",
				i, seen[i].Position, seen[i].Issue, seen[i].Version, final[i].Position, final[i].Issue, final[i].Version)
		}
	}
	assert.Len(t, seen, len(final), "the following reader saw every event")
}

// writeMany has fx.f.Writers goroutines append fx.f.Events events in all,
// each to four streams of its own in turn, in batches of one to three
// events. It returns what was appended, by stream.
func (fx *fixture) writeMany() (map[uuid.UUID][]events.Envelope, error) {
	const streamsPerWriter = 4
	type result struct {
		byStream map[uuid.UUID][]events.Envelope
		err      error
	}
	results := make([]result, fx.f.Writers)
	var wg sync.WaitGroup
	for w := range results {
		share := fx.f.Events / fx.f.Writers
		if w < fx.f.Events%fx.f.Writers {
			share++
		}
		issues := make([]uuid.UUID, streamsPerWriter)
		for i := range issues {
			issues[i] = fx.newIssue()
		}
		wg.Go(func() {
			res := &results[w]
			res.byStream = make(map[uuid.UUID][]events.Envelope)
			for i := 0; share > 0; i++ {
				issue := issues[i%streamsPerWriter]
				n := min(1+i%3, share)
				v := uint64(len(res.byStream[issue]))
				got, err := fx.store.Append(fx.ctx(), issue, v, fx.batch(issue, v, n, writerName(w)))
				if err != nil {
					res.err = fmt.Errorf("writer %d: %w", w, err)
					return
				}
				res.byStream[issue] = append(res.byStream[issue], got...)
				share -= n
			}
		})
	}
	wg.Wait()
	byStream := make(map[uuid.UUID][]events.Envelope)
	for _, r := range results {
		if r.err != nil {
			return nil, r.err
		}
		for issue, evs := range r.byStream {
			byStream[issue] = evs
		}
	}
	return byStream, nil
}
