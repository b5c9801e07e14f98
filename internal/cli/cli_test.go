package cli

import (
	"flag"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNoArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		says string // "" for none
	}{
		{nil, ""},
		{[]string{"-days", "3"}, ""},
		{[]string{"extra"}, `prog: unexpected argument "extra"`},
		{[]string{"-days", "3", "x", "-json"}, `prog: unexpected argument "x"`},
	} {
		fs := flag.NewFlagSet("prog", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		fs.Int("days", 7, "")
		fs.Bool("json", false, "")
		require.NoError(t, fs.Parse(tc.args))
		err := noArgs(fs)
		if tc.says == "" {
			assert.NoError(t, err, "%q", tc.args)
			continue
		}
		assert.ErrorContains(t, err, tc.says, "%q", tc.args)
	}
}
