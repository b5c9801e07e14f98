package projections_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/projections"
)

// nilData is a nil pointer of every lifecycle event type: data that
// holds nothing (see events.Envelope.HasData).
var nilData = []events.Data{
	(*events.Opened)(nil), (*events.Routed)(nil), (*events.Consulted)(nil),
	(*events.Resolved)(nil), (*events.Reopened)(nil), (*events.Contacted)(nil),
	(*events.Abandoned)(nil), (*events.Rated)(nil), (*events.Classified)(nil),
}

// reporting is what every projection here offers.
type reporting struct {
	name   string
	apply  func(events.Envelope) error
	report func() any
}

func reportings(t *testing.T) []reporting {
	t.Helper()
	fcr := mustFCR(projections.FCRConfig{})
	rep, err := projections.NewReporter(projections.ReportConfig{})
	require.NoError(t, err)
	svc, sat, vol := newKPIs(t)
	return []reporting{
		{"FCR", fcr.Apply, func() any { return fcr.Report() }},
		{"FCR batch", func(e events.Envelope) error { return fcr.ApplyBatch([]events.Envelope{e}) }, func() any { return fcr.Report() }},
		{"Reporter", rep.Apply, func() any { return rep.Report() }},
		{"Reporter batch", func(e events.Envelope) error { return rep.ApplyBatch([]events.Envelope{e}) }, func() any { return rep.Report() }},
		{"ServiceLevel", svc.Apply, func() any { return svc.Report() }},
		{"Satisfaction", sat.Apply, func() any { return sat.Report() }},
		{"Volume", vol.Apply, func() any { return vol.Report() }},
	}
}

// refusesData checks that every projection of ps refuses the opening of
// log with its data replaced by d, at version as the first event of a
// stream it has not seen (version 1) or as a later one of a live issue,
// with an error that says says; the report is as before.
func refusesData(t *testing.T, ps []reporting, opening events.Envelope, version uint64, d events.Data, says string) {
	t.Helper()
	require.Equal(t, events.TypeOpened, opening.Type())
	for _, p := range ps {
		bad := opening
		if version > 1 {
			require.NoError(t, p.apply(opening), p.name)
		} else {
			bad.Issue[0] ^= 0xff // a stream not seen
		}
		bad.Version, bad.Data = version, d
		before := p.report()
		err := p.apply(bad)
		require.Error(t, err, p.name)
		assert.ErrorIs(t, err, events.ErrInvalidEvent, p.name)
		assert.ErrorContains(t, err, says, p.name)
		assert.Equal(t, before, p.report(), "%s: the refused event changed nothing", p.name)
	}
}

// TestNilDataIsRefused: every projection refuses an event whose data is a
// nil pointer, as the first event of a stream and as a later one of a
// live issue, with an error that says so; its report is as before.
func TestNilDataIsRefused(t *testing.T) {
	opening := simulatedLog(t, 5)[0]
	for _, d := range nilData {
		for _, version := range []uint64{1, 2} {
			t.Run(fmt.Sprintf("%s version %d", d.EventType(), version), func(t *testing.T) {
				refusesData(t, reportings(t), opening, version, d, fmt.Sprintf("no data (a nil %T)", d))
			})
		}
	}
}

// untyped is a host's event type that names no event type.
type untyped struct{ Text string }

func (*untyped) EventType() events.Type { return "" }

// TestDataWithoutATypeIsRefused: every projection refuses an event whose
// data names no event type (an events.Opaque without its type, a host's
// type that returns ""), as the first event of a stream and as a later,
// held one of a live issue: held, it went into snapshots that could not
// be restored, since a held event is saved by its type's name.
func TestDataWithoutATypeIsRefused(t *testing.T) {
	opening := simulatedLog(t, 5)[0]
	for _, d := range []events.Data{&events.Opaque{}, &untyped{Text: "a note"}} {
		for _, version := range []uint64{1, 3} {
			t.Run(fmt.Sprintf("%T version %d", d, version), func(t *testing.T) {
				inner := mustFCR(projections.FCRConfig{})
				seq, err := projections.Sequence(inner, projections.SequenceConfig{})
				require.NoError(t, err)
				all := append(reportings(t), reporting{"Sequence", seq.Apply, func() any { return []any{inner.Report(), seq.Held()} }})
				refusesData(t, all, opening, version, d, fmt.Sprintf("data of Go type %T names no event type", d))
			})
		}
	}
}
