package events

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"iter"
)

// MaxLineBytes is the longest line a LineReader accepts.
const MaxLineBytes = 16 << 20

// LineError is an error about one line of a JSON Lines log. It unwraps to
// the decode error (ErrMalformed, ErrUnknownType, …).
type LineError struct {
	Line int // 1-based line number
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

// Unwrap returns the error of the line.
func (e *LineError) Unwrap() error { return e.Err }

// LineReader reads a JSON Lines event log (one event per line, as the JSON
// codec writes them) in a streaming way: memory does not grow with the
// length of the log. Blank lines are passed over.
type LineReader struct {
	r     *bufio.Reader
	codec Codec
	line  int
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

// All yields the events of the log in the order of its lines. A line that
// does not decode yields a *LineError; reading goes on with the next line
// if the loop goes on, so a caller can skip bad lines or stop at the first.
// An error of the underlying reader ends the sequence.
func (lr *LineReader) All() iter.Seq2[Envelope, error] {
	return func(yield func(Envelope, error) bool) {
		var long []byte // a line longer than the buffer, assembled
		for {
			chunk, err := lr.r.ReadSlice('\n')
			if errors.Is(err, bufio.ErrBufferFull) {
				if len(long)+len(chunk) > MaxLineBytes {
					lr.line++
					yield(Envelope{}, &LineError{Line: lr.line, Err: fmt.Errorf("%w: line longer than %d bytes", ErrMalformed, MaxLineBytes)})
					return
				}
				long = append(long, chunk...)
				continue
			}
			if err != nil && !errors.Is(err, io.EOF) {
				yield(Envelope{}, fmt.Errorf("line %d: %w", lr.line+1, err))
				return
			}
			line := chunk
			if long != nil {
				line = append(long, chunk...)
				long = nil
			}
			if len(line) > 0 {
				lr.line++
				if trimmed := bytes.TrimSpace(line); len(trimmed) > 0 {
					e, derr := lr.codec.Decode(trimmed)
					if derr != nil {
						if !yield(Envelope{}, &LineError{Line: lr.line, Err: derr}) {
							return
						}
					} else if !yield(e, nil) {
						return
					}
				}
			}
			if err != nil { // io.EOF
				return
			}
		}
	}
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
