package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
)

// Features declares what the store under test promises beyond the
// events.Store contract and how hard the suite pushes it. The zero value
// suits any store: Positions may have gaps, the concurrency cases use 8
// writers and 400 events, and the long read 3,000 events.
type Features struct {
	// GaplessPositions says that the store numbers events 1, 2, 3… with no
	// gaps, so the suite checks that every event read follows the one
	// before it by exactly one. Leave it false for a store whose Positions
	// may skip numbers, such as one fed by a database sequence that loses
	// the numbers of rolled-back transactions.
	GaplessPositions bool
	// Writers is how many goroutines append at the same time in the
	// concurrency cases; 0 means 8.
	Writers int
	// Events is how many events each concurrency case appends in total;
	// 0 means 400.
	Events int
	// LongLog is how many events, at least, the case that reads a long
	// log appends; 0 means 3,000. A store that reads in pages (a database
	// query with a LIMIT) needs it above three of its pages, so that the
	// read crosses page edges.
	LongLog int
	// TimeResolution is the finest event time that the store keeps (a
	// database column may keep microseconds); the suite writes times that
	// are whole multiples of it. 0 means a nanosecond.
	TimeResolution time.Duration
}

func (f Features) withDefaults() Features {
	if f.Writers <= 0 {
		f.Writers = 8
	}
	if f.Events <= 0 {
		f.Events = 400
	}
	if f.LongLog <= 0 {
		f.LongLog = 3000
	}
	if f.TimeResolution <= 0 {
		f.TimeResolution = time.Nanosecond
	}
	return f
}

// NewStore returns the store that one case of the suite runs on. It may
// return a new, empty store each time or the same one; it releases what it
// holds with t.Cleanup.
type NewStore func(t *testing.T) events.Store

// Run runs every case of the conformance suite as a subtest of t, each on a
// store from newStore.
func Run(t *testing.T, newStore NewStore, f Features) {
	t.Helper()
	f = f.withDefaults()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.run(t, &fixture{t: t, store: newStore(t), f: f, own: &issueSet{ids: make(map[uuid.UUID]bool)}})
		})
	}
}

// cases lists the suite; each case is in the file of its theme.
var cases = []struct {
	name string
	run  func(*testing.T, *fixture)
}{
	{"AppendAndLoadRoundTrip", testRoundTrip},
	{"LoadUnknownIssue", testLoadUnknown},
	{"VersionConflict", testVersionConflict},
	{"InvalidAppend", testInvalidAppend},
	{"BatchIsAllOrNothing", testBatchAllOrNothing},
	{"LoadInVersionOrder", testLoadInVersionOrder},
	{"StoreKeepsItsOwnCopy", testStoreKeepsItsOwnCopy},
	{"ReadFromPosition", testReadFromPosition},
	{"ReadAllLongLog", testReadAllLongLog},
	{"CancelledContext", testCancelledContext},
	{"CancelDuringReadAll", testCancelDuringReadAll},
	{"StopReadingEarly", testStopReadingEarly},
	{"ConcurrentAppendsToOneStream", testRaceOneStream},
	{"ConcurrentAppendsToManyStreams", testManyStreams},
	{"ReadAllWhileWriting", testReadWhileWriting},
}

// fixture is the state of one case: its store, and the issues it wrote,
// whose events are the only ones it judges.
type fixture struct {
	t     *testing.T
	store events.Store
	f     Features
	own   *issueSet
}

// issueSet is the set of issues that one case wrote.
type issueSet struct {
	mu  sync.Mutex
	ids map[uuid.UUID]bool
}

// sub returns the fixture for the subtest t, which shares the store and
// the issues.
func (fx *fixture) sub(t *testing.T) *fixture {
	s := *fx
	s.t = t
	return &s
}

func (fx *fixture) ctx() context.Context { return fx.t.Context() }

// newIssue returns a fresh issue id that the fixture counts as its own.
func (fx *fixture) newIssue() uuid.UUID {
	id := uuid.New()
	fx.own.mu.Lock()
	fx.own.ids[id] = true
	fx.own.mu.Unlock()
	return id
}

func (fx *fixture) isOwn(id uuid.UUID) bool {
	fx.own.mu.Lock()
	defer fx.own.mu.Unlock()
	return fx.own.ids[id]
}

// baseTime has digits down to the nanosecond, so that a store that drops
// precision it claims to keep is caught.
var baseTime = time.Date(2026, 3, 2, 9, 15, 0, 123456789, time.UTC)

// event returns a valid event for version v of issue. The type cycles
// through the built-in types, with optional fields and metadata set, so
// that a store that loses a field is caught. writer tags the event in its
// metadata.
func (fx *fixture) event(issue uuid.UUID, v uint64, writer string) events.Envelope {
	contact := uuid.NewSHA1(issue, fmt.Appendf(nil, "contact-%d", (v+1)/2))
	var data events.Data
	switch v % 9 {
	case 1:
		data = &events.Opened{
			Customer: events.Customer{ID: "C-" + writer, Keys: []string{"phone:+358401234567", "email:anna@example.com"}},
			Channel:  "phone", Topic: "billing/invoice-error", Contact: contact,
			Extra: events.Extra{"priority": json.Number("2"), "vip": true, "labels": []any{"a", "b"}},
		}
	case 2:
		data = &events.Routed{Contact: contact, Queue: "billing", Agent: "agent-7", Skills: []string{"fi", "billing"}, Wait: 42 * time.Second}
	case 3:
		data = &events.Consulted{Contact: contact, Agent: "agent-7", Expert: "expert-1", Duration: 90 * time.Second}
	case 4:
		data = &events.Resolved{Contact: contact, Agent: "agent-7", Bot: true, Code: "refund", Handle: 5 * time.Minute}
	case 5:
		data = &events.Reopened{Contact: contact, Channel: "chat", Reason: "still wrong"}
	case 6:
		data = &events.Contacted{Contact: contact, Channel: "email"}
	case 7:
		data = &events.Abandoned{Contact: contact, Wait: 3 * time.Minute}
	case 8:
		data = &events.Rated{Survey: events.SurveyNPS, Score: 9, Contact: contact}
	default:
		data = &events.Classified{Topic: "billing/refund", Topics: []string{"billing", "refund"}}
	}
	var meta events.Meta
	if v%3 != 0 { // some events have no metadata at all
		meta = events.Meta{events.MetaCorrelationID: fmt.Sprintf("corr-%d", v), "writer": writer}
	}
	at := baseTime.Add(time.Duration(v) * 1001 * time.Millisecond).Truncate(fx.f.TimeResolution)
	return events.Envelope{ID: uuid.New(), Issue: issue, Version: v, At: at, Data: data, Meta: meta}
}

// batch returns n events of issue with the versions after expected.
func (fx *fixture) batch(issue uuid.UUID, expected uint64, n int, writer string) []events.Envelope {
	evs := make([]events.Envelope, n)
	for i := range evs {
		evs[i] = fx.event(issue, expected+uint64(i)+1, writer)
	}
	return evs
}

// append appends evs and requires success; it returns what Append returned.
func (fx *fixture) append(issue uuid.UUID, expected uint64, evs []events.Envelope) []events.Envelope {
	fx.t.Helper()
	got, err := fx.store.Append(fx.ctx(), issue, expected, evs)
	require.NoError(fx.t, err, "append %d events to issue %s at version %d", len(evs), issue, expected)
	require.Len(fx.t, got, len(evs), "append returns the events it stored")
	return got
}

// load loads the events of issue and requires success.
func (fx *fixture) load(issue uuid.UUID) []events.Envelope {
	fx.t.Helper()
	got, err := fx.store.Load(fx.ctx(), issue)
	require.NoError(fx.t, err, "load issue %s", issue)
	return got
}

// readAll reads every event after position and requires success.
func (fx *fixture) readAll(after uint64) []events.Envelope {
	fx.t.Helper()
	var out []events.Envelope
	for e, err := range fx.store.ReadAll(fx.ctx(), after) {
		require.NoError(fx.t, err, "read all after position %d", after)
		out = append(out, e)
	}
	return out
}

// readOwn reads every event after position that belongs to an issue of
// this case.
func (fx *fixture) readOwn(after uint64) []events.Envelope {
	fx.t.Helper()
	var out []events.Envelope
	for _, e := range fx.readAll(after) {
		if fx.isOwn(e.Issue) {
			out = append(out, e)
		}
	}
	return out
}

// stored returns evs as a store gives them back: times in UTC, positions
// as assigned.
func stored(evs []events.Envelope) []events.Envelope {
	out := make([]events.Envelope, len(evs))
	for i, e := range evs {
		e.At = e.At.UTC()
		out[i] = e
	}
	return out
}

// assertSame asserts that got are the events want, in the same order.
func (fx *fixture) assertSame(want, got []events.Envelope, what string) bool {
	fx.t.Helper()
	return assert.Equal(fx.t, stored(want), stored(got), what)
}

// before returns the position just before the first of evs, from which a
// read sees all of them.
func before(evs []events.Envelope) uint64 {
	p := evs[0].Position
	for _, e := range evs {
		p = min(p, e.Position)
	}
	return p - 1
}

// checkGlobalOrder asserts that read, the events of this case read from
// position after, hold every event of want once, in strictly increasing
// Position, each stream in version order; and, for a gapless store, that
// the full read from after has no gaps.
func (fx *fixture) checkGlobalOrder(after uint64, want []events.Envelope, read []events.Envelope) {
	fx.t.Helper()
	t := fx.t
	byID := make(map[uuid.UUID]events.Envelope, len(want))
	for _, e := range want {
		byID[e.ID] = e
	}
	seen := make(map[uuid.UUID]bool, len(read))
	version := make(map[uuid.UUID]uint64)
	last := after
	for _, e := range read {
		if !assert.Greater(t, e.Position, last, "position of event %s (issue %s version %d)", e.ID, e.Issue, e.Version) {
			return
		}
		last = e.Position
		if !assert.False(t, seen[e.ID], "event %s at position %d was read twice", e.ID, e.Position) {
			return
		}
		seen[e.ID] = true
		if !assert.Equal(t, version[e.Issue]+1, e.Version, "issue %s: version after %d", e.Issue, version[e.Issue]) {
			return
		}
		version[e.Issue] = e.Version
		w, ok := byID[e.ID]
		if !assert.True(t, ok, "event %s at position %d was never appended", e.ID, e.Position) {
			return
		}
		fx.assertSame([]events.Envelope{w}, []events.Envelope{e}, "event read at position "+fmt.Sprint(e.Position))
	}
	assert.Equal(t, len(want), len(seen), "read all yields every appended event")
	if fx.f.GaplessPositions {
		p := after
		for _, e := range fx.readAll(after) {
			if !assert.Equal(t, p+1, e.Position, "positions have no gaps") {
				return
			}
			p = e.Position
		}
	}
}
