package pgstore

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/truefcr/truefcr/events"
	"github.com/truefcr/truefcr/internal/pglock"
)

// unit is one call's append: its batches go in together or not at all.
type unit struct {
	batches []Batch
	cols    *columns

	out [][]events.Envelope // the result: the batches' events with positions
	err error
}

// commit appends units in one transaction. A unit whose stream is not at
// the expected version fails with a *events.VersionConflictError and the
// others go on; only units of one batch are committed together, so a
// failed unit has changed nothing. When the transaction of several units
// fails as a whole before it commits (a constraint that one unit's event
// breaks, a connection lost), each unit is committed again on its own, so
// that it fails for its own reasons only. When the outcome of the COMMIT
// is unknown (the connection failed after it was sent, perhaps after the
// server committed), every unit gets that error: committing again would
// find the streams moved, and report a conflict for events that may well
// be stored.
func (s *Store) commit(ctx context.Context, units []*unit) {
	err := s.commitTx(ctx, units)
	if err == nil {
		return
	}
	if len(units) > 1 && ctx.Err() == nil && retryAlone(err) && !errors.Is(err, ErrInvalidConfig) {
		for _, u := range units {
			u.err = nil
			if err := s.commitTx(ctx, []*unit{u}); err != nil {
				u.err = s.fail(ctx, u.batches, err)
			}
		}
		return
	}
	// A conflict found in a transaction that did not commit may be one
	// with another unit of it, which did not happen: such a unit gets the
	// transaction's error, as do the others. A conflict on a stream that
	// no other unit claimed is one with another writer, and stands.
	claims := make(map[uuid.UUID]int) // how many claims each stream had
	for _, u := range units {
		for _, b := range u.batches {
			claims[b.Issue]++
		}
	}
	for _, u := range units {
		var conflict *events.VersionConflictError
		if errors.As(u.err, &conflict) && claims[conflict.Issue] == 1 {
			continue
		}
		u.err = s.fail(ctx, u.batches, err)
	}
}

// commitUnknown is the error of a COMMIT that was sent: unless the
// database refused it (refused), it may have committed.
type commitUnknown struct{ err error }

func (e *commitUnknown) Error() string { return e.err.Error() }
func (e *commitUnknown) Unwrap() error { return e.err }

// retryAlone reports whether the units of a transaction that failed with
// err may each be committed again: nothing was committed, as the error
// came before the COMMIT or the database refused the COMMIT.
func retryAlone(err error) bool {
	var unknown *commitUnknown
	return !errors.As(err, &unknown) || refused(unknown.err)
}

// refused reports whether err, the error of a COMMIT, says that the
// database did not commit: it answered with an ERROR, the transaction had
// failed, or the request never left.
func refused(err error) bool {
	// An ERROR ends the transaction without committing it; a FATAL one
	// (a server shutting down while it waits for a standby, say) may come
	// after the commit.
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return cmp.Or(pgErr.SeverityUnlocalized, pgErr.Severity) == "ERROR"
	}
	return errors.Is(err, pgx.ErrTxCommitRollback) || pgconn.SafeToRetry(err)
}

// commitTx is commit in one transaction: it returns the error that failed
// the transaction as a whole, if any, and sets the error of each unit that
// lost a race.
func (s *Store) commitTx(ctx context.Context, units []*unit) error {
	// Read committed whatever the server's default: a guarded update that
	// waited for another writer's lock then sees that writer's row, where
	// repeatable read and serializable fail with a serialization error
	// (appends to other streams too, as all move the head row).
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }() // a no-op after Commit

	if err := s.claimStreams(ctx, tx, units); err != nil {
		return err
	}
	var won []*unit
	for _, u := range units {
		if u.err == nil {
			won = append(won, u)
		}
	}
	if len(won) == 0 {
		return nil
	}
	cols := concat(won)
	// Positions are allocated last, right before the events' insert, to
	// hold the head row's lock (which orders all appends) as briefly as
	// possible. The outbox's insert, whose messages carry the positions,
	// comes after them, inside that window: with an outbox, appends of a
	// transaction each (MaxGroup 1) run about a quarter slower; grouped,
	// no slower.
	var head, xid int64
	if err := tx.QueryRow(ctx, s.q.head, cols.n).Scan(&head, &xid); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			// The tables' creation wrote it; something deleted it since.
			return fmt.Errorf("the row of %s is missing, which holds the last position given (that of the last event of %s): %w",
				s.t.head, s.t.events, err)
		}
		return err
	}
	for i := range cols.positions {
		cols.positions[i] = head - int64(cols.n) + int64(i) + 1
	}
	args := []any{cols.positions, cols.ids, cols.issues, cols.versions, cols.types, cols.ats, cols.payloads}
	if s.cfg.Outbox == nil {
		args = append(args, s.t.outbox, outboxColumns)
	}
	tag, err := tx.Exec(ctx, s.q.insert, args...)
	if err != nil {
		return err
	}
	if tag.RowsAffected() != int64(cols.n) {
		// Another process added an outbox since the store opened.
		s.foreignOutbox.Store(true)
		return s.errForeignOutbox()
	}
	if len(cols.msgs) > 0 {
		// A runner that reads this store passes over a message whose
		// event it has read from the store already.
		for i, msg := range cols.msgs {
			msg.Metadata.Set(events.MetadataPosition, strconv.FormatInt(cols.positions[i], 10))
		}
		if err := s.publishOutbox(ctx, tx, cols.msgs, cols.topics); err != nil {
			return err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		// Any error before it left nothing committed. When the COMMIT
		// was sent and its answer lost, the server tells how the
		// transaction ended.
		if refused(err) {
			return &commitUnknown{err}
		}
		switch s.outcome(ctx, xid, cols.issues[0].Bytes, uint64(cols.versions[0]), cols.ids[0].Bytes) {
		case "aborted":
			return fmt.Errorf("commit (the transaction was rolled back): %w", err)
		case "committed":
		default:
			return &commitUnknown{err}
		}
	}

	k := 0
	for _, u := range won {
		u.out = make([][]events.Envelope, len(u.batches))
		for i, b := range u.batches {
			u.out[i] = make([]events.Envelope, len(b.Events))
			for j, e := range b.Events {
				e.Position = uint64(cols.positions[k])
				u.out[i][j] = e
				k++
			}
		}
	}
	return nil
}

// How long outcome asks the server how a transaction whose COMMIT's
// answer was lost ended, and how often.
const (
	outcomeWait      = 5 * time.Second
	outcomeFirstPoll = 2 * time.Millisecond
	outcomeMaxPoll   = 100 * time.Millisecond
)

// outcome asks the server, on another connection, how the transaction
// xid, which appended the event id at version of issue, ended: "committed"
// or "aborted"; "" when it cannot tell within outcomeWait, even once ctx is
// done (the server cannot be reached, or the transaction is still in
// progress: a backend that has not yet noticed that its connection is
// gone finishes the COMMIT it received first, or aborts; a synchronous
// standby has not answered). txid_status says only when the transaction
// ended: a server that crashed before it wrote the transaction's id to its
// log hands the id out again, and the status is then another
// transaction's. Whether the event is stored says how it ended.
func (s *Store) outcome(ctx context.Context, xid int64, issue uuid.UUID, version uint64, id uuid.UUID) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), outcomeWait)
	defer cancel()
	// stored reports whether the event is the append's own, and whether
	// the question was answered.
	stored := func() (bool, bool) {
		var got pgtype.UUID
		err := s.pool.QueryRow(ctx, s.q.eventID, pgUUID(issue), int64(version)).Scan(&got)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return false, false
		}
		return err == nil && got.Bytes == id, true
	}
	for wait := outcomeFirstPoll; ; wait = min(2*wait, outcomeMaxPoll) {
		if ours, ok := stored(); ours {
			return "committed"
		} else if ok {
			var status *string
			err := s.pool.QueryRow(ctx, s.q.status, xid).Scan(&status)
			var pgErr *pgconn.PgError
			switch {
			case errors.As(err, &pgErr) && pgErr.Code == "22023":
				// "in the future": the server crashed before it logged
				// the id, and has not handed it out again yet.
				return "aborted"
			case err == nil && status == nil:
				return "" // too old to tell
			case err == nil && *status != "in progress":
				// Ended, and so visible now if it committed (if the
				// id is another transaction's, ours ended before).
				if ours, ok := stored(); ok {
					if ours {
						return "committed"
					}
					return "aborted" // nothing, or another writer's event
				}
			}
		}
		// In progress, or a question failed (a connection of the pool
		// that the server dropped): ask again.
		select {
		case <-ctx.Done():
			return ""
		case <-time.After(wait):
		}
	}
}

// concat returns the columns of units one after the other.
func concat(units []*unit) *columns {
	if len(units) == 1 {
		return units[0].cols
	}
	n := 0
	for _, u := range units {
		n += u.cols.n
	}
	c := newColumns(n)
	for _, u := range units {
		c.ids = append(c.ids, u.cols.ids...)
		c.issues = append(c.issues, u.cols.issues...)
		c.versions = append(c.versions, u.cols.versions...)
		c.types = append(c.types, u.cols.types...)
		c.ats = append(c.ats, u.cols.ats...)
		c.payloads = append(c.payloads, u.cols.payloads...)
		c.msgs = append(c.msgs, u.cols.msgs...)
		c.topics = append(c.topics, u.cols.topics...)
	}
	return c
}

// claim is a unit's claim on one stream: to move it from b.Expected on by
// b's events.
type claim struct {
	u *unit
	b Batch
}

// claimStreams moves every stream of units to its new version if it is at
// the expected one, and sets the error of each unit that finds a stream
// elsewhere. It takes the streams' row locks in issue order, so that
// concurrent transactions cannot deadlock; the claims of one issue keep
// the order of units, so that the first of two claims wins.
//
// With an outbox, it first takes advisory locks, which give the
// transaction no id, as a row lock does: a transaction that waits for one
// then takes its id only once the transactions before it on its streams
// ended. Watermill forwards the outbox in the order of the transactions'
// ids, and without these locks a transaction that took its id on a first
// stream, then waited there, could write a later version of a second
// stream than one that committed meanwhile, and be forwarded first. An
// append of up to maxStreamLocks streams takes the outbox's lock shared
// and one for each stream; a larger one takes the outbox's lock alone,
// as each lock takes a place in the server's lock table, which thousands
// of them fill (out of shared memory). All appends take the outbox's lock
// first and the streams' in one order, so they cannot deadlock.
func (s *Store) claimStreams(ctx context.Context, tx pgx.Tx, units []*unit) error {
	var claims []claim
	for _, u := range units {
		for _, b := range u.batches {
			claims = append(claims, claim{u, b})
		}
	}
	slices.SortStableFunc(claims, func(a, b claim) int { return bytes.Compare(a.b.Issue[:], b.b.Issue[:]) })

	var q pgx.Batch
	locks := 0 // the statements that take locks, before the claims
	if s.cfg.Outbox != nil {
		table := s.lockKey("outbox", nil)
		if keys := s.streamLockKeys(claims); len(keys) <= maxStreamLocks {
			q.Queue(s.q.lockShared, table)
			q.Queue(s.q.lockStreams, keys)
			locks = 2
		} else {
			q.Queue(s.q.lockAlone, table)
			locks = 1
		}
	}
	for _, c := range claims {
		next := int64(c.b.Expected) + int64(len(c.b.Events))
		if c.b.Expected == 0 {
			q.Queue(s.q.create, pgUUID(c.b.Issue), next)
		} else {
			q.Queue(s.q.update, pgUUID(c.b.Issue), int64(c.b.Expected), next)
		}
	}
	br := tx.SendBatch(ctx, &q)
	for range locks {
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			return err
		}
	}
	won := make([]bool, len(claims))
	anyLost := false
	for i := range claims {
		tag, err := br.Exec()
		if err != nil {
			_ = br.Close()
			return err
		}
		won[i] = tag.RowsAffected() > 0
		anyLost = anyLost || !won[i]
	}
	if err := br.Close(); err != nil {
		return err
	}
	if !anyLost {
		return nil
	}
	// A claim that lost reports the version its stream had at its turn,
	// as the claims before it left it: those after it have moved the
	// stream since, within this transaction.
	for i := 0; i < len(claims); {
		issue := claims[i].b.Issue
		j := i
		for j < len(claims) && claims[j].b.Issue == issue {
			j++
		}
		if err := s.settleClaims(ctx, tx, claims[i:j], won[i:j]); err != nil {
			return err
		}
		i = j
	}
	return nil
}

// maxStreamLocks is how many streams an append to the outbox takes a lock
// of each for (see claimStreams): a place each in the server's lock table,
// which holds some 64 for each connection the server allows.
const maxStreamLocks = 32

// streamLockKeys returns the advisory lock keys of the streams of claims,
// once each, in ascending order: transactions that take them in one order
// cannot deadlock, even when two streams share a key (which only makes
// their appends wait for each other).
func (s *Store) streamLockKeys(claims []claim) []int64 {
	keys := make([]int64, 0, len(claims))
	for _, c := range claims {
		keys = append(keys, s.lockKey("stream", c.b.Issue[:]))
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

// lockKey returns the advisory lock key of what (the outbox, a stream) of
// the store, named by id: of the store's events table too, so that stores
// of other tables do not share them.
func (s *Store) lockKey(what string, id []byte) int64 {
	return pglock.Key(what+" "+s.t.events+" ", id)
}

// settleClaims sets the conflict of each unit whose claim on one stream
// lost, with the version the stream had at its turn; cs are the claims on
// that stream in the order they ran, and won says which of them won.
func (s *Store) settleClaims(ctx context.Context, tx pgx.Tx, cs []claim, won []bool) error {
	if !slices.Contains(won, false) {
		return nil
	}
	// Before the first claim that won, the stream was at its expected
	// version; with none, it is where it was, as this transaction left it.
	var v uint64
	if k := slices.Index(won, true); k >= 0 {
		v = cs[k].b.Expected
	} else {
		var err error
		if v, err = s.version(ctx, tx, cs[0].b.Issue); err != nil {
			return err
		}
	}
	for k, c := range cs {
		switch {
		case won[k]:
			v = c.b.Expected + uint64(len(c.b.Events))
		case c.u.err == nil:
			c.u.err = &events.VersionConflictError{Issue: c.b.Issue, Expected: c.b.Expected, Actual: v}
		}
	}
	return nil
}

// version returns the current version of the stream of issue; 0 when it
// has none.
func (s *Store) version(ctx context.Context, tx pgx.Tx, issue uuid.UUID) (uint64, error) {
	var v int64
	err := tx.QueryRow(ctx, s.q.version, pgUUID(issue)).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return uint64(v), err
}

// fail turns the error of an append into the caller's terms. A unique
// violation on (issue, version), possible only if a writer bypassed the
// streams table, is reported as the version conflict that it is; one on a
// position, when the head of positions is behind the events (a restore,
// a reset by hand), says so; a COMMIT that the database may have made
// (its answer was lost) wraps events.ErrOutcomeUnknown.
func (s *Store) fail(ctx context.Context, batches []Batch, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		for _, b := range batches {
			var actual int64
			// Stored events past the expected version are another
			// writer's; fewer than it (a table restored behind the
			// streams table) are no conflict of this append's.
			if s.pool.QueryRow(ctx, s.q.stored, pgUUID(b.Issue)).Scan(&actual) == nil && uint64(actual) > b.Expected {
				return &events.VersionConflictError{Issue: b.Issue, Expected: b.Expected, Actual: uint64(actual)}
			}
		}
		var head, last int64
		if s.pool.QueryRow(ctx, s.q.behind).Scan(&head, &last) == nil && head < last {
			return fmt.Errorf("%s: %s is at position %d, behind the last event of %s, at %d (restored, or reset by hand?): set it to %d: %w",
				appendOf(batches), s.t.head, head, s.t.events, last, last, err)
		}
	}
	var unknown *commitUnknown
	if errors.As(err, &unknown) && !refused(unknown.err) {
		err = fmt.Errorf("%w: %w", events.ErrOutcomeUnknown, unknown.err)
	}
	return fmt.Errorf("%s: %w", appendOf(batches), err)
}

// appendOf names the append of batches for its errors.
func appendOf(batches []Batch) string {
	if len(batches) == 1 {
		return "append to issue " + batches[0].Issue.String()
	}
	return fmt.Sprintf("append batch of %d streams", len(batches))
}
