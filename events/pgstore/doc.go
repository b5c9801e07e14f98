// Package pgstore is the durable events.Store in PostgreSQL, with an
// optional transactional outbox that hands every appended event to
// Watermill.
//
//	pool, _ := pgxpool.New(ctx, dsn)
//	store, err := pgstore.New(ctx, pool, pgstore.Config{Schema: "helpdesk"})
//
// # Tables
//
// New creates the tables on first use and migrates older ones; it refuses
// tables of a newer SchemaVersion. Events live in one table (by default
// public.truefcr_events) with the encoded envelope as bytea (msgpack by
// default) beside the columns that find and order them; <table>_streams
// holds each issue's current version, and <table>_head the last position
// handed out.
//
// # Concurrency and order
//
// An append moves its stream's row in <table>_streams from the expected
// version to the new one on condition, so the database itself refuses a
// writer that lost a race (*events.VersionConflictError, never a driver
// error). An append whose COMMIT was sent and whose answer was lost (the
// connection broke, its context ended, the server shut down at that
// moment) looks on another connection for its first event and, while it
// is not there, waits until its transaction has ended (txid_status, which
// needs the EXECUTE that PostgreSQL grants to everyone on it and on
// txid_current; an id the server no longer knows, taken back by a crash,
// has ended) and looks again, for up to five seconds even once its
// context is done: stored, the append succeeds; not, it fails and stored
// nothing. Only when the server cannot
// tell within that time (it cannot be reached, the transaction still runs)
// does the error wrap events.ErrOutcomeUnknown; any other error means that
// nothing was stored. Appends run at read committed whatever the server's default
// isolation, which is what lets a writer that waited for another's lock
// see its row rather than fail to serialise; so do New and NewForwarder
// as they create the tables, so that processes that start at once each
// see the tables the first made. It then takes the next positions from the <table>_head row and
// keeps that row locked until it commits: appends therefore commit in
// position order, positions have no gaps, and a reader that resumes
// ReadAll after the last position it saw never skips an event that a
// slower transaction commits later. The price is that the inserts (the
// outbox's too, whose messages carry the positions) and the commits of
// concurrent appends run one at a time. Two things amortise
// it: concurrent appends to one stream each share a transaction (group
// commit, Config.MaxGroup), each still succeeding or failing on its own,
// and AppendBatch writes many streams in one transaction.
// Ordering by transaction id instead, as Watermill's SQL subscriber does,
// would let appends commit in parallel, but ReadAll would then hide a
// committed event until every older transaction on the server ended,
// which the events.Store contract does not allow.
//
// # Outbox
//
// With Config.Outbox, every append also writes one Watermill message per
// event (events.NewMessage: the message UUID is the event id) into
// <table>_outbox, in the same transaction, enveloped for Watermill's
// forwarder with its destination topic. NewForwarder reads that table and
// publishes each message to any message.Publisher, so an event that was
// committed reaches the broker even if the process dies right after the
// commit; it may arrive twice, under the same UUID, never not at all.
// Each message carries its event's position (events.MetadataPosition),
// so that a projections.Runner that also reads this store passes over
// the messages of events it has read from the store already (a broker's
// backlog after a restart) rather than counting them again as late.
// The outbox is forwarded in order: a message the publisher keeps
// refusing holds back the later ones until ForwarderConfig.Middlewares
// (a poison queue around a retry) set it aside. A store without
// Config.Outbox on tables that have an outbox reads them and refuses to
// append, whether the outbox was there when it opened or another process
// added it since: its events would never be forwarded.
//
// Heavy dependencies (pgx, watermill-sql) live in this package only: the
// core packages never import it.
package pgstore
