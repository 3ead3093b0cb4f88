package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/internal/store/sqlite"
	"github.com/tricyclehq/tricycle/internal/store/storetest"
)

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// open opens a new database file in a temporary directory.
func open(t testing.TB) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "tricycle.db"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) coordination.Store { return open(t) })
}

func FuzzStore(f *testing.F) {
	s := open(f)
	f.Cleanup(func() { _ = s.Close() })
	storetest.Fuzz(f, s)
}

func inTx(t *testing.T, s coordination.Store, fn func(ctx context.Context, tx coordination.Tx) error) {
	t.Helper()
	if err := s.InTx(t.Context(), fn); err != nil {
		t.Fatal(err)
	}
}

// seed stores one quarantine record, one review, one active release and two
// audit entries.
func seed(t *testing.T, s coordination.Store) {
	t.Helper()
	inTx(t, s, func(ctx context.Context, tx coordination.Tx) error {
		return errors.Join(
			tx.QuarantineInsert(ctx, &coordination.QuarantineRecord{RecordID: "rec-1", ExperimentID: "exp-1",
				FailureType: coordination.FailureErrorSpike, QuarantinedAt: t0, NextReviewAt: t0.Add(time.Hour), ContentHash: "h"}),
			tx.QuarantineReviewInsert(ctx, &coordination.QuarantineReview{ReviewID: "rev-1", RecordID: "rec-1", ReviewedAt: t0}),
			tx.ReleaseInsert(ctx, &coordination.Release{ID: "rel-1", State: coordination.ReleaseActive, ActivatedAt: t0}),
			tx.AuditAppend(ctx, &coordination.AuditEntry{At: t0, Actor: "alice", Role: coordination.RoleAdmin, Action: "quarantine", Target: "exp-1"}),
			tx.AuditAppend(ctx, &coordination.AuditEntry{At: t0, Actor: "alice", Role: coordination.RoleAdmin, Action: "review", Target: "rec-1"}),
		)
	})
}

// TestDatabaseRefusesChanges proves the append-only and one-active-release
// rules hold for raw SQL too, not only through the store's methods.
func TestDatabaseRefusesChanges(t *testing.T) {
	t.Parallel()
	s := open(t)
	defer func() { _ = s.Close() }()
	seed(t, s)
	for _, c := range []struct{ stmt, want string }{
		{"UPDATE quarantine_records SET data = '{}' WHERE id = 'rec-1'", "quarantine_records is append-only"},
		{"UPDATE quarantine_records SET experiment_id = 'other'", "quarantine_records is append-only"},
		{"DELETE FROM quarantine_records WHERE id = 'rec-1'", "quarantine_records is append-only"},
		{"UPDATE quarantine_reviews SET data = '{}'", "quarantine_reviews is append-only"},
		{"DELETE FROM quarantine_reviews", "quarantine_reviews is append-only"},
		{"UPDATE audit_log SET actor = 'mallory' WHERE seq = 1", "audit_log is append-only"},
		{"DELETE FROM audit_log WHERE seq = 2", "audit_log is append-only"},
		{`INSERT INTO production_releases (id, state, experiment_id, promotion_id, activated_at, version, data)
			VALUES ('rel-2', 'active', '', '', '2025-06-01T13:00:00.000000000Z', 1, '{}')`, "UNIQUE"},
		{`INSERT INTO quarantine_reviews (id, record_id, reviewed_at, data)
			VALUES ('rev-2', 'no-such-record', '2025-06-01T13:00:00.000000000Z', '{}')`, "FOREIGN KEY"},
	} {
		_, err := s.DB().ExecContext(t.Context(), c.stmt)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s\n  error = %v, want one mentioning %q", c.stmt, err, c.want)
		}
	}
	rec, err := s.QuarantineGet(t.Context(), "rec-1")
	if err != nil || rec.ExperimentID != "exp-1" {
		t.Errorf("record after refused changes = %+v, %v", rec, err)
	}
	audit, err := s.AuditList(t.Context(), coordination.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if v := coordination.VerifyAuditChain(audit); !v.OK || v.Entries != 2 {
		t.Errorf("audit chain after refused changes: %+v", v)
	}
}

// TestAuditTamperingIsDetected removes the guard the way someone with write
// access to the file could and shows that verification names the entry.
func TestAuditTamperingIsDetected(t *testing.T) {
	t.Parallel()
	s := open(t)
	defer func() { _ = s.Close() }()
	seed(t, s)
	ctx := t.Context()
	for _, stmt := range []string{
		"DROP TRIGGER audit_log_no_update",
		`UPDATE audit_log SET data = json_set(data, '$.actor', 'mallory') WHERE seq = 1`,
	} {
		if _, err := s.DB().ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	audit, err := s.AuditList(ctx, coordination.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if v := coordination.VerifyAuditChain(audit); v.OK || v.FirstBadSeq != 1 {
		t.Errorf("VerifyAuditChain after altering entry 1 = %+v, want entry 1 named", v)
	}
}

func TestReopenKeepsDataAndSkipsMigrations(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "tricycle.db")
	s, err := sqlite.Open(t.Context(), "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	seed(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// The first migration creates its tables without IF NOT EXISTS, so
	// opening again would fail if it ran twice.
	for range 2 {
		s, err = sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		var n int
		if err := s.DB().QueryRowContext(t.Context(), "SELECT COUNT(*) FROM schema_migrations").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if want := migrationCount(t); n != want {
			t.Errorf("schema_migrations has %d rows after reopening, want %d (one per migration)", n, want)
		}
		rec, err := s.QuarantineGet(t.Context(), "rec-1")
		if err != nil || rec.ContentHash != "h" {
			t.Errorf("record after reopening = %+v, %v", rec, err)
		}
		audit, err := s.AuditList(t.Context(), coordination.AuditFilter{})
		if err != nil || !coordination.VerifyAuditChain(audit).OK || len(audit) != 2 {
			t.Errorf("audit log after reopening: %d entries, %v", len(audit), err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestPragmas(t *testing.T) {
	t.Parallel()
	s := open(t)
	defer func() { _ = s.Close() }()
	for pragma, want := range map[string]string{"journal_mode": "wal", "synchronous": "2", "foreign_keys": "1", "busy_timeout": "10000"} {
		var got string
		if err := s.DB().QueryRowContext(t.Context(), "PRAGMA "+pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %s, want %s", pragma, got, want)
		}
	}
}

func TestOpenRefusesBadDSN(t *testing.T) {
	t.Parallel()
	for _, dsn := range []string{"", "sqlite:", "file.db?_pragma=x", filepath.Join(t.TempDir(), "no-such-dir", "x.db")} {
		if s, err := sqlite.Open(t.Context(), dsn); err == nil {
			_ = s.Close()
			t.Errorf("Open(%q) succeeded, want an error", dsn)
		}
	}
}

func TestInMemory(t *testing.T) {
	t.Parallel()
	a, err := sqlite.Open(t.Context(), ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = a.Close() }()
	b, err := sqlite.Open(t.Context(), ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.Close() }()
	seed(t, a)
	if _, err := a.ReleaseActive(t.Context()); err != nil {
		t.Errorf("ReleaseActive on the in-memory store: %v", err)
	}
	if _, err := b.ReleaseActive(t.Context()); !errors.Is(err, coordination.ErrNotFound) {
		t.Errorf("a second in-memory store sees the first one's release (err %v)", err)
	}
}

// TestTwoHandlesOnOneFile runs writers through two stores opened on the same
// file, as two processes would, and checks that none fails with "database is
// locked" and no increment is lost.
func TestTwoHandlesOnOneFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "shared.db")
	var stores [2]*sqlite.Store
	for i := range stores {
		s, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = s.Close() }()
		stores[i] = s
	}
	inTx(t, stores[0], func(ctx context.Context, tx coordination.Tx) error {
		return tx.ExperimentInsert(ctx, &coordination.Experiment{ID: "exp-1", CreatedAt: t0})
	})
	const perWriter = 25
	var wg sync.WaitGroup
	for w := range 4 {
		s := stores[w%2]
		wg.Go(func() {
			for i := range perWriter {
				err := s.InTx(t.Context(), func(ctx context.Context, tx coordination.Tx) error {
					e, err := tx.ExperimentGet(ctx, "exp-1")
					if err != nil {
						return err
					}
					e.Runs++
					if err := tx.ExperimentUpdate(ctx, e); err != nil {
						return err
					}
					return tx.AuditAppend(ctx, &coordination.AuditEntry{At: t0, Actor: fmt.Sprint("w", w), Action: "inc", Target: fmt.Sprint(i)})
				})
				if err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
			}
		})
	}
	wg.Wait()
	e, err := stores[1].ExperimentGet(t.Context(), "exp-1")
	if err != nil || e.Runs != 4*perWriter {
		t.Fatalf("after %d increments through two handles: %+v, %v", 4*perWriter, e, err)
	}
	audit, err := stores[0].AuditList(t.Context(), coordination.AuditFilter{})
	if err != nil || !coordination.VerifyAuditChain(audit).OK || len(audit) != 4*perWriter {
		t.Errorf("audit chain through two handles: %d entries, %v", len(audit), err)
	}
}

// migrationCount is the number of embedded migration files.
func migrationCount(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}
