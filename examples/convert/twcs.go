package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/truefcr/truefcr/events"
)

// tweet is one customer tweet of the Twitter support data set.
type tweet struct {
	id     string
	author string
	at     time.Time
	text   string
	reply  bool // not inbound: the company's reply
}

// twcsColumns are the indexes of the columns that the conversion reads.
type twcsColumns struct {
	width                         int
	id, author, inbound, at, text int
	need                          int // fields up to the last required column
}

// twcsHeader reads the header, on line line. It needs the columns
// tweet_id, author_id, created_at and inbound, each once: without inbound,
// the company's replies would read as its customers' contacts.
func twcsHeader(line int, rec []string) (twcsColumns, error) {
	c := twcsColumns{width: len(rec), id: -1, author: -1, inbound: -1, at: -1, text: -1}
	for i, name := range rec {
		var col *int
		switch strings.TrimSpace(name) {
		case "tweet_id":
			col = &c.id
		case "author_id":
			col = &c.author
		case "inbound":
			col = &c.inbound
		case "created_at":
			col = &c.at
		case "text":
			col = &c.text
		default:
			continue
		}
		if *col >= 0 {
			return c, fmt.Errorf("twcs line %d: header %q names %s twice, in fields %d and %d: %w", line, rec, strings.TrimSpace(name), *col+1, i+1, errMalformed)
		}
		*col = i
	}
	if c.id < 0 || c.author < 0 || c.at < 0 || c.inbound < 0 {
		return c, fmt.Errorf("twcs line %d: header %q lacks one of tweet_id, author_id, created_at and inbound (which tells a customer's tweet from the company's reply): %w", line, rec, errMalformed)
	}
	c.need = max(c.id, c.author, c.at, c.inbound) + 1
	return c, nil
}

// convertTWCS converts the Twitter support data set. One author is one
// customer ("twitter:<author_id>"). An author's tweets, in time order,
// fall into conversations: a silence longer than opt.gap starts a new
// one. A conversation is one issue on the social channel, opened by its
// first tweet, with every later tweet as a follow-up (issue.contacted),
// and resolved one minute after its last tweet: the set holds only the
// customer's side, so the reply that closed it is assumed.
//
// The file is not in time order, so the whole of it is read before the
// first event is written.
func convertTWCS(ctx context.Context, r io.Reader, out *sink, opt options) (summary, error) {
	var sum summary
	cr := newCSVReader(r)
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	var cols twcsColumns
	byAuthor := map[string][]tweet{}
	lineOf := map[string]int{}
	err := eachRow(ctx, cr, &sum, opt, func(line int, rec []string) error {
		if cols.width == 0 {
			var err error
			cols, err = twcsHeader(line, rec)
			return err
		}
		if i, row := swallowedRow(rec, cols); i > 0 {
			return fmt.Errorf("twcs lines %d to %d: the row of line %d holds what reads as the row %q: a quote opened in it is not closed, so the rows after it read as its field: %w",
				line, line+i, line, row, errMalformed)
		}
		tw, problem := parseTweet(rec, cols)
		if problem == "" && tw.reply {
			sum.Replies++
			return nil
		}
		keep := problem == ""
		if first, dup := lineOf[tw.id]; keep && dup {
			keep, problem = false, fmt.Sprintf("tweet %s is already on line %d", tw.id, first)
		}
		action := "skipped"
		switch {
		case !keep:
			sum.Skipped++
			problem = fmt.Sprintf("row of %d fields: %s", len(rec), problem)
		case hasCR(rec):
			// A bare carriage return (an old Mac line break) inside an
			// unquoted text: readers that take it for a line end split
			// the row in two.
			sum.Repaired++
			problem = fmt.Sprintf("bare carriage return in a field of tweet %s", tw.id)
			action = "kept, as a space"
			tw.text = strings.ReplaceAll(tw.text, "\r", " ")
		case len(rec) != cols.width:
			// An unquoted line break in a text splits its row: the first
			// part still has the id, author and time; the rest are lines
			// of their own, skipped above.
			sum.Repaired++
			problem = fmt.Sprintf("%d fields, want %d (a line break in the text?)", len(rec), cols.width)
			action = "kept tweet " + tw.id + " without the rest of its text"
		}
		if problem != "" {
			if err := rowProblem(opt, line, problem, action); err != nil {
				return err
			}
		}
		if !keep {
			return nil
		}
		lineOf[tw.id] = line
		sum.Rows++
		byAuthor[tw.author] = append(byAuthor[tw.author], tw)
		return nil
	})
	if err != nil {
		return sum, err
	}
	if err := ctx.Err(); err != nil {
		return sum, err
	}

	ids := newIDSpace()
	var topics *classifier
	if opt.classify {
		c := newClassifier()
		topics = &c
	}
	authors := make([]string, 0, len(byAuthor))
	for a := range byAuthor {
		authors = append(authors, a)
	}
	slices.Sort(authors)
	sum.Customers = len(authors)
	for _, a := range authors {
		tws := byAuthor[a]
		slices.SortFunc(tws, func(x, y tweet) int {
			if c := x.at.Compare(y.at); c != 0 {
				return c
			}
			return cmp.Or(cmp.Compare(len(x.id), len(y.id)), cmp.Compare(x.id, y.id))
		})
		var prevResolved time.Time
		for start := 0; start < len(tws); {
			end := start + 1
			for end < len(tws) && tws[end].at.Sub(tws[end-1].at) <= opt.gap {
				end++
			}
			if start > 0 && tws[start].at.Sub(prevResolved) < opt.window {
				sum.Repeats++
			}
			prevResolved = writeConversation(ids, out, tws[start:end], topics, &sum)
			start = end
		}
	}
	return sum, nil
}

// writeConversation writes one conversation as an issue and returns when
// it was resolved.
func writeConversation(ids idSpace, out *sink, conv []tweet, topics *classifier, sum *summary) time.Time {
	first := conv[0]
	s := newStream(ids, out, "twcs/author/"+first.author+"/tweet/"+first.id)
	topic := "support/general"
	if topics != nil {
		topic = topics.topic(first.text)
	}
	sum.Issues++
	contact := ids.id("twcs/tweet", first.id)
	s.add(first.at, &events.Opened{
		Customer: events.Customer{Keys: []string{"twitter:" + first.author}},
		Channel:  "social",
		Topic:    topic,
		Contact:  contact,
	})
	for _, tw := range conv[1:] {
		contact = ids.id("twcs/tweet", tw.id)
		s.add(tw.at, &events.Contacted{Contact: contact, Channel: "social"})
		sum.FollowUps++
	}
	resolved := conv[len(conv)-1].at.Add(time.Minute)
	s.add(resolved, &events.Resolved{Contact: contact, Agent: "support", Code: "assumed"})
	sum.Resolved++
	return resolved
}

// swallowedRow returns how many lines after the first of rec a line of one
// of its fields reads as a row of the file of its own (a tweet id, then
// inbound as True or False where the file has it), and that line; 0 for
// none. The reader, which takes quotes lazily, reads the rows after a
// quote that is never closed as part of a field.
func swallowedRow(rec []string, c twcsColumns) (int, string) {
	n := 0 // lines before the field
	for _, f := range rec {
		lines := strings.Split(f, "\n")
		for i, l := range lines[1:] {
			fs := strings.Split(strings.TrimSuffix(l, "\r"), ",")
			if len(fs) < c.need {
				continue
			}
			if _, err := strconv.ParseUint(fs[c.id], 10, 64); err != nil {
				continue
			}
			if c.inbound >= 0 && fs[c.inbound] != "True" && fs[c.inbound] != "False" {
				continue
			}
			return n + i + 1, l
		}
		n += len(lines) - 1
	}
	return 0, ""
}

// parseTweet reads the columns of one row that the conversion needs, or
// says what is wrong with them.
func parseTweet(rec []string, c twcsColumns) (tweet, string) {
	if len(rec) < c.need {
		return tweet{}, "too few fields for an id, author and time"
	}
	tw := tweet{id: strings.TrimSpace(rec[c.id]), author: strings.TrimSpace(rec[c.author])}
	if _, err := strconv.ParseUint(tw.id, 10, 64); err != nil {
		return tw, fmt.Sprintf("tweet_id %q is not a number", rec[c.id])
	}
	if tw.author == "" || !isToken(tw.author) {
		return tw, fmt.Sprintf("tweet %s: author_id %q is not an id", tw.id, rec[c.author])
	}
	at, err := time.Parse("Mon Jan 02 15:04:05 -0700 2006", strings.TrimSpace(rec[c.at]))
	if err != nil {
		return tw, fmt.Sprintf("tweet %s: created_at %q is not like Tue Oct 31 23:36:20 +0000 2017", tw.id, rec[c.at])
	}
	if !events.InTimeRange(at) {
		return tw, fmt.Sprintf("tweet %s: created_at %q is out of the years 1678 to 2261", tw.id, rec[c.at])
	}
	tw.at = at.UTC()
	if c.inbound >= 0 {
		switch strings.TrimSpace(rec[c.inbound]) {
		case "True":
		case "False":
			tw.reply = true // the company's: no customer contact, and nothing wrong
		default:
			return tw, fmt.Sprintf("tweet %s: inbound %q is not True or False", tw.id, rec[c.inbound])
		}
	}
	if c.text >= 0 && c.text < len(rec) {
		tw.text = rec[c.text]
	}
	return tw, ""
}

func isToken(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return s != ""
}

func hasCR(rec []string) bool {
	for _, f := range rec {
		if strings.ContainsRune(f, '\r') {
			return true
		}
	}
	return false
}
