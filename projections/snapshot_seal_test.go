package projections

import (
	"encoding"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
)

// everyFlipRefused checks that restore refuses b with every one of its
// bytes changed (one bit), with an error that wraps sentinel, and takes b
// itself.
func everyFlipRefused(t *testing.T, what string, b []byte, restore func([]byte) error, sentinel error) {
	t.Helper()
	require.True(t, len(b) > len(sealMagic)+4, "%s: sealed", what)
	_, ok := sealed(b)
	require.True(t, ok, "%s: sealed", what)
	damaged := make([]byte, len(b))
	for i := range b {
		copy(damaged, b)
		damaged[i] ^= 1
		err := restore(damaged)
		if !assert.ErrorIs(t, err, sentinel, "%s: byte %d of %d flipped", what, i, len(b)) {
			return
		}
	}
	require.NoError(t, restore(b), "%s: as written", what)
}

// Every snapshot is sealed with a checksum: one damaged in storage is
// refused at its restore, which changes nothing, rather than restored into
// a state that counts wrong; and the checksum names the damage.
func TestSnapshotsAreSealed(t *testing.T) {
	log := testLog(4)

	f := mustFCR(FCRConfig{})
	for _, e := range log {
		require.NoError(t, f.Apply(e))
	}
	want := f.Report()
	b, err := f.MarshalBinary()
	require.NoError(t, err)
	g := mustFCR(FCRConfig{})
	everyFlipRefused(t, "FCR", b, g.UnmarshalBinary, ErrFCRSnapshot)
	assert.Equal(t, want, g.Report())

	r := mustReporter(t, ReportConfig{})
	for _, e := range log {
		require.NoError(t, r.Apply(e))
	}
	b, err = r.MarshalBinary()
	require.NoError(t, err)
	everyFlipRefused(t, "Reporter", b, mustReporter(t, ReportConfig{}).UnmarshalBinary, ErrKPISnapshot)

	kpis := []struct {
		name string
		new  func() Projection
	}{
		{"ServiceLevel", func() Projection { s, err := NewServiceLevel(ServiceConfig{}); require.NoError(t, err); return s }},
		{"Satisfaction", func() Projection { s, err := NewSatisfaction(SatisfactionConfig{}); require.NoError(t, err); return s }},
		{"Volume", func() Projection { v, err := NewVolume(VolumeConfig{}); require.NoError(t, err); return v }},
	}
	for _, k := range kpis {
		p := k.new()
		for _, e := range log {
			require.NoError(t, p.Apply(e))
		}
		b, err := p.(encoding.BinaryMarshaler).MarshalBinary()
		require.NoError(t, err)
		everyFlipRefused(t, k.name, b, k.new().(encoding.BinaryUnmarshaler).UnmarshalBinary, ErrKPISnapshot)
	}

	newSeq := func() Sequenced {
		s, err := Sequence(savingRecorder{newRecorder(t)}, SequenceConfig{Lateness: time.Hour})
		require.NoError(t, err)
		return s
	}
	s := newSeq()
	for _, e := range log[1:] { // the first issue's opening missing: its events held
		require.NoError(t, s.Apply(e))
	}
	b, err = s.(encoding.BinaryMarshaler).MarshalBinary()
	require.NoError(t, err)
	everyFlipRefused(t, "Sequence", b, newSeq().(encoding.BinaryUnmarshaler).UnmarshalBinary, ErrKPISnapshot)

	seq := NewSequencer()
	for _, e := range log[1:] {
		_, err := seq.Offer(e, func(events.Envelope) error { return nil })
		require.NoError(t, err)
	}
	codecs := []events.Codec{events.NewMsgpackCodec(nil)}
	b, err = appendRunnerState(nil, seq, codecs, []byte("projection"))
	require.NoError(t, err)
	everyFlipRefused(t, "runner state", b, func(b []byte) error {
		st, err := decodeRunnerState(b, codecs)
		if err == nil && string(st.projection) != "projection" {
			t.Fatalf("restored %q", st.projection)
		}
		return err
	}, errState)

	// The error says what happened.
	b, err = f.MarshalBinary()
	require.NoError(t, err)
	b[len(b)/2] ^= 1
	assert.ErrorContains(t, g.UnmarshalBinary(b), "it was damaged after it was written")
	// A snapshot written before snapshots were sealed still restores.
	old, err := f.MarshalBinary()
	require.NoError(t, err)
	require.NoError(t, g.UnmarshalBinary(unsealed(old)))
	assert.Equal(t, want, g.Report())
}
