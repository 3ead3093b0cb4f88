// Package postgres is the scale-out store: coordination.Store on PostgreSQL
// through pgx v5 and a pgxpool connection pool, shared by every replica.
//
// # Schema
//
// The tables live in one schema per part of the cycle: experiments_v1
// (experiments, proposals), production (promotions, releases), quarantine
// (records, reviews, blacklist), audit (log, chain_head) and platform
// (outbox, consumer_events, kv, tokens, schema_migrations). Each row has
// columns for what is filtered or ordered on and the object's JSON in data
// (type json, which keeps the text exactly; see migrations/001_init.sql).
// Times are timestamptz written from the times the caller passes in, never
// now(); they order and filter at microsecond precision.
//
// Migrations are embedded (migrations/NNN_name.sql) and applied by Open in
// one transaction under a transaction-scoped advisory lock, so replicas that
// start together apply each migration once; each is recorded in
// platform.schema_migrations, and an up-to-date database needs no DDL.
//
// # Transactions
//
// Every state change of the cycle extends one hash-chained audit log, so
// write transactions are serial by nature. InTx makes that explicit: it takes
// a session advisory lock (the write lock) on its connection, then runs fn in
// a SERIALIZABLE transaction, then releases the lock. Writers on every
// replica therefore queue instead of racing, fn normally runs exactly once,
// and no transaction builds on a snapshot another writer is about to make
// stale; reads outside InTx do not take the lock and run in parallel. (A
// transaction that took the lock after its snapshot would still race, which
// is why the lock is taken before BEGIN.) Serializable isolation remains the
// guarantee against writers that bypass InTx (OutboxMarkPublished, the
// relay, operators' SQL): a serialization failure (SQLSTATE 40001) or
// deadlock (40P01) rolls back, undoes what the failed attempt set on the
// caller's objects (versions, sequence numbers, audit links) and runs fn
// again after a short randomized pause, up to ten attempts in all; then the
// error wraps coordination.ErrConflict. Write throughput is one transaction
// at a time, a few milliseconds each: ample for the control plane, whose hot
// path (review traffic) reaches the store only as periodic metric buckets.
// The write lock is a session lock: connect to PostgreSQL directly or
// through a proxy in session pooling mode, not transaction pooling.
//
// Writes that can meet a duplicate (inserts) use ON CONFLICT DO NOTHING, and
// a release activation checks for another active release first, so an
// ErrConflict leaves the transaction usable, as in the other stores.
//
// # Audit chain and outbox
//
// AuditAppend also locks the single row of audit.chain_head until commit, so
// even a transaction outside the write lock cannot take an entry's seq: the
// chain gets consecutive sequence numbers in commit order, without forks or
// gaps. Outbox events take their seq from an identity column; with writers
// queued on the write lock, seq order is commit order.
// OutboxRelay claims pending events with FOR UPDATE SKIP LOCKED, so several
// relays share the outbox without publishing an event twice.
//
// # Immutability and the application role
//
// Triggers refuse UPDATE, DELETE and TRUNCATE on quarantine.records,
// quarantine.reviews and audit.log for every role, superusers included, also
// with session_replication_role = replica. Only the tables' owner can drop
// them; an audit entry altered or removed even so breaks the hash chain,
// which coordination.VerifyAuditChain reports. The
// migrations also create the NOLOGIN role tricycle_app (when absent) and
// grant it only what the application needs: no UPDATE, DELETE or TRUNCATE on
// those tables, no DDL. Operators make the servers' login role a member
// (GRANT tricycle_app TO tricycle_server) and run migrations as the owner of
// the schemas.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tricyclehq/tricycle/coordination"
)

// writeLock is the session advisory lock InTx holds around its transaction
// ("tricycle-w" in ASCII, distinct from the migration lock).
const writeLock int64 = 0x7472696379632d77

// Retry bounds for InTx: attempts in all, and the pause before the n-th
// retry, drawn from [0, min(retryBase·2ⁿ, retryMax)).
const (
	maxAttempts = 10
	retryBase   = 2 * time.Millisecond
	retryMax    = 100 * time.Millisecond
)

// Store is a coordination.Store backed by PostgreSQL.
type Store struct {
	reader
	pool *pgxpool.Pool
}

var _ coordination.Store = (*Store)(nil)

// Open connects to the PostgreSQL database at dsn (a postgres:// URL or a
// key=value string, including pgxpool's pool_max_conns and similar) and
// applies the pending migrations.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres: parse dsn: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres %s: %w", describe(cfg), err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres %s: %w", describe(cfg), err)
	}
	return &Store{reader: reader{q: pool}, pool: pool}, nil
}

// describe names the database of cfg for messages, without the password.
func describe(cfg *pgxpool.Config) string {
	c := cfg.ConnConfig
	return fmt.Sprintf("%s@%s:%d/%s", c.User, c.Host, c.Port, c.Database)
}

// Pool returns the connection pool, for tests and tools that need raw SQL.
// Writes through it bypass the store's rules except those the schema
// enforces (triggers, constraints, grants).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Close closes the connection pool, waiting for connections in use.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// InTx runs fn in one serializable transaction and commits when fn returns
// nil; it rolls back when fn returns an error or panics. The transaction
// runs on a connection holding the write lock (see the package
// documentation), so fn normally runs once; a serialization failure or
// deadlock, in fn's statements or at commit, rolls back and runs fn again,
// a bounded number of times.
func (s *Store) InTx(ctx context.Context, fn func(ctx context.Context, tx coordination.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", writeLock); err != nil {
		// The wait may have been interrupted after the server granted the
		// lock; closing the session is the sure way to release it.
		discard(ctx, conn)
		return fmt.Errorf("begin transaction: take the write lock: %w", err)
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, "SELECT pg_advisory_unlock($1)", writeLock); err != nil {
			discard(ctx, conn)
			return
		}
		conn.Release()
	}()
	for attempt := range maxAttempts {
		if attempt > 0 {
			if werr := pause(ctx, attempt); werr != nil {
				return fmt.Errorf("retry transaction after %w: %w", err, werr)
			}
		}
		var retry bool
		retry, err = attemptTx(ctx, conn.Conn(), fn)
		if !retry {
			return err
		}
	}
	return fmt.Errorf("transaction failed %d times: %w: %w", maxAttempts, err, coordination.ErrConflict)
}

// discard closes conn's session (releasing its advisory locks) and gives
// the closed connection back to the pool, which drops it.
func discard(ctx context.Context, conn *pgxpool.Conn) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = conn.Conn().Close(cctx)
	conn.Release()
}

// attemptTx runs fn once in a transaction on conn. It reports whether the
// failure, if any, is a serialization failure or deadlock worth another
// attempt.
func attemptTx(ctx context.Context, conn *pgx.Conn, fn func(ctx context.Context, tx coordination.Tx) error) (retry bool, err error) {
	pgTx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.Serializable})
	if err != nil {
		return isRetryable(err), fmt.Errorf("begin transaction: %w", err)
	}
	t := &tx{reader: reader{q: nil}, pg: pgTx}
	t.reader.q = t
	committed := false
	defer func() {
		if committed {
			return
		}
		rollback(ctx, pgTx) // the error that made us roll back is the one to report
		t.undoAll()
	}()
	if err := fence(ctx, t); err != nil {
		return t.retry || isRetryable(err), fmt.Errorf("fenced transaction: %w", err)
	}
	if err := fn(ctx, t); err != nil {
		return t.retry || isRetryable(err), fmt.Errorf("transaction rolled back: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("commit transaction: %w", err)
	}
	if err := pgTx.Commit(ctx); err != nil {
		return t.retry || isRetryable(err), fmt.Errorf("commit transaction: %w", err)
	}
	committed = true
	return false, nil
}

// rollback rolls pgTx back even when ctx is canceled (a canceled context
// must not leave the connection in a transaction), within a bounded time.
func rollback(ctx context.Context, pgTx pgx.Tx) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = pgTx.Rollback(rctx)
}

// pause waits before the attempt-th try, or until ctx is done.
func pause(ctx context.Context, attempt int) error {
	limit := min(retryBase<<attempt, retryMax)
	timer := time.NewTimer(rand.N(limit) + time.Microsecond)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// SQLSTATE codes the store reacts to.
const (
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
	codeUniqueViolation      = "23505"
)

// isRetryable reports whether err is a serialization failure or a deadlock.
func isRetryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == codeSerializationFailure || pe.Code == codeDeadlockDetected)
}

// isUniqueViolation reports whether err is a UNIQUE or PRIMARY KEY violation.
func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == codeUniqueViolation
}

// OutboxPending returns up to limit (0 = all) unpublished events in seq order.
func (s *Store) OutboxPending(ctx context.Context, limit int) ([]coordination.Event, error) {
	q, args := withLimit("SELECT seq, data FROM platform.outbox WHERE published_at IS NULL ORDER BY seq", nil, limit)
	return scanEvents(ctx, s.pool, q, args...)
}

func scanEvents(ctx context.Context, q querier, query string, args ...any) ([]coordination.Event, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list pending events: %w", err)
	}
	defer rows.Close()
	out := []coordination.Event{}
	for rows.Next() {
		var seq int64
		var data []byte
		if err := rows.Scan(&seq, &data); err != nil {
			return nil, fmt.Errorf("list pending events: %w", err)
		}
		ev, err := decode[coordination.Event]("outbox event", fmt.Sprint(seq), data)
		if err != nil {
			return nil, err
		}
		ev.Seq = seq
		out = append(out, *ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list pending events: %w", err)
	}
	return out, nil
}

// OutboxMarkPublished marks the events published at at; unknown or already
// published sequence numbers are ignored.
func (s *Store) OutboxMarkPublished(ctx context.Context, seqs []int64, at time.Time) error {
	if len(seqs) == 0 {
		return nil
	}
	if _, err := s.pool.Exec(ctx, "UPDATE platform.outbox SET published_at = $1 WHERE published_at IS NULL AND seq = ANY($2)",
		at, seqs); err != nil {
		return fmt.Errorf("mark %d events published: %w", len(seqs), err)
	}
	return nil
}

// OutboxRelay publishes up to limit pending events (0 = all) with publish,
// in seq order, and marks those it published as published at at, all in one
// transaction that holds the events' row locks. Pending events another relay
// holds are skipped (FOR UPDATE SKIP LOCKED), so relays on several replicas
// share the outbox without publishing one event twice while they run; an
// event whose publish fails, and every later one of the batch, stays
// pending. It returns how many events it published, and the publish error.
func (s *Store) OutboxRelay(ctx context.Context, limit int, at time.Time,
	publish func(ctx context.Context, ev coordination.Event) error) (int, error) {
	pgTx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return 0, fmt.Errorf("relay outbox: begin: %w", err)
	}
	defer rollback(ctx, pgTx) // a no-op after Commit
	q, args := withLimit("SELECT seq, data FROM platform.outbox WHERE published_at IS NULL ORDER BY seq", nil, limit)
	events, err := scanEvents(ctx, pgTx, q+" FOR UPDATE SKIP LOCKED", args...)
	if err != nil {
		return 0, fmt.Errorf("relay outbox: %w", err)
	}
	done := make([]int64, 0, len(events))
	var pubErr error
	for _, ev := range events {
		if err := publish(ctx, ev); err != nil {
			pubErr = fmt.Errorf("relay outbox: publish %s %s: %w", ev.Type, ev.ID, err)
			break
		}
		done = append(done, ev.Seq)
	}
	if len(done) > 0 {
		if _, err := pgTx.Exec(ctx, "UPDATE platform.outbox SET published_at = $1 WHERE seq = ANY($2)", at, done); err != nil {
			return 0, fmt.Errorf("relay outbox: mark %d events published: %w", len(done), err)
		}
	}
	if err := pgTx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("relay outbox: commit: %w", err)
	}
	return len(done), pubErr
}

// ConsumerMarkProcessed records that consumer handled eventID and reports
// whether this was the first time.
func (s *Store) ConsumerMarkProcessed(ctx context.Context, consumer, eventID string, at time.Time) (bool, error) {
	tag, err := s.pool.Exec(ctx, `INSERT INTO platform.consumer_events (consumer, event_id, processed_at)
		VALUES ($1, $2, $3) ON CONFLICT (consumer, event_id) DO NOTHING`, col(consumer), col(eventID), at)
	if err != nil {
		return false, fmt.Errorf("mark event %q processed by %q: %w", eventID, consumer, err)
	}
	return tag.RowsAffected() == 1, nil
}
