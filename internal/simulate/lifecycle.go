package simulate

import (
	"math"
	"slices"

	"github.com/google/uuid"

	"github.com/truefcr/truefcr/events"
)

// outcome is how one inbound contact went.
type outcome struct {
	end      int64 // when the contact ended
	answered bool
	bot      bool    // a bot took it and kept it
	agent    string  // the agent who had it last
	wait     float64 // queue wait, seconds
	handle   float64 // handle time, seconds
	resolve  float64 // chance that it resolves the issue
}

func (r *run) add(at int64, d events.Data, tg tag) {
	r.cur.steps = append(r.cur.steps, step{at: at, data: d, tag: tg})
}

// plan draws the whole life of issue is, from its first contact on, as a
// list of steps in time order.
func (r *run) plan(is *issue) {
	g, m := r.rng, r.model
	r.cur = is
	is.planned = true
	ch := is.channel

	// A share of issues is filed under the wrong topic at first and
	// classified again after the contact.
	shown, misfiled := is.topic, false
	if g.chance(0.08) {
		if shown = g.pick(m.topicCum); shown != is.topic {
			misfiled = true
		}
	}
	is.shown = shown
	c := g.uuid()
	r.add(is.openAt, &events.Opened{
		Customer: events.Customer{Keys: r.ids.keys(g, is.customer, m.chNames[ch])},
		Channel:  m.chNames[ch],
		Topic:    m.topics[shown].Name,
		Contact:  c,
	}, is.openTag)
	res := r.contact(is, is.openAt, ch, c)
	// A customer who gave up in the queue may try again on the same issue.
	for try := 0; !res.answered && try < 3 && g.chance(0.6); try++ {
		t := res.end + ms(g.exp(1200))
		c = g.uuid()
		r.add(t, &events.Contacted{Contact: c, Channel: m.chNames[ch]}, tagRetry)
		res = r.contact(is, t, ch, c)
	}
	if !res.answered {
		r.finish(is)
		return
	}
	first := res
	answered := 1
	// Misfiled issues are corrected; a few more get a secondary topic.
	secondary := -1
	if !misfiled && g.chance(0.04) {
		if secondary = g.pick(m.topicCum); secondary == is.topic {
			secondary = -1
		}
	}
	if misfiled || secondary >= 0 {
		cl := &events.Classified{Topic: m.topics[is.topic].Name}
		if secondary >= 0 {
			cl.Topics = []string{m.topics[secondary].Name}
		}
		r.add(res.end+ms(g.lognormal(600, 1)), cl, 0)
	}

	resolvedAt, resolver := int64(-1), res
	resolve := func(o outcome, at int64, code string) {
		d := &events.Resolved{Contact: c, Agent: o.agent, Code: code, Handle: dur(o.handle)}
		if o.bot {
			d.Agent, d.Bot = "bot-1", true
		}
		tg := tag(0)
		if answered == 1 {
			tg = tagFirstContact
		}
		r.add(at, d, tg)
		resolvedAt, resolver = at, o
	}

	if g.chance(res.resolve) {
		resolve(res, res.end, "fixed")
	} else {
		switch u := g.float(); {
		case u < 0.45: // the customer chases the open issue
			t := res.end + ms(g.lognormal(18*3600, 0.9))
			next := ch
			if g.chance(0.3) {
				next = g.pick(m.channelCum)
			}
			c = g.uuid()
			r.add(t, &events.Contacted{Contact: c, Channel: m.chNames[next]}, 0)
			if res = r.contact(is, t, next, c); res.answered {
				answered++
				if g.chance(0.85) {
					resolve(res, res.end, "fixed")
				}
			}
		case u < 0.7: // the customer tries another channel: a new issue
			back := res.end + ms(g.lognormal(6*3600, 1))
			r.spawn(is, back, m.switchChannel(g, ch), tagRepeat)
			if g.chance(0.6) {
				resolve(res, back+ms(g.lognormal(1.5*86400, 0.8)), "back-office")
			}
		default: // solved in the back office, without another contact
			resolve(res, res.end+ms(g.lognormal(6*3600, 0.8)), "back-office")
		}
	}
	if resolvedAt < 0 {
		r.finish(is)
		return
	}

	// Whether the resolution holds depends on topic, channel and how far
	// down a chain of repeats the issue is.
	failP := m.topics[is.topic].Repeat * m.channels[ch].fail * math.Pow(0.6, float64(is.depth))
	if resolver.bot {
		failP += 0.15
	}
	fails := g.chance(min(0.9, failP))
	if g.chance(0.3) {
		r.survey(resolvedAt, c, answered == 1 && !fails, first.wait)
	}
	if !fails {
		r.finish(is)
		return
	}
	// Most come back within days, some weeks later.
	var d float64
	if g.chance(0.75) {
		d = g.lognormal(20*3600, 1)
	} else {
		d = g.float() * 21 * 86400
	}
	back := resolvedAt + ms(d)
	if !resolver.bot && g.chance(0.35) {
		next := ch
		if g.chance(0.4) {
			next = m.switchChannel(g, ch)
		}
		c = g.uuid()
		r.add(back, &events.Reopened{Contact: c, Channel: m.chNames[next], Reason: "not fixed"}, 0)
		if res = r.contact(is, back, next, c); res.answered {
			answered++
			if g.chance(0.9) {
				resolve(res, res.end, "fixed")
			}
		}
	} else {
		tg := tagRepeat
		if back-resolvedAt >= m.window {
			tg = tagLateRepeat
		}
		next := m.switchChannel(g, ch)
		if resolver.bot {
			tg |= tagContainment
			if m.phone >= 0 && g.chance(0.7) {
				next = m.phone
			}
		}
		r.spawn(is, back, next, tg)
	}
	r.finish(is)
}

// contact plays one inbound contact c on channel ch arriving at t, whose
// arriving step was just added.
func (r *run) contact(is *issue, t int64, ch int, c uuid.UUID) outcome {
	g, m := r.rng, r.model
	cm := m.channels[ch]
	switch {
	case cm.bot:
		r.cur.steps[len(r.cur.steps)-1].tag |= tagAnswered
		h := g.lognormal(cm.handle, 0.5)
		end := t + ms(h)
		if g.chance(cm.resolve) {
			return outcome{end: end, answered: true, bot: true, handle: h, resolve: 1}
		}
		// The bot hands over to a human in the chat queue.
		w := min(1800, g.lognormal(m.chat.wait, m.chat.waitSig)*r.load(end))
		o := outcome{answered: true, agent: m.agent(g, is.topic), wait: w, resolve: m.chat.resolve}
		r.add(end+ms(w), &events.Routed{Contact: c, Queue: m.queue[is.topic], Agent: o.agent,
			Skills: m.skills[is.topic][ch], Wait: dur(w)}, tagQueued)
		o.end, o.handle = r.work(is, end+ms(w), c, &o.agent, m.chat.handle)
		return o
	case cm.queue:
		w := min(1800, g.lognormal(cm.wait, cm.waitSig)*r.load(t))
		// Patience runs out more often the longer the wait.
		if p := g.exp(cm.patience); p < w {
			r.add(t+ms(p), &events.Abandoned{Contact: c, Wait: dur(p)}, 0)
			return outcome{end: t + ms(p)}
		}
		o := outcome{answered: true, agent: m.agent(g, is.topic), wait: w, resolve: cm.resolve}
		r.add(t+ms(w), &events.Routed{Contact: c, Queue: m.queue[is.topic], Agent: o.agent,
			Skills: m.skills[is.topic][ch], Wait: dur(w)}, tagAnswered|tagQueued)
		o.end, o.handle = r.work(is, t+ms(w), c, &o.agent, cm.handle)
		return o
	}
	at := t + ms(g.lognormal(cm.pickup, 1))
	o := outcome{answered: true, agent: m.agent(g, is.topic), resolve: cm.resolve}
	r.add(at, &events.Routed{Contact: c, Queue: m.queue[is.topic], Agent: o.agent,
		Skills: m.skills[is.topic][ch]}, tagAnswered)
	o.end, o.handle = r.work(is, at, c, &o.agent, cm.handle)
	return o
}

// work plays an answered contact from t: a transfer, a consultation, the
// handling. It returns when the contact ended and its handle time.
func (r *run) work(is *issue, t int64, c uuid.UUID, agent *string, median float64) (int64, float64) {
	g, m := r.rng, r.model
	h := g.lognormal(median, 0.6)
	if g.chance(0.08) {
		t += ms(g.float()*h*0.3 + 20)
		w := g.lognormal(20, 0.8)
		t += ms(w)
		*agent = m.agent(g, is.topic)
		r.add(t, &events.Routed{Contact: c, Queue: m.tier2[is.topic], Agent: *agent, Wait: dur(w)}, tagTransfer)
	}
	if g.chance(0.07) {
		d := g.lognormal(120, 0.6)
		t += ms(g.float() * h * 0.5)
		r.add(t, &events.Consulted{Contact: c, Agent: *agent, Expert: m.experts[g.intn(len(m.experts))], Duration: dur(d)}, 0)
		h += d
	}
	return t + ms(h), h
}

// survey adds a survey answer after a resolution at t. Scores follow a
// latent satisfaction that is lower when the problem was not solved first
// time and when the customer waited long (comments start at 90 s,
// annoyance at 180 s).
func (r *run) survey(t int64, c uuid.UUID, success bool, wait float64) {
	g := r.rng
	s := 2.5
	if success {
		s = 4.1
	}
	switch {
	case wait > 180:
		s -= 0.9
	case wait > 90:
		s -= 0.4
	}
	s += 0.8 * g.r.NormFloat64()
	d := &events.Rated{Contact: c}
	switch u := g.float(); {
	case u < 0.6:
		d.Survey, d.Score = events.SurveyCSAT, clamp(s, 1, 5)
	case u < 0.85:
		d.Survey, d.Score = events.SurveyNPS, clamp((s-1)*2.5+0.7*g.r.NormFloat64(), 0, 10)
	default:
		d.Survey, d.Score = events.SurveyCES, clamp(1+(s-1)*1.5, 1, 7)
	}
	r.add(t+ms(g.lognormal(2*3600, 1)), d, 0)
}

func clamp(v float64, lo, hi int) int {
	return min(hi, max(lo, int(math.Round(v))))
}

// load is how busy the centre is at ms relative to its average: queues
// are longer at busy hours.
func (r *run) load(ms int64) float64 {
	return 0.5 + 0.5*r.model.hourWeight[r.hourOfWeek(ms)]
}

// spawn schedules a new issue of from's customer and topic at t, unless
// that is after the end of the log.
func (r *run) spawn(from *issue, t int64, ch int, tg tag) {
	if t >= r.end {
		return
	}
	n := r.alloc()
	n.openAt, n.customer, n.topic, n.channel = t, from.customer, from.topic, ch
	n.depth, n.openTag = from.depth+1, tg
	r.push(n)
}

// finish puts the steps of is in time order: surveys and classifications
// were added out of turn. The order of equal times is kept.
//
// An issue that ends open is resolved by the helpdesk AutoClose after its
// last step, with code "auto-closed": on its last answered contact since
// its latest reopen, or on its last contact when the customer gave up in
// the queue every time since.
func (r *run) finish(is *issue) {
	s := is.steps
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j].at < s[j-1].at; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	if r.model.autoClose < 0 || len(s) == 0 {
		return
	}
	open, last := false, uuid.Nil
	var contacts, abandoned []uuid.UUID
	for _, st := range s {
		switch d := st.data.(type) {
		case *events.Opened:
			open, contacts = true, append(contacts, d.Contact)
		case *events.Contacted:
			open, contacts = true, append(contacts, d.Contact)
		case *events.Reopened:
			// The resolution it undid ended the contacts before it.
			open, contacts = true, append(contacts[:0], d.Contact)
		case *events.Abandoned:
			abandoned = append(abandoned, d.Contact)
		case *events.Resolved:
			open = false
		}
	}
	for _, c := range slices.Backward(contacts) {
		if !slices.Contains(abandoned, c) {
			last = c
			break
		}
	}
	if last == uuid.Nil && len(contacts) > 0 {
		last = contacts[len(contacts)-1]
	}
	if open && last != uuid.Nil {
		is.steps = append(s, step{at: s[len(s)-1].at + r.model.autoClose,
			data: &events.Resolved{Contact: last, Code: "auto-closed"}, tag: tagAutoClose})
	}
}
