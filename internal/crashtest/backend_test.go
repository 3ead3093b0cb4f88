package crashtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/internal/store/postgres"
	"github.com/tricyclehq/tricycle/internal/store/sqlite"
)

// outboxRow is one event of the outbox, with whether it was published.
type outboxRow struct {
	ID, Type, Subject string
	Data              []byte // the stored CloudEvents envelope
	Published         bool
}

// backend is a store the server runs on, and how the test reads it after
// the server has stopped.
type backend struct {
	dsn string
	// open opens the store and returns every outbox event in commit order.
	open func(ctx context.Context) (coordination.Store, []outboxRow, error)
}

func sqliteBackend(t *testing.T) backend {
	path := filepath.Join(t.TempDir(), "tricycle.db")
	return backend{dsn: "sqlite:" + path, open: func(ctx context.Context) (coordination.Store, []outboxRow, error) {
		s, err := sqlite.Open(ctx, path)
		if err != nil {
			return nil, nil, err
		}
		rows, err := s.DB().QueryContext(ctx, `SELECT event_id, type, subject, data, published_at IS NOT NULL
			FROM platform_outbox ORDER BY seq`)
		if err != nil {
			_ = s.Close()
			return nil, nil, err
		}
		defer func() { _ = rows.Close() }()
		var out []outboxRow
		for rows.Next() {
			var r outboxRow
			if err := rows.Scan(&r.ID, &r.Type, &r.Subject, &r.Data, &r.Published); err != nil {
				_ = s.Close()
				return nil, nil, err
			}
			out = append(out, r)
		}
		return s, out, rows.Err()
	}}
}

// Environment variables of the PostgreSQL run (as in the store's tests).
const (
	envDSN     = "TRICYCLE_TEST_POSTGRES"
	envRequire = "TRICYCLE_REQUIRE_SERVICES"
)

func postgresBackend(t *testing.T) backend {
	dsn := newDatabase(t)
	return backend{dsn: dsn, open: func(ctx context.Context) (coordination.Store, []outboxRow, error) {
		s, err := postgres.Open(ctx, dsn)
		if err != nil {
			return nil, nil, err
		}
		rows, err := s.Pool().Query(ctx, `SELECT event_id, type, subject, data::text, published_at IS NOT NULL
			FROM platform.outbox ORDER BY seq`)
		if err != nil {
			_ = s.Close()
			return nil, nil, err
		}
		defer rows.Close()
		var out []outboxRow
		for rows.Next() {
			var r outboxRow
			var data string
			if err := rows.Scan(&r.ID, &r.Type, &r.Subject, &data, &r.Published); err != nil {
				_ = s.Close()
				return nil, nil, err
			}
			r.Data = []byte(data)
			out = append(out, r)
		}
		return s, out, rows.Err()
	}}
}

// newDatabase creates an empty database on the TRICYCLE_TEST_POSTGRES
// server, dropped when the test ends, and returns its URL. Without the
// variable the test is skipped, or fails under TRICYCLE_REQUIRE_SERVICES=1.
func newDatabase(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv(envDSN)
	if dsn == "" {
		if os.Getenv(envRequire) == "1" {
			t.Fatalf("%s=1 but %s is not set", envRequire, envDSN)
		}
		t.Skipf("set %s (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run on PostgreSQL", envDSN)
	}
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("%s: the crash test needs a postgres:// URL, got %q", envDSN, dsn)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("%s=%s: server unreachable: %v", envDSN, dsn, err)
	}
	defer func() { _ = admin.Close(context.Background()) }()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "tricycle_crash_" + hex.EncodeToString(b)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name+" TEMPLATE template0"); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
			return
		}
		defer func() { _ = c.Close(context.Background()) }()
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	u.RawQuery = strings.ReplaceAll(u.Query().Encode(), "+", "%20")
	return u.String()
}
