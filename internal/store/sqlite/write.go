package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tricyclehq/tricycle/coordination"
)

// tx is a coordination.Tx on a database/sql transaction.
type tx struct{ reader }

var _ coordination.Tx = (*tx)(nil)

// row describes one object to store: its kind (for messages), table, id,
// version (nil for unversioned kinds), the queried columns and the object.
type row struct {
	kind, table, id string
	version         *int64
	cols            []string
	vals            []any
	obj             any
}

// insert stores r as a new row; it sets *r.version to 1. A duplicate id (or
// a second active release) is an ErrConflict error.
func (t *tx) insert(ctx context.Context, r row) error {
	if err := checkID(r); err != nil {
		return fmt.Errorf("insert %s %q: %w", r.kind, r.id, err)
	}
	cols, vals := append([]string{"id"}, r.cols...), append([]any{r.id}, r.vals...)
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
	cols, vals = append(cols, "data"), append(vals, string(data))
	marks, _ := inList(cols)
	_, err = t.q.ExecContext(ctx, "INSERT INTO "+r.table+" ("+strings.Join(cols, ", ")+") VALUES ("+marks+")", vals...)
	if err != nil {
		restore(r.version, prev)
		if isUniqueViolation(err) {
			return fmt.Errorf("insert %s %q: %v: %w", r.kind, r.id, err, coordination.ErrConflict)
		}
		return fmt.Errorf("insert %s %q: %w", r.kind, r.id, err)
	}
	return nil
}

// update stores r over the row with the same id and version, incrementing
// *r.version; a missing row is an ErrNotFound error, a different version an
// ErrConflict error.
func (t *tx) update(ctx context.Context, r row) error {
	if err := checkID(r); err != nil {
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
	for _, c := range r.cols {
		sets = append(sets, c+" = ?")
	}
	sets = append(sets, "version = ?", "data = ?")
	args := append(append([]any{}, r.vals...), old+1, string(data), r.id, old)
	res, err := t.q.ExecContext(ctx, "UPDATE "+r.table+" SET "+strings.Join(sets, ", ")+
		" WHERE id = ? AND version = ?", args...)
	if err == nil {
		var n int64
		if n, err = res.RowsAffected(); err == nil && n == 1 {
			return nil
		}
	}
	*r.version = old
	switch {
	case err != nil && isUniqueViolation(err):
		return fmt.Errorf("update %s %q: %v: %w", r.kind, r.id, err, coordination.ErrConflict)
	case err != nil:
		return fmt.Errorf("update %s %q: %w", r.kind, r.id, err)
	}
	var stored int64
	err = t.q.QueryRowContext(ctx, "SELECT version FROM "+r.table+" WHERE id = ?", r.id).Scan(&stored)
	if errors.Is(err, sql.ErrNoRows) {
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
func checkID(r row) error {
	if r.id == "" || !utf8.ValidString(r.id) {
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
	return row{kind: "experiment", table: "experiments_v1_experiments", id: e.ID, version: &e.Version, obj: e,
		cols: []string{"state", "created_at", "updated_at"},
		vals: []any{string(e.State), ts(e.CreatedAt), ts(e.UpdatedAt)}}
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
	return row{kind: "promotion", table: "production_promotions", id: p.RequestID, version: &p.Version, obj: p,
		cols: []string{"experiment_id", "state", "requested_at", "updated_at"},
		vals: []any{p.ExperimentID, string(p.State), ts(p.RequestedAt), ts(p.UpdatedAt)}}
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
	return row{kind: "release", table: "production_releases", id: r.ID, version: &r.Version, obj: r,
		cols: []string{"state", "experiment_id", "promotion_id", "activated_at"},
		vals: []any{string(r.State), r.ExperimentID, r.PromotionID, ts(r.ActivatedAt)}}
}

// ReleaseInsert stores a new release with Version 1; a second active release
// is an ErrConflict error.
func (t *tx) ReleaseInsert(ctx context.Context, r *coordination.Release) error {
	return t.insert(ctx, releaseRow(r))
}

// ReleaseUpdate stores r if its Version is current and increments it.
func (t *tx) ReleaseUpdate(ctx context.Context, r *coordination.Release) error {
	return t.update(ctx, releaseRow(r))
}

// QuarantineInsert appends an immutable quarantine record.
func (t *tx) QuarantineInsert(ctx context.Context, r *coordination.QuarantineRecord) error {
	return t.insert(ctx, row{kind: "quarantine record", table: "quarantine_records", id: r.RecordID, obj: r,
		cols: []string{"experiment_id", "failure_type", "quarantined_at", "next_review_at", "content_hash"},
		vals: []any{r.ExperimentID, string(r.FailureType), ts(r.QuarantinedAt), nullTS(r.NextReviewAt), r.ContentHash}})
}

// QuarantineReviewInsert appends an immutable review of an existing record.
func (t *tx) QuarantineReviewInsert(ctx context.Context, r *coordination.QuarantineReview) error {
	var one int
	err := t.q.QueryRowContext(ctx, "SELECT 1 FROM quarantine_records WHERE id = ?", r.RecordID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("insert quarantine review %q: quarantine record %q: %w", r.ReviewID, r.RecordID, coordination.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("insert quarantine review %q: %w", r.ReviewID, err)
	}
	return t.insert(ctx, row{kind: "quarantine review", table: "quarantine_reviews", id: r.ReviewID, obj: r,
		cols: []string{"record_id", "reviewed_at", "next_review_at"},
		vals: []any{r.RecordID, ts(r.ReviewedAt), nullTS(r.NextReviewAt)}})
}

// BlacklistInsert stores a blacklist entry.
func (t *tx) BlacklistInsert(ctx context.Context, b *coordination.BlacklistEntry) error {
	return t.insert(ctx, row{kind: "blacklist entry", table: "quarantine_blacklist", id: b.ID, obj: b,
		cols: []string{"record_id", "kind", "key", "created_at", "lifted_at", "lifted_by"},
		vals: []any{b.RecordID, string(b.Kind), b.Key, ts(b.CreatedAt), nullTS(b.LiftedAt), b.LiftedBy}})
}

// BlacklistLift marks every active entry of recordID lifted by by at at and
// returns how many.
func (t *tx) BlacklistLift(ctx context.Context, recordID, by string, at time.Time) (int, error) {
	active, err := list[coordination.BlacklistEntry](ctx, t.q, "blacklist entry",
		"SELECT id, data FROM quarantine_blacklist WHERE record_id = ? AND lifted_at IS NULL ORDER BY created_at, id", recordID)
	if err != nil {
		return 0, fmt.Errorf("lift blacklist of record %q: %w", recordID, err)
	}
	for _, b := range active {
		b.LiftedAt, b.LiftedBy = at, by
		data, err := json.Marshal(b)
		if err != nil {
			return 0, fmt.Errorf("lift blacklist entry %q: encode: %w", b.ID, err)
		}
		if _, err := t.q.ExecContext(ctx, "UPDATE quarantine_blacklist SET lifted_at = ?, lifted_by = ?, data = ? WHERE id = ?",
			ts(at), by, string(data), b.ID); err != nil {
			return 0, fmt.Errorf("lift blacklist entry %q: %w", b.ID, err)
		}
	}
	return len(active), nil
}

func proposalRow(p *coordination.Proposal) row {
	return row{kind: "proposal", table: "experiments_v1_proposals", id: p.ProposalID, version: &p.Version, obj: p,
		cols: []string{"state", "priority", "dedupe_key", "record_id", "created_at", "updated_at"},
		vals: []any{string(p.State), p.Priority, p.DedupeKey, p.RecordID, ts(p.CreatedAt), ts(p.UpdatedAt)}}
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
	_, err := t.q.ExecContext(ctx, `INSERT INTO platform_kv (key, value, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, key, value, ts(at))
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
		err = t.q.QueryRowContext(ctx, `INSERT INTO platform_outbox (event_id, type, subject, event_time, data)
			VALUES (?, ?, ?, ?, ?) RETURNING seq`, ev.ID, ev.Type, ev.Subject, ts(ev.Time), string(data)).Scan(&ev.Seq)
		if err != nil {
			if isUniqueViolation(err) {
				return fmt.Errorf("append event %q: already in the outbox: %w", ev.ID, coordination.ErrConflict)
			}
			return fmt.Errorf("append event %q: %w", ev.ID, err)
		}
	}
	return nil
}

// AuditAppend links e to the last stored entry (setting Seq, PrevHash and
// Hash) and stores it.
func (t *tx) AuditAppend(ctx context.Context, e *coordination.AuditEntry) error {
	entry := *e
	entry.Seq, entry.PrevHash = 0, ""
	err := t.q.QueryRowContext(ctx, "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").Scan(&entry.Seq, &entry.PrevHash)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("append audit entry %s %s: read chain head: %w", e.Action, e.Target, err)
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
	_, err = t.q.ExecContext(ctx, `INSERT INTO audit_log (seq, at, actor, role, action, target, prev_hash, hash, data)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, entry.Seq, ts(entry.At), entry.Actor, string(entry.Role), entry.Action,
		entry.Target, entry.PrevHash, entry.Hash, string(data))
	if err != nil {
		return fmt.Errorf("append audit entry %s %s: %w", e.Action, e.Target, err)
	}
	*e = entry
	return nil
}
