// Package contact is the write side of the contact lifecycle: identity
// keys, the Issue aggregate, the commands that change an issue, and the
// Service that runs them against an events.Store.
//
// # Issues and commands
//
// An Issue is one customer problem, rebuilt from its stream of events with
// Rebuild or Issue.Apply. A Command (Open, Route, Consult, Resolve, Reopen,
// FollowUp, Reply, Abandon, Rate, Classify) is checked against the issue
// as it stands and yields one event, or is refused with a *CommandError
// that names the operation, the issue and the reason, and wraps a
// sentinel (Reply is a follow-up or a reopen, as the issue stands: the
// command for a host that hears of a customer's message):
//
//	resolve issue 0193…: already resolved at 2026-03-02T09:20:00Z
//
// errors.Is(err, contact.ErrAlreadyResolved) is how a caller tells refusals
// apart. A refused command appends nothing. Names, identity keys, the
// host's metadata and the correlation and causation ids are printable
// UTF-8 text of at most MaxText bytes, and a customer's other fields take
// at most MaxExtra bytes (see Command), so that every event can be read
// back and exported as JSON Lines.
//
// # Identity keys
//
// Customers are known by keys "kind:value". KeyRules normalises them:
// phone numbers to E.164 with a configurable default country, email
// addresses lower-cased, every value trimmed (of spaces, and of the
// characters that show as nothing, such as a byte-order mark or a
// zero-width space, which exports leave in text). Open normalises the keys of
// its customer, so that the same person is one set of keys on every event.
// The built-in phone rules know the trunk prefixes of a few countries;
// KeyRules.Phone takes a normaliser with every country's numbering plan,
// such as contact/phonenumber's.
//
// # The Service
//
// Service.Execute, and the typed methods Open, Route, Resolve… that wrap
// it, load the stream, decide, and append at the version read. A
// command that loses a race to another writer is decided again on the new
// state, a bounded number of times. The appended events go to an optional
// Publisher; when it fails, the events stay appended and the error says so.
//
// Every event carries events.MetaPartitionKey: the customer's stable id, or
// the least of their keys when the issue was opened without one (so that
// the same keys in another order give the same key), as the issue's
// opening gave it to the later events; those of an issue whose
// opening had none (an imported one) have none, and go by the issue id.
// Transports partition by it so that one customer's contacts meet in one projection
// instance. The least key is stable only while a customer gives the same
// keys: one who opened an issue with a phone number and an email address
// (the least key is the email) and later calls with the phone alone goes
// out under the phone, though the first opening linked the two. Nor does
// an identity link move events already partitioned by another key. Either
// way the instances that hold the customer's issues never meet, and a
// repeat contact across them goes undetected. Where events are
// partitioned, set a CustomerResolver (a CRM, or contact/pgcustomers, a
// table of the keys of the openings written) to give the issues of a
// customer one partition key. Correlation and causation ids travel in the context
// (WithCorrelationID, WithCausationID), and so do an idempotency key
// (WithIdempotencyKey), with which a command run twice (a webhook
// redelivered, a retry after a timeout) takes effect once, and metadata
// of the host's, such as the tenant (WithMeta).
//
// Time and ids are injected (Clock, IDGenerator), so that tests and
// replays are deterministic; package contacttest has a test clock, a
// sequential id generator and given-when-then helpers.
package contact
