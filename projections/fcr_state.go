package projections

import (
	"encoding/binary"

	"github.com/google/uuid"
)

// fcrIssue is what the FCR projection keeps of one live issue. Its first
// resolution is kept in fields rather than in more, where most issues
// then need nothing: resPos says where it stands in stream order (see
// resFar for one that came after hundreds of recs).
type fcrIssue struct {
	id     uuid.UUID
	res    int64 // Unix ns of the first resolution, when resolved
	resKey uint64
	first  fcrRec    // the opening contact; first.at is when the issue opened
	more   *[]fcrRec // later contacts, resolutions after the first and reclassifications, in stream order; nil for none
	next   int32     // next issue of the same customer, -1 after the last
	node   int32     // an identifier of the issue's customer
	topic  uint32    // current topic; more holds the topics it replaced
	agent  uint32    // agent of the first resolution
	// ver is the last version applied while the FCR sequences the issue
	// in its slot; with fSeqd, its Sequencer does instead (events wait
	// for a gap, or the version outgrew ver).
	ver uint16
	// csatN counts the issue's CSAT answers (up to 255), csatSum sums them
	// and csatTop2 counts the 4s and 5s.
	csatN    uint8
	csatTop2 uint8
	csatSum  uint16
	resPos   uint8 // how many of more came before the first resolution, below resFar; resFar beyond
	flags    fcrFlags
}

// fcrFlags are an issue's yes-or-no facts, one bit each, which keeps an
// issue at 88 bytes.
type fcrFlags uint8

const (
	fResolved fcrFlags = 1 << iota // has a first resolution
	fBot                           // the first resolution was by a bot
	fLive                          // the slot holds an issue
	// fCut: an event came once the issue had settled: that event and
	// every later one of the stream are not applied (see FCR).
	fCut
	// fReclassified: more holds a reclassification; without one, the
	// issue's topic was always topic.
	fReclassified
	fSeqd // the Sequencer keeps the issue's stream (see ver)
)

// has reports whether every flag of fl is set.
func (is *fcrIssue) has(fl fcrFlags) bool { return is.flags&fl == fl }

// set sets the flags of fl, or clears them when on is false.
func (is *fcrIssue) set(fl fcrFlags, on bool) {
	if on {
		is.flags |= fl
	} else {
		is.flags &^= fl
	}
}

// issueSlab holds the FCR's issues in pages of a fixed size, so that
// growing it copies nothing (tens of megabytes, many times over, for a
// slice) and leaves less than a page unused. Issues are numbered from 0.
type issueSlab struct {
	pages []*[slabPage]fcrIssue
	n     int32
}

// The size of a page: 1024 issues of 88 bytes, 11 of the runtime's 8 KiB
// pages exactly (TestPagesFillTheRuntimesPages).
const (
	slabShift = 10
	slabPage  = 1 << slabShift
)

// at returns issue ix, which must be below len.
func (s *issueSlab) at(ix int32) *fcrIssue {
	return &s.pages[ix>>slabShift][ix&(slabPage-1)]
}

// len returns how many issues the slab numbers.
func (s *issueSlab) len() int32 { return s.n }

// add returns the number of a new, zero issue at the end.
func (s *issueSlab) add() int32 {
	if int(s.n>>slabShift) == len(s.pages) {
		s.pages = append(s.pages, new([slabPage]fcrIssue))
	}
	s.n++
	return s.n - 1
}

// fcrRec is one contact of an issue, one of its resolutions, or a
// reclassification.
type fcrRec struct {
	at int64
	// key is the contact id folded to 62 bits (recKey), with what the rec
	// is in the two bits below: recResolved, recAbandoned, recClassified.
	key uint64
	// channel is the contact's channel; of a reclassification, the topic
	// it replaced.
	channel uint32
	queue   uint32 // the queue of the contact's last routing; 0 if none
}

// The low bits of fcrRec.key.
const (
	recResolved   uint64 = 1 // a resolution rather than an inbound contact
	recAbandoned  uint64 = 2 // an inbound contact abandoned in the queue
	recClassified uint64 = 3 // a reclassification, with no contact
	recBits              = recResolved | recAbandoned
)

// counted reports whether r is a counted contact: an inbound contact that
// was not abandoned.
func (r *fcrRec) counted() bool { return r.key&recBits == 0 }

// resolution reports whether r is a resolution.
func (r *fcrRec) resolution() bool { return r.key&recBits == recResolved }

// inbound reports whether r is an inbound contact, abandoned or not.
func (r *fcrRec) inbound() bool { return r.key&recResolved == 0 }

// classification reports whether r is a reclassification.
func (r *fcrRec) classification() bool { return r.key&recBits == recClassified }

// contact returns the key of r's contact.
func (r *fcrRec) contact() uint64 { return r.key &^ recBits }

// contactKey folds a contact id to 64 bits: contacts are told apart only
// within one issue, where two ids collide with a probability of about
// 2⁻⁶² (2⁻⁶⁴ for the KPI projections, which keep every bit), however the
// ids were made: the halves are mixed, so that ids that differ in a few
// bits (hand-made, sequential), ids whose halves are equal
// ("11111111-1111-1111-1111-111111111111", which folds to the key of
// uuid.Nil by xorKey) or swapped, do not collide. uuid.Nil keys to 0, as
// do only the ids whose halves are made so (lo = hi·K).
func contactKey(c uuid.UUID) uint64 {
	// The high half times an odd constant is a bijection, as is fmix64:
	// ids that differ in one half only never collide.
	return fmix64(binary.LittleEndian.Uint64(c[8:]) ^ binary.LittleEndian.Uint64(c[:8])*0x9e3779b97f4a7c15)
}

// xorKey is how snapshots before FCR format 7 and KPI format 5 keyed
// contacts: the two halves of the id XORed. A projection restored from
// such a snapshot goes on keying its contacts so, as its stored keys
// cannot be keyed again; one made anew keys them by contactKey.
func xorKey(c uuid.UUID) uint64 {
	return binary.LittleEndian.Uint64(c[:8]) ^ binary.LittleEndian.Uint64(c[8:])
}

// recKey is the key of contact c in an fcrRec: contactKey, or xorKey for
// an FCR restored from a snapshot that keyed contacts so, with the bits
// of fcrRec.key that are not the contact's cleared.
func (f *FCR) recKey(c uuid.UUID) uint64 { return keyOf(c, f.xorKeys) &^ recBits }

// keyOf is contactKey of c, or xorKey with xor: how a projection keys
// contacts, which a snapshot of before FCR format 7 or KPI format 5 says.
func keyOf(c uuid.UUID, xor bool) uint64 {
	if xor {
		return xorKey(c)
	}
	return contactKey(c)
}

// recs returns the issue's contacts and resolutions after the opening.
func (is *fcrIssue) recs() []fcrRec {
	if is.more == nil {
		return nil
	}
	return *is.more
}

// push appends r to the issue's recs.
func (is *fcrIssue) push(r fcrRec) {
	if r.classification() {
		is.flags |= fReclassified
	}
	if is.more == nil {
		is.more = &[]fcrRec{r}
		return
	}
	*is.more = append(*is.more, r)
}

// rec returns the latest contact of the issue with the given key, or nil.
func (is *fcrIssue) rec(key uint64) *fcrRec {
	more := is.recs()
	for i := len(more) - 1; i >= 0; i-- {
		if r := &more[i]; r.inbound() && r.contact() == key {
			return r
		}
	}
	if is.first.contact() == key {
		return &is.first
	}
	return nil
}

// recIndexMin is how many recs an issue has from which FCR.rec looks its
// contacts up in an index rather than walking them back: routing the
// old contacts of an issue of thousands cost a walk over most of them.
const recIndexMin = 64

// recIndex maps the contacts of the first n recs of an issue to where
// the latest inbound rec of each stands in them.
type recIndex struct {
	at map[uint64]int32
	n  int
}

// rec returns is.rec(key) of issue is, in slot ix: with many recs, by
// their index, which it brings up to date with the recs pushed since
// (recs are only ever appended, and an abandonment keeps a rec inbound).
func (f *FCR) rec(ix int32, is *fcrIssue, key uint64) *fcrRec {
	more := is.recs()
	if len(more) < recIndexMin {
		return is.rec(key)
	}
	x := f.recIx[ix]
	if x == nil {
		if f.recIx == nil {
			f.recIx = make(map[int32]*recIndex)
		}
		x = &recIndex{at: make(map[uint64]int32, len(more))}
		f.recIx[ix] = x
	}
	for ; x.n < len(more); x.n++ {
		if r := &more[x.n]; r.inbound() {
			x.at[r.contact()] = int32(x.n)
		}
	}
	if k, ok := x.at[key]; ok {
		return &more[k]
	}
	if is.first.contact() == key {
		return &is.first
	}
	return nil
}

// classify records a change of topic at time at.
func (is *fcrIssue) classify(at int64, topic uint32) {
	if topic == is.topic {
		return
	}
	is.push(fcrRec{at: at, key: recClassified, channel: is.topic})
	is.topic = topic
}

// topicAt returns the issue's topic as given by its reclassifications
// before time t.
func (is *fcrIssue) topicAt(t int64) uint32 {
	topic := is.topic
	if !is.has(fReclassified) {
		return topic
	}
	more := is.recs()
	for i := len(more) - 1; i >= 0; i-- {
		if r := &more[i]; r.classification() && r.at >= t {
			topic = r.channel
		}
	}
	return topic
}

// contact records a further inbound contact (a follow-up or a reopen).
func (is *fcrIssue) contact(at int64, key uint64, channel uint32) {
	is.push(fcrRec{at: at, key: key, channel: channel})
}

// resFar is the resPos of an issue whose first resolution came after
// resFar recs or more (a long thread of follow-ups): resPos cannot count
// them, so the first resolution is then also a rec of more, the first
// resolution among them, as later resolutions are.
const resFar = 255

// resolve records a resolution; the first one is the issue's resolution.
func (is *fcrIssue) resolve(at int64, key uint64, agent uint32, bot bool) {
	if !is.has(fResolved) {
		is.res, is.resKey, is.agent = at, key, agent
		is.flags |= fResolved
		is.set(fBot, bot)
		if n := len(is.recs()); n < resFar {
			is.resPos = uint8(n)
		} else {
			is.resPos = resFar
			is.push(fcrRec{at: at, key: key | recResolved})
		}
		return
	}
	is.push(fcrRec{at: at, key: key | recResolved})
}

// resAt returns how many recs came before the issue's first resolution,
// which it has, in stream order: resPos, or where the first resolution
// stands in more when resPos is resFar.
func (is *fcrIssue) resAt() int {
	if is.resPos < resFar {
		return int(is.resPos)
	}
	more := is.recs()
	for k := resFar; k < len(more); k++ {
		if more[k].resolution() {
			return k
		}
	}
	return len(more) // not reached: resolve and a restore file it there
}

// transitions returns how many recs after the opening the issue has,
// counting its first resolution, and step returns the k-th in stream
// order: its time and its rec, nil for the first resolution unless it is
// a rec too (resFar).
func (is *fcrIssue) transitions() int {
	if is.has(fResolved) && is.resPos < resFar {
		return len(is.recs()) + 1
	}
	return len(is.recs())
}

func (is *fcrIssue) step(k int) (at int64, r *fcrRec) {
	if is.has(fResolved) && is.resPos < resFar {
		switch {
		case k == int(is.resPos):
			return is.res, nil
		case k > int(is.resPos):
			k--
		}
	}
	r = &(*is.more)[k]
	return r.at, r
}

// status replays the issue's changes up to time t: whether it is open,
// and if not since when it is resolved. A contact on a resolved issue
// reopens it; a resolution of a resolved issue changes nothing.
func (is *fcrIssue) status(t int64) (open bool, res int64) {
	open = true
	for k, n := 0, is.transitions(); k < n; k++ {
		at, r := is.step(k)
		if at > t {
			break
		}
		switch {
		case r == nil || r.resolution():
			if open {
				open, res = false, at
			}
		case r.inbound():
			open = true // a contact reopens a resolved issue
		}
	}
	return open, res
}

// liveAt reports whether the issue is live for inference at t: open at t,
// or resolved at r with t − r < window.
func (is *fcrIssue) liveAt(t, window int64) bool {
	open, res := is.status(t)
	return open || t < satAdd(res, window)
}

// settled returns the time after which the issue can no longer be live,
// and false while it is open.
func (is *fcrIssue) settled(window int64) (int64, bool) {
	if !is.has(fResolved) {
		return 0, false
	}
	if is.more == nil {
		return satAdd(is.res, window), true
	}
	// As status(MaxInt64) would find, walking back from the last change:
	// the issue is open if that is an inbound contact, else it closed at
	// the earliest resolution since its last inbound contact (or since
	// the opening, which is one).
	var res int64
	closed := false
	for k := is.transitions() - 1; k >= 0; k-- {
		at, r := is.step(k)
		switch {
		case r == nil || r.resolution():
			res, closed = at, true
		case r.inbound():
			if !closed {
				return 0, false
			}
			return satAdd(res, window), true
		}
	}
	return satAdd(res, window), true
}

// cuts reports whether an event at time at, next in the issue's stream,
// is not to be applied: the issue settled before at (it was resolved, and
// W passed since the resolution that last closed it), or an earlier event was cut.
func (is *fcrIssue) cuts(at, window int64) bool {
	// The first resolution + W is the earliest the issue can settle.
	if !is.has(fCut) && is.has(fResolved) && at >= satAdd(is.res, window) {
		if s, ok := is.settled(window); ok && at >= s {
			is.flags |= fCut
		}
	}
	return is.has(fCut)
}

// reportedFirst reports whether the issue was resolved on its first
// counted contact with no other counted contact before the resolution, in
// stream order. An abandoned attempt is not a contact: an issue whose
// opening call was abandoned and that was resolved on the call back
// succeeded, and one resolved with no counted contact did not.
func (is *fcrIssue) reportedFirst() bool {
	if !is.has(fResolved) {
		return false
	}
	hit := false
	if is.first.counted() {
		if is.first.contact() != is.resKey {
			return false
		}
		hit = true
	}
	more := is.recs()
	for i := range more[:is.resAt()] {
		if r := &more[i]; r.counted() {
			if hit || r.contact() != is.resKey {
				return false
			}
			hit = true
		}
	}
	return hit
}

// resQueue returns the queue of the last routing of the resolving contact.
func (is *fcrIssue) resQueue() uint32 {
	if r := is.rec(is.resKey); r != nil {
		return r.queue
	}
	return 0
}
