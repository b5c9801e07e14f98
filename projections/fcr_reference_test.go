package projections

import (
	"bytes"
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

// refFCR is a plain, slow reading of the rules in FCR's documentation,
// written apart from the projection's data structures: strings, maps and
// sorting, no interning, no slab, no folding. The projection must agree
// with it.
type refFCR struct {
	achieved, failed, pending, unresolved, noContact int64
	pendingFailed                                    int64 // of pending
	repHits, repTotal                                int64
	contacts                                         FCRContacts
	switches                                         map[string]map[string]int64
}

type refContact struct {
	id        uuid.UUID
	at        time.Time
	channel   string
	abandoned bool
}

type refIssue struct {
	id     uuid.UUID
	opened time.Time
	// topics are the issue's topics in stream order, each from its time
	// on: the opening one, then each reclassification.
	topics   []refTopic
	contacts []refContact
	// steps are the status changes after opening, in stream order: a
	// resolution, or a contact (which reopens a resolved issue).
	steps    []refStep
	resolved bool
	res      time.Time
	resOn    uuid.UUID
	// resAfter is how many contacts came before the first resolution, in
	// stream order.
	resAfter int
	idents   []string
	// settled says that the issue ended resolved, at settle: its last
	// resolution + W.
	settled bool
	settle  time.Time
}

type refTopic struct {
	from  time.Time
	topic string
}

// topicAt returns the issue's topic as given before t.
func (is *refIssue) topicAt(t time.Time) string {
	topic := is.topics[0].topic
	for _, c := range is.topics[1:] {
		if c.from.Before(t) {
			topic = c.topic
		}
	}
	return topic
}

// firstSettle returns when the first of x and z settled, and whether one
// has.
func firstSettle(x, z *refIssue) (time.Time, bool) {
	switch {
	case x.settled && z.settled:
		if x.settle.Before(z.settle) {
			return x.settle, true
		}
		return z.settle, true
	case x.settled:
		return x.settle, true
	case z.settled:
		return z.settle, true
	}
	return time.Time{}, false
}

// refMatch reports whether the earlier issue x and the later issue z have
// matching topics, each as given before the first of them settled.
func refMatch(x, z *refIssue, matches func(a, b string) bool) bool {
	if t, ok := firstSettle(x, z); ok {
		return matches(x.topicAt(t), z.topicAt(t))
	}
	return matches(x.topics[len(x.topics)-1].topic, z.topics[len(z.topics)-1].topic)
}

type refStep struct {
	at         time.Time
	resolution bool
}

func (is *refIssue) liveAt(t time.Time, w time.Duration) bool {
	open, res := true, time.Time{}
	for _, s := range is.steps {
		if s.at.After(t) {
			break
		}
		if s.resolution && open {
			open, res = false, s.at
		} else if !s.resolution {
			open = true
		}
	}
	return open || t.Sub(res) < w
}

// refLinked reports whether the earlier issue x and the later issue z of
// one customer are one customer by the identifiers of the customer's
// issues that opened before x and z settled.
func refLinked(x, z *refIssue, customer []*refIssue) bool {
	reach := map[string]bool{}
	for _, id := range x.idents {
		reach[id] = true
	}
	for grown := true; grown; {
		grown = false
		for _, e := range customer {
			if x.settled && !e.opened.Before(x.settle) || z.settled && !e.opened.Before(z.settle) {
				continue
			}
			if !slices.ContainsFunc(e.idents, func(id string) bool { return reach[id] }) {
				continue
			}
			for _, id := range e.idents {
				if !reach[id] {
					reach[id], grown = true, true
				}
			}
		}
	}
	return slices.ContainsFunc(z.idents, func(id string) bool { return reach[id] })
}

func referenceFCR(evs []events.Envelope, window time.Duration, match TopicMatch) refFCR {
	// Each issue's events once, in version order.
	streams := map[uuid.UUID][]events.Envelope{}
	var wm time.Time
	for _, e := range evs {
		if e.At.After(wm) {
			wm = e.At
		}
		streams[e.Issue] = append(streams[e.Issue], e)
	}
	var issues []*refIssue
	for id, s := range streams {
		slices.SortFunc(s, func(a, b events.Envelope) int { return int(a.Version) - int(b.Version) })
		s = slices.CompactFunc(s, func(a, b events.Envelope) bool { return a.Version == b.Version })
		o, ok := s[0].Data.(*events.Opened)
		if !ok || s[0].Version != 1 {
			continue
		}
		is := &refIssue{id: id, opened: s[0].At, topics: []refTopic{{s[0].At, o.Topic}}}
		is.contacts = append(is.contacts, refContact{id: o.Contact, at: s[0].At, channel: o.Channel})
		if o.Customer.ID != "" {
			is.idents = append(is.idents, "id\x00"+o.Customer.ID)
		}
		for _, k := range o.Customer.Keys {
			is.idents = append(is.idents, "key\x00"+k)
		}
		open, lastRes := true, time.Time{}
		for i, e := range s[1:] {
			if e.Version != uint64(i+2) {
				break // a gap: the rest is held
			}
			if !open && !e.At.Before(lastRes.Add(window)) {
				break // the issue settled: the rest is not applied
			}
			switch e.Data.(type) {
			case *events.Contacted, *events.Reopened:
				open = true
			case *events.Resolved:
				if open {
					open, lastRes = false, e.At
				}
			}
			switch d := e.Data.(type) {
			case *events.Contacted:
				is.contacts = append(is.contacts, refContact{id: d.Contact, at: e.At, channel: d.Channel})
				is.steps = append(is.steps, refStep{at: e.At})
			case *events.Reopened:
				is.contacts = append(is.contacts, refContact{id: d.Contact, at: e.At, channel: d.Channel})
				is.steps = append(is.steps, refStep{at: e.At})
			case *events.Abandoned:
				for j := len(is.contacts) - 1; j >= 0; j-- {
					if is.contacts[j].id == d.Contact {
						is.contacts[j].abandoned = true
						break
					}
				}
			case *events.Resolved:
				if !is.resolved {
					is.resolved, is.res, is.resOn, is.resAfter = true, e.At, d.Contact, len(is.contacts)
				}
				is.steps = append(is.steps, refStep{at: e.At, resolution: true})
			case *events.Classified:
				is.topics = append(is.topics, refTopic{e.At, d.Topic})
			}
		}
		is.settled, is.settle = !open, lastRes.Add(window)
		issues = append(issues, is)
	}

	// Customers: identifiers seen together, transitively.
	parent := map[string]string{}
	var find func(string) string
	find = func(x string) string {
		if p, ok := parent[x]; ok && p != x {
			r := find(p)
			parent[x] = r
			return r
		}
		parent[x] = x
		return x
	}
	for _, is := range issues {
		if len(is.idents) == 0 {
			is.idents = []string{"issue\x00" + is.id.String()}
		}
		for _, x := range is.idents[1:] {
			parent[find(x)] = find(is.idents[0])
		}
	}
	byCustomer := map[string][]*refIssue{}
	for _, is := range issues {
		c := find(is.idents[0])
		byCustomer[c] = append(byCustomer[c], is)
	}

	out := refFCR{switches: map[string]map[string]int64{}}
	matches := func(a, b string) bool {
		switch match {
		case MatchAny:
			return true
		case MatchRoot:
			ra, _, _ := bytes.Cut([]byte(a), []byte("/"))
			rb, _, _ := bytes.Cut([]byte(b), []byte("/"))
			return string(ra) == string(rb)
		}
		return a == b
	}
	for _, list := range byCustomer {
		slices.SortFunc(list, func(a, b *refIssue) int {
			if c := a.opened.Compare(b.opened); c != 0 {
				return c
			}
			return bytes.Compare(a.id[:], b.id[:])
		})
		problem := make([]int, len(list))
		for i, b := range list {
			problem[i] = i
			for j := i - 1; j >= 0; j-- {
				if refMatch(list[j], b, matches) && list[j].liveAt(b.opened, window) && refLinked(list[j], b, list) {
					problem[i] = problem[j]
					break
				}
			}
		}
		for p := range list {
			var members []*refIssue
			for i := range list {
				if problem[i] == p {
					members = append(members, list[i])
				}
			}
			if len(members) == 0 {
				continue
			}
			var resolver *refIssue
			for _, m := range members {
				if m.resolved && (resolver == nil || m.res.Before(resolver.res)) {
					resolver = m
				}
			}
			if resolver == nil {
				out.unresolved++
				continue
			}
			r := resolver.res
			var counted []refContact
			for _, m := range members {
				for _, c := range m.contacts {
					if !c.abandoned && c.at.Before(r.Add(window)) {
						counted = append(counted, c)
					}
				}
			}
			before := 0
			for _, c := range counted {
				if !c.at.After(r) {
					before++
				}
			}
			if !wm.After(r.Add(window)) {
				out.pending++
				if n := len(counted); n > 0 && (before != 1 || n != 1) {
					out.pendingFailed++ // failed, once final
				}
				continue
			}
			switch n := len(counted); {
			case n == 0:
				out.noContact++
				continue
			case before == 1 && n == 1:
				out.achieved++
			default:
				out.failed++
			}
			switch n := len(counted); {
			case n == 1:
				out.contacts.One++
			case n == 2:
				out.contacts.Two++
			case n == 3:
				out.contacts.Three++
			default:
				out.contacts.FourPlus++
			}
			// The first contact: the earliest, the first of equals in
			// opening and stream order.
			first := 0
			for i, c := range counted {
				if c.at.Before(counted[first].at) {
					first = i
				}
			}
			for i, c := range counted {
				if i == first {
					continue
				}
				row := out.switches[counted[first].channel]
				if row == nil {
					row = map[string]int64{}
					out.switches[counted[first].channel] = row
				}
				row[c.channel]++
			}
			for _, m := range members {
				if !m.resolved {
					continue
				}
				out.repTotal++
				// One counted contact before the resolution in stream
				// order, and the resolution on it.
				n, on := 0, false
				for _, c := range m.contacts[:m.resAfter] {
					if !c.abandoned {
						n++
						on = on || c.id == m.resOn
					}
				}
				if n == 1 && on {
					out.repHits++
				}
			}
		}
	}
	return out
}

// The projection agrees with the plain reading of its rules on random
// logs, whatever the delivery order.
func TestFCRAgreesWithReference(t *testing.T) {
	t.Parallel() // long, and of its own state only
	for _, tt := range []struct {
		match  TopicMatch
		seed   uint64
		shared int  // shared keys, which make customers of many links
		rough  bool // steps at the same minute, abandoned follow-ups, issues closed on an abandoned contact
	}{{MatchTopic, 21, 0, false}, {MatchRoot, 22, 0, false}, {MatchAny, 23, 0, false}, {MatchTopic, 24, 0, false}, {MatchTopic, 25, 3, false}, {MatchRoot, 26, 2, false},
		{MatchTopic, 29, 0, true}, {MatchAny, 30, 2, true}} {
		t.Run(fmt.Sprintf("%v/shared=%d/rough=%t", tt.match, tt.shared, tt.rough), func(t *testing.T) {
			g := fcrGen{Seed: tt.seed, Customers: 250, Issues: 1000, Span: 45 * 24 * time.Hour, LooseKeys: true, Shared: tt.shared, Rough: tt.rough}
			evs := g.log()
			ref := referenceFCR(evs, DefaultFCRWindow, tt.match)
			require.Positive(t, ref.failed)
			if tt.rough {
				require.Positive(t, ref.noContact, "problems closed with no counted contact")
			}
			got := runFCR(t, FCRConfig{Match: tt.match, Lateness: farLateness}, scramble(evs, tt.seed, 0.2))
			assertReference(t, ref, got)
		})
	}
}

// assertReference asserts that the report got has the figures of ref.
func assertReference(t *testing.T, ref refFCR, got FCRReport) {
	t.Helper()
	assert.Equal(t, ref.achieved, got.Achieved, "achieved")
	assert.Equal(t, ref.failed, got.Failed, "failed")
	assert.Equal(t, ref.pending, got.Pending, "pending")
	assert.Equal(t, ref.pendingFailed, got.PendingFailed, "pending, failed already")
	assert.Equal(t, ref.unresolved, got.Unresolved, "unresolved")
	assert.Equal(t, ref.noContact, got.NoContact, "no contact")
	assert.Equal(t, ref.repHits, got.Reported.Achieved, "reported hits")
	assert.Equal(t, ref.repTotal, got.Reported.Total, "reported total")
	assert.Equal(t, ref.contacts, got.ContactsPerProblem)
	assert.Equal(t, ref.switches, got.ChannelSwitch)
}

// Times are computed without overflow: a window of centuries, a lateness
// that reaches back beyond 1678 and a window that reaches beyond 2262 give
// the figures that the rules give.
func TestFCRTimesNearTheLimits(t *testing.T) {
	year := 365 * 24 * time.Hour
	for _, tt := range []struct {
		start            time.Time // of the log; zero for the generator's
		window, lateness time.Duration
	}{
		{time.Time{}, 250 * year, farLateness},
		{time.Time{}, math.MaxInt64, farLateness},
		{time.Date(1678, 1, 1, 0, 0, 0, 0, time.UTC), DefaultFCRWindow, farLateness},
		{time.Date(2261, 10, 1, 0, 0, 0, 0, time.UTC), year, farLateness},
	} {
		from := "generated"
		if !tt.start.IsZero() {
			from = tt.start.Format(time.DateOnly)
		}
		t.Run(fmt.Sprintf("%s/window=%s", from, tt.window), func(t *testing.T) {
			g := fcrGen{Seed: 27, Customers: 250, Issues: 1000, Span: 45 * 24 * time.Hour, LooseKeys: true}
			evs := g.log()
			if !tt.start.IsZero() {
				d := tt.start.Sub(evs[0].At)
				for i := range evs {
					evs[i].At = evs[i].At.Add(d)
				}
			}
			ref := referenceFCR(evs, tt.window, MatchTopic)
			require.Positive(t, ref.pending+ref.failed)
			got := runFCR(t, FCRConfig{Window: tt.window, Lateness: tt.lateness, MaxFuture: -1}, scramble(evs, 27, 0.2))
			assert.Zero(t, got.LateEvents)
			assertReference(t, ref, got)
		})
	}
}

// A log before 1970 is folded as one after it: memory follows the horizon
// whatever the era.
func TestFCRFoldsALogBefore1970(t *testing.T) {
	g := fcrGen{Seed: 28, Customers: 2000, Issues: 20000, Span: 365 * 24 * time.Hour, Open: 0.01}
	evs := g.log()
	live := func(evs []events.Envelope) int {
		f := mustFCR(FCRConfig{MaxFuture: -1}) // the log runs into 2027

		for _, e := range evs {
			require.NoError(t, f.Apply(e))
		}
		return f.Live()
	}
	now := live(evs)
	require.Less(t, now, 10000, "a year of traffic folds down to its horizon")
	d := time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC).Sub(evs[0].At)
	for i := range evs {
		evs[i].At = evs[i].At.Add(d)
	}
	assert.InDelta(t, now, live(evs), float64(now)/10, "in 1950 as in %d", evs[0].At.Add(-d).Year())
}
