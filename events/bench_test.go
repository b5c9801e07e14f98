package events_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
)

// benchMix returns the events of n issues as a contact centre records
// them: most issues opened by phone or chat with two identity keys,
// routed, resolved and rated; some with a consultation, an abandoned
// attempt, a follow-up or a reopen.
func benchMix(n int) []events.Envelope {
	at := time.Date(2026, 3, 2, 9, 15, 0, 0, time.UTC)
	var out []events.Envelope
	for i := range n {
		issue := uuid.New()
		contact := uuid.New()
		var datas []events.Data
		if i%5 == 0 {
			datas = append(datas, &events.Abandoned{Contact: uuid.New(), Wait: 95 * time.Second})
		}
		datas = append(datas,
			&events.Opened{
				Customer: events.Customer{Keys: []string{fmt.Sprintf("phone:+35840%07d", i), fmt.Sprintf("email:customer%d@example.com", i)}},
				Channel:  []string{"phone", "chat", "email"}[i%3], Topic: "billing/invoice-error", Contact: contact,
			},
			&events.Routed{Contact: contact, Queue: "billing", Agent: "agent-17", Skills: []string{"billing", "fi"}, Wait: 42 * time.Second},
		)
		if i%4 == 0 {
			datas = append(datas, &events.Consulted{Contact: contact, Agent: "agent-17", Expert: "expert-3", Duration: 2 * time.Minute})
		}
		if i%6 == 0 {
			datas = append(datas, &events.Contacted{Contact: uuid.New(), Channel: "email"})
		}
		datas = append(datas, &events.Resolved{Contact: contact, Agent: "agent-17", Code: "credit-note", Handle: 6 * time.Minute})
		if i%7 == 0 {
			datas = append(datas, &events.Reopened{Contact: uuid.New(), Channel: "phone", Reason: "still wrong"})
		}
		if i%2 == 0 {
			datas = append(datas, &events.Rated{Survey: events.SurveyCSAT, Score: 4, Contact: contact})
		}
		if i%8 == 0 {
			datas = append(datas, &events.Classified{Topic: "billing/refund"})
		}
		for v, d := range datas {
			at = at.Add(17 * time.Second)
			out = append(out, events.Envelope{
				ID: uuid.New(), Issue: issue, Version: uint64(v + 1), At: at, Data: d,
				Meta: events.Meta{events.MetaCorrelationID: contact.String()},
			})
		}
	}
	return out
}

var benchCodecs = []struct {
	name  string
	codec events.Codec
}{
	{"msgpack", events.NewMsgpackCodec(nil)},
	{"json", events.NewJSONCodec(nil)},
}

func BenchmarkEncode(b *testing.B) {
	mix := benchMix(200)
	for _, c := range benchCodecs {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			var buf []byte
			var size int
			for i := 0; b.Loop(); i++ {
				var err error
				buf, err = c.codec.Append(buf[:0], mix[i%len(mix)])
				if err != nil {
					b.Fatal(err)
				}
				size += len(buf)
			}
			b.ReportMetric(float64(size)/float64(b.N), "bytes/event")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/event")
		})
	}
}

// BenchmarkDecode decodes the realistic mix, with one metadata entry on
// every event (as the contact package writes them) and with none, since
// a Go map costs two allocations of its own.
func BenchmarkDecode(b *testing.B) {
	for _, c := range benchCodecs {
		for _, meta := range []bool{true, false} {
			mix := benchMix(200)
			encoded := make([][]byte, len(mix))
			for i, e := range mix {
				if !meta {
					e.Meta = nil
				}
				var err error
				encoded[i], err = c.codec.Append(nil, e)
				require.NoError(b, err)
			}
			b.Run(fmt.Sprintf("%s/meta=%v", c.name, meta), func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					if _, err := c.codec.Decode(encoded[i%len(encoded)]); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/event")
			})
		}
	}
}

// BenchmarkDecodeOpened decodes the most common event alone: issue.opened
// with two identity keys and a correlation id.
func BenchmarkDecodeOpened(b *testing.B) {
	opened := benchMix(1)[1] // [0] is an abandoned attempt
	for _, c := range benchCodecs {
		raw, err := c.codec.Append(nil, opened)
		require.NoError(b, err)
		b.Run(c.name, func(b *testing.B) { decodeLoop(b, c.codec, raw) })
	}
}

// decodeLoop decodes raw with codec, one event an op.
func decodeLoop(b *testing.B, codec events.Codec, raw []byte) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := codec.Decode(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeUpcast decodes an issue.routed written at schema 1 by a
// registry whose Routed is at schema 2, through an upcaster that returns
// its fields as they are: what reading an older log costs an event.
func BenchmarkDecodeUpcast(b *testing.B) {
	routed := benchMix(1)[2] // an abandoned attempt, the opening, then this
	reg := events.NewRegistry()
	require.NoError(b, reg.Register(events.TypeRouted, 2, func() events.Data { return new(events.Routed) }))
	require.NoError(b, reg.AddUpcaster(events.TypeRouted, 1, identityUpcast))
	for _, c := range []struct {
		name       string
		old, codec events.Codec
	}{
		{"msgpack", events.NewMsgpackCodec(nil), events.NewMsgpackCodec(reg)},
		{"json", events.NewJSONCodec(nil), events.NewJSONCodec(reg)},
	} {
		raw, err := c.old.Append(nil, routed)
		require.NoError(b, err)
		b.Run(c.name, func(b *testing.B) { decodeLoop(b, c.codec, raw) })
	}
}

func BenchmarkMemoryStoreAppend(b *testing.B) {
	mix := benchMix(2000)
	for _, batch := range []int{1, 4} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			b.ReportAllocs()
			ctx := context.Background()
			s := events.NewMemoryStore()
			issue := uuid.New()
			evs := make([]events.Envelope, batch)
			version := uint64(0)
			for i := 0; b.Loop(); i++ {
				for j := range evs {
					evs[j] = mix[(i*batch+j)%len(mix)]
					evs[j].Issue, evs[j].Version = issue, version+uint64(j)+1
				}
				if _, err := s.Append(ctx, issue, version, evs); err != nil {
					b.Fatal(err)
				}
				version += uint64(batch)
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

func BenchmarkMemoryStoreReadAll(b *testing.B) {
	ctx := context.Background()
	s := events.NewMemoryStore()
	mix := benchMix(2000)
	byIssue := make(map[uuid.UUID][]events.Envelope)
	var order []uuid.UUID
	for _, e := range mix {
		if _, ok := byIssue[e.Issue]; !ok {
			order = append(order, e.Issue)
		}
		byIssue[e.Issue] = append(byIssue[e.Issue], e)
	}
	for _, issue := range order {
		_, err := s.Append(ctx, issue, 0, byIssue[issue])
		require.NoError(b, err)
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		for _, err := range s.ReadAll(ctx, 0) {
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(n), "ns/event")
}

// BenchmarkMemoryStoreFootprint measures the heap that a memory store
// holds per stored event, and how many heap objects, for a log of 200,000
// events of the realistic mix.
func BenchmarkMemoryStoreFootprint(b *testing.B) {
	ctx := context.Background()
	mix := benchMix(40_000)
	var heap, objects float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		s := events.NewMemoryStore()
		for i := 0; i < len(mix); {
			j := i + 1
			for j < len(mix) && mix[j].Issue == mix[i].Issue {
				j++
			}
			if _, err := s.Append(ctx, mix[i].Issue, 0, mix[i:j]); err != nil {
				b.Fatal(err)
			}
			i = j
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		heap = float64(after.HeapAlloc-before.HeapAlloc) / float64(s.Len())
		objects = float64(after.HeapObjects-before.HeapObjects) / float64(s.Len())
		runtime.KeepAlive(s)
	}
	b.ReportMetric(heap, "heap-bytes/event")
	b.ReportMetric(objects, "heap-objects/event")
}

// benchHost is a host's event type, for BenchmarkDecodeHost.
type benchHost struct {
	Name  string            `json:"name"`
	Level int               `json:"level"`
	Tags  []string          `json:"tags"`
	Score float64           `json:"score"`
	Attrs map[string]string `json:"attrs"`
}

func (*benchHost) EventType() events.Type { return "acme.escalated" }

// BenchmarkDecodeHost decodes a host's event: with integers from 0 to 127
// alone, and with a larger one, which the msgpack codec checks against
// its field (numbersKept).
func BenchmarkDecodeHost(b *testing.B) {
	reg := events.NewRegistry()
	require.NoError(b, reg.Register("acme.escalated", 1, func() events.Data { return new(benchHost) }))
	for _, c := range []struct {
		name  string
		codec events.Codec
	}{{"msgpack", events.NewMsgpackCodec(reg)}, {"json", events.NewJSONCodec(reg)}} {
		for _, level := range []int{3, 300} {
			e := envelopeOf(1, &benchHost{Name: "escalation", Level: level, Tags: []string{"vip", "billing"}, Score: 0.5, Attrs: map[string]string{"tier": "gold"}})
			raw, err := c.codec.Append(nil, e)
			require.NoError(b, err)
			b.Run(fmt.Sprintf("%s/level=%d", c.name, level), func(b *testing.B) { decodeLoop(b, c.codec, raw) })
		}
	}
}
