package main

import (
	"fmt"
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
// events by version (ids[v-1]).
type liveIssue struct {
	contact.Issue
	ids []uuid.UUID
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

// check returns what e is, or the error of an event that breaks its stream.
// An event of a type the tool does not know (known false) takes its version
// in the stream without a check of the lifecycle rules.
func (c *checker) check(e events.Envelope, known bool) (verdict, error) {
	if e.At.After(c.watermark) {
		c.watermark = e.At
	}
	is := c.live[e.Issue]
	if is == nil {
		if last, ok := c.retired[e.Issue]; ok {
			if e.Version <= last {
				return duplicate, nil
			}
			c.retired[e.Issue] = e.Version
			return unchecked, nil
		}
		is = &liveIssue{}
	}
	if e.Version <= is.Version {
		if had := is.ids[e.Version-1]; had != e.ID {
			return fresh, fmt.Errorf("issue %s version %d: event %s, where the log had event %s at that version: %w",
				e.Issue, e.Version, e.ID, had, events.ErrVersionConflict)
		}
		return duplicate, nil
	}
	if known {
		if err := is.Check(e, c.keys); err != nil {
			return fresh, err
		}
	}
	if err := is.Apply(e); err != nil {
		return fresh, err
	}
	is.ids = append(is.ids, e.ID)
	c.live[e.Issue] = is
	if c.sinceTidy++; c.sinceTidy >= max(4096, len(c.live)) {
		c.tidy()
	}
	return fresh, nil
}

// tidy lets go of the issues resolved longer than the horizon ago.
func (c *checker) tidy() {
	c.sinceTidy = 0
	cutoff := c.watermark.Add(-c.horizon)
	for id, is := range c.live {
		if is.Status == contact.StatusResolved && is.LastAt.Before(cutoff) {
			c.retired[id] = is.Version
			delete(c.live, id)
		}
	}
}

func (c *checker) String() string {
	return fmt.Sprintf("%d live issues, %d retired", len(c.live), len(c.retired))
}
