package projections

import (
	"fmt"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/internal/simulate"
)

func TestZZMemBreakdown(t *testing.T) {
	g, err := simulate.New(simulate.Config{Seed: 1, Days: 90, Events: 2000000, Customers: 80000})
	if err != nil {
		t.Fatal(err)
	}
	var all []events.Envelope
	for e := range g.Events() {
		all = append(all, e)
	}
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	r, _ := NewReporter(ReportConfig{})
	for i := 0; i < len(all); i += 4096 {
		if err := r.ApplyBatch(all[i:min(i+4096, len(all))]); err != nil {
			t.Fatal(err)
		}
	}
	r.Report()
	runtime.GC()
	runtime.ReadMemStats(&m1)
	f := r.fcr
	fmt.Printf("heap held %d; live %d problems %d\n", m1.HeapAlloc-m0.HeapAlloc, f.Live(), f.LiveProblems())
	fmt.Printf("fcrIssue %d B; slab n %d pages %d = %d B\n", unsafe.Sizeof(fcrIssue{}), f.issues.n, len(f.issues.pages), len(f.issues.pages)*slabPage*int(unsafe.Sizeof(fcrIssue{})))
	more, moreN := 0, 0
	for ix := int32(0); ix < f.issues.n; ix++ {
		is := f.issues.at(ix)
		if is.has(fLive) && is.more != nil {
			more++
			moreN += cap(*is.more)
		}
	}
	fmt.Printf("more: %d issues, %d recs cap (rec %d B)\n", more, moreN, unsafe.Sizeof(fcrRec{}))
	fmt.Printf("byID slots %d n %d; ids nodes len %d cap %d (node %d B) free %d byHash slots %d n %d links %d cap %d\n",
		len(f.byID.slots), f.byID.n, len(f.ids.nodes), cap(f.ids.nodes), unsafe.Sizeof(identNode{}), len(f.ids.free), len(f.ids.byHash.slots), f.ids.byHash.n, len(f.ids.links), cap(f.ids.links))
	k := r.kpi
	fmt.Printf("kpi streams %d slots %d pages %d free %d index slots %d gapped %d due %d early %d\n", k.seq.Streams(), k.seq.slots, len(k.seq.pages), len(k.seq.free), len(k.seq.index.slots), len(k.seq.gapped), cap(k.due), cap(k.early))
	open, withMore, moreC := 0, 0, 0
	for p := range k.seq.pages {
		for i := range k.seq.pages[p] {
			s := &k.seq.pages[p][i]
			if s.stale || s.id == [16]byte{} {
				continue
			}
			if s.open {
				open++
			}
			if s.state.more != nil {
				withMore++
				moreC += cap(s.state.more.contacts)
			}
		}
	}
	fmt.Printf("kpi open %d withMore %d more contacts %d\n", open, withMore, moreC)
	dueN := 0
	for _, b := range f.due {
		dueN += cap(*b)
	}
	fmt.Printf("due buckets %d entries cap %d seq %d recIx %d skipped %d gaps %d\n", len(f.due), dueN, f.seq.Streams(), len(f.recIx), len(f.skipped), f.gaps.Len())
	fmt.Printf("kpi names %d fcr names %d\n", len(r.names.names), len(f.names.names))
	runtime.KeepAlive(all)
}

var zzLog []events.Envelope

func zzLoad(b *testing.B) []events.Envelope {
	if zzLog == nil {
		g, err := simulate.New(simulate.Config{Seed: 1, Days: 90, Events: 2000000, Customers: 80000})
		if err != nil {
			b.Fatal(err)
		}
		for e := range g.Events() {
			zzLog = append(zzLog, e)
		}
	}
	return zzLog
}

func BenchmarkZZKPI(b *testing.B) {
	log := zzLoad(b)
	var busy time.Duration
	n := 0
	for b.Loop() {
		r, _ := NewReporter(ReportConfig{})
		for i := 0; i < len(log); i += 4096 {
			part := log[i:min(i+4096, len(log))]
			start := time.Now()
			r.offerKPIs(part)
			busy += time.Since(start)
		}
		n += len(log)
	}
	b.ReportMetric(float64(busy.Nanoseconds())/float64(n), "kpi-ns/event")
}
