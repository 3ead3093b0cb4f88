package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
)

// StoredReviews is a ReviewStore over the coordination store: answered
// reviews survive a restart and every gateway replica reads the same ones.
// Each review is one row (coordination.StoredReview, the Result as its
// JSON data) and each verdict one coordination.FindingFeedback, the rows
// the coordinator's feedback hook reads.
//
// Every write is its own short transaction on the request path. On SQLite
// that is one fsync, about 0.3 ms per answered review, which is small
// beside the review itself; the gateway answers even when the write fails
// (it logs the error), so a slow or unavailable store never fails a review.
type StoredReviews struct {
	store coordination.Store
}

var _ ReviewStore = (*StoredReviews)(nil)

// NewStoredReviews returns a ReviewStore that keeps reviews in store.
func NewStoredReviews(store coordination.Store) *StoredReviews {
	return &StoredReviews{store: store}
}

// storedData is the JSON data of a stored review: the Result with its
// exact latency, which Result's own JSON carries only in milliseconds.
type storedData struct {
	Result
	LatencyNS int64 `json:"latency_ns"`
}

// feedbackID names the verdict on a finding of a review; a finding has one
// verdict, so a second one is an ErrConflict of the store.
func feedbackID(reviewID string, finding int) string {
	return fmt.Sprintf("%s/finding/%d", reviewID, finding)
}

// ReviewPut stores r (and any feedback it already carries) in one
// transaction; a review ID already stored is an error wrapping
// coordination.ErrConflict, since stored reviews are never replaced.
func (s *StoredReviews) ReviewPut(ctx context.Context, r *StoredReview) error {
	if r.ReviewID == "" {
		return fmt.Errorf("store review: %w: empty review id", coordination.ErrInvalidInput)
	}
	data, err := json.Marshal(storedData{Result: r.Result, LatencyNS: int64(r.Latency)})
	if err != nil {
		return fmt.Errorf("store review %s: encode: %w", r.ReviewID, err)
	}
	row := &coordination.StoredReview{ID: r.ReviewID, Owner: r.Owner, Repository: r.Repository, Arm: string(r.Arm),
		Variant: r.Variant, CreatedAt: r.CreatedAt, Data: data}
	err = s.store.InTx(ctx, func(ctx context.Context, tx coordination.Tx) error {
		if err := tx.ReviewInsert(ctx, row); err != nil {
			return err
		}
		return insertFeedback(ctx, tx, &r.Result, r.Owner, r.Feedback)
	})
	if err != nil {
		return fmt.Errorf("store review %s: %w", r.ReviewID, err)
	}
	return nil
}

// ReviewGet returns the review id with its feedback, oldest verdict first.
func (s *StoredReviews) ReviewGet(ctx context.Context, id string) (*StoredReview, error) {
	row, err := s.store.ReviewGet(ctx, id)
	if err != nil {
		// The store's error names the review already.
		return nil, fmt.Errorf("read stored %w", err)
	}
	rv, err := decodeReview(row)
	if err != nil {
		return nil, err
	}
	// Verdicts are stored no earlier than the review's creation (see
	// insertFeedback), so reading from then on finds them all.
	fs, err := s.store.FeedbackSince(ctx, row.CreatedAt)
	if err != nil {
		return nil, fmt.Errorf("review %s: feedback: %w", id, err)
	}
	for _, f := range fs {
		if f.ReviewID == id {
			rv.Feedback = append(rv.Feedback, FeedbackItem{Finding: f.Finding, Verdict: f.Verdict, Text: f.Text, At: f.At})
		}
	}
	return rv, nil
}

// ReviewAddFeedback stores items as verdicts on the review id in one
// transaction, all or none: a finding that already has a verdict is an
// error wrapping coordination.ErrConflict.
func (s *StoredReviews) ReviewAddFeedback(ctx context.Context, id string, items []FeedbackItem) error {
	by := coordination.ActorFrom(ctx).Name
	err := s.store.InTx(ctx, func(ctx context.Context, tx coordination.Tx) error {
		row, err := tx.ReviewGet(ctx, id)
		if err != nil {
			return err
		}
		rv, err := decodeReview(row)
		if err != nil {
			return err
		}
		who := by
		if who == "" {
			who = rv.Owner
		}
		return insertFeedback(ctx, tx, &rv.Result, who, items)
	})
	if err != nil {
		return fmt.Errorf("review %s: %w", id, err)
	}
	return nil
}

// insertFeedback stores items as verdicts on the findings of res, given by
// by. A verdict's time is never before the review's creation.
func insertFeedback(ctx context.Context, tx coordination.Tx, res *Result, by string, items []FeedbackItem) error {
	for _, it := range items {
		f := &coordination.FindingFeedback{ID: feedbackID(res.ReviewID, it.Finding), ReviewID: res.ReviewID,
			Finding: it.Finding, Verdict: it.Verdict, Text: it.Text, By: by, At: laterOf(it.At, res.CreatedAt)}
		if it.Finding >= 0 && it.Finding < len(res.Findings) {
			f.Category = res.Findings[it.Finding].Category
		}
		if err := tx.FeedbackInsert(ctx, f); err != nil {
			if errors.Is(err, coordination.ErrConflict) {
				return fmt.Errorf("finding %d already has a verdict: %w", it.Finding, err)
			}
			return fmt.Errorf("finding %d: %w", it.Finding, err)
		}
	}
	return nil
}

func laterOf(a, b time.Time) time.Time {
	if a.Before(b) {
		return b
	}
	return a
}

// decodeReview rebuilds the gateway's review from its stored row.
func decodeReview(row *coordination.StoredReview) (*StoredReview, error) {
	var d storedData
	if err := json.Unmarshal(row.Data, &d); err != nil {
		return nil, fmt.Errorf("review %s: decode: %w", row.ID, err)
	}
	d.Latency = time.Duration(d.LatencyNS)
	return &StoredReview{Result: d.Result, Owner: row.Owner}, nil
}
