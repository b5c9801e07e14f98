package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/internal/simulate"
)

// errSimpleLog is wrapped by every error about a log that cannot be made
// into the SQL baseline's simple case.
var errSimpleLog = errors.New("cannot derive the simple log")

// simpleLog is the log that the SQL baseline and the projection are both
// given: every customer known by one key, every issue keeping the topic
// it opened with, and every stream ending where its issue settled. The
// rows are what the SQL reads, in order of opening.
type simpleLog struct {
	store     *events.MemoryStore
	rows      []*issueRow
	watermark time.Time
	events    int
	cut       int // streams cut where their issue settled
	dropped   int // reclassifications left out
}

// issueRow is one issue as the SQL baseline's table holds it.
type issueRow struct {
	id            uuid.UUID
	customer      string
	topic         string
	opened        time.Time
	firstResolved time.Time // zero: never resolved
	closed        time.Time // the end of the last open period
	open          bool
	contacts      []contactAt
}

// contactAt is one inbound contact of an issue.
type contactAt struct {
	id        uuid.UUID
	at        time.Time
	abandoned bool
}

// counted returns the issue's two earliest counted contacts; zero times
// where it has fewer.
func (r *issueRow) counted() (first, second time.Time) {
	var ats []time.Time
	for _, c := range r.contacts {
		if !c.abandoned {
			ats = append(ats, c.at)
		}
	}
	slices.SortFunc(ats, time.Time.Compare)
	if len(ats) > 0 {
		first = ats[0]
	}
	if len(ats) > 1 {
		second = ats[1]
	}
	return first, second
}

// buildSimpleLog derives the simple case from the log of cfg and keeps it
// in a memory store, with the issue rows of the SQL baseline:
//
//   - Identity linking cannot matter: every issue.opened carries one key
//     per customer. The simulator gives a customer's phone and email keys
//     the same nine digits, so an email key becomes that customer's phone
//     key; a customer known by an account keeps it.
//   - An issue keeps the topic it opened with: its issue.classified
//     events are left out (and the later events of its stream numbered
//     down), since a topic counts between two issues as it was given
//     before either settled (see projections.FCR), which one topic a row
//     cannot say.
//   - A stream ends where its issue settled: the projection applies no
//     event that comes once W has passed since the issue was last
//     resolved (see projections.FCR), so the table, and the store that
//     feeds the projection, hold the stream up to there.
func buildSimpleLog(ctx context.Context, cfg simulate.Config, window time.Duration) (*simpleLog, error) {
	g, err := simulate.New(cfg)
	if err != nil {
		return nil, err
	}
	s := &simpleLog{store: events.NewMemoryStore()}
	byID := make(map[uuid.UUID]*issueRow)
	cut := make(map[uuid.UUID]bool)
	left := make(map[uuid.UUID]uint64) // events left out of each stream
	one := make([]events.Envelope, 1)
	for e := range g.Events() {
		if cut[e.Issue] {
			continue
		}
		row := byID[e.Issue]
		if row == nil && e.Type() != events.TypeOpened {
			return nil, fmt.Errorf("issue %s version %d: %s before issue.opened: %w", e.Issue, e.Version, e.Type(), errSimpleLog)
		}
		if row != nil && !row.open && !e.At.Before(row.closed.Add(window)) {
			cut[e.Issue] = true
			s.cut++
			continue
		}
		switch d := e.Data.(type) {
		case *events.Opened:
			key, err := oneKey(d.Customer)
			if err != nil {
				return nil, fmt.Errorf("issue %s: %w", e.Issue, err)
			}
			c := *d
			c.Customer = events.Customer{Keys: []string{key}}
			e.Data = &c
			row = &issueRow{id: e.Issue, customer: key, topic: d.Topic, opened: e.At, open: true,
				contacts: []contactAt{{id: d.Contact, at: e.At}}}
			byID[e.Issue] = row
			s.rows = append(s.rows, row)
		case *events.Resolved:
			if row.firstResolved.IsZero() {
				row.firstResolved = e.At
			}
			if row.open {
				row.open, row.closed = false, e.At
			}
		case *events.Reopened:
			row.open = true
			row.contacts = append(row.contacts, contactAt{id: d.Contact, at: e.At})
		case *events.Contacted:
			row.open = true
			row.contacts = append(row.contacts, contactAt{id: d.Contact, at: e.At})
		case *events.Abandoned:
			for i := len(row.contacts) - 1; i >= 0; i-- {
				if row.contacts[i].id == d.Contact {
					row.contacts[i].abandoned = true
					break
				}
			}
		case *events.Classified:
			left[e.Issue]++
			s.dropped++
			continue
		}
		e.Version -= left[e.Issue]
		if e.At.After(s.watermark) {
			s.watermark = e.At
		}
		one[0] = e
		if _, err := s.store.Append(ctx, e.Issue, e.Version-1, one); err != nil {
			return nil, err
		}
		s.events++
	}
	return s, nil
}

// oneKey returns the one key the simple case knows customer c by: the
// phone key, an email key's phone key, else the customer's first key.
func oneKey(c events.Customer) (string, error) {
	if len(c.Keys) == 0 {
		return "", fmt.Errorf("customer %q has no key: %w", c.ID, errSimpleLog)
	}
	for _, k := range c.Keys {
		if strings.HasPrefix(k, "phone:") {
			return k, nil
		}
	}
	for _, k := range c.Keys {
		email, ok := strings.CutPrefix(k, "email:")
		if !ok {
			continue
		}
		local, _, _ := strings.Cut(email, "@")
		dot := strings.LastIndexByte(local, '.')
		digits := local[dot+1:]
		if dot < 0 || len(digits) != 9 || strings.Trim(digits, "0123456789") != "" {
			return "", fmt.Errorf("email key %q does not end in the nine digits of the customer's phone key: %w", k, errSimpleLog)
		}
		return "phone:+3584" + digits, nil
	}
	return c.Keys[0], nil
}
