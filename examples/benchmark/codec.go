package main

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/truefcr/truefcr/events"
)

// codecSample is how many events of the log the codecs are measured on:
// enough for the mix, few enough that JSON takes a second.
const codecSample = 200_000

// codecFigures are one codec's costs per event.
type codecFigures struct {
	encodeNs, encodeAllocs, decodeNs, decodeAllocs, bytes float64
}

// sampleLog returns up to n events spread evenly over the store's log.
func sampleLog(ctx context.Context, store *events.MemoryStore, n int) ([]events.Envelope, error) {
	step := max(1, store.Len()/n)
	out := make([]events.Envelope, 0, min(n, store.Len()))
	i := 0
	for e, err := range store.ReadAll(ctx, 0) {
		if err != nil {
			return nil, err
		}
		if i%step == 0 && len(out) < n {
			out = append(out, e)
		}
		i++
	}
	return out, nil
}

// measureCodec encodes and decodes the sample once with c and returns the
// cost per event. Each timed loop starts right after a collection, as a
// Go benchmark does: the loops allocate far less than the heap's headroom
// then, and none of them pays for the heap growing into memory it never
// used (page faults and zeroing: a loop that did measured up to five
// times as long). The collection of the loop's own garbage comes later,
// and is not counted.
func measureCodec(c events.Codec, sample []events.Envelope) (codecFigures, error) {
	var f codecFigures
	n := float64(len(sample))
	if n == 0 {
		return f, fmt.Errorf("measure codec %s: no events", c.Name())
	}
	var buf []byte
	var size int
	runtime.GC()
	allocs := mallocs()
	start := time.Now()
	for _, e := range sample {
		var err error
		if buf, err = c.Append(buf[:0], e); err != nil {
			return f, fmt.Errorf("measure codec %s: encode issue %s version %d: %w", c.Name(), e.Issue, e.Version, err)
		}
		size += len(buf)
	}
	f.encodeNs = float64(time.Since(start).Nanoseconds()) / n
	f.encodeAllocs = float64(mallocs()-allocs) / n
	f.bytes = float64(size) / n

	// Encoded back to back, as a store or a log file holds them.
	all := make([]byte, 0, size)
	ends := make([]int, len(sample))
	for i, e := range sample {
		all, _ = c.Append(all, e)
		ends[i] = len(all)
	}
	runtime.GC()
	allocs = mallocs()
	start = time.Now()
	from := 0
	for i, end := range ends {
		if _, err := c.Decode(all[from:end:end]); err != nil {
			return f, fmt.Errorf("measure codec %s: decode event %d of the sample: %w", c.Name(), i, err)
		}
		from = end
	}
	f.decodeNs = float64(time.Since(start).Nanoseconds()) / n
	f.decodeAllocs = float64(mallocs()-allocs) / n
	return f, nil
}

// mallocs returns how many heap objects were allocated so far.
func mallocs() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.Mallocs
}

// measureCodecs measures both codecs runs times over a sample of the log
// and keeps the median of each figure.
func measureCodecs(ctx context.Context, t table, res *Result, store *events.MemoryStore, runs int) error {
	t.section(fmt.Sprintf("1. Codecs, per event, over %d events spread over the log", min(codecSample, store.Len())))
	sample, err := sampleLog(ctx, store, codecSample)
	if err != nil {
		return err
	}
	reg := events.NewRegistry()
	for _, c := range []events.Codec{events.NewMsgpackCodec(reg), events.NewJSONCodec(reg)} {
		var enc, encA, dec, decA, size []float64
		for range runs {
			f, err := measureCodec(c, sample)
			if err != nil {
				return err
			}
			enc, encA, dec, decA, size = append(enc, f.encodeNs), append(encA, f.encodeAllocs),
				append(dec, f.decodeNs), append(decA, f.decodeAllocs), append(size, f.bytes)
		}
		f := codecFigures{median(enc), median(encA), median(dec), median(decA), median(size)}
		switch c.Name() {
		case "msgpack":
			res.CodecMsgpackEncodeNs, res.CodecMsgpackEncodeAllocs = num(f.encodeNs), num(f.encodeAllocs)
			res.CodecMsgpackDecodeNs, res.CodecMsgpackDecodeAllocs = num(f.decodeNs), num(f.decodeAllocs)
			res.CodecMsgpackBytes = num(f.bytes)
			t.row("msgpack encode", fmt.Sprintf("%.0f ns %.2f allocs", f.encodeNs, f.encodeAllocs), "", false)
			t.row("msgpack decode", fmt.Sprintf("%.0f ns %.2f allocs", f.decodeNs, f.decodeAllocs),
				"≤ 300 ns, ≤ 2 allocs", f.decodeNs <= 300 && f.decodeAllocs <= 2)
		case "json":
			res.CodecJSONEncodeNs, res.CodecJSONEncodeAllocs = num(f.encodeNs), num(f.encodeAllocs)
			res.CodecJSONDecodeNs, res.CodecJSONDecodeAllocs = num(f.decodeNs), num(f.decodeAllocs)
			res.CodecJSONBytes = num(f.bytes)
			t.row("json encode", fmt.Sprintf("%.0f ns %.2f allocs", f.encodeNs, f.encodeAllocs), "", false)
			t.row("json decode", fmt.Sprintf("%.0f ns %.2f allocs", f.decodeNs, f.decodeAllocs), "", false)
		}
		t.row(c.Name()+" size", fmt.Sprintf("%.0f bytes", f.bytes), "", false)
	}
	return nil
}
