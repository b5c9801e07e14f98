// Command helpdesk shows how an existing helpdesk embeds true FCR, with the
// library's public API alone: its webhook deliveries (a ticket created,
// assigned, answered by the customer, solved, rated) become commands of a
// contact.Service on the PostgreSQL store, and a projections.Runner feeds
// a projections.Reporter from that store, with its checkpoint in
// PostgreSQL. Run again on the same schema, the deliveries append nothing
// (each is idempotent) and the runner resumes from its checkpoint.
//
//	go run ./examples/helpdesk [-dsn URL] [-schema NAME] [-fresh]
//
// It needs a PostgreSQL server: TRUEFCR_POSTGRES_DSN or -dsn, by default
// postgres://postgres@127.0.0.1:5432/test.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/truefcr/truefcr/contact"
	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/events/pgstore"
	"github.com/truefcr/truefcr/internal/cli"
	"github.com/truefcr/truefcr/projections"
	"github.com/truefcr/truefcr/projections/pgcheckpoint"
)

// Where the database is when neither -dsn nor the environment says.
const (
	envDSN     = "TRUEFCR_POSTGRES_DSN"
	defaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
)

// errUnknownUpdate: a webhook of a kind the integration does not handle.
var errUnknownUpdate = errors.New("unknown kind of update")

// Update is one webhook delivery of the helpdesk: what happened to a
// ticket. Delivery is the id the helpdesk gives the delivery, the same
// when it delivers it again.
type Update struct {
	Delivery string
	Ticket   string
	// Kind is created, assigned, customer_reply, solved or survey.
	Kind string
	At   time.Time

	Channel string // created, customer_reply: email, phone, chat, web
	Email   string // created: the customer's identifiers
	Phone   string
	Topic   string        // created
	Queue   string        // assigned
	Agent   string        // assigned, solved
	Wait    time.Duration // assigned: how long the customer waited
	Bot     bool          // solved: by the helpdesk's bot
	Score   int           // survey: CSAT 1–5
}

// Helpdesk turns webhook deliveries into commands.
type Helpdesk struct {
	Service *contact.Service
}

// ticketKey is the idempotency key of a ticket's opening, which names its
// issue: contact.IssueForKey(ticketKey(t)) is the issue of ticket t.
func ticketKey(ticket string) string { return "helpdesk:ticket:" + ticket }

// Handle runs the command that u asks for. A delivery that comes again
// takes effect once: the opening under the ticket's key, every other
// command under the delivery's. A customer's message is a Reply, which
// the Service makes a follow-up while the ticket is open and a reopen once
// it is solved.
func (h *Helpdesk) Handle(ctx context.Context, u Update) error {
	if u.Kind == "created" {
		var keys []string
		if u.Email != "" {
			keys = append(keys, "email:"+u.Email)
		}
		if u.Phone != "" {
			keys = append(keys, "phone:"+u.Phone)
		}
		_, _, err := h.Service.Open(contact.WithIdempotencyKey(ctx, ticketKey(u.Ticket)), contact.Open{
			Customer: events.Customer{Keys: keys}, Channel: u.Channel, Topic: u.Topic, At: u.At,
		})
		return err
	}
	var cmd contact.Command
	switch u.Kind {
	case "assigned":
		cmd = contact.Route{Queue: u.Queue, Agent: u.Agent, Wait: u.Wait, At: u.At}
	case "customer_reply":
		cmd = contact.Reply{Channel: u.Channel, At: u.At}
	case "solved":
		cmd = contact.Resolve{Agent: u.Agent, Bot: u.Bot, At: u.At}
	case "survey":
		cmd = contact.Rate{Survey: events.SurveyCSAT, Score: u.Score, At: u.At}
	default:
		return fmt.Errorf("delivery %s of ticket %s: %q: %w", u.Delivery, u.Ticket, u.Kind, errUnknownUpdate)
	}
	ctx = contact.WithIdempotencyKey(ctx, "helpdesk:delivery:"+u.Delivery)
	_, err := h.Service.Execute(ctx, contact.IssueForKey(ticketKey(u.Ticket)), cmd)
	return err
}

// week is a week of a small helpdesk, as its webhooks deliver it. Anna
// chats about a refund on Monday and calls about it on Tuesday: two
// tickets, each solved on its first contact, and one problem that the
// first did not solve. Ben's email needs a second message; Carla's bot
// answer does not hold, and she writes again two days later; Dana is
// solved on her first contact, and the helpdesk delivers that webhook
// twice. Erik's ticket, a week later, moves the time past the window
// after the others.
func week() []Update {
	day := func(d, h, m int) time.Time { return time.Date(2026, 3, 2+d, h, m, 0, 0, time.UTC) }
	return []Update{
		{Delivery: "d1", Ticket: "1001", Kind: "created", At: day(0, 9, 0), Channel: "chat", Email: "anna@example.com", Topic: "billing/refund"},
		{Delivery: "d2", Ticket: "1001", Kind: "assigned", At: day(0, 9, 1), Queue: "billing", Agent: "maria", Wait: 40 * time.Second},
		{Delivery: "d3", Ticket: "1001", Kind: "solved", At: day(0, 9, 12), Agent: "maria"},
		{Delivery: "d4", Ticket: "1002", Kind: "created", At: day(0, 11, 0), Channel: "email", Email: "ben@example.com", Topic: "tech/wifi"},
		{Delivery: "d5", Ticket: "1002", Kind: "assigned", At: day(0, 13, 0), Queue: "tech", Agent: "olli", Wait: 2 * time.Hour},
		{Delivery: "d6", Ticket: "1002", Kind: "customer_reply", At: day(0, 14, 0), Channel: "email"},
		{Delivery: "d7", Ticket: "1002", Kind: "solved", At: day(0, 15, 0), Agent: "olli"},
		{Delivery: "d8", Ticket: "1003", Kind: "created", At: day(0, 16, 0), Channel: "web", Email: "carla@example.com", Topic: "orders/delivery"},
		{Delivery: "d9", Ticket: "1003", Kind: "solved", At: day(0, 16, 1), Agent: "helpbot", Bot: true},
		{Delivery: "d10", Ticket: "1001", Kind: "survey", At: day(0, 18, 0), Score: 4},
		{Delivery: "d11", Ticket: "1004", Kind: "created", At: day(1, 10, 0), Channel: "phone", Email: "anna@example.com", Phone: "040 123 4567", Topic: "billing/refund"},
		{Delivery: "d12", Ticket: "1004", Kind: "assigned", At: day(1, 10, 2), Queue: "billing", Agent: "lena", Wait: 90 * time.Second},
		{Delivery: "d13", Ticket: "1004", Kind: "solved", At: day(1, 10, 20), Agent: "lena"},
		{Delivery: "d14", Ticket: "1005", Kind: "created", At: day(1, 15, 0), Channel: "chat", Email: "dana@example.com", Topic: "tech/wifi"},
		{Delivery: "d15", Ticket: "1005", Kind: "assigned", At: day(1, 15, 1), Queue: "tech", Agent: "olli", Wait: 20 * time.Second},
		{Delivery: "d16", Ticket: "1005", Kind: "solved", At: day(1, 15, 9), Agent: "olli"},
		{Delivery: "d16", Ticket: "1005", Kind: "solved", At: day(1, 15, 9), Agent: "olli"}, // delivered again
		{Delivery: "d17", Ticket: "1003", Kind: "customer_reply", At: day(2, 9, 0), Channel: "email"},
		{Delivery: "d18", Ticket: "1003", Kind: "assigned", At: day(2, 9, 30), Queue: "orders", Agent: "maria", Wait: 30 * time.Minute},
		{Delivery: "d19", Ticket: "1003", Kind: "solved", At: day(2, 9, 45), Agent: "maria"},
		{Delivery: "d20", Ticket: "1006", Kind: "created", At: day(9, 9, 0), Channel: "phone", Phone: "+358 50 765 4321", Topic: "orders/return"},
	}
}

// options are the program's flags.
type options struct {
	DSN, Schema string
	Fresh       bool
}

func main() {
	var o options
	flag.StringVar(&o.DSN, "dsn", "", "PostgreSQL connection URL (default $"+envDSN+", else "+defaultDSN+")")
	flag.StringVar(&o.Schema, "schema", "helpdesk_example", "schema of the store's and the checkpoint's tables")
	flag.BoolVar(&o.Fresh, "fresh", false, "drop the schema first, to start from nothing")
	cli.Parse()
	if _, err := run(context.Background(), o, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// outcome is what run did.
type outcome struct {
	Appended uint64 // events the deliveries appended
	Stats    projections.RunnerStats
	Report   projections.Report
}

// run plays the week's deliveries into the store, runs the runner until
// it has read them, and writes the report to out.
func run(ctx context.Context, o options, out io.Writer) (outcome, error) {
	var res outcome
	if o.Schema == "" {
		return res, errors.New("-schema is empty: name the schema of the example's tables")
	}
	pool, err := connect(ctx, o.DSN)
	if err != nil {
		return res, err
	}
	defer pool.Close()
	if o.Fresh {
		if _, err := pool.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{o.Schema}.Sanitize()+` CASCADE`); err != nil {
			return res, fmt.Errorf("drop schema %s: %w", o.Schema, err)
		}
	}
	store, err := pgstore.New(ctx, pool, pgstore.Config{Schema: o.Schema})
	if err != nil {
		return res, err
	}
	svc, err := contact.NewService(contact.Config{Store: store, Keys: contact.KeyRules{DefaultCountry: "358"}})
	if err != nil {
		return res, err
	}
	before, err := store.Head(ctx)
	if err != nil {
		return res, err
	}
	h := &Helpdesk{Service: svc}
	for _, u := range week() {
		if err := h.Handle(ctx, u); err != nil {
			return res, err
		}
	}
	head, err := store.Head(ctx)
	if err != nil {
		return res, err
	}
	res.Appended = head - before
	fmt.Fprintf(out, "%d webhook deliveries appended %d events (store head %d)\n", len(week()), res.Appended, head)

	checkpoints, err := pgcheckpoint.New(ctx, pool, pgcheckpoint.Config{Schema: o.Schema})
	if err != nil {
		return res, err
	}
	rep, err := projections.NewReporter(projections.ReportConfig{
		FCR:      projections.FCRConfig{Window: 72 * time.Hour},
		Lateness: 72 * time.Hour, // a helpdesk's webhooks come in order; a reopen within three days keeps its attribution
	})
	if err != nil {
		return res, err
	}
	runner, err := projections.NewRunner(projections.RunnerConfig{
		Name: "helpdesk-report", Projection: rep, Store: store, Checkpoints: checkpoints, PollInterval: 20 * time.Millisecond,
	})
	if err != nil {
		return res, err
	}
	if err := runUntilCaughtUp(ctx, runner, head); err != nil {
		return res, err
	}
	res.Stats, res.Report = runner.Stats(), rep.Report()
	fmt.Fprintf(out, "runner applied %d events, up to store position %d\n\n", res.Stats.Applied, res.Stats.Position)
	return res, res.Report.WriteText(out)
}

// runUntilCaughtUp runs runner until it has read the store up to head,
// then stops it, which checkpoints.
func runUntilCaughtUp(ctx context.Context, runner *projections.Runner, head uint64) error {
	ctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- runner.Run(ctx) }()
	deadline := time.After(time.Minute)
	for runner.Stats().Position < head {
		select {
		case err := <-done:
			stop()
			if err == nil {
				err = errors.New("runner stopped before it caught up")
			}
			return err
		case <-deadline:
			stop()
			<-done
			return fmt.Errorf("runner at position %d after a minute, store head %d", runner.Stats().Position, head)
		case <-time.After(10 * time.Millisecond):
		}
	}
	stop()
	return <-done
}

// connect opens a pool on dsn, the environment's, or the default.
func connect(ctx context.Context, dsn string) (*pgxpool.Pool, error) {
	if dsn == "" {
		dsn = os.Getenv(envDSN)
	}
	if dsn == "" {
		dsn = defaultDSN
	}
	// pgx's errors name the server and the user, never the password:
	// neither does this one, as a log must not show it.
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	return pool, nil
}
