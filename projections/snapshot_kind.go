package projections

import (
	"fmt"
	"strings"

	"github.com/truefcr/truefcr/internal/msgpackcheck"
)

// What snapshotOf tells a snapshot apart as.
const (
	snapOfRunner    = "a Runner's checkpoint state (its projection's snapshot is inside: a Runner restores it)"
	snapOfFCR       = "an FCR's snapshot"
	snapOfReporter  = "a Reporter's snapshot"
	snapOfSequenced = "the snapshot of a Sequence result"
	snapOfKPI       = "the snapshot of a KPI projection" // with its kind after it
)

// snapshotOf names what b is a snapshot of, as far as its first fields
// tell, "" when they do not: so that a restore of a snapshot of another
// kind (a Reporter's into an FCR, a Runner's checkpoint state into its
// projection) says so, rather than only that the format is not its own.
func snapshotOf(b []byte) string {
	if strings.HasPrefix(string(b), "TFRS") {
		return snapOfRunner
	}
	var h struct {
		Kind       string
		Window     *int64
		FCR, KPI   []byte
		Projection []byte
	}
	if msgpackcheck.Unmarshal(b, &h) != nil {
		return ""
	}
	switch {
	case h.Kind != "":
		return snapOfKPI + ", " + h.Kind
	case h.Window != nil:
		return snapOfFCR
	case h.FCR != nil || h.KPI != nil:
		return snapOfReporter
	case h.Projection != nil:
		return snapOfSequenced
	}
	return ""
}

// otherSnapshot returns the error of a restore by what of b, a snapshot
// of another kind than own (one of snapshotOf's), that names what b is;
// nil when b is of kind own or does not tell. sentinel is the restore's.
func otherSnapshot(what, own string, b []byte, sentinel error) error {
	k := snapshotOf(b)
	if k == "" || k == own || own == snapOfKPI && strings.HasPrefix(k, snapOfKPI) {
		return nil
	}
	return fmt.Errorf("%s restore: not %s but %s: %w", what, own, k, sentinel)
}
