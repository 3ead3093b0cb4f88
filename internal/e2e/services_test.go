package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Environment variables that enable the test.
const (
	envE2E      = "TRICYCLE_E2E"
	envPostgres = "TRICYCLE_TEST_POSTGRES"
	envNATS     = "TRICYCLE_TEST_NATS"
	envRequire  = "TRICYCLE_REQUIRE_SERVICES"
)

// services returns the PostgreSQL and NATS URLs, or skips the test (fails
// it under TRICYCLE_REQUIRE_SERVICES=1 when a variable is missing).
func services(t *testing.T) (pg, natsURL string) {
	t.Helper()
	if testing.Short() || os.Getenv(envE2E) != "1" {
		t.Skipf("set %s=1 (without -short) to run the multi-process end-to-end test", envE2E)
	}
	pg, natsURL = os.Getenv(envPostgres), os.Getenv(envNATS)
	if pg == "" || natsURL == "" {
		if os.Getenv(envRequire) == "1" {
			t.Fatalf("%s=1 but %s or %s is not set", envRequire, envPostgres, envNATS)
		}
		t.Skipf("set %s and %s to run the end-to-end test", envPostgres, envNATS)
	}
	return pg, natsURL
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newDatabase creates an empty database, dropped when the test ends, and
// returns its URL.
func newDatabase(t *testing.T, dsn string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("%s: want a postgres:// URL, got %q", envPostgres, dsn)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("%s=%s: server unreachable: %v", envPostgres, dsn, err)
	}
	defer func() { _ = admin.Close(context.Background()) }()
	name := "tricycle_e2e_" + randomHex(6)
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

// newStream returns a stream name and subject prefix of the test's own,
// whose stream is deleted when the test ends.
func newStream(t *testing.T, natsURL string) (stream, prefix string) {
	t.Helper()
	id := randomHex(5)
	stream, prefix = "E2E_"+strings.ToUpper(id), "e2e"+id
	nc, err := nats.Connect(natsURL, nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatalf("%s=%s: server unreachable: %v", envNATS, natsURL, err)
	}
	t.Cleanup(func() {
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			t.Errorf("delete stream %s: %v", stream, err)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := js.DeleteStream(ctx, stream); err != nil && err != jetstream.ErrStreamNotFound {
			t.Errorf("delete stream %s: %v", stream, err)
		}
	})
	return stream, prefix
}

// outboxRow is one event of the outbox, with whether it was published.
type outboxRow struct {
	ID, Type, Subject, Data string
	Published               bool
}

// readOutbox returns every outbox event in commit order.
func readOutbox(ctx context.Context, dsn string) ([]outboxRow, error) {
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer func() { _ = c.Close(context.Background()) }()
	rows, err := c.Query(ctx, `SELECT event_id, type, subject, data::text, published_at IS NOT NULL
		FROM platform.outbox ORDER BY seq`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []outboxRow
	for rows.Next() {
		var r outboxRow
		if err := rows.Scan(&r.ID, &r.Type, &r.Subject, &r.Data, &r.Published); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
