package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
)

// csvReader is a CSV reader that counts the lines of its input.
type csvReader struct {
	*csv.Reader
	in *lineCounter
}

// newCSVReader returns a CSV reader of r past the byte-order mark that
// spreadsheet programs write first, if there is one: the reader would
// take it for part of the first field (and a quote after it for a bare
// one, or for part of a lazily quoted field).
func newCSVReader(r io.Reader) csvReader {
	in := &lineCounter{r: r}
	br := bufio.NewReader(in)
	if b, err := br.Peek(len(bom)); err == nil && string(b) == bom {
		_, _ = br.Discard(len(bom)) // the bytes were just peeked
	}
	return csvReader{Reader: csv.NewReader(br), in: in}
}

// lineCounter counts the lines of what is read through it, by "\n", as
// the CSV reader numbers them: a last line without one counts too.
type lineCounter struct {
	r        io.Reader
	newlines int
	last     byte // the last byte read
	any      bool // a byte was read
}

func (c *lineCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.newlines += bytes.Count(p[:n], []byte{'\n'})
		c.last, c.any = p[n-1], true
	}
	return n, err
}

// lines returns how many lines were read.
func (c *lineCounter) lines() int {
	if c.any && c.last != '\n' {
		return c.newlines + 1
	}
	return c.newlines
}

// bom is the byte-order mark of UTF-8.
const bom = "\ufeff"

// eachRow calls row with every record of cr and its line, counting the
// lines read in sum. A record the CSV reader cannot parse is skipped and
// reported as a row problem rather than ending the file, unless the CSV
// reader went on beyond the line it started on, inside a quoted field: the
// lines it read may hold rows, which would be lost, and eachRow stops
// naming them.
// ctx is checked every 1024 lines so that a long file can be stopped. A
// file without a single row, not even a header, is an error.
func eachRow(ctx context.Context, cr csvReader, sum *summary, opt options, row func(line int, rec []string) error) error {
	for seen := false; ; seen = true {
		rec, err := cr.Read()
		if err == io.EOF {
			if !seen {
				return fmt.Errorf("read %s: the file is empty, without even a header: %w", opt.dataset, errMalformed)
			}
			sum.Lines = cr.in.lines() // the rows that did not parse, and blank lines, too
			return nil
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return fmt.Errorf("read %s: %w", opt.dataset, err)
			}
			if pe.Line > pe.StartLine {
				return fmt.Errorf("%s lines %d to %d: %v: a field quoted from line %d does not end as a field should, and the lines it took may hold rows: %w",
					opt.dataset, pe.StartLine, pe.Line, pe.Err, pe.StartLine, errMalformed)
			}
			sum.Skipped++
			if err := rowProblem(opt, pe.StartLine, pe.Err.Error(), "skipped"); err != nil {
				return err
			}
			continue
		}
		line, _ := cr.FieldPos(0)
		sum.Lines = line
		if line%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if err := row(line, rec); err != nil {
			return err
		}
	}
}
