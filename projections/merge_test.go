package projections_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/internal/simulate"
	"github.com/truefcr/truefcr/projections"
)

// customerIDs links the identity keys that appear together on an opening,
// transitively, as a CRM would, and names each customer by one key.
type customerIDs map[string]string

func (c customerIDs) root(k string) string {
	for c[k] != "" && c[k] != k {
		c[k] = c[c[k]] // halve the path
		k = c[k]
	}
	return k
}

func (c customerIDs) link(keys []string) {
	for _, k := range keys {
		if c[k] == "" {
			c[k] = k
		}
	}
	for _, k := range keys[1:] {
		if a, b := c.root(keys[0]), c.root(k); a != b {
			c[b] = a
		}
	}
}

// partitioned returns the log with every event stamped with the partition
// key of its customer, plus one opening per partition at the log's last
// event time, so that every partition's watermark reaches the same time.
func partitioned(t testing.TB, log []events.Envelope, n int) []events.Envelope {
	t.Helper()
	ids := customerIDs{}
	for _, e := range log {
		if o, ok := events.As[*events.Opened](e); ok {
			ids.link(o.Customer.Keys)
		}
	}
	issueKey := map[uuid.UUID]string{}
	out := make([]events.Envelope, 0, len(log)+n)
	var last time.Time
	for _, e := range log {
		if o, ok := events.As[*events.Opened](e); ok {
			issueKey[e.Issue] = ids.root(o.Customer.Keys[0])
		}
		e.Meta = events.Meta{events.MetaPartitionKey: issueKey[e.Issue]}
		out = append(out, e)
		if e.At.After(last) {
			last = e.At
		}
	}
	for p, i := 0, 0; p < n; i++ {
		key := fmt.Sprintf("account:closing-%d", i)
		if events.PartitionOf(key, n) != p {
			continue
		}
		out = append(out, events.Envelope{ID: uuid.New(), Issue: uuid.New(), Version: 1, At: last,
			Meta: events.Meta{events.MetaPartitionKey: key},
			Data: &events.Opened{Customer: events.Customer{Keys: []string{key}}, Channel: "web", Topic: "closing", Contact: uuid.New()}})
		p++
	}
	return out
}

// Each partition's FCR folds the problems that settled, as the one over
// all events does, so the merge is compared with the default lateness and
// with one longer than the log, which keeps every problem live.
func TestMergeFCRReportsEqualsOneFCROverAllEvents(t *testing.T) {
	log, _, err := simulate.Collect(simulate.Config{Seed: 7, Days: 14, Customers: 300, IssuesPerDay: 60})
	require.NoError(t, err)
	require.Greater(t, len(log), 3000)
	for _, cfg := range []projections.FCRConfig{
		{Window: 24 * time.Hour},
		{Window: 72 * time.Hour, Match: projections.MatchAny, Lateness: 30 * 24 * time.Hour},
		{Window: 24 * time.Hour, MinSample: 1 << 40}, // every rate small
	} {
		for _, n := range []int{1, 2, 5} {
			t.Run(fmt.Sprintf("window %s match %s lateness %s, %d partitions", cfg.Window, cfg.Match, cfg.Lateness, n), func(t *testing.T) {
				evs := partitioned(t, log, n)
				whole := mustFCR(cfg)
				parts := make([]*projections.FCR, n)
				for i := range parts {
					parts[i] = mustFCR(cfg)
				}
				for _, e := range evs {
					require.NoError(t, whole.Apply(e))
					require.NoError(t, parts[events.PartitionOf(events.PartitionKey(e), n)].Apply(e))
				}
				reports := make([]projections.FCRReport, n)
				for i, p := range parts {
					reports[i] = p.Report()
					require.NotZero(t, reports[i].Problems, "every partition has problems")
				}
				merged, err := projections.MergeFCRReports(reports...)
				require.NoError(t, err)
				want := whole.Report()
				require.NotZero(t, want.Failed)
				require.NotEmpty(t, want.ChannelSwitch)
				if n > 1 {
					want.Definition.Partitions = n // which the merge says
				}
				assert.Equal(t, want, merged)
			})
		}
	}
}

func TestMergeFCRReportsRefusesDifferentDefinitions(t *testing.T) {
	day := mustFCR(projections.FCRConfig{Window: 24 * time.Hour}).Report()
	week := mustFCR(projections.FCRConfig{}).Report()
	_, err := projections.MergeFCRReports(day, week)
	require.Error(t, err)
	assert.ErrorIs(t, err, projections.ErrMergeMismatch)
	assert.Contains(t, err.Error(), "report 1 has window 168h0m0s, report 0 24h0m0s")

	// One restored from a snapshot that counted reported FCR by another
	// rule.
	other := week
	other.Definition.Reported += "; another rule"
	_, err = projections.MergeFCRReports(week, other)
	assert.ErrorIs(t, err, projections.ErrMergeMismatch)
	assert.ErrorContains(t, err, `report 1 has reported FCR rule "resolved issue records`)

	// A field the summary leaves out, such as a library's wording of a
	// rule, is named too.
	worded := week
	worded.Definition.Denominator = "problems of another wording"
	_, err = projections.MergeFCRReports(week, week, worded)
	assert.ErrorIs(t, err, projections.ErrMergeMismatch)
	assert.ErrorContains(t, err, `report 2 has denominator "problems of another wording"`)

	_, err = projections.MergeFCRReports()
	assert.ErrorIs(t, err, projections.ErrMergeMismatch)
}

func ExampleMergeFCRReports() {
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	open := func(customer, channel string) events.Envelope {
		return events.Envelope{ID: uuid.New(), Issue: uuid.New(), Version: 1, At: at,
			Meta: events.Meta{events.MetaPartitionKey: customer},
			Data: &events.Opened{Customer: events.Customer{ID: customer}, Channel: channel, Topic: "billing", Contact: uuid.New()}}
	}
	parts := []*projections.FCR{mustFCR(projections.FCRConfig{}), mustFCR(projections.FCRConfig{})}
	for _, e := range []events.Envelope{open("anna", "phone"), open("ben", "chat"), open("carla", "email")} {
		_ = parts[events.PartitionOf(events.PartitionKey(e), len(parts))].Apply(e)
	}
	merged, _ := projections.MergeFCRReports(parts[0].Report(), parts[1].Report())
	fmt.Println("issues:", merged.Issues, "unresolved problems:", merged.Unresolved)
	// Output: issues: 3 unresolved problems: 3
}

// Lateness is judged against each FCR's own watermark: customer a's call
// back (10:00) reaches the projections after customer b's opening, two
// days later, in the other partition. One FCR over all the events finds
// it more than the lateness behind and leaves it out; a's partition takes
// it as on time, a repeat that fails the problem. Advancing every FCR to
// one time does not undo it, as MergeFCRReports' doc says.
func TestMergeOfAnEventLateAcrossPartitions(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	const n = 2
	ka, kb := "customer:a", "customer:b"
	require.NotEqual(t, events.PartitionOf(ka, n), events.PartitionOf(kb, n))
	ia, ia2, ib, ca, ca2, cb := uuid.New(), uuid.New(), uuid.New(), uuid.New(), uuid.New(), uuid.New()
	meta := func(k string) events.Meta { return events.Meta{events.MetaPartitionKey: k} }
	delivered := []events.Envelope{
		{ID: uuid.New(), Issue: ia, Version: 1, At: at, Meta: meta(ka),
			Data: &events.Opened{Customer: events.Customer{ID: ka}, Channel: "phone", Topic: "billing", Contact: ca}},
		{ID: uuid.New(), Issue: ia, Version: 2, At: at.Add(10 * time.Minute), Meta: meta(ka),
			Data: &events.Resolved{Contact: ca}},
		{ID: uuid.New(), Issue: ib, Version: 1, At: at.Add(48 * time.Hour), Meta: meta(kb),
			Data: &events.Opened{Customer: events.Customer{ID: kb}, Channel: "chat", Topic: "billing", Contact: cb}},
		{ID: uuid.New(), Issue: ia2, Version: 1, At: at.Add(time.Hour), Meta: meta(ka),
			Data: &events.Opened{Customer: events.Customer{ID: ka}, Channel: "phone", Topic: "billing", Contact: ca2}},
	}
	cfg := projections.FCRConfig{Window: 24 * time.Hour, Lateness: time.Hour}
	whole := mustFCR(cfg)
	parts := []*projections.FCR{mustFCR(cfg), mustFCR(cfg)}
	for _, e := range delivered {
		require.NoError(t, whole.Apply(e))
		require.NoError(t, parts[events.PartitionOf(events.PartitionKey(e), n)].Apply(e))
	}
	end := at.Add(10 * 24 * time.Hour)
	require.NoError(t, whole.AdvanceTo(end))
	var reps []projections.FCRReport
	for _, p := range parts {
		require.NoError(t, p.AdvanceTo(end))
		reps = append(reps, p.Report())
	}
	merged, err := projections.MergeFCRReports(reps...)
	require.NoError(t, err)
	single := whole.Report()
	assert.Equal(t, [2]int64{1, 1}, [2]int64{single.LateEvents, single.LateDropped}, "late for one FCR, and left out")
	assert.Equal(t, [2]int64{1, 0}, [2]int64{single.Achieved, single.Failed}, "a's problem, without the call back")
	assert.Zero(t, merged.LateEvents, "on time in a's partition")
	assert.Equal(t, [2]int64{0, 1}, [2]int64{merged.Achieved, merged.Failed}, "a's problem, with the call back")
}

// The merged definition counts the partitions whose reports it holds, a
// merge of merges too, and merges reports that hold different numbers;
// the text says that identifiers were linked within each partition only.
func TestMergedReportSaysHowManyPartitionsItHolds(t *testing.T) {
	a := mustFCR(projections.FCRConfig{}).Report()
	one, err := projections.MergeFCRReports(a)
	require.NoError(t, err)
	assert.Zero(t, one.Definition.Partitions, "one report is itself")
	two, err := projections.MergeFCRReports(a, a)
	require.NoError(t, err)
	assert.Equal(t, 2, two.Definition.Partitions)
	three, err := projections.MergeFCRReports(two, a)
	require.NoError(t, err)
	assert.Equal(t, 3, three.Definition.Partitions)

	rep := projections.Report{FCR: three}
	rep.Definition.FCRDefinition = three.Definition
	var b strings.Builder
	require.NoError(t, rep.WriteText(&b))
	assert.Contains(t, b.String(), "merged from the reports of 3 partitions: identifiers are linked within each partition only")
	js, err := json.Marshal(three.Definition)
	require.NoError(t, err)
	assert.Contains(t, string(js), `"partitions":3`)
	js, err = json.Marshal(a.Definition)
	require.NoError(t, err)
	assert.NotContains(t, string(js), "partitions")
}
