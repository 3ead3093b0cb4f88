package coordination

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"
)

// StoredReview is an answered production review as the data plane keeps it
// for later reads by its owner: the identifying fields as columns and the
// gateway's whole review as JSON in Data, which the store keeps as it is
// (compacted). Feedback on its findings is stored apart (FeedbackInsert).
type StoredReview struct {
	ID string `json:"id"`
	// Owner is the name of the actor who asked for the review.
	Owner      string    `json:"owner"`
	Repository string    `json:"repository,omitempty"`
	Arm        string    `json:"arm"`
	Variant    string    `json:"variant"`
	CreatedAt  time.Time `json:"created_at"`
	// Data is the gateway's review as a JSON value.
	Data json.RawMessage `json:"data"`
}

// Validate reports the first field a store would refuse: an ID that is
// empty or not UTF-8, or Data that is not one JSON value (ErrInvalidInput).
func (r *StoredReview) Validate() error {
	if r.ID == "" || !utf8.ValidString(r.ID) {
		return fmt.Errorf("review %q: %w", r.ID, invalidInput("id", "must be non-empty UTF-8"))
	}
	if !json.Valid(r.Data) {
		return fmt.Errorf("review %q: %w", r.ID, invalidInput("data", "must be one JSON value"))
	}
	return nil
}

// ReviewReader is the read half of the review seam, part of Reader.
type ReviewReader interface {
	// ReviewGet returns the review id, or an error wrapping ErrNotFound
	// naming the id.
	ReviewGet(ctx context.Context, id string) (*StoredReview, error)
}

// ReviewWriter is the write half of the review seam, part of Tx.
type ReviewWriter interface {
	// ReviewInsert stores r. ID must be non-empty UTF-8 and Data one JSON
	// value (ErrInvalidInput); a stored ID is ErrConflict.
	ReviewInsert(ctx context.Context, r *StoredReview) error
	// ReviewsDelete removes every review created before before and returns
	// how many it removed (retention).
	ReviewsDelete(ctx context.Context, before time.Time) (int, error)
}
