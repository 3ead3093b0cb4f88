// Package sqlite is the embedded default store: one SQLite file in WAL mode,
// through the pure-Go driver modernc.org/sqlite.
//
// # Concurrency
//
// Writes go through a single connection whose transactions begin with
// BEGIN IMMEDIATE, so concurrent InTx calls queue for that connection instead
// of failing with SQLITE_BUSY, and transactions are serializable. Reads
// outside a transaction use a separate pool of read-only connections and see
// the last committed state without waiting for a writer. Another process
// writing the same file is waited for up to the busy timeout.
//
// An in-memory database (":memory:") lives in one connection, which reads
// and writes share: a read outside a transaction then waits for a running
// transaction to finish, so fn must read through its Tx.
//
// # Schema
//
// Migrations are embedded (migrations/NNN_name.sql) and applied in order in
// one transaction, each recorded in schema_migrations; reopening a file
// applies only the new ones. Tables are named after the PostgreSQL schemas
// (experiments_v1_experiments, production_releases, quarantine_records, …);
// each row has columns for what is filtered or ordered on and the object's
// JSON in data. Triggers make quarantine records, reviews and the audit log
// append-only, and a partial unique index allows one active release.
package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/tricyclehq/tricycle/coordination"
)

//go:embed migrations/*.sql
var migrations embed.FS

// busyTimeoutMillis is how long a connection waits for another process's lock.
const busyTimeoutMillis = 10000

// Store is a coordination.Store backed by a SQLite database.
type Store struct {
	reader
	write *sql.DB // one connection; every transaction is BEGIN IMMEDIATE
	read  *sql.DB // read-only pool; equal to write for an in-memory database
}

var _ coordination.Store = (*Store)(nil)

// Open opens (creating if needed) the SQLite database at dsn, a file path,
// optionally prefixed with "sqlite:", or ":memory:" for a private in-memory
// database, and applies the pending migrations.
func Open(ctx context.Context, dsn string) (*Store, error) {
	path := strings.TrimPrefix(dsn, "sqlite:")
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("open sqlite %q: want a file path without '?' or '#', or \":memory:\"", dsn)
	}
	pragmas := "_pragma=busy_timeout(" + strconv.Itoa(busyTimeoutMillis) + ")&_pragma=foreign_keys(1)"
	memory := path == ":memory:"
	writeDSN := path + "?" + pragmas + "&_txlock=immediate"
	if !memory {
		writeDSN += "&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)"
	}
	w, err := sql.Open("sqlite", writeDSN)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %q: %w", dsn, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	w.SetConnMaxLifetime(0)
	s := &Store{write: w, read: w}
	if err := s.migrate(ctx); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("open sqlite %q: %w", dsn, err)
	}
	if !memory {
		r, err := sql.Open("sqlite", path+"?"+pragmas+"&_pragma=query_only(1)")
		if err != nil {
			_ = w.Close()
			return nil, fmt.Errorf("open sqlite %q read pool: %w", dsn, err)
		}
		n := max(4, runtime.GOMAXPROCS(0))
		r.SetMaxOpenConns(n)
		r.SetMaxIdleConns(n)
		s.read = r
	}
	s.reader = reader{q: s.read}
	return s, nil
}

// DB returns the write connection's database handle, for tests and tools
// that need raw SQL. Writes through it bypass the store's rules except those
// the schema enforces (triggers, constraints).
func (s *Store) DB() *sql.DB { return s.write }

// Close closes both connection pools.
func (s *Store) Close() error {
	var errs []error
	if s.read != s.write {
		errs = append(errs, s.read.Close())
	}
	errs = append(errs, s.write.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close sqlite store: %w", err)
	}
	return nil
}

// InTx runs fn in one BEGIN IMMEDIATE transaction on the write connection and
// commits when fn returns nil. It rolls back when fn returns an error or
// panics.
func (s *Store) InTx(ctx context.Context, fn func(ctx context.Context, tx coordination.Tx) error) error {
	sqlTx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			_ = sqlTx.Rollback() // the error that made us roll back is the one to report
		}
	}()
	if err := fence(ctx, sqlTx); err != nil {
		return fmt.Errorf("fenced transaction: %w", err)
	}
	if err := fn(ctx, &tx{reader: reader{q: sqlTx}}); err != nil {
		return err // the caller's own error: it already says what failed
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit transaction: %w", err)
	}
	committed = true
	return nil
}

// OutboxPending returns up to limit (0 = all) unpublished events in commit order.
func (s *Store) OutboxPending(ctx context.Context, limit int) ([]coordination.Event, error) {
	q := "SELECT seq, data FROM platform_outbox WHERE published_at IS NULL ORDER BY seq"
	q, args := withLimit(q, nil, limit)
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list pending events: %w", err)
	}
	defer func() { _ = rows.Close() }()
	out := []coordination.Event{}
	for rows.Next() {
		var seq int64
		var data []byte
		if err := rows.Scan(&seq, &data); err != nil {
			return nil, fmt.Errorf("list pending events: %w", err)
		}
		ev, err := decode[coordination.Event]("outbox event", strconv.FormatInt(seq, 10), data)
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

// markBatch bounds the sequence numbers marked by one statement.
const markBatch = 500

// OutboxMarkPublished marks the events published at at; unknown or already
// published sequence numbers are ignored.
func (s *Store) OutboxMarkPublished(ctx context.Context, seqs []int64, at time.Time) error {
	for start := 0; start < len(seqs); start += markBatch {
		batch := seqs[start:min(start+markBatch, len(seqs))]
		in, args := inList(batch)
		args = append([]any{ts(at)}, args...)
		_, err := s.write.ExecContext(ctx,
			"UPDATE platform_outbox SET published_at = ? WHERE published_at IS NULL AND seq IN ("+in+")", args...)
		if err != nil {
			return fmt.Errorf("mark %d events published: %w", len(batch), err)
		}
	}
	return nil
}

// ConsumerMarkProcessed records that consumer handled eventID and reports
// whether this was the first time.
func (s *Store) ConsumerMarkProcessed(ctx context.Context, consumer, eventID string, at time.Time) (bool, error) {
	res, err := s.write.ExecContext(ctx, `INSERT INTO platform_consumer_events (consumer, event_id, processed_at)
		VALUES (?, ?, ?) ON CONFLICT (consumer, event_id) DO NOTHING`, consumer, eventID, ts(at))
	if err != nil {
		return false, fmt.Errorf("mark event %q processed by %q: %w", eventID, consumer, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("mark event %q processed by %q: %w", eventID, consumer, err)
	}
	return n == 1, nil
}

// migrate applies the embedded migrations that schema_migrations does not
// list yet, in version order, in one transaction.
func (s *Store) migrate(ctx context.Context) error {
	files, err := migrationFiles()
	if err != nil {
		return err
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin migration: %w", err)
	}
	defer func() { _ = tx.Rollback() }() // a no-op after Commit
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY,
		name    TEXT    NOT NULL
	)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	var current int
	if err := tx.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&current); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	for _, m := range files {
		if m.version <= current {
			continue
		}
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("apply migration %03d_%s: %w", m.version, m.name, err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
			m.version, m.name); err != nil {
			return fmt.Errorf("record migration %03d_%s: %w", m.version, m.name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit migrations: %w", err)
	}
	return nil
}

type migration struct {
	version int
	name    string
	sql     string
}

// migrationFiles returns the embedded migrations in version order. A file is
// named NNN_name.sql; versions must be unique.
func migrationFiles() ([]migration, error) {
	entries, err := fs.ReadDir(migrations, "migrations")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var out []migration
	for _, e := range entries {
		num, name, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %q: name must be NNN_name.sql", e.Name())
		}
		body, err := fs.ReadFile(migrations, "migrations/"+e.Name())
		if err != nil {
			return nil, fmt.Errorf("read migration %q: %w", e.Name(), err)
		}
		out = append(out, migration{version: v, name: name, sql: string(body)})
	}
	slices.SortFunc(out, func(a, b migration) int { return cmp.Compare(a.version, b.version) })
	for i := 1; i < len(out); i++ {
		if out[i].version == out[i-1].version {
			return nil, fmt.Errorf("migrations %q and %q share version %d", out[i-1].name, out[i].name, out[i].version)
		}
	}
	return out, nil
}

// ts formats t as fixed-width RFC 3339 UTC text with nanoseconds, so that
// the text order of two values is their time order.
func ts(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000000Z07:00") }

// nullTS is ts, or NULL for the zero time.
func nullTS(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return ts(t)
}

// isUniqueViolation reports whether err is a UNIQUE or PRIMARY KEY violation.
func isUniqueViolation(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}
