package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
)

// eachRow calls row with every record of cr and its line, counting the
// lines read in sum. A record the CSV reader cannot parse is skipped and
// reported as a row problem rather than ending the file, and ctx is
// checked every 1024 lines so that a long file can be stopped.
func eachRow(ctx context.Context, cr *csv.Reader, sum *summary, opt options, row func(line int, rec []string) error) error {
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return fmt.Errorf("read %s: %w", opt.dataset, err)
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
