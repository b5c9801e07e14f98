package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
)

// newCSVReader returns a CSV reader of r past the byte-order mark that
// spreadsheet programs write first, if there is one: the reader would
// take it for part of the first field (and a quote after it for a bare
// one, or for part of a lazily quoted field).
func newCSVReader(r io.Reader) *csv.Reader {
	br := bufio.NewReader(r)
	if b, err := br.Peek(len(bom)); err == nil && string(b) == bom {
		_, _ = br.Discard(len(bom)) // the bytes were just peeked
	}
	return csv.NewReader(br)
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
func eachRow(ctx context.Context, cr *csv.Reader, sum *summary, opt options, row func(line int, rec []string) error) error {
	for seen := false; ; seen = true {
		rec, err := cr.Read()
		if err == io.EOF {
			if !seen {
				return fmt.Errorf("read %s: the file is empty, without even a header: %w", opt.dataset, errMalformed)
			}
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
