package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
)

// ReviewInsert stores r; a stored ID is an ErrConflict error.
func (t *tx) ReviewInsert(ctx context.Context, r *coordination.StoredReview) error {
	if err := r.Validate(); err != nil {
		return fmt.Errorf("insert: %w", err)
	}
	return t.insert(ctx, row{kind: "review", table: "production.reviews", id: r.ID,
		cols: []string{"owner", "repository", "arm", "variant", "created_at"},
		vals: []any{col(r.Owner), col(r.Repository), col(r.Arm), col(r.Variant), r.CreatedAt}, obj: r})
}

// ReviewGet returns the review id.
func (r reader) ReviewGet(ctx context.Context, id string) (*coordination.StoredReview, error) {
	return get[coordination.StoredReview](ctx, r.q, "review", "production.reviews", id)
}

// ReviewsDelete removes every review created before before (compared at
// microsecond precision).
func (t *tx) ReviewsDelete(ctx context.Context, before time.Time) (int, error) {
	tag, err := t.Exec(ctx, "DELETE FROM production.reviews WHERE created_at < $1", before)
	if err != nil {
		return 0, fmt.Errorf("delete reviews before %s: %w", before.Format(time.RFC3339Nano), err)
	}
	return int(tag.RowsAffected()), nil
}
