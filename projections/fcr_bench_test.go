package projections

import (
	"runtime"
	"testing"
	"time"

	"github.com/truefcr/truefcr/events"
)

// benchFCRConfig is the default configuration, but for the limit on
// events ahead of the clock: the simulated years start on 2 March 2026 and
// run past the machine's date.
var benchFCRConfig = FCRConfig{MaxFuture: -1}

// BenchmarkFCRApply measures decoded events absorbed per second, on a year
// of a contact centre delivered in time order, and delivered with up to
// ten minutes of disorder (so that some events wait for a gap).
func BenchmarkFCRApply(b *testing.B) {
	g := fcrGen{Seed: 1, Customers: 20000, Issues: 60000, Span: 365 * 24 * time.Hour, LooseKeys: true, Open: 0.01}
	inOrder := decodedInOrder(g.log())
	for _, bb := range []struct {
		name string
		evs  []events.Envelope
	}{
		{"in-order", inOrder},
		{"disorder", decodedInOrder(jitter(inOrder, 1, 10*time.Minute))},
	} {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				f := mustFCR(benchFCRConfig)
				for _, e := range bb.evs {
					if err := f.Apply(e); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(len(bb.evs))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(b.N)/float64(len(bb.evs)), "ns/event")
		})
	}
	// As a report that sequences once for all its projections calls it:
	// the in-order log, without the FCR's own sequencer; and a quiet
	// centre whose live state fits in the processor's caches.
	quiet := decodedInOrder(fcrGen{Seed: 1, Customers: 2000, Issues: 60000, Span: 20 * 365 * 24 * time.Hour, LooseKeys: true, Open: 0.001}.log())
	for _, bb := range []struct {
		name string
		evs  []events.Envelope
	}{
		{"sequenced", inOrder},
		{"sequenced-quiet", quiet},
	} {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				f := mustFCR(benchFCRConfig)
				for _, e := range bb.evs {
					if f.observe(e) {
						if err := f.applyOrdered(e); err != nil {
							b.Fatal(err)
						}
						f.maybeSweep()
					}
				}
			}
			b.ReportMetric(float64(len(bb.evs))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(b.N)/float64(len(bb.evs)), "ns/event")
		})
	}
}

// BenchmarkFCRReport measures a report over a projection with about a
// month of live problems.
func BenchmarkFCRReport(b *testing.B) {
	g := fcrGen{Seed: 2, Customers: 20000, Issues: 60000, Span: 365 * 24 * time.Hour, Open: 0.01}
	f := mustFCR(benchFCRConfig)
	for _, e := range g.log() {
		if err := f.Apply(e); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		_ = f.Report()
	}
	b.ReportMetric(float64(f.Live()), "live-issues")
}

// BenchmarkFCRSharedIdentifier is BenchmarkFCRApply's year where one
// issue in four also gives one of three shared keys (a switchboard
// number), which makes one customer of nearly all: every look at it
// chains its thousands of live issues, and whether two of them are linked
// is asked of its thousands of links.
func BenchmarkFCRSharedIdentifier(b *testing.B) {
	g := fcrGen{Seed: 1, Customers: 20000, Issues: 60000, Span: 365 * 24 * time.Hour, LooseKeys: true, Open: 0.01, Shared: 3}
	evs := decodedInOrder(g.log())
	b.ReportAllocs()
	var live int
	for b.Loop() {
		f := mustFCR(benchFCRConfig)
		for _, e := range evs {
			if err := f.Apply(e); err != nil {
				b.Fatal(err)
			}
		}
		_ = f.Report()
		live = f.Live()
	}
	b.ReportMetric(float64(len(evs))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(live), "live-issues")
}

// BenchmarkFCRMemory measures the heap held per active problem: a problem
// of one customer (a phone number and an email address), one issue
// opened, routed, resolved and rated within the window, so that nothing is
// folded.
func BenchmarkFCRMemory(b *testing.B) {
	const n = 100_000
	l := newFCRLog()
	for i := range n {
		t := day0.Add(time.Duration(i) * time.Second)
		keys := []string{"phone:+35840" + itoa7(i), "email:c" + itoa7(i) + "@example.com"}
		issue, c := l.open(t, keys, genChannels[i%len(genChannels)], genTopics[i%len(genTopics)])
		l.route(issue, t.Add(time.Second), c, genQueues[i%len(genQueues)], genAgents[i%len(genAgents)])
		l.resolve(issue, t.Add(2*time.Second), c, genAgents[i%len(genAgents)], false)
		l.rate(issue, t.Add(3*time.Second), 1+i%5)
	}
	b.ReportAllocs()
	var perProblem float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		f := mustFCR(benchFCRConfig)
		for _, e := range l.evs {
			if err := f.Apply(e); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if f.Live() != n {
			b.Fatalf("%d live issues, want %d", f.Live(), n)
		}
		perProblem = float64(after.HeapAlloc-before.HeapAlloc) / n
		runtime.KeepAlive(f)
	}
	b.ReportMetric(perProblem, "bytes/problem")
}

// itoa7 formats i with seven digits, without fmt's allocations mattering
// to the measurement (it runs before it).
func itoa7(i int) string {
	var b [7]byte
	for k := 6; k >= 0; k-- {
		b[k] = byte('0' + i%10)
		i /= 10
	}
	return string(b[:])
}

// decodedInOrder copies the data of evs in delivery order, so that they lie
// in memory as a decoder that runs just ahead of the projection leaves
// them, rather than in the order the generator made them.
func decodedInOrder(evs []events.Envelope) []events.Envelope {
	out := make([]events.Envelope, len(evs))
	for i, e := range evs {
		switch d := e.Data.(type) {
		case *events.Opened:
			c := *d
			c.Customer.Keys = append([]string(nil), d.Customer.Keys...)
			e.Data = &c
		case *events.Routed:
			c := *d
			e.Data = &c
		case *events.Resolved:
			c := *d
			e.Data = &c
		case *events.Reopened:
			c := *d
			e.Data = &c
		case *events.Contacted:
			c := *d
			e.Data = &c
		case *events.Abandoned:
			c := *d
			e.Data = &c
		case *events.Rated:
			c := *d
			e.Data = &c
		case *events.Classified:
			c := *d
			e.Data = &c
		}
		out[i] = e
	}
	return out
}
