package pgstore

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/stretchr/testify/assert"
)

// The query that closing the forwarder cancels is not logged as an
// error; any other failure of the outbox query is, as Watermill logs it.
func TestClosingBackoffLogsOnlyRealErrors(t *testing.T) {
	logs := watermill.NewCaptureLogger()
	b := closingBackoff{wmsql.NewDefaultBackoffManager(time.Second, 0), time.Second}
	assert.Equal(t, time.Second, b.HandleError(logs, false, fmt.Errorf("could not begin tx for querying: %w", context.Canceled)))
	assert.Empty(t, logs.Captured()[watermill.ErrorLogLevel], "closing")
	b.HandleError(logs, false, errors.New("connection refused"))
	assert.Len(t, logs.Captured()[watermill.ErrorLogLevel], 1, "a real error")
}
