package coordination

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// The memory store keeps each answered review as one key-value entry
// holding its JSON, under a key that starts with a NUL byte, so that
// reviews commit and roll back with the rest of a transaction. A removed
// review's entry is empty.
const memReviewPrefix = "\x00reviews\x00"

// ReviewInsert stores r; its ID must be new.
func (t *memTx) ReviewInsert(_ context.Context, r *StoredReview) error {
	if err := r.Validate(); err != nil {
		return fmt.Errorf("insert: %w", err)
	}
	old, _, err := t.kvRead(memReviewPrefix + r.ID)
	if err != nil {
		return fmt.Errorf("insert review %q: %w", r.ID, err)
	}
	if len(old) > 0 {
		return fmt.Errorf("insert review %q: already exists: %w", r.ID, ErrConflict)
	}
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("insert review %q: encode: %w", r.ID, err)
	}
	t.kv[memReviewPrefix+r.ID] = data
	return nil
}

// ReviewGet returns the review id.
func (v memView) ReviewGet(_ context.Context, id string) (*StoredReview, error) {
	raw, _, err := v.kvRead(memReviewPrefix + id)
	if err != nil {
		return nil, fmt.Errorf("get review %q: %w", id, err)
	}
	if len(raw) == 0 {
		return nil, notFound("review", id)
	}
	var r StoredReview
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("decode review %q: %w", id, err)
	}
	return &r, nil
}

// ReviewsDelete removes every review created before before.
func (t *memTx) ReviewsDelete(_ context.Context, before time.Time) (int, error) {
	var gone []string
	err := t.kvScan(memReviewPrefix, func(id string, value []byte) error {
		if len(value) == 0 {
			return nil
		}
		var r StoredReview
		if err := json.Unmarshal(value, &r); err != nil {
			return fmt.Errorf("decode review %q: %w", id, err)
		}
		if r.CreatedAt.Before(before) {
			gone = append(gone, id)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("delete reviews before %s: %w", before.Format(time.RFC3339), err)
	}
	for _, id := range gone {
		t.kv[memReviewPrefix+id] = nil
	}
	return len(gone), nil
}
