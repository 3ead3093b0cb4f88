package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tricyclehq/tricycle/coordination"
)

// tx is a coordination.Tx on a pgx transaction. It is the querier of its own
// reader, so that every statement passes through Exec, Query or QueryRow
// below, which note a serialization failure even when fn swallows it.
type tx struct {
	reader
	pg pgx.Tx
	// retry is set when a statement failed with a serialization failure or
	// deadlock: the transaction is then aborted and worth another attempt.
	retry bool
	// undo restores what successful writes set on the caller's objects
	// (versions, sequence numbers, audit links), run in reverse when the
	// transaction does not commit.
	undo []func()
}

var _ coordination.Tx = (*tx)(nil)

func (t *tx) note(err error) error {
	if err != nil && isRetryable(err) {
		t.retry = true
	}
	return err
}

// Exec runs a statement in the transaction.
func (t *tx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	tag, err := t.pg.Exec(ctx, sql, args...)
	return tag, t.note(err)
}

// Query runs a query in the transaction.
func (t *tx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	rows, err := t.pg.Query(ctx, sql, args...)
	if err != nil {
		return nil, t.note(err)
	}
	return noteRows{Rows: rows, t: t}, nil
}

// QueryRow runs a query returning at most one row in the transaction.
func (t *tx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return noteRow{row: t.pg.QueryRow(ctx, sql, args...), t: t}
}

type noteRows struct {
	pgx.Rows
	t *tx
}

func (r noteRows) Err() error { return r.t.note(r.Rows.Err()) }

type noteRow struct {
	row pgx.Row
	t   *tx
}

func (r noteRow) Scan(dest ...any) error { return r.t.note(r.row.Scan(dest...)) }

// onRollback registers f to run if the transaction does not commit.
func (t *tx) onRollback(f func()) { t.undo = append(t.undo, f) }

func (t *tx) undoAll() {
	for i := len(t.undo) - 1; i >= 0; i-- {
		t.undo[i]()
	}
	t.undo = nil
}

// row describes one object to store: its kind (for messages), table, id,
// version (nil for unversioned kinds), the queried columns and the object.
type row struct {
	kind, table, id string
	version         *int64
	cols            []string
	vals            []any
	obj             any
}

// placeholders returns "$from, $from+1, …" for n values.
func placeholders(from, n int) string {
	ps := make([]string, n)
	for i := range ps {
		ps[i] = "$" + strconv.Itoa(from+i)
	}
	return strings.Join(ps, ", ")
}

// insert stores r as a new row; it sets *r.version to 1. A duplicate id (or
// another unique value, such as a second active release) is an ErrConflict
// error that leaves the transaction usable.
func (t *tx) insert(ctx context.Context, r row) error {
	if err := checkID(r.id); err != nil {
		return fmt.Errorf("insert %s %q: %w", r.kind, r.id, err)
	}
	cols, vals := append([]string{"id"}, r.cols...), append([]any{col(r.id)}, r.vals...)
	var prev int64
	if r.version != nil {
		prev, *r.version = *r.version, 1
		cols, vals = append(cols, "version"), append(vals, int64(1))
	}
	data, err := json.Marshal(r.obj)
	if err != nil {
		restore(r.version, prev)
		return fmt.Errorf("insert %s %q: encode: %w", r.kind, r.id, err)
	}
	cols, vals = append(cols, "data"), append(vals, data)
	tag, err := t.Exec(ctx, "INSERT INTO "+r.table+" ("+strings.Join(cols, ", ")+") VALUES ("+
		placeholders(1, len(vals))+") ON CONFLICT DO NOTHING", vals...)
	if err == nil && tag.RowsAffected() == 0 {
		err = fmt.Errorf("the id, or another value that must be unique, is taken: %w", coordination.ErrConflict)
	}
	if err != nil {
		restore(r.version, prev)
		return fmt.Errorf("insert %s %q: %w", r.kind, r.id, err)
	}
	if r.version != nil {
		t.onRollback(func() { *r.version = prev })
	}
	return nil
}

// update stores r over the row with the same id and version, incrementing
// *r.version; a missing row is an ErrNotFound error, a different version an
// ErrConflict error.
func (t *tx) update(ctx context.Context, r row) error {
	if err := checkID(r.id); err != nil {
		return fmt.Errorf("update %s %q: %w", r.kind, r.id, err)
	}
	old := *r.version
	*r.version = old + 1
	data, err := json.Marshal(r.obj)
	if err != nil {
		*r.version = old
		return fmt.Errorf("update %s %q: encode: %w", r.kind, r.id, err)
	}
	sets := make([]string, 0, len(r.cols)+2)
	for i, c := range r.cols {
		sets = append(sets, c+" = $"+strconv.Itoa(i+1))
	}
	n := len(r.cols)
	sets = append(sets, "version = $"+strconv.Itoa(n+1), "data = $"+strconv.Itoa(n+2))
	args := append(append([]any{}, r.vals...), old+1, data, col(r.id), old)
	tag, err := t.Exec(ctx, "UPDATE "+r.table+" SET "+strings.Join(sets, ", ")+
		" WHERE id = $"+strconv.Itoa(n+3)+" AND version = $"+strconv.Itoa(n+4), args...)
	if err == nil && tag.RowsAffected() == 1 {
		t.onRollback(func() { *r.version = old })
		return nil
	}
	*r.version = old
	switch {
	case err != nil && isUniqueViolation(err):
		return fmt.Errorf("update %s %q: %v: %w", r.kind, r.id, err, coordination.ErrConflict)
	case err != nil:
		return fmt.Errorf("update %s %q: %w", r.kind, r.id, err)
	}
	var stored int64
	err = t.QueryRow(ctx, "SELECT version FROM "+r.table+" WHERE id = $1", col(r.id)).Scan(&stored)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("update %s %q: %w", r.kind, r.id, coordination.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("update %s %q: %w", r.kind, r.id, err)
	}
	return fmt.Errorf("update %s %q: stored version is %d, not %d: %w", r.kind, r.id, stored, old, coordination.ErrConflict)
}

// checkID refuses ids that could not be read back: empty, or not UTF-8
// (JSON would replace the invalid bytes, so the stored object's id would
// differ from its key).
func checkID(id string) error {
	if id == "" || !utf8.ValidString(id) {
		return fmt.Errorf("%w: id must be non-empty UTF-8", coordination.ErrInvalidInput)
	}
	return nil
}

func restore(v *int64, prev int64) {
	if v != nil {
		*v = prev
	}
}

func experimentRow(e *coordination.Experiment) row {
	return row{kind: "experiment", table: "experiments_v1.experiments", id: e.ID, version: &e.Version, obj: e,
		cols: []string{"state", "created_at", "updated_at"},
		vals: []any{col(string(e.State)), e.CreatedAt, e.UpdatedAt}}
}

// ExperimentInsert stores a new experiment with Version 1.
func (t *tx) ExperimentInsert(ctx context.Context, e *coordination.Experiment) error {
	return t.insert(ctx, experimentRow(e))
}

// ExperimentUpdate stores e if its Version is current and increments it.
func (t *tx) ExperimentUpdate(ctx context.Context, e *coordination.Experiment) error {
	return t.update(ctx, experimentRow(e))
}

func promotionRow(p *coordination.PromotionRequest) row {
	return row{kind: "promotion", table: "production.promotions", id: p.RequestID, version: &p.Version, obj: p,
		cols: []string{"experiment_id", "state", "requested_at", "updated_at"},
		vals: []any{col(p.ExperimentID), col(string(p.State)), p.RequestedAt, p.UpdatedAt}}
}

// PromotionInsert stores a new promotion with Version 1.
func (t *tx) PromotionInsert(ctx context.Context, p *coordination.PromotionRequest) error {
	return t.insert(ctx, promotionRow(p))
}

// PromotionUpdate stores p if its Version is current and increments it.
func (t *tx) PromotionUpdate(ctx context.Context, p *coordination.PromotionRequest) error {
	return t.update(ctx, promotionRow(p))
}

func releaseRow(r *coordination.Release) row {
	return row{kind: "release", table: "production.releases", id: r.ID, version: &r.Version, obj: r,
		cols: []string{"state", "experiment_id", "promotion_id", "activated_at"},
		vals: []any{col(string(r.State)), col(r.ExperimentID), col(r.PromotionID), r.ActivatedAt}}
}

// ReleaseInsert stores a new release with Version 1; a second active release
// is an ErrConflict error.
func (t *tx) ReleaseInsert(ctx context.Context, r *coordination.Release) error {
	return t.insert(ctx, releaseRow(r))
}

// ReleaseUpdate stores r if its Version is current and increments it; making
// it active while another release is active is an ErrConflict error. The
// check runs first, so the refusal leaves the transaction usable (a unique
// violation would abort it).
func (t *tx) ReleaseUpdate(ctx context.Context, r *coordination.Release) error {
	if r.State == coordination.ReleaseActive {
		var other string
		err := t.QueryRow(ctx, "SELECT id FROM production.releases WHERE state = $1 AND id <> $2",
			string(coordination.ReleaseActive), col(r.ID)).Scan(&other)
		if err == nil {
			return fmt.Errorf("update release %q: release %q is active: %w", r.ID, uncol(other), coordination.ErrConflict)
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("update release %q: find the active release: %w", r.ID, err)
		}
	}
	return t.update(ctx, releaseRow(r))
}

// QuarantineInsert appends an immutable quarantine record.
func (t *tx) QuarantineInsert(ctx context.Context, r *coordination.QuarantineRecord) error {
	return t.insert(ctx, row{kind: "quarantine record", table: "quarantine.records", id: r.RecordID, obj: r,
		cols: []string{"experiment_id", "failure_type", "quarantined_at", "next_review_at", "content_hash"},
		vals: []any{col(r.ExperimentID), col(string(r.FailureType)), r.QuarantinedAt, nullTime(r.NextReviewAt), col(r.ContentHash)}})
}

// QuarantineReviewInsert appends an immutable review of an existing record.
func (t *tx) QuarantineReviewInsert(ctx context.Context, r *coordination.QuarantineReview) error {
	var one int
	err := t.QueryRow(ctx, "SELECT 1 FROM quarantine.records WHERE id = $1", col(r.RecordID)).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("insert quarantine review %q: quarantine record %q: %w", r.ReviewID, r.RecordID, coordination.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("insert quarantine review %q: %w", r.ReviewID, err)
	}
	return t.insert(ctx, row{kind: "quarantine review", table: "quarantine.reviews", id: r.ReviewID, obj: r,
		cols: []string{"record_id", "reviewed_at", "next_review_at"},
		vals: []any{col(r.RecordID), r.ReviewedAt, nullTime(r.NextReviewAt)}})
}

// BlacklistInsert stores a blacklist entry.
func (t *tx) BlacklistInsert(ctx context.Context, b *coordination.BlacklistEntry) error {
	return t.insert(ctx, row{kind: "blacklist entry", table: "quarantine.blacklist", id: b.ID, obj: b,
		cols: []string{"record_id", "kind", "key", "created_at", "lifted_at", "lifted_by"},
		vals: []any{col(b.RecordID), col(string(b.Kind)), col(b.Key), b.CreatedAt, nullTime(b.LiftedAt), col(b.LiftedBy)}})
}

// BlacklistLift marks every active entry of recordID lifted by by at at and
// returns how many.
func (t *tx) BlacklistLift(ctx context.Context, recordID, by string, at time.Time) (int, error) {
	active, err := list[coordination.BlacklistEntry](ctx, t, "blacklist entry",
		"SELECT id, data FROM quarantine.blacklist WHERE record_id = $1 AND lifted_at IS NULL ORDER BY created_at, id", col(recordID))
	if err != nil {
		return 0, fmt.Errorf("lift blacklist of record %q: %w", recordID, err)
	}
	for _, b := range active {
		b.LiftedAt, b.LiftedBy = at, by
		data, err := json.Marshal(b)
		if err != nil {
			return 0, fmt.Errorf("lift blacklist entry %q: encode: %w", b.ID, err)
		}
		if _, err := t.Exec(ctx, "UPDATE quarantine.blacklist SET lifted_at = $1, lifted_by = $2, data = $3 WHERE id = $4",
			at, col(by), data, col(b.ID)); err != nil {
			return 0, fmt.Errorf("lift blacklist entry %q: %w", b.ID, err)
		}
	}
	return len(active), nil
}

func proposalRow(p *coordination.Proposal) row {
	return row{kind: "proposal", table: "experiments_v1.proposals", id: p.ProposalID, version: &p.Version, obj: p,
		cols: []string{"state", "priority", "dedupe_key", "record_id", "created_at", "updated_at"},
		vals: []any{col(string(p.State)), p.Priority, col(p.DedupeKey), col(p.RecordID), p.CreatedAt, p.UpdatedAt}}
}

// ProposalInsert stores a new proposal with Version 1.
func (t *tx) ProposalInsert(ctx context.Context, p *coordination.Proposal) error {
	return t.insert(ctx, proposalRow(p))
}

// ProposalUpdate stores p if its Version is current and increments it.
func (t *tx) ProposalUpdate(ctx context.Context, p *coordination.Proposal) error {
	return t.update(ctx, proposalRow(p))
}

// KVPut stores value under key, replacing what was there.
func (t *tx) KVPut(ctx context.Context, key string, value []byte, at time.Time) error {
	if key == "" {
		return fmt.Errorf("put state: %w: key is empty", coordination.ErrInvalidInput)
	}
	if value == nil {
		value = []byte{}
	}
	_, err := t.Exec(ctx, `INSERT INTO platform.kv (key, value, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, col(key), value, at)
	if err != nil {
		return fmt.Errorf("put state %q: %w", key, err)
	}
	return nil
}

// OutboxAppend stores events for the relay and sets their Seq; an event ID
// already in the outbox is an ErrConflict error.
func (t *tx) OutboxAppend(ctx context.Context, events ...coordination.Event) error {
	for i := range events {
		ev := &events[i]
		if ev.ID == "" || !utf8.ValidString(ev.ID) {
			return fmt.Errorf("append %s event %q: %w: id must be non-empty UTF-8", ev.Type, ev.ID, coordination.ErrInvalidInput)
		}
		data, err := json.Marshal(ev)
		if err != nil {
			return fmt.Errorf("append event %q: encode: %w", ev.ID, err)
		}
		var seq int64
		err = t.QueryRow(ctx, `INSERT INTO platform.outbox (event_id, type, subject, event_time, data)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT (event_id) DO NOTHING RETURNING seq`,
			col(ev.ID), col(ev.Type), col(ev.Subject), ev.Time, data).Scan(&seq)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("append event %q: already in the outbox: %w", ev.ID, coordination.ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("append event %q: %w", ev.ID, err)
		}
		prev := ev.Seq
		ev.Seq = seq
		t.onRollback(func() { ev.Seq = prev })
	}
	return nil
}

// AuditAppend links e to the chain head (setting Seq, PrevHash and Hash) and
// stores it. It locks the head row until the transaction ends, so two
// transactions never take the same seq.
func (t *tx) AuditAppend(ctx context.Context, e *coordination.AuditEntry) error {
	entry := *e
	if err := t.QueryRow(ctx, "SELECT seq, hash FROM audit.chain_head FOR UPDATE").Scan(&entry.Seq, &entry.PrevHash); err != nil {
		return fmt.Errorf("append audit entry %s %s: lock chain head: %w", e.Action, e.Target, err)
	}
	entry.Seq++
	// Hash the details as they will read back (a struct becomes a map with
	// sorted keys, numbers become float64), so that the chain verifies.
	raw, err := json.Marshal(entry.Details)
	entry.Details = nil
	if err == nil {
		err = json.Unmarshal(raw, &entry.Details)
	}
	if err != nil {
		return fmt.Errorf("append audit entry %s %s: details: %w", e.Action, e.Target, err)
	}
	entry.Hash = coordination.AuditHash(&entry)
	data, err := json.Marshal(&entry)
	if err != nil {
		return fmt.Errorf("append audit entry %s %s: encode: %w", e.Action, e.Target, err)
	}
	if _, err := t.Exec(ctx, `INSERT INTO audit.log (seq, at, actor, role, action, target, prev_hash, hash, data)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, entry.Seq, entry.At, col(entry.Actor), col(string(entry.Role)),
		col(entry.Action), col(entry.Target), entry.PrevHash, entry.Hash, data); err != nil {
		return fmt.Errorf("append audit entry %s %s: %w", e.Action, e.Target, err)
	}
	if _, err := t.Exec(ctx, "UPDATE audit.chain_head SET seq = $1, hash = $2", entry.Seq, entry.Hash); err != nil {
		return fmt.Errorf("append audit entry %s %s: move chain head: %w", e.Action, e.Target, err)
	}
	orig := *e
	*e = entry
	t.onRollback(func() { *e = orig })
	return nil
}
