package projections

import (
	"encoding"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lyingSnapshot is a msgpack map whose one member, name, declares an array
// of 2³²−1 elements and holds none: a decoder that believed it would ask
// for hundreds of gigabytes.
func lyingSnapshot(name string) []byte {
	b := append([]byte{0x81, 0xa0 | byte(len(name))}, name...)
	return append(b, 0xdd, 0xff, 0xff, 0xff, 0xff)
}

// Every snapshot restorer refuses a snapshot that declares more than it
// holds, and says so, rather than allocating what it declares.
func TestRestorersRefuseLyingLengths(t *testing.T) {
	reporter, err := NewReporter(ReportConfig{})
	require.NoError(t, err)
	service, err := NewServiceLevel(ServiceConfig{})
	require.NoError(t, err)
	sequenced, err := Sequence(mustFCR(FCRConfig{}), SequenceConfig{})
	require.NoError(t, err)
	tests := []struct {
		name   string
		into   encoding.BinaryUnmarshaler
		member string
		want   error
	}{
		{"FCR", mustFCR(FCRConfig{}), "Issues", ErrFCRSnapshot},
		{"Reporter", reporter, "FCR", ErrKPISnapshot},
		{"ServiceLevel", service, "Horizons", ErrKPISnapshot},
		{"Sequence", sequenced.(encoding.BinaryUnmarshaler), "Projection", ErrKPISnapshot},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.into.UnmarshalBinary(lyingSnapshot(tt.member))
			require.ErrorIs(t, err, tt.want)
			assert.Contains(t, err.Error(), "length exceeds input")
		})
	}
}
