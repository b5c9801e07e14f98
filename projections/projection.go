package projections

import "github.com/truefcr/truefcr/events"

// Projection is a read model that absorbs events one at a time. Apply puts
// each issue's events in version order itself, so it may be fed in any
// order and with duplicates.
type Projection interface {
	Apply(e events.Envelope) error
}
