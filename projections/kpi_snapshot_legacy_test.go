package projections

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
)

// legacyStandInLog is the log of testdata/kpi_legacy: issue 1 is
// resolved, forgotten and reopened (a stand-in takes the reopen of its
// forgotten resolution), resolved on a contact its fresh state never saw
// (a stand-in for a forgotten contact), reopened on that contact, which
// introduces it, with a consultation and a routing of a contact it never
// introduces (another stand-in), and followed up on a contact whose id has equal halves
// (key 0 by xorKey, as the stand-in of the first reopen). Lateness 1 h.
func legacyStandInLog() []events.Envelope {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	id := func(k byte, n int) uuid.UUID { return uuid.UUID{0: k, 15: byte(n)} }
	var out []events.Envelope
	v := map[uuid.UUID]uint64{}
	add := func(issue uuid.UUID, at time.Duration, d events.Data) {
		v[issue]++
		out = append(out, events.Envelope{ID: id('e', len(out)+1), Issue: issue, Version: v[issue], At: t0.Add(at), Data: d})
	}
	open := func(issue, c uuid.UUID, at time.Duration) {
		add(issue, at, &events.Opened{Customer: events.Customer{ID: "cust-" + issue.String()[:2]}, Channel: "phone", Topic: "billing", Contact: c})
	}
	i1, c1, b, x, y := id('i', 1), id('c', 1), id('c', 2), id('c', 3), id('c', 4)
	eq := uuid.MustParse("0a0b0c0d-0000-0000-0a0b-0c0d00000000")
	open(i1, c1, 0)
	add(i1, time.Minute, &events.Routed{Contact: c1, Queue: "q", Wait: 5 * time.Second})
	add(i1, 2*time.Minute, &events.Resolved{Contact: c1, Agent: "ann", Handle: time.Minute})
	open(id('i', 2), id('c', 20), 72*time.Hour)
	add(i1, 73*time.Hour, &events.Reopened{Contact: b, Channel: "chat"})
	add(i1, 73*time.Hour+time.Minute, &events.Resolved{Contact: x, Agent: "ann"})
	add(i1, 73*time.Hour+2*time.Minute, &events.Consulted{Contact: y, Agent: "ann", Expert: "olli"})
	open(id('i', 3), id('c', 30), 74*time.Hour+time.Minute) // cut 8: x and y stand in
	add(i1, 73*time.Hour+30*time.Minute, &events.Reopened{Contact: x, Channel: "email"})
	add(i1, 73*time.Hour+31*time.Minute, &events.Routed{Contact: x, Queue: "q", Wait: time.Second})
	add(i1, 73*time.Hour+40*time.Minute, &events.Routed{Contact: y, Queue: "q", Wait: 2 * time.Second})
	open(id('i', 4), id('c', 40), 75*time.Hour) // cut 12: x introduced, y stands in
	add(i1, 75*time.Hour+time.Minute, &events.Contacted{Contact: eq, Channel: "email"})
	add(i1, 75*time.Hour+2*time.Minute, &events.Resolved{Contact: eq, Agent: "bob", Handle: time.Minute})
	open(id('i', 5), id('c', 50), 80*time.Hour)
	return out
}

// The snapshots in testdata/kpi_legacy were saved by the builds that
// their names give, a ServiceLevel's or a Reporter's, after the first N
// events of legacyStandInLog (<commit>-<kind>-<N>.snap): 74c1a1c (format
// 1), c0a8610 (2), 8648676 (3, without Unattributed), 93f1ea2 (3),
// 8bfa13f (4), 80a3910 (5, before 53ac192). Each restores, and goes on
// with the rest of the log as a projection of today fed the whole log:
// those of 93f1ea2 to 80a3910 hold resolutions and a reopen below zero
// under the empty name, and were refused; those of 8648676 and before
// count the forgotten reopen under "(unknown)", and the follow-up on the
// contact of key 0 took the unattributed reopens to -1.
func TestKPISnapshotsOfEarlierBuildsGoOnAsToday(t *testing.T) {
	log := legacyStandInLog()
	files, err := filepath.Glob("testdata/kpi_legacy/*.snap")
	require.NoError(t, err)
	require.Len(t, files, 24)
	// want is a ServiceLevel of today fed the whole log, keying contacts
	// as the restored projection does (xorKey from a snapshot of before
	// format 5, by which the follow-up's contact is the stand-in's).
	want := func(xor bool) ServiceReport {
		s, err := NewServiceLevel(ServiceConfig{Lateness: time.Hour})
		require.NoError(t, err)
		s.names.xorKeys = xor
		applyAll(t, s, log)
		return s.Report()
	}
	require.Equal(t, int64(1), want(false).ReopensUnattributed)
	require.Equal(t, int64(0), want(true).ReopensUnattributed, "the follow-up introduced the stand-in of the forgotten reopen")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			parts := strings.Split(strings.TrimSuffix(filepath.Base(f), ".snap"), "-")
			cut, err := strconv.Atoi(parts[2])
			require.NoError(t, err)
			b, err := os.ReadFile(f)
			require.NoError(t, err)
			var got ServiceReport
			var again func() error
			var xor bool
			if parts[1] == "service" {
				s, err := NewServiceLevel(ServiceConfig{Lateness: time.Hour})
				require.NoError(t, err)
				require.NoError(t, s.UnmarshalBinary(b))
				xor = s.names.xorKeys
				applyAll(t, s, log[cut:])
				got = s.Report()
				again = func() error {
					b, err := s.MarshalBinary()
					require.NoError(t, err)
					s2, _ := NewServiceLevel(ServiceConfig{Lateness: time.Hour})
					return s2.UnmarshalBinary(b)
				}
			} else {
				r, err := NewReporter(ReportConfig{Lateness: time.Hour})
				require.NoError(t, err)
				require.NoError(t, r.UnmarshalBinary(b))
				xor = r.names.xorKeys
				applyAll(t, r, log[cut:])
				got = r.Report().Service
				again = func() error {
					b, err := r.MarshalBinary()
					require.NoError(t, err)
					r2, _ := NewReporter(ReportConfig{Lateness: time.Hour})
					return r2.UnmarshalBinary(b)
				}
			}
			assert.Equal(t, want(xor), got)
			assert.NoError(t, again(), "the snapshot of what it went on to")
		})
	}
}
