package projections

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/truefcr/truefcr/events"
)

// fcrGen describes a random log of a contact centre for property tests
// and benchmarks.
type fcrGen struct {
	Seed      uint64
	Customers int
	Issues    int           // issues opened in all
	Span      time.Duration // issues open over this span from day0
	// LooseKeys makes each issue carry a random subset of its customer's
	// keys, so that identities get linked at random moments.
	LooseKeys bool
	// Open is the share of issues left open; 0 means 0.1.
	Open float64
	// Shared, when above 0, makes about one issue in four carry one of
	// that many shared keys too (a company's switchboard number), first
	// or last, which links the customers who give it into one.
	Shared int
	// Rough adds what a tidy log lacks: steps at the same minute, follow-ups
	// abandoned in the queue (some resolved on), and issues that the
	// helpdesk closes on their only contact, abandoned.
	Rough bool
}

var (
	genChannels = []string{"phone", "chat", "email", "web", "social", "bot"}
	genTopics   = []string{"billing/invoice-error", "billing/refund", "billing/plan", "tech/wifi", "tech/tv", "orders/late", "account/address"}
	genQueues   = []string{"billing", "tech", "orders", "general"}
	genAgents   = []string{"ann", "bob", "cid", "dee", "eve", "fay"}
)

// log returns the events of the generated contact centre, each issue's
// events in version order, the whole log sorted by event time.
func (g fcrGen) log() []events.Envelope {
	rng := rand.New(rand.NewPCG(g.Seed, 0x5eed))
	l := newFCRLog()
	l.n = g.Seed << 32
	keys := make([][]string, g.Customers)
	for c := range keys {
		keys[c] = []string{fmt.Sprintf("phone:+3584%07d", c)}
		if rng.IntN(2) == 0 {
			keys[c] = append(keys[c], fmt.Sprintf("email:c%d@example.com", c))
		}
	}
	minute := int64(time.Minute)
	for range g.Issues {
		c := rng.IntN(g.Customers)
		ks := keys[c]
		if g.LooseKeys && len(ks) > 1 {
			switch rng.IntN(3) {
			case 0:
				ks = ks[:1]
			case 1:
				ks = ks[1:]
			}
		}
		if g.Shared > 0 && rng.IntN(4) == 0 {
			shared := fmt.Sprintf("phone:+358100%04d", rng.IntN(g.Shared))
			if rng.IntN(2) == 0 {
				ks = append([]string{shared}, ks...)
			} else {
				ks = append(slices.Clip(ks), shared)
			}
		}
		t := day0.Add(time.Duration(rng.Int64N(int64(g.Span)/minute) * minute))
		step := func(maxMinutes int64) time.Time {
			d := 1 + rng.Int64N(maxMinutes)
			if g.Rough && rng.IntN(4) == 0 {
				d = 0
			}
			t = t.Add(time.Duration(d) * time.Minute)
			return t
		}
		topic := genTopics[rng.IntN(len(genTopics))]
		issue, contact := l.open(t, ks, genChannels[rng.IntN(len(genChannels))], topic)
		if g.Rough && rng.IntN(10) == 0 {
			l.abandon(issue, step(5), contact)
			l.resolve(issue, step(3*24*60), contact, "", false)
			continue
		}
		if rng.IntN(6) == 0 {
			l.abandon(issue, step(5), contact)
			contact = l.contacted(issue, step(60), genChannels[rng.IntN(len(genChannels))])
		}
		l.route(issue, step(3), contact, genQueues[rng.IntN(len(genQueues))], genAgents[rng.IntN(len(genAgents))])
		if rng.IntN(5) == 0 {
			l.route(issue, step(3), contact, genQueues[rng.IntN(len(genQueues))], genAgents[rng.IntN(len(genAgents))])
		}
		if rng.IntN(8) == 0 {
			l.classify(issue, step(10), genTopics[rng.IntN(len(genTopics))])
		}
		if rng.IntN(6) == 0 {
			c := l.contacted(issue, step(24*60), genChannels[rng.IntN(len(genChannels))])
			if g.Rough && rng.IntN(3) == 0 {
				// Resolved on the answered contact, or on the abandoned
				// one, which is no counted contact.
				l.abandon(issue, step(5), c)
				if rng.IntN(2) == 0 {
					contact = c
				}
			} else {
				contact = c
			}
		}
		if rng.Float64() < cmp.Or(g.Open, 0.1) {
			continue // left open
		}
		bot := rng.IntN(6) == 0
		agent := genAgents[rng.IntN(len(genAgents))]
		if bot {
			agent = ""
		}
		l.resolve(issue, step(30), contact, agent, bot)
		if rng.IntN(3) == 0 {
			l.rate(issue, step(60), 1+rng.IntN(5))
		}
		if rng.IntN(8) == 0 {
			c := l.reopen(issue, step(3*24*60), genChannels[rng.IntN(len(genChannels))])
			l.resolve(issue, step(60), c, genAgents[rng.IntN(len(genAgents))], false)
		}
	}
	slices.SortStableFunc(l.evs, func(a, b events.Envelope) int { return a.At.Compare(b.At) })
	return l.evs
}

// scramble returns evs shuffled, with about dupShare of them delivered
// once more, up to 3 times each.
func scramble(evs []events.Envelope, seed uint64, dupShare float64) []events.Envelope {
	rng := rand.New(rand.NewPCG(seed, 0xd0b1e))
	out := append([]events.Envelope(nil), evs...)
	for _, e := range evs {
		if rng.Float64() < dupShare {
			for range 1 + rng.IntN(3) {
				out = append(out, e)
			}
		}
	}
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// jitter returns evs in the order they arrive when each is delayed by a
// random time below maxDelay: events of one issue may swap too.
func jitter(evs []events.Envelope, seed uint64, maxDelay time.Duration) []events.Envelope {
	rng := rand.New(rand.NewPCG(seed, 0x717))
	type arrival struct {
		at time.Time
		e  events.Envelope
	}
	as := make([]arrival, len(evs))
	for i, e := range evs {
		as[i] = arrival{e.At.Add(time.Duration(rng.Int64N(int64(maxDelay)))), e}
	}
	slices.SortStableFunc(as, func(a, b arrival) int { return a.at.Compare(b.at) })
	out := make([]events.Envelope, len(as))
	for i, a := range as {
		out[i] = a.e
	}
	return out
}
