package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tricyclehq/tricycle/coordination"
)

// querier is what reads need: the pool or a transaction.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
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
	err := q.QueryRow(ctx, "SELECT data FROM "+table+" WHERE id = $1", col(id)).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
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
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list %ss: %w", kind, err)
	}
	defer rows.Close()
	out := []*T{}
	for rows.Next() {
		var id string
		var data []byte
		if err := rows.Scan(&id, &data); err != nil {
			return nil, fmt.Errorf("list %ss: %w", kind, err)
		}
		v, err := decode[T](kind, uncol(id), data)
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

// where collects the conditions and arguments of a query, numbering the
// placeholders.
type where struct {
	conds []string
	args  []any
}

// arg adds an argument and returns its placeholder.
func (w *where) arg(v any) string {
	w.args = append(w.args, v)
	return "$" + strconv.Itoa(len(w.args))
}

// add adds a condition; each "?" in cond becomes the placeholder of the
// next of args.
func (w *where) add(cond string, args ...any) {
	for _, a := range args {
		cond = strings.Replace(cond, "?", w.arg(a), 1)
	}
	w.conds = append(w.conds, cond)
}

// in adds "col = ANY(…)" when vals is not empty.
func in[S ~string](w *where, column string, vals []S) {
	if len(vals) > 0 {
		w.add(column+" = ANY(?)", cols(vals))
	}
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// withLimit appends a LIMIT clause when limit is positive.
func withLimit(query string, args []any, limit int) (string, []any) {
	if limit <= 0 {
		return query, args
	}
	args = append(args, limit)
	return query + " LIMIT $" + strconv.Itoa(len(args)), args
}

// ExperimentGet returns the experiment or an ErrNotFound error naming id.
func (r reader) ExperimentGet(ctx context.Context, id string) (*coordination.Experiment, error) {
	return get[coordination.Experiment](ctx, r.q, "experiment", "experiments_v1.experiments", id)
}

// ExperimentList returns the matching experiments, oldest first.
func (r reader) ExperimentList(ctx context.Context, f coordination.ExperimentFilter) ([]*coordination.Experiment, error) {
	var w where
	in(&w, "state", f.States)
	q, args := withLimit("SELECT id, data FROM experiments_v1.experiments"+w.String()+" ORDER BY created_at, id", w.args, f.Limit)
	return list[coordination.Experiment](ctx, r.q, "experiment", q, args...)
}

// PromotionGet returns the promotion or an ErrNotFound error naming id.
func (r reader) PromotionGet(ctx context.Context, id string) (*coordination.PromotionRequest, error) {
	return get[coordination.PromotionRequest](ctx, r.q, "promotion", "production.promotions", id)
}

// PromotionList returns the matching promotions, oldest first.
func (r reader) PromotionList(ctx context.Context, f coordination.PromotionFilter) ([]*coordination.PromotionRequest, error) {
	var w where
	in(&w, "state", f.States)
	if f.ExperimentID != "" {
		w.add("experiment_id = ?", col(f.ExperimentID))
	}
	q, args := withLimit("SELECT id, data FROM production.promotions"+w.String()+" ORDER BY requested_at, id", w.args, f.Limit)
	return list[coordination.PromotionRequest](ctx, r.q, "promotion", q, args...)
}

// ReleaseActive returns the release serving production, or an ErrNotFound error.
func (r reader) ReleaseActive(ctx context.Context) (*coordination.Release, error) {
	var id string
	var data []byte
	err := r.q.QueryRow(ctx, "SELECT id, data FROM production.releases WHERE state = $1",
		string(coordination.ReleaseActive)).Scan(&id, &data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("active release: %w", coordination.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get active release: %w", err)
	}
	return decode[coordination.Release]("release", uncol(id), data)
}

// ReleaseGet returns the release or an ErrNotFound error naming id.
func (r reader) ReleaseGet(ctx context.Context, id string) (*coordination.Release, error) {
	return get[coordination.Release](ctx, r.q, "release", "production.releases", id)
}

// ReleaseList returns every release, newest activation first.
func (r reader) ReleaseList(ctx context.Context) ([]*coordination.Release, error) {
	return list[coordination.Release](ctx, r.q, "release",
		"SELECT id, data FROM production.releases ORDER BY activated_at DESC, id DESC")
}

// QuarantineGet returns the record or an ErrNotFound error naming id.
func (r reader) QuarantineGet(ctx context.Context, id string) (*coordination.QuarantineRecord, error) {
	return get[coordination.QuarantineRecord](ctx, r.q, "quarantine record", "quarantine.records", id)
}

// QuarantineList returns the matching records, oldest first. A record's next
// review is its latest review's NextReviewAt when that is set, else its own;
// DueBefore compares with that, and a record without a next review is never
// due.
func (r reader) QuarantineList(ctx context.Context, f coordination.QuarantineFilter) ([]*coordination.QuarantineRecord, error) {
	var w where
	if f.ExperimentID != "" {
		w.add("q.experiment_id = ?", col(f.ExperimentID))
	}
	if !f.DueBefore.IsZero() {
		w.add(`COALESCE((SELECT v.next_review_at FROM quarantine.reviews v WHERE v.record_id = q.id
			ORDER BY v.reviewed_at DESC, v.id DESC LIMIT 1), q.next_review_at) < ?`, f.DueBefore)
	}
	q, args := withLimit("SELECT q.id, q.data FROM quarantine.records q"+w.String()+
		" ORDER BY q.quarantined_at, q.id", w.args, f.Limit)
	return list[coordination.QuarantineRecord](ctx, r.q, "quarantine record", q, args...)
}

// QuarantineReviews returns the record's reviews, oldest first.
func (r reader) QuarantineReviews(ctx context.Context, recordID string) ([]*coordination.QuarantineReview, error) {
	return list[coordination.QuarantineReview](ctx, r.q, "quarantine review",
		"SELECT id, data FROM quarantine.reviews WHERE record_id = $1 ORDER BY reviewed_at, id", col(recordID))
}

// BlacklistFind returns the entries, not lifted, whose Key is one of keys.
func (r reader) BlacklistFind(ctx context.Context, keys []string) ([]*coordination.BlacklistEntry, error) {
	if len(keys) == 0 {
		return []*coordination.BlacklistEntry{}, nil
	}
	return list[coordination.BlacklistEntry](ctx, r.q, "blacklist entry",
		"SELECT id, data FROM quarantine.blacklist WHERE lifted_at IS NULL AND key = ANY($1) ORDER BY created_at, id", cols(keys))
}

// BlacklistList returns entries, oldest first; activeOnly skips lifted ones.
func (r reader) BlacklistList(ctx context.Context, activeOnly bool) ([]*coordination.BlacklistEntry, error) {
	q := "SELECT id, data FROM quarantine.blacklist ORDER BY created_at, id"
	if activeOnly {
		q = "SELECT id, data FROM quarantine.blacklist WHERE lifted_at IS NULL ORDER BY created_at, id"
	}
	return list[coordination.BlacklistEntry](ctx, r.q, "blacklist entry", q)
}

// ProposalGet returns the proposal or an ErrNotFound error naming id.
func (r reader) ProposalGet(ctx context.Context, id string) (*coordination.Proposal, error) {
	return get[coordination.Proposal](ctx, r.q, "proposal", "experiments_v1.proposals", id)
}

// ProposalList returns the matching proposals, highest priority first, then
// oldest first.
func (r reader) ProposalList(ctx context.Context, f coordination.ProposalFilter) ([]*coordination.Proposal, error) {
	var w where
	in(&w, "state", f.States)
	q, args := withLimit("SELECT id, data FROM experiments_v1.proposals"+w.String()+
		" ORDER BY priority DESC, created_at, id", w.args, f.Limit)
	return list[coordination.Proposal](ctx, r.q, "proposal", q, args...)
}

// AuditList returns entries with Seq > f.AfterSeq in order, up to f.Limit (0 = all).
func (r reader) AuditList(ctx context.Context, f coordination.AuditFilter) ([]*coordination.AuditEntry, error) {
	q, args := withLimit("SELECT seq::text AS id, data FROM audit.log WHERE seq > $1 ORDER BY audit.log.seq", []any{f.AfterSeq}, f.Limit)
	return list[coordination.AuditEntry](ctx, r.q, "audit entry", q, args...)
}

// KVGet returns the blob stored under key, or an ErrNotFound error naming it.
func (r reader) KVGet(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	err := r.q.QueryRow(ctx, "SELECT value FROM platform.kv WHERE key = $1", col(key)).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
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
