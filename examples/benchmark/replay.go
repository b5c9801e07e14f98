package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/internal/simulate"
	"github.com/truefcr/truefcr/projections"
)

// decodedChunk is how many decoded events the projection-alone
// measurement holds at a time: the events are decoded untimed, a chunk at
// a time, and only the projection is timed.
const decodedChunk = 1 << 16

// projectionRate applies the store's log, already decoded, to an FCR with
// the default configuration on one core, and returns events per second
// of FCR.ApplyBatch alone.
func projectionRate(ctx context.Context, store *events.MemoryStore) (float64, error) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	f, err := projections.NewFCR(projections.FCRConfig{})
	if err != nil {
		return 0, err
	}
	chunk := make([]events.Envelope, 0, decodedChunk)
	var busy time.Duration
	n := 0
	apply := func() error {
		start := time.Now()
		if err := f.ApplyBatch(chunk); err != nil {
			return err
		}
		busy += time.Since(start)
		n += len(chunk)
		chunk = chunk[:0]
		return nil
	}
	for e, err := range store.ReadAll(ctx, 0) {
		if err != nil {
			return 0, err
		}
		if chunk = append(chunk, e); len(chunk) == cap(chunk) {
			if err := apply(); err != nil {
				return 0, err
			}
		}
	}
	if err := apply(); err != nil {
		return 0, err
	}
	return float64(n) / busy.Seconds(), nil
}

// replay is what one full replay measured.
type replay struct {
	eventsPerS float64
	faults     int64  // minor page faults during the run; -1 where unknown
	peakHeap   uint64 // the largest heap seen, the store's included
	live       int    // the issues the FCR holds at the end
	problems   int    // the problems they form (FCR.LiveProblems)
	backlog    int64  // the issues open at the end
	achieved   int64
	failed     int64
}

// replayStore reads the whole store, decoding every event, into a new
// Reporter with every projection of the full report, makes the report and
// returns the Reporter. It forces no collection, so that runs follow each
// other as the replays of a process that keeps running do: the first one
// after a collection finds a heap that the Go runtime has partly given
// back to the system, and pays page faults for the garbage that decoding
// makes; the next ones reuse that memory.
func replayStore(ctx context.Context, store *events.MemoryStore) (replay, *projections.Reporter, error) {
	var r replay
	rep, err := projections.NewReporter(projections.ReportConfig{})
	if err != nil {
		return r, nil, err
	}
	peak := sampleHeap()
	faults, known := pageFaults()
	start := time.Now()
	_, n, err := rep.Replay(ctx, store, 0)
	if err != nil {
		peak()
		return r, nil, err
	}
	report := rep.Report()
	r.eventsPerS = float64(n) / time.Since(start).Seconds()
	r.faults = -1
	if after, ok := pageFaults(); ok && known {
		r.faults = after - faults
	}
	r.peakHeap = peak()
	r.achieved, r.failed = report.FCR.Achieved, report.FCR.Failed
	r.backlog = report.Volume.Backlog.Open
	r.live = rep.FCR().Live()
	r.problems = rep.FCR().LiveProblems()
	return r, rep, nil
}

// streamedHeap feeds the log of cfg straight from the generator, through
// the msgpack codec, into a Reporter and returns the heap the Reporter
// holds at the end, the issues its FCR holds and the open backlog: the
// memory of a replay of a log too long to keep.
func streamedHeap(cfg simulate.Config) (heap uint64, live int, backlog int64, err error) {
	before := liveHeap()
	rep, err := projections.NewReporter(projections.ReportConfig{})
	if err != nil {
		return 0, 0, 0, err
	}
	if err := feed(cfg, rep); err != nil {
		return 0, 0, 0, err
	}
	heap = liveHeap() - min(before, liveHeap())
	live = rep.FCR().Live()
	backlog = rep.Report().Volume.Backlog.Open
	return heap, live, backlog, nil
}

// feed generates the log of cfg and applies it to p through the codec.
// The generator is gone when it returns.
func feed(cfg simulate.Config, p projections.Projection) error {
	g, err := simulate.New(cfg)
	if err != nil {
		return err
	}
	codec := events.NewMsgpackCodec(nil)
	var buf []byte
	for e := range g.Events() {
		if buf, err = codec.Append(buf[:0], e); err != nil {
			return err
		}
		d, err := codec.Decode(buf)
		if err != nil {
			return err
		}
		if err := p.Apply(d); err != nil {
			return err
		}
	}
	return nil
}

// writeHeapProfile writes the heap profile of the live objects to path.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		_ = f.Close()
		return fmt.Errorf("write heap profile: %w", err)
	}
	return f.Close()
}

// liveHeap collects garbage and returns the bytes of live heap objects.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// sampleHeap samples the heap every few milliseconds until the returned
// function is called, which returns the largest heap seen.
func sampleHeap() func() uint64 {
	const name = "/memory/classes/heap/objects:bytes"
	s := []metrics.Sample{{Name: name}}
	var peak uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > peak {
				peak = v
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		wg.Wait()
		return peak
	}
}

// measureProjection measures the FCR alone on decoded events, runs times.
func measureProjection(ctx context.Context, t table, res *Result, store *events.MemoryStore, runs int) error {
	t.section("2. FCR projection alone, decoded events, one core (GOMAXPROCS=1)")
	var rates []float64
	for range runs {
		r, err := projectionRate(ctx, store)
		if err != nil {
			return err
		}
		rates = append(rates, r)
	}
	rate := median(rates)
	res.ProjectionEventsPerS, res.ProjectionEventsPerSRuns = num(rate), rates
	t.row("FCR.ApplyBatch", si(rate, "events/s"), "≥ 5 M/s", rate >= 5e6)
	return nil
}

// measureReplay measures the full replay runs times, the events per
// second of each; the peak heap during the first run; the heap that the
// last run's projections hold; and the memory with twice the history once.
func measureReplay(ctx context.Context, t table, res *Result, store *events.MemoryStore, cfg simulate.Config, runs int, memProfile string) error {
	t.section(fmt.Sprintf("3. Full replay: MemoryStore.ReadAll, msgpack decode, Reporter (GOMAXPROCS=%d)", runtime.GOMAXPROCS(0)))
	// The heap the projections hold is that of the last run's Reporter
	// over what the heap held before the first: the other runs' Reporters
	// are garbage by then. The heap sampler's first read allocates for
	// good (some 15 KB), so it reads once before.
	sampleHeap()()
	before := liveHeap()
	var rs []replay
	var rates []float64
	var faults []int64
	var rep *projections.Reporter
	for range runs {
		r, made, err := replayStore(ctx, store)
		if err != nil {
			return err
		}
		rs, rep = append(rs, r), made
		rates = append(rates, r.eventsPerS)
		faults = append(faults, r.faults)
	}
	heap := liveHeap()
	heap -= min(before, heap)
	if memProfile != "" {
		// What the heap holds now: the store and the last Reporter.
		if err := writeHeapProfile(memProfile); err != nil {
			return err
		}
	}
	runtime.KeepAlive(rep)
	rate := median(rates)
	last := rs[len(rs)-1] // live issues are the same every run
	// The first run starts right after a collection, so that its peak is
	// not inflated by the garbage of the runs before.
	peak := float64(rs[0].peakHeap)
	res.ReplayEventsPerS, res.ReplayEventsPerSRuns = num(rate), rates
	res.PeakHeapBytes = num(peak)
	res.ProjectionHeapBytes = num(float64(heap))
	res.LiveIssues = num(float64(last.live))
	t.row("replay", si(rate, "events/s"), "≥ 2 M/s", rate >= 2e6)
	t.row("runs, in order", runRates(rates), "", false)
	if faults[0] >= 0 {
		t.row("minor page faults of each run", fmt.Sprint(faults), "", false)
	}
	t.row("peak heap, the store's included (first run)", si(peak, "B"), "", false)
	t.row("heap held by the projections", si(float64(heap), "B"), "", false)
	t.row("live issues in the FCR (FCR.Live)", fmt.Sprint(last.live), "", false)
	t.row("live problems in the FCR (FCR.LiveProblems)", fmt.Sprint(last.problems), "", false)
	t.row("open issues at the end (backlog)", fmt.Sprint(last.backlog), "", false)
	res.OpenBacklog = num(float64(last.backlog))
	res.LiveProblems = num(float64(last.problems))
	if last.live > 0 {
		per := float64(heap) / float64(last.live)
		res.BytesPerLiveIssue = num(per)
		t.row("bytes per live issue", fmt.Sprintf("%.0f B", per), "", false)
	}
	if last.problems > 0 {
		per := float64(heap) / float64(last.problems)
		res.BytesPerActiveProblem = num(per)
		t.row("bytes per active problem (live problem)", fmt.Sprintf("%.0f B", per), "≤ 300 B", per <= 300)
	}

	long := cfg
	long.Days *= 2
	long.Events *= 2
	heap2, live2, backlog2, err := streamedHeap(long)
	if err != nil {
		return err
	}
	res.ProjectionHeapBytes2x = num(float64(heap2))
	res.LiveIssues2x = num(float64(live2))
	res.OpenBacklog2x = num(float64(backlog2))
	t.row(fmt.Sprintf("heap with %d days of history (1 run)", long.Days), si(float64(heap2), "B"), "", false)
	t.row("live issues then", fmt.Sprint(live2), "", false)
	t.row("open issues then (backlog)", fmt.Sprint(backlog2), "", false)
	if heap > 0 {
		ratio := float64(heap2) / float64(heap)
		res.MemoryRatio2xHistory = num(ratio)
		t.row("memory ratio, 2× history", fmt.Sprintf("%.3f", ratio), "≤ 1.1", ratio <= 1.1)
	}
	if last.live > 0 {
		ratio := float64(live2) / float64(last.live)
		res.LiveRatio2xHistory = num(ratio)
		t.row("live issues ratio, 2× history", fmt.Sprintf("%.3f", ratio), "", false)
	}
	return nil
}

// runRates formats the rates of several runs in millions of events a
// second, in the order they ran.
func runRates(rates []float64) string {
	parts := make([]string, len(rates))
	for i, r := range rates {
		parts[i] = fmt.Sprintf("%.2f", r/1e6)
	}
	return strings.Join(parts, ", ") + " M/s"
}
