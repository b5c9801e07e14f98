package pgstore

import (
	"testing"

	wmsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The outbox's insert is one statement text whatever the number of
// messages, so that the server parses and plans it once, and it carries
// the messages in their order.
func TestOutboxInsertIsOneStatementForAnyCount(t *testing.T) {
	a := outboxSchema(newTables("s", "events"))
	msgs := message.Messages{
		message.NewMessage("m1", []byte("one")),
		message.NewMessage("m2", []byte("two")),
		message.NewMessage("m3", []byte("three")),
	}
	msgs[1].Metadata.Set("k", `quoted "value"`)

	one, err := a.InsertQuery(wmsql.InsertQueryParams{Topic: forwarderTopic, Msgs: msgs[:1]})
	require.NoError(t, err)
	three, err := a.InsertQuery(wmsql.InsertQueryParams{Topic: forwarderTopic, Msgs: msgs})
	require.NoError(t, err)
	assert.Equal(t, one.Query, three.Query)
	assert.Equal(t, []any{
		[]string{"m1", "m2", "m3"},
		[][]byte{[]byte("one"), []byte("two"), []byte("three")},
		[]string{`{}`, `{"k":"quoted \"value\""}`, `{}`},
	}, three.Args)
}
