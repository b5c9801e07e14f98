package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"maps"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/truefcr/truefcr/contact"
	"github.com/truefcr/truefcr/events"
)

// checker holds each live issue of the log and checks every event against
// its stream: the next version, and the lifecycle rules of contact.Check;
// an event at a version the stream has is a redelivery when it is the same
// event (by id), and a conflict when it is another. Issues resolved longer
// ago than the horizon are reduced to their last version, so memory
// follows the active issues, and the number of issues the log has, at a
// version each: an event of such an issue at a version it has is taken for
// a redelivery.
type checker struct {
	keys      contact.KeyRules
	horizon   time.Duration
	live      map[uuid.UUID]*liveIssue
	retired   map[uuid.UUID]uint64 // issues whose state was let go: their last version
	watermark time.Time
	sinceTidy int
}

// liveIssue is an issue the checker holds: its state, and the ids of its
// events by version (ids[v-1]; uuid.Nil for a version that no line gave
// the projections, a hole).
type liveIssue struct {
	contact.Issue
	ids    []uuid.UUID
	sums   []uint64 // by version as ids, contentSum of the event; 0 where not known
	gapped bool     // went past versions the log lacks, or a skipped line: its state is not known
	holes  int      // the versions of ids that are uuid.Nil
	// refused holds, by version, why a line skipped as invalid was, of
	// the versions it took: a copy of it is refused again.
	refused map[uint64]error
}

func newChecker(keys contact.KeyRules, horizon time.Duration) *checker {
	return &checker{keys: keys, horizon: horizon, live: make(map[uuid.UUID]*liveIssue), retired: make(map[uuid.UUID]uint64)}
}

// verdict is what the checker makes of one event.
type verdict int

const (
	fresh     verdict = iota // next in its stream and valid
	duplicate                // a version the stream already has: a redelivery
	unchecked                // of an issue whose state was let go: passed on unchecked
)

// check returns what e is, or the error of an event that breaks its stream,
// and takes e into its stream unless it breaks it. An event of a type the
// tool does not know (known false) takes its version in the stream without
// a check of the lifecycle rules, and the later events of its issue are
// not checked either. The log's time (watermark) follows the events taken
// and those that wait for versions before them: an event that breaks its
// stream moves it no more than anything else of the checker, as its time
// is not to be trusted. (One that waits and is found to break its stream
// once its versions came moved it when it was read.)
func (c *checker) check(e events.Envelope, known bool) (verdict, error) {
	step, err := c.judge(e, known)
	if gap := (*gapError)(nil); err != nil && !errors.As(err, &gap) {
		return fresh, err
	}
	if e.At.After(c.watermark) {
		c.watermark = e.At
	}
	if err != nil {
		return fresh, err
	}
	is := c.live[e.Issue]
	switch step {
	case stepDuplicate:
		return duplicate, nil
	case stepRetired:
		return c.pastRetired(e), nil
	case stepHole:
		// A version that the stream went past (jump), come late: the
		// projections count it as late, or apply it if their own
		// streams still wait for it.
		is.ids[e.Version-1] = e.ID
		is.sums[e.Version-1] = contentSum(e)
		is.holes--
		return unchecked, nil
	}
	if is == nil {
		is = &liveIssue{}
	}
	if err := is.Apply(e); err != nil {
		return fresh, err // judge passed it: not for want of a version
	}
	if !known {
		// What it did is not known (a newer producer's opening, at
		// version 1): the later lines of its issue are the projections'
		// to judge, as after a line skipped.
		is.ID, is.gapped = e.Issue, true
	}
	is.ids = append(is.ids, e.ID)
	is.sums = append(is.sums, contentSum(e))
	c.live[e.Issue] = is
	if c.sinceTidy++; c.sinceTidy >= max(4096, len(c.live)) {
		c.tidy()
	}
	if is.gapped {
		return unchecked, nil
	}
	return fresh, nil
}

// step is how check takes an event that judge passed.
type step int

const (
	stepNext      step = iota // the next version of its stream
	stepDuplicate             // a version its stream has: a redelivery
	stepRetired               // of an issue let go: passed on unchecked
	stepHole                  // a version its stream went past, come late
)

// judge returns how check would take e, or the error of an event that
// breaks its stream (a *gapError for one that versions before it are
// missing from), without changing the checker.
func (c *checker) judge(e events.Envelope, known bool) (step, error) {
	is := c.live[e.Issue]
	if is == nil {
		if last, ok := c.retired[e.Issue]; ok {
			switch {
			case e.Version <= last:
				return stepDuplicate, nil
			case e.Version > last+1:
				return stepNext, &gapError{issue: e.Issue, version: e.Version, from: last + 1, retired: true}
			}
			return stepRetired, nil
		}
		is = &liveIssue{}
	}
	if e.Version > is.Version+1 {
		return stepNext, &gapError{issue: e.Issue, version: e.Version, from: is.Version + 1}
	}
	if e.Version <= is.Version {
		had := is.ids[e.Version-1]
		if had == uuid.Nil {
			return stepHole, nil
		}
		if had != e.ID {
			return stepNext, fmt.Errorf("issue %s version %d: event %s, where the log had event %s at that version: %w",
				e.Issue, e.Version, e.ID, had, events.ErrVersionConflict)
		}
		if err := is.refused[e.Version]; err != nil {
			return stepNext, err
		}
		if err := otherContent(e, is.sums[e.Version-1]); err != nil {
			return stepNext, err
		}
		return stepDuplicate, nil
	}
	if known && !is.gapped {
		if err := is.Check(e, c.keys); err != nil {
			return stepNext, err
		}
	}
	return stepNext, nil
}

// breaks reports whether the checker would refuse e as breaking its
// stream, rather than take it or have it wait for versions before it:
// such a line's time is not to be trusted.
func (c *checker) breaks(e events.Envelope, known bool) bool {
	_, err := c.judge(e, known)
	gap := (*gapError)(nil)
	return err != nil && !errors.As(err, &gap)
}

// pass lets e, a line skipped as invalid for why, take its version in its
// stream, when it is the next, and reports whether it did; taken says
// whether the projections took its version (as an event they do not
// read). Nothing else of e counts: not its time (it may be stamped
// decades ahead), nor its state, which the issue's is then not known.
func (c *checker) pass(e events.Envelope, taken bool, why error) bool {
	is := c.live[e.Issue]
	if is == nil {
		if _, retired := c.retired[e.Issue]; retired {
			return false
		}
		is = &liveIssue{}
		c.live[e.Issue] = is
	}
	if e.Version != is.Version+1 {
		return false
	}
	is.ID, is.gapped = e.Issue, true
	is.Version = e.Version
	if !taken {
		// The projections lack it: a later line of it (corrected) is
		// theirs to judge.
		is.ids = append(is.ids, uuid.Nil)
		is.sums = append(is.sums, 0)
		is.holes++
		return true
	}
	is.ids = append(is.ids, e.ID)
	is.sums = append(is.sums, 0) // a copy of it is refused again, whatever it holds
	if is.refused == nil {
		is.refused = make(map[uint64]error)
	}
	is.refused[e.Version] = why
	return true
}

// maxJump is the most versions that jump goes past at once: the checker
// keeps a place for each, and a line whose version is far beyond its
// stream's (a typo, a counter of another system) is more likely wrong
// than the many lines before it lost.
const maxJump = 1 << 16

// jump moves the stream of issue past versions missing from the log, to
// the version before e's, as the projections' streams go past a gap once
// the lateness passed; it returns how many versions it went past, or an
// error when they are more than maxJump.
func (c *checker) jump(e events.Envelope) (uint64, error) {
	is := c.live[e.Issue]
	if is != nil && e.Version-1-is.Version > maxJump || is == nil && e.Version-1 > maxJump {
		from := uint64(1)
		if is != nil {
			from = is.Version + 1
		}
		return 0, fmt.Errorf("issue %s version %d: versions %d to %d are not in the log before it, more than %d to go past: %w",
			e.Issue, e.Version, from, e.Version-1, maxJump, events.ErrInvalidEvent)
	}
	if is == nil {
		is = &liveIssue{}
		c.live[e.Issue] = is
	}
	is.ID, is.gapped = e.Issue, true
	n := e.Version - 1 - is.Version
	for range n {
		is.ids = append(is.ids, uuid.Nil)
		is.sums = append(is.sums, 0)
	}
	is.holes += int(n)
	is.Version = e.Version - 1
	return n, nil
}

// gapError is an event whose stream lacks versions before it: from to
// version-1 are not in the log before it.
type gapError struct {
	issue         uuid.UUID
	version, from uint64
	retired       bool // of an issue let go: gone past unchecked, as before
}

func (e *gapError) Error() string {
	missing := fmt.Sprintf("version %d is", e.from)
	if e.from < e.version-1 {
		missing = fmt.Sprintf("versions %d to %d are", e.from, e.version-1)
	}
	return fmt.Sprintf("issue %s version %d: %s not in the log before it: %v", e.issue, e.version, missing, events.ErrInvalidEvent)
}

func (e *gapError) Unwrap() error { return events.ErrInvalidEvent }

// tidy lets go of the issues resolved longer than the horizon ago.
func (c *checker) tidy() {
	c.sinceTidy = 0
	cutoff := c.watermark.Add(-c.horizon)
	for id, is := range c.live {
		// One with holes is kept: a line of a missing version is late,
		// not a duplicate, when it comes.
		if is.Status == contact.StatusResolved && is.LastAt.Before(cutoff) && is.holes == 0 {
			c.retired[id] = is.Version
			delete(c.live, id)
		}
	}
}

// next returns the version that issue's stream expects next.
func (c *checker) next(issue uuid.UUID) uint64 {
	if is := c.live[issue]; is != nil {
		return is.Version + 1
	}
	return c.retired[issue] + 1
}

// pastRetired takes e, of an issue let go, as its stream's version,
// unchecked: the next one, or one whose versions before it did not come.
func (c *checker) pastRetired(e events.Envelope) verdict {
	c.retired[e.Issue] = e.Version
	return unchecked
}

// sumCodec writes events in one form whatever the form of their line
// (the order of members, a time's zone, a number's digits), for
// contentSum.
var (
	sumCodec = events.NewMsgpackCodec(nil)
	sumSeed  = maphash.MakeSeed()
)

// contentSum returns a sum of what e holds, 0 when it cannot be taken:
// two lines of one event id and version whose sums differ are two events.
func contentSum(e events.Envelope) uint64 {
	e.Position = 0
	if o, ok := e.Data.(*events.Opaque); ok {
		return opaqueSum(e, o.Type)
	}
	b, err := sumCodec.Append(nil, e)
	if err != nil {
		return 0
	}
	return maphash.Bytes(sumSeed, b) | 1
}

// opaqueSum is contentSum of e, an event of type t that the tool does not
// read, whose data the reader does not keep: a sum of its envelope and its
// type, which no sum of an event the tool reads equals but by chance.
func opaqueSum(e events.Envelope, t events.Type) uint64 {
	var h maphash.Hash
	h.SetSeed(sumSeed)
	h.WriteString("opaque\x00")
	h.WriteString(string(t))
	h.WriteByte(0)
	h.Write(e.ID[:])
	h.Write(e.Issue[:])
	var n [16]byte
	binary.LittleEndian.PutUint64(n[:8], e.Version)
	binary.LittleEndian.PutUint64(n[8:], uint64(e.At.UnixNano()))
	h.Write(n[:])
	for _, k := range slices.Sorted(maps.Keys(e.Meta)) {
		h.WriteString(k)
		h.WriteByte(0)
		h.WriteString(e.Meta[k])
		h.WriteByte(0)
	}
	return h.Sum64() | 1
}

// otherContent returns the error of e, given again by id at its version,
// when it holds other than the event of sum did; nil when it holds the
// same or either is not known.
func otherContent(e events.Envelope, sum uint64) error {
	if s := contentSum(e); sum != 0 && s != 0 && s != sum {
		return fmt.Errorf("issue %s version %d: event %s again, holding other than before: %w",
			e.Issue, e.Version, e.ID, events.ErrVersionConflict)
	}
	return nil
}
