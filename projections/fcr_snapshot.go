package projections

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/internal/msgpackcheck"
)

// fcrSnapFormat is the layout version of FCR snapshots. Format 7 keys
// contacts by contactKey, where the formats before keyed them by xorKey:
// an FCR restored from one of those keys them so on (and says so in its
// snapshots, XORKeys), as its stored keys cannot be keyed again. Format 6
// counts a reported success of a folded problem's record on its first counted
// contact, where format 5 and before counted it on its opening contact,
// abandoned or not; it added ReportedOnOpening, which says that the
// counters hold problems folded by the earlier rule (restored from such a
// snapshot, whose folded issues are gone). Format 5 added the time of the
// latest event of each stray stream (fcrSnapVersion.Last; before, a stray
// stream restores as if its latest event came at the watermark); format 4
// added Opaque, the held events that could not be encoded; format 3 added
// reclassifications to an issue's recs; a format 2 snapshot restores as if
// its issues' topics had been given when they opened. Within format 6, the
// versions that a live issue's stream went past (fcrSnapVersion.Skipped)
// and their count (fcrCounts.Missing) came later: a build before them
// restores such a snapshot without either, and takes a skipped version
// that comes after for a duplicate. Within format 7, ResFar came later: a
// build before it restores the first resolution of an issue that had more
// than 255 recs before it as if it came after the 255th, as it applied it.
const fcrSnapFormat = 7

// fcrSnap is the whole state of an FCR, as msgpack.
type fcrSnap struct {
	Format     int
	Position   uint64
	Window     int64
	Lateness   int64
	Match      uint8
	WM         int64
	HasWM      bool
	Names      []string
	Issues     []fcrSnapIssue
	Customers  []fcrSnapCustomer
	Versions   []fcrSnapVersion
	Held       [][]byte     // held events, msgpack-encoded
	Opaque     []snapOpaque // held events the registry would not read back as they are, by name
	Tally      fcrSnapTally
	Counts     fcrCounts
	SinceSweep int
	SweptAt    int64
	Due        []fcrSnapDue
	// ReportedOnOpening: the counters hold reported successes counted on
	// the opening contact (see fcrSnapFormat).
	ReportedOnOpening bool
	// XORKeys: the contacts are keyed by xorKey (see fcrSnapFormat).
	XORKeys bool `msgpack:",omitempty"`
}

// fcrSnapDue is one bucket of issues to look at when it passed.
type fcrSnapDue struct {
	Bucket int64
	Issues []int32 // indexes into fcrSnap.Issues
}

type fcrSnapIssue struct {
	ID [16]byte
	// ResPos is how many of Recs after the opening came before the first
	// resolution, up to 255; ResFar is that number when it is more than
	// 255 (snapshots before it have 255).
	ResPos         uint8
	ResFar         uint32 `msgpack:",omitempty"`
	Res            int64
	ResKey         uint64
	Topic, Agent   uint32
	CSATN, CSATTop uint8
	CSATSum        uint16
	Resolved, Bot  bool
	Cut            bool
	Node           uint64       // the hash of the issue's first identifier
	Recs           []fcrSnapRec // the opening contact first
}

type fcrSnapRec struct {
	At             int64
	Key            uint64
	Channel, Queue uint32
	Kind, Flags    uint8
}

type fcrSnapCustomer struct {
	Idents []uint64 // identifier hashes
	Issues []int32  // indexes into fcrSnap.Issues; none when all folded
	Links  []fcrSnapLink
}

type fcrSnapLink struct {
	A, B uint64 // identifier hashes
	From int64
}

type fcrSnapVersion struct {
	Issue   [16]byte
	Version uint64
	// Last is the time of the stream's latest event, Unix ns, for a
	// stream whose issue is not live (a stray stream, see strays).
	Last int64
	// Skipped are the versions, first and last, that the stream of a live
	// issue went past (see skipGaps). Snapshots before it have none.
	Skipped [][2]uint64 `msgpack:",omitempty"`
}

type fcrSnapTally struct {
	Counts  []int64 // the scalar counts, in fcrTally order
	Seg     []fcrSnapSeg
	Switch  [][3]int64 // from, to, count
	Repeats [][3]int64 // topic, repeats, problems
}

type fcrSnapSeg struct {
	Dim uint8
	ID  int64
	Seg fcrSeg
}

// scalars lists the scalar counts of a tally, for snapshots.
func (t *fcrTally) scalars() []*int64 {
	s := []*int64{&t.Problems, &t.Final, &t.Achieved, &t.Failed, &t.Pending, &t.Unresolved, &t.NoContact,
		&t.RepHits, &t.RepTotal, &t.BotTotal, &t.BotContained}
	for i := range t.PerProblem {
		s = append(s, &t.PerProblem[i])
	}
	for i := range t.CSAT {
		c := &t.CSAT[i]
		s = append(s, &c.Problems, &c.Answers, &c.Sum, &c.Top2)
	}
	return s
}

// Snapshot returns the whole state of the projection, with position, a
// global store position that the caller wants to resume from (0 for
// none). The snapshot carries the version of every stream it covers and
// the held events, so that a restored projection goes on exactly where
// this one stands. It is sealed with a checksum, which Restore checks.
func (f *FCR) Snapshot(position uint64) ([]byte, error) {
	s := fcrSnap{
		Format: fcrSnapFormat, Position: position,
		Window: f.window, Lateness: f.lateness, Match: uint8(f.cfg.Match),
		WM: f.wm, HasWM: f.hasWM,
		Names:      f.names.names,
		Counts:     f.counts,
		SinceSweep: f.sinceSweep,
		SweptAt:    f.sweptAt,

		ReportedOnOpening: f.reportedOnOpening,
		XORKeys:           f.xorKeys,
	}
	at := make(map[int32]int32, f.byID.n) // slab index → snapshot index
	idents := f.ids.hashesByRoot()
	for r := range f.ids.nodes {
		n := &f.ids.nodes[r]
		if n.parent != int32(r) {
			continue
		}
		var c fcrSnapCustomer
		c.Idents = idents[int32(r)]
		for i := n.issue; i >= 0; i = f.issues.at(i).next {
			at[i] = int32(len(s.Issues))
			c.Issues = append(c.Issues, int32(len(s.Issues)))
			si := snapIssue(f.issues.at(i))
			si.Node = f.ids.nodes[f.issues.at(i).node].hash
			s.Issues = append(s.Issues, si)
		}
		for i := n.link; i >= 0; i = f.ids.links[i].next {
			l := &f.ids.links[i]
			c.Links = append(c.Links, fcrSnapLink{A: f.ids.nodes[l.a].hash, B: f.ids.nodes[l.b].hash, From: l.from})
		}
		s.Customers = append(s.Customers, c)
	}
	for b, ixs := range f.due {
		d := fcrSnapDue{Bucket: b}
		for _, ix := range *ixs {
			if i, ok := at[ix]; ok {
				d.Issues = append(d.Issues, i)
			}
		}
		s.Due = append(s.Due, d)
	}
	for id, v := range f.StreamVersions() {
		sv := fcrSnapVersion{Issue: id, Version: v, Last: f.strays.last[id]}
		for _, sp := range f.skipped[id] {
			sv.Skipped = append(sv.Skipped, [2]uint64{sp.from, sp.to})
		}
		s.Versions = append(s.Versions, sv)
	}
	if f.seq.Held() > 0 {
		var err error
		if s.Held, _, s.Opaque, err = saveHeld(f.seq.HeldEvents(), f.cfg.Registry, true); err != nil {
			return nil, fmt.Errorf("FCR snapshot: %w", err)
		}
	}
	s.Tally.Counts = readInt64s(f.folded.scalars())
	f.folded.eachSeg(func(dim uint8, id int64, v fcrSeg) {
		s.Tally.Seg = append(s.Tally.Seg, fcrSnapSeg{Dim: dim, ID: id, Seg: v})
	})
	for k, v := range f.folded.Switch {
		s.Tally.Switch = append(s.Tally.Switch, [3]int64{int64(k[0]), int64(k[1]), v})
	}
	for k, v := range f.folded.Repeats {
		s.Tally.Repeats = append(s.Tally.Repeats, [3]int64{int64(k), v[0], v[1]})
	}
	b, err := marshalSealed(&s)
	if err != nil {
		return nil, fmt.Errorf("FCR snapshot: %w", err)
	}
	return b, nil
}

func snapIssue(is *fcrIssue) fcrSnapIssue {
	out := fcrSnapIssue{
		ID: is.id, ResPos: is.resPos, Res: is.res, ResKey: is.resKey, Topic: is.topic, Agent: is.agent,
		CSATN: is.csatN, CSATSum: is.csatSum, CSATTop: is.csatTop2, Resolved: is.has(fResolved), Bot: is.has(fBot), Cut: is.has(fCut),
		Recs: make([]fcrSnapRec, 0, 1+len(is.recs())),
	}
	far := -1 // the rec that is the first resolution, which ResPos places
	if is.has(fResolved) && is.resPos == resFar {
		far = is.resAt()
		if far > resFar {
			out.ResFar = uint32(far)
		}
	}
	out.Recs = append(out.Recs, snapRec(is.first, snapOpened))
	for k, r := range is.recs() {
		if k == far {
			continue
		}
		kind := snapContacted
		switch {
		case r.resolution():
			kind = snapResolved
		case r.classification():
			kind = snapClassified
		}
		out.Recs = append(out.Recs, snapRec(r, kind))
	}
	return out
}

// The kinds and flags of a rec in a snapshot.
const (
	snapOpened uint8 = iota
	snapContacted
	snapResolved
	snapClassified // Channel holds the topic replaced
)

const snapAbandoned uint8 = 1

func snapRec(r fcrRec, kind uint8) fcrSnapRec {
	var flags uint8
	if r.key&recBits == recAbandoned {
		flags = snapAbandoned
	}
	return fcrSnapRec{At: r.at, Key: r.contact(), Channel: r.channel, Queue: r.queue, Kind: kind, Flags: flags}
}

// recOf returns the rec that snapRec saved as r.
func recOf(r fcrSnapRec) fcrRec {
	key := r.Key &^ recBits
	switch {
	case r.Kind == snapResolved:
		key |= recResolved
	case r.Kind == snapClassified:
		key = recClassified
	case r.Flags&snapAbandoned != 0:
		key |= recAbandoned
	}
	return fcrRec{at: r.At, key: key, channel: r.Channel, queue: r.Queue}
}

// checkSnapHead reports a snapshot of a format that Restore does not
// read, or of another window, lateness or topic rule than f's.
func (f *FCR) checkSnapHead(format int, window, lateness int64, match uint8) error {
	if format < 2 || format > fcrSnapFormat {
		return fmt.Errorf("FCR restore: snapshot format %d, want 2 to %d: %w", format, fcrSnapFormat, ErrFCRSnapshot)
	}
	if window != f.window || lateness != f.lateness || match != uint8(f.cfg.Match) {
		return fmt.Errorf("FCR restore: snapshot of window %s, lateness %s, match %s into window %s, lateness %s, match %s: %w",
			time.Duration(window), time.Duration(lateness), TopicMatch(match),
			f.cfg.Window, f.cfg.Lateness, f.cfg.Match, ErrFCRSnapshot)
	}
	return nil
}

// Restore replaces the state of f, which must have the same window,
// lateness and topic rule, with the snapshot b and returns the position
// given to Snapshot. The error wraps ErrFCRSnapshot; a snapshot damaged
// since it was written (its checksum does not hold) is refused too.
func (f *FCR) Restore(b []byte) (position uint64, err error) {
	// The format and the configuration first, from the same bytes: a
	// snapshot of another kind is told as such before its lists are read.
	if err := otherSnapshot("FCR", snapOfFCR, b, ErrFCRSnapshot); err != nil {
		return 0, err
	}
	if b, err = unseal("FCR", b, ErrFCRSnapshot); err != nil {
		return 0, err
	}
	var head struct {
		Format           int
		Window, Lateness int64
		Match            uint8
	}
	if err := msgpackcheck.Unmarshal(b, &head); err != nil {
		return 0, fmt.Errorf("FCR restore: %v: %w", err, ErrFCRSnapshot)
	}
	if err := f.checkSnapHead(head.Format, head.Window, head.Lateness, head.Match); err != nil {
		return 0, err
	}
	var s fcrSnap
	if err := msgpackcheck.Unmarshal(b, &s); err != nil {
		return 0, fmt.Errorf("FCR restore: %v: %w", err, ErrFCRSnapshot)
	}
	if s.Format < 4 && len(s.Opaque) > 0 {
		return 0, fmt.Errorf("FCR restore: a format %d snapshot with events held by name, which format 4 added: %w", s.Format, ErrFCRSnapshot)
	}
	if len(s.Names) == 0 || s.Names[0] != "" {
		return 0, fmt.Errorf("FCR restore: names table does not start with the empty name: %w", ErrFCRSnapshot)
	}
	tally := newFCRTally()
	if sc := tally.scalars(); !setInt64s(sc, s.Tally.Counts) {
		return 0, fmt.Errorf("FCR restore: %d tally counts, want %d: %w", len(s.Tally.Counts), len(sc), ErrFCRSnapshot)
	}
	c := &s.Counts
	if i := negative(append(slices.Clone(s.Tally.Counts), c.Issues, c.Late, c.LateDropped, c.Orphaned, c.Missing, c.Ignored)...); i >= 0 {
		return 0, fmt.Errorf("FCR restore: count %d is negative: %w", i, ErrFCRSnapshot)
	}
	nNames := uint32(len(s.Names))
	badName := func(ids ...uint32) bool {
		for _, id := range ids {
			if id >= nNames {
				return true
			}
		}
		return false
	}
	for _, sg := range s.Tally.Seg {
		switch {
		case sg.Dim > dimWeek, sg.Dim <= dimQueue && (sg.ID < 0 || sg.ID >= int64(nNames)), sg.Dim == dimKind && sg.ID&^1 != 0,
			sg.Dim == dimDay && (sg.ID < minDay || sg.ID > maxDay), sg.Dim == dimWeek && (sg.ID < minWeek || sg.ID > maxWeek):
			return 0, fmt.Errorf("FCR restore: segment %d/%d out of range: %w", sg.Dim, sg.ID, ErrFCRSnapshot)
		case negative(sg.Seg.Achieved, sg.Seg.Failed, sg.Seg.RepHits, sg.Seg.RepTotal) >= 0:
			return 0, fmt.Errorf("FCR restore: segment %d/%d has a negative count: %w", sg.Dim, sg.ID, ErrFCRSnapshot)
		}
		*tally.seg(sg.Dim, sg.ID) = sg.Seg
	}
	for _, sw := range s.Tally.Switch {
		if badName(uint32(sw[0]), uint32(sw[1])) || sw[2] < 0 {
			return 0, fmt.Errorf("FCR restore: channel switch names out of range: %w", ErrFCRSnapshot)
		}
		tally.Switch[[2]uint32{uint32(sw[0]), uint32(sw[1])}] = sw[2]
	}
	for _, rp := range s.Tally.Repeats {
		if badName(uint32(rp[0])) || negative(rp[1], rp[2]) >= 0 {
			return 0, fmt.Errorf("FCR restore: repeat topic name out of range: %w", ErrFCRSnapshot)
		}
		tally.Repeats[uint32(rp[0])] = [2]int64{rp[1], rp[2]}
	}

	g := newFCR(f.cfg)
	g.names = newNameTable()
	for _, n := range s.Names[1:] {
		g.names.id(n)
	}
	if len(g.names.names) != len(s.Names) {
		return 0, fmt.Errorf("FCR restore: names table repeats a name: %w", ErrFCRSnapshot)
	}
	g.wm, g.hasWM = s.WM, s.HasWM
	g.counts, g.sinceSweep, g.sweptAt, g.folded = s.Counts, s.SinceSweep, s.SweptAt, tally
	for i, si := range s.Issues {
		resAt := int(si.ResPos)
		if si.ResFar > 0 {
			resAt = int(si.ResFar)
		}
		if len(si.Recs) == 0 || resAt > len(si.Recs)-1 || si.ResFar > 0 && (si.ResFar <= resFar || si.ResPos != resFar) || badName(si.Topic, si.Agent) {
			return 0, fmt.Errorf("FCR restore: issue %d is incomplete: %w", i, ErrFCRSnapshot)
		}
		// The first resolution after resFar recs or more is one of the
		// issue's recs, where resAt puts it (see resFar).
		far := -1
		if si.Resolved && resAt >= resFar {
			far = resAt
		}
		is := fcrIssue{
			id: si.ID, resPos: si.ResPos, res: si.Res, resKey: si.ResKey &^ recBits, topic: si.Topic, agent: si.Agent,
			csatN: si.CSATN, csatSum: si.CSATSum, csatTop2: si.CSATTop, flags: fLive,
		}
		is.set(fResolved, si.Resolved)
		is.set(fBot, si.Bot)
		is.set(fCut, si.Cut)
		for k, r := range si.Recs {
			if badName(r.Channel, r.Queue) {
				return 0, fmt.Errorf("FCR restore: issue %d has names out of range: %w", i, ErrFCRSnapshot)
			}
			if (k == 0) != (r.Kind == snapOpened) || r.Kind > snapClassified || r.Kind == snapClassified && s.Format < 3 {
				return 0, fmt.Errorf("FCR restore: issue %d has a record of kind %d at %d: %w", i, r.Kind, k, ErrFCRSnapshot)
			}
			// Later resolutions come after the first: a resolution rec
			// elsewhere would be taken for the first (resAt).
			if r.Kind == snapResolved && (!si.Resolved || k <= resAt) {
				return 0, fmt.Errorf("FCR restore: issue %d has a resolution at %d, before its first: %w", i, k, ErrFCRSnapshot)
			}
			if k == 0 {
				is.first = recOf(r)
			} else {
				is.push(recOf(r))
			}
		}
		if far >= 0 {
			*is.more = slices.Insert(*is.more, far, fcrRec{at: is.res, key: is.resKey | recResolved})
		}
		if g.lookup(is.id) >= 0 {
			return 0, fmt.Errorf("FCR restore: issue %s appears twice: %w", uuid.UUID(si.ID), ErrFCRSnapshot)
		}
		*g.issues.at(g.issues.add()) = is
		g.byID.insert(uuidTag(is.id), int32(i))
	}
	filed := make([]bool, len(s.Issues))
	for ci, c := range s.Customers {
		if len(c.Idents) == 0 {
			return 0, fmt.Errorf("FCR restore: customer %d has no identifier: %w", ci, ErrFCRSnapshot)
		}
		root := int32(-1)
		for _, h := range c.Idents {
			if _, dup := g.ids.lookup(h); dup {
				return 0, fmt.Errorf("FCR restore: customer %d shares an identifier with another: %w", ci, ErrFCRSnapshot)
			}
			n := g.ids.nodeOf(h)
			if root < 0 {
				root = n
			} else {
				root = g.ids.union(root, n, &g.issues)
			}
		}
		root = g.ids.find(root)
		// nodeIn returns the node of hash h, which must be the customer's.
		nodeIn := func(h uint64) (int32, bool) {
			n, ok := g.ids.lookup(h)
			return n, ok && g.ids.find(n) == root
		}
		// Backwards, as each issue goes first: the list keeps its order.
		for _, ix := range slices.Backward(c.Issues) {
			if ix < 0 || ix >= g.issues.len() || filed[ix] {
				return 0, fmt.Errorf("FCR restore: customer %d refers to issue %d wrongly: %w", ci, ix, ErrFCRSnapshot)
			}
			node, ok := nodeIn(s.Issues[ix].Node)
			if !ok {
				return 0, fmt.Errorf("FCR restore: issue %d has an identifier that is not its customer's: %w", ix, ErrFCRSnapshot)
			}
			filed[ix] = true
			g.issues.at(ix).node = node
			g.ids.addIssue(root, ix, &g.issues)
		}
		for _, sl := range slices.Backward(c.Links) {
			a, okA := nodeIn(sl.A)
			b, okB := nodeIn(sl.B)
			if !okA || !okB || a == b {
				return 0, fmt.Errorf("FCR restore: customer %d has a link of identifiers not its own: %w", ci, ErrFCRSnapshot)
			}
			g.ids.addLink(root, a, b, sl.From)
		}
	}
	for ix, ok := range filed {
		if !ok {
			return 0, fmt.Errorf("FCR restore: issue %d belongs to no customer: %w", ix, ErrFCRSnapshot)
		}
	}
	// A snapshot saved before lone customers were forgotten holds them.
	for r := range g.ids.nodes {
		if n := int32(r); g.ids.nodes[r].parent == n {
			g.ids.forgetIfLone(n)
		}
	}
	for _, d := range s.Due {
		for _, ix := range d.Issues {
			if ix < 0 || ix >= g.issues.len() {
				return 0, fmt.Errorf("FCR restore: due bucket %d refers to issue %d: %w", d.Bucket, ix, ErrFCRSnapshot)
			}
		}
		for _, ix := range d.Issues {
			g.fileIn(ix, d.Bucket)
		}
	}
	// Live issues keep their versions in their slots, as Apply leaves them.
	positions := make(map[uuid.UUID]uint64)
	for _, v := range s.Versions {
		if v.Version > events.MaxVersion {
			return 0, fmt.Errorf("FCR restore: issue %s at version %d, beyond %d: %w", v.Issue, v.Version, uint64(events.MaxVersion), ErrFCRSnapshot)
		}
		ix := g.lookup(v.Issue)
		if ix >= 0 {
			spans, bad := loadSpans(v.Skipped, 0, v.Version) // versions start at 1
			if bad != nil {
				return 0, fmt.Errorf("FCR restore: issue %s at version %d skipped versions %d to %d: %w", v.Issue, v.Version, bad[0], bad[1], ErrFCRSnapshot)
			}
			if len(spans) > 0 {
				addSpans(&g.skipped, v.Issue, spans...)
			}
		}
		if ix >= 0 && v.Version <= math.MaxUint16 {
			g.issues.at(ix).ver = uint16(v.Version)
			continue
		}
		positions[v.Issue] = v.Version
		if ix < 0 {
			last := v.Last
			if s.Format < 5 {
				last = s.WM
			}
			g.strays.note(v.Issue, last)
		}
	}
	g.seq.Restore(positions)
	for id := range positions {
		if ix := g.lookup(id); ix >= 0 {
			g.issues.at(ix).flags |= fSeqd
		}
	}
	if len(s.Held)+len(s.Opaque) > 0 {
		held, err := loadHeld(s.Held, s.Opaque, events.NewMsgpackCodec(f.cfg.Registry))
		if err != nil {
			return 0, fmt.Errorf("FCR restore: %v: %w", err, ErrFCRSnapshot)
		}
		refuse := func(events.Envelope) error { return errHeldReleased }
		for i, e := range held {
			if ix := g.lookup(e.Issue); ix >= 0 && !g.issues.at(ix).has(fSeqd) {
				g.issues.at(ix).flags |= fSeqd
				g.seq.setNext(e.Issue, uint64(g.issues.at(ix).ver)+1)
			}
			if out, err := g.seq.Offer(e, refuse); err != nil || out != Held {
				return 0, fmt.Errorf("FCR restore: held event %d of issue %s version %d is not after a gap: %w", i, e.Issue, e.Version, ErrFCRSnapshot)
			}
		}
		queued := make(map[uuid.UUID]bool)
		for _, e := range held {
			if !queued[e.Issue] && g.lookup(e.Issue) >= 0 {
				queued[e.Issue] = true
				g.queueGap(e.Issue)
			}
		}
	}
	g.reportedOnOpening = s.ReportedOnOpening || s.Format < 6 && tally.RepTotal > 0
	g.xorKeys = s.XORKeys || s.Format < 7
	*f = *g
	f.emit = f.applyOrdered
	if f.hasWM {
		// A snapshot saved before gaps were skipped may hold a live
		// issue's events behind a gap older than the lateness: skip it
		// now, as the FCR that saved it would today.
		f.skipGaps()
	}
	return s.Position, nil
}

// errHeldReleased stops a restore that would apply a held event.
var errHeldReleased = fmt.Errorf("held event released: %w", ErrFCRSnapshot)

// StreamVersions returns the last version applied of every issue the
// projection tracks: what a snapshot taken now covers.
func (f *FCR) StreamVersions() map[uuid.UUID]uint64 {
	out := f.seq.Positions()
	for i := range f.issues.len() {
		if is := f.issues.at(i); is.has(fLive) && !is.has(fSeqd) && is.ver > 0 {
			out[is.id] = uint64(is.ver)
		}
	}
	return out
}

// MarshalBinary implements encoding.BinaryMarshaler: a Snapshot without a
// position.
func (f *FCR) MarshalBinary() ([]byte, error) { return f.Snapshot(0) }

// UnmarshalBinary implements encoding.BinaryUnmarshaler: a Restore that
// ignores the position.
func (f *FCR) UnmarshalBinary(b []byte) error {
	_, err := f.Restore(b)
	return err
}
