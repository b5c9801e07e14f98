package events

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"iter"
)

// bom is UTF-8's byte order mark, which a LineReader passes over at the
// start of the log.
var bom = []byte("\ufeff")

// errBOM is the error of JSONCodec.Decode for an event behind a byte order
// mark.
var errBOM = errors.New("a byte order mark (U+FEFF) comes before the event, which JSON does not allow")

// MaxLineBytes is the longest line a LineReader accepts.
const MaxLineBytes = 16 << 20

// LineError is an error about one line of a JSON Lines log. It unwraps to
// the decode error (ErrMalformed, ErrUnknownType, …), whose byte offset
// (DecodeError.Offset) counts from the start of the line.
type LineError struct {
	Line int // 1-based line number
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

// Unwrap returns the error of the line.
func (e *LineError) Unwrap() error { return e.Err }

// LineReader reads a JSON Lines event log (one event per line, as the JSON
// codec writes them) in a streaming way: memory does not grow with the
// length of the log. Blank lines are passed over, and so is a UTF-8 byte
// order mark at the start of the log, which some editors and exports
// write.
type LineReader struct {
	r     *bufio.Reader
	codec Codec
	line  int
	blank int
}

// NewLineReader returns a LineReader of r that decodes with codec (a JSON
// codec of the built-in types when nil).
func NewLineReader(r io.Reader, codec Codec) *LineReader {
	if codec == nil {
		codec = NewJSONCodec(nil)
	}
	return &LineReader{r: bufio.NewReaderSize(r, 1<<20), codec: codec}
}

// Line returns the number of the last line read.
func (lr *LineReader) Line() int { return lr.line }

// Blank returns how many of the lines read held only white space, and so
// no event.
func (lr *LineReader) Blank() int { return lr.blank }

// All yields the events of the log in the order of its lines. A line that
// does not decode yields a *LineError; reading goes on with the next line
// if the loop goes on, so a caller can skip bad lines or stop at the first;
// a line longer than MaxLineBytes is such a line, whose bytes are passed
// over without being kept.
// An error of the underlying reader ends the sequence.
func (lr *LineReader) All() iter.Seq2[Envelope, error] {
	return func(yield func(Envelope, error) bool) {
		var long []byte   // a line longer than the buffer, assembled
		skipping := false // in a line too long, which was reported
		for {
			chunk, err := lr.r.ReadSlice('\n')
			if errors.Is(err, bufio.ErrBufferFull) {
				switch {
				case skipping:
				case len(long)+len(chunk) > MaxLineBytes:
					long, skipping = nil, true
					if !lr.tooLong(yield) {
						return
					}
				default:
					long = append(long, chunk...)
				}
				continue
			}
			if err != nil && !errors.Is(err, io.EOF) {
				yield(Envelope{}, fmt.Errorf("reading line %d: %w", lr.line+1, err))
				return
			}
			line := chunk
			if long != nil {
				line = append(long, chunk...)
				long = nil
			}
			switch {
			case skipping:
				skipping = false // the end of the line too long
			case len(bytes.TrimRight(line, "\r\n")) > MaxLineBytes:
				if !lr.tooLong(yield) {
					return
				}
			case len(line) > 0:
				lr.line++
				whole := len(line)
				if lr.line == 1 {
					line = bytes.TrimPrefix(line, bom)
				}
				// JSON's white space only: a line that the codec would
				// refuse alone is refused here too.
				if trimmed := bytes.Trim(line, jsonSpace); len(trimmed) > 0 {
					e, derr := lr.codec.Decode(trimmed)
					if derr != nil {
						lineOffset(derr, whole-len(bytes.TrimLeft(line, jsonSpace)))
						switch {
						case errors.Is(derr, errBOM):
							derr = fmt.Errorf("%w (as where a second log was joined to the first)", derr)
						case bytes.HasPrefix(trimmed, bom):
							derr = fmt.Errorf("%w (the line starts with a byte order mark, as where a second log was joined to the first)", derr)
						}
						if !yield(Envelope{}, &LineError{Line: lr.line, Err: derr}) {
							return
						}
					} else if !yield(e, nil) {
						return
					}
				} else {
					lr.blank++
				}
			}
			if err != nil { // io.EOF
				return
			}
		}
	}
}

// jsonSpace is JSON's white space (RFC 8259, section 2).
const jsonSpace = " \t\r\n"

// lineOffset moves the byte offset of the decode error in err, which
// counts from the first byte that was decoded, by lead, the bytes of the
// line before that one. A missing member, at offset 0, has none to move.
func lineOffset(err error, lead int) {
	var de *DecodeError
	if errors.As(err, &de) && (de.Offset > 0 || de.Field == "") {
		de.Offset += lead
	}
}

// tooLong counts a line longer than MaxLineBytes and yields its error; it
// returns what yield returned.
func (lr *LineReader) tooLong(yield func(Envelope, error) bool) bool {
	lr.line++
	return yield(Envelope{}, &LineError{Line: lr.line, Err: fmt.Errorf("%w: line longer than %d bytes", ErrMalformed, MaxLineBytes)})
}

// AppendLine appends e as one line of a JSON Lines log: its JSON encoding
// and a newline.
func AppendLine(dst []byte, codec *JSONCodec, e Envelope) ([]byte, error) {
	b, err := codec.Append(dst, e)
	if err != nil {
		return dst, err
	}
	return append(b, '\n'), nil
}
