package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/truefcr/truefcr/events"
)

// pwcColumns returns the columns of the call centre data set, in its order.
func pwcColumns() []string {
	return []string{"Call Id", "Agent", "Date", "Time", "Topic", "Answered (Y/N)", "Resolved",
		"Speed of answer in seconds", "AvgTalkDuration", "Satisfaction rating"}
}

// pwcDisorder is how far out of time order the rows of the call centre
// data set may come and still be written in order.
const pwcDisorder = 24 * time.Hour

// pwcCall is one row of the call centre data set.
type pwcCall struct {
	id, agent, topic string // agent and topic as tokens (slug)
	at               time.Time
	answered         bool
	resolved         bool
	wait, talk       time.Duration
	rating           int // 0: none
}

// convertPWC converts the call centre data set: one call is one issue on
// the phone channel of a customer known only by the call (the set has no
// customer id), routed to its agent with its speed of answer as the wait,
// or abandoned; resolved after its talk time when the agent marked it
// resolved; rated with its satisfaction rating as CSAT.
//
// The file is in time order: the events of a call are written once calls
// a day later have been read, and a call earlier than the events written
// (the file out of order by more than a day) is reported with the line of
// the call that let them through (the latest read when they were
// written), and written out of order. A Call Id met again is reported and
// skipped.
func convertPWC(ctx context.Context, r io.Reader, out *sink, opt options) (summary, error) {
	var sum summary
	ids := newIDSpace()
	cr := newCSVReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	lineOf := map[string]int{}
	// latest is the latest call read; cause the one that was when the
	// events written up to now were: the call a day after them that let
	// them through.
	var latest, cause struct {
		at   time.Time
		id   string
		line int
	}
	header := true
	err := eachRow(ctx, cr, &sum, opt, func(line int, rec []string) error {
		if header {
			// The first record, after any blank lines.
			if header = false; !equalFold(rec, pwcColumns()) {
				return fmt.Errorf("pwc line %d: header %q, want %q: %w", line, rec, pwcColumns(), errMalformed)
			}
			return nil
		}
		call, problem := parsePWC(rec)
		if first, dup := lineOf[call.id]; problem == "" && dup {
			problem = fmt.Sprintf("call %s is already on line %d", call.id, first)
		}
		if problem != "" {
			sum.Skipped++
			return rowProblem(opt, line, problem, "skipped")
		}
		lineOf[call.id] = line
		if call.at.Before(out.latest) {
			err := rowProblem(opt, line, fmt.Sprintf("call %s at %s is before the events written already, up to %s, which line %d (call %s at %s, more than a day later) let through: one of the two lines is out of time order",
				call.id, call.at.Format(time.DateTime), out.latest.Format(time.DateTime),
				cause.line, cause.id, cause.at.Format(time.DateTime)), "written out of time order")
			if err != nil {
				return err
			}
		}
		sum.Rows++
		writePWC(ids, out, call, &sum)
		if call.at.After(latest.at) {
			latest.at, latest.id, latest.line = call.at, call.id, line
		}
		written := out.latest
		if err := out.flushBefore(latest.at.Add(-pwcDisorder)); err != nil {
			return err
		}
		if out.latest.After(written) {
			cause = latest
		}
		return nil
	})
	if err != nil {
		return sum, err
	}
	sum.Customers = sum.Issues
	return sum, nil
}

func writePWC(ids idSpace, out *sink, c pwcCall, sum *summary) {
	s := newStream(ids, out, "pwc/call/"+c.id)
	contact := ids.id("pwc/call", c.id, "contact")
	sum.Issues++
	s.add(c.at, &events.Opened{
		Customer: events.Customer{Keys: []string{"pwc-call:" + c.id}},
		Channel:  "phone",
		Topic:    c.topic,
		Contact:  contact,
	})
	if !c.answered {
		// The set has no wait for unanswered calls.
		s.add(c.at, &events.Abandoned{Contact: contact})
		sum.Abandoned++
		return
	}
	answered := c.at.Add(c.wait)
	s.add(answered, &events.Routed{Contact: contact, Queue: "call-centre", Agent: c.agent, Skills: []string{c.topic}, Wait: c.wait})
	end := answered.Add(c.talk)
	if c.resolved {
		s.add(end, &events.Resolved{Contact: contact, Agent: c.agent, Handle: c.talk})
		sum.Resolved++
	}
	if c.rating > 0 {
		s.add(end, &events.Rated{Survey: events.SurveyCSAT, Score: c.rating, Contact: contact})
		sum.Rated++
	}
}

// parsePWC reads one data row, or says what is wrong with it.
func parsePWC(rec []string) (pwcCall, string) {
	if want := len(pwcColumns()); len(rec) != want {
		return pwcCall{}, fmt.Sprintf("%d fields, want %d", len(rec), want)
	}
	for i := range rec {
		rec[i] = strings.TrimSpace(rec[i])
	}
	c := pwcCall{id: rec[0], agent: slug(rec[1]), topic: slug(rec[4])}
	if c.id == "" {
		return c, "no Call Id"
	}
	if c.topic == "" {
		if rec[4] == "" {
			return c, fmt.Sprintf("call %s: no Topic", c.id)
		}
		return c, fmt.Sprintf("call %s: Topic %q has no letter or digit", c.id, rec[4])
	}
	at, err := time.Parse("2006-01-02 15:04:05", rec[2]+" "+rec[3])
	if err != nil {
		return c, fmt.Sprintf("call %s: Date and Time %q %q: not 2006-01-02 15:04:05", c.id, rec[2], rec[3])
	}
	if !events.InTimeRange(at) {
		return c, fmt.Sprintf("call %s: Date %q is out of the years 1678 to 2261", c.id, rec[2])
	}
	c.at = at
	var ok bool
	if c.answered, ok = yesNo(rec[5]); !ok {
		return c, fmt.Sprintf("call %s: Answered (Y/N) %q is not Y or N", c.id, rec[5])
	}
	if c.resolved, ok = yesNo(rec[6]); !ok {
		return c, fmt.Sprintf("call %s: Resolved %q is not Y or N", c.id, rec[6])
	}
	if !c.answered {
		if c.resolved || rec[7] != "" || rec[8] != "" || rec[9] != "" {
			return c, fmt.Sprintf("call %s: not answered but has a resolution, wait, talk time or rating", c.id)
		}
		return c, ""
	}
	if c.agent == "" {
		if rec[1] == "" {
			return c, fmt.Sprintf("call %s: answered but no Agent", c.id)
		}
		return c, fmt.Sprintf("call %s: Agent %q has no letter or digit", c.id, rec[1])
	}
	secs, err := strconv.ParseInt(rec[7], 10, 64)
	if err != nil || secs < 0 || secs > math.MaxInt64/int64(time.Second) {
		return c, fmt.Sprintf("call %s: Speed of answer %q is not a number of seconds", c.id, rec[7])
	}
	c.wait = time.Duration(secs) * time.Second
	if c.talk, ok = clockDuration(rec[8]); !ok {
		return c, fmt.Sprintf("call %s: AvgTalkDuration %q is not h:mm:ss", c.id, rec[8])
	}
	if !events.InTimeRange(c.at.Add(c.wait).Add(c.talk)) {
		return c, fmt.Sprintf("call %s: Speed of answer %q and AvgTalkDuration %q end past the year 2261", c.id, rec[7], rec[8])
	}
	if rec[9] != "" {
		if c.rating, err = strconv.Atoi(rec[9]); err != nil || c.rating < 1 || c.rating > 5 {
			return c, fmt.Sprintf("call %s: Satisfaction rating %q is not 1–5", c.id, rec[9])
		}
	}
	return c, ""
}

func yesNo(s string) (bool, bool) {
	switch s {
	case "Y", "y":
		return true, true
	case "N", "n":
		return false, true
	}
	return false, false
}

// clockDuration parses h:mm:ss.
func clockDuration(s string) (time.Duration, bool) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return 0, false
	}
	var d time.Duration
	for i, unit := range []time.Duration{time.Hour, time.Minute, time.Second} {
		n, err := strconv.ParseInt(parts[i], 10, 64)
		if err != nil || n < 0 || i > 0 && n > 59 || n > (math.MaxInt64-int64(d))/int64(unit) {
			return 0, false
		}
		d += time.Duration(n) * unit
	}
	return d, true
}

func equalFold(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if !strings.EqualFold(strings.TrimSpace(got[i]), want[i]) {
			return false
		}
	}
	return true
}
