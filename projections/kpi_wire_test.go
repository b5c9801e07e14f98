package projections

import (
	"encoding"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
)

// wireLog is two calls whose durations are finer than the wire format's
// milliseconds: a wait of 20 s and half a millisecond (within a 20 s
// threshold once cut to 20 s), an abandonment after 30 s and 0.7 ms (the
// 30–90 s bucket), and two resolutions of 100.6 ms each (200 ms of
// handle time, where their sum in nanoseconds is 201 ms).
func wireLog() []events.Envelope {
	l := newKPILog()
	i1, i2 := kpiID('i', 1), kpiID('i', 2)
	c1, c2 := kpiID('c', 1), kpiID('c', 2)
	l.opened(i1, c1, 0, "phone", "billing")
	l.add(i1, time.Minute, &events.Routed{Contact: c1, Queue: "q", Agent: "ann", Wait: 20*time.Second + 500*time.Microsecond})
	l.add(i1, 2*time.Minute, &events.Resolved{Contact: c1, Agent: "ann", Handle: 100*time.Millisecond + 600*time.Microsecond})
	l.add(i1, 3*time.Minute, &events.Resolved{Contact: c1, Agent: "ann", Handle: 100*time.Millisecond + 600*time.Microsecond})
	l.add(i1, 4*time.Minute, &events.Rated{Survey: events.SurveyCSAT, Score: 5, Contact: c1})
	l.opened(i2, c2, time.Minute, "phone", "billing")
	l.add(i2, 2*time.Minute, &events.Abandoned{Contact: c2, Wait: 30*time.Second + 700*time.Microsecond})
	l.add(i2, 3*time.Minute, &events.Rated{Survey: events.SurveyCSAT, Score: 2, Contact: c2})
	return l.evs
}

// An event counts as the wire format carries it, whether it is applied as
// built, after a trip through a codec, or held for a gap across a
// snapshot, which saves held events in msgpack.
func TestKPIDurationsCountAsTheWireCarriesThem(t *testing.T) {
	log := wireLog()
	codec := events.NewMsgpackCodec(nil)
	var carried []events.Envelope
	for _, e := range log {
		b, err := codec.Append(nil, e)
		require.NoError(t, err)
		d, err := codec.Decode(b)
		require.NoError(t, err)
		carried = append(carried, d)
	}
	type projection interface {
		Apply(events.Envelope) error
		encoding.BinaryMarshaler
		encoding.BinaryUnmarshaler
	}
	makers := map[string]func() projection{
		"ServiceLevel": func() projection {
			p, err := NewServiceLevel(ServiceConfig{Threshold: 20 * time.Second})
			require.NoError(t, err)
			return p
		},
		"Satisfaction": func() projection {
			p, err := NewSatisfaction(SatisfactionConfig{})
			require.NoError(t, err)
			return p
		},
		"Reporter": func() projection {
			p, err := NewReporter(ReportConfig{})
			require.NoError(t, err)
			return p
		},
	}
	report := func(p projection) string {
		var v any
		switch p := p.(type) {
		case *ServiceLevel:
			v = p.Report()
		case *Satisfaction:
			v = p.Report()
		case *Reporter:
			v = p.Report()
		}
		b, err := json.Marshal(v)
		require.NoError(t, err)
		return string(b)
	}
	for name, make := range makers {
		t.Run(name, func(t *testing.T) {
			direct, viaCodec := make(), make()
			for i := range log {
				require.NoError(t, direct.Apply(log[i]))
				require.NoError(t, viaCodec.Apply(carried[i]))
			}
			// Every event after each issue's opening waits for it, across
			// a snapshot.
			held := make()
			for _, e := range log {
				if e.Version > 1 {
					require.NoError(t, held.Apply(e))
				}
			}
			b, err := held.MarshalBinary()
			require.NoError(t, err)
			restored := make()
			require.NoError(t, restored.UnmarshalBinary(b))
			for _, e := range log {
				if e.Version == 1 {
					require.NoError(t, restored.Apply(e))
				}
			}
			want := report(viaCodec)
			assert.JSONEq(t, want, report(direct), "applied as built")
			assert.JSONEq(t, want, report(restored), "held across a snapshot")
		})
	}

	svc := makers["ServiceLevel"]().(*ServiceLevel)
	for _, e := range log {
		require.NoError(t, svc.Apply(e))
	}
	total := svc.Report().ServiceFigures
	assert.Equal(t, int64(1), total.ServiceLevel.Hits, "a wait of 20.0005 s is 20 s on the wire")
	assert.InDelta(t, 0.2, total.AHT, 1e-9, "two handle times of 100 ms each")
}
