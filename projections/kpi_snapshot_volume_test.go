package projections

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
)

// A Volume's snapshot whose issue states disagree with its counts is
// refused, as a Volume does not write one: an issue that counts fewer
// contacts than it has, or counts below what the issues tracked hold. A
// state restored so took a count below zero at the next event, and
// indexed the contacts-per-issue buckets at -1 (a panic). Each case
// spoils a snapshot of one opened issue, then restores it into a Volume
// alone and into a Reporter, and the unspoiled snapshot still restores and
// takes the next event.
func TestVolumeRestoreRefusesStatesThatDisagreeWithItsCounts(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	issue, contact := uuid.MustParse("00000000-0000-7000-8000-000000000001"), uuid.MustParse("00000000-0000-7000-8000-0000000000c1")
	opened := events.Envelope{ID: uuid.New(), Issue: issue, Version: 1, At: at,
		Data: &events.Opened{Customer: events.Customer{ID: "c"}, Channel: "phone", Topic: "billing", Contact: contact}}
	abandoned := events.Envelope{ID: uuid.New(), Issue: issue, Version: 2, At: at.Add(time.Minute),
		Data: &events.Abandoned{Contact: contact, Wait: 30 * time.Second}}
	values := map[string]Value{"billing": ValueCustomer}
	subjects := kpiSubjects(t, "volume", func() (snapshotting, error) { return NewVolume(VolumeConfig{Values: values}) },
		ReportConfig{Volume: VolumeConfig{Values: values}})
	assertRefusesSpoiled(t, subjects, []events.Envelope{opened}, abandoned, func(int) []kpiSpoil {
		return []kpiSpoil{
			{"state counts none", func(s *kpiSnap) { s.Horizons[len(s.Horizons)-1].Issues[0].State.Counted = 0 }, "counts 0 contacts, of which 1 count"},
			{"no contacts", func(s *kpiSnap) { s.Volume.Counts[0], s.Volume.ByValue[0].N = 0, 0 }, "0 contacts, fewer than the 1"},
			{"no issues", func(s *kpiSnap) { s.Volume.Counts[1] = 0 }, "0 issues, fewer than the 1"},
			{"no contacts of issues", func(s *kpiSnap) { s.Volume.Counts[2] = 0 }, "0 contacts of issues"},
			{"no issue of one contact", func(s *kpiSnap) { s.Volume.PerIssue[1] = 0 }, "bucket 1"},
			{"no channels", func(s *kpiSnap) { s.Volume.ByChannel = nil }, "contacts of channel"},
			{"no topics", func(s *kpiSnap) { s.Volume.ByTopic = nil }, "contacts of topic"},
			{"no days", func(s *kpiSnap) { s.Volume.ByDay = nil }, "contacts on day"},
			{"no contacts of a value", func(s *kpiSnap) {
				s.Volume.ByValue = []kpiSnapValue{{Value: string(ValueCustomer)}, {Value: string(ValueUntagged), N: 1}}
			}, `contacts of value "customer"`},
		}
	})
}

// kpiSubject is a projection whose snapshot a test spoils: how to make
// one, how to spoil the KPI part of its snapshot, and which of the
// snapshot's horizons tracks the issues of the projection under test.
type kpiSubject struct {
	name    string
	make    func() snapshotting
	edit    func(t testing.TB, b []byte, spoil func(*kpiSnap)) []byte
	horizon int
}

// kpiSubjects returns the projection that alone makes, named name, a
// Reporter of cfg, and a Reporter of cfg whose satisfaction's lateness
// is an hour, so that its projections keep a horizon each (in the order
// service, satisfaction, volume).
func kpiSubjects(t *testing.T, name string, alone func() (snapshotting, error), cfg ReportConfig) []kpiSubject {
	must := func(p snapshotting, err error) snapshotting {
		require.NoError(t, err)
		return p
	}
	editReport := func(t testing.TB, b []byte, spoil func(*kpiSnap)) []byte {
		return editSnapshot(t, b, func(s *reportSnap) { s.KPI = editSnapshot(t, s.KPI, spoil) })
	}
	split := cfg
	split.Satisfaction.Lateness = time.Hour
	each := map[string]int{"service level": 0, "satisfaction": 1, "volume": 2}[name]
	return []kpiSubject{
		{name, func() snapshotting { return must(alone()) }, editSnapshot[kpiSnap], 0},
		{"report", func() snapshotting { return must(NewReporter(cfg)) }, editReport, 0},
		{"report, a horizon each", func() snapshotting {
			r := must(NewReporter(split)).(*Reporter)
			require.Nil(t, r.kpi, "the projections keep a horizon each")
			return r
		}, editReport, each},
	}
}

// kpiSpoil spoils a snapshot, whose restore gives reason.
type kpiSpoil struct {
	name   string
	spoil  func(*kpiSnap)
	reason string
}

// assertRefusesSpoiled feeds evs to each subject and snapshots it; each
// spoiled snapshot (cases, given the subject's horizon) is refused with
// its reason and leaves a projection that takes next, as it was: empty;
// the unspoiled snapshot restores, takes next and is saved again.
func assertRefusesSpoiled(t *testing.T, subjects []kpiSubject, evs []events.Envelope, next events.Envelope, cases func(horizon int) []kpiSpoil) {
	for _, sub := range subjects {
		p := sub.make()
		for _, e := range evs {
			require.NoError(t, p.Apply(e))
		}
		good, err := p.MarshalBinary()
		require.NoError(t, err)
		for _, tt := range cases(sub.horizon) {
			t.Run(fmt.Sprintf("%s/%s", sub.name, tt.name), func(t *testing.T) {
				q := sub.make()
				err := q.UnmarshalBinary(sub.edit(t, good, tt.spoil))
				require.ErrorIs(t, err, ErrKPISnapshot)
				assert.ErrorContains(t, err, tt.reason)
				assert.NoError(t, q.Apply(next), "the projection is as it was: empty")
			})
		}
		q := sub.make()
		require.NoError(t, q.UnmarshalBinary(good), sub.name)
		require.NoError(t, q.Apply(next), sub.name)
		_, err = q.MarshalBinary()
		require.NoError(t, err, sub.name)
	}
}

// A Volume restores the snapshot of one with the same breakdown by value
// only: empty value tags (Values of no topic) count contacts by value, and
// nil does not, which the tags a snapshot lists do not tell apart. One
// that has seen nothing restores into either. Counts by value that do not
// sum to the contacts are refused.
func TestVolumeRestoreRefusesAnotherBreakdownByValue(t *testing.T) {
	evs := kpiGenerate(1, 20, time.Minute)
	configs := []struct {
		name   string
		values map[string]Value
	}{{"nil", nil}, {"empty", map[string]Value{}}}
	for _, from := range configs {
		v, err := NewVolume(VolumeConfig{Values: from.values})
		require.NoError(t, err)
		empty, err := v.MarshalBinary()
		require.NoError(t, err)
		applyAll(t, v, evs)
		b, err := v.MarshalBinary()
		require.NoError(t, err)
		for _, to := range configs {
			w, err := NewVolume(VolumeConfig{Values: to.values})
			require.NoError(t, err)
			require.NoError(t, w.UnmarshalBinary(empty), "nothing counted, from %s to %s", from.name, to.name)
			err = w.UnmarshalBinary(b)
			if from.name == to.name {
				require.NoError(t, err, "from %s", from.name)
				assert.Equal(t, v.Report(), w.Report())
				continue
			}
			assert.ErrorIs(t, err, ErrKPISnapshot, "from %s to %s", from.name, to.name)
			assert.ErrorContains(t, err, "counts by value, restored into a Volume with", "from %s to %s", from.name, to.name)
		}
		if from.values != nil {
			w, err := NewVolume(VolumeConfig{Values: from.values})
			require.NoError(t, err)
			err = w.UnmarshalBinary(editSnapshot(t, b, func(s *kpiSnap) { s.Volume.ByValue[0].N-- }))
			assert.ErrorIs(t, err, ErrKPISnapshot)
			assert.ErrorContains(t, err, "counts by value sum to")
		}
	}
}
