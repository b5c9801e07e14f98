package main

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
)

func TestWritesAValidReproducibleLogAndItsTruth(t *testing.T) {
	var out [2]bytes.Buffer
	var errOut bytes.Buffer
	for i := range out {
		errOut.Reset()
		require.Equal(t, 0, run([]string{"-seed", "3", "-days", "2", "-customers", "50", "-issues-per-day", "20"}, &out[i], &errOut))
	}
	assert.Equal(t, out[0].String(), out[1].String(), "the same flags give the same log")

	var truth struct{ Events, Issues int }
	require.NoError(t, json.Unmarshal(errOut.Bytes(), &truth))
	n, opened := 0, 0
	for e, err := range events.NewLineReader(&out[0], nil).All() {
		require.NoError(t, err)
		require.NoError(t, e.Validate())
		n++
		if e.Type() == events.TypeOpened {
			opened++
		}
	}
	assert.Positive(t, n)
	assert.Equal(t, truth.Events, n)
	assert.Equal(t, truth.Issues, opened)
}

func TestRefusesABadFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // what the error says
	}{
		{[]string{"-days", "-3"}, "simulate: -days -3: need at least one day"},
		{[]string{"-days", "0"}, "-days 0"},
		{[]string{"-customers", "0"}, "-customers 0"},
		{[]string{"-issues-per-day", "-1"}, "-issues-per-day -1"},
		{[]string{"-issues-per-day", "NaN"}, "-issues-per-day NaN"},
		{[]string{"-events", "-5"}, "-events -5"},
		{[]string{"log.jsonl"}, `unexpected argument "log.jsonl"`},
		{[]string{"-nope"}, "-nope"},
	} {
		var out, errOut bytes.Buffer
		assert.Equal(t, 2, run(tc.args, &out, &errOut), "%v", tc.args)
		assert.Contains(t, errOut.String(), tc.want, "%v", tc.args)
		assert.Empty(t, out.String(), "%v: nothing is written", tc.args)
	}
}
