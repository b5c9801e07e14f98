package storetest

import (
	"encoding/binary"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
)

// testLoadInVersionOrder: events that share one time, with ids that fall
// as their versions rise, come back in version order: a store that sorts
// by time, or by time and id, returns them shuffled. Real streams have
// such events: an issue opened and routed within one second, a bot that
// opens and resolves at once, ids of an import that are not time-ordered.
func testLoadInVersionOrder(t *testing.T, fx *fixture) {
	issue := fx.newIssue()
	evs := fx.batch(issue, 0, 12, "w")
	for i := range evs {
		evs[i].At = evs[0].At
		evs[i].ID = fallingID(len(evs) - i)
	}
	require.Less(t, evs[1].ID.String(), evs[0].ID.String(), "ids fall as versions rise")
	var want []events.Envelope
	for _, part := range [][2]int{{0, 1}, {1, 2}, {2, 7}, {7, 12}} {
		want = append(want, fx.append(issue, uint64(part[0]), evs[part[0]:part[1]])...)
	}
	fx.assertSame(want, fx.load(issue), "load returns the events in version order, whatever their times and ids")
	fx.assertSame(want, fx.readOwn(before(want)), "read all returns them in version order too")
}

// fallingID returns a new random id of version 4 that sorts before
// fallingID(n+1) as bytes and as a string: n is in its first four bytes.
func fallingID(n int) uuid.UUID {
	id := uuid.New()
	binary.BigEndian.PutUint32(id[:4], uint32(n))
	return id
}

// testReadAllLongLog: a log longer than a store's pages (Features.LongLog
// events) reads back whole, every event once and in order, from its start
// and from positions across it. A store that reads in pages and loses or
// repeats the event at a page's edge passes the other cases, whose reads
// are shorter than a page.
func testReadAllLongLog(t *testing.T, fx *fixture) {
	const perAppend = 100
	streams := (fx.f.LongLog + perAppend - 1) / perAppend / 4
	streams = max(streams, 1)
	issues := make([]uuid.UUID, streams)
	for i := range issues {
		issues[i] = fx.newIssue()
	}
	var all []events.Envelope
	for round := uint64(0); len(all) < fx.f.LongLog; round++ {
		for _, issue := range issues {
			all = append(all, fx.append(issue, round*perAppend, fx.batch(issue, round*perAppend, perAppend, "w"))...)
		}
	}
	read := fx.readOwn(before(all))
	fx.checkGlobalOrder(before(all), all, read)
	require.Len(t, read, len(all), "read all yields every event of a log of %d", len(all))
	for _, k := range []int{1, 99, 100, 101, 499, 500, 501, 999, 1000, 1001, len(all)/2 + 7, len(all) - 1} {
		if k >= len(all) {
			continue
		}
		after := all[k-1].Position
		got := fx.readOwn(after)
		if !assert.Len(t, got, len(all)-k, "events after the %d-th (position %d)", k, after) {
			continue
		}
		assert.Equal(t, all[k].ID, got[0].ID, "the first event after the %d-th (position %d)", k, after)
		assert.Equal(t, all[len(all)-1].ID, got[len(got)-1].ID, "the last event after the %d-th (position %d)", k, after)
	}
}

// testStoreKeepsItsOwnCopy: changing an event after appending it, or one
// that Load or ReadAll returned, changes nothing stored.
func testStoreKeepsItsOwnCopy(t *testing.T, fx *fixture) {
	issue := fx.newIssue()
	given := fx.batch(issue, 0, 9, "w") // every built-in type
	want := deepCopy(t, given)
	got := fx.append(issue, 0, given)
	for i := range want {
		want[i].Position = got[i].Position
	}
	spoil(given)
	spoil(got)
	fx.assertSame(want, fx.load(issue), "after the appended events were changed")
	spoil(fx.load(issue))
	spoil(fx.readOwn(before(want)))
	fx.assertSame(want, fx.load(issue), "after the loaded and read events were changed")
	fx.assertSame(want, fx.readOwn(before(want)), "read after the loaded and read events were changed")
}

// deepCopy returns evs through the msgpack codec, which shares nothing
// with them.
func deepCopy(t *testing.T, evs []events.Envelope) []events.Envelope {
	codec := events.NewMsgpackCodec(nil)
	out := make([]events.Envelope, len(evs))
	for i, e := range evs {
		b, err := codec.Append(nil, e)
		require.NoError(t, err)
		out[i], err = codec.Decode(b)
		require.NoError(t, err)
		out[i].Position = e.Position
	}
	return out
}

// spoil changes, in place, what evs share with whoever handed them out:
// their metadata and the data behind their pointers.
func spoil(evs []events.Envelope) {
	for _, e := range evs {
		if e.Meta != nil {
			e.Meta["writer"] = "changed"
		}
		switch d := e.Data.(type) {
		case *events.Opened:
			d.Topic = "changed"
			d.Customer.Keys[0] = "phone:+10000000000"
			d.Extra["vip"] = false
		case *events.Routed:
			d.Queue = "changed"
			d.Skills[0] = "changed"
		case *events.Consulted:
			d.Expert = "changed"
		case *events.Resolved:
			d.Agent = "changed"
		case *events.Reopened:
			d.Reason = "changed"
		case *events.Contacted:
			d.Channel = "changed"
		case *events.Abandoned:
			d.Wait++
		case *events.Rated:
			d.Score = 1
		case *events.Classified:
			d.Topics[0] = "changed"
		}
	}
}
