package postgres_test

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
)

// Environment variables that enable the tests against a real server.
const (
	envDSN     = "TRICYCLE_TEST_POSTGRES"
	envRequire = "TRICYCLE_REQUIRE_SERVICES"
)

// serverDSN returns the DSN in TRICYCLE_TEST_POSTGRES. When it is unset the
// test is skipped, unless TRICYCLE_REQUIRE_SERVICES=1, which makes a missing
// variable or an unreachable server a failure.
func serverDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(envDSN)
	if dsn == "" {
		if os.Getenv(envRequire) == "1" {
			t.Fatalf("%s=1 but %s is not set", envRequire, envDSN)
		}
		t.Skipf("set %s (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run the PostgreSQL tests", envDSN)
	}
	return dsn
}

// newDatabase creates an empty database tricycle_test_<random> on the test
// server, drops it when the test ends, and returns its DSN.
func newDatabase(t testing.TB) string {
	t.Helper()
	dsn := serverDSN(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("%s=%s: server unreachable: %v", envDSN, dsn, err)
	}
	defer func() { _ = admin.Close(context.Background()) }()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "tricycle_test_" + hex.EncodeToString(b)
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
	return withDatabase(t, dsn, name)
}

// withDatabase returns dsn pointing at database name instead.
func withDatabase(t testing.TB, dsn, name string) string {
	t.Helper()
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		u.Path = "/" + name
		return u.String()
	}
	if strings.Contains(dsn, "://") {
		t.Fatalf("%s: cannot parse %q", envDSN, dsn)
	}
	return dsn + " dbname=" + name // a later key wins
}

// withParam returns dsn with one more connection parameter.
func withParam(t testing.TB, dsn, key, value string) string {
	t.Helper()
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		q.Set(key, value)
		// Encode spaces as %20: libpq-style parsers do not read "+" as one.
		u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
		return u.String()
	}
	return dsn + " " + key + "='" + strings.ReplaceAll(value, "'", `\'`) + "'"
}
