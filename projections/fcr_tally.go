package projections

import (
	"fmt"
	"math"
	"time"
)

// Dimensions of the FCR breakdowns.
const (
	dimChannel uint8 = iota
	dimTopic
	dimAgent
	dimQueue
	dimKind
	dimDay
	dimWeek
)

// fcrSegKey names one segment of a time dimension: a day or a week number.
type fcrSegKey struct {
	Dim uint8
	ID  int64
}

// fcrSeg counts true and reported FCR in one segment.
type fcrSeg struct {
	Achieved, Failed  int64
	RepHits, RepTotal int64
}

// fcrSegCache remembers one segment of ByTime.
type fcrSegCache struct {
	id  int64
	seg *fcrSeg
}

// fcrCSAT sums the CSAT answers of a set of problems.
type fcrCSAT struct {
	Problems, Answers, Sum, Top2 int64
}

// fcrTally counts problems. The FCR keeps one for folded problems; a
// report copies it and adds the live ones.
type fcrTally struct {
	Problems, Final, Achieved, Failed int64
	Pending, Unresolved, NoContact    int64
	// PendingFailed is 0 in a tally of folded problems, which are final:
	// snapshots leave it out.
	PendingFailed          int64
	RepHits, RepTotal      int64
	BotTotal, BotContained int64
	PerProblem             [4]int64 // 1, 2, 3, 4+ counted contacts
	CSAT                   [2]fcrCSAT
	// Segments: by name id for channel, topic, agent and queue; by agent
	// kind (human, bot); by day and week number.
	ByName [dimQueue + 1][]fcrSeg
	ByKind [2]fcrSeg
	ByTime map[fcrSegKey]*fcrSeg
	// lastTime caches the days and weeks last looked up in ByTime, by
	// their low bits: problems are folded roughly in time order, within a
	// few weeks of each other.
	lastTime [2][32]fcrSegCache
	Switch   map[[2]uint32]int64 // first channel → repeat channel
	Repeats  map[uint32][2]int64 // topic → repeat contacts, failed problems
}

func newFCRTally() fcrTally {
	return fcrTally{
		ByTime:  make(map[fcrSegKey]*fcrSeg),
		Switch:  make(map[[2]uint32]int64),
		Repeats: make(map[uint32][2]int64),
	}
}

func (t *fcrTally) clone() fcrTally {
	c := *t
	c.lastTime = [2][32]fcrSegCache{}
	for d := range c.ByName {
		c.ByName[d] = append([]fcrSeg(nil), t.ByName[d]...)
	}
	c.ByTime = make(map[fcrSegKey]*fcrSeg, len(t.ByTime))
	for k, v := range t.ByTime {
		v := *v
		c.ByTime[k] = &v
	}
	c.Switch = make(map[[2]uint32]int64, len(t.Switch))
	for k, v := range t.Switch {
		c.Switch[k] = v
	}
	c.Repeats = make(map[uint32][2]int64, len(t.Repeats))
	for k, v := range t.Repeats {
		c.Repeats[k] = v
	}
	return c
}

// seg returns the counts of one segment, creating them when new.
func (t *fcrTally) seg(dim uint8, id int64) *fcrSeg {
	switch {
	case dim <= dimQueue:
		s := t.ByName[dim]
		if int(id) >= len(s) {
			s = append(s, make([]fcrSeg, int(id)+1-len(s))...)
			t.ByName[dim] = s
		}
		return &s[id]
	case dim == dimKind:
		return &t.ByKind[id&1]
	}
	return t.timeSeg(dim, id)
}

// timeSeg is seg of a time dimension (day or week), through lastTime.
func (t *fcrTally) timeSeg(dim uint8, id int64) *fcrSeg {
	c := 0
	if dim == dimWeek {
		c = 1
	}
	last := &t.lastTime[c][id&31]
	if last.seg != nil && last.id == id {
		return last.seg
	}
	k := fcrSegKey{Dim: dim, ID: id}
	p := t.ByTime[k]
	if p == nil {
		p = new(fcrSeg)
		t.ByTime[k] = p
	}
	last.id, last.seg = id, p
	return p
}

// count adds d to the segments that a problem or an issue record counts
// in: those of its channel, topic, agent, queue, agent kind, and the day
// and week of its first contact at.
func (t *fcrTally) count(channel, topic, agent, queue uint32, kind int64, at int64, d fcrSeg) {
	for dim, id := range [...]uint32{dimChannel: channel, dimTopic: topic, dimAgent: agent, dimQueue: queue} {
		s := t.ByName[dim]
		if id >= uint32(len(s)) {
			s = t.grow(uint8(dim), id)
		}
		s[id].add(d)
	}
	t.ByKind[kind&1].add(d)
	day := dayOf(at)
	t.timeSeg(dimDay, day).add(d)
	t.timeSeg(dimWeek, weekOf(day)).add(d)
}

// add adds the counts of d to s.
func (s *fcrSeg) add(d fcrSeg) {
	s.Achieved += d.Achieved
	s.Failed += d.Failed
	s.RepHits += d.RepHits
	s.RepTotal += d.RepTotal
}

// grow makes room for segment id in name dimension dim, and returns the
// segments of dim.
func (t *fcrTally) grow(dim uint8, id uint32) []fcrSeg {
	t.seg(dim, int64(id))
	return t.ByName[dim]
}

// eachSeg calls fn for every segment with counts.
func (t *fcrTally) eachSeg(fn func(dim uint8, id int64, s fcrSeg)) {
	for d, segs := range t.ByName {
		for id, s := range segs {
			if s != (fcrSeg{}) {
				fn(uint8(d), int64(id), s)
			}
		}
	}
	for id, s := range t.ByKind {
		if s != (fcrSeg{}) {
			fn(dimKind, int64(id), s)
		}
	}
	for k, s := range t.ByTime {
		fn(k.Dim, k.ID, *s)
	}
}

const nsPerDay = int64(24 * time.Hour)

// dayOf returns the UTC day number of a Unix ns time.
func dayOf(ns int64) int64 {
	d := ns / nsPerDay
	if ns%nsPerDay < 0 {
		d--
	}
	return d
}

// The day and week numbers of the times that Unix nanoseconds hold, which
// take in every event time (events.InTimeRange, narrower; an older build
// took events of the wider range, and its snapshots may count their
// days): a snapshot
// that counts under another is refused, as its label would be that of
// another day.
var (
	minDay, maxDay   = dayOf(math.MinInt64), dayOf(math.MaxInt64)
	minWeek, maxWeek = weekOf(minDay), weekOf(maxDay)
)

// negative returns the position of the first negative count of vs, or -1:
// no count of a snapshot can be below zero.
func negative(vs ...int64) int {
	for i, v := range vs {
		if v < 0 {
			return i
		}
	}
	return -1
}

// weekOf returns the number of the Monday-to-Sunday week of a day number
// (day 0, 1970-01-01, was a Thursday).
func weekOf(day int64) int64 {
	w := (day + 3) / 7
	if (day+3)%7 < 0 {
		w--
	}
	return w
}

// weekLabel returns the ISO week of a week number, such as "2026-W10".
func weekLabel(w int64) string {
	y, n := time.Unix((w*7-3)*(nsPerDay/int64(time.Second)), 0).UTC().ISOWeek()
	return fmt.Sprintf("%04d-W%02d", y, n)
}

// add counts problem p into t.
func (f *FCR) add(t *fcrTally, p *fcrProblem) {
	t.Problems++
	v := f.verdict(p)
	switch v {
	case vUnresolved:
		t.Unresolved++
		return
	case vPending:
		t.Pending++
		if p.outcome() == vFailed {
			t.PendingFailed++
		}
		return
	case vNoContact:
		t.Final++
		t.NoContact++
		return
	}
	t.Final++
	achieved := v == vAchieved
	if achieved {
		t.Achieved++
	} else {
		t.Failed++
	}
	resolver := f.issues.at(p.resIx)
	kind := int64(0)
	if resolver.has(fBot) {
		kind = 1
		t.BotTotal++
		if p.after == 0 {
			t.BotContained++
		}
	}
	topic := f.issues.at(p.rootIx).topic
	// The resolving issue record counts in the problem's segments when
	// they are its own, as for most problems (one record, resolved on its
	// first contact): it is counted here with the problem, and skipped
	// among the records below.
	own := resolver.first.channel == p.firstCh && resolver.topic == topic && dayOf(resolver.first.at) == dayOf(p.firstAt)
	resHit := resolver.reportedFirst()
	d := fcrSeg{Achieved: 1}
	if !achieved {
		d = fcrSeg{Failed: 1}
	}
	if own {
		d.RepTotal, d.RepHits = 1, b2i(resHit)
	}
	t.count(p.firstCh, topic, resolver.agent, resolver.resQueue(), kind, p.firstAt, d)

	n := p.before + p.after
	t.PerProblem[min(n, 4)-1]++
	if n > 1 {
		// Repeat contacts: every counted contact but the first.
		f.eachCounted(p, func(_ int64, ch uint32, first bool) {
			if !first {
				t.Switch[[2]uint32{p.firstCh, ch}]++
			}
		})
	}
	if !achieved {
		r := t.Repeats[topic]
		r[0] += int64(n - 1)
		r[1]++
		t.Repeats[topic] = r
	}

	c := &t.CSAT[0]
	if !achieved {
		c = &t.CSAT[1]
	}
	answered := false
	for _, ix := range p.members {
		is := f.issues.at(ix)
		if is.csatN > 0 {
			answered = true
			c.Answers += int64(is.csatN)
			c.Sum += int64(is.csatSum)
			c.Top2 += int64(is.csatTop2)
		}
		if !is.has(fResolved) {
			continue
		}
		hit := resHit
		if ix != p.resIx {
			hit = is.reportedFirst()
		}
		t.RepTotal++
		if hit {
			t.RepHits++
		}
		if ix == p.resIx && own {
			continue // counted in its segments above
		}
		ikind := int64(0)
		if is.has(fBot) {
			ikind = 1
		}
		t.count(is.first.channel, is.topic, is.agent, is.resQueue(), ikind, is.first.at, fcrSeg{RepTotal: 1, RepHits: b2i(hit)})
	}
	if answered {
		c.Problems++
	}
}

// b2i returns 1 for true and 0 for false.
func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
