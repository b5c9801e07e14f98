// Command fcrreport reads a JSON Lines event log in the wire format of the
// contact lifecycle and prints the full report: true and reported
// first-contact resolution with their breakdowns, service level,
// satisfaction and volume.
//
//	go run ./examples/fcrreport [flags] FILE   (or - for standard input)
//
// The log is read as a stream: memory follows the issues that are active,
// and a version for each issue of the log. Every event is checked against
// its stream (the next version, the lifecycle rules), an opening's
// identity keys normalised and its customer id trimmed as the write side
// does, before the rules check it; a line that does
// not decode, an unknown event type, an event that breaks its stream and
// one whose stream lacks versions before it stop the tool with the line
// number and the problem, unless -skip-invalid is given, which skips such
// lines and counts them in the report's "input" section. A skipped line
// whose envelope reads still takes its version in its issue's stream, so
// that the events after it are read, but its time, which is not to be
// trusted, counts for nothing; and the stream goes on past versions
// the log lacks (counted as missing_versions), as the projections' streams
// go past them once the lateness passed. -skip-unknown-types skips the
// events of unknown types only, as a reader of a log written by a newer
// producer does. An event further after the clock's time than -max-future
// (by default an hour, or half the lateness if less) is refused like an
// event that breaks its stream: one stamped in the future would make every
// event after it late.
//
// The exit status is 0 once the report is written, 3 when it is written
// but events came too late to count in its figures (a log out of time
// order by more than -lateness: the figures are wrong for it), 1 when the
// log stops the tool and 2 for a usage error.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/truefcr/truefcr/contact"
	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/internal/text"
	"github.com/truefcr/truefcr/projections"
)

// skippedType names the data of an event skipped as malformed whose
// version is passed on.
const skippedType events.Type = "fcrreport.skipped"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// input counts what was read, and what was skipped and why.
type input struct {
	Lines       int   `json:"lines"`
	Events      int64 `json:"events"`
	Duplicates  int64 `json:"duplicates"`
	Unchecked   int64 `json:"unchecked"`
	Invalid     int64 `json:"skipped_invalid"`
	UnknownType int64 `json:"skipped_unknown_type"`
	Blank       int   `json:"blank_lines"`
	// Missing counts the versions that no line of the log held where a
	// later version of their stream came (-skip-invalid): the stream went
	// on past them.
	Missing int64 `json:"missing_versions"`
	// Reordered counts the lines that came before an earlier version of
	// their issue and waited for it (up to half the lateness of event
	// time).
	Reordered int64 `json:"reordered"`
	// FirstInvalid describes the first skipped line.
	FirstInvalid string `json:"first_invalid,omitempty"`
}

// output is the report with the input section.
type output struct {
	projections.Report
	Input input `json:"input"`
}

type valueFlags map[string]projections.Value

func (v valueFlags) String() string { return fmt.Sprint(map[string]projections.Value(v)) }

func (v valueFlags) Set(s string) error {
	topic, value, ok := strings.Cut(s, "=")
	if !ok || topic == "" {
		return fmt.Errorf("want TOPIC=VALUE, such as billing=company, got %q", s)
	}
	switch projections.Value(value) {
	case projections.ValueCustomer, projections.ValueCompany, projections.ValueBoth, projections.ValueNeither:
	default:
		return fmt.Errorf("value %q of %s is not customer, company, both or neither", value, topic)
	}
	v[topic] = projections.Value(value)
	return nil
}

// thresholdFlags are the -channel-threshold flags: a channel's service
// level threshold each.
type thresholdFlags map[string]time.Duration

func (t thresholdFlags) String() string { return fmt.Sprint(map[string]time.Duration(t)) }

func (t thresholdFlags) Set(s string) error {
	channel, value, ok := strings.Cut(s, "=")
	if !ok || channel == "" {
		return fmt.Errorf("want CHANNEL=DURATION, such as email=24h, got %q", s)
	}
	d, err := time.ParseDuration(value)
	if err != nil || d <= 0 {
		return fmt.Errorf("threshold %q of %s is not a positive duration", value, channel)
	}
	t[channel] = d
	return nil
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fcrreport", flag.ContinueOnError)
	fs.SetOutput(stderr)
	window := fs.Duration("window", projections.DefaultFCRWindow, "repeat window W: a contact less than W after a resolution is a repeat")
	match := fs.String("match", "topic", "topic rule of repeat inference: topic (same topic), root (same top-level topic) or any")
	lateness := fs.Duration("lateness", projections.DefaultFCRLateness, "how late an event may arrive and still count in full")
	threshold := fs.Duration("threshold", 20*time.Second, "service level threshold T: answered within T counts as in service level")
	maxFuture := fs.Duration("max-future", 0, "how far after the clock's time an event may be (0: an hour, or half the lateness if less; negative: no limit, for a log stamped ahead on purpose)")
	format := fs.String("format", "json", "output format: json or text")
	skip := fs.Bool("skip-invalid", false, "skip lines that do not decode, have an unknown type or break their stream, and count them; go past versions the log lacks")
	skipUnknown := fs.Bool("skip-unknown-types", false, "skip events of unknown types only, and count them (lines that do not decode or break their stream still stop the tool)")
	country := fs.String("country", "", "country calling code of phone numbers written without one, such as 358 (none: such numbers are refused)")
	channelThresholds := thresholdFlags{}
	fs.Var(channelThresholds, "channel-threshold", "service level threshold of one channel, such as email=24h (repeatable); -threshold is that of the others")
	values := valueFlags{}
	fs.Var(values, "value", "tag a topic (and its subtopics) with a contact value: TOPIC=customer|company|both|neither (repeatable)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: fcrreport [flags] FILE|-\n\nReads a JSON Lines event log and prints the FCR and KPI report.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		if fs.NArg() > 1 && strings.HasPrefix(fs.Arg(1), "-") {
			fmt.Fprintf(stderr, "fcrreport: %s after the file name: flags go before it (fcrreport [flags] FILE)\n", fs.Arg(1))
			return 2
		}
		fmt.Fprintf(stderr, "fcrreport: want one FILE, or - for standard input, got %d arguments\n\n", fs.NArg())
		fs.Usage()
		return 2
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"window", *window}, {"lateness", *lateness}, {"threshold", *threshold}} {
		if d.v <= 0 {
			fmt.Fprintf(stderr, "fcrreport: -%s %s: need a positive duration\n", d.name, d.v)
			return 2
		}
	}
	var m projections.TopicMatch
	switch *match {
	case "topic":
		m = projections.MatchTopic
	case "root":
		m = projections.MatchRoot
	case "any":
		m = projections.MatchAny
	default:
		fmt.Fprintf(stderr, "fcrreport: -match %q: want topic, root or any\n", *match)
		return 2
	}
	if *format != "json" && *format != "text" {
		fmt.Fprintf(stderr, "fcrreport: -format %q: want json or text\n", *format)
		return 2
	}
	keys := contact.KeyRules{DefaultCountry: *country}
	if err := keys.Validate(); err != nil {
		fmt.Fprintf(stderr, "fcrreport: -country: %v\n", err)
		return 2
	}
	if len(values) == 0 {
		values = nil // no tags: no breakdown by value
	}
	cfg := projections.ReportConfig{
		FCR:       projections.FCRConfig{Window: *window, Match: m},
		Service:   projections.ServiceConfig{Threshold: *threshold, ChannelThresholds: channelThresholds},
		Volume:    projections.VolumeConfig{Values: values},
		Lateness:  *lateness,
		MaxFuture: *maxFuture,
	}
	r, err := projections.NewReporter(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "fcrreport: %v\n", err)
		return 2
	}

	src := stdin
	if name := fs.Arg(0); name != "-" {
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintf(stderr, "fcrreport: %v\n", err)
			return 1
		}
		defer f.Close()
		src = f
	}
	in, err := absorb(r, src, keys, *window, *lateness, *skip, *skipUnknown)
	if err != nil {
		fmt.Fprintf(stderr, "fcrreport: %v\n", err)
		return 1
	}

	out := output{Report: r.Report(), Input: in}
	stateKeys(&out.Report, keys)
	// The figures are then wrong, which nothing else in them shows. The
	// FCR and the KPI projections each count what they left out.
	rep := &out.Report
	code := 0
	if n := max(rep.FCR.LateDropped, rep.Service.LateEvents, rep.Satisfaction.LateEvents, rep.Volume.LateEvents); n > 0 {
		code = exitLate
		fmt.Fprintf(stderr, "fcrreport: warning: %d events came more than the lateness (%s) behind the latest event time before them, and are left out of the figures (late_dropped, late_events): sort the log by event time, or give a -lateness as long as its disorder\n",
			n, *lateness)
	}
	if in.Events == 0 {
		fmt.Fprintf(stderr, "fcrreport: warning: the log holds no events (%d lines read)\n", in.Lines)
	}
	for _, ch := range slices.Sorted(maps.Keys(channelThresholds)) {
		if _, ok := rep.Service.ByChannel[ch]; !ok {
			fmt.Fprintf(stderr, "fcrreport: warning: -channel-threshold names channel %q, which no contact of the log came on (channels are compared as written)\n", ch)
		}
	}
	w := bufio.NewWriter(stdout)
	if *format == "text" {
		err = out.Report.WriteText(w)
		if err == nil {
			_, err = fmt.Fprintf(w, "\nread %d lines: %d events (%d unchecked, %d reordered), %d duplicates, %d skipped as invalid, %d of unknown type, %d blank; %d versions missing\n",
				in.Lines, in.Events, in.Unchecked, in.Reordered, in.Duplicates, in.Invalid, in.UnknownType, in.Blank, in.Missing)
		}
		if err == nil && in.FirstInvalid != "" {
			_, err = fmt.Fprintf(w, "first line skipped: %s\n", in.FirstInvalid)
		}
	} else {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		err = enc.Encode(out)
	}
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		fmt.Fprintf(stderr, "fcrreport: %v\n", err)
		return 1
	}
	return code
}

// exitLate is the exit status of a report written with events left out of
// its figures as late: the log is out of time order by more than the
// lateness, and the figures are wrong for it.
const exitLate = 3

// absorb reads the log into r, checking every event against its stream
// and normalising the identity keys of each opening by keys, as the write
// side does: the FCR compares keys as they are given. skip skips what
// does not decode, is of an unknown type or breaks its stream; skipUnknown
// skips the events of unknown types. A line that comes before an earlier
// version of its issue waits for it up to half the lateness of event time
// (window and lateness are the report's).
func absorb(r *projections.Reporter, src io.Reader, keys contact.KeyRules, window, lateness time.Duration, skip, skipUnknown bool) (input, error) {
	var in input
	lines := events.NewLineReader(src, events.NewJSONCodec(nil))
	// W + lateness, at most the longest duration: the flags take durations
	// up to it each, and a sum that wrapped around would let go of every
	// resolved issue at once.
	horizon := window + lateness
	if horizon < window {
		horizon = math.MaxInt64
	}
	check := newChecker(keys, horizon)
	refuse := func(line int, err error) error {
		unknown := errors.Is(err, events.ErrUnknownType)
		if !skip && !(skipUnknown && unknown) {
			return fmt.Errorf("line %d: %w", line, err)
		}
		if unknown {
			in.UnknownType++
		} else {
			in.Invalid++
		}
		if in.FirstInvalid == "" {
			in.FirstInvalid = fmt.Sprintf("line %d: %v", line, err)
		}
		return nil
	}
	// fail refuses the event of l for err, as refuse does. An event of an
	// unknown type, or with malformed data, was counted as such: what
	// else keeps its version from being passed over counts no more, but
	// for what breaks its stream (versions missing before it, another
	// event at its version), which stops the tool unless skip is set.
	fail := func(l line, err error) error {
		if !l.known && (skip || !breaksStream(err)) {
			return nil
		}
		return refuse(l.line, err)
	}
	// passOver lets e, a line skipped as invalid for why, take its version
	// all the same, so that the events after it in its stream are read: as
	// an event that no projection reads, which the Reporter takes too
	// where it can (not when stamped too far ahead: its projections then
	// go past their gap once the lateness passed). Its time is not to be
	// trusted: the Reporter is given it no later than the log's time, so
	// that it moves no watermark; before the log has a time, once it has
	// one (giveEarly).
	var early []events.Envelope
	// give gives the Reporter o, a line passOver took, at the log's time
	// or its own if earlier (its own while the log has none).
	give := func(o events.Envelope) {
		if !check.watermark.IsZero() {
			o.At = minTime(o.At, check.watermark)
		}
		_ = r.Apply(o) // Check passed it, at a time no later
	}
	passOver := func(e events.Envelope, why error) {
		o := e
		o.Data = &events.Opaque{Type: skippedType}
		if o.Validate() != nil {
			return
		}
		taken := r.Check(o) == nil
		if !check.pass(o, taken, why) || !taken {
			return
		}
		if check.watermark.IsZero() {
			early = append(early, o)
			return
		}
		give(o)
	}
	// giveEarly gives the Reporter the lines that passOver took before
	// the log had a time, at the log's time or their own if earlier; at
	// the end of a log that never had one, at their own.
	giveEarly := func() {
		for _, o := range early {
			give(o)
		}
		early = nil
	}
	wait := newWaiting()
	// take checks the event of l against its stream and hands it to r.
	// An event that comes before an earlier version of its issue waits for
	// it (held, unless final says that it waited long enough): the stream
	// then lacks versions, which stops the tool, or with skip is gone past.
	take := func(l line, final bool) error {
		e, known := l.e, l.known
		if l.why != nil {
			// Refused by the Reporter: it only takes its version, the
			// next of its stream; one beyond waits as the others do. One
			// whose data alone is malformed waits at the next version
			// too, for a corrected copy (the same event id), which is
			// the event, whichever comes first: it takes the version,
			// and the malformed line then nothing.
			switch next := check.next(e.Issue); {
			case !final && (e.Version > next || l.malformed && e.Version == next):
				if _, twice := wait.hold(l); !twice || l.malformed {
					return nil
				}
			case e.Version > next && skip:
				if n, err := check.jump(e); err == nil {
					in.Missing += int64(n)
				}
			}
			passOver(e, l.why)
			return nil
		}
		// As the write side writes it, before the lifecycle checks it.
		v, err := check.check(e, known)
		if gap := (*gapError)(nil); errors.As(err, &gap) {
			switch {
			case !final:
				had, twice := wait.hold(l)
				switch {
				case !twice:
					return nil
				case had.e.ID == e.ID && had.why != nil:
					// The held copy was refused (stamped far ahead,
					// say) and counted so: this one is the event, as
					// it would fill the version the refused copy only
					// passed over.
					wait.replace(l)
					return nil
				case had.e.ID == e.ID:
					if err = otherContent(e, contentSum(had.e)); err != nil {
						break
					}
					if known {
						in.Duplicates++
					}
					return nil
				default:
					err = fmt.Errorf("issue %s version %d: event %s, where line %d had event %s at that version: %w",
						e.Issue, e.Version, e.ID, had.line, had.e.ID, events.ErrVersionConflict)
				}
			case gap.retired:
				v, err = check.pastRetired(e), nil
			case skip:
				// Versions the log lacks: its stream goes on past them,
				// as the projections' streams do once the lateness
				// passed.
				var n uint64
				if n, err = check.jump(e); err == nil {
					in.Missing += int64(n)
					v, err = check.check(e, known)
				}
			}
		}
		if err != nil {
			if err := fail(l, err); err != nil {
				return err
			}
			passOver(e, err)
			return nil
		}
		if v == duplicate {
			// It changes no figure: the projections would only count
			// it, as late when its issue's state was forgotten. Of a
			// line skipped, its first copy passed its version on and
			// was counted as skipped.
			if known {
				in.Duplicates++
			}
			return nil
		}
		if len(early) > 0 {
			giveEarly() // the log has a time now, this line's or before
		}
		if err := r.Apply(e); err != nil {
			return fail(l, err)
		}
		if known {
			in.Events++
			if v == unchecked {
				in.Unchecked++
			}
		}
		return nil
	}
	// release takes the held lines of issue that its stream now reaches:
	// reordered ones when the versions they waited for came.
	release := func(issue uuid.UUID, reordered bool) error {
		for {
			l, ok := wait.take(issue, check.next(issue))
			if !ok {
				return nil
			}
			if l.malformed {
				// It waits out its time for a corrected copy (take),
				// and the lines after it in their stream behind it.
				wait.hold(l)
				return nil
			}
			if reordered && l.known {
				in.Reordered++
			}
			if err := take(l, false); err != nil {
				return err
			}
		}
	}
	// expire takes, as final, the held lines that waited since before
	// cutoff, and what each releases: their streams lack versions.
	expire := func(cutoff time.Time) error {
		for {
			l, ok := wait.expired(cutoff)
			if !ok {
				return nil
			}
			if err := take(l, true); err != nil {
				return err
			}
			if err := release(l.e.Issue, false); err != nil {
				return err
			}
		}
	}
	for e, err := range lines.All() {
		known := true
		var malformed error // why a line whose data alone is malformed was skipped
		if err != nil {
			var le *events.LineError
			if !errors.As(err, &le) {
				return in, err // the reader failed, not a line
			}
			if err := refuse(le.Line, le.Err); err != nil {
				return in, err
			}
			// The event is skipped, but its version is passed over, so
			// that its issue's stream goes on past it: one of an unknown
			// type, or one whose data alone is malformed.
			var unknown *events.UnknownTypeError
			var bad *events.DecodeError
			switch {
			case errors.As(le.Err, &unknown):
				e = unknown.Opaque()
			case errors.As(le.Err, &bad) && bad.Event != nil:
				// Under a name of its own, which no projection reads:
				// its built-in name would still claim what it is.
				e = *bad.Event
				e.Data = &events.Opaque{Type: skippedType}
				malformed = le.Err
			default:
				continue
			}
			known = false
		}
		l := line{e: e, line: lines.Line(), known: known, at: e.At}
		// What the Reporter would refuse, before the checker notes the
		// event in its stream. A refused line's time (stamped far ahead,
		// say) moves no watermark and ends no wait.
		refused := r.Check(e)
		if malformed != nil {
			// Skipped as invalid, and counted so: like a line that the
			// Reporter refuses, it only takes its version, and its time
			// is not to be trusted.
			refused, l.malformed = malformed, true
		} else if refused == nil {
			// An opening's customer as the write side writes it, before
			// the lifecycle checks it; a key that does not normalise
			// refuses the line as the Reporter would, and its version is
			// passed over in its turn.
			var err error
			if l.e, err = normalized(e, keys); err != nil {
				refused = err
			}
		}
		wm := check.watermark
		if refused == nil && e.At.After(wm) {
			// The line's time ends the waits that it comes too late
			// for, unless the line breaks its stream (then its time is
			// not to be trusted), which only such waits ask.
			if !wait.endsBefore(e.At.Add(-lateness/2)) || !check.breaks(l.e, known) {
				wm = e.At
			}
		}
		// A held line reaches the projections before the watermark is
		// half the lateness past its time, so that they count it in
		// full: before this line moves the watermark.
		if err := expire(wm.Add(-lateness / 2)); err != nil {
			return in, err
		}
		if refused != nil {
			if errors.Is(refused, projections.ErrFutureEvent) {
				refused = fmt.Errorf("%w (-max-future sets how far)", refused)
			}
			if err := fail(l, refused); err != nil {
				return in, err
			}
			l.why = refused
			if l.at.After(wm) && !wm.IsZero() {
				l.at = wm // stamped ahead: it waits from the log's time
			}
		}
		if err := take(l, false); err != nil {
			return in, err
		}
		if err := release(e.Issue, true); err != nil {
			return in, err
		}
	}
	// What still waits lacks versions that the log does not have.
	if err := expire(time.Unix(1<<62, 0)); err != nil {
		return in, err
	}
	giveEarly()
	in.Lines, in.Blank = lines.Line(), lines.Blank()
	return in, nil
}

// minTime returns the earlier of a and b.
func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// breaksStream reports whether err says that an event breaks its stream:
// versions before it are missing from the log, or the log had another
// event at its version.
func breaksStream(err error) bool {
	var gap *gapError
	return errors.As(err, &gap) || errors.Is(err, events.ErrVersionConflict)
}

// givenKeys is how the FCR's definition says that it compares keys.
const givenKeys = "keys are compared as given"

// stateKeys makes rep's definitions state the identity rule that made
// it: the FCR compares keys as given, and this tool normalised them first.
func stateKeys(rep *projections.Report, keys contact.KeyRules) {
	id := identityRule(rep.FCR.Definition.Identity, keys)
	rep.FCR.Definition.Identity, rep.Definition.Identity = id, id
}

// identityRule returns the FCR's identity rule def with the comparison of
// keys that the tool makes: keys normalised by keys first, as the write
// side does (normalized).
func identityRule(def string, keys contact.KeyRules) string {
	rule := "keys are normalised as the write side does (contact.KeyRules: phone numbers to E.164"
	if cc := strings.TrimPrefix(strings.TrimSpace(keys.DefaultCountry), "+"); cc != "" {
		rule += ", +" + cc + " for those written without a country code"
	} else {
		rule += ", those written without a country code refused"
	}
	rule += "; emails lower-cased; other keys trimmed; a withheld number, and a key of invisible characters only, dropped), then compared"
	return strings.Replace(def, givenKeys, rule, 1)
}

// normalized returns e with the customer of an opening as the write side
// writes it: its id trimmed, its identity keys normalised by keys (a
// withheld number, and a key of invisible characters only, dropped);
// other events as they are.
func normalized(e events.Envelope, keys contact.KeyRules) (events.Envelope, error) {
	d, ok := e.Data.(*events.Opened)
	if !ok {
		return e, nil
	}
	norm, err := keys.NormalizeAll(d.Customer.Keys)
	if err != nil {
		return e, fmt.Errorf("event %s of issue %s: %w", e.ID, e.Issue, err)
	}
	id := text.Trim(d.Customer.ID) // as the write side trims it
	switch {
	// As the write side refuses such an opening.
	case len(norm) == 0 && id == "" && len(d.Customer.Keys) > 0:
		return e, fmt.Errorf("event %s of issue %s: the customer has neither an id nor an identity key: a withheld number, or a key of invisible characters only, identifies no one (%+q)",
			e.ID, e.Issue, d.Customer.Keys)
	case len(norm) == 0 && id == "":
		// An earlier write side, which trimmed ids of spaces only, wrote
		// such an id as given.
		return e, fmt.Errorf("event %s of issue %s: the customer has neither an id nor an identity key: an id of invisible characters only identifies no one (%+q)",
			e.ID, e.Issue, d.Customer.ID)
	}
	if slices.Equal(norm, d.Customer.Keys) && id == d.Customer.ID {
		return e, nil
	}
	c := *d
	c.Customer.ID, c.Customer.Keys = id, norm
	e.Data = &c
	return e, nil
}
