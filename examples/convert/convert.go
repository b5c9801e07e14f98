package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"
	"golang.org/x/text/unicode/norm"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/internal/minheap"
)

// errMalformed is wrapped by the error of a row that cannot be converted.
var errMalformed = errors.New("malformed row")

// errUsage is wrapped by errors about the command line.
var errUsage = errors.New("usage")

// errNoEvents is a file that converts to no event: its log would report a
// contact centre of nothing.
var errNoEvents = errors.New("nothing to convert")

// options says how to convert.
type options struct {
	dataset  string        // "pwc" or "twcs"
	window   time.Duration // repeat window of the summary
	gap      time.Duration // twcs: a silence longer than this starts a new conversation
	strict   bool          // stop at the first malformed row instead of skipping it
	classify bool          // twcs: guess topics from the text instead of one topic
	warn     io.Writer     // where warnings about rows go
}

// summary counts what a conversion read and wrote.
type summary struct {
	Lines     int // lines of input read
	Rows      int // data rows converted
	Skipped   int // rows skipped as malformed
	Replies   int // rows of the company's replies, left out: no customer contact (twcs)
	Repaired  int // rows converted although malformed (a field cut short)
	Customers int
	Issues    int
	Events    int
	Abandoned int
	Resolved  int
	FollowUps int
	Rated     int
	// Repeats counts issues that another issue of the same customer
	// followed within the window: what the report's repeat inference
	// with the "any topic" rule should find (twcs only).
	Repeats int
}

func (s summary) String() string {
	replies := ""
	if s.Replies > 0 {
		replies = fmt.Sprintf(", %d company replies left out", s.Replies)
	}
	return fmt.Sprintf("%d lines, %d rows converted (%d repaired), %d skipped%s; %d customers, %d issues, %d events: "+
		"%d abandoned, %d resolved, %d follow-ups, %d ratings; %d issues followed by another of the same customer within the window",
		s.Lines, s.Rows, s.Repaired, s.Skipped, replies, s.Customers, s.Issues, s.Events, s.Abandoned, s.Resolved, s.FollowUps, s.Rated, s.Repeats)
}

// convert reads a data set from r and writes its JSON Lines event log to w.
func convert(ctx context.Context, r io.Reader, w io.Writer, opt options) (summary, error) {
	out := newSink(w)
	var (
		sum summary
		err error
	)
	switch opt.dataset {
	case "pwc":
		sum, err = convertPWC(ctx, r, out, opt)
	case "twcs":
		sum, err = convertTWCS(ctx, r, out, opt)
	default:
		return sum, fmt.Errorf("dataset %q: want pwc or twcs: %w", opt.dataset, errUsage)
	}
	switch {
	case err == nil && sum.Rows == 0 && sum.Skipped > 0:
		// A log of nothing would report a contact centre of nothing.
		err = fmt.Errorf("read %s: none of its %d rows converted, each skipped as its warning says: %w", opt.dataset, sum.Skipped, errNoEvents)
	case err == nil && sum.Rows == 0 && sum.Replies > 0:
		err = fmt.Errorf("read %s: none of its rows is a customer's tweet: its %d rows are the company's replies: %w", opt.dataset, sum.Replies, errNoEvents)
	case err == nil && sum.Rows == 0:
		err = fmt.Errorf("read %s: the file holds no rows after its header: %w", opt.dataset, errNoEvents)
	}
	if err == nil {
		err = out.flushAll()
	} else {
		// What was held back stays there: the log written so far, whole
		// lines, is cut short, and the error says so (see run).
		_ = out.w.Flush()
	}
	sum.Events = out.written
	return sum, err
}

// rowProblem handles a malformed row: an error in strict mode, otherwise a
// warning that says what was done with the row, and the conversion goes on.
func rowProblem(opt options, line int, problem, action string) error {
	if opt.strict {
		return fmt.Errorf("%s line %d: %s: %w", opt.dataset, line, problem, errMalformed)
	}
	if opt.warn != nil {
		fmt.Fprintf(opt.warn, "warning: %s line %d: %s; %s\n", opt.dataset, line, problem, action)
	}
	return nil
}

// idSpace derives the ids of a conversion from names, so that converting
// the same file twice gives the same ids (UUID version 5).
type idSpace struct{ ns uuid.UUID }

func newIDSpace() idSpace {
	return idSpace{ns: uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/truefcr/truefcr/examples/convert"))}
}

func (s idSpace) id(parts ...string) uuid.UUID {
	return uuid.NewSHA1(s.ns, []byte(strings.Join(parts, "/")))
}

// stream builds one issue's events with versions 1, 2, 3…
type stream struct {
	ids     idSpace
	name    string // the issue's name, from which its ids derive
	issue   uuid.UUID
	version uint64
	last    time.Time
	out     *sink
}

func newStream(ids idSpace, out *sink, name string) *stream {
	return &stream{ids: ids, name: name, issue: ids.id(name), out: out}
}

// add appends an event at t, or at the previous event's time if t is
// earlier, so that time never goes back within the stream.
func (s *stream) add(t time.Time, d events.Data) {
	if t.Before(s.last) {
		t = s.last
	}
	s.last = t
	s.version++
	s.out.add(events.Envelope{
		ID:      s.ids.id(s.name, "v"+strconv.FormatUint(s.version, 10)),
		Issue:   s.issue,
		Version: s.version,
		At:      t,
		Data:    d,
	})
}

// sink writes events in event-time order: it holds them until flushed up
// to a time, then writes them one JSON object a line.
type sink struct {
	w       *bufio.Writer
	codec   *events.JSONCodec
	pending minheap.Heap[pending]
	seq     uint64
	buf     []byte
	written int
	latest  time.Time // the latest time of the events written
}

func newSink(w io.Writer) *sink {
	return &sink{w: bufio.NewWriter(w), codec: events.NewJSONCodec(nil)}
}

func (s *sink) add(e events.Envelope) {
	s.seq++
	s.pending.Push(pending{e: e, seq: s.seq})
}

// flushBefore writes the held events that happened before t.
func (s *sink) flushBefore(t time.Time) error {
	for s.pending.Len() > 0 && s.pending.Min().e.At.Before(t) {
		if err := s.write(s.pending.Pop().e); err != nil {
			return err
		}
	}
	return nil
}

func (s *sink) flushAll() error {
	for s.pending.Len() > 0 {
		if err := s.write(s.pending.Pop().e); err != nil {
			return err
		}
	}
	return s.w.Flush()
}

func (s *sink) write(e events.Envelope) error {
	b, err := s.codec.Append(s.buf[:0], e)
	if err != nil {
		return err
	}
	s.buf = append(b, '\n')
	if _, err := s.w.Write(s.buf); err != nil {
		return fmt.Errorf("write event log: %w", err)
	}
	s.written++
	if e.At.After(s.latest) {
		s.latest = e.At
	}
	return nil
}

type pending struct {
	e   events.Envelope
	seq uint64
}

// Less orders held events by time, then by the order they came in, which
// keeps each stream's versions in order.
func (a pending) Less(b pending) bool {
	if !a.e.At.Equal(b.e.At) {
		return a.e.At.Before(b.e.At)
	}
	return a.seq < b.seq
}

// slug turns a label such as "Technical Support" into a token
// ("technical-support"): its letters, with their marks, and digits, of any
// script, in lower case and Unicode's composed form (NFC), each run of
// other characters a dash between them ("Zoë" is "zoë", not "zo", however
// its ë was written; "की" is not "का"). A label with no letter or digit
// gives "".
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range norm.NFC.String(strings.ToLower(strings.TrimSpace(s))) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) && b.Len() > 0 && !dash {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
		} else {
			dash = true
		}
	}
	return b.String()
}
