package projections

import (
	"testing"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/internal/simulate"
)

// replayChunk is how many events the replay benchmark decodes at a time,
// untimed, before applying them: as the project's benchmark program does,
// so that the heap holds the projection and one chunk, not the log.
const replayChunk = 1 << 16

// BenchmarkFCRReplay measures decoded events absorbed per second on a
// realistic log: the project's benchmark program's contact centre at half
// its scale (half the issues a day, half the customers, a month rather
// than a quarter), some 270,000 issues of 160,000 customers with about
// 137,000 live at the end, in event-time order. Run it with -cpu 1 for the
// one-core figure; cpu-events/s counts the process's CPU time rather than
// the wall clock, which other work on the machine inflates.
func BenchmarkFCRReplay(b *testing.B) {
	log, _, err := simulate.Collect(simulate.Config{Seed: 1, Days: 30, Events: 1_330_000, Customers: 160_000})
	if err != nil {
		b.Fatal(err)
	}
	codec := events.NewMsgpackCodec(events.NewRegistry())
	var enc []byte
	ends := make([]int, len(log))
	for i, e := range log {
		if enc, err = codec.Append(enc, e); err != nil {
			b.Fatal(err)
		}
		ends[i] = len(enc)
	}
	n := len(log)
	log = nil
	chunk := make([]events.Envelope, 0, replayChunk)

	b.ReportAllocs()
	var f *FCR
	var cpu int64
	for b.Loop() {
		f = mustFCR(FCRConfig{})
		from := 0
		for lo := 0; lo < n; lo += replayChunk {
			b.StopTimer()
			chunk = chunk[:0]
			for _, end := range ends[lo:min(lo+replayChunk, n)] {
				e, err := codec.Decode(enc[from:end:end])
				if err != nil {
					b.Fatal(err)
				}
				chunk = append(chunk, e)
				from = end
			}
			start := cpuTime()
			b.StartTimer()
			for _, e := range chunk {
				if err := f.Apply(e); err != nil {
					b.Fatal(err)
				}
			}
			cpu += cpuTime() - start
		}
	}
	b.ReportMetric(float64(f.Live()), "live-issues")
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	if cpu > 0 {
		b.ReportMetric(float64(n)*float64(b.N)/(float64(cpu)/1e9), "cpu-events/s")
	}
}
