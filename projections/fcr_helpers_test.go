package projections

import (
	"encoding/binary"
	"hash/crc32"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/truefcr/truefcr/events"
)

// day0 is the Monday that the hand-written scenarios start on.
var day0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

// at returns day0 plus d days, h hours and m minutes.
func at(d, h, m int) time.Time {
	return day0.Add(time.Duration(d)*24*time.Hour + time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
}

// fcrLog writes a log of events for tests, with deterministic ids.
type fcrLog struct {
	evs  []events.Envelope
	vers map[uuid.UUID]uint64
	n    uint64
}

func newFCRLog() *fcrLog { return &fcrLog{vers: make(map[uuid.UUID]uint64)} }

// id returns a new deterministic uuid.
func (l *fcrLog) id() uuid.UUID {
	l.n++
	var u uuid.UUID
	binary.BigEndian.PutUint64(u[8:], l.n)
	u[6], u[8] = 0x70, 0x80|u[8]&0x3f
	return u
}

// flush applies the events logged since the last flush to f, and forgets
// them.
func (l *fcrLog) flush(t testing.TB, f *FCR) {
	t.Helper()
	for _, e := range l.evs {
		require.NoError(t, f.Apply(e))
	}
	l.evs = l.evs[:0]
}

// add appends the next event of issue.
func (l *fcrLog) add(issue uuid.UUID, t time.Time, d events.Data) events.Envelope {
	l.vers[issue]++
	e := events.Envelope{ID: l.id(), Issue: issue, Version: l.vers[issue], At: t, Data: d}
	l.evs = append(l.evs, e)
	return e
}

// open opens a new issue and returns it with its opening contact.
func (l *fcrLog) open(t time.Time, keys []string, channel, topic string) (issue, contact uuid.UUID) {
	issue, contact = l.id(), l.id()
	l.add(issue, t, &events.Opened{Customer: events.Customer{Keys: keys}, Channel: channel, Topic: topic, Contact: contact})
	return issue, contact
}

func (l *fcrLog) route(issue uuid.UUID, t time.Time, contact uuid.UUID, queue, agent string) {
	l.add(issue, t, &events.Routed{Contact: contact, Queue: queue, Agent: agent})
}

func (l *fcrLog) resolve(issue uuid.UUID, t time.Time, contact uuid.UUID, agent string, bot bool) {
	l.add(issue, t, &events.Resolved{Contact: contact, Agent: agent, Bot: bot})
}

func (l *fcrLog) contacted(issue uuid.UUID, t time.Time, channel string) uuid.UUID {
	c := l.id()
	l.add(issue, t, &events.Contacted{Contact: c, Channel: channel})
	return c
}

func (l *fcrLog) reopen(issue uuid.UUID, t time.Time, channel string) uuid.UUID {
	c := l.id()
	l.add(issue, t, &events.Reopened{Contact: c, Channel: channel})
	return c
}

func (l *fcrLog) abandon(issue uuid.UUID, t time.Time, contact uuid.UUID) {
	l.add(issue, t, &events.Abandoned{Contact: contact})
}

func (l *fcrLog) rate(issue uuid.UUID, t time.Time, score int) {
	l.add(issue, t, &events.Rated{Survey: events.SurveyCSAT, Score: score})
}

func (l *fcrLog) classify(issue uuid.UUID, t time.Time, topic string) {
	l.add(issue, t, &events.Classified{Topic: topic})
}

// solved opens an issue that is answered and resolved on its first
// contact ten minutes later, by a human agent.
func (l *fcrLog) solved(t time.Time, keys []string, channel, topic, agent string) uuid.UUID {
	issue, c := l.open(t, keys, channel, topic)
	l.resolve(issue, t.Add(10*time.Minute), c, agent, false)
	return issue
}

// tick opens an issue of a customer of its own at t, to move the
// watermark there.
func (l *fcrLog) tick(t time.Time) {
	l.open(t, []string{"account:clock"}, "web", "clock/tick")
}

// run applies evs to a new FCR and returns its report.
func runFCR(t testing.TB, cfg FCRConfig, evs []events.Envelope) FCRReport {
	t.Helper()
	f := mustFCR(cfg)
	for _, e := range evs {
		require.NoError(t, f.Apply(e))
	}
	return f.Report()
}

// seal returns the sealed form of snapshot b, as marshalSealed writes it.
func seal(b []byte) []byte {
	out := append([]byte(sealMagic), b...)
	return binary.BigEndian.AppendUint32(out, crc32.Checksum(b, castagnoli))
}

// unsealed returns the snapshot that b seals, unchecked, or b when it is
// not sealed: for a test that reads a snapshot's fields.
func unsealed(b []byte) []byte {
	if body, ok := sealed(b); ok {
		return body
	}
	return b
}

// editSnapshot returns the msgpack snapshot b, decoded as a T, changed by
// change and encoded again, sealed again when b was: a snapshot that the
// projection did not save, whose checksum holds.
func editSnapshot[T any](t testing.TB, b []byte, change func(*T)) []byte {
	t.Helper()
	body, wasSealed := sealed(b)
	if !wasSealed {
		body = b
	}
	var s T
	require.NoError(t, msgpack.Unmarshal(body, &s))
	change(&s)
	out, err := msgpack.Marshal(&s)
	require.NoError(t, err)
	if wasSealed {
		out = seal(out)
	}
	return out
}

// observe is observeAt of e, as Apply calls it.
func (f *FCR) observe(e events.Envelope) bool {
	return f.observeAt(e.At.UnixNano(), f.lookup(e.Issue) >= 0)
}

// mustFCR is NewFCR of a configuration that the test knows to be valid.
func mustFCR(cfg FCRConfig) *FCR {
	f, err := NewFCR(cfg)
	if err != nil {
		panic(err)
	}
	return f
}
