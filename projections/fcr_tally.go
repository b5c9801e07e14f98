package projections

import "time"

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

// fcrSegKey names one segment: a dimension and a value, an interned name
// or a number (day, week, agent kind).
type fcrSegKey struct {
	Dim uint8
	ID  int64
}

// fcrSeg counts true and reported FCR in one segment.
type fcrSeg struct {
	Achieved, Failed  int64
	RepHits, RepTotal int64
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
	RepHits, RepTotal                 int64
	BotTotal, BotContained            int64
	PerProblem                        [4]int64 // 1, 2, 3, 4+ counted contacts
	CSAT                              [2]fcrCSAT
	Seg                               map[fcrSegKey]fcrSeg
	Switch                            map[[2]uint32]int64 // first channel → repeat channel
	Repeats                           map[uint32][2]int64 // topic → repeat contacts, failed problems
}

func newFCRTally() fcrTally {
	return fcrTally{
		Seg:     make(map[fcrSegKey]fcrSeg),
		Switch:  make(map[[2]uint32]int64),
		Repeats: make(map[uint32][2]int64),
	}
}

func (t *fcrTally) clone() fcrTally {
	c := *t
	c.Seg = make(map[fcrSegKey]fcrSeg, len(t.Seg))
	for k, v := range t.Seg {
		c.Seg[k] = v
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

const nsPerDay = int64(24 * time.Hour)

// dayOf returns the UTC day number of a Unix ns time.
func dayOf(ns int64) int64 {
	d := ns / nsPerDay
	if ns%nsPerDay < 0 {
		d--
	}
	return d
}

// weekOf returns the ISO week of a Unix ns time as year*100 + week.
func weekOf(ns int64) int64 {
	y, w := time.Unix(0, ns).UTC().ISOWeek()
	return int64(y)*100 + int64(w)
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
	resolver := &f.issues[p.resIx]
	kind := int64(0)
	if resolver.bot {
		kind = 1
		t.BotTotal++
		if p.after == 0 {
			t.BotContained++
		}
	}
	for _, k := range [...]fcrSegKey{
		{dimChannel, int64(p.firstCh)},
		{dimTopic, int64(f.issues[p.rootIx].topic)},
		{dimAgent, int64(resolver.agent)},
		{dimQueue, int64(resolver.resQueue())},
		{dimKind, kind},
		{dimDay, dayOf(p.firstAt)},
		{dimWeek, weekOf(p.firstAt)},
	} {
		s := t.Seg[k]
		if achieved {
			s.Achieved++
		} else {
			s.Failed++
		}
		t.Seg[k] = s
	}

	n := p.before + p.after
	t.PerProblem[min(n, 4)-1]++
	f.eachCounted(p, func(_ int64, ch uint32, first bool) {
		if !first {
			t.Switch[[2]uint32{p.firstCh, ch}]++
		}
	})
	if !achieved {
		topic := f.issues[p.rootIx].topic
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
		is := &f.issues[ix]
		if is.csatN > 0 {
			answered = true
			c.Answers += int64(is.csatN)
			c.Sum += int64(is.csatSum)
			c.Top2 += int64(is.csatTop2)
		}
		if !is.resolved {
			continue
		}
		hit := is.reportedFirst()
		t.RepTotal++
		if hit {
			t.RepHits++
		}
		ikind := int64(0)
		if is.bot {
			ikind = 1
		}
		for _, k := range [...]fcrSegKey{
			{dimChannel, int64(is.first.channel)},
			{dimTopic, int64(is.topic)},
			{dimAgent, int64(is.agent)},
			{dimQueue, int64(is.resQueue())},
			{dimKind, ikind},
			{dimDay, dayOf(is.opened)},
			{dimWeek, weekOf(is.opened)},
		} {
			s := t.Seg[k]
			s.RepTotal++
			if hit {
				s.RepHits++
			}
			t.Seg[k] = s
		}
	}
	if answered {
		c.Problems++
	}
}
