package projections

import (
	"reflect"

	"github.com/truefcr/truefcr/events"
)

// Projection is a read model that absorbs events one at a time.
type Projection interface {
	Apply(e events.Envelope) error
}

// SelfSequencing is a projection whose Apply puts each issue's events in
// version order and ignores the duplicates itself, so that it may be fed
// in any order and more than once: FCR, Reporter, ServiceLevel,
// Satisfaction and Volume are. A Runner hands such a projection every
// event as it comes and keeps no versions of its own, where it would
// otherwise keep the last version of every issue it has seen, for good.
//
// A type that embeds one of them is SelfSequencing too: a wrapper that
// counts or forwards what reaches Apply then sees every delivery,
// duplicates and out-of-order events included. A wrapper that needs them
// in order and once should hide the embedded projection's
// DuplicatesIgnored (keep it in a named field), so that the runner
// sequences for it. Conversely, a projection should have a method of that
// name only if it sequences the events itself: the runner goes by it.
type SelfSequencing interface {
	Projection
	// DuplicatesIgnored returns how many events Apply has recognised as
	// duplicates and ignored since the projection was made or restored.
	DuplicatesIgnored() int64
}

// The projections of this package sequence the events themselves.
var (
	_ SelfSequencing = (*FCR)(nil)
	_ SelfSequencing = (*Reporter)(nil)
	_ SelfSequencing = (*ServiceLevel)(nil)
	_ SelfSequencing = (*Satisfaction)(nil)
	_ SelfSequencing = (*Volume)(nil)
)

// DuplicatesIgnored implements SelfSequencing. A redelivery is recognised
// as a duplicate while the FCR knows its version (applied in a live
// issue, or held); once its issue was folded it is counted as the FCR
// counts other deliveries of folded issues (see FCR).
func (f *FCR) DuplicatesIgnored() int64 { return f.dups }

// DuplicatesIgnored implements SelfSequencing, as its FCR counts them.
func (r *Reporter) DuplicatesIgnored() int64 { return r.fcr.DuplicatesIgnored() }

// DuplicatesIgnored implements SelfSequencing.
func (s *ServiceLevel) DuplicatesIgnored() int64 { return s.h.dups }

// DuplicatesIgnored implements SelfSequencing.
func (s *Satisfaction) DuplicatesIgnored() int64 { return s.h.dups }

// DuplicatesIgnored implements SelfSequencing.
func (v *Volume) DuplicatesIgnored() int64 { return v.h.dups }

// isNilPointer reports whether p is a nil pointer of some type, whose
// methods would fail at the first event rather than where it was given.
func isNilPointer(p Projection) bool {
	v := reflect.ValueOf(p)
	return v.Kind() == reflect.Pointer && v.IsNil()
}
