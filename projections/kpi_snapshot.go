package projections

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/internal/msgpackcheck"
)

// ErrKPISnapshot is wrapped by every error about a snapshot of a KPI
// projection or of a Reporter that cannot be restored.
var ErrKPISnapshot = errors.New("invalid KPI snapshot")

// kpiSnapFormat is the layout version of the snapshots of ServiceLevel,
// Satisfaction, Volume and the KPI part of a Reporter's. Format 2 has the
// layout of 1; ServiceLevel counts by the rule that a contact abandoned
// before any routing is never handled, nor timed for AHT. Restoring a
// format 1 snapshot moves the contacts it tracks to that rule
// (ServiceLevel.fromFormat1); those of issues that had left the horizon
// keep what they counted. Format 3 marks the contacts abandoned before any
// routing with the wait of their abandonment (kcWaited); a rated contact
// of format 2 and before, which has no such wait, counts as unqueued, as
// it did. In format 3, ServiceLevel counts the reopens of forgotten states
// in its total only (Unattributed); those of format 2 and before stay in
// the "(unknown)" segments where they were counted, but for the contacts
// still tracked, which move to the total alone as today's (see
// ServiceLevel.load). The first build of format 3 (8648676) wrote no
// Unattributed and counted as format 2 did: a snapshot without it is
// restored as one of format 2. Builds of formats 3 to 5 before 53ac192
// took the counts of a stand-in for a forgotten contact that an inbound
// event then introduced off the segments of the empty name, which never
// count, where they had never been added, and left its reopens in
// Unattributed: a restore moves those below-zero resolutions and reopens
// back (emptyNameResidue). Format 4 sums the
// ServiceLevel's waits and handle times in whole milliseconds, where
// earlier formats summed nanoseconds; restoring one of those takes its
// sums to the millisecond. Format 5 keys contacts by contactKey, where the
// formats before keyed them by xorKey: projections restored from one of
// those key them so on (and say so in their snapshots, XORKeys), as their
// stored keys cannot be keyed again. The backlog came to age an issue from
// its earliest inbound event with format 5; an issue restored from one of
// before keeps the time it was aged from, its earliest event (a late
// survey's, in a state that one began). Within format 5, the versions
// that an issue's stream skipped over (kpiSnapIssue.Skipped) came later:
// before them, Base covered every version up to the last one skipped,
// applied or not, and a snapshot without them restores so (a redelivery
// of a version applied before the skip counts as late, not as a
// duplicate); a build before them restores a snapshot with them without,
// and takes a skipped version that comes after for a duplicate. Format 6
// has the layout of 5; Satisfaction gives an answer that takes its wait
// from its issue, in an issue of which no contact was answered, the wait
// of the issue's first contact abandoned in the queue, where the formats
// before counted it as unqueued: restoring one of those moves the answers
// of the issues tracked so (Satisfaction.fromFormat5); those of issues
// that had left the horizon keep what they counted. Once moved to today's
// rules, a snapshot of any format whose counts do not cover what its
// issues tracked hold, or hold a count below zero, is refused: builds
// between 8648676 and bcd238d left answers in the wait bucket they held
// before an abandonment moved their contact's wait, which cannot be told
// apart from the answers of issues forgotten since. Rebuild such a
// projection from the store.
const kpiSnapFormat = 6

// kpiSnap is the whole state of one or more KPI projections that share a
// names table, as msgpack: each projection's counts and the horizons
// that track their issues (one for the three of a Reporter whose
// lateness is the same, else one each, in the order service,
// satisfaction, volume).
type kpiSnap struct {
	Format   int
	Kind     string // what was saved: "service level", "satisfaction", "volume" or "report"
	Names    []string
	Horizons []kpiSnapHorizon
	Service  *kpiSnapService `msgpack:",omitempty"`
	Sat      *kpiSnapSat     `msgpack:",omitempty"`
	Volume   *kpiSnapVolume  `msgpack:",omitempty"`
	// XORKeys: the contacts are keyed by xorKey (see kpiSnapFormat).
	XORKeys bool `msgpack:",omitempty"`
}

// kpiSnapHorizon is a kpiHorizon: its watermark (Unix ns; Zone and Offset
// are "UTC" and 0 since the watermark is kept in UTC, and restoring passes
// over the zone of an older snapshot), late events and tracked issues. Its due
// queue is not saved: restoring queues every issue anew.
type kpiSnapHorizon struct {
	Lateness int64
	HasWM    bool
	WM       int64
	Zone     string
	Offset   int // seconds east of UTC
	Late     int64
	Issues   []kpiSnapIssue
}

type kpiSnapIssue struct {
	ID         [16]byte
	Next, Base uint64
	// Skipped lists the versions above Base that the stream skipped
	// over, as spans of first and last version, in order.
	Skipped   [][2]uint64 `msgpack:",omitempty"`
	Last      int64
	Open      bool
	State     kpiSnapState
	Gapped    [][]byte     // the events held for a gap, msgpack-encoded, in version order
	Positions []uint64     `msgpack:",omitempty"` // their store positions, which the encoding leaves out; none when all are 0
	Opaque    []snapOpaque // those that could not be encoded, by name
}

type kpiSnapState struct {
	ResolvedOn, Latest, FirstAnswered int32
	Counted                           int32
	Channel, Topic                    uint32
	Opened, Seen                      bool
	Stray                             bool // version 1 was not an events.Opened
	Since                             int64
	Contacts                          []kpiSnapContact
	Ratings                           [][3]int32 // on, score, survey
}

type kpiSnapContact struct {
	Key                             uint64
	Wait, Handle                    int64
	Channel, Queue, Agent, Resolver uint32
	Day                             int32
	ChSeg, QSeg                     uint32
	Resolutions, Reopens            int32
	Routings                        uint16
	Flags                           uint8
}

type kpiSnapService struct {
	Threshold int64
	// ChannelThresholds are ServiceConfig's, in ns (none before them).
	ChannelThresholds  map[string]int64 `msgpack:",omitempty"`
	Total              []int64
	ByChannel, ByQueue [][]int64
	// Unattributed: format 3, but for its first build (nil: see
	// kpiSnapFormat).
	Unattributed *int64
}

type kpiSnapSat struct {
	Total                       []int64
	ByChannel, ByTopic, ByAgent [][]int64
	ByWait                      [][]int64
}

// kpiSnapValue is the contacts counted under one contact value category.
type kpiSnapValue struct {
	Value string
	N     int64
}

type kpiSnapVolume struct {
	Values             []string // topic, value, topic, value… sorted by topic
	Counts             []int64  // the scalar counts, in volScalars order
	ByChannel, ByTopic []int64
	ByDay              [][2]int64
	ByValue            []kpiSnapValue // sorted by value
	PerIssue           []int64
}

// fields lists the counts of a segment, for snapshots.
func (c *svcCounts) fields() []*int64 {
	return []*int64{&c.answered, &c.abandoned, &c.within, &c.waitMS, &c.handled, &c.timed,
		&c.handleMS, &c.transferred, &c.consulted, &c.resolutions, &c.reopens}
}

func (c *satCounts) fields() []*int64 {
	return []*int64{&c.csat, &c.csatSum, &c.csatTop2, &c.nps, &c.promoters, &c.detractors, &c.ces, &c.cesSum, &c.cesTop3}
}

// fieldNames names the counts of fields, in its order.
func (*svcCounts) fieldNames() []string {
	return []string{"answered", "abandoned", "within", "wait_ms", "handled", "timed", "handle_ms", "transferred", "consulted",
		"resolutions", "reopens"}
}

func (*satCounts) fieldNames() []string {
	return []string{"csat", "csat_sum", "csat_top2", "nps", "promoters", "detractors", "ces", "ces_sum", "ces_top3"}
}

// durations lists the sums of waits and handle times among fields, which
// valid events can take past the largest int64 (a wait_ms may be
// centuries), where they wrap below zero: a restore takes them as saved,
// where it refuses a count below zero.
func (c *svcCounts) durations() []*int64 { return []*int64{&c.waitMS, &c.handleMS} }

func (c *satCounts) durations() []*int64 { return nil }

// segCounts is a segment's counts as svcCounts and satCounts list them.
type segCounts interface {
	fields() []*int64
	fieldNames() []string
	durations() []*int64
}

// countsCover checks that saved, a segment's counts as saved (as many as
// fields: load checked), are each at least what want holds, the counts of
// the issues tracked, but for the sums of durations, which may wrap.
func countsCover[P interface {
	*T
	segCounts
}, T any](saved []int64, want *T, what string) error {
	fs, names := P(want).fields(), P(want).fieldNames()
	for i, f := range fs {
		if saved[i] < *f && !slices.Contains(P(want).durations(), f) {
			return fmt.Errorf("%s: %d %s, fewer than the %d of the issues tracked", what, saved[i], names[i], *f)
		}
	}
	return nil
}

// segsCover is countsCover for each segment of want, by name id, against
// saved's, with names as saved.
func segsCover[P interface {
	*T
	segCounts
}, T any](saved [][]int64, want map[uint32]*T, names *kpiNames, what string) error {
	for _, id := range slices.Sorted(maps.Keys(want)) {
		got := make([]int64, len(P(want[id]).fields())) // a segment never saved counted nothing
		if int(id) < len(saved) {
			got = saved[id]
		}
		if err := countsCover[P](got, want[id], fmt.Sprintf("%s %q", what, names.names[id])); err != nil {
			return err
		}
	}
	return nil
}

// segOf returns the counts of segment id in segs, added when missing.
func segOf[T any](segs map[uint32]*T, id uint32) *T {
	if segs[id] == nil {
		segs[id] = new(T)
	}
	return segs[id]
}

// saveCounts returns the counts of c.
func saveCounts[P interface {
	*T
	segCounts
}, T any](c *T) []int64 {
	return readInt64s(P(c).fields())
}

// readInt64s returns the values that ps point to, for a snapshot.
func readInt64s(ps []*int64) []int64 {
	out := make([]int64, len(ps))
	for i, p := range ps {
		out[i] = *p
	}
	return out
}

// setInt64s sets what ps point to from vs, if they are as many, and
// reports whether they were.
func setInt64s(ps []*int64, vs []int64) bool {
	if len(vs) != len(ps) {
		return false
	}
	for i, p := range ps {
		*p = vs[i]
	}
	return true
}

// saveSegs returns the counts of every segment of segs.
func saveSegs[P interface {
	*T
	segCounts
}, T any](segs []T) [][]int64 {
	out := make([][]int64, len(segs))
	for i := range segs {
		out[i] = saveCounts[P](&segs[i])
	}
	return out
}

// loadCounts sets the counts of c from saved.
func loadCounts[P interface {
	*T
	segCounts
}, T any](c *T, saved []int64, what string) error {
	fs := P(c).fields()
	if !setInt64s(fs, saved) {
		return fmt.Errorf("%s: %d counts, want %d: %w", what, len(saved), len(fs), ErrKPISnapshot)
	}
	if i := negativeCount[P](c); i >= 0 {
		return fmt.Errorf("%s: count %d is negative: %w", what, i, ErrKPISnapshot)
	}
	return nil
}

// negativeCount returns the index among fields of c's first count below
// zero, but for the sums of durations, which may wrap; -1 for none.
func negativeCount[P interface {
	*T
	segCounts
}, T any](c *T) int {
	for i, f := range P(c).fields() {
		if *f < 0 && !slices.Contains(P(c).durations(), f) {
			return i
		}
	}
	return -1
}

// loadSegs returns the segments saved, which may be keyed by names up to
// names.
func loadSegs[P interface {
	*T
	segCounts
}, T any](saved [][]int64, names int, what string) ([]T, error) {
	if len(saved) > names {
		return nil, fmt.Errorf("%s: %d segments for %d names: %w", what, len(saved), names, ErrKPISnapshot)
	}
	out := make([]T, len(saved))
	for i := range saved {
		if err := loadCounts[P](&out[i], saved[i], what); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// saveHorizon returns what h holds, each issue's state as state saves it
// and its held events as held saves them.
func saveHorizon[S any](h *kpiHorizon[S], held heldSaver, state func(*S) kpiSnapState) (kpiSnapHorizon, error) {
	s := kpiSnapHorizon{Lateness: h.lateness, Late: h.late}
	if !h.watermark.IsZero() {
		s.HasWM, s.WM = true, h.wm
		s.Zone, s.Offset = h.watermark.Zone()
	}
	for ix := range h.seq.slots {
		is := h.seq.at(ix)
		if is.stale {
			continue
		}
		si := kpiSnapIssue{ID: is.id, Next: is.next, Base: is.base, Last: is.last, Open: is.open, State: state(&is.state)}
		for _, sp := range h.seq.skipped[ix] {
			si.Skipped = append(si.Skipped, [2]uint64{sp.from, sp.to})
		}
		if is.gapped {
			var err error
			if si.Gapped, si.Positions, si.Opaque, err = held(h.seq.gapped[ix].events()); err != nil {
				return s, err
			}
		}
		s.Issues = append(s.Issues, si)
	}
	// By id rather than by slot, so that equal states save equal bytes.
	slices.SortFunc(s.Issues, func(a, b kpiSnapIssue) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	return s, nil
}

func saveState(st *kpiState) kpiSnapState {
	out := kpiSnapState{
		ResolvedOn: st.resolvedOn, Latest: st.latest, FirstAnswered: st.firstAnswered, Counted: st.counted,
		Channel: st.channel, Topic: st.topic, Opened: st.opened, Seen: st.seen, Stray: st.stray, Since: st.sinceNS,
	}
	for i := range st.n {
		c := st.at(i)
		out.Contacts = append(out.Contacts, kpiSnapContact{
			Key: c.key, Wait: int64(c.wait), Handle: int64(c.handle),
			Channel: c.channel, Queue: c.queue, Agent: c.agent, Resolver: c.resolver, Day: c.day,
			ChSeg: c.chSeg, QSeg: c.qSeg, Resolutions: c.resolutions, Reopens: c.reopens,
			Routings: c.routings, Flags: uint8(c.flags),
		})
	}
	for _, r := range st.ratings() {
		out.Ratings = append(out.Ratings, [3]int32{r.on, int32(r.score), int32(r.survey)})
	}
	return out
}

// loadState returns the state saved as s, whose names are below names.
func loadState(s *kpiSnapState, names uint32) (kpiState, error) {
	if len(s.Contacts) > math.MaxInt32 {
		return kpiState{}, fmt.Errorf("%d contacts", len(s.Contacts))
	}
	n := int32(len(s.Contacts))
	out := kpiState{
		n: n, resolvedOn: s.ResolvedOn, latest: s.Latest, firstAnswered: s.FirstAnswered, counted: s.Counted,
		channel: s.Channel, topic: s.Topic, opened: s.Opened, seen: s.Seen, stray: s.Stray, sinceNS: s.Since,
	}
	switch {
	case !in(0, n, s.ResolvedOn, s.Latest, s.FirstAnswered, s.Counted):
		return out, fmt.Errorf("a contact index or count out of range (%d contacts)", n)
	case s.Channel >= names || s.Topic >= names:
		return out, errors.New("a name out of range")
	}
	for i, c := range s.Contacts {
		if max(c.Channel, c.Queue, c.Agent, c.Resolver, c.ChSeg, c.QSeg) >= names {
			return out, fmt.Errorf("contact %d: a name out of range", i)
		}
		if kpiFlags(c.Flags)&^(kcInbound|kcAbandoned|kcConsulted|kcDropped|kcWaited) != 0 {
			return out, fmt.Errorf("contact %d: flags %#x", i, c.Flags)
		}
		kc := kpiContact{
			key: c.Key, wait: time.Duration(c.Wait), handle: time.Duration(c.Handle),
			channel: c.Channel, queue: c.Queue, agent: c.Agent, resolver: c.Resolver, day: c.Day,
			chSeg: c.ChSeg, qSeg: c.QSeg, resolutions: c.Resolutions, reopens: c.Reopens,
			routings: c.Routings, flags: kpiFlags(c.Flags),
		}
		if i == 0 {
			out.first = kc
		} else {
			out.extra().contacts = append(out.extra().contacts, kc)
		}
	}
	for i, r := range s.Ratings {
		if !in(0, n, r[0]) || r[1] < math.MinInt16 || r[1] > math.MaxInt16 || r[2] < int32(satOther) || r[2] > int32(satCES) {
			return out, fmt.Errorf("rating %d out of range", i)
		}
		m := out.extra()
		m.ratings = append(m.ratings, satRating{on: r[0], score: int16(r[1]), survey: satSurvey(r[2])})
	}
	return out, nil
}

// in reports whether every v lies within lo..hi.
func in(lo, hi int32, vs ...int32) bool {
	for _, v := range vs {
		if v < lo || v > hi {
			return false
		}
	}
	return true
}

// loadHorizon returns a horizon like h, with h's fold, holding what s
// saved, each issue's state as state loads it; its lateness must be h's.
func loadHorizon[S any](h *kpiHorizon[S], s *kpiSnapHorizon, codec *events.MsgpackCodec, state func(*kpiSnapState) (S, error)) (kpiHorizon[S], error) {
	out := newKPIHorizon(time.Duration(h.lateness), h.fold)
	if s.Lateness != h.lateness {
		return out, fmt.Errorf("saved with lateness %s, restored into %s", time.Duration(s.Lateness), time.Duration(h.lateness))
	}
	if s.HasWM {
		out.advance(time.Unix(0, s.WM), s.WM)
		if out.watermark.IsZero() {
			return out, errors.New("the watermark is the zero time")
		}
	}
	if s.Late < 0 {
		return out, fmt.Errorf("count of late events %d is negative", s.Late)
	}
	if !s.HasWM && len(s.Issues) > 0 {
		// Every event tracked moved the watermark.
		return out, fmt.Errorf("%d issues tracked with no watermark", len(s.Issues))
	}
	out.late = s.Late
	for i := range s.Issues {
		si := &s.Issues[i]
		id := uuid.UUID(si.ID)
		if _, dup := out.seq.find(id); dup {
			return out, fmt.Errorf("issue %s appears twice", id)
		}
		if si.Next < 1 || si.Next-1 > events.MaxVersion || si.Base > events.MaxVersion {
			return out, fmt.Errorf("issue %s: next version %d, base %d: not 1 to %d and 0 to %d", id, si.Next, si.Base,
				uint64(events.MaxVersion)+1, uint64(events.MaxVersion))
		}
		if si.Next > 1 && si.Base >= si.Next {
			// Base passes next only in a stream restarted after its
			// state was forgotten, which expects version 1 until an event
			// applies.
			return out, fmt.Errorf("issue %s: base %d at or above next version %d", id, si.Base, si.Next)
		}
		spans, bad := loadSpans(si.Skipped, si.Base, si.Next)
		if bad != nil {
			return out, fmt.Errorf("issue %s: skipped versions %d to %d: not in order between base %d and next version %d",
				id, bad[0], bad[1], si.Base, si.Next)
		}
		st, err := state(&si.State)
		if err != nil {
			return out, fmt.Errorf("issue %s: %w", id, err)
		}
		ix := out.add(id)
		if len(spans) > 0 {
			addSpans(&out.seq.skipped, ix, spans...)
		}
		is := out.seq.at(ix)
		is.next, is.base, is.last, is.open, is.state = si.Next, si.Base, si.Last, si.Open, st
		gapped, err := loadHeld(si.Gapped, si.Opaque, codec)
		if err != nil {
			return out, fmt.Errorf("issue %s: %w", id, err)
		}
		if len(si.Positions) > 0 {
			if len(si.Positions) != len(si.Gapped) {
				return out, fmt.Errorf("issue %s: %d positions for %d held events", id, len(si.Positions), len(si.Gapped))
			}
			for k, p := range si.Positions {
				gapped[k].Position = p // loadHeld puts the encoded events first
			}
		}
		slices.SortFunc(gapped, func(a, b events.Envelope) int { return cmp.Compare(a.Version, b.Version) })
		for k, e := range gapped {
			// The first comes after a gap; the others each after the one
			// before it.
			after := si.Next
			if k > 0 {
				after = gapped[k-1].Version
			}
			if e.Issue != id || e.Version <= after {
				return out, fmt.Errorf("issue %s: held event %d is of issue %s version %d, not after a gap", id, k, e.Issue, e.Version)
			}
		}
		out.seq.nHeld += len(gapped)
		out.setGapped(ix, &heldList{buf: gapped})
	}
	for ix := range out.seq.slots {
		out.requeue(ix)
	}
	return out, nil
}

// loadNames returns the names table saved as names.
func loadNames(names []string) (*kpiNames, error) {
	n := newKPINames()
	for _, s := range names {
		n.id(s)
	}
	if !slices.Equal(n.names, names) {
		return nil, errors.New("the names table is not one that the projection could have made")
	}
	return n, nil
}

// volScalars lists the scalar counts of a Volume, for snapshots.
func (v *Volume) volScalars() []*int64 {
	return []*int64{&v.contacts, &v.issues, &v.issueContacts, &v.resolutions, &v.reopens}
}

// valueTags returns the configured value tags as a snapshot lists them:
// topic, value, topic, value… sorted by topic.
func (v *Volume) valueTags() []string {
	var out []string
	for _, topic := range slices.Sorted(maps.Keys(v.cfg.Values)) {
		out = append(out, topic, string(v.cfg.Values[topic]))
	}
	return out
}

// save returns Volume's counts, in an order that does not depend on
// the maps', so that equal states save equal snapshots.
func (v *Volume) save() *kpiSnapVolume {
	s := &kpiSnapVolume{ByChannel: v.byChannel, ByTopic: v.byTopic, PerIssue: v.perIssue[:],
		Counts: readInt64s(v.volScalars()), Values: v.valueTags()}
	for _, d := range slices.Sorted(maps.Keys(v.byDay)) {
		s.ByDay = append(s.ByDay, [2]int64{d, v.byDay[d]})
	}
	for _, k := range slices.Sorted(maps.Keys(v.byValue)) {
		s.ByValue = append(s.ByValue, kpiSnapValue{Value: string(k), N: v.byValue[k]})
	}
	return s
}

// load checks that s was saved by a Volume configured as v, and sets v's
// counts from it; nothing changes on an error.
func (v *Volume) load(s *kpiSnapVolume, names int) (func(), error) {
	switch values := v.valueTags(); {
	case !slices.Equal(values, s.Values):
		return nil, fmt.Errorf("volume: saved with value tags %q, restored into %q: %w", s.Values, values, ErrKPISnapshot)
	case len(s.Counts) != len(v.volScalars()) || len(s.PerIssue) != volPerIssueBuckets:
		return nil, fmt.Errorf("volume: %d counts and %d contacts-per-issue buckets: %w", len(s.Counts), len(s.PerIssue), ErrKPISnapshot)
	// Empty tags (Values of no topic) and none (nil) both save none; the
	// one counts every contact by value, and has saved a count once it
	// counted a contact, the other not.
	case v.cfg.Values == nil && len(s.ByValue) > 0:
		return nil, fmt.Errorf("volume: saved with counts by value, restored into a Volume without (VolumeConfig.Values nil): %w", ErrKPISnapshot)
	case v.cfg.Values != nil && len(s.ByValue) == 0 && s.Counts[0] > 0:
		return nil, fmt.Errorf("volume: saved without counts by value, restored into a Volume with (VolumeConfig.Values not nil): %w", ErrKPISnapshot)
	case v.cfg.Values != nil && sumValues(s.ByValue) != s.Counts[0]:
		return nil, fmt.Errorf("volume: counts by value sum to %d, where %d contacts count: %w", sumValues(s.ByValue), s.Counts[0], ErrKPISnapshot)
	case len(s.ByChannel) > names || len(s.ByTopic) > names:
		return nil, fmt.Errorf("volume: more segments than names: %w", ErrKPISnapshot)
	case negative(s.Counts...) >= 0 || negative(s.ByChannel...) >= 0 || negative(s.ByTopic...) >= 0 || negative(s.PerIssue...) >= 0:
		return nil, fmt.Errorf("volume: a negative count: %w", ErrKPISnapshot)
	}
	for _, d := range s.ByDay {
		if d[0] < minDay || d[0] > maxDay || d[1] < 0 {
			return nil, fmt.Errorf("volume: %d contacts on day %d: %w", d[1], d[0], ErrKPISnapshot)
		}
	}
	for _, n := range s.ByValue {
		if n.N < 0 {
			return nil, fmt.Errorf("volume: %d contacts of value %q: %w", n.N, n.Value, ErrKPISnapshot)
		}
	}
	return func() {
		setInt64s(v.volScalars(), s.Counts) // as many: checked above
		v.byChannel, v.byTopic = slices.Clone(s.ByChannel), slices.Clone(s.ByTopic)
		copy(v.perIssue[:], s.PerIssue)
		v.byDay = make(map[int64]int64, len(s.ByDay))
		for _, d := range s.ByDay {
			v.byDay[d[0]] = d[1]
		}
		v.byValue = make(map[Value]int64, len(s.ByValue))
		for _, n := range s.ByValue {
			v.byValue[Value(n.Value)] = n.N
		}
		v.values = nil
	}, nil
}

// sumValues returns the sum of the counts by value.
func sumValues(vs []kpiSnapValue) int64 {
	var n int64
	for _, v := range vs {
		n += v.N
	}
	return n
}

// checkStates checks the issue states of h, the horizon that v counts
// from, against s, v's saved counts, with names as saved: each state's
// counted contacts are those of its contacts that count (volCounted), and
// every count is at least what the states hold of it (the rest is of
// issues forgotten since). A snapshot that breaks either, which a Volume
// does not write, would take a count below zero at a later event.
func (v *Volume) checkStates(h *kpiHorizon[kpiState], s *kpiSnapVolume, names *kpiNames) error {
	var contacts, issues, issueContacts int64
	var perIssue [volPerIssueBuckets]int64
	byChannel, byTopic, byDay := map[int64]int64{}, map[int64]int64{}, map[int64]int64{}
	byValue := map[Value]int64{}
	var bad error
	h.each(func(id uuid.UUID, st *kpiState, _ bool) {
		var n int64
		for i := range st.n {
			if c := st.at(i); volCounted(c) {
				n++
				byChannel[int64(c.channel)]++
				byDay[int64(c.day)]++
			}
		}
		if n != int64(st.counted) && bad == nil {
			bad = fmt.Errorf("issue %s counts %d contacts, of which %d count", id, st.counted, n)
		}
		contacts += n
		byTopic[int64(volTopicKey(names, st.topic))] += n
		if v.cfg.Values != nil {
			byValue[v.cfg.valueOf(names, st.topic)] += n
		}
		if st.opened {
			issues++
			issueContacts += n
			perIssue[min(n, volPerIssueBuckets-1)]++
		}
	})
	if bad != nil {
		return bad
	}
	// atLeast reports a count got below want, the count of what (a
	// format of args) that the issues tracked hold.
	atLeast := func(got, want int64, what string, args ...any) error {
		if got < want {
			return fmt.Errorf("%d %s, fewer than the %d of the issues tracked", got, fmt.Sprintf(what, args...), want)
		}
		return nil
	}
	errs := []error{
		atLeast(s.Counts[0], contacts, "contacts"),
		atLeast(s.Counts[1], issues, "issues"),
		atLeast(s.Counts[2], issueContacts, "contacts of issues"),
	}
	for b, n := range perIssue {
		errs = append(errs, atLeast(s.PerIssue[b], n, "issues in contacts-per-issue bucket %d", b))
	}
	at := func(list []int64, k int64) int64 {
		if k < int64(len(list)) {
			return list[k]
		}
		return 0
	}
	for k, n := range byChannel {
		errs = append(errs, atLeast(at(s.ByChannel, k), n, "contacts of channel %d", k))
	}
	for k, n := range byTopic {
		errs = append(errs, atLeast(at(s.ByTopic, k), n, "contacts of topic %d", k))
	}
	savedDays := make(map[int64]int64, len(s.ByDay))
	for _, d := range s.ByDay {
		savedDays[d[0]] = d[1]
	}
	for k, n := range byDay {
		errs = append(errs, atLeast(savedDays[k], n, "contacts on day %d", k))
	}
	savedValues := make(map[Value]int64, len(s.ByValue))
	for _, n := range s.ByValue {
		savedValues[Value(n.Value)] = n.N
	}
	for k, n := range byValue {
		errs = append(errs, atLeast(savedValues[k], n, "contacts of value %q", k))
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// segPointers returns pointers to every segment of segs.
func segPointers(segs ...[]svcCounts) []*svcCounts {
	var out []*svcCounts
	for _, ss := range segs {
		for i := range ss {
			out = append(out, &ss[i])
		}
	}
	return out
}

// save returns ServiceLevel's counts.
func (s *ServiceLevel) save() *kpiSnapService {
	return &kpiSnapService{
		Threshold:         int64(s.cfg.Threshold),
		ChannelThresholds: channelThresholdsNS(s.cfg.ChannelThresholds),
		Total:             saveCounts[*svcCounts](&s.total),
		ByChannel:         saveSegs[*svcCounts](s.byChannel),
		ByQueue:           saveSegs[*svcCounts](s.byQueue),
		Unattributed:      &s.unattributed,
	}
}

// load checks that saved was saved by a ServiceLevel of s's threshold, in
// snapshot format, and returns what sets s's counts from it; h is the
// horizon restored with it that tracks s's issues, whose states it may
// move to today's rules (fromSegmentedReopens).
func (s *ServiceLevel) load(saved *kpiSnapService, names *kpiNames, format int, h *kpiHorizon[kpiState]) (func(), error) {
	if saved.Threshold != int64(s.cfg.Threshold) {
		return nil, fmt.Errorf("service level: saved with threshold %s, restored into %s: %w", time.Duration(saved.Threshold), s.cfg.Threshold, ErrKPISnapshot)
	}
	if ours := channelThresholdsNS(s.cfg.ChannelThresholds); !maps.Equal(saved.ChannelThresholds, ours) {
		return nil, fmt.Errorf("service level: saved with thresholds by channel %v, restored into %v: %w", saved.ChannelThresholds, ours, ErrKPISnapshot)
	}
	var unattributed int64
	if saved.Unattributed != nil {
		unattributed = *saved.Unattributed
	}
	if unattributed < 0 {
		return nil, fmt.Errorf("service level: %d reopens unattributed: %w", unattributed, ErrKPISnapshot)
	}
	var total svcCounts
	if err := loadCounts[*svcCounts](&total, saved.Total, "service level"); err != nil {
		return nil, err
	}
	savedByChannel, savedByQueue, residue := saved.ByChannel, saved.ByQueue, svcCounts{}
	if 3 <= format && format <= 5 {
		var err error
		if savedByChannel, savedByQueue, residue, err = emptyNameResidue(saved.ByChannel, saved.ByQueue); err != nil {
			return nil, err
		}
	}
	// The residue's reopens stayed in Unattributed, where today's count
	// moves them to the segments that their contact's inbound event named.
	if unattributed+residue.reopens < 0 {
		return nil, fmt.Errorf("service level: %d reopens below zero under the empty name, more than the %d unattributed: %w",
			-residue.reopens, unattributed, ErrKPISnapshot)
	}
	unattributed += residue.reopens
	byChannel, err := loadSegs[*svcCounts](savedByChannel, len(names.names), "service level by channel")
	if err != nil {
		return nil, err
	}
	byQueue, err := loadSegs[*svcCounts](savedByQueue, len(names.names), "service level by queue")
	if err != nil {
		return nil, err
	}
	if format < 4 {
		// Sums of nanoseconds, to the millisecond.
		for _, c := range append([]*svcCounts{&total}, segPointers(byChannel, byQueue)...) {
			c.waitMS /= int64(time.Millisecond)
			c.handleMS /= int64(time.Millisecond)
		}
	}
	if format < 3 || saved.Unattributed == nil {
		if err := fromSegmentedReopens(h, byChannel, byQueue, &unattributed); err != nil {
			return nil, err
		}
	}
	// The states and counts, moved to today's rules in a projection of
	// their own, which s takes once they are checked.
	to := &ServiceLevel{cfg: s.cfg, names: names, total: total, byChannel: byChannel, byQueue: byQueue, unattributed: unattributed}
	if format == 1 {
		to.fromFormat1(h)
	}
	if format <= 3 {
		to.fromUnmarkedStandIns(h) // after fromFormat1, which counts them under their segments
	}
	if err := to.checkStates(h); err != nil {
		return nil, err
	}
	return func() {
		s.total, s.byChannel, s.byQueue, s.unattributed = to.total, to.byChannel, to.byQueue, to.unattributed
		s.thresholds = nil // of the names replaced
	}, nil
}

// checkStates checks the contacts of the issues of h, the horizon that s
// counts from, against s's counts, as restored: every count is at least
// what those contacts add to it (the rest is of issues forgotten since),
// the unattributed reopens at least those of the stand-ins for forgotten
// contacts, which count in the total alone, and no count is below zero. A
// snapshot that breaks it, which a ServiceLevel does not write, would take
// a count below zero at a later event of those issues.
func (s *ServiceLevel) checkStates(h *kpiHorizon[kpiState]) error {
	var total svcCounts
	var unattributed int64
	byChannel, byQueue := map[uint32]*svcCounts{}, map[uint32]*svcCounts{}
	h.each(func(_ uuid.UUID, is *kpiState, _ bool) {
		for i := range is.n {
			c := is.at(i)
			one := c.counts(s.threshold(is, c))
			if one == (svcOne{}) {
				continue
			}
			n := one.one()
			total.add(&n, +1)
			if c.has(kcDropped) {
				unattributed += int64(one.reopens)
				continue
			}
			segOf(byChannel, c.chSeg).add(&n, +1)
			segOf(byQueue, c.qSeg).add(&n, +1)
		}
	})
	// The counts as moved to today's rules, which may have taken one below
	// zero.
	type named struct {
		c    *svcCounts
		what string
	}
	counts := []named{{&s.total, "service level"}}
	for id := range s.byChannel {
		counts = append(counts, named{&s.byChannel[id], fmt.Sprintf("service level of channel %q", s.names.names[id])})
	}
	for id := range s.byQueue {
		counts = append(counts, named{&s.byQueue[id], fmt.Sprintf("service level of queue %q", s.names.names[id])})
	}
	for _, n := range counts {
		if i := negativeCount[*svcCounts](n.c); i >= 0 {
			return fmt.Errorf("%s: %d %s once moved to today's rules: %w", n.what, *n.c.fields()[i], n.c.fieldNames()[i], ErrKPISnapshot)
		}
	}
	if s.unattributed < unattributed {
		return fmt.Errorf("service level: %d reopens unattributed, fewer than the %d of the issues tracked: %w", s.unattributed, unattributed, ErrKPISnapshot)
	}
	if err := countsCover[*svcCounts](readInt64s(s.total.fields()), &total, "service level"); err != nil {
		return fmt.Errorf("%w: %w", err, ErrKPISnapshot)
	}
	if err := segsCover[*svcCounts](saveSegs[*svcCounts](s.byChannel), byChannel, s.names, "service level of channel"); err != nil {
		return fmt.Errorf("%w: %w", err, ErrKPISnapshot)
	}
	if err := segsCover[*svcCounts](saveSegs[*svcCounts](s.byQueue), byQueue, s.names, "service level of queue"); err != nil {
		return fmt.Errorf("%w: %w", err, ErrKPISnapshot)
	}
	return nil
}

// emptyNameResidue returns the segments saved with the counts under the
// empty name (id 0, which no contact counts under) taken out, and those
// counts. Builds of formats 3 to 5 before 53ac192 left there, below zero,
// the resolutions and reopens of each stand-in for a forgotten contact
// (kcDropped, counted in the total alone) that an inbound event then
// introduced: they took its counts off its segments, which were still
// the empty name's, and added them to its new ones, where they should
// have taken them off the total alone; the total and the other segments
// are right. Any other count under the empty name is refused.
func emptyNameResidue(byChannel, byQueue [][]int64) (ch, q [][]int64, residue svcCounts, err error) {
	at0 := func(segs [][]int64) []int64 {
		if len(segs) == 0 {
			return nil
		}
		return segs[0]
	}
	c0, q0 := at0(byChannel), at0(byQueue)
	if !slices.ContainsFunc(c0, func(n int64) bool { return n != 0 }) && !slices.ContainsFunc(q0, func(n int64) bool { return n != 0 }) {
		return byChannel, byQueue, svcCounts{}, nil
	}
	fs := residue.fields()
	if !setInt64s(fs, c0) || !slices.Equal(c0, q0) {
		return nil, nil, svcCounts{}, fmt.Errorf("service level: counts under the empty name, by channel %v and by queue %v: %w", c0, q0, ErrKPISnapshot)
	}
	if residue != (svcCounts{resolutions: residue.resolutions, reopens: residue.reopens}) || residue.resolutions > 0 || residue.reopens > 0 {
		return nil, nil, svcCounts{}, fmt.Errorf("service level: counts under the empty name %v: %w", c0, ErrKPISnapshot)
	}
	zero := make([]int64, len(c0))
	ch = append([][]int64{zero}, byChannel[1:]...)
	q = append([][]int64{zero}, byQueue[1:]...)
	return ch, q, residue, nil
}

// fromSegmentedReopens moves the stand-ins for forgotten contacts
// (kcDropped) that h tracks, restored from a snapshot that counted them
// under their segments ("(unknown)": format 2 and before, and the first
// build of format 3), to today's rule: their counts are in the total
// alone and their reopens unattributed, as recount takes them to be
// when a later event changes them (it took their reopens off
// unattributed, below zero, and left them in "(unknown)" for good).
// Issues no longer tracked keep what they counted.
func fromSegmentedReopens(h *kpiHorizon[kpiState], byChannel, byQueue []svcCounts, unattributed *int64) error {
	var bad error
	h.each(func(id uuid.UUID, is *kpiState, _ bool) {
		for i := range is.n {
			c := is.at(i)
			if !c.has(kcDropped) || c.chSeg == 0 && c.qSeg == 0 {
				continue
			}
			one := c.counts(0) // a stand-in's counts need no threshold
			n := one.one()
			for _, seg := range []*svcCounts{segAt(byChannel, c.chSeg), segAt(byQueue, c.qSeg)} {
				if seg != nil {
					seg.add(&n, -1)
				}
				if (seg == nil || slices.ContainsFunc(seg.fields(), func(p *int64) bool { return *p < 0 })) && bad == nil {
					bad = fmt.Errorf("service level: issue %s: a stand-in for a forgotten contact counts more than its segments hold: %w", id, ErrKPISnapshot)
				}
			}
			*unattributed += n.reopens
			c.chSeg, c.qSeg = 0, 0
		}
	})
	return bad
}

// segAt returns segment id of segs, nil when it has none.
func segAt(segs []svcCounts, id uint32) *svcCounts {
	if int(id) >= len(segs) {
		return nil
	}
	return &segs[id]
}

// channelThresholdsNS returns ts in nanoseconds, nil for none.
func channelThresholdsNS(ts map[string]time.Duration) map[string]int64 {
	if len(ts) == 0 {
		return nil
	}
	out := make(map[string]int64, len(ts))
	for ch, t := range ts {
		out[ch] = int64(t)
	}
	return out
}

// save returns Satisfaction's counts.
func (s *Satisfaction) save() *kpiSnapSat {
	return &kpiSnapSat{
		Total:     saveCounts[*satCounts](&s.total),
		ByChannel: saveSegs[*satCounts](s.byChannel),
		ByTopic:   saveSegs[*satCounts](s.byTopic),
		ByAgent:   saveSegs[*satCounts](s.byAgent),
		ByWait:    saveSegs[*satCounts](s.byWait[:]),
	}
}

// load returns what sets s's counts from saved.
func (s *Satisfaction) load(saved *kpiSnapSat, names int) (func(), error) {
	var total satCounts
	if err := loadCounts[*satCounts](&total, saved.Total, "satisfaction"); err != nil {
		return nil, err
	}
	var segs [3][]satCounts
	for i, saved := range [...][][]int64{saved.ByChannel, saved.ByTopic, saved.ByAgent} {
		var err error
		if segs[i], err = loadSegs[*satCounts](saved, names, "satisfaction"); err != nil {
			return nil, err
		}
	}
	if len(saved.ByWait) != len(s.byWait) {
		return nil, fmt.Errorf("satisfaction: %d wait buckets, want %d: %w", len(saved.ByWait), len(s.byWait), ErrKPISnapshot)
	}
	byWait, err := loadSegs[*satCounts](saved.ByWait, len(s.byWait), "satisfaction by wait")
	if err != nil {
		return nil, err
	}
	return func() {
		s.total, s.byChannel, s.byTopic, s.byAgent = total, segs[0], segs[1], segs[2]
		copy(s.byWait[:], byWait)
	}, nil
}

// checkStates checks the answers of the issues of h, the horizon that s
// counts from, against saved, s's saved counts, with names as saved and
// by the rule of snapshot format: every count is at least what those
// answers add to it (the rest is of issues forgotten since). A snapshot
// that breaks it, which a Satisfaction does not write, would take a count
// below zero when an event moves the answers.
func (s *Satisfaction) checkStates(h *kpiHorizon[kpiState], saved *kpiSnapSat, names *kpiNames, format int) error {
	var total satCounts
	byChannel, byTopic, byAgent, byWait := map[uint32]*satCounts{}, map[uint32]*satCounts{}, map[uint32]*satCounts{}, map[uint32]*satCounts{}
	h.each(func(_ uuid.UUID, is *kpiState, _ bool) {
		topic := names.or(is.topic, names.unknown)
		for _, r := range is.ratings() {
			channel, agent, bucket := satAttribution(names, is, r.on, format)
			total.add(r, +1)
			segOf(byChannel, channel).add(r, +1)
			segOf(byTopic, topic).add(r, +1)
			segOf(byAgent, agent).add(r, +1)
			segOf(byWait, uint32(bucket)).add(r, +1)
		}
	})
	if err := countsCover[*satCounts](saved.Total, &total, "satisfaction"); err != nil {
		return err
	}
	for _, c := range []struct {
		saved [][]int64
		want  map[uint32]*satCounts
		what  string
	}{
		{saved.ByChannel, byChannel, "satisfaction of channel"},
		{saved.ByTopic, byTopic, "satisfaction of topic"},
		{saved.ByAgent, byAgent, "satisfaction of agent"},
	} {
		if err := segsCover[*satCounts](c.saved, c.want, names, c.what); err != nil {
			return err
		}
	}
	for _, b := range slices.Sorted(maps.Keys(byWait)) {
		name, _, _ := satBucketBounds(int(b))
		if err := countsCover[*satCounts](saved.ByWait[b], byWait[b], "satisfaction of wait bucket "+name); err != nil {
			return err
		}
	}
	return nil
}

// kpiParts are the parts of one or more KPI projections that share a
// names table, which a snapshot saves and restores together: the
// projections present and their horizons (one shared, or one each in the
// order service, satisfaction, volume).
type kpiParts struct {
	kind     string
	names    *kpiNames
	horizons []*kpiHorizon[kpiState]
	service  *ServiceLevel
	sat      *Satisfaction
	volume   *Volume
}

// save returns the snapshot of p.
func (p *kpiParts) save() ([]byte, error) {
	s := kpiSnap{Format: kpiSnapFormat, Kind: p.kind, Names: p.names.names, XORKeys: p.names.xorKeys}
	held := func(evs []events.Envelope) ([][]byte, []uint64, []snapOpaque, error) { return saveHeld(evs, nil, true) }
	for _, h := range p.horizons {
		sh, err := saveHorizon(h, held, saveState)
		if err != nil {
			return nil, fmt.Errorf("%s snapshot: %w", p.kind, err)
		}
		s.Horizons = append(s.Horizons, sh)
	}
	if p.service != nil {
		s.Service = p.service.save()
	}
	if p.sat != nil {
		s.Sat = p.sat.save()
	}
	if p.volume != nil {
		s.Volume = p.volume.save()
	}
	b, err := marshalSealed(&s)
	if err != nil {
		return nil, fmt.Errorf("%s snapshot: %w", p.kind, err)
	}
	return b, nil
}

// load checks the snapshot b against p and returns what replaces p's
// state with it; nothing changes until that is called, and not at all on
// an error, which wraps ErrKPISnapshot.
func (p *kpiParts) load(b []byte) (func(), error) {
	// The format and the kind first, from the same bytes: a snapshot of
	// another kind is told as such before its lists are read.
	if err := otherSnapshot(p.kind, snapOfKPI, b, ErrKPISnapshot); err != nil {
		return nil, err
	}
	b, err := unseal(p.kind, b, ErrKPISnapshot)
	if err != nil {
		return nil, err
	}
	var head struct {
		Format int
		Kind   string
	}
	if err := msgpackcheck.Unmarshal(b, &head); err != nil {
		return nil, fmt.Errorf("%s restore: %v: %w", p.kind, err, ErrKPISnapshot)
	}
	switch {
	case head.Format < 1 || head.Format > kpiSnapFormat:
		return nil, fmt.Errorf("%s restore: snapshot format %d, want 1 to %d: %w", p.kind, head.Format, kpiSnapFormat, ErrKPISnapshot)
	case head.Kind != p.kind:
		return nil, fmt.Errorf("%s restore: a snapshot of a %s: %w", p.kind, head.Kind, ErrKPISnapshot)
	}
	var s kpiSnap
	if err := msgpackcheck.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s restore: %v: %w", p.kind, err, ErrKPISnapshot)
	}
	switch {
	case len(s.Horizons) != len(p.horizons):
		return nil, fmt.Errorf("%s restore: %d horizons, want %d (the projections' lateness differs): %w", p.kind, len(s.Horizons), len(p.horizons), ErrKPISnapshot)
	case (s.Service != nil) != (p.service != nil) || (s.Sat != nil) != (p.sat != nil) || (s.Volume != nil) != (p.volume != nil):
		return nil, fmt.Errorf("%s restore: the snapshot holds other projections: %w", p.kind, ErrKPISnapshot)
	}
	names, err := loadNames(s.Names)
	if err != nil {
		return nil, fmt.Errorf("%s restore: %w: %w", p.kind, err, ErrKPISnapshot)
	}
	names.xorKeys = s.XORKeys || s.Format < 5
	codec := events.NewMsgpackCodec(nil)
	horizons := make([]kpiHorizon[kpiState], len(p.horizons))
	for i, h := range p.horizons {
		state := func(st *kpiSnapState) (kpiState, error) { return loadState(st, uint32(len(s.Names))) }
		if horizons[i], err = loadHorizon(h, &s.Horizons[i], codec, state); err != nil {
			return nil, fmt.Errorf("%s restore: %w: %w", p.kind, err, ErrKPISnapshot)
		}
	}
	var sets []func()
	add := func(set func(), err error) error {
		sets = append(sets, set)
		return err
	}
	if p.service != nil {
		if err := add(p.service.load(s.Service, names, s.Format, &horizons[0])); err != nil {
			return nil, fmt.Errorf("%s restore: %w", p.kind, err)
		}
	}
	if p.sat != nil {
		if err := add(p.sat.load(s.Sat, len(s.Names))); err != nil {
			return nil, fmt.Errorf("%s restore: %w", p.kind, err)
		}
		if err := p.sat.checkStates(&horizons[p.satHorizon()], s.Sat, names, s.Format); err != nil {
			return nil, fmt.Errorf("%s restore: %w: %w", p.kind, err, ErrKPISnapshot)
		}
	}
	if p.volume != nil {
		if err := add(p.volume.load(s.Volume, len(s.Names))); err != nil {
			return nil, fmt.Errorf("%s restore: %w", p.kind, err)
		}
		// The Volume's horizon is the last: the Reporter's one, or its own.
		if err := p.volume.checkStates(&horizons[len(horizons)-1], s.Volume, names); err != nil {
			return nil, fmt.Errorf("%s restore: volume: %w: %w", p.kind, err, ErrKPISnapshot)
		}
	}
	return func() {
		*p.names = *names
		for i, h := range p.horizons {
			*h = horizons[i]
		}
		for _, set := range sets {
			set()
		}
		if s.Format < 6 && p.sat != nil {
			p.sat.fromFormat5(p.horizons[p.satHorizon()])
		}
	}, nil
}

// satHorizon returns the index, among p's horizons and those restored
// for them, of the one that tracks the satisfaction's issues: the one
// horizon, or the second of a Reporter's three (in the order service,
// satisfaction, volume).
func (p *kpiParts) satHorizon() int {
	if len(p.horizons) == 1 {
		return 0
	}
	return 1
}

// restore replaces p's state with the snapshot b, or changes nothing.
func (p *kpiParts) restore(b []byte) error {
	set, err := p.load(b)
	if err != nil {
		return err
	}
	set()
	return nil
}

func (s *ServiceLevel) parts() *kpiParts {
	return &kpiParts{kind: "service level", names: s.names, horizons: []*kpiHorizon[kpiState]{&s.h}, service: s}
}

func (s *Satisfaction) parts() *kpiParts {
	return &kpiParts{kind: "satisfaction", names: s.names, horizons: []*kpiHorizon[kpiState]{&s.h}, sat: s}
}

func (v *Volume) parts() *kpiParts {
	return &kpiParts{kind: "volume", names: v.names, horizons: []*kpiHorizon[kpiState]{&v.h}, volume: v}
}

// MarshalBinary implements encoding.BinaryMarshaler: the whole state of
// the projection, which UnmarshalBinary restores into a ServiceLevel of
// the same configuration, so that a Runner can checkpoint it.
func (s *ServiceLevel) MarshalBinary() ([]byte, error) { return s.parts().save() }

// UnmarshalBinary implements encoding.BinaryUnmarshaler: it replaces the
// state of s with what MarshalBinary saved, or changes nothing and returns
// an error that wraps ErrKPISnapshot.
func (s *ServiceLevel) UnmarshalBinary(b []byte) error { return s.parts().restore(b) }

// MarshalBinary implements encoding.BinaryMarshaler: the whole state of
// the projection, which UnmarshalBinary restores into a Satisfaction of
// the same configuration, so that a Runner can checkpoint it.
func (s *Satisfaction) MarshalBinary() ([]byte, error) { return s.parts().save() }

// UnmarshalBinary implements encoding.BinaryUnmarshaler: it replaces the
// state of s with what MarshalBinary saved, or changes nothing and returns
// an error that wraps ErrKPISnapshot.
func (s *Satisfaction) UnmarshalBinary(b []byte) error { return s.parts().restore(b) }

// MarshalBinary implements encoding.BinaryMarshaler: the whole state of
// the projection, which UnmarshalBinary restores into a Volume of the same
// configuration, so that a Runner can checkpoint it.
func (v *Volume) MarshalBinary() ([]byte, error) { return v.parts().save() }

// UnmarshalBinary implements encoding.BinaryUnmarshaler: it replaces the
// state of v with what MarshalBinary saved, or changes nothing and returns
// an error that wraps ErrKPISnapshot.
func (v *Volume) UnmarshalBinary(b []byte) error { return v.parts().restore(b) }
