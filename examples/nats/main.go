// Command nats shows the production wiring of true FCR at scale: the
// contact Service appends every command's events to the store and hands
// them to an events.Publisher that spreads them over NATS JetStream
// subjects by partition key; one projections.Runner per partition follows
// its subject with a durable consumer and feeds a Reporter; their reports
// are merged into the report of the whole contact centre.
//
// It needs a NATS server with JetStream: see README.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/truefcr/truefcr/contact"
	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/events/natssub"
	"github.com/truefcr/truefcr/internal/cli"
	"github.com/truefcr/truefcr/internal/headline"
	"github.com/truefcr/truefcr/internal/natstest"
	"github.com/truefcr/truefcr/internal/simulate"
	"github.com/truefcr/truefcr/projections"
)

// space names what a run makes on the NATS server: a stream over every
// partition's subject. Each run has its own, so that two runs at once (two
// terminals, two test processes) neither read nor delete each other's.
type space struct {
	stream string // TRUEFCR_EXAMPLE_<run>
	prefix string // truefcr.example.<run>.p: partition N is prefix.N
}

// newSpace returns the names of a run of its own.
func newSpace() space {
	run := uuid.NewString()[:8] // hexadecimal digits
	return space{stream: "TRUEFCR_EXAMPLE_" + strings.ToUpper(run), prefix: "truefcr.example." + run + ".p"}
}

// create makes the stream of sp, which delete removes. A run killed
// before it could delete it (an interrupt lets it) leaves its stream
// behind, its messages expiring after a day (MaxAge).
func (sp space) create(js nats.JetStreamContext) error {
	cfg := &nats.StreamConfig{Name: sp.stream, Subjects: []string{sp.prefix + ".>"}, MaxAge: 24 * time.Hour}
	if _, err := js.AddStream(cfg); err != nil {
		return fmt.Errorf("create stream %s: %w", sp.stream, err)
	}
	return nil
}

func (sp space) delete(js nats.JetStreamContext) { _ = js.DeleteStream(sp.stream) }

func main() {
	url := flag.String("nats", nats.DefaultURL, "NATS server URL (JetStream enabled)")
	partitions := flag.Int("partitions", 4, "number of partitions, one runner each")
	days := flag.Int("days", 14, "days of simulated contact centre traffic")
	seed := flag.Uint64("seed", 1, "seed of the simulated traffic")
	asJSON := flag.Bool("json", false, "print the merged report as JSON")
	cli.Parse()
	// Interrupted, the run still deletes its stream on the way out.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	// With -json, standard output holds the report alone.
	progress := io.Writer(os.Stdout)
	if *asJSON {
		progress = os.Stderr
	}
	if err := run(ctx, os.Stdout, progress, *url, *partitions, *days, *seed, *asJSON); err != nil {
		log.Fatal(err)
	}
}

// run records days of simulated traffic and reports on it to out, its
// progress to progress.
func run(ctx context.Context, out, progress io.Writer, url string, partitions, days int, seed uint64, asJSON bool) error {
	if partitions < 1 {
		return fmt.Errorf("-partitions %d: need at least one partition", partitions)
	}
	if days < 1 {
		return fmt.Errorf("-days %d: need at least one day", days)
	}
	logger := watermill.NewSlogLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))

	// A fresh stream for this run: JetStream keeps what is published, so
	// runners that start later still read every event.
	nc, err := nats.Connect(url)
	if err != nil {
		return fmt.Errorf("connect to NATS at %s (is it running with -js?): %w", natstest.Redacted(url), err)
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		return err
	}
	sp := newSpace()
	if err := sp.create(js); err != nil {
		return err
	}
	defer sp.delete(js)

	// The write side: Service → memory store → publisher to the partition
	// subjects. The message id is the event id, so JetStream drops a
	// publish that is retried.
	pub, err := wmnats.NewPublisher(wmnats.PublisherConfig{
		URL:       url,
		Marshaler: &wmnats.NATSMarshaler{},
		JetStream: wmnats.JetStreamConfig{TrackMsgId: true},
	}, logger)
	if err != nil {
		return err
	}
	defer pub.Close()
	publisher, err := events.NewPublisher(events.PublisherConfig{
		Publisher: pub,
		Topic:     events.PartitionedTopic(sp.prefix, partitions),
	})
	if err != nil {
		return err
	}
	store := events.NewMemoryStore()

	// The read side: one runner per partition, each with its own
	// connection and durable consumer, checkpointing as it goes.
	checkpoints := projections.NewMemoryCheckpoints()
	reporters := make([]*projections.Reporter, partitions)
	runners := make([]*projections.Runner, partitions)
	runCtx, stopRunners := context.WithCancel(ctx)
	defer stopRunners()
	var wg sync.WaitGroup
	errs := make(chan error, partitions)
	for p := range partitions {
		sub, durable, subject, err := subscribe(js, url, sp, p, logger)
		if err != nil {
			return err
		}
		defer sub.Close()
		reporters[p], err = projections.NewReporter(projections.ReportConfig{FCR: projections.FCRConfig{Window: 72 * time.Hour}})
		if err != nil {
			return err
		}
		runners[p], err = projections.NewRunner(projections.RunnerConfig{
			Name:        durable,
			Projection:  reporters[p],
			Subscriber:  sub,
			Topic:       subject,
			Checkpoints: checkpoints,
			Logger:      logger,
			// What the durable consumer still holds for the runner, for Lag.
			Pending: func(ctx context.Context) (int64, error) {
				info, err := js.ConsumerInfo(sp.stream, durable, nats.Context(ctx))
				if err != nil {
					return 0, err
				}
				return int64(info.NumPending) + int64(info.NumAckPending), nil
			},
		})
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := runners[p].Run(runCtx); err != nil {
				errs <- err
			}
		}()
	}

	// Simulated traffic, recorded through the Service. Identity is
	// resolved at the edge: the Service gives every opening the customer
	// id that a stand-in for the host's CRM knows for its keys, which
	// becomes the partition key. Like a CRM, which holds a customer's
	// phone and address before either calls, it knows every customer of
	// the log from the start: two keys first seen together on a later
	// opening are one customer here from the first contact. So its figures
	// can differ from fcrreport's over the same log without customer ids,
	// which learns that link only when that opening comes.
	traffic, _, err := simulate.Collect(simulate.Config{Seed: seed, Days: days})
	if err != nil {
		return err
	}
	svc, err := contact.NewService(contact.Config{Store: store, Publisher: publisher, Customers: simulate.NewCRM(traffic)})
	if err != nil {
		return err
	}
	started := time.Now()
	if err := record(ctx, svc, traffic); err != nil {
		return err
	}
	total := store.Len()
	fmt.Fprintf(progress, "recorded %d events through the Service in %s\n", total, time.Since(started).Round(time.Millisecond))

	// Wait until the partitions together have applied every event and the
	// broker holds none for them. The count alone could come early: a
	// runner counts what its FCR absorbed, and a redelivery of an issue the
	// FCR has folded is absorbed again.
	pending := make([]int64, partitions)
	for {
		applied := int64(0)
		for _, r := range runners {
			applied += r.Stats().Applied
		}
		if applied >= int64(total) {
			waiting := int64(0)
			for p, r := range runners {
				lag, err := r.Lag(ctx)
				if err != nil {
					return err
				}
				pending[p] = lag.Pending
				waiting += lag.Pending
			}
			if waiting == 0 {
				break
			}
		}
		select {
		case err := <-errs:
			return err
		case <-ctx.Done():
			return fmt.Errorf("runners applied %d of %d events: %w", applied, total, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	fmt.Fprintf(progress, "runners applied every event %s after the first was recorded\n", time.Since(started).Round(time.Millisecond))
	stopRunners()
	wg.Wait()

	reports := make([]projections.Report, partitions)
	for p, r := range runners {
		st := r.Stats()
		fmt.Fprintf(progress, "partition %d: %5d events, %d duplicates, %d checkpoints, %d messages pending\n",
			p, st.Applied, st.Duplicates, st.Checkpoints, pending[p])
		reports[p] = reporters[p].Report()
	}
	merged, err := projections.MergeReports(reports...)
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(merged)
	}
	headline.Write(out, merged.FCR)
	writeKPIs(out, merged)
	return nil
}

// writeKPIs writes the headline of the merged report's other sections:
// the service level, satisfaction and volume of every partition's
// contacts together.
func writeKPIs(out io.Writer, r projections.Report) {
	s, sat, v := r.Service, r.Satisfaction.CSAT, r.Volume
	rate := func(x projections.Rate) string {
		if x.Total == 0 {
			return "–"
		}
		return fmt.Sprintf("%.1f %%", 100*x.Value)
	}
	fmt.Fprintf(out, "service level   %s within %s of %d offered; ASA %.0f s; abandoned %s\n",
		rate(s.ServiceLevel), time.Duration(s.Definition.ThresholdS*float64(time.Second)), s.Offered, s.ASA, rate(s.Abandonment))
	fmt.Fprintf(out, "CSAT            %.2f of 5 over %d answers; top-2 box %s\n", sat.Mean, sat.Responses, rate(sat.Top2Box))
	fmt.Fprintf(out, "volume          %d contacts on %d issues; %d open at the end\n", v.Contacts, v.Issues, v.Backlog.Open)
}

// record turns the simulated log into the commands a helpdesk would send.
func record(ctx context.Context, svc *contact.Service, traffic []events.Envelope) error {
	for i, e := range traffic {
		cmd, err := contact.CommandOf(e)
		if err != nil {
			return fmt.Errorf("event %d of the simulated log: %w", i+1, err)
		}
		if _, err := svc.Execute(ctx, e.Issue, cmd); err != nil {
			return err
		}
	}
	return nil
}

// subscribe makes the durable consumer of partition p of sp, unless it is there
// already (a restart), and returns a subscriber bound to it, with the
// consumer's name and the partition's subject. The consumer is made here,
// not by the subscription: one that a subscription made is deleted when
// the subscription ends, and a restarted runner would read the stream
// again from its start.
func subscribe(js nats.JetStreamContext, url string, sp space, p int, logger watermill.LoggerAdapter) (*natssub.Subscriber, string, string, error) {
	durable, subject := "fcr-"+strconv.Itoa(p), fmt.Sprintf("%s.%d", sp.prefix, p)
	_, err := js.ConsumerInfo(sp.stream, durable)
	if errors.Is(err, nats.ErrConsumerNotFound) {
		_, err = js.AddConsumer(sp.stream, &nats.ConsumerConfig{
			Durable: durable, DeliverSubject: nats.NewInbox(), FilterSubject: subject,
			AckPolicy: nats.AckExplicitPolicy, DeliverPolicy: nats.DeliverAllPolicy,
		})
	}
	if err != nil {
		return nil, "", "", fmt.Errorf("consumer %s: %w", durable, err)
	}
	// natssub is watermill-nats's subscriber with subscriptions that end
	// safely: watermill-nats alone can die with "send on closed channel"
	// when a runner stops while messages flow.
	sub, err := natssub.NewSubscriber(wmnats.SubscriberConfig{
		URL:         url,
		Unmarshaler: &wmnats.NATSMarshaler{},
		JetStream: wmnats.JetStreamConfig{
			// A lost ack means a redelivery, which the FCR skips.
			AckAsync: true,
			// ManualAck: nats.go acknowledges a message once its
			// callback returns, unless told not to; Watermill's returns
			// without acknowledging a message it dropped because its
			// subscription ended (a runner that stops), which must come
			// again, not count as done.
			SubscribeOptions:  []nats.SubOpt{nats.Bind(sp.stream, durable), nats.AckExplicit(), nats.ManualAck()},
			DurablePrefix:     durable,
			DurableCalculator: func(prefix, _ string) string { return prefix },
		},
	}, logger)
	if err != nil {
		return nil, "", "", err
	}
	return sub, durable, subject, nil
}
