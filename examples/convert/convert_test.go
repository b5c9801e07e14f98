package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truefcr/truefcr/events"
)

// readLog decodes a JSON Lines log and checks the lifecycle rules that a
// converted log must keep: versions 1..n, an opening event first, time
// order within streams and across the log, contacts introduced before use.
func readLog(t *testing.T, b []byte) []events.Envelope {
	t.Helper()
	log, err := decodeLog(b)
	require.NoError(t, err)
	return log
}

func decodeLog(b []byte) ([]events.Envelope, error) {
	codec := events.NewJSONCodec(nil)
	var log []events.Envelope
	version := map[uuid.UUID]uint64{}
	contacts := map[uuid.UUID]uuid.UUID{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		e, err := codec.Decode(sc.Bytes())
		if err == nil {
			err = e.Validate()
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		switch {
		case e.Version != version[e.Issue]+1:
			return nil, fmt.Errorf("line %d: version %d follows %d", n, e.Version, version[e.Issue])
		case (e.Version == 1) != (e.Type() == events.TypeOpened):
			return nil, fmt.Errorf("line %d: %s at version %d", n, e.Type(), e.Version)
		case len(log) > 0 && e.At.Before(log[len(log)-1].At):
			return nil, fmt.Errorf("line %d: time goes back to %s", n, e.At)
		}
		version[e.Issue] = e.Version
		var contact uuid.UUID
		introduces := false
		switch d := e.Data.(type) {
		case *events.Opened:
			contact, introduces = d.Contact, true
		case *events.Contacted:
			contact, introduces = d.Contact, true
		case *events.Routed:
			contact = d.Contact
		case *events.Abandoned:
			contact = d.Contact
		case *events.Resolved:
			contact = d.Contact
		case *events.Rated:
			contact = d.Contact
		}
		if introduces {
			if _, dup := contacts[contact]; dup {
				return nil, fmt.Errorf("line %d: contact %s introduced twice", n, contact)
			}
			contacts[contact] = e.Issue
		} else if contact != uuid.Nil && contacts[contact] != e.Issue {
			return nil, fmt.Errorf("line %d: contact %s is not one of issue %s", n, contact, e.Issue)
		}
		log = append(log, e)
	}
	return log, sc.Err()
}

func convertString(t *testing.T, dataset, input string, strict bool) ([]events.Envelope, summary, string, error) {
	t.Helper()
	var out, warn bytes.Buffer
	sum, err := convert(context.Background(), strings.NewReader(input), &out,
		options{dataset: dataset, window: 7 * 24 * time.Hour, gap: 24 * time.Hour, classify: true, strict: strict, warn: &warn})
	if err != nil {
		return nil, sum, warn.String(), err
	}
	return readLog(t, out.Bytes()), sum, warn.String(), nil
}

func byIssue(log []events.Envelope) map[uuid.UUID][]events.Envelope {
	m := map[uuid.UUID][]events.Envelope{}
	for _, e := range log {
		m[e.Issue] = append(m[e.Issue], e)
	}
	return m
}

func types(evs []events.Envelope) []events.Type {
	ts := make([]events.Type, len(evs))
	for i, e := range evs {
		ts[i] = e.Type()
	}
	return ts
}

const pwcHead = "Call Id,Agent,Date,Time,Topic,Answered (Y/N),Resolved,Speed of answer in seconds,AvgTalkDuration,Satisfaction rating\n"

func TestConvertPWC(t *testing.T) {
	input := pwcHead +
		"C1,Anna Maria,2021-02-01,9:05:00,Payment related,Y,Y,30,0:04:10,5\n" + // line 2
		"C2,Ben,2021-02-01,9:06:00,Technical Support,Y,N,100,0:10:00,2\n" +
		"C3,Ben,2021-02-01,9:07:30,Technical Support,N,N,,,\n" +
		"C4,Ben,2021-02-01,25:00:00,Streaming,N,N,,,\n" + // line 5: no such hour
		"C5,Ben,2021-02-01\n" + // line 6: cut short
		"C6,Ben,2021-02-01,9:08:00,Streaming,Y,Y,soon,0:01:00,3\n" + // line 7
		"C7,,2021-02-01,9:09:00,Streaming,Y,Y,5,0:01:00,\n" // line 8: no agent
	log, sum, warn, err := convertString(t, "pwc", input, false)
	require.NoError(t, err)

	assert.Equal(t, summary{Lines: 8, Rows: 3, Skipped: 4, Customers: 3, Issues: 3, Events: 9, Abandoned: 1, Resolved: 1, Rated: 2}, sum)
	for _, want := range []string{"pwc line 5: call C4: Date and Time", "pwc line 6: 3 fields, want 10; skipped",
		"pwc line 7: call C6: Speed of answer \"soon\"", "pwc line 8: call C7: answered but no Agent"} {
		assert.Contains(t, warn, want)
	}
	assert.Equal(t, 4, strings.Count(warn, "\n"))

	issues := byIssue(log)
	require.Len(t, issues, 3)
	c1 := issues[log[0].Issue]
	require.Equal(t, []events.Type{events.TypeOpened, events.TypeRouted, events.TypeResolved, events.TypeRated}, types(c1))
	start := time.Date(2021, 2, 1, 9, 5, 0, 0, time.UTC)
	opened := c1[0].Data.(*events.Opened)
	assert.Equal(t, events.Customer{Keys: []string{"pwc-call:C1"}}, opened.Customer)
	assert.Equal(t, "phone", opened.Channel)
	assert.Equal(t, "payment-related", opened.Topic)
	assert.Equal(t, start, c1[0].At)
	routed := c1[1].Data.(*events.Routed)
	assert.Equal(t, "anna-maria", routed.Agent)
	assert.Equal(t, 30*time.Second, routed.Wait)
	assert.Equal(t, opened.Contact, routed.Contact)
	assert.Equal(t, start.Add(30*time.Second), c1[1].At)
	resolved := c1[2].Data.(*events.Resolved)
	assert.Equal(t, 4*time.Minute+10*time.Second, resolved.Handle)
	assert.Equal(t, start.Add(30*time.Second+4*time.Minute+10*time.Second), c1[2].At)
	assert.Equal(t, &events.Rated{Survey: events.SurveyCSAT, Score: 5, Contact: opened.Contact}, c1[3].Data)

	var kinds [][]events.Type
	for _, e := range log {
		if e.Version == 1 {
			kinds = append(kinds, types(issues[e.Issue]))
		}
	}
	assert.Equal(t, [][]events.Type{
		{events.TypeOpened, events.TypeRouted, events.TypeResolved, events.TypeRated},
		{events.TypeOpened, events.TypeRouted, events.TypeRated},
		{events.TypeOpened, events.TypeAbandoned},
	}, kinds)

	again, _, _, err := convertString(t, "pwc", input, false)
	require.NoError(t, err)
	assert.Equal(t, log, again, "ids derive from the data")
}

// Names beyond ASCII keep their letters: "Zoë" is not "Zo", and a name
// or topic in another script is not empty. One with no letter or digit
// at all is a malformed row, named as such.
func TestPWCNamesKeepTheirLetters(t *testing.T) {
	input := pwcHead +
		"C1,Zoë,2021-02-01,9:05:00,Тех поддержка,Y,Y,30,0:04:10,5\n" +
		"C2,Zo,2021-02-01,9:06:00,Streaming,Y,Y,30,0:04:10,5\n" +
		"C3,Жанна,2021-02-01,9:07:00,Streaming,Y,Y,30,0:04:10,5\n" +
		"C4,--,2021-02-01,9:08:00,Streaming,Y,Y,30,0:04:10,5\n" + // line 5
		"C5,Ben,2021-02-01,9:09:00,?!,Y,Y,30,0:04:10,5\n" + // line 6
		"C6,Zoe\u0308,2021-02-01,9:10:00,हिन्दी,Y,Y,30,0:04:10,5\n" + // Zoë decomposed
		"C7,का,2021-02-01,9:11:00,Streaming,Y,Y,30,0:04:10,5\n" +
		"C8,की,2021-02-01,9:12:00,Streaming,Y,Y,30,0:04:10,5\n"
	log, sum, warn, err := convertString(t, "pwc", input, false)
	require.NoError(t, err)
	assert.Equal(t, 6, sum.Rows)
	assert.Equal(t, 2, sum.Skipped)
	assert.Contains(t, warn, `pwc line 5: call C4: Agent "--" has no letter or digit; skipped`)
	assert.Contains(t, warn, `pwc line 6: call C5: Topic "?!" has no letter or digit; skipped`)
	var agents, topics []string
	for _, e := range log {
		switch d := e.Data.(type) {
		case *events.Opened:
			topics = append(topics, d.Topic)
		case *events.Resolved:
			agents = append(agents, d.Agent)
		}
	}
	assert.Equal(t, []string{"zoë", "zo", "жанна", "zoë", "का", "की"}, agents)
	assert.Equal(t, []string{"тех-поддержка", "streaming", "streaming", "हिन्दी", "streaming", "streaming"}, topics)
}

// A row whose events would fall outside the years the codecs write, or
// whose durations overflow, is a malformed row like any other: reported
// with its line and skipped, and the good rows are written.
func TestRowsOutOfTheTimeRangeAreSkipped(t *testing.T) {
	input := pwcHead +
		"C1,Ann,2021-02-01,9:05:00,Streaming,Y,Y,30,0:04:10,5\n" +
		"C2,Ann,2999-01-01,9:05:00,Streaming,Y,Y,30,0:04:10,5\n" + // line 3
		"C3,Ann,2021-02-01,9:05:00,Streaming,Y,Y,9000000000,0:04:10,5\n" + // line 4: past 2261
		"C4,Ann,2021-02-01,9:05:00,Streaming,Y,Y,10000000000,0:04:10,5\n" + // line 5: overflows
		"C5,Ann,2021-02-01,9:05:00,Streaming,Y,Y,30,2200000:00:00,5\n" + // line 6: past 2261
		"C6,Ann,2021-02-01,9:05:00,Streaming,Y,Y,30,9000000000000:00:00,5\n" // line 7: overflows
	log, sum, warn, err := convertString(t, "pwc", input, false)
	require.NoError(t, err)
	assert.Equal(t, 1, sum.Rows)
	assert.Equal(t, 5, sum.Skipped)
	for _, want := range []string{`pwc line 3: call C2: Date "2999-01-01" is out of the years 1678 to 2261`,
		`pwc line 4: call C3: Speed of answer "9000000000" and AvgTalkDuration "0:04:10" end past the year 2261`,
		`pwc line 5: call C4: Speed of answer "10000000000" is not a number of seconds`,
		`pwc line 6: call C5: Speed of answer "30" and AvgTalkDuration "2200000:00:00" end past the year 2261`,
		`pwc line 7: call C6: AvgTalkDuration "9000000000000:00:00" is not h:mm:ss`} {
		assert.Contains(t, warn, want)
	}
	for _, e := range log {
		if r, ok := e.Data.(*events.Routed); ok {
			assert.Equal(t, 30*time.Second, r.Wait)
		}
	}

	tw := twcsHead + `1,1,100,ann,True,Tue Oct 31 23:36:20 +0000 9999,hello,,` + "\n"
	_, _, _, err = convertString(t, "twcs", tw, true)
	require.ErrorIs(t, err, errMalformed)
	assert.ErrorContains(t, err, `tweet 100: created_at "Tue Oct 31 23:36:20 +0000 9999" is out of the years 1678 to 2261`)
}

func TestStrictStopsAtTheFirstMalformedRow(t *testing.T) {
	cases := []struct {
		dataset, input, line string
	}{
		{"pwc", pwcHead + "C1,Ann,2021-02-01,9:05:00,Streaming,Y,Y,30,0:04:10,5\nC2,Ann,2021-02-01,9:06:00,Streaming,maybe,Y,30,0:04:10,5\n",
			`pwc line 3: call C2: Answered (Y/N) "maybe" is not Y or N`},
		{"pwc", "Call Id,Agent\n", "pwc line 1: header"},
		{"twcs", twcsHead + `1,1,100,ann,True,Tue Oct 31 23:36:20 +0000 2017,hello,,` + "\n" + `2,2,101,ann,True,yesterday,hello again,,` + "\n",
			`twcs line 3: row of 9 fields: tweet 101: created_at "yesterday"`},
	}
	for _, tc := range cases {
		t.Run(tc.line, func(t *testing.T) {
			_, _, _, err := convertString(t, tc.dataset, tc.input, true)
			require.Error(t, err)
			assert.True(t, errors.Is(err, errMalformed))
			assert.Contains(t, err.Error(), tc.line)
		})
	}
}

// A file that would lose rows without saying so stops the conversion,
// naming the lines: a quote never closed, which the CSV reader reads to
// the end of the file looking for, or, where it takes quotes lazily, up to
// a later quote; and a file without even a header.
func TestRowsThatWouldBeLostStopTheConversion(t *testing.T) {
	pwcRow := func(id, hhmm string) string {
		return id + ",Ann,2021-02-01," + hhmm + ":00,Streaming,Y,Y,30,0:04:10,5\n"
	}
	cases := []struct {
		name, dataset, input, says string
	}{
		{"pwc quote never closed", "pwc", pwcHead + pwcRow("C1", "9:05") + `C2,"Ann,2021-02-01,9:06:00,Streaming,Y,Y,30,0:04:10,5` + "\n" + pwcRow("C3", "9:07") + pwcRow("C4", "9:08"),
			"pwc lines 3 to 5:"},
		{"twcs quote closed rows later", "twcs", twcsHead +
			`0,10,205,ann,True,Fri Nov 03 10:00:00 +0000 2017,"@Brand a quote,206,204.0` + "\n" +
			`1,11,200,bob,True,Tue Oct 31 08:00:00 +0000 2017,@Brand my playlist,201,` + "\n" +
			`2,12,203,carl,True,Wed Nov 01 07:59:00 +0000 2017,"@Brand anyone?",,202.0` + "\n",
			"twcs lines 2 to 3: the row of line 2 holds what reads as the row"},
		{"pwc empty", "pwc", "", "the file is empty"},
		{"twcs empty", "twcs", "", "the file is empty"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, _, err := convertString(t, tc.dataset, tc.input, false)
			require.Error(t, err)
			assert.ErrorIs(t, err, errMalformed)
			assert.Contains(t, err.Error(), tc.says)
		})
	}
}

// A Call Id met again is reported and skipped; rows out of time order by
// less than a day are written in order, and a row earlier than that is
// reported.
func TestPWCDuplicatesAndOrder(t *testing.T) {
	input := pwcHead +
		"C1,Ann,2021-02-01,9:05:00,Streaming,Y,Y,30,0:04:10,5\n" +
		"C2,Ann,2021-02-02,9:06:00,Streaming,Y,Y,30,0:04:10,5\n" +
		"C3,Ann,2021-02-02,8:00:00,Streaming,Y,Y,30,0:04:10,5\n" + // line 4: an hour earlier
		"C1,Ben,2021-02-03,9:00:00,Streaming,Y,Y,30,0:04:10,5\n" + // line 5: C1 again
		"C4,Ben,2021-02-05,9:00:00,Streaming,Y,Y,30,0:04:10,5\n" +
		"C5,Ben,2021-02-04,9:00:00,Streaming,Y,Y,30,0:04:10,5\n" + // line 7: a day earlier, still held
		"C6,Ben,2021-02-02,9:00:00,Streaming,Y,Y,30,0:04:10,5\n" + // line 8: after C3 was written
		"C7,Ben,2021-02-02,9:06:00,Streaming,Y,Y,30,0:04:10,5\n" // line 9: after C6's events, before C2's
	var out, warnings bytes.Buffer
	sum, err := convert(context.Background(), strings.NewReader(input), &out, options{dataset: "pwc", warn: &warnings})
	require.NoError(t, err)
	warn := warnings.String()
	assert.Equal(t, 7, sum.Rows)
	assert.Equal(t, 1, sum.Skipped)
	assert.Contains(t, warn, "pwc line 5: call C1 is already on line 2; skipped")
	assert.Contains(t, warn, "pwc line 8: call C6 at 2021-02-02 09:00:00 is before the events written already, up to 2021-02-02 09:10:40, "+
		"which line 6 (call C4 at 2021-02-05 09:00:00, more than a day later) let through: one of the two lines is out of time order; written out of time order")
	// Measured against the latest event written, not the last: C6's
	// events, written after C2's, are earlier.
	assert.Contains(t, warn, "pwc line 9: call C7 at 2021-02-02 09:06:00 is before the events written already, up to 2021-02-02 09:10:40")
	assert.Equal(t, 3, strings.Count(warn, "\n"))
	var opened []string
	for l := range strings.Lines(out.String()) {
		e, err := events.NewJSONCodec(nil).Decode([]byte(l))
		require.NoError(t, err)
		if o, ok := e.Data.(*events.Opened); ok {
			opened = append(opened, o.Customer.Keys[0])
		}
	}
	assert.Equal(t, []string{"pwc-call:C1", "pwc-call:C3", "pwc-call:C2", "pwc-call:C6", "pwc-call:C7", "pwc-call:C5", "pwc-call:C4"}, opened)

	_, _, _, err = convertString(t, "pwc", input, true)
	assert.ErrorContains(t, err, "pwc line 5: call C1 is already on line 2")
}

// The row reported out of order names the call that let the events before
// it through: the latest read when they were written, not one read since.
func TestPWCNamesTheCallThatLetTheEventsThrough(t *testing.T) {
	input := pwcHead +
		"C1,Ann,2021-02-01,9:00:00,Streaming,Y,Y,30,0:04:10,5\n" +
		"C2,Ann,2021-02-03,9:00:00,Streaming,Y,Y,30,0:04:10,5\n" + // line 3: lets C1 through
		"C3,Ann,2021-02-03,10:00:00,Streaming,Y,Y,30,0:04:10,5\n" + // line 4: lets nothing through
		"C4,Ann,2021-02-01,9:01:00,Streaming,Y,Y,30,0:04:10,5\n" + // line 5: before C1's events
		"C5,Ann,2021-02-01,9:30:00,Streaming,Y,Y,30,0:04:10,5\n" + // line 6: after them, written at once
		"C6,Ann,2021-02-01,9:20:00,Streaming,Y,Y,30,0:04:10,5\n" // line 7: before C5's events
	var out, warnings bytes.Buffer
	_, err := convert(context.Background(), strings.NewReader(input), &out, options{dataset: "pwc", warn: &warnings})
	require.NoError(t, err)
	warn := warnings.String()
	assert.Contains(t, warn, "pwc line 5: call C4 at 2021-02-01 09:01:00 is before the events written already, up to 2021-02-01 09:04:40, which line 3 (call C2 at 2021-02-03 09:00:00, more than a day later) let through")
	assert.Contains(t, warn, "pwc line 7: call C6 at 2021-02-01 09:20:00 is before the events written already, up to 2021-02-01 09:34:40, which line 4 (call C3 at 2021-02-03 10:00:00, more than a day later) let through")
	assert.Equal(t, 2, strings.Count(warn, "\n"), warn)
}

const twcsHead = ",index,tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id\n"

func TestConvertTWCS(t *testing.T) {
	input := twcsHead +
		// Out of order, as in the data set: ann's second conversation
		// comes first; her first has three tweets within 24 h.
		`0,10,205,ann,True,Fri Nov 03 10:00:00 +0000 2017,@Brand still no refund for the double charge,206,204.0` + "\n" + // line 2
		`1,11,200,ann,True,Tue Oct 31 08:00:00 +0000 2017,"@Brand my playlist, all songs gone",201,` + "\n" +
		`2,12,203,ann,True,Wed Nov 01 07:59:00 +0000 2017,@Brand anyone?,,202.0` + "\n" +
		`3,13,202,ann,True,Tue Oct 31 09:00:00 +0000 2017,@Brand iPhone 7,203,201.0` + "\n" +
		`4,14,300,bob,True,Tue Oct 31 12:00:00 +0000 2017,@Brand cannot log in` + "\r" + "\r" + `on the web,301,` + "\n" + // line 6: bare CRs
		`5,15,301,bob,True,Tue Oct 31 12:05:00 +0000 2017,@Brand thanks` + "\n" + // line 7: cut short
		`tail of a text,302,300.0` + "\n" + // line 8: the rest of it
		`6,16,400,carl,True,Mon Oct 30 2017,@Brand hi,,` + "\n" + // line 9: bad time
		`7,17,200,ann,True,Tue Oct 31 08:00:00 +0000 2017,duplicate,,` + "\n" // line 10
	log, sum, warn, err := convertString(t, "twcs", input, false)
	require.NoError(t, err)

	assert.Equal(t, summary{Lines: 10, Rows: 6, Skipped: 3, Repaired: 2, Customers: 2, Issues: 3, Events: 9,
		Resolved: 3, FollowUps: 3, Repeats: 1}, sum)
	for _, want := range []string{
		"twcs line 6: bare carriage return in a field of tweet 300; kept, as a space",
		"twcs line 7: 7 fields, want 9 (a line break in the text?); kept tweet 301 without the rest of its text",
		"twcs line 8: row of 3 fields: too few fields for an id, author and time; skipped",
		"twcs line 9: row of 9 fields: tweet 400: created_at \"Mon Oct 30 2017\"",
		"twcs line 10: row of 9 fields: tweet 200 is already on line 3; skipped",
	} {
		assert.Contains(t, warn, want)
	}

	at := func(s string) time.Time {
		tm, err := time.Parse(time.DateTime, s)
		require.NoError(t, err)
		return tm
	}
	type conv struct {
		customer, topic string
		types           []events.Type
		times           []time.Time
	}
	var got []conv
	issues := byIssue(log)
	for _, e := range log {
		if e.Version != 1 {
			continue
		}
		o := e.Data.(*events.Opened)
		assert.Equal(t, "social", o.Channel)
		c := conv{customer: o.Customer.Keys[0], topic: o.Topic}
		for _, x := range issues[e.Issue] {
			c.types = append(c.types, x.Type())
			c.times = append(c.times, x.At)
		}
		got = append(got, c)
	}
	assert.Equal(t, []conv{
		{"twitter:ann", "playback/music",
			[]events.Type{events.TypeOpened, events.TypeContacted, events.TypeContacted, events.TypeResolved},
			[]time.Time{at("2017-10-31 08:00:00"), at("2017-10-31 09:00:00"), at("2017-11-01 07:59:00"), at("2017-11-01 08:00:00")}},
		{"twitter:bob", "account/login",
			[]events.Type{events.TypeOpened, events.TypeContacted, events.TypeResolved},
			[]time.Time{at("2017-10-31 12:00:00"), at("2017-10-31 12:05:00"), at("2017-10-31 12:06:00")}},
		{"twitter:ann", "billing/payment",
			[]events.Type{events.TypeOpened, events.TypeResolved},
			[]time.Time{at("2017-11-03 10:00:00"), at("2017-11-03 10:01:00")}},
	}, got)
	last := issues[log[0].Issue]
	assert.Equal(t, last[2].Data.(*events.Contacted).Contact, last[3].Data.(*events.Resolved).Contact,
		"resolved on the last tweet's contact")
}

func TestClassify(t *testing.T) {
	c := newClassifier()
	cases := []struct{ text, topic string }{
		{"@SpotifyCares I was charged twice this month!", "billing/payment"},
		{"@SpotifyCares how do I cancel Premium?", "account/subscription"},
		{"@SpotifyCares can't log in since yesterday https://t.co/x", "account/login"},
		{"@SpotifyCares my Sonos won't play anything", "devices/connect"},
		{"@SpotifyCares downloaded songs don't play offline", "playback/offline"},
		{"@SpotifyCares shuffle keeps playing the same song", "playback/music"},
		{"@SpotifyCares the app crashes on Android", "tech/app"},
		{"@SpotifyCares doesn’t work", "tech/app"},
		{"@SpotifyCares thanks!!", "general/other"},
		{"@SpotifyCares caravan", "general/other"},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.topic, c.topic(tc.text), tc.text)
	}
}

func TestRunRefusesBadCommandLines(t *testing.T) {
	file := filepath.Join(t.TempDir(), "calls.csv")
	require.NoError(t, os.WriteFile(file, []byte(pwcHead), 0o600))
	cases := []struct {
		args  []string
		usage bool
		want  string
	}{
		{[]string{file}, true, `dataset ""`},
		{[]string{"-dataset", "zendesk", file}, true, `dataset "zendesk"`},
		{[]string{"-dataset", "pwc"}, true, "want one FILE"},
		{[]string{"-dataset", "pwc", "-window", "-1h", file}, true, "must be positive"},
		{[]string{"-dataset", "pwc", "-nope", file}, true, "-nope"},
		{[]string{"-dataset", "pwc", file + ".missing"}, false, "no such file"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errs bytes.Buffer
			err := run(context.Background(), tc.args, &out, &errs)
			require.Error(t, err)
			assert.Equal(t, tc.usage, errors.Is(err, errUsage))
			assert.Contains(t, err.Error(), tc.want)
			assert.Zero(t, out.Len())
		})
	}

}

// A file that converts to no event is refused, whether it holds no rows
// or none that convert: an empty log would report a contact centre of
// nothing, and a script would carry on with it.
func TestRunRefusesAFileOfNoEvents(t *testing.T) {
	dir := t.TempDir()
	header := filepath.Join(dir, "header.csv")
	require.NoError(t, os.WriteFile(header, []byte(pwcHead), 0o600))
	excel := filepath.Join(dir, "excel.csv")
	require.NoError(t, os.WriteFile(excel, []byte(pwcHead+
		"C1,Ann,1/2/2021,9:05:00,Streaming,Y,Y,30,0:04:10,5\n"+
		"C2,Ann,1/2/2021,9:06:00,Streaming,Y,Y,30,0:04:10,5\n"), 0o600))
	for file, want := range map[string]string{
		header: "read pwc: the file holds no rows after its header",
		excel:  "read pwc: none of its 2 rows converted, each skipped as its warning says",
	} {
		var out, errs bytes.Buffer
		err := run(context.Background(), []string{"-dataset", "pwc", file}, &out, &errs)
		require.ErrorIs(t, err, errNoEvents, file)
		assert.ErrorContains(t, err, want)
		assert.Zero(t, out.Len(), "no events")
	}
}

// The real data sets, when they are next to the repository: every row
// converts, and the counts match what the data sets' README says and what
// a plain reading of the files finds.
func TestRealDataSets(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "data")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("the public data sets are not at %s: %v", dir, err)
	}
	convertFile := func(t *testing.T, dataset, name string) ([]events.Envelope, summary, string) {
		f, err := os.Open(filepath.Join(dir, name))
		require.NoError(t, err)
		defer f.Close()
		var out, warn bytes.Buffer
		sum, err := convert(context.Background(), f, &out,
			options{dataset: dataset, window: 7 * 24 * time.Hour, gap: 24 * time.Hour, classify: true, warn: &warn})
		require.NoError(t, err)
		return readLog(t, out.Bytes()), sum, warn.String()
	}

	t.Run("pwc", func(t *testing.T) {
		log, sum, warn := convertFile(t, "pwc", "pwc_call_center_dataset.csv")
		assert.Empty(t, warn)
		// 5,000 calls, one issue each.
		assert.Equal(t, 5000, sum.Rows)
		assert.Equal(t, 5000, sum.Issues)
		assert.Equal(t, len(log), sum.Events)
		n := map[events.Type]int{}
		for _, e := range log {
			n[e.Type()]++
		}
		assert.Equal(t, 5000, n[events.TypeOpened])
		assert.Equal(t, 5000, n[events.TypeRouted]+n[events.TypeAbandoned], "every call answered or abandoned")
		assert.Equal(t, sum.Resolved, n[events.TypeResolved])
		assert.Equal(t, n[events.TypeRouted], n[events.TypeRated], "every answered call has a rating")
		assert.Equal(t, "2021-01-01", log[0].At.Format(time.DateOnly))
		assert.Equal(t, "2021-03-31", log[len(log)-1].At.Format(time.DateOnly))
	})

	t.Run("twcs", func(t *testing.T) {
		log, sum, warn := convertFile(t, "twcs", "twcs_spotifycares_support_requests.csv")
		assert.Equal(t, sum.Skipped+sum.Repaired, strings.Count(warn, "\n"), "one warning a malformed row")
		assert.Positive(t, sum.Repaired, "the data set has a handful of malformed rows")
		assert.Less(t, sum.Skipped+sum.Repaired, 20)
		// About 15,100 tweets from 8,723 authors.
		assert.InDelta(t, 15100, sum.Rows, 100)
		assert.Equal(t, 8723, sum.Customers)
		customers := map[string]bool{}
		contacts := 0
		for _, e := range log {
			switch d := e.Data.(type) {
			case *events.Opened:
				customers[d.Customer.Keys[0]] = true
				contacts++
			case *events.Contacted:
				contacts++
			}
		}
		assert.Len(t, customers, sum.Customers)
		assert.Equal(t, sum.Rows, contacts, "every tweet is one contact")
		assert.Greater(t, sum.Issues, sum.Customers, "some authors come back after a day")
		assert.Less(t, sum.Issues, sum.Rows)
		assert.Positive(t, sum.Repeats)
		assert.Less(t, sum.Repeats, sum.Issues-sum.Customers+1)
	})
}

// Converting three calls of the call centre data set.
func Example() {
	input := pwcHead +
		"ID0001,Diane,2021-01-01,9:12:58,Contract related,Y,Y,109,0:02:23,3\n" +
		"ID0002,Becky,2021-01-01,9:13:10,Technical Support,Y,N,70,0:04:02,4\n" +
		"ID0003,Becky,2021-01-01,9:14:00,Streaming,N,N,,,\n"
	var out bytes.Buffer
	sum, err := convert(context.Background(), strings.NewReader(input), &out, options{dataset: "pwc"})
	if err != nil {
		fmt.Println(err)
		return
	}
	codec := events.NewJSONCodec(nil)
	for line := range strings.Lines(out.String()) {
		e, err := codec.Decode([]byte(line))
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(e.At.Format(time.TimeOnly), e.Version, e.Type())
	}
	fmt.Println(sum.Issues, "issues,", sum.Events, "events")
	// Output:
	// 09:12:58 1 issue.opened
	// 09:13:10 1 issue.opened
	// 09:14:00 1 issue.opened
	// 09:14:00 2 issue.abandoned
	// 09:14:20 2 issue.routed
	// 09:14:47 2 issue.routed
	// 09:17:10 3 issue.resolved
	// 09:17:10 4 issue.rated
	// 09:18:22 3 issue.rated
	// 3 issues, 9 events
}

// A byte-order mark before the header, as spreadsheet programs write, is
// no part of the file: its first column's name reads as without it,
// quoted too (a quote after the mark was part of the first field, for
// twcs's lazy quotes, or a bare quote for pwc).
func TestAHeaderAfterAByteOrderMark(t *testing.T) {
	twcs := "tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id\n" +
		`200,ann,True,Tue Oct 31 08:00:00 +0000 2017,@Brand my playlist is gone,201,` + "\n" +
		`201,Brand,False,Tue Oct 31 08:10:00 +0000 2017,@ann restored it,,200` + "\n"
	pwc := pwcHead + "C1,Anna Maria,2021-02-01,9:05:00,Payment related,Y,Y,30,0:04:10,5\n"
	quote := func(header string) string {
		head, rest, _ := strings.Cut(header, "\n")
		return `"` + strings.ReplaceAll(head, ",", `","`) + `"` + "\n" + rest
	}
	for _, tc := range []struct{ dataset, input string }{{"twcs", twcs}, {"pwc", pwc}} {
		plain, sum, _, err := convertString(t, tc.dataset, tc.input, false)
		require.NoError(t, err, tc.dataset)
		require.Equal(t, 1, sum.Issues, tc.dataset)
		for _, input := range []string{"\ufeff" + tc.input, "\ufeff" + quote(tc.input), quote(tc.input)} {
			got, _, _, err := convertString(t, tc.dataset, input, false)
			require.NoError(t, err, "%s: %q", tc.dataset, input[:20])
			assert.Equal(t, plain, got, "%s: %q", tc.dataset, input[:20])
		}
	}
}

// A header is the first record, wherever blank lines put it: one in the
// wrong order after a blank line was taken for a malformed row, and the
// rows after it converted column by wrong column.
func TestTheHeaderIsTheFirstRecord(t *testing.T) {
	swapped := "Call Id,Topic,Date,Time,Agent,Answered (Y/N),Resolved,Speed of answer in seconds,AvgTalkDuration,Satisfaction rating\n" +
		"ID1,Contract related,2021-01-01,9:12:58,Diane,Y,Y,109,0:02:23,3\n"
	_, _, _, err := convertString(t, "pwc", "\n"+swapped, false)
	require.ErrorIs(t, err, errMalformed)
	assert.ErrorContains(t, err, "pwc line 2: header")

	row := "C1,Ann,2021-02-01,9:05:00,Streaming,Y,Y,30,0:04:10,5\n"
	plain, _, _, err := convertString(t, "pwc", pwcHead+row, false)
	require.NoError(t, err)
	got, sum, _, err := convertString(t, "pwc", "\n\n"+pwcHead+row, false)
	require.NoError(t, err)
	assert.Equal(t, plain, got, "blank lines before the header change nothing")
	assert.Equal(t, 4, sum.Lines)
}

// A twcs header without inbound would make the company's replies its
// customers' contacts; a column named twice would be read from its last.
func TestTWCSHeaderNeedsEachColumnOnce(t *testing.T) {
	for _, tc := range []struct{ header, says string }{
		{"tweet_id,author_id,created_at,text", "lacks one of tweet_id, author_id, created_at and inbound"},
		{"tweet_id,author_id,inbound,created_at,text,tweet_id", "names tweet_id twice, in fields 1 and 6"},
	} {
		input := tc.header + "\n" + "1,115712,True,Tue Oct 31 23:36:20 +0000 2017,my app crashes\n"
		_, _, _, err := convertString(t, "twcs", input, false)
		require.ErrorIs(t, err, errMalformed, tc.header)
		assert.ErrorContains(t, err, "twcs line 1: header", tc.header)
		assert.ErrorContains(t, err, tc.says, tc.header)
	}
}

// The summary counts every line of the file, those of rows that did not
// parse and blank ones included.
func TestTheSummaryCountsEveryLine(t *testing.T) {
	row := "C1,Ann,2021-02-01,9:05:00,Streaming,Y,Y,30,0:04:10,5\n"
	for _, tc := range []struct {
		input string
		lines int
	}{
		{pwcHead + row, 2},
		{pwcHead + row + "\n", 3},
		{pwcHead + row + `C2,Ann,2021-02-01,9:06:00,Stre"aming,Y,Y,30,0:04:10,5` + "\n" + `C3,B"ob` + "\n", 4},
		{pwcHead + strings.TrimSuffix(row, "\n"), 2},
	} {
		_, sum, _, err := convertString(t, "pwc", tc.input, false)
		require.NoError(t, err, tc.input)
		assert.Equal(t, tc.lines, sum.Lines, "%q", tc.input)
	}
}

// A conversion that stops writes nothing more once it stopped, and says
// how many events it wrote before.
func TestAStopSaysTheLogIsCutShort(t *testing.T) {
	rows := pwcHead
	for i := range 3 {
		rows += fmt.Sprintf("C%d,Ann,2021-02-0%d,9:05:00,Streaming,Y,Y,30,0:04:10,5\n", i, i+1)
	}
	input := rows + `C9,"Ann,2021-02-04,9:06:00,Streaming,Y,Y,30,0:04:10,5` + "\n" + "C10,Ann,2021-02-04,9:07:00,Streaming,Y,Y,30,0:04:10,5\n"
	dir := t.TempDir()
	file := filepath.Join(dir, "cut.csv")
	require.NoError(t, os.WriteFile(file, []byte(input), 0o600))
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"-dataset", "pwc", file}, &out, &errOut)
	require.ErrorIs(t, err, errMalformed)
	written := strings.Count(out.String(), "\n")
	// Calls a day behind the latest read were written: those of 1
	// February, four events; those of 2 and 3 February were held back,
	// and stay so.
	assert.Equal(t, 4, written)
	assert.ErrorContains(t, err, "(the 4 events written before it are a log cut short)")
	_, err = decodeLog(out.Bytes())
	assert.NoError(t, err, "what was written is whole events")
}

// The company's replies are no customer contacts, and nothing wrong with
// the file: they are left out and counted, without a warning, and -strict
// converts past them. A file of replies alone converts to nothing.
func TestTheCompanysRepliesAreLeftOutAndNotMalformed(t *testing.T) {
	head := "tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id\n"
	ask := `200,ann,True,Tue Oct 31 08:00:00 +0000 2017,@Brand my playlist is gone,201,` + "\n"
	reply := `201,Brand,False,Tue Oct 31 08:10:00 +0000 2017,@ann restored it,,200` + "\n"
	for _, strict := range []bool{false, true} {
		log, sum, warn, err := convertString(t, "twcs", head+ask+reply, strict)
		require.NoError(t, err, "strict %v", strict)
		assert.Empty(t, warn, "strict %v", strict)
		assert.Equal(t, [3]int{1, 0, 1}, [3]int{sum.Rows, sum.Skipped, sum.Replies}, "strict %v: rows, skipped, replies", strict)
		require.NotEmpty(t, log)
		o, ok := events.As[*events.Opened](log[0])
		require.True(t, ok)
		assert.Equal(t, []string{"twitter:ann"}, o.Customer.Keys, "the reply's author is no customer")
		assert.Contains(t, sum.String(), "0 skipped, 1 company replies left out;")
	}
	_, sum, _, err := convertString(t, "twcs", head+reply, true)
	require.ErrorIs(t, err, errNoEvents)
	assert.ErrorContains(t, err, "its 1 rows are the company's replies")
	assert.Equal(t, 1, sum.Replies)
}
