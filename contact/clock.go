package contact

import (
	"time"

	"github.com/google/uuid"
)

// Clock tells the time that a command's events happen at when the command
// gives none. Inject one to make tests and replays deterministic.
type Clock interface {
	Now() time.Time
}

// SystemClock is the Clock of the machine.
type SystemClock struct{}

// Now returns the current time.
func (SystemClock) Now() time.Time { return time.Now() }

// ClockFunc adapts a function to a Clock.
type ClockFunc func() time.Time

// Now returns f().
func (f ClockFunc) Now() time.Time { return f() }

// IDGenerator makes the ids of new issues, contacts and events.
type IDGenerator interface {
	NewID() (uuid.UUID, error)
}

// IDFunc adapts a function to an IDGenerator.
type IDFunc func() (uuid.UUID, error)

// NewID returns f().
func (f IDFunc) NewID() (uuid.UUID, error) { return f() }

// UUIDv7 is the default IDGenerator: time-ordered UUIDs of version 7.
type UUIDv7 struct{}

// NewID returns a new UUID of version 7.
func (UUIDv7) NewID() (uuid.UUID, error) { return uuid.NewV7() }
