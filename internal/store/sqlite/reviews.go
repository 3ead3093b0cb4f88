package sqlite

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
	return t.insert(ctx, row{kind: "review", table: "production_reviews", id: r.ID,
		cols: []string{"owner", "repository", "arm", "variant", "created_at"},
		vals: []any{r.Owner, r.Repository, r.Arm, r.Variant, ts(r.CreatedAt)}, obj: r})
}

// ReviewGet returns the review id.
func (r reader) ReviewGet(ctx context.Context, id string) (*coordination.StoredReview, error) {
	return get[coordination.StoredReview](ctx, r.q, "review", "production_reviews", id)
}

// ReviewsDelete removes every review created before before.
func (t *tx) ReviewsDelete(ctx context.Context, before time.Time) (int, error) {
	res, err := t.q.ExecContext(ctx, "DELETE FROM production_reviews WHERE created_at < ?", ts(before))
	if err != nil {
		return 0, fmt.Errorf("delete reviews before %s: %w", ts(before), err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete reviews before %s: %w", ts(before), err)
	}
	return int(n), nil
}
