package postgres

import (
	"cmp"
	"context"
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLock is the advisory lock key that serializes migrations of one
// database ("tricycle" in ASCII).
const migrationLock int64 = 0x7472696379636c65

// migrate applies the embedded migrations that platform.schema_migrations
// does not list yet, in version order, in one transaction. The transaction
// first takes an advisory lock, so replicas starting at once wait for each
// other and the later ones find nothing to apply. When nothing is pending
// it runs no DDL, so a role without DDL rights (tricycle_app) can open an
// up-to-date database.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	files, err := migrationFiles()
	if err != nil {
		return err
	}
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return fmt.Errorf("begin migration: %w", err)
	}
	defer rollback(ctx, tx) // a no-op after Commit
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLock); err != nil {
		return fmt.Errorf("lock migrations: %w", err)
	}
	var exists bool
	if err := tx.QueryRow(ctx, "SELECT to_regclass('platform.schema_migrations') IS NOT NULL").Scan(&exists); err != nil {
		return fmt.Errorf("find schema_migrations: %w", err)
	}
	if !exists {
		if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS platform;
			CREATE TABLE platform.schema_migrations (
				version integer PRIMARY KEY,
				name    text    NOT NULL
			)`, pgx.QueryExecModeSimpleProtocol); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
	}
	var current int
	if err := tx.QueryRow(ctx, "SELECT COALESCE(MAX(version), 0) FROM platform.schema_migrations").Scan(&current); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	for _, m := range files {
		if m.version <= current {
			continue
		}
		// The simple protocol runs a file of several statements in one call.
		if _, err := tx.Exec(ctx, m.sql, pgx.QueryExecModeSimpleProtocol); err != nil {
			return fmt.Errorf("apply migration %03d_%s: %w", m.version, m.name, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO platform.schema_migrations (version, name) VALUES ($1, $2)",
			m.version, m.name); err != nil {
			return fmt.Errorf("record migration %03d_%s: %w", m.version, m.name, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
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

// Migrations returns the version numbers of the embedded migrations, in
// order: after Open, platform.schema_migrations lists exactly these.
func Migrations() ([]int, error) {
	files, err := migrationFiles()
	if err != nil {
		return nil, err
	}
	out := make([]int, len(files))
	for i, m := range files {
		out[i] = m.version
	}
	return out, nil
}
