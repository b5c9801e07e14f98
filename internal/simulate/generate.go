package simulate

import (
	"iter"
	"time"

	"github.com/google/uuid"

	"github.com/truefcr/truefcr/events"
)

// Generator produces the event log of one Config. Each call of Events
// replays the same log from the start. A Generator is not safe for
// concurrent use.
type Generator struct {
	cfg Config
	run *run // the latest run, for Truth
}

// New returns a Generator for cfg, with cfg's zero fields set to their
// defaults. The error wraps ErrInvalidConfig and names the wrong field.
func New(cfg Config) (*Generator, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Generator{cfg: c}, nil
}

// Config returns the configuration with its defaults filled in.
func (g *Generator) Config() Config { return g.cfg }

// End returns when the log ends: no event is at or after it.
func (g *Generator) End() time.Time {
	return g.cfg.Start.Add(time.Duration(g.cfg.Days) * 24 * time.Hour)
}

// Events returns the log: every issue's events in version order, all of
// them in non-decreasing event time, interleaved across issues as a live
// log is. It keeps only the issues in flight in memory, so a long log
// costs no more memory than a short one at the same rate.
func (g *Generator) Events() iter.Seq[events.Envelope] {
	return func(yield func(events.Envelope) bool) {
		r := newRun(g.cfg)
		g.run = r
		r.emit(yield)
	}
}

// Truth returns the counts of what the latest call of Events emitted so
// far; all of it once that call has finished.
func (g *Generator) Truth() Truth {
	if g.run == nil {
		return newTruth()
	}
	return g.run.snapshot()
}

// Collect returns the whole log of cfg in a slice, with its Truth: for
// the small logs of tests and examples.
func Collect(cfg Config) ([]events.Envelope, Truth, error) {
	g, err := New(cfg)
	if err != nil {
		return nil, Truth{}, err
	}
	var log []events.Envelope
	for e := range g.Events() {
		log = append(log, e)
	}
	return log, g.Truth(), nil
}

func newTruth() Truth {
	return Truth{
		Surveys:   make(map[events.Survey]int),
		ByChannel: make(map[string]int),
		ByTopic:   make(map[string]int),
	}
}

// step is one planned event of an issue, at ms milliseconds after Start.
type step struct {
	at   int64
	data events.Data
	tag  tag
}

// issue is one stream in flight: its planned events, or, for a repeat
// contact that is not due yet, what it will be about.
type issue struct {
	id      uuid.UUID
	steps   []step
	next    int
	version uint64
	seq     uint64

	planned  bool
	openAt   int64
	customer int
	topic    int // the topic of the customer's problem
	shown    int // the topic the issue was opened with
	channel  int
	depth    int
	openTag  tag
}

func (is *issue) due() int64 {
	if !is.planned {
		return is.openAt
	}
	return is.steps[is.next].at
}

// run is the state of one pass over the log.
type run struct {
	cfg     Config
	rng     *rng
	ids     *identity
	model   *model
	start   time.Time
	startMs int64 // start in Unix milliseconds
	end     int64 // ms after start

	queue    []slot // a min-heap by due time, then seq
	cur      *issue // the issue being planned
	free     []*issue
	seq      uint64
	arrival  int64 // when the next fresh problem arrives
	seen     []uint64
	truth    Truth
	byCh     []int           // opened issues by channel index
	byTopic  []int           // opened issues by the index of their first topic
	hourRate [7 * 24]float64 // fresh problems per ms, by hour of the week
}

func newRun(cfg Config) *run {
	r := &run{
		cfg:     cfg,
		rng:     newRNG(cfg.Seed),
		ids:     newIdentity(mix64(cfg.Seed)),
		model:   newModel(cfg),
		start:   cfg.Start,
		startMs: cfg.Start.UnixMilli(),
		end:     int64(cfg.Days) * msPerDay,
		seen:    make([]uint64, (cfg.Customers+63)/64),
		truth:   newTruth(),
		byCh:    make([]int, len(cfg.Channels)),
		byTopic: make([]int, len(cfg.Topics)),
	}
	r.hourRate = weeklyProfile(cfg.IssuesPerDay)
	r.arrival = r.nextArrival(0)
	return r
}

const msPerDay = int64(24 * time.Hour / time.Millisecond)

// weeklyProfile returns the arrival rate of every hour of the week: busy
// weekday mornings and afternoons, quiet nights and weekends, averaging
// perDay a day.
func weeklyProfile(perDay float64) [7 * 24]float64 {
	hours := [24]float64{0.15, 0.1, 0.08, 0.08, 0.1, 0.2, 0.45, 0.9, 1.4, 1.7, 1.8, 1.75,
		1.5, 1.6, 1.7, 1.6, 1.45, 1.2, 0.95, 0.8, 0.65, 0.5, 0.35, 0.22}
	days := [7]float64{1.2, 1.1, 1.05, 1.0, 0.95, 0.5, 0.45} // from Monday
	var p [7 * 24]float64
	sum := 0.0
	for d := range days {
		for h := range hours {
			p[d*24+h] = days[d] * hours[h]
			sum += p[d*24+h]
		}
	}
	for i := range p {
		p[i] *= perDay * float64(len(p)) / sum / float64(msPerDay)
	}
	return p
}

const msPerHour = int64(time.Hour / time.Millisecond)

// hourOfWeek returns the hour of the week (Monday 00:00 UTC is 0) at ms.
func (r *run) hourOfWeek(ms int64) int {
	h := (r.startMs + ms) / msPerHour
	// 1970-01-01 was a Thursday, hour 72 of its week.
	return int(((h+72)%168 + 168) % 168)
}

// nextArrival returns the time of the next fresh problem after ms: a
// Poisson process whose rate changes hour by hour.
func (r *run) nextArrival(ms int64) int64 {
	need := r.rng.r.ExpFloat64()
	for ms < r.end {
		rate := r.hourRate[r.hourOfWeek(ms)]
		hourEnd := ((r.startMs+ms)/msPerHour+1)*msPerHour - r.startMs
		left := float64(hourEnd-ms) * rate
		if need < left {
			return ms + int64(need/rate) + 1
		}
		need -= left
		ms = hourEnd
	}
	return r.end
}

// emit runs the simulation and yields events until the end or until
// yield says stop.
func (r *run) emit(yield func(events.Envelope) bool) {
	for {
		if r.arrival < r.end && (len(r.queue) == 0 || r.arrival < r.queue[0].due) {
			r.push(r.fresh(r.arrival))
			r.arrival = r.nextArrival(r.arrival)
			continue
		}
		if len(r.queue) == 0 {
			return
		}
		is := r.queue[0].is
		if !is.planned {
			r.plan(is)
		}
		s := is.steps[is.next]
		if s.at >= r.end {
			r.pop()
			r.release(is)
			continue
		}
		is.version++
		e := events.Envelope{
			ID:      r.rng.uuid(),
			Issue:   is.id,
			Version: is.version,
			At:      r.start.Add(time.Duration(s.at) * time.Millisecond),
			Data:    s.data,
		}
		r.account(e, s.tag, is)
		is.next++
		if is.next == len(is.steps) {
			r.pop()
			r.release(is)
		} else {
			r.queue[0].due = is.steps[is.next].at
			r.fix(0)
		}
		if !yield(e) {
			return
		}
	}
}

// account adds e to the truth, with the customer counts of a new issue.
func (r *run) account(e events.Envelope, tg tag, is *issue) {
	r.truth.count(e, tg)
	if e.Version != 1 {
		return
	}
	r.byCh[is.channel]++
	r.byTopic[is.shown]++
	w, bit := is.customer/64, uint64(1)<<(is.customer%64)
	if r.seen[w]&bit == 0 {
		r.seen[w] |= bit
		r.truth.Customers++
		if r.ids.kind(is.customer) == knownByTwo {
			r.truth.TwoKey++
		}
	}
}

// snapshot returns the truth so far.
func (r *run) snapshot() Truth {
	t := r.truth.clone()
	for i, n := range r.byCh {
		if n > 0 {
			t.ByChannel[r.model.chNames[i]] += n
		}
	}
	for i, n := range r.byTopic {
		if n > 0 {
			t.ByTopic[r.model.topics[i].Name] += n
		}
	}
	return t
}

// fresh returns a new problem of a random customer arriving at ms.
func (r *run) fresh(ms int64) *issue {
	is := r.alloc()
	is.openAt = ms
	is.customer = r.rng.intn(r.cfg.Customers)
	is.channel = r.rng.pick(r.model.channelCum)
	is.topic = r.rng.pick(r.model.topicCum)
	is.openTag = tagFresh
	return is
}

func (r *run) alloc() *issue {
	var is *issue
	if n := len(r.free); n > 0 {
		is = r.free[n-1]
		r.free = r.free[:n-1]
	} else {
		is = new(issue)
	}
	r.seq++
	is.seq = r.seq
	is.id = r.rng.uuid()
	return is
}

func (r *run) release(is *issue) {
	clear(is.steps) // drop the event data for the collector
	// A small pool absorbs the churn; a larger one would only keep the
	// peak of issues in flight alive for the rest of the run.
	if len(r.free) < 256 {
		*is = issue{steps: is.steps[:0]}
		r.free = append(r.free, is)
	}
}

// slot is one issue in the heap, with its due time at hand.
type slot struct {
	due int64
	seq uint64 // breaks ties, for reproducibility
	is  *issue
}

func less(a, b slot) bool {
	return a.due < b.due || a.due == b.due && a.seq < b.seq
}

// The heap of issues by due time. Hand-written rather than container/heap
// to keep interface calls off the per-event path.

func (r *run) push(is *issue) {
	r.queue = append(r.queue, slot{due: is.due(), seq: is.seq, is: is})
	i := len(r.queue) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !less(r.queue[i], r.queue[p]) {
			break
		}
		r.queue[i], r.queue[p] = r.queue[p], r.queue[i]
		i = p
	}
}

func (r *run) pop() {
	n := len(r.queue) - 1
	r.queue[0] = r.queue[n]
	r.queue[n] = slot{}
	r.queue = r.queue[:n]
	if n > 0 {
		r.fix(0)
	}
}

// fix moves the element at i down to its place.
func (r *run) fix(i int) {
	q := r.queue
	for {
		l := 2*i + 1
		if l >= len(q) {
			return
		}
		m := l
		if rt := l + 1; rt < len(q) && less(q[rt], q[l]) {
			m = rt
		}
		if !less(q[m], q[i]) {
			return
		}
		q[i], q[m] = q[m], q[i]
		i = m
	}
}
