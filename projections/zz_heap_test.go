package projections

import (
	"os"
	"runtime"
	"runtime/pprof"
	"testing"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/internal/simulate"
)

func TestZZHeap(t *testing.T) {
	if os.Getenv("ZZHEAP") == "" {
		t.Skip()
	}
	runtime.MemProfileRate = 64
	n := 2000000
	g, err := simulate.New(simulate.Config{Seed: 1, Days: 90, Events: n, Customers: n / 25})
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	var m0 runtime.MemStats
	runtime.ReadMemStats(&m0)
	rep, err := NewReporter(ReportConfig{})
	if err != nil {
		t.Fatal(err)
	}
	codec := events.NewMsgpackCodec(nil)
	var buf []byte
	for e := range g.Events() {
		buf, _ = codec.Append(buf[:0], e)
		d, err := codec.Decode(buf)
		if err != nil {
			t.Fatal(err)
		}
		if err := rep.Apply(d); err != nil {
			t.Fatal(err)
		}
	}
	g = nil
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	f, _ := os.Create("/tmp/prof/heap.pprof")
	pprof.Lookup("heap").WriteTo(f, 0)
	f.Close()
	t.Logf("heap %d (delta %d) live %d problems %d", m.HeapAlloc, m.HeapAlloc-m0.HeapAlloc, rep.FCR().Live(), rep.FCR().LiveProblems())
	runtime.KeepAlive(rep)
}
