package projections

import "github.com/truefcr/truefcr/events"

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
// in order and once should hide the embedded projection's Duplicates
// (keep it in a named field), so that the runner sequences for it.
type SelfSequencing interface {
	Projection
	// Duplicates returns how many events Apply has recognised as
	// duplicates and ignored since the projection was made or restored.
	Duplicates() int64
}

// The projections of this package sequence the events themselves.
var (
	_ SelfSequencing = (*FCR)(nil)
	_ SelfSequencing = (*Reporter)(nil)
	_ SelfSequencing = (*ServiceLevel)(nil)
	_ SelfSequencing = (*Satisfaction)(nil)
	_ SelfSequencing = (*Volume)(nil)
)

// Duplicates implements SelfSequencing. A duplicate is recognised while
// the FCR knows its issue; once the issue was folded, a redelivery is
// late (see FCR).
func (f *FCR) Duplicates() int64 { return f.dups }

// Duplicates implements SelfSequencing, as its FCR counts them.
func (r *Reporter) Duplicates() int64 { return r.fcr.Duplicates() }

// Duplicates implements SelfSequencing.
func (s *ServiceLevel) Duplicates() int64 { return s.h.dups }

// Duplicates implements SelfSequencing.
func (s *Satisfaction) Duplicates() int64 { return s.h.dups }

// Duplicates implements SelfSequencing.
func (v *Volume) Duplicates() int64 { return v.h.dups }
