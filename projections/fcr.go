package projections

import (
	"encoding"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/google/uuid"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/internal/minheap"
)

// FCR is a Projection and saves its state for checkpoints.
var (
	_ Projection                 = (*FCR)(nil)
	_ encoding.BinaryMarshaler   = (*FCR)(nil)
	_ encoding.BinaryUnmarshaler = (*FCR)(nil)
)

// Sentinel errors of the FCR projection.
var (
	// ErrFCRConfig: an FCRConfig that cannot be used.
	ErrFCRConfig = errors.New("invalid FCR configuration")
	// ErrFCRSnapshot: a snapshot that cannot be restored.
	ErrFCRSnapshot = errors.New("invalid FCR snapshot")
)

// FCR is the true first-contact resolution projection. It chains a
// customer's issues into problems, across channels and linked identities,
// and measures which problems were solved on their first contact.
//
// # Rules
//
// The rules are those of the README's definitions; where those leave a
// choice, FCR decides as follows.
//
//   - Identity: the keys and the customer id on one issue.opened belong to
//     one customer, transitively. Keys are compared as given (by a 64-bit
//     hash, see below); a customer id is an identifier of its own
//     namespace; an issue.opened has at least one identifier (Validate
//     refuses one without). Only events that reach this FCR link identities: when the
//     events are partitioned over several FCRs, partition by a customer id
//     that is stable from the first contact, or links between partitions
//     are never made.
//   - Identity over time: a link counts between two issues of different
//     identifiers when it was made (by an issue opened) before either of
//     them settled (see below). So a link learned days after a call and a
//     chat about the same thing makes them one failed problem, while a
//     link learned after both settled does not reopen a verdict that was
//     final: a projection with bounded memory has folded such a problem
//     by then, and the rule keeps the result a function of the events
//     rather than of when folding happened. Issues opened later are
//     linked as usual.
//   - Times: an issue's events take effect at their event times. An earlier
//     issue is one opened earlier (ties broken by issue id). An issue is
//     live for inference at time t while it is open at t, or was resolved
//     at r with t − r < W. A contact is within the window after a
//     resolution at r when it happened before r + W; a contact at the
//     resolution's own time counts as before it.
//   - Settled issues: an issue settles W after the resolution that last
//     closed it (the first since its last inbound contact), when it
//     can no longer be live; its problem's verdict is then final. Events
//     of the issue that come at or after that time (a reopen weeks later,
//     a late survey, a reclassification), and every later event of its
//     stream, are not applied: they are counted in orphaned_events. A
//     helpdesk whose customers reopen long-solved tickets should open a
//     new issue for them (a follow-up ticket), which is then matched like
//     any other.
//   - Problems: an issue opened while an earlier live issue of the same
//     customer has a matching topic joins the problem of the most recent
//     such issue. Topics count between two issues as they were given
//     before either of them settled, as links do: a reclassification that
//     comes after one of them settled neither chains them nor takes them
//     apart, since that one's verdict was final (an issue opened about
//     another matter and reclassified days later to the topic of a
//     problem settled since is a problem of its own). A problem's topic is
//     that of its earliest issue (its current topic);
//     its first contact is its earliest counted contact (its earliest
//     contact when none is counted); its resolution is the earliest first
//     resolution of its issues, with that resolution's agent, bot flag
//     and queue (the last routing of the resolving contact).
//   - Verdicts: a resolved problem with exactly one counted contact up to
//     its resolution and none in the window after it achieved FCR; with
//     two or more counted contacts in that span it failed. A problem whose
//     only counted contacts came after its resolution failed too (the
//     resolution did not hold); one with no counted contact at all is
//     counted as no_contact and is in neither denominator. A verdict is
//     final once the watermark passed resolution + W; before that the
//     problem is pending, whatever its contacts.
//   - Reported FCR: an issue record succeeded when its first resolution was
//     on its first counted contact with no other counted contact before it
//     (in stream order): an abandoned attempt is no contact here either, so
//     a ticket whose opening call was abandoned and that was resolved on the
//     call back succeeded, and one closed with no counted contact did not.
//     Its denominator is the resolved issue records of the final problems
//     that achieved or failed (not of those with no counted contact), so
//     that reported and true FCR, and their difference (the inflation),
//     cover the same problems.
//   - Breakdowns: true FCR by the problem's attributes, reported FCR by the
//     issue record's own (its opening channel, topic, first resolution).
//     Repeat contacts (the channel-switch matrix, the repeat topics, the
//     contacts-per-problem distribution) are the counted contacts of final
//     problems up to resolution + W other than the first. Periods are the
//     UTC day and ISO week of the first contact.
//   - Bot containment: among final problems resolved by a bot that
//     achieved or failed (not those with no counted contact, as for true
//     FCR), the share with no counted contact in the window after the
//     resolution.
//   - CSAT: the csat answers (issue.rated) of all the issues of final
//     achieved and failed problems that came before the issue settled;
//     NPS and CES are not used here. Secondary topics are not used for
//     matching.
//
// # Snapshots
//
// Snapshot saves the whole state (live issues, customers, folded counters,
// stream versions, held events) with a store position of the caller's
// choosing; Restore puts it into an FCR of the same window, lateness and
// topic rule, which then goes on as the saved one would have. FCR is also
// an encoding.BinaryMarshaler for checkpoint stores. A snapshot saved
// before reported FCR took abandoned attempts out of a record's first
// contact (format 5 and before) keeps the reported counts of the problems
// it had folded, by that rule, and the report's definition says so; the
// problems folded since count by today's. Rebuild from a store for figures
// by one rule.
//
// # Lateness and memory
//
// The watermark is the latest event time seen. An event older than the
// watermark minus the lateness is late: it is counted in late_events, and
// applied if its issue is still live; if not, it is counted in
// late_dropped and goes no further. A duplicate of an event the FCR knows
// is not late: it changes nothing, not even the watermark.
//
// Events that come after a gap in their stream wait for it to fill. Those
// of a live issue wait until the first of them is older than the
// watermark minus the lateness; the stream then goes on without the
// missing versions, which are counted in missing_events, and one that
// comes after all is counted in late_events and late_dropped, and not
// applied. This assumes that a stream's event times do not go back, as
// the write side (package contact) ensures: a missing version is then no
// later than the events that waited for it.
//
// A problem is folded into counters, and its issues and their sequencer
// state freed, once nothing that may still arrive can change it: its
// verdict is final, every one of its issues is resolved with its last
// resolution + W older than the watermark minus the lateness, and no
// issue of its customer that has not settled by then could still join it
// (one that opened while the problem was live, with a matching topic,
// but chains to a more recent issue of another problem, whose topic may
// still change). A problem with an open issue stays live, since a later
// issue may still join it: memory follows the open backlog and the last
// W + lateness of traffic, not the history. Events of a folded issue can
// only be ones that come after it settled, which are not applied anyway:
// they wait for a gap in their stream (the projection forgot the stream)
// and, like other held events of issues that are not live, are dropped
// and counted in orphaned events once older than the watermark minus the
// lateness. The rules above make the report independent of when folding
// happens: a problem in memory and the same problem folded give the same
// figures. The counts of deliveries are the exception: a redelivery of an
// event that was applied, or is held, is ignored while the FCR knows it
// (counted by DuplicatesIgnored only). Once its issue was folded the FCR
// no longer knows its stream: the redelivery is late (late_events,
// late_dropped) or, if the event came after the issue settled, held and
// then counted in orphaned_events.
//
// A stream whose version 1 is not issue.opened (a host's own stream on the
// same feed, a producer's mistake) has no issue, even if an issue.opened
// comes later in it: its events are counted in ignored_events. The FCR
// keeps its version, so that a redelivery is known and a later event is
// ignored at once, until the stream has been quiet for W + lateness by
// event time; an event of it that comes later waits for its gap like one
// of a folded issue and is counted in orphaned_events, or in late_events
// and late_dropped when older than the lateness (a redelivery). Which of
// these counts an event depends on delivery; the figures do not. A stream
// that starts at a later version (the FCR joined a feed after the issue
// opened) waits for its gap from the start.
//
// Customers, their identifiers and the links between them (which two
// identifiers were seen together, and first when) are kept for good, as a
// CRM keeps them: memory for identity follows the number of customers, not
// of events, at about 35 bytes an identifier and 24 a link. A customer
// known by a single identifier, which has no link, is forgotten once its
// last live issue folds: seen again, it is a customer of its own, as it
// would have been. A key that
// many customers give (a switchboard number, an info@ address, an account
// that every employee quotes) makes them one customer, and its issues of
// a topic that follow each other within W one problem: such a customer's
// live issues follow its chain of problems, not the horizon, and are
// rechained at each look. Whether two of its issues were linked in time
// is then not a walk over its links: the links of a customer with more
// than 16 are also indexed by pair (about 23 bytes a link) and joined in
// time order into a forest (about 34 bytes an identifier), where it is a
// climb of two trees of logarithmic depth (BenchmarkFCRSharedIdentifier).
// Keys that do not identify one customer are best left out at the edge.
//
// A live problem of one issue, of a customer known by two keys, costs
// about 230 bytes of heap (see BenchmarkFCRMemory). Live issues and
// identifiers are found through open-addressing indexes of 8-byte
// entries, and a live issue's stream is sequenced in its slot: the
// Sequencer holds only the streams of issues that are not live and of
// those with events waiting for a gap. Identity
// keys are kept as 64-bit hashes, not strings: two different
// identifiers collide with a probability of about n²/2⁶⁵ among n of them
// (about three in a million for ten million), and a collision would link
// two customers. Channels, topics, agents and queues are interned once.
//
// An FCR is not safe for concurrent use.
type FCR struct {
	cfg      FCRConfig
	window   int64
	lateness int64

	future futureGuard // refuses events too far after the clock's time
	seq    *Sequencer
	emit   func(events.Envelope) error
	strays strays // the streams seq tracks that are not of live issues
	// gaps queues the live issues with held events by the time of their
	// first, or earlier (see skipGaps); skipped holds the versions that
	// the streams of live issues went past.
	gaps    minheap.Heap[issueAt]
	skipped map[uuid.UUID][]versionSpan

	wm    int64 // watermark, Unix ns; valid when hasWM
	hasWM bool

	names  nameTable
	byID   slotIndex // live issues by id
	issues issueSlab // live issues; free slots lack fLive
	freeIx []int32
	ids    identities

	folded fcrTally // problems folded into counters
	counts fcrCounts

	due        map[int64]*[]int32 // resolved issues by settling time bucket
	dueLast    *[]int32           // the bucket filed last, number dueLastB
	dueLastB   int64
	dueWidth   int64 // the span of one bucket
	dups       int64 // deliveries recognised as duplicates
	sinceSweep int   // events since the last sweep
	sweptAt    int64 // the watermark at the last sweep
	scratch    fcrScratch
	// recIx indexes the contacts of issues with many recs (recIndexMin),
	// by slot, for rec.
	recIx map[int32]*recIndex
	// reportedOnOpening: the folded counters hold reported successes
	// counted on the opening contact, by the rule of snapshots before
	// format 6, from which this FCR was restored.
	reportedOnOpening bool
	// xorKeys: the contacts are keyed by xorKey, as in snapshots before
	// format 7, from which this FCR was restored (see recKey).
	xorKeys bool
}

// fcrCounts are the event counts that the report shows.
type fcrCounts struct {
	Issues      int64 // issues opened
	Late        int64 // deliveries older than watermark − lateness on arrival, known duplicates excluded
	LateDropped int64 // late events not applied: their issue was not live, or its stream went past them
	Orphaned    int64 // held events dropped: their issue was folded or their gap never filled
	Missing     int64 // versions that the streams of live issues went past (see skipGaps)
	Ignored     int64 // events of an issue whose stream did not start with issue.opened
}

// NewFCR returns an empty true-FCR projection, or the error of a cfg
// that does not Validate (it wraps ErrFCRConfig).
func NewFCR(cfg FCRConfig) (*FCR, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return newFCR(cfg), nil
}

// newFCR is NewFCR of a cfg that is valid.
func newFCR(cfg FCRConfig) *FCR {
	f := &FCR{}
	cfg.setDefaults()
	if cfg.Registry == nil {
		cfg.Registry = events.NewRegistry()
	}
	f.cfg = cfg
	f.window = int64(cfg.Window)
	f.lateness = int64(cfg.Lateness)
	f.future = newFutureGuard(cfg.MaxFuture, "FCRConfig.MaxFuture")
	f.seq = NewSequencer()
	f.emit = f.applyOrdered
	f.names = newNameTable()
	f.byID = newSlotIndex()
	f.ids = newIdentities()
	f.folded = newFCRTally()
	f.due = make(map[int64]*[]int32)
	f.dueWidth = max(1, f.horizon()/16)
	f.sweptAt = math.MinInt64 // no sweep yet, whatever the era of the log
	f.scratch.pre.cur = -1
	return f
}

// Config returns the configuration in effect, defaults filled in.
func (f *FCR) Config() FCRConfig { return f.cfg }

// Apply absorbs one event. Events may come in any order and more than
// once: each issue's events are put in version order (duplicates ignored,
// events after a gap held until it fills). Event types other than the
// lifecycle ones are ignored. An event that does not Validate (an opening
// without a channel, a resolution without its contact…), or whose time
// lies outside the years that the codecs write (events.InTimeRange: 1678
// to 2261), is refused and changes
// nothing, as the Reporter refuses it. The error says what was wrong with
// e and wraps events.ErrInvalidEvent. An event further after the clock's
// time than FCRConfig.MaxFuture is refused too, with an error that wraps
// ErrFutureEvent.
func (f *FCR) Apply(e events.Envelope) error { return f.apply(&e, uuidTag(e.Issue), false) }

// apply is Apply of the event at e, which it does not keep; tag is
// uuidTag of its issue, and valid says that e passed Validate already.
func (f *FCR) apply(e *events.Envelope, tag uint32, valid bool) error {
	at, err := checkFCREvent(e, valid)
	if err != nil {
		return err
	}
	if !valid && at > f.future.bound {
		if err := f.future.check("FCR", e, at); err != nil {
			return err
		}
	}
	ix := f.lookupTag(e.Issue, tag)
	var is *fcrIssue // the issue's slot, while the stream is sequenced there
	if ix >= 0 {
		if is = f.issues.at(ix); is.has(fSeqd) {
			is = nil
		}
	}
	var dup, tracked bool // by the slot, or else by the Sequencer
	if is != nil {
		dup = e.Version <= uint64(is.ver)
	} else {
		dup, tracked = f.seq.known(e)
	}
	if dup {
		if len(f.skipped) > 0 && f.wasSkipped(e.Issue, e.Version) {
			// It came after its stream went on without it: late, and
			// left out of the figures.
			f.counts.Late++
			f.counts.LateDropped++
			return nil
		}
		f.dups++ // a known duplicate changes nothing, not even the watermark
		return nil
	}
	if !f.observeAt(at, ix >= 0) {
		return nil
	}
	if err := f.sequence(ix, is, tracked, at, e, tag); err != nil {
		return err
	}
	if f.gaps.Len() > 0 {
		f.skipGaps()
	}
	f.maybeSweep()
	return nil
}

// sequence applies e, at its time at, if it is next in its issue's stream
// and with the held events it releases; ix is the issue's slot, -1 when
// it is not live, is the slot itself while the stream is sequenced there
// (nil otherwise), tracked whether the Sequencer knows the stream when
// is is nil, and e is not a duplicate (apply checked). A live issue
// is sequenced in its slot, which costs no lookup beyond finding the
// slot; the Sequencer takes the streams that are not live (not opened
// yet, or never) and the live ones with events that wait for a gap. tag
// is uuidTag of e's issue.
func (f *FCR) sequence(ix int32, is *fcrIssue, tracked bool, at int64, e *events.Envelope, tag uint32) error {
	if is != nil {
		if e.Version == uint64(is.ver)+1 && e.Version <= math.MaxUint16 {
			f.applyTo(ix, at, e)
			f.issues.at(ix).ver++
			return nil
		}
		// A gap, or a version that outgrows the slot.
		is.flags |= fSeqd
		f.seq.setNext(e.Issue, uint64(is.ver)+1)
	} else if ix < 0 && e.Version == 1 && !tracked {
		if d, ok := e.Data.(*events.Opened); ok {
			// The first event of a new stream: open it in its slot.
			if !f.lateAt(at) {
				ix = f.open(e.Issue, tag, at, d)
				f.issues.at(ix).ver = 1
			}
			return nil
		}
	}
	if _, err := f.seq.Offer(*e, f.emit); err != nil {
		return err
	}
	f.adopt(e.Issue)
	return nil
}

// adopt moves the stream of issue from the Sequencer into its slot once
// the issue is live and no event of it waits for a gap.
func (f *FCR) adopt(issue uuid.UUID) {
	ix := f.lookup(issue)
	if ix < 0 {
		return
	}
	is := f.issues.at(ix)
	switch next, held := f.seq.state(issue); {
	case next == 0 && !held:
		// The Sequencer does not know it: the slot keeps the stream.
	case held || next-1 > math.MaxUint16:
		is.flags |= fSeqd
		f.queueGap(issue)
	default:
		is.ver = uint16(next - 1)
		is.flags &^= fSeqd
		f.seq.drop(issue)
	}
}

// lookup returns the slot of live issue id, or -1.
func (f *FCR) lookup(id uuid.UUID) int32 { return f.lookupTag(id, uuidTag(id)) }

// lookupTag is lookup of an id whose uuidTag is tag.
func (f *FCR) lookupTag(id uuid.UUID, tag uint32) int32 {
	t := &f.byID
	for p := t.home(tag); ; p = t.next(p) {
		s := t.slots[p]
		if s.ix == 0 {
			return -1
		}
		if ix := s.ix - 1; s.tag == tag && f.issues.at(ix).id == id {
			return ix
		}
	}
}

// observeAt moves the watermark to at, the time of an event of an issue
// that is live or not, and counts the event if it is late. It reports
// whether the event goes on to be sequenced and applied: not when it is
// late and its issue is not live, as it then could only be misapplied
// (its issue was folded, or its start arrived even later).
func (f *FCR) observeAt(at int64, live bool) bool {
	late := f.lateAt(at)
	if !f.hasWM || at > f.wm {
		f.wm, f.hasWM = at, true
	}
	if !late {
		return true
	}
	f.counts.Late++
	if !live {
		f.counts.LateDropped++
		return false
	}
	return true
}

// lateAt reports whether an event at time at is older than the watermark
// minus the lateness.
func (f *FCR) lateAt(at int64) bool { return f.hasWM && at < satSub(f.wm, f.lateness) }

// horizon returns W + lateness, saturated: how long after its last
// resolution an issue may still be folded or changed. Times are computed
// with satAdd and satSub, so that a window or lateness of centuries gives
// no overflow.
func (f *FCR) horizon() int64 { return satAdd(f.window, f.lateness) }

// maybeSweep folds what nothing may change any more, once enough events
// passed since the last sweep (half as many as there are live issues, so
// that a sweep's cost is spread over the events that caused it) and the
// watermark moved by a sixteenth of the horizon W + lateness (before that,
// little can have become final; after it, memory has grown by about as
// much). Call it after sequencing an event, never from inside a
// Sequencer's emit: folding forgets sequencer state.
func (f *FCR) maybeSweep() {
	if f.sinceSweep++; f.sinceSweep >= 4096 {
		f.sweepIfDue()
	}
}

// sweepIfDue is maybeSweep once 4096 events passed since the last sweep.
func (f *FCR) sweepIfDue() {
	if f.sinceSweep >= f.byID.n/2 && f.wm >= satAdd(f.sweptAt, f.horizon()/16) {
		f.sweep()
	}
}

// The range of times that Unix nanoseconds hold, in seconds: how far
// AdvanceTo moves the watermark (event times keep to the narrower range of
// events.InTimeRange, below).
const (
	minUnixNanoSec = math.MinInt64/int64(time.Second) + 1
	maxUnixNanoSec = math.MaxInt64/int64(time.Second) - 1
)

// The range of events.InTimeRange in Unix seconds, from the first second
// of 1678 up to that of 2262 (UTC): the events that the projections take
// (TestEventTimeRangeIsTheCodecs). The FCR compares the seconds it reads
// anyway, rather than reading them again through InTimeRange.
const (
	minEventSec = -9_214_560_000
	endEventSec = 9_214_646_400
)

// checkFCREvent returns e's time in Unix ns, or reports what keeps e from
// being applied.
func checkFCREvent(e *events.Envelope, valid bool) (int64, error) {
	sec := e.At.Unix()
	// e.Version-1 < MaxVersion: 1 ≤ e.Version ≤ MaxVersion in one compare.
	if e.Issue != uuid.Nil && e.Version-1 < events.MaxVersion && events.IsData(e.Data) && sec >= minEventSec && sec < endEventSec {
		// What Validate checks beyond the above, and its error.
		if !valid && (e.ID == uuid.Nil || events.ValidateData(e.Data) != nil) {
			return 0, fmt.Errorf("FCR apply: %w", e.Validate())
		}
		return sec*int64(time.Second) + int64(e.At.Nanosecond()), nil
	}
	if err := e.Validate(); err != nil {
		return 0, fmt.Errorf("FCR apply: %w", err)
	}
	return 0, fmt.Errorf("FCR apply issue %s version %d: event time %s is out of range: %w",
		e.Issue, e.Version, e.At.Format(time.RFC3339), events.ErrInvalidEvent)
}

// applyOrdered absorbs one event of an issue whose earlier events were all
// applied: the caller sequenced the events (Apply, or a report that
// sequences once for several projections). It neither moves the watermark
// nor folds: a caller other than Apply calls observeAt for every event
// before sequencing it and maybeSweep after. An event that observeAt said
// to drop may still come here: a late issue.opened is then dropped, and
// the events of an issue that is not live (never opened here, or folded)
// are counted as ignored.
func (f *FCR) applyOrdered(e events.Envelope) error {
	f.applyTo(f.lookup(e.Issue), e.At.UnixNano(), &e)
	return nil
}

// applyTo is applyOrdered of an event at time at, of the issue in slot ix
// (-1 when it is not live).
func (f *FCR) applyTo(ix int32, at int64, e *events.Envelope) {
	d, opened := e.Data.(*events.Opened)
	if opened && ix < 0 && e.Version == 1 {
		if !f.lateAt(at) {
			// When late, observeAt counted it and said to drop it,
			// which a caller that sequences for several projections
			// cannot do.
			f.open(e.Issue, uuidTag(e.Issue), at, d)
		}
		return
	}
	if ix < 0 || e.Type() == events.TypeOpened {
		// An event of a stream with no live issue (the Sequencer
		// emitted it, and tracks the stream), or a second opening, of
		// any Go type, as the KPI projections pass it over.
		f.counts.Ignored++
		if ix < 0 {
			f.strays.note(e.Issue, at)
		}
		return
	}
	is := f.issues.at(ix)
	if is.cuts(at, f.window) {
		f.counts.Orphaned++
		return
	}
	switch d := e.Data.(type) {
	case *events.Routed:
		if r := f.rec(ix, is, f.recKey(d.Contact)); r != nil {
			r.queue = f.names.id(d.Queue)
		}
	case *events.Resolved:
		is.resolve(at, f.recKey(d.Contact), f.names.id(d.Agent), d.Bot)
		f.settles(ix)
	case *events.Reopened:
		is.contact(at, f.recKey(d.Contact), f.names.id(d.Channel))
	case *events.Contacted:
		is.contact(at, f.recKey(d.Contact), f.names.id(d.Channel))
	case *events.Abandoned:
		if r := f.rec(ix, is, f.recKey(d.Contact)); r != nil {
			r.key |= recAbandoned
		}
	case *events.Rated:
		if d.Survey == events.SurveyCSAT && d.Score >= 1 && d.Score <= 5 && is.csatN < 255 {
			is.csatN++
			is.csatSum += uint16(d.Score)
			if d.Score >= 4 {
				is.csatTop2++
			}
		}
	case *events.Classified:
		is.classify(at, f.names.id(d.Topic))
		f.recheck(ix)
	}
}

// open creates the state of a newly opened issue and files it under its
// customer, linking the identifiers it carries; tag is uuidTag of id. It
// returns the issue's slot.
func (f *FCR) open(id uuid.UUID, tag uint32, at int64, d *events.Opened) int32 {
	var ix int32
	if k := len(f.freeIx); k > 0 {
		ix = f.freeIx[k-1]
		f.freeIx = f.freeIx[:k-1]
	} else {
		ix = f.issues.add()
	}
	*f.issues.at(ix) = fcrIssue{
		id:    id,
		topic: f.names.id(d.Topic),
		flags: fLive,
		first: fcrRec{
			at:      at,
			key:     f.recKey(d.Contact),
			channel: f.names.id(d.Channel),
		},
	}
	f.byID.insert(tag, ix)
	f.counts.Issues++
	if f.strays.len() > 0 {
		f.strays.drop(id)
	}

	// The issue's identifiers: first the customer id, then the keys.
	nodes := f.scratch.idents[:0]
	if d.Customer.ID != "" {
		nodes = append(nodes, f.ids.node(d.Customer.ID, true))
	}
	if hashes, ok := f.scratch.pre.keys(d); ok {
		// ApplyBatch read their nodes ahead, with their hashes.
		for _, h := range hashes {
			nodes = append(nodes, f.ids.nodeOf(h))
		}
	} else {
		for _, k := range d.Customer.Keys {
			nodes = append(nodes, f.ids.node(k, false))
		}
	}
	if len(nodes) == 0 {
		// No identifier: the issue is a customer of its own.
		nodes = append(nodes, f.ids.node(id.String(), true))
	}
	f.scratch.idents = nodes
	root := nodes[0]
	linked := false // two customers with live issues became one
	for _, n := range nodes[1:] {
		if ra, rb := f.ids.find(root), f.ids.find(n); ra != rb && f.ids.nodes[ra].issue >= 0 && f.ids.nodes[rb].issue >= 0 {
			linked = true
		}
		root = f.ids.union(root, n, &f.issues)
	}
	root = f.ids.find(root)
	for _, n := range nodes[1:] {
		if n != nodes[0] {
			f.ids.addLink(root, nodes[0], n, at)
		}
	}
	f.issues.at(ix).node = nodes[0]
	f.ids.addIssue(root, ix, &f.issues)
	if linked {
		f.recheck(ix)
	}
	return ix
}

// recheck files issue ix to be looked at by the next sweep that passes
// the current cutoff, whether it settled or not: an event changed which
// of its customer's issues form a problem, and a problem held back by an
// open issue or by time may now fold.
func (f *FCR) recheck(ix int32) {
	if f.hasWM {
		f.file(ix, satSub(f.wm, f.lateness))
	}
}

// Watermark returns the latest event time seen, zero before any event.
func (f *FCR) Watermark() time.Time {
	if !f.hasWM {
		return time.Time{}
	}
	return time.Unix(0, f.wm).UTC()
}

// Live returns how many issues the projection holds in memory (see
// LiveProblems for the problems they form).
func (f *FCR) Live() int { return f.byID.n }
