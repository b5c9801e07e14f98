package projections

import (
	"fmt"
	"strings"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"

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
	if body, ok := sealed(b); ok {
		b = body
	}
	if strings.HasPrefix(string(b), "TFRS") {
		return snapOfRunner
	}
	var h struct {
		Kind       string
		Window     *int64
		FCR, KPI   present
		Projection present
	}
	if msgpackcheck.Unmarshal(b, &h) != nil {
		return ""
	}
	switch {
	case h.Kind != "":
		return snapOfKPI + ", " + h.Kind
	case h.Window != nil:
		return snapOfFCR
	case bool(h.FCR || h.KPI):
		return snapOfReporter
	case bool(h.Projection):
		return snapOfSequenced
	}
	return ""
}

// present notes a member of a snapshot that is there and not nil, and
// passes over its value: the parts of a Reporter's snapshot, megabytes
// of it, which a []byte would copy only to tell that they are there.
type present bool

func (p *present) DecodeMsgpack(d *msgpack.Decoder) error {
	c, err := d.PeekCode()
	if err != nil {
		return err
	}
	*p = c != msgpcode.Nil
	return d.Skip()
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
