package projections

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

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
