package projections

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/internal/simulate"
)

// Pairs of contact ids as hosts make them by hand or by counting, which
// the halves of the id XORed (xorKey) folded to one key: each pair is two
// contacts of one issue, and counts as two.
func TestContactKeysTellMadeUpIDsApart(t *testing.T) {
	pairs := [][2]string{
		{"11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"}, // halves equal: the key of uuid.Nil
		{"0193a4c2-7a9e-7000-8000-0000000000c1", "0193a4c2-7a9e-70c1-8000-000000000000"}, // swapped bytes
		{"00000000-0000-0000-8000-000000000001", "00000000-0000-0000-8100-000000000001"}, // the low bits that fcrRec.key holds
	}
	require.Zero(t, contactKey(uuid.Nil), "the key of the stand-in for a contact that is not known")
	for _, p := range pairs {
		a, b := uuid.MustParse(p[0]), uuid.MustParse(p[1])
		require.NotZero(t, contactKey(a))
		require.NotZero(t, contactKey(b))
		l := newFCRLog()
		issue, _ := l.open(at(0, 9, 0), []string{"email:anna@example.com"}, "phone", "billing")
		l.evs[len(l.evs)-1].Data.(*events.Opened).Contact = a
		l.route(issue, at(0, 9, 1), a, "q", "ann")
		l.resolve(issue, at(0, 9, 10), a, "ann", false)
		l.add(issue, at(0, 12, 0), &events.Reopened{Contact: b, Channel: "chat"})
		l.route(issue, at(0, 12, 1), b, "q", "bob")
		l.resolve(issue, at(0, 12, 10), b, "bob", false)
		r, err := NewReporter(ReportConfig{MaxFuture: -1})
		require.NoError(t, err)
		require.NoError(t, r.ApplyBatch(l.evs))
		require.NoError(t, r.AdvanceTo(at(30, 0, 0)))
		rep := r.Report()
		assert.Equal(t, int64(1), rep.FCR.Failed, "%s and %s: one problem, two counted contacts", a, b)
		assert.Equal(t, int64(2), rep.Service.Offered, "%s and %s", a, b)
		assert.Equal(t, int64(2), rep.Service.Handled, "%s and %s", a, b)
		assert.Equal(t, int64(2), rep.Volume.Contacts, "%s and %s", a, b)
		assert.Equal(t, map[string]int64{"phone": 1, "chat": 1}, rep.Volume.ByChannel, "%s and %s", a, b)
	}
}

// A Reporter restored from snapshots of the formats that keyed contacts
// by xorKey (FCR 6, KPI 4) keys the contacts of the issues it holds so
// on, and says so in its own snapshots: the report equals one that never
// snapshotted.
func TestRestoreOfSnapshotsKeyedByXOR(t *testing.T) {
	log, _, err := simulate.Collect(simulate.Config{Seed: 3, Days: 20, Customers: 2000, IssuesPerDay: 300})
	require.NoError(t, err)
	cfg := ReportConfig{MaxFuture: -1}
	run := func(r *Reporter, evs []events.Envelope) *Reporter {
		t.Helper()
		for i := 0; i < len(evs); i += 1000 {
			require.NoError(t, r.ApplyBatch(evs[i:min(i+1000, len(evs))]))
		}
		return r
	}
	want := run(mustReporter(t, cfg), log).Report()

	cut := len(log) / 2
	old := mustReporter(t, cfg)
	old.fcr.xorKeys, old.names.xorKeys = true, true // as a build before them
	run(old, log[:cut])
	b, err := old.MarshalBinary()
	require.NoError(t, err)
	b = editSnapshot(t, b, func(s *reportSnap) {
		s.FCR = editSnapshot(t, s.FCR, func(f *fcrSnap) { f.Format, f.XORKeys = 6, false })
		s.KPI = editSnapshot(t, s.KPI, func(k *kpiSnap) { k.Format, k.XORKeys = 4, false })
	})

	restored := mustReporter(t, cfg)
	require.NoError(t, restored.UnmarshalBinary(b))
	assert.True(t, restored.fcr.xorKeys)
	assert.True(t, restored.names.xorKeys)
	run(restored, log[cut:cut+cut/2])
	again := mustReporter(t, cfg)
	require.NoError(t, again.UnmarshalBinary(mustMarshal(t, restored)))
	run(again, log[cut+cut/2:])
	assert.Equal(t, want, again.Report())
}

// mustReporter is NewReporter of a configuration the test knows to be
// valid.
func mustReporter(t *testing.T, cfg ReportConfig) *Reporter {
	t.Helper()
	r, err := NewReporter(cfg)
	require.NoError(t, err)
	return r
}
