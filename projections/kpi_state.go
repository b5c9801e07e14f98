package projections

import (
	"math"
	"time"

	"github.com/google/uuid"

	"github.com/truefcr/truefcr/events"
)

// kpiState is what the KPI projections keep of one issue. ServiceLevel,
// Satisfaction and Volume each count from their part of one record with
// one list of contacts, so that the Reporter keeps a single state per
// issue for the three: apply folds an event into it once, and each
// projection compares what it counted before with what it counts after.
// Names are ids of the projection's nameTable; contacts are told apart by
// their ids folded to 64 bits, as within one issue a collision is out of
// the question.
type kpiState struct {
	n int32 // contacts in the list: first, then more
	// Indexes+1 into the contacts, 0 for none: the contact of the last
	// resolution, the latest inbound contact, the first routed one.
	resolvedOn, latest, firstAnswered int32
	counted                           int32  // Volume: counted contacts
	channel                           uint32 // the opening channel
	topic                             uint32 // the current topic
	opened                            bool   // Volume: issue.opened was counted
	seen                              bool   // sinceNS is set: an inbound event was applied
	stray                             bool   // version 1 was not an events.Opened: see kpiIgnores
	// sinceNS is the earliest time of an inbound event (issue.opened,
	// issue.contacted, issue.reopened), Unix ns: the opening, or what
	// opened the issue again in a state begun after the one before was
	// forgotten, even if a late survey or a reclassification began that
	// state. The backlog ages an open issue from it.
	sinceNS int64
	first   kpiContact
	more    *kpiMore // nil until a second contact or an answer
}

// kpiMore is what few issues have: contacts after the first, and survey
// answers.
type kpiMore struct {
	contacts []kpiContact
	ratings  []satRating
	// byKey finds the first indexed contacts by key once the issue has
	// more than kpiIndexFrom: one with thousands (a long email thread, a
	// bot answering itself) would otherwise cost a scan of them at every
	// event. It is built when first needed, after a restore too.
	byKey   map[uint64]int32
	indexed int32
}

// kpiIndexFrom is how many contacts an issue has before find uses an
// index rather than a scan.
const kpiIndexFrom = 16

// kpiContact is one contact of an issue and what happened to it, for the
// three projections.
type kpiContact struct {
	key    uint64        // the contact id, as kpiNames.key
	wait   time.Duration // of the first routing
	handle time.Duration // the sum of the handle times of its resolutions
	// channel comes from the inbound event that introduced the contact;
	// queue is the queue of its first routing, else the first one named
	// on its abandonment; agent that of its last routing that named one;
	// resolver the agent of its last resolution that named one, or "bot".
	channel, queue, agent, resolver uint32
	day                             int32 // the UTC day of its inbound event, as volDay
	// The ServiceLevel segments the contact counts under, 0 until it
	// counts anything.
	chSeg, qSeg          uint32
	resolutions, reopens int32 // reopens undoing a resolution on it
	routings             uint16
	flags                kpiFlags
}

// kpiFlags are what happened to a contact, one bit each.
type kpiFlags uint8

const (
	kcInbound   kpiFlags = 1 << iota // introduced by opened, contacted or reopened
	kcAbandoned                      // abandoned in the queue
	kcConsulted                      // the agent consulted during it
	kcDropped                        // stands in for a contact whose state was dropped
	// kcWaited: abandoned in the queue before any routing, after waiting
	// wait (snapshots of format 2 and before do not have it).
	kcWaited
)

func (c *kpiContact) has(f kpiFlags) bool { return c.flags&f != 0 }
func (c *kpiContact) routed() bool        { return c.routings > 0 }

// kpiNames is the nameTable of the KPI projections, with the ids of the
// names that they use themselves and how they key contacts: the context
// that the projections of a Reporter share and restore together.
type kpiNames struct {
	nameTable
	unknown, none, bot uint32
	// xorKeys: the contacts are keyed by xorKey, as in snapshots before
	// format 5, from which the projections were restored.
	xorKeys bool
}

func newKPINames() *kpiNames {
	n := &kpiNames{nameTable: newNameTable()}
	n.unknown, n.none, n.bot = n.id(kpiUnknown), n.id(kpiNone), n.id("bot")
	return n
}

// key returns the key of contact c: contactKey, or xorKey for
// projections restored from a snapshot that keyed contacts so.
func (n *kpiNames) key(c uuid.UUID) uint64 { return keyOf(c, n.xorKeys) }

// or returns id, or alt when id is the empty name.
func (n *kpiNames) or(id, alt uint32) uint32 {
	if id == 0 {
		return alt
	}
	return id
}

// at returns contact i, which must exist.
func (s *kpiState) at(i int32) *kpiContact {
	if i == 0 {
		return &s.first
	}
	return &s.more.contacts[i-1]
}

// firstWaited returns the index of the first contact, in the order
// its contacts came, abandoned in the queue before any routing after a
// wait (kcWaited), or -1.
func (s *kpiState) firstWaited() int32 {
	for i := range s.n {
		if s.at(i).has(kcWaited) {
			return i
		}
	}
	return -1
}

// waitedOn reports whether contact on (an index+1, 0 for none) has a wait
// of its own: it was routed, or abandoned in the queue after a wait.
func (s *kpiState) waitedOn(on int32) bool {
	if on == 0 {
		return false
	}
	c := s.at(on - 1)
	return c.routed() || c.has(kcWaited)
}

// ratings returns the survey answers.
func (s *kpiState) ratings() []satRating {
	if s.more == nil {
		return nil
	}
	return s.more.ratings
}

// extra returns the kpiMore, adding it when missing.
func (s *kpiState) extra() *kpiMore {
	if s.more == nil {
		s.more = new(kpiMore)
	}
	return s.more
}

// find returns the index of the contact with key, or -1.
func (s *kpiState) find(key uint64) int32 {
	if s.n > kpiIndexFrom {
		m := s.more
		if m.byKey == nil {
			m.byKey = make(map[uint64]int32, s.n)
		}
		for ; m.indexed < s.n; m.indexed++ {
			if _, dup := m.byKey[s.at(m.indexed).key]; !dup {
				m.byKey[s.at(m.indexed).key] = m.indexed
			}
		}
		if i, ok := m.byKey[key]; ok {
			return i
		}
		return -1
	}
	for i := range s.n {
		if s.at(i).key == key {
			return i
		}
	}
	return -1
}

// index returns the index of the contact with key, adding it when new.
func (s *kpiState) index(key uint64) int32 {
	if i := s.find(key); i >= 0 {
		return i
	}
	c := kpiContact{key: key}
	if s.channel == 0 {
		// The state did not see the opening: its events came once
		// the state was forgotten (or its opening was lost, which
		// the state cannot tell). A contact that no inbound event of it
		// introduces (inbound clears the flag) is taken for one of the
		// forgotten state, which counted it: this one stands in for it.
		c.flags = kcDropped
	}
	if s.n == 0 {
		s.first = c
	} else {
		m := s.extra()
		m.contacts = append(m.contacts, c)
	}
	s.n++
	return s.n - 1
}

// apply folds e, the next event of the issue, into the state.
func (s *kpiState) apply(e *events.Envelope, n *kpiNames) {
	switch e.Type() {
	case events.TypeOpened, events.TypeContacted, events.TypeReopened:
		// What opens the issue, of any Go type (the horizon opens it by
		// type; kpiIgnores passed over an issue.opened after version 1):
		// its age in the backlog starts at the earliest.
		if at := e.At.UnixNano(); !s.seen || at < s.sinceNS {
			s.seen, s.sinceNS = true, at
		}
	}
	switch d := e.Data.(type) {
	case *events.Opened:
		s.channel, s.topic = n.id(d.Channel), n.id(d.Topic)
		s.inbound(n.key(d.Contact), s.channel, e.At)
	case *events.Contacted:
		s.inbound(n.key(d.Contact), n.id(d.Channel), e.At)
	case *events.Reopened:
		if s.resolvedOn > 0 {
			s.at(s.resolvedOn-1).reopens++
		} else {
			// The resolution was seen before this state was dropped.
			c := s.at(s.index(0))
			c.flags |= kcDropped
			c.reopens++
		}
		s.inbound(n.key(d.Contact), n.id(d.Channel), e.At)
	case *events.Classified:
		s.topic = n.id(d.Topic)
	case *events.Routed:
		i := s.index(n.key(d.Contact))
		c := s.at(i)
		if c.routings == 0 {
			// The first routing's queue wins over an abandonment's.
			c.wait = wireDuration(d.Wait)
			if d.Queue != "" {
				c.queue = n.id(d.Queue)
			}
		}
		if c.routings < math.MaxUint16 {
			c.routings++
		}
		if d.Agent != "" {
			c.agent = n.id(d.Agent)
		}
		if s.firstAnswered == 0 {
			s.firstAnswered = i + 1
		}
	case *events.Abandoned:
		c := s.at(s.index(n.key(d.Contact)))
		if c.routings == 0 && !c.has(kcAbandoned) {
			// Until a routing tells how long the contact waited to be
			// answered, it waited this long before it gave up.
			c.wait = wireDuration(d.Wait)
			c.flags |= kcWaited
		}
		c.flags |= kcAbandoned
		if q, ok := d.Extra["queue"].(string); ok && q != "" && c.queue == 0 {
			c.queue = n.id(q)
		}
	case *events.Consulted:
		s.at(s.index(n.key(d.Contact))).flags |= kcConsulted
	case *events.Resolved:
		i := s.index(n.key(d.Contact))
		c := s.at(i)
		c.resolutions++
		c.handle = time.Duration(satAdd(int64(c.handle), int64(wireDuration(d.Handle))))
		switch {
		case d.Agent != "":
			c.resolver = n.id(d.Agent)
		case d.Bot:
			c.resolver = n.bot
		}
		s.resolvedOn = i + 1
	case *events.Rated:
		on := s.resolvedOn
		if on == 0 {
			on = s.latest
		}
		if d.Contact != uuid.Nil {
			on = s.index(n.key(d.Contact)) + 1
		}
		m := s.extra()
		m.ratings = append(m.ratings, satRating{survey: satSurveyOf(d.Survey), score: int16(d.Score), on: on})
	}
}

// kpiContactOf returns the contact an event is about, for the events that
// name one of their issue's contacts (issue.rated names one only at times).
func kpiContactOf(d events.Data) (uuid.UUID, bool) {
	switch d := d.(type) {
	case *events.Opened:
		return d.Contact, true
	case *events.Contacted:
		return d.Contact, true
	case *events.Reopened:
		return d.Contact, true
	case *events.Routed:
		return d.Contact, true
	case *events.Abandoned:
		return d.Contact, true
	case *events.Consulted:
		return d.Contact, true
	case *events.Resolved:
		return d.Contact, true
	}
	return uuid.Nil, false
}

// inbound notes the contact that an inbound event introduced.
func (s *kpiState) inbound(key uint64, channel uint32, at time.Time) {
	i := s.index(key)
	c := s.at(i)
	c.channel, c.day = channel, int32(volDay(at))
	c.flags = c.flags&^kcDropped | kcInbound
	s.latest = i + 1
}

// wireDuration is d as the wire format carries it, in whole milliseconds
// (wait_ms, handle_ms): an event built in Go with a finer duration counts
// as it does once a codec, a store or a snapshot has carried it.
func wireDuration(d time.Duration) time.Duration { return d.Truncate(time.Millisecond) }
