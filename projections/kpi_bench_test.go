package projections

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/internal/simulate"
)

// BenchmarkReporterKPI measures the KPI part of the Reporter: the one
// horizon that sequences and tracks each issue for service level,
// satisfaction and volume, on the simulated month of BenchmarkReporter.
// As in the Reporter, each event is validated before the horizon sees
// it, a few hundred at a time, so that its data is in cache as it is in a
// replay that decodes and applies; "validate" is that step alone, to be
// subtracted. cpu-ns/event counts the process's CPU time, which other
// work on the machine inflates less than the wall clock.
func BenchmarkReporterKPI(b *testing.B) {
	log, _, err := simulate.Collect(simulate.Config{Seed: 1, Days: 30, Customers: 20000, IssuesPerDay: 2000})
	require.NoError(b, err)
	const chunk = 256
	run := func(b *testing.B, offer bool) {
		b.ReportAllocs()
		n := 0
		start := cpuTime()
		for b.Loop() {
			r, err := NewReporter(ReportConfig{})
			if err != nil {
				b.Fatal(err)
			}
			for i := 0; i < len(log); i += chunk {
				part := log[i:min(i+chunk, len(log))]
				for _, e := range part {
					if err := e.Validate(); err != nil {
						b.Fatal(err)
					}
				}
				if offer {
					for i := range part {
						r.kpi.offer(&part[i])
					}
				}
			}
			n++
		}
		if cpu := cpuTime() - start; cpu > 0 {
			b.ReportMetric(float64(cpu)/float64(n*len(log)), "cpu-ns/event")
		}
		b.ReportMetric(float64(n*len(log))/b.Elapsed().Seconds(), "events/s")
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*len(log)), "ns/event")
		b.ReportMetric(float64(len(log)), "events/op")
	}
	b.Run("validate", func(b *testing.B) { run(b, false) })
	b.Run("validate+offer", func(b *testing.B) { run(b, true) })
}

// BenchmarkReporterLongThread applies one issue of 10,000 contacts, each
// routed right after it came (a long email thread): time an event should
// not grow with the contacts the issue has.
func BenchmarkReporterLongThread(b *testing.B) {
	l := newFCRLog()
	issue, c := l.open(day0, []string{"email:anna@example.com"}, "email", "billing")
	l.route(issue, day0.Add(time.Second), c, "billing", "ann")
	for i := range 10_000 {
		t := day0.Add(time.Duration(i+2) * time.Minute)
		l.route(issue, t.Add(time.Second), l.contacted(issue, t, "email"), "billing", "ann")
	}
	b.ReportAllocs()
	for b.Loop() {
		r, err := NewReporter(ReportConfig{})
		if err != nil {
			b.Fatal(err)
		}
		if err := r.ApplyBatch(l.evs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(l.evs)), "ns/event")
}

// BenchmarkReporterNewestFirst: one issue of n events delivered newest
// first, as an export sorted that way feeds them: time an event should not
// grow with n (it grew as n before the held events kept room in front:
// 160 µs an event at n = 40,000).
func BenchmarkReporterNewestFirst(b *testing.B) {
	for _, n := range []int{1000, 40000} {
		evs := newestFirst(n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				r, err := NewReporter(ReportConfig{})
				if err != nil {
					b.Fatal(err)
				}
				for _, e := range evs {
					if err := r.Apply(e); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(b.N)/float64(n), "ns/event")
		})
	}
}

// newestFirst is one issue of n events, a routing a second, newest first.
func newestFirst(n int) []events.Envelope {
	l := newFCRLog()
	issue, c := l.open(day0, []string{"phone:+358401234567"}, "chat", "billing")
	for i := range n - 1 {
		l.route(issue, day0.Add(time.Duration(i+1)*time.Second), c, "q", "ann")
	}
	slices.Reverse(l.evs)
	return l.evs
}

// An issue delivered newest first gives the report of the same issue in
// order, in every projection.
func TestReporterNewestFirst(t *testing.T) {
	evs := newestFirst(300)
	inOrder := slices.Clone(evs)
	slices.Reverse(inOrder)
	report := func(evs []events.Envelope) Report {
		r, err := NewReporter(ReportConfig{})
		require.NoError(t, err)
		for _, e := range evs {
			require.NoError(t, r.Apply(e))
		}
		return r.Report()
	}
	want, got := report(inOrder), report(evs)
	require.Equal(t, [2]int64{1, 1}, [2]int64{want.Service.Answered, want.Service.Transfer.Hits}, "one contact, routed again and again")
	assert.Zero(t, got.FCR.HeldEvents)
	assert.Equal(t, want, got)
}
