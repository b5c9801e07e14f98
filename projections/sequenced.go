package projections

import (
	"encoding"
	"errors"
	"fmt"
	"time"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/internal/msgpackcheck"
)

// SequenceConfig configures Sequence. The zero value means the defaults.
type SequenceConfig struct {
	// Lateness is how far behind the watermark (the latest event time
	// seen) an event of an issue that is not tracked may arrive and still
	// be applied, and how far behind it an event that waits for a gap may
	// fall before the gap is skipped; see Sequence. 24 h if zero.
	Lateness time.Duration
	// MaxFuture is how far after the clock's time an event may be, as in
	// FCRConfig: 0 means DefaultMaxFuture or half the lateness, whichever
	// is less; a negative value, no limit. Apply refuses an event further
	// ahead with an error that wraps ErrFutureEvent. The projection behind
	// is best given no limit of its own: the horizon has taken an event by
	// the time the projection refuses it, and would not offer it again.
	MaxFuture time.Duration
	// Registry knows the event types of the events held for a gap that a
	// snapshot (MarshalBinary) carries; nil means events.NewRegistry().
	// It must read every such event back as the Go type it was given in:
	// MarshalBinary fails otherwise (and a Runner stops at that
	// checkpoint).
	Registry *events.Registry
}

// Sequenced is what Sequence returns: a projection of the caller's behind
// a horizon of event time.
type Sequenced interface {
	SelfSequencing
	// AdvanceTo moves the watermark to t if t is later: issues then leave
	// the horizon, and the events that wait for a gap and are older than
	// the lateness behind it reach the projection. It then advances the
	// projection too, when that is an Advancer, and returns the
	// projection's errors.
	AdvanceTo(t time.Time) error
	// Late returns how many events came too late to be applied.
	Late() int64
	// Held returns how many events wait for a gap in their stream.
	Held() int
	// Tracked returns how many issues the horizon tracks.
	Tracked() int
}

// Sequence returns p behind a horizon of event time, as the KPI
// projections of this package keep one: p gets each issue's events once
// each, in version order, however they are delivered, and what is kept to
// do so follows the open issues and the recent traffic, not the history.
// A Runner hands the result every event as it comes and keeps nothing per
// issue of its own (it is SelfSequencing), where for p it would keep the
// last version of every issue it has seen, for good, and write them into
// every checkpoint.
//
// What the horizon gives up to bound its memory is stated by event time,
// with L the lateness:
//   - an issue is tracked from its first event until it is closed and
//     quiet for 2L, closed meaning resolved since it was last opened,
//     contacted or reopened, or never any of these (a stream of a host's
//     types alone); an open issue stays tracked however long it lasts;
//   - an event of an issue that is not tracked (or tracked only for
//     events that wait for a gap) and older than L behind the watermark
//     is late: counted (Late) and not applied, as it may be a redelivery
//     of one applied before the issue left;
//   - an event that comes after a gap waits for it until it is itself
//     older than L; the gap is then skipped and the missing versions are
//     late if they ever come;
//   - an event of a closed issue that comes L or more after the issue's
//     last event (a reopen weeks later) waits as after a gap and reaches p
//     L later, as the first event of a stream that resumes; a redelivery
//     of one of the versions before it is then late, not a duplicate;
//   - these rules take an issue's event times to rise with its versions,
//     give or take less than L: a missing version whose time is L or more
//     after a later version's (an import with broken clocks) may come
//     once the issue left, and then reaches p out of order.
//
// Apply refuses an event that does not Validate or lies outside the years
// that the codecs write (events.InTimeRange: 1678 to 2261), and returns the
// errors p returned for the events that the call applied, each naming its
// event: one event may release held ones, its issue's or, as the
// watermark moves, another's. A Runner counts such an error against the
// event it was handed.
//
// Held events reach p as a snapshot saved them: with their position, and
// with their time in UTC. Each issue's events reach p in version order;
// the events of several issues that one call releases may reach it in
// another order after a restore than they would have without it. A p
// that panics leaves the Sequenced unusable.
//
// The result implements encoding.BinaryMarshaler and BinaryUnmarshaler
// when p does, saving the horizon with p's state, and Resetter when p
// does, so that a Runner can checkpoint and rebuild it. It is not safe for
// concurrent use.
func Sequence(p Projection, cfg SequenceConfig) (Sequenced, error) {
	if p == nil {
		return nil, fmt.Errorf("sequence: no projection: %w", ErrKPIConfig)
	}
	if isNilPointer(p) {
		return nil, fmt.Errorf("sequence: no projection (a nil %T): %w", p, ErrKPIConfig)
	}
	if cfg.Lateness == 0 {
		cfg.Lateness = kpiDefaultLateness
	}
	if err := kpiCheckLateness("sequence", cfg.Lateness); err != nil {
		return nil, err
	}
	cfg.MaxFuture = maxFutureOr(cfg.MaxFuture, cfg.Lateness)
	s := &sequenced{p: p, cfg: cfg, future: newFutureGuard(cfg.MaxFuture, "SequenceConfig.MaxFuture")}
	s.h = newKPIHorizon(cfg.Lateness, s.fold)
	_, saves := p.(encoding.BinaryMarshaler)
	_, loads := p.(encoding.BinaryUnmarshaler)
	_, resets := p.(Resetter)
	switch {
	case saves && loads && resets:
		return &struct {
			*sequenced
			sequencedSaving
			sequencedResetting
		}{s, sequencedSaving{s}, sequencedResetting{s}}, nil
	case saves && loads:
		return &struct {
			*sequenced
			sequencedSaving
		}{s, sequencedSaving{s}}, nil
	case resets:
		return &struct {
			*sequenced
			sequencedResetting
		}{s, sequencedResetting{s}}, nil
	}
	return s, nil
}

// sequenced is the horizon of Sequence; the types that embed it add what
// p can do.
type sequenced struct {
	p    Projection
	cfg  SequenceConfig
	h    kpiHorizon[struct{}]
	errs []error // p's errors since the last Apply or AdvanceTo returned
	// future refuses events too far after the clock's time.
	future futureGuard
}

// fold hands e to p: p takes every event, so that the horizon tracks
// the stream as p sees it.
func (s *sequenced) fold(_ *struct{}, e events.Envelope) bool {
	if err := s.p.Apply(e); err != nil {
		// The event may not be the one Apply was called with: name it.
		s.errs = append(s.errs, fmt.Errorf("issue %s version %d (%s): %w", e.Issue, e.Version, e.Type(), err))
	}
	return true
}

// Apply implements Projection.
func (s *sequenced) Apply(e events.Envelope) error {
	if err := kpiCheckEvent("sequence", &e, &s.future); err != nil {
		return err
	}
	s.h.offer(&e)
	return s.takeErrs()
}

// AdvanceTo implements Sequenced.
func (s *sequenced) AdvanceTo(t time.Time) error {
	s.h.advanceTo(t)
	if a, ok := s.p.(Advancer); ok {
		if err := a.AdvanceTo(t); err != nil {
			s.errs = append(s.errs, err)
		}
	}
	return s.takeErrs()
}

// takeErrs returns the errors p returned since it was last called.
func (s *sequenced) takeErrs() error {
	if len(s.errs) == 0 {
		return nil
	}
	err := errors.Join(s.errs...)
	s.errs = s.errs[:0]
	return err
}

// DuplicatesIgnored implements SelfSequencing.
func (s *sequenced) DuplicatesIgnored() int64 { return s.h.dups }

// Late implements Sequenced.
func (s *sequenced) Late() int64 { return s.h.late }

// Held implements Sequenced.
func (s *sequenced) Held() int { return s.h.seq.nHeld }

// Tracked implements Sequenced.
func (s *sequenced) Tracked() int { return s.h.seq.Streams() }

// sequencedSnapFormat is the layout version of the snapshots of Sequence.
// Within format 1, the versions that an issue's stream skipped over
// (kpiSnapIssue.Skipped) came later, as they did within format 5 of the
// KPI projections' snapshots (see kpiSnapFormat).
const sequencedSnapFormat = 1

// sequencedSnap is the state of a Sequence result, as msgpack: the horizon
// and the projection's own snapshot.
type sequencedSnap struct {
	Format     int
	Horizon    kpiSnapHorizon
	Projection []byte
}

// sequencedSaving adds the snapshots of a projection that has them.
type sequencedSaving struct{ s *sequenced }

// MarshalBinary implements encoding.BinaryMarshaler: the horizon and the
// projection's MarshalBinary.
func (v sequencedSaving) MarshalBinary() ([]byte, error) {
	s := v.s
	held := func(evs []events.Envelope) ([][]byte, []uint64, []snapOpaque, error) {
		return saveHeld(evs, s.cfg.Registry, false)
	}
	h, err := saveHorizon(&s.h, held, func(*struct{}) kpiSnapState { return kpiSnapState{} })
	if err != nil {
		return nil, fmt.Errorf("sequence snapshot: %w", err)
	}
	p, err := s.p.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("sequence snapshot: %w", err)
	}
	b, err := marshalSealed(&sequencedSnap{Format: sequencedSnapFormat, Horizon: h, Projection: p})
	if err != nil {
		return nil, fmt.Errorf("sequence snapshot: %w", err)
	}
	return b, nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler. It checks the
// horizon before the projection restores its part; an error about the
// horizon wraps ErrKPISnapshot and changes nothing.
func (v sequencedSaving) UnmarshalBinary(b []byte) error {
	s := v.s
	if err := otherSnapshot("sequence", snapOfSequenced, b, ErrKPISnapshot); err != nil {
		return err
	}
	b, err := unseal("sequence", b, ErrKPISnapshot)
	if err != nil {
		return err
	}
	var snap sequencedSnap
	if err := msgpackcheck.Unmarshal(b, &snap); err != nil {
		return fmt.Errorf("sequence restore: %v: %w", err, ErrKPISnapshot)
	}
	if snap.Format != sequencedSnapFormat {
		return fmt.Errorf("sequence restore: snapshot format %d, want %d: %w", snap.Format, sequencedSnapFormat, ErrKPISnapshot)
	}
	h, err := loadHorizon(&s.h, &snap.Horizon, events.NewMsgpackCodec(s.cfg.Registry),
		func(*kpiSnapState) (struct{}, error) { return struct{}{}, nil })
	if err != nil {
		return fmt.Errorf("sequence restore: %w: %w", err, ErrKPISnapshot)
	}
	if err := s.p.(encoding.BinaryUnmarshaler).UnmarshalBinary(snap.Projection); err != nil {
		return fmt.Errorf("sequence restore: %w", err)
	}
	s.h, s.errs = h, nil
	return nil
}

// sequencedResetting adds Reset for a projection that has it.
type sequencedResetting struct{ s *sequenced }

// Reset implements Resetter: the projection's Reset, and an empty horizon.
func (v sequencedResetting) Reset() {
	s := v.s
	s.p.(Resetter).Reset()
	s.h, s.errs = newKPIHorizon(s.cfg.Lateness, s.fold), nil
}
