package projections

import (
	"fmt"

	"github.com/truefcr/truefcr/internal/msgpackcheck"
)

// reportSnapFormat is the layout version of Reporter snapshots.
const reportSnapFormat = 1

// reportSnap is the whole state of a Reporter, as msgpack: its FCR's
// snapshot, its KPI projections' and the events it reports.
type reportSnap struct {
	Format int
	FCR    []byte
	KPI    []byte
	Events int64
}

// parts returns the Reporter's KPI projections, with their one horizon or
// each its own.
func (r *Reporter) parts() *kpiParts {
	p := &kpiParts{kind: "report", names: r.names, service: r.service, sat: r.sat, volume: r.volume}
	if r.kpi != nil {
		p.horizons = []*kpiHorizon[kpiState]{r.kpi}
	} else {
		p.horizons = []*kpiHorizon[kpiState]{&r.service.h, &r.sat.h, &r.volume.h}
	}
	return p
}

// MarshalBinary implements encoding.BinaryMarshaler: the whole state of
// the Reporter, every projection's, which UnmarshalBinary restores into a
// Reporter of the same configuration, so that a Runner can checkpoint it.
// The FCR's part is its Snapshot.
func (r *Reporter) MarshalBinary() ([]byte, error) {
	fcr, err := r.fcr.Snapshot(0)
	if err != nil {
		return nil, fmt.Errorf("report snapshot: %w", err)
	}
	kpi, err := r.parts().save()
	if err != nil {
		return nil, err
	}
	b, err := marshalSealed(&reportSnap{Format: reportSnapFormat, FCR: fcr, KPI: kpi, Events: r.applied - r.fcr.dups})
	if err != nil {
		return nil, fmt.Errorf("report snapshot: %w", err)
	}
	return b, nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler: it replaces the
// state of every projection of r with what MarshalBinary saved, or
// changes nothing and returns an error that wraps ErrFCRSnapshot or
// ErrKPISnapshot. Duplicates ignored count from zero again, as after
// FCR.Restore.
func (r *Reporter) UnmarshalBinary(b []byte) error {
	if err := otherSnapshot("report", snapOfReporter, b, ErrKPISnapshot); err != nil {
		return err
	}
	b, err := unseal("report", b, ErrKPISnapshot)
	if err != nil {
		return err
	}
	var s reportSnap
	if err := msgpackcheck.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("report restore: %v: %w", err, ErrKPISnapshot)
	}
	if s.Format != reportSnapFormat {
		return fmt.Errorf("report restore: snapshot format %d, want %d: %w", s.Format, reportSnapFormat, ErrKPISnapshot)
	}
	set, err := r.parts().load(s.KPI)
	if err != nil {
		return err
	}
	if _, err := r.fcr.Restore(s.FCR); err != nil {
		return fmt.Errorf("report restore: %w", err)
	}
	set()
	r.applied = s.Events
	return nil
}
