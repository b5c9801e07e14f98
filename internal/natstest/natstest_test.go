package natstest

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRedactedHidesCredentials(t *testing.T) {
	for in, want := range map[string]string{
		"nats://127.0.0.1:4222":                              "nats://127.0.0.1:4222",
		"nats://alice:s3cret@nats.example:4222":              "nats://xxxxx@nats.example:4222",
		"nats://s3cret-token@nats.example":                   "nats://xxxxx@nats.example",
		"nats://a:s3cret@one:4222, nats://b:s3cret@two:4222": "nats://xxxxx@one:4222,nats://xxxxx@two:4222",
		"nats://a:s3cret@%zz":                                "an unparsable URL",
		"alice:s3cret@127.0.0.1:4222":                        "nats://xxxxx@127.0.0.1:4222",
		"127.0.0.1:4222":                                     "127.0.0.1:4222",
	} {
		assert.Equal(t, want, Redacted(in), in)
	}
}
