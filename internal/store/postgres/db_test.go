package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/internal/store/postgres"
)

// seed stores one quarantine record, one review, one active release and two
// audit entries.
func seed(t *testing.T, s coordination.Store) {
	t.Helper()
	inTx(t, s, func(ctx context.Context, tx coordination.Tx) error {
		return errors.Join(
			tx.QuarantineInsert(ctx, &coordination.QuarantineRecord{RecordID: "rec-1", ExperimentID: "exp-1",
				FailureType: coordination.FailureErrorSpike, QuarantinedAt: t0, ContentHash: "h"}),
			tx.QuarantineReviewInsert(ctx, &coordination.QuarantineReview{ReviewID: "rev-1", RecordID: "rec-1", ReviewedAt: t0}),
			tx.ReleaseInsert(ctx, &coordination.Release{ID: "rel-1", State: coordination.ReleaseActive, ActivatedAt: t0}),
			tx.AuditAppend(ctx, &coordination.AuditEntry{At: t0, Actor: "alice", Role: coordination.RoleAdmin, Action: "quarantine", Target: "exp-1"}),
			tx.AuditAppend(ctx, &coordination.AuditEntry{At: t0, Actor: "alice", Role: coordination.RoleAdmin, Action: "review", Target: "rec-1"}),
		)
	})
}

// history lists statements that would rewrite the append-only tables.
var history = []string{
	"UPDATE quarantine.records SET data = '{}' WHERE id = 'rec-1'",
	"UPDATE quarantine.records SET experiment_id = 'other'",
	"DELETE FROM quarantine.records WHERE id = 'rec-1'",
	"TRUNCATE quarantine.records CASCADE",
	"UPDATE quarantine.reviews SET data = '{}'",
	"DELETE FROM quarantine.reviews",
	"TRUNCATE quarantine.reviews",
	"UPDATE audit.log SET actor = 'mallory' WHERE seq = 1",
	"DELETE FROM audit.log WHERE seq = 2",
	"TRUNCATE audit.log",
}

// exec runs stmt on its own connection, optionally after setup statements,
// and returns the error.
func exec(t *testing.T, s *postgres.Store, stmt string, setup ...string) error {
	t.Helper()
	conn, err := s.Pool().Acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	tx, err := conn.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	for _, q := range setup {
		if _, err := tx.Exec(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	_, err = tx.Exec(t.Context(), stmt)
	if err == nil {
		err = tx.Commit(t.Context())
	}
	return err
}

func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// TestDatabaseRefusesChanges proves the append-only rule holds for raw SQL
// by the superuser that owns the tables, also with triggers for replication
// switched off, and that the history is intact afterwards.
func TestDatabaseRefusesChanges(t *testing.T) {
	t.Parallel()
	s := open(t)
	defer func() { _ = s.Close() }()
	seed(t, s)
	for _, setup := range [][]string{nil, {"SET LOCAL session_replication_role = replica"}} {
		for _, stmt := range history {
			err := exec(t, s, stmt, setup...)
			if err == nil || !strings.Contains(err.Error(), "is append-only") {
				t.Errorf("%s (after %v): error %v, want the append-only refusal", stmt, setup, err)
			}
		}
	}
	err := exec(t, s, `INSERT INTO production.releases (id, state, experiment_id, promotion_id, activated_at, version, data)
		VALUES ('rel-2', 'active', '', '', now(), 1, '{}')`)
	if sqlState(err) != "23505" {
		t.Errorf("a second active release by raw SQL: %v, want a unique violation", err)
	}
	log, err := s.AuditList(t.Context(), coordination.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if v := coordination.VerifyAuditChain(log); !v.OK || v.Entries != 2 {
		t.Errorf("audit chain after the refused changes: %+v", v)
	}
	if _, err := s.QuarantineGet(t.Context(), "rec-1"); err != nil {
		t.Errorf("record after the refused changes: %v", err)
	}
}

// TestAppRoleHasNoRightToRewriteHistory checks that tricycle_app is refused
// by its grants (before any trigger), cannot log in, and cannot change the
// schema, while it can append.
func TestAppRoleHasNoRightToRewriteHistory(t *testing.T) {
	t.Parallel()
	s := open(t)
	defer func() { _ = s.Close() }()
	seed(t, s)
	asApp := "SET LOCAL ROLE tricycle_app"
	for _, stmt := range append(history,
		"DROP TABLE audit.log",
		"ALTER TABLE audit.log DISABLE TRIGGER log_append_only",
		"DELETE FROM experiments_v1.experiments",
		"INSERT INTO platform.schema_migrations (version, name) VALUES (999, 'x')",
		"CREATE TABLE platform.extra (x int)",
	) {
		err := exec(t, s, stmt, asApp)
		if state := sqlState(err); state != "42501" {
			t.Errorf("as tricycle_app: %s: %v (SQLSTATE %q), want permission denied (42501)", stmt, err, state)
		}
	}
	err := exec(t, s, `INSERT INTO audit.log (seq, at, actor, role, action, target, prev_hash, hash, data)
		VALUES (3, now(), 'a', 'admin', 'x', 'y', '', '', '{}')`, asApp)
	if err != nil {
		t.Errorf("as tricycle_app: appending to the audit log: %v", err)
	}
	var canLogin bool
	if err := s.Pool().QueryRow(t.Context(), "SELECT rolcanlogin FROM pg_roles WHERE rolname = 'tricycle_app'").Scan(&canLogin); err != nil {
		t.Fatal(err)
	}
	if canLogin {
		t.Error("tricycle_app can log in; want NOLOGIN")
	}
}

// TestReopenSkipsAppliedMigrations reopens a database: no migration runs
// again (the rows of schema_migrations are the ones first written) and the
// data is kept.
func TestReopenSkipsAppliedMigrations(t *testing.T) {
	t.Parallel()
	dsn := newDatabase(t)
	s := openDSN(t, dsn)
	seed(t, s)
	applied := func(s *postgres.Store) string {
		rows, err := s.Pool().Query(t.Context(), "SELECT version, xmin::text FROM platform.schema_migrations ORDER BY version")
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for rows.Next() {
			var v int
			var xmin string
			if err := rows.Scan(&v, &xmin); err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprintf("%d@%s", v, xmin))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return strings.Join(out, " ")
	}
	before := applied(s)
	_ = s.Close()
	want, err := postgres.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if n := len(strings.Fields(before)); n != len(want) {
		t.Fatalf("schema_migrations after the first open: %s, want %d migrations", before, len(want))
	}
	s = openDSN(t, dsn)
	defer func() { _ = s.Close() }()
	if after := applied(s); after != before {
		t.Errorf("schema_migrations changed on reopen: %s, was %s", after, before)
	}
	log, err := s.AuditList(t.Context(), coordination.AuditFilter{})
	if err != nil || len(log) != 2 {
		t.Errorf("audit log after reopen: %d entries, %v; want 2", len(log), err)
	}
}

// TestReplicasMigrateAtOnce opens one empty database from several goroutines
// at once: the advisory lock lets one apply the migrations and the others
// find them applied.
func TestReplicasMigrateAtOnce(t *testing.T) {
	t.Parallel()
	dsn := withParam(t, newDatabase(t), "pool_max_conns", "2")
	const replicas = 4
	stores := make([]*postgres.Store, replicas)
	errs := make([]error, replicas)
	var wg sync.WaitGroup
	for i := range replicas {
		wg.Go(func() { stores[i], errs[i] = postgres.Open(t.Context(), dsn) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: %v", i, err)
			continue
		}
		defer func() { _ = stores[i].Close() }()
	}
	if t.Failed() {
		return
	}
	var n int
	if err := stores[0].Pool().QueryRow(t.Context(), "SELECT count(*) FROM platform.schema_migrations").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if want, _ := postgres.Migrations(); n != len(want) {
		t.Errorf("schema_migrations holds %d rows, want %d", n, len(want))
	}
}

// TestConcurrentWritersFromTwoPools runs writers on two stores (two
// replicas) over one database: none fails, every increment, audit entry and
// event is kept, the audit chain has no fork or gap, and event seqs are
// unique.
func TestConcurrentWritersFromTwoPools(t *testing.T) {
	t.Parallel()
	dsn := withParam(t, newDatabase(t), "pool_max_conns", "3")
	a, b := openDSN(t, dsn), openDSN(t, dsn)
	defer func() { _ = a.Close(); _ = b.Close() }()
	inTx(t, a, func(ctx context.Context, tx coordination.Tx) error {
		return tx.ExperimentInsert(ctx, &coordination.Experiment{ID: "exp-1", CreatedAt: t0})
	})
	const writers, increments = 6, 20
	var wg sync.WaitGroup
	for w := range writers {
		s := []*postgres.Store{a, b}[w%2]
		wg.Go(func() {
			for i := range increments {
				err := s.InTx(t.Context(), func(ctx context.Context, tx coordination.Tx) error {
					e, err := tx.ExperimentGet(ctx, "exp-1")
					if err != nil {
						return err
					}
					e.Runs++
					if err := tx.ExperimentUpdate(ctx, e); err != nil {
						return err
					}
					ev, err := coordination.NewEvent("x", "exp-1", t0, e.Runs)
					if err != nil {
						return err
					}
					ev.ID = fmt.Sprintf("evt-%d-%d", w, i)
					return errors.Join(tx.OutboxAppend(ctx, ev), tx.AuditAppend(ctx, &coordination.AuditEntry{
						At: t0, Actor: fmt.Sprint("writer-", w), Role: coordination.RoleSystem, Action: "increment", Target: "exp-1"}))
				})
				if err != nil {
					t.Errorf("writer %d increment %d: %v", w, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	ctx := t.Context()
	e, err := b.ExperimentGet(ctx, "exp-1")
	if err != nil || e.Runs != writers*increments {
		t.Errorf("experiment after %d increments: %+v, %v", writers*increments, e, err)
	}
	log, err := a.AuditList(ctx, coordination.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if v := coordination.VerifyAuditChain(log); !v.OK || v.Entries != writers*increments {
		t.Errorf("audit chain: %+v, want OK with %d entries", v, writers*increments)
	}
	evs, err := b.OutboxPending(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	seqs := map[int64]bool{}
	for _, ev := range evs {
		seqs[ev.Seq] = true
	}
	if len(evs) != writers*increments || len(seqs) != len(evs) {
		t.Errorf("outbox: %d events with %d distinct seqs, want %d", len(evs), len(seqs), writers*increments)
	}
}

// TestTimesAreTheCallers checks that stored times are the ones passed in,
// not the server's clock, in the columns as in the JSON.
func TestTimesAreTheCallers(t *testing.T) {
	t.Parallel()
	s := open(t)
	defer func() { _ = s.Close() }()
	inTx(t, s, func(ctx context.Context, tx coordination.Tx) error {
		return errors.Join(tx.KVPut(ctx, "k", []byte("v"), t0),
			tx.ExperimentInsert(ctx, &coordination.Experiment{ID: "exp-1", CreatedAt: t0, UpdatedAt: t0}))
	})
	var kvAt, created time.Time
	err := s.Pool().QueryRow(t.Context(), `SELECT (SELECT updated_at FROM platform.kv WHERE key = 'k'),
		(SELECT created_at FROM experiments_v1.experiments WHERE id = 'exp-1')`).Scan(&kvAt, &created)
	if err != nil {
		t.Fatal(err)
	}
	if !kvAt.Equal(t0) || !created.Equal(t0) {
		t.Errorf("stored times %v and %v, want the caller's %v", kvAt, created, t0)
	}
}
