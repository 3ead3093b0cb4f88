package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/tricyclehq/tricycle/coordination"
)

// querier is what reads need: the read pool or a transaction.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// reader implements coordination.Reader on a querier.
type reader struct{ q querier }

var _ coordination.Reader = reader{}

func decode[T any](kind, id string, data []byte) (*T, error) {
	v := new(T)
	if err := json.Unmarshal(data, v); err != nil {
		return nil, fmt.Errorf("decode %s %q: %w", kind, id, err)
	}
	return v, nil
}

// get returns the object with id from table, or an ErrNotFound error naming
// kind and id.
func get[T any](ctx context.Context, q querier, kind, table, id string) (*T, error) {
	var data []byte
	err := q.QueryRowContext(ctx, "SELECT data FROM "+table+" WHERE id = ?", id).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%s %q: %w", kind, id, coordination.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get %s %q: %w", kind, id, err)
	}
	return decode[T](kind, id, data)
}

// list decodes the data column of every row query returns; the query selects
// (id, data).
func list[T any](ctx context.Context, q querier, kind, query string, args ...any) ([]*T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list %ss: %w", kind, err)
	}
	defer func() { _ = rows.Close() }()
	out := []*T{}
	for rows.Next() {
		var id string
		var data []byte
		if err := rows.Scan(&id, &data); err != nil {
			return nil, fmt.Errorf("list %ss: %w", kind, err)
		}
		v, err := decode[T](kind, id, data)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list %ss: %w", kind, err)
	}
	return out, nil
}

// where collects the conditions and arguments of a query.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

// in adds "col IN (…)" when vals is not empty.
func in[S ~string](w *where, col string, vals []S) {
	if len(vals) == 0 {
		return
	}
	marks, args := inList(vals)
	w.add(col+" IN ("+marks+")", args...)
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// inList returns "?, ?, …" for vals and vals as arguments.
func inList[T any](vals []T) (string, []any) {
	args := make([]any, len(vals))
	for i, v := range vals {
		args[i] = v
	}
	return strings.TrimSuffix(strings.Repeat("?, ", len(vals)), ", "), args
}

// withLimit appends a LIMIT clause when limit is positive.
func withLimit(query string, args []any, limit int) (string, []any) {
	if limit <= 0 {
		return query, args
	}
	return query + " LIMIT ?", append(args, limit)
}

// ExperimentGet returns the experiment or an ErrNotFound error naming id.
func (r reader) ExperimentGet(ctx context.Context, id string) (*coordination.Experiment, error) {
	return get[coordination.Experiment](ctx, r.q, "experiment", "experiments_v1_experiments", id)
}

// ExperimentList returns the matching experiments, oldest first.
func (r reader) ExperimentList(ctx context.Context, f coordination.ExperimentFilter) ([]*coordination.Experiment, error) {
	var w where
	in(&w, "state", f.States)
	q, args := withLimit("SELECT id, data FROM experiments_v1_experiments"+w.String()+" ORDER BY created_at, id", w.args, f.Limit)
	return list[coordination.Experiment](ctx, r.q, "experiment", q, args...)
}

// PromotionGet returns the promotion or an ErrNotFound error naming id.
func (r reader) PromotionGet(ctx context.Context, id string) (*coordination.PromotionRequest, error) {
	return get[coordination.PromotionRequest](ctx, r.q, "promotion", "production_promotions", id)
}

// PromotionList returns the matching promotions, oldest first.
func (r reader) PromotionList(ctx context.Context, f coordination.PromotionFilter) ([]*coordination.PromotionRequest, error) {
	var w where
	in(&w, "state", f.States)
	if f.ExperimentID != "" {
		w.add("experiment_id = ?", f.ExperimentID)
	}
	q, args := withLimit("SELECT id, data FROM production_promotions"+w.String()+" ORDER BY requested_at, id", w.args, f.Limit)
	return list[coordination.PromotionRequest](ctx, r.q, "promotion", q, args...)
}

// ReleaseActive returns the release serving production, or an ErrNotFound error.
func (r reader) ReleaseActive(ctx context.Context) (*coordination.Release, error) {
	var id string
	var data []byte
	err := r.q.QueryRowContext(ctx, "SELECT id, data FROM production_releases WHERE state = ?",
		string(coordination.ReleaseActive)).Scan(&id, &data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("active release: %w", coordination.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get active release: %w", err)
	}
	return decode[coordination.Release]("release", id, data)
}

// ReleaseGet returns the release or an ErrNotFound error naming id.
func (r reader) ReleaseGet(ctx context.Context, id string) (*coordination.Release, error) {
	return get[coordination.Release](ctx, r.q, "release", "production_releases", id)
}

// ReleaseList returns every release, newest activation first.
func (r reader) ReleaseList(ctx context.Context) ([]*coordination.Release, error) {
	return list[coordination.Release](ctx, r.q, "release",
		"SELECT id, data FROM production_releases ORDER BY activated_at DESC, id DESC")
}

// QuarantineGet returns the record or an ErrNotFound error naming id.
func (r reader) QuarantineGet(ctx context.Context, id string) (*coordination.QuarantineRecord, error) {
	return get[coordination.QuarantineRecord](ctx, r.q, "quarantine record", "quarantine_records", id)
}

// QuarantineList returns the matching records, oldest first. A record's next
// review is its latest review's NextReviewAt when that is set, else its own;
// DueBefore compares with that, and a record without a next review is never
// due.
func (r reader) QuarantineList(ctx context.Context, f coordination.QuarantineFilter) ([]*coordination.QuarantineRecord, error) {
	var w where
	if f.ExperimentID != "" {
		w.add("q.experiment_id = ?", f.ExperimentID)
	}
	if !f.DueBefore.IsZero() {
		w.add(`COALESCE((SELECT v.next_review_at FROM quarantine_reviews v WHERE v.record_id = q.id
			ORDER BY v.reviewed_at DESC, v.id DESC LIMIT 1), q.next_review_at) < ?`, ts(f.DueBefore))
	}
	q, args := withLimit("SELECT q.id, q.data FROM quarantine_records q"+w.String()+
		" ORDER BY q.quarantined_at, q.id", w.args, f.Limit)
	return list[coordination.QuarantineRecord](ctx, r.q, "quarantine record", q, args...)
}

// QuarantineReviews returns the record's reviews, oldest first.
func (r reader) QuarantineReviews(ctx context.Context, recordID string) ([]*coordination.QuarantineReview, error) {
	return list[coordination.QuarantineReview](ctx, r.q, "quarantine review",
		"SELECT id, data FROM quarantine_reviews WHERE record_id = ? ORDER BY reviewed_at, id", recordID)
}

// BlacklistFind returns the entries, not lifted, whose Key is one of keys.
func (r reader) BlacklistFind(ctx context.Context, keys []string) ([]*coordination.BlacklistEntry, error) {
	if len(keys) == 0 {
		return []*coordination.BlacklistEntry{}, nil
	}
	var w where
	w.add("lifted_at IS NULL")
	in(&w, "key", keys)
	return list[coordination.BlacklistEntry](ctx, r.q, "blacklist entry",
		"SELECT id, data FROM quarantine_blacklist"+w.String()+" ORDER BY created_at, id", w.args...)
}

// BlacklistList returns entries, oldest first; activeOnly skips lifted ones.
func (r reader) BlacklistList(ctx context.Context, activeOnly bool) ([]*coordination.BlacklistEntry, error) {
	var w where
	if activeOnly {
		w.add("lifted_at IS NULL")
	}
	return list[coordination.BlacklistEntry](ctx, r.q, "blacklist entry",
		"SELECT id, data FROM quarantine_blacklist"+w.String()+" ORDER BY created_at, id")
}

// ProposalGet returns the proposal or an ErrNotFound error naming id.
func (r reader) ProposalGet(ctx context.Context, id string) (*coordination.Proposal, error) {
	return get[coordination.Proposal](ctx, r.q, "proposal", "experiments_v1_proposals", id)
}

// ProposalList returns the matching proposals, highest priority first, then
// oldest first.
func (r reader) ProposalList(ctx context.Context, f coordination.ProposalFilter) ([]*coordination.Proposal, error) {
	var w where
	in(&w, "state", f.States)
	q, args := withLimit("SELECT id, data FROM experiments_v1_proposals"+w.String()+
		" ORDER BY priority DESC, created_at, id", w.args, f.Limit)
	return list[coordination.Proposal](ctx, r.q, "proposal", q, args...)
}

// AuditList returns entries with Seq > f.AfterSeq in order, up to f.Limit (0 = all).
func (r reader) AuditList(ctx context.Context, f coordination.AuditFilter) ([]*coordination.AuditEntry, error) {
	q, args := withLimit("SELECT seq, data FROM audit_log WHERE seq > ? ORDER BY seq", []any{f.AfterSeq}, f.Limit)
	return list[coordination.AuditEntry](ctx, r.q, "audit entry", q, args...)
}

// KVGet returns the blob stored under key, or an ErrNotFound error naming it.
func (r reader) KVGet(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	err := r.q.QueryRowContext(ctx, "SELECT value FROM platform_kv WHERE key = ?", key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("state %q: %w", key, coordination.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get state %q: %w", key, err)
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}
