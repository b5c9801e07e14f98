// Command quickstart plays one day of a small contact centre through the
// contact Service on an in-memory store, prints every issue's lifecycle,
// then the day's true first-contact resolution against the reported one.
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"github.com/google/uuid"

	"github.com/truefcr/truefcr/contact"
	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/internal/cli"
)

func main() {
	flag.Usage = cli.Usage(flag.CommandLine.Output(), "go run ./examples/quickstart",
		"quickstart plays a day of a contact centre in memory and prints its issues and report")
	cli.Parse()
	ctx := context.Background()
	store, err := day(ctx)
	if err != nil {
		log.Fatal(err)
	}
	if err := printIssues(ctx, os.Stdout, store); err != nil {
		log.Fatal(err)
	}
	if err := printReport(ctx, os.Stdout, store); err != nil {
		log.Fatal(err)
	}
}

// dayStart is Monday 2 March 2026, in UTC so that the output is the same
// everywhere.
func dayStart() time.Time { return time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC) }

// nameOf returns the name of the customer with the key, as the contact
// centre's CRM would.
func nameOf(key string) string {
	switch key {
	case "phone:+358401234567":
		return "Anna"
	case "email:ben@example.com":
		return "Ben"
	case "phone:+358451112233":
		return "Carla"
	case "email:dana@example.com", "phone:+358507654321":
		return "Dana"
	}
	return ""
}

// day plays the day and returns the store that holds its events.
func day(ctx context.Context) (*events.MemoryStore, error) {
	store := events.NewMemoryStore()
	p := &player{ctx: ctx, now: dayStart()}
	var err error
	p.svc, err = contact.NewService(contact.Config{
		Store: store,
		Keys:  contact.KeyRules{DefaultCountry: "358"},
		Clock: contact.ClockFunc(func() time.Time { return p.now }),
		IDs:   p.nextID(),
	})
	if err != nil {
		return nil, err
	}

	// Anna phones about a wrong invoice; billing transfers her to payments,
	// whose agent asks a supervisor and solves it. She rates the call.
	anna := p.open("08:05:00", contact.Open{Customer: events.Customer{Keys: []string{"phone:040 123 4567"}}, Channel: "phone", Topic: "billing/invoice-error"})
	p.run("08:05:45", anna, contact.Route{Queue: "billing", Agent: "maria", Skills: []string{"fi", "billing"}, Wait: 45 * time.Second})
	p.run("08:09:10", anna, contact.Route{Queue: "payments", Agent: "olli", Skills: []string{"fi", "payments"}})
	p.run("08:12:00", anna, contact.Consult{Agent: "olli", Expert: "ella (supervisor)", Duration: 2 * time.Minute})
	p.run("08:21:00", anna, contact.Resolve{Agent: "olli", Code: "credit-note", Handle: 15 * time.Minute})
	p.run("08:40:00", anna, contact.Rate{Survey: events.SurveyCSAT, Score: 5})

	// Ben resets his password with the bot, which calls it solved; at
	// lunch he phones: the reset link had expired.
	ben := p.open("09:10:00", contact.Open{Customer: events.Customer{Keys: []string{"email:Ben@Example.com"}}, Channel: "bot", Topic: "account/password-reset"})
	p.run("09:13:30", ben, contact.Resolve{Agent: "helpbot", Bot: true, Code: "reset-link-sent"})
	p.run("11:32:00", ben, contact.Reopen{Channel: "phone", Reason: "reset link expired"})
	p.run("11:34:10", ben, contact.Route{Queue: "accounts", Agent: "sami", Wait: 2*time.Minute + 10*time.Second})
	p.run("11:41:00", ben, contact.Resolve{Agent: "sami", Handle: 7 * time.Minute})
	p.run("12:05:00", ben, contact.Rate{Survey: events.SurveyNPS, Score: 6})

	// Carla's parcel is late. Her first call is abandoned after three
	// minutes in the queue; she calls back, and the agent reclassifies.
	carla := p.open("10:02:00", contact.Open{Customer: events.Customer{Keys: []string{"phone:045 111 2233"}}, Channel: "phone", Topic: "orders/late-delivery"})
	p.run("10:05:00", carla, contact.Abandon{Wait: 3 * time.Minute})
	p.run("10:20:00", carla, contact.FollowUp{Channel: "phone"})
	p.run("10:20:50", carla, contact.Route{Queue: "orders", Agent: "maria", Wait: 50 * time.Second})
	p.run("10:27:00", carla, contact.Classify{Topic: "orders/late-delivery", Topics: []string{"billing/refund"}})
	p.run("10:28:00", carla, contact.Resolve{Agent: "maria", Handle: 7 * time.Minute})

	// Dana chats in the morning under her email address about a refund and
	// phones about it in the afternoon: a new ticket under her phone
	// number. Her evening web form carries both, which links them.
	danaChat := p.open("09:30:00", contact.Open{Customer: events.Customer{Keys: []string{"email:dana@example.com"}}, Channel: "chat", Topic: "billing/refund"})
	p.run("09:30:20", danaChat, contact.Route{Queue: "billing", Agent: "maria", Wait: 20 * time.Second})
	p.run("09:38:00", danaChat, contact.Resolve{Agent: "maria", Code: "refund-promised", Handle: 8 * time.Minute})
	danaCall := p.open("14:10:00", contact.Open{Customer: events.Customer{Keys: []string{"phone:050 765 4321"}}, Channel: "phone", Topic: "billing/refund"})
	p.run("14:11:30", danaCall, contact.Route{Queue: "billing", Agent: "olli", Wait: 90 * time.Second})
	p.run("14:19:00", danaCall, contact.Resolve{Agent: "olli", Code: "refund-paid", Handle: 7*time.Minute + 30*time.Second})
	p.run("14:25:00", danaCall, contact.Rate{Survey: events.SurveyCSAT, Score: 3})
	danaWeb := p.open("16:45:00", contact.Open{Customer: events.Customer{Keys: []string{"email:dana@example.com", "phone:+358 50 765 4321"}}, Channel: "web", Topic: "account/address-change"})
	p.run("16:52:00", danaWeb, contact.Route{Queue: "accounts", Agent: "sami"})
	p.run("16:55:00", danaWeb, contact.Resolve{Agent: "sami", Handle: 3 * time.Minute})

	return store, p.err
}

// player runs the day's commands at their times and stops at the first error.
type player struct {
	ctx context.Context
	svc *contact.Service
	now time.Time
	n   int
	err error
}

// nextID makes ids that are the same on every run.
func (p *player) nextID() contact.IDGenerator {
	return contact.IDFunc(func() (uuid.UUID, error) {
		p.n++
		return uuid.MustParse(fmt.Sprintf("0195a000-0000-7000-8000-%012d", p.n)), nil
	})
}

func (p *player) at(hms string) {
	t, err := time.Parse(time.TimeOnly, hms)
	if err != nil && p.err == nil {
		p.err = err
	}
	p.now = dayStart().Add(time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute + time.Duration(t.Second())*time.Second)
}

func (p *player) open(hms string, cmd contact.Open) uuid.UUID {
	if p.err != nil {
		return uuid.Nil
	}
	p.at(hms)
	id, _, err := p.svc.Open(p.ctx, cmd)
	p.err = err
	return id
}

func (p *player) run(hms string, issue uuid.UUID, cmd contact.Command) {
	if p.err != nil {
		return
	}
	p.at(hms)
	_, p.err = p.svc.Execute(p.ctx, issue, cmd)
}

// printIssues prints one block per issue, in the order they were opened.
func printIssues(ctx context.Context, w io.Writer, store events.Store) error {
	var order []uuid.UUID
	byIssue := map[uuid.UUID][]events.Envelope{}
	for e, err := range store.ReadAll(ctx, 0) {
		if err != nil {
			return err
		}
		if _, ok := byIssue[e.Issue]; !ok {
			order = append(order, e.Issue)
		}
		byIssue[e.Issue] = append(byIssue[e.Issue], e)
	}
	fmt.Fprintf(w, "A day at the contact centre, %s\n", dayStart().Format("Monday 2 January 2006"))
	for i, id := range order {
		if err := printIssue(w, i+1, id, byIssue[id]); err != nil {
			return err
		}
	}
	return nil
}

func printIssue(w io.Writer, n int, id uuid.UUID, evs []events.Envelope) error {
	is := &contact.Issue{ID: id}
	for _, e := range evs {
		if err := is.Apply(e); err != nil {
			return err
		}
		if e.Version == 1 {
			fmt.Fprintf(w, "\nIssue %d · %s · %s\n", n, customer(is.Customer), is.Topic)
		}
		channel, what, detail := describe(is, e)
		fmt.Fprintf(w, "  %s  %-6s  %-12s %s\n", e.At.Format(time.TimeOnly), channel, what, detail)
	}
	fmt.Fprintf(w, "  %s\n", summary(is))
	return nil
}

// describe says what one event did, once it has been applied to is.
func describe(is *contact.Issue, e events.Envelope) (channel, what, detail string) {
	channelOf := func(id uuid.UUID) string {
		c, _ := is.Contact(id)
		return c.Channel
	}
	switch d := e.Data.(type) {
	case *events.Opened:
		detail = "first contact"
		if len(d.Customer.Keys) > 1 {
			detail += fmt.Sprintf(", under %d keys at once: they belong to one customer", len(d.Customer.Keys))
		}
		return d.Channel, "opened", detail
	case *events.Routed:
		what = "routed"
		if c, _ := is.Contact(d.Contact); c.Routings > 1 {
			what = "transferred"
		}
		return channelOf(d.Contact), what, fmt.Sprintf("to %s, agent %s%s", d.Queue, d.Agent, waited(d.Wait))
	case *events.Consulted:
		return channelOf(d.Contact), "consulted", fmt.Sprintf("%s asked %s for %s", d.Agent, d.Expert, human(d.Duration))
	case *events.Resolved:
		by := "agent " + d.Agent
		if d.Bot {
			by = "bot " + d.Agent
		}
		detail = "by " + by
		if d.Code != "" {
			detail += ": " + d.Code
		}
		if d.Handle > 0 {
			detail += fmt.Sprintf(" (handled in %s)", human(d.Handle))
		}
		return channelOf(d.Contact), "resolved", detail
	case *events.Reopened:
		return d.Channel, "reopened", "the customer came back: " + d.Reason
	case *events.Contacted:
		return d.Channel, "follow-up", "the customer contacted again"
	case *events.Abandoned:
		return channelOf(d.Contact), "abandoned", fmt.Sprintf("hung up after %s in the queue", human(d.Wait))
	case *events.Rated:
		lo, hi, _ := d.Survey.Scale()
		return "survey", "rated", fmt.Sprintf("%s %d on %d–%d", d.Survey, d.Score, lo, hi)
	case *events.Classified:
		detail = "topic " + d.Topic
		for _, t := range d.Topics {
			detail += ", also " + t
		}
		return "note", "classified", detail
	}
	return "", string(e.Type()), ""
}

func waited(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return fmt.Sprintf(" after %s in the queue", human(d))
}

// human writes a duration as "2 min 10 s".
func human(d time.Duration) string {
	m, s := int(d/time.Minute), int(d%time.Minute/time.Second)
	switch {
	case m == 0:
		return fmt.Sprintf("%d s", s)
	case s == 0:
		return fmt.Sprintf("%d min", m)
	}
	return fmt.Sprintf("%d min %d s", m, s)
}

func customer(c events.Customer) string {
	name := ""
	for _, k := range c.Keys {
		if n := nameOf(k); n != "" {
			name = n + " "
			break
		}
	}
	keys := ""
	for i, k := range c.Keys {
		if i > 0 {
			keys += ", "
		}
		keys += k
	}
	return name + "(" + keys + ")"
}

func summary(is *contact.Issue) string {
	answered, abandoned := 0, 0
	for _, c := range is.Contacts {
		if c.Abandoned {
			abandoned++
		} else {
			answered++
		}
	}
	s := "→ " + is.Status.String()
	if is.Status == contact.StatusResolved {
		s += fmt.Sprintf(" by %s at %s", is.ResolvedBy, is.ResolvedAt.Format("15:04"))
	}
	s += ", " + plural(answered, "contact")
	if abandoned > 0 {
		s += " and " + plural(abandoned, "abandoned attempt")
	}
	return s
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
