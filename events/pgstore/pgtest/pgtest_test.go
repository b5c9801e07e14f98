package pgtest

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestServerHidesThePassword(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://alice:s3cret@db.example:5433/app?sslmode=disable": "alice@db.example:5433/app",
		"host=db.example user=alice password=s3cret dbname=app":       "alice@db.example:5432/app",
		"postgres://alice:s3cret@%zz/app":                             "an unparsable connection string",
	} {
		assert.Equal(t, want, Server(in), in)
	}
}
