package contact

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/internal/text"
)

// Publisher hands appended events on, to a transport or an in-process
// projection. It is called after the append has committed.
type Publisher interface {
	Publish(ctx context.Context, evs []events.Envelope) error
}

// PublisherFunc adapts a function to a Publisher.
type PublisherFunc func(ctx context.Context, evs []events.Envelope) error

// Publish returns f(ctx, evs).
func (f PublisherFunc) Publish(ctx context.Context, evs []events.Envelope) error { return f(ctx, evs) }

// CustomerResolver finds the stable id of the customer that owns a set of
// normalised identity keys, for instance in the host's CRM; "" when it
// knows none of them.
type CustomerResolver interface {
	ResolveCustomer(ctx context.Context, keys []string) (string, error)
}

// CustomerRecorder is a CustomerResolver that learns the customers of
// the openings written: the Service gives it a copy of the customer of
// each opening that an Open appended (as the event holds it: its id and
// normalised keys), once the append committed, so that it files what is
// stored and nothing of a command that failed; hostID says whether the
// customer's id was the Open's own rather than the resolver's (or none).
// An Open retried with its idempotency key gives it the recorded
// opening's customer again, with hostID false (the first run gave the
// host's id, which a link recorded since may have followed); so does
// only such a retry for an opening whose append's outcome was unknown
// (UnknownOutcomeError). So a host's id that the first run did not get
// recorded (ErrCustomerNotRecorded, or that unknown outcome) does not
// take its customer over through a retry, but through the customer's
// next opening that gives it.
type CustomerRecorder interface {
	CustomerResolver
	RecordCustomer(ctx context.Context, c events.Customer, hostID bool) error
}

// CustomerResolverFunc adapts a function to a CustomerResolver.
type CustomerResolverFunc func(ctx context.Context, keys []string) (string, error)

// ResolveCustomer returns f(ctx, keys).
func (f CustomerResolverFunc) ResolveCustomer(ctx context.Context, keys []string) (string, error) {
	return f(ctx, keys)
}

// DefaultRetries is how many times a command is decided again after losing
// a race for its issue, unless Config says otherwise: enough for ten
// commands on one issue at once, as a burst of webhooks about one ticket
// brings, to go through one after the other (the last of them may lose
// to each of the nine others).
const DefaultRetries = 9

// MaxClockSkew is how far the Clocks of the writers of one store may
// disagree without refusing commands: a command without a time of its own
// is stamped with the Clock's time, or, when the issue's latest event is
// later than that by at most MaxClockSkew, with that event's time. An
// issue's events cannot go back in time, and such a command, decided on a
// stream that holds that event, happens after it.
const MaxClockSkew = time.Second

// DefaultMaxFuture is how far after the Clock's time a command's own event
// time may be, unless Config says otherwise.
const DefaultMaxFuture = time.Hour

// Config configures a Service. Only Store is required.
type Config struct {
	// Store keeps the issues' streams.
	Store events.Store
	// Clock gives the event time of commands without one (see
	// MaxClockSkew); SystemClock by default.
	Clock Clock
	// MaxFuture is how far after the Clock's time a command's own event
	// time (its At) may be: 0 means DefaultMaxFuture, a negative value no
	// limit. An issue's events cannot go back in time, so one event
	// stamped in the future would have every later command that takes
	// the Clock's time refused until then.
	MaxFuture time.Duration
	// IDs makes new issue, contact and event ids; UUIDv7 by default.
	IDs IDGenerator
	// Keys normalises the identity keys of customers.
	Keys KeyRules
	// Retries is how many times a command is loaded and decided again when
	// another writer appended to its issue first: 0 means DefaultRetries,
	// a negative number none. Before each, the command waits a random
	// time, up to a millisecond that doubles with each retry up to 64 ms,
	// so that the writers that lost to one do not race again at once.
	Retries int
	// Publisher, when set, receives the events of every command after they
	// were appended.
	Publisher Publisher
	// Customers, when set, gives Open commands without a customer id the
	// stable id of the customer their keys belong to. It is asked once the
	// lifecycle accepted the Open, with a copy of the keys normalised
	// (the event's own are not the resolver's to change); its error
	// fails the Open, which appends nothing (the resolver's error, wrapped:
	// a *CommandError is the lifecycle's refusal). One that is a
	// CustomerRecorder is given the customer of every opening appended,
	// with a customer id or without.
	Customers CustomerResolver
}

func (c *Config) setDefaults() {
	if c.Clock == nil {
		c.Clock = SystemClock{}
	}
	if c.IDs == nil {
		c.IDs = UUIDv7{}
	}
	switch {
	case c.Retries == 0:
		c.Retries = DefaultRetries
	case c.Retries < 0:
		c.Retries = 0
	}
	if c.MaxFuture == 0 {
		c.MaxFuture = DefaultMaxFuture
	}
}

// Validate reports what keeps the configuration from working; the error
// wraps ErrInvalidConfig.
func (c Config) Validate() error {
	if c.Store == nil {
		return fmt.Errorf("contact service: no Store: %w", ErrInvalidConfig)
	}
	return c.Keys.Validate()
}

// Service runs commands end to end: it loads the issue's stream, rebuilds
// the Issue, decides, appends at the version it read, and publishes. It is
// safe for concurrent use.
type Service struct {
	cfg Config
}

// NewService returns a Service configured by cfg.
func NewService(cfg Config) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	return &Service{cfg: cfg}, nil
}

// Load returns the issue as its stream in the store tells it; an issue that
// was never opened has StatusNone.
func (s *Service) Load(ctx context.Context, issue uuid.UUID) (*Issue, error) {
	evs, err := s.cfg.Store.Load(ctx, issue)
	if err != nil {
		return nil, loadError(issue, err)
	}
	return Rebuild(issue, evs)
}

// loadError is err of the store's Load of issue, which names the issue
// once: the stores of this module name it already.
func loadError(issue uuid.UUID, err error) error {
	if strings.Contains(err.Error(), "load issue "+issue.String()) {
		return err
	}
	return fmt.Errorf("load issue %s: %w", issue, err)
}

// Execute runs cmd on the issue and returns the events it appended. An Open
// with issue uuid.Nil opens an issue with a new id.
//
// A command that loses a race for the issue (events.ErrVersionConflict) is
// loaded and decided again after a short random wait, up to
// Config.Retries times, and may then be refused. A refused command appends
// nothing and returns a *CommandError. One that lost every race it ran
// (Config.Retries allowed no more, or ctx ended while it waited to try
// again) returns an error that wraps events.ErrVersionConflict and says
// how many attempts it made.
// When the store cannot tell whether it appended the command's event
// (events.ErrOutcomeUnknown: the answer to its commit was lost), Execute
// looks for the event in the issue's stream: while ctx lasts, as it
// decides the command again as after a conflict, so that an event of an
// earlier attempt stored meanwhile is found then; once ctx is done or the
// retries are spent, in one more read of the stream with a context that
// outlives ctx by up to five seconds. Found, the command succeeded, and
// takes effect once. Only when neither tells is the error an
// *UnknownOutcomeError (it wraps events.ErrOutcomeUnknown): the command
// may have taken effect, and loading the issue later tells (a commit
// that the store had not finished may be visible only then).
// When the Publisher fails, the events stay appended: Execute returns them
// with an error that wraps ErrNotPublished and the Publisher's error; so
// when a CustomerRecorder (Config.Customers) fails to record an opening's
// customer, with ErrCustomerNotRecorded (the events are published all
// the same).
//
// A command run with an idempotency key (WithIdempotencyKey) that an event
// of the issue's stream carries already ran: Execute returns that event
// and publishes it again (projections ignore a delivery they applied, and
// a command whose first run failed to publish is then delivered), and
// decides nothing; also when this run lost a race to that one. So a
// webhook delivered twice, or a command retried after a timeout, takes
// effect once. The event must be one that the same command appended, with
// the same metadata of the host's (WithMeta): a key that names an event of
// another command, of another kind or of the same kind, refuses the
// command with ErrKeyReused. An Open with issue uuid.Nil and a key opens
// the issue IssueForKey(key), so that an Open run again finds its issue
// too. The key is looked for in the issue's stream only: a command with a
// key on another issue runs.
//
// Every event's Meta carries events.MetaPartitionKey (the customer's id, or
// else the least of their keys, as the issue's opening had it; none where
// the opening had none) and the correlation and causation ids and the
// idempotency key of ctx.
func (s *Service) Execute(ctx context.Context, issue uuid.UUID, cmd Command) ([]events.Envelope, error) {
	if missing := noCommand(cmd); missing != "" {
		return nil, &CommandError{Op: "execute", Issue: issue, Reason: missing, Err: ErrInvalidCommand}
	}
	r := &run{cmd: cmd, issue: issue, key: IdempotencyKey(ctx)}
	r.trimmedKey = text.Trim(r.key)
	if r.key != "" {
		if problem := keyProblem(r.key); problem != "" {
			refused := &CommandError{Op: cmd.Op(), Issue: issue, Reason: problem, Err: ErrInvalidCommand}
			if !earlierKey(r.key) {
				return nil, refused
			}
			// Builds before this one took the key: a retry of the
			// command that such a build recorded with it returns its
			// event, as it did there; any other run is refused.
			r.refused = refused
		}
		if isOpen(cmd) && issue == uuid.Nil {
			// The issue the Open opens, which its refusals name.
			issue = IssueForKey(r.key)
			r.issue = issue
		}
	}
	if err := s.checkFuture(issue, cmd); err != nil {
		return nil, err // before an issue id is made at random or the resolver asked
	}
	host := hostMeta(ctx)
	if problem := metaProblem(host); problem != "" {
		return nil, &CommandError{Op: cmd.Op(), Issue: issue, Reason: problem, Err: ErrInvalidCommand}
	}
	for _, id := range [...]struct{ what, v string }{{"correlation id", CorrelationID(ctx)}, {"causation id", CausationID(ctx)}} {
		if problem := printable(id.what, id.v); id.v != "" && problem != "" {
			return nil, &CommandError{Op: cmd.Op(), Issue: issue, Reason: problem, Err: ErrInvalidCommand}
		}
	}
	if r.key != "" {
		r.fp, r.host, r.rules = fingerprint(cmd, host, s.cfg.Keys), host, s.cfg.Keys
	}
	if !isOpen(cmd) && issue == uuid.Nil {
		// Said so, rather than that the issue was never opened.
		return nil, &CommandError{Op: cmd.Op(), Issue: issue, Reason: "no issue id", Err: ErrUnknownIssue}
	}
	if isOpen(cmd) && issue == uuid.Nil {
		var err error
		if r.issue, err = s.cfg.IDs.NewID(); err != nil {
			return nil, fmt.Errorf("open issue: new issue id: %w", err)
		}
		r.minted = true
	}
	var unknown error // the error of the first append that may have been stored
	lost := false     // an attempt lost a race, perhaps to another run of the command
	for attempt := 0; ; attempt++ {
		evs, id, err := s.attempt(ctx, r)
		if errors.Is(err, events.ErrOutcomeUnknown) {
			r.sent = append(r.sent, id)
			unknown = cmp.Or(unknown, err)
		}
		conflict := errors.Is(err, events.ErrVersionConflict)
		lost = lost || conflict
		again := conflict || errors.Is(err, events.ErrOutcomeUnknown) && ctx.Err() == nil
		if again && attempt < s.cfg.Retries {
			if !conflict || backOff(ctx, attempt) {
				continue // the next attempt's load looks for the events of sent
			}
			err = fmt.Errorf("%w (after %s; while waiting to retry: %w)", err, attempts(attempt+1), ctx.Err())
		} else if conflict {
			// Said so, that a host tells it from a single lost race.
			err = fmt.Errorf("%w: gave up after %s, the last of which lost the race for the issue to another writer (Config.Retries)", err, attempts(attempt+1))
		}
		if err != nil && (r.sent != nil || lost && r.key != "") {
			// An event of this attempt or an earlier one may be stored
			// all the same (and then made this one conflict), or one of
			// another run of the command beat this one: look.
			if stored, ok, serr := s.stored(ctx, r); ok {
				evs, err = stored, serr
			}
		}
		if err != nil {
			return nil, failed(r, unknown, err)
		}
		recorded := s.record(ctx, r, evs)
		if s.cfg.Publisher != nil {
			if err := s.cfg.Publisher.Publish(ctx, evs); err != nil {
				err = fmt.Errorf("%s issue %s: %w: %w", cmd.Op(), r.issue, ErrNotPublished, err)
				if recorded != nil {
					err = fmt.Errorf("%w; and %w", err, recorded)
				}
				return evs, err
			}
		}
		if recorded != nil {
			return evs, fmt.Errorf("%s issue %s: %w", cmd.Op(), r.issue, recorded)
		}
		return evs, nil
	}
}

// record gives the CustomerRecorder, if Config.Customers is one, the
// customer of the opening among evs, which were appended; its error wraps
// ErrCustomerNotRecorded.
func (s *Service) record(ctx context.Context, r *run, evs []events.Envelope) error {
	rec, ok := s.cfg.Customers.(CustomerRecorder)
	if !ok {
		return nil
	}
	// The host's id of an opening replayed is as stale as a resolver's:
	// a link recorded since the first run stands.
	o, _ := openOf(r.cmd)
	hostID := text.Trim(o.Customer.ID) != "" && !r.replayed
	for _, e := range evs {
		if o, ok := e.Data.(*events.Opened); ok {
			// A copy: the event's own are not the recorder's to change.
			c := events.Customer{ID: o.Customer.ID, Keys: slices.Clone(o.Customer.Keys), Extra: cloneExtra(o.Customer.Extra)}
			if err := rec.RecordCustomer(ctx, c, hostID); err != nil {
				return fmt.Errorf("%w: %w", ErrCustomerNotRecorded, err)
			}
		}
	}
	return nil
}

// attempts returns "1 attempt" or "n attempts".
func attempts(n int) string {
	if n == 1 {
		return "1 attempt"
	}
	return fmt.Sprintf("%d attempts", n)
}

// run is one Execute of a command: its issue, and what its attempts left.
type run struct {
	cmd    Command
	issue  uuid.UUID
	minted bool   // the Service chose the issue's id at random
	key    string // the idempotency key, "" for none
	// trimmedKey is key without padding that shows as nothing (sameKey).
	trimmedKey string
	fp         string      // the command's fingerprint, with a key
	host       events.Meta // the host's metadata and the key rules, for the
	rules      KeyRules    // fingerprints of older versions (sameCommand)
	sent       []uuid.UUID // events whose append may have been stored
	// refused refuses a run that no earlier run recorded, for its key
	// (earlierKey).
	refused *CommandError
	// replayed: the events are those of an earlier run of the command,
	// found by its idempotency key.
	replayed bool
}

// ran returns the event of evs that the command appended already, in an
// earlier attempt (an event of sent) or an earlier run with its key; an
// event that carries its key but was appended by another command refuses
// the command.
func (r *run) ran(evs []events.Envelope) ([]events.Envelope, bool, error) {
	if stored, ok := find(evs, r.sent); ok {
		return stored, true, nil
	}
	if r.key == "" {
		return nil, false, nil
	}
	stored, ok, err := keyed(evs, r)
	r.replayed = ok && err == nil
	return stored, ok, err
}

// backOff waits before the retry that follows attempt, which lost a race
// for its issue: a random time up to 1 ms, doubling with each attempt up
// to 64 ms, so that writers that lost to the same one do not all load and
// race again at once. It reports false when ctx ended, before or during
// the wait.
func backOff(ctx context.Context, attempt int) bool {
	if ctx.Err() != nil {
		return false
	}
	limit := time.Millisecond << min(attempt, 6)
	t := time.NewTimer(rand.N(limit))
	defer t.Stop()
	select {
	case <-t.C:
		return ctx.Err() == nil
	case <-ctx.Done():
		return false
	}
}

// checkFuture refuses cmd when its own event time is more than MaxFuture
// after the Clock's time.
func (s *Service) checkFuture(issue uuid.UUID, cmd Command) error {
	at := cmd.eventTime()
	if at.IsZero() || s.cfg.MaxFuture < 0 {
		return nil
	}
	if now := s.cfg.Clock.Now(); !now.IsZero() && at.Sub(now) > s.cfg.MaxFuture {
		return &CommandError{Op: cmd.Op(), Issue: issue, Err: ErrInvalidCommand,
			Reason: fmt.Sprintf("event time %s is more than %s after the clock's time, %s (Config.MaxFuture)", stamp(at), s.cfg.MaxFuture, stamp(now))}
	}
	return nil
}

// failed returns the error of r, which failed with err: an
// *UnknownOutcomeError when an attempt's event may have been stored
// (unknown is the error of the first such attempt, r.sent their events);
// err itself otherwise (attempt names no issue in the errors of an
// opening whose id the Service chose).
func failed(r *run, unknown, err error) error {
	if unknown != nil {
		if !errors.Is(err, events.ErrOutcomeUnknown) {
			err = fmt.Errorf("%w; and before that: %w", err, unknown)
		}
		return &UnknownOutcomeError{Op: r.cmd.Op(), Issue: r.issue, Events: r.sent, Err: err}
	}
	return err
}

// stored is r.ran on the stream of r's issue, read with a context that
// outlives ctx for a while: the store may have failed at ctx's deadline.
func (s *Service) stored(ctx context.Context, r *run) ([]events.Envelope, bool, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	evs, err := s.cfg.Store.Load(ctx, r.issue)
	if err != nil {
		return nil, false, nil
	}
	return r.ran(evs)
}

// find returns the event of evs whose id is in sent, if any.
func find(evs []events.Envelope, sent []uuid.UUID) ([]events.Envelope, bool) {
	for i := len(evs) - 1; i >= 0; i-- {
		if slices.Contains(sent, evs[i].ID) {
			return evs[i : i+1 : i+1], true
		}
	}
	return nil, false
}

// attempt loads, decides and appends r's command once, and returns the id
// of the event it tried to append. When the stream holds the command's
// event already (r.ran), it returns that event: the command took effect.
func (s *Service) attempt(ctx context.Context, r *run) ([]events.Envelope, uuid.UUID, error) {
	cmd, issue := r.cmd, r.issue
	// An opening whose id the Service chose opens nothing unless it is
	// appended: its errors name no issue, Decide's included.
	named := issue
	if r.minted {
		named = uuid.Nil
	}
	evs, err := s.cfg.Store.Load(ctx, issue)
	if err != nil {
		if r.minted {
			return nil, uuid.Nil, fmt.Errorf("%s: load its new stream: %w", subject(cmd.Op(), named), err)
		}
		return nil, uuid.Nil, loadError(issue, err)
	}
	if stored, ok, err := r.ran(evs); ok {
		return stored, uuid.Nil, err
	}
	if r.refused != nil {
		return nil, uuid.Nil, r.refused
	}
	is, err := Rebuild(issue, evs)
	if err != nil {
		return nil, uuid.Nil, err
	}
	is.ID = named
	at := cmd.eventTime()
	clocked := at.IsZero() // the time is the Clock's
	if clocked {
		at = s.cfg.Clock.Now()
		if ahead := is.LastAt.Sub(at); ahead > 0 && ahead <= MaxClockSkew {
			// Another writer's clock runs ahead of this one's: the
			// command, decided on a stream that holds that writer's
			// event, happens after it.
			at = is.LastAt
		}
	}
	data, err := Decide(is, cmd, at, s.cfg.IDs, s.cfg.Keys)
	if err != nil {
		var ce *CommandError
		if clocked && at.Before(is.LastAt) && errors.As(err, &ce) && errors.Is(ce, ErrOutOfOrder) {
			ce.Reason += fmt.Sprintf(": that time is the Clock's, %s behind, more than MaxClockSkew (another writer's clock runs ahead, or an event was stamped in the future)",
				is.LastAt.Sub(at))
		}
		return nil, uuid.Nil, err
	}
	if err := s.resolveCustomer(ctx, named, data); err != nil {
		return nil, uuid.Nil, err
	}
	id, err := s.cfg.IDs.NewID()
	if err != nil {
		return nil, uuid.Nil, fmt.Errorf("%s: new event id: %w", subject(cmd.Op(), named), err)
	}
	// An issue's events keep the partition key of its opening, whatever
	// the rule that chose it; those of an issue whose opening had none
	// (one imported) have none either, so that all of them go by the
	// issue id (events.PartitionKey).
	key := is.PartitionKey
	if o, ok := data.(*events.Opened); ok {
		key = PartitionKey(o.Customer)
	}
	env, err := asStored(events.Envelope{
		ID:      id,
		Issue:   issue,
		Version: is.Version + 1,
		At:      at.UTC(),
		Data:    data,
		Meta:    meta(ctx, key, r.fp),
	})
	if err != nil {
		return nil, id, fmt.Errorf("%s: %w", subject(cmd.Op(), named), err)
	}
	out, err := s.cfg.Store.Append(ctx, issue, is.Version, []events.Envelope{env})
	if err != nil {
		return nil, id, fmt.Errorf("%s: %w", subject(cmd.Op(), named), err)
	}
	return out, id, nil
}

// subject names the issue of command op in an error, as CommandError
// does: "resolve issue <id>", or "open issue" where id is uuid.Nil (an
// opening whose id the Service chose, which opened nothing).
func subject(op string, id uuid.UUID) string {
	if id == uuid.Nil {
		return op + " issue"
	}
	return fmt.Sprintf("%s issue %s", op, id)
}

// storedForm encodes and decodes the events the Service appends.
var storedForm = events.NewMsgpackCodec(nil)

// asStored returns e as a store gives it back, encoded and decoded: the
// event that the Service appends, returns and publishes is the one that
// Load returns, and that a retry with the command's idempotency key
// returns, down to its representation (a customer's extra numbers as
// json.Number, no keys as nil), with the msgpack codec and the JSON codec
// alike: msgpack's form is one that JSON writes and reads back unchanged.
func asStored(e events.Envelope) (events.Envelope, error) {
	b, err := storedForm.Append(nil, e)
	if err != nil {
		return e, err
	}
	return storedForm.Decode(b)
}

// resolveCustomer gives the customer of an opening without a customer id
// the id that the CustomerResolver knows for its keys, which Decide
// normalised; its errors name issue (uuid.Nil for none: an opening whose
// id the Service chose). The CRM is asked only once the Open was
// accepted, and is given a copy of the keys: the event's own stay as
// they are, whatever the resolver does with its argument.
func (s *Service) resolveCustomer(ctx context.Context, issue uuid.UUID, data events.Data) error {
	o, ok := data.(*events.Opened)
	if !ok || s.cfg.Customers == nil || o.Customer.ID != "" {
		return nil
	}
	id, err := s.cfg.Customers.ResolveCustomer(ctx, slices.Clone(o.Customer.Keys))
	if err != nil {
		return fmt.Errorf("%s: resolve customer %v: %w", subject("open", issue), o.Customer.Keys, err)
	}
	o.Customer.ID = text.Trim(id)
	if problem := printable("customer id", o.Customer.ID); problem != "" {
		return &CommandError{Op: "open", Issue: issue, Err: ErrInvalidCommand, Reason: "the customer resolver gave a " + problem}
	}
	return nil
}

// isOpen reports whether cmd is an Open.
func isOpen(cmd Command) bool {
	_, ok := openOf(cmd)
	return ok
}

// openOf returns cmd as an Open, given by value or by pointer, and
// whether it is one.
func openOf(cmd Command) (Open, bool) {
	switch o := cmd.(type) {
	case Open:
		return o, true
	case *Open:
		if o != nil {
			return *o, true
		}
	}
	return Open{}, false
}

// PartitionKey returns the partition key (events.MetaPartitionKey) that
// the Service stamps on the events of an issue opened for customer c: the
// customer's stable id, or else the least of their keys, so that the same
// keys given in another order give the same key; "" for none. An import
// that writes events itself stamps every event of an issue with the key
// of its opening, the keys normalised first (KeyRules.NormalizeAll).
func PartitionKey(c events.Customer) string {
	if c.ID != "" {
		return c.ID
	}
	if len(c.Keys) > 0 {
		return slices.Min(c.Keys)
	}
	return ""
}

// Open opens a new issue and returns its id and events. It returns the id
// with an *UnknownOutcomeError too, where the issue may have been opened.
func (s *Service) Open(ctx context.Context, cmd Open) (uuid.UUID, []events.Envelope, error) {
	evs, err := s.Execute(ctx, uuid.Nil, cmd)
	if uo := (*UnknownOutcomeError)(nil); errors.As(err, &uo) {
		return uo.Issue, nil, err
	}
	if len(evs) == 0 {
		return uuid.Nil, nil, err
	}
	return evs[0].Issue, evs, err
}

// Route routes a contact of the issue to a queue and an agent.
func (s *Service) Route(ctx context.Context, issue uuid.UUID, cmd Route) ([]events.Envelope, error) {
	return s.Execute(ctx, issue, cmd)
}

// Consult records a consultation during a contact of the issue.
func (s *Service) Consult(ctx context.Context, issue uuid.UUID, cmd Consult) ([]events.Envelope, error) {
	return s.Execute(ctx, issue, cmd)
}

// Resolve resolves the issue.
func (s *Service) Resolve(ctx context.Context, issue uuid.UUID, cmd Resolve) ([]events.Envelope, error) {
	return s.Execute(ctx, issue, cmd)
}

// Reopen reopens a resolved issue on a new contact.
func (s *Service) Reopen(ctx context.Context, issue uuid.UUID, cmd Reopen) ([]events.Envelope, error) {
	return s.Execute(ctx, issue, cmd)
}

// FollowUp records a further contact on an open issue.
func (s *Service) FollowUp(ctx context.Context, issue uuid.UUID, cmd FollowUp) ([]events.Envelope, error) {
	return s.Execute(ctx, issue, cmd)
}

// Reply records that the customer came back about the issue: a follow-up
// while it is open, a reopen once it is resolved.
func (s *Service) Reply(ctx context.Context, issue uuid.UUID, cmd Reply) ([]events.Envelope, error) {
	return s.Execute(ctx, issue, cmd)
}

// Abandon records a contact of the issue abandoned in the queue.
func (s *Service) Abandon(ctx context.Context, issue uuid.UUID, cmd Abandon) ([]events.Envelope, error) {
	return s.Execute(ctx, issue, cmd)
}

// Rate records a survey answer about the issue.
func (s *Service) Rate(ctx context.Context, issue uuid.UUID, cmd Rate) ([]events.Envelope, error) {
	return s.Execute(ctx, issue, cmd)
}

// Classify sets the issue's topics.
func (s *Service) Classify(ctx context.Context, issue uuid.UUID, cmd Classify) ([]events.Envelope, error) {
	return s.Execute(ctx, issue, cmd)
}
