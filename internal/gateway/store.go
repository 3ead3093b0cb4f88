package gateway

import (
	"container/list"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
)

// DefaultStoreCapacity is how many reviews the default in-memory store keeps.
const DefaultStoreCapacity = 10000

// Verdicts a user may give on a finding.
const (
	// VerdictAccepted says the finding was right and useful.
	VerdictAccepted = "accepted"
	// VerdictDismissed says the finding was wrong or not worth acting on.
	VerdictDismissed = "dismissed"
)

// FeedbackItem is a user's verdict on one finding of a review.
type FeedbackItem struct {
	// Finding is the index of the finding in the review's findings.
	Finding int `json:"finding"`
	// Verdict is VerdictAccepted or VerdictDismissed.
	Verdict string `json:"verdict"`
	// Text is an optional comment; a dismissal with text is a complaint.
	Text string    `json:"text,omitempty"`
	At   time.Time `json:"at,omitzero"`
}

// StoredReview is an answered review as kept for its owner.
type StoredReview struct {
	Result
	// Owner is the actor who asked for the review.
	Owner string `json:"owner"`
	// Feedback holds the verdicts given so far, at most one per finding.
	Feedback []FeedbackItem `json:"feedback,omitempty"`
}

func (s *StoredReview) clone() *StoredReview {
	c := *s
	c.Findings = slices.Clone(s.Findings)
	c.Feedback = slices.Clone(s.Feedback)
	return &c
}

// ReviewStore keeps answered reviews. Implementations must be safe for
// concurrent use.
type ReviewStore interface {
	// ReviewPut stores r under r.ReviewID.
	ReviewPut(ctx context.Context, r *StoredReview) error
	// ReviewGet returns a copy of the review id, or an error wrapping
	// coordination.ErrNotFound.
	ReviewGet(ctx context.Context, id string) (*StoredReview, error)
	// ReviewAddFeedback appends items to the review id, all or none: a
	// finding that already has a verdict is an error wrapping
	// coordination.ErrConflict.
	ReviewAddFeedback(ctx context.Context, id string, items []FeedbackItem) error
}

// MemoryStore is a ReviewStore in memory that keeps the most recently used
// reviews up to a capacity and forgets the least recently used beyond it.
// Reviews do not survive a restart and are not shared between gateway
// replicas.
type MemoryStore struct {
	cap int

	mu    sync.Mutex
	ll    *list.List               // front: most recently used; guarded by mu
	items map[string]*list.Element // values are *StoredReview; guarded by mu
}

var _ ReviewStore = (*MemoryStore)(nil)

// NewMemoryStore returns a store of capacity reviews (at least 1).
func NewMemoryStore(capacity int) *MemoryStore {
	return &MemoryStore{cap: max(capacity, 1), ll: list.New(), items: map[string]*list.Element{}}
}

// ReviewPut stores a copy of r, evicting the least recently used review when
// the store is full.
func (s *MemoryStore) ReviewPut(_ context.Context, r *StoredReview) error {
	if r.ReviewID == "" {
		return fmt.Errorf("store review: %w: empty review id", coordination.ErrInvalidInput)
	}
	c := r.clone()
	s.mu.Lock()
	defer s.mu.Unlock()
	if el, ok := s.items[r.ReviewID]; ok {
		el.Value = c
		s.ll.MoveToFront(el)
		return nil
	}
	s.items[r.ReviewID] = s.ll.PushFront(c)
	for s.ll.Len() > s.cap {
		old := s.ll.Back()
		s.ll.Remove(old)
		delete(s.items, old.Value.(*StoredReview).ReviewID)
	}
	return nil
}

// ReviewGet returns a copy of the review id.
func (s *MemoryStore) ReviewGet(_ context.Context, id string) (*StoredReview, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	el, ok := s.items[id]
	if !ok {
		return nil, fmt.Errorf("review %s: %w", id, coordination.ErrNotFound)
	}
	s.ll.MoveToFront(el)
	return el.Value.(*StoredReview).clone(), nil
}

// ReviewAddFeedback appends items to the review id, all or none.
func (s *MemoryStore) ReviewAddFeedback(_ context.Context, id string, items []FeedbackItem) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	el, ok := s.items[id]
	if !ok {
		return fmt.Errorf("review %s: %w", id, coordination.ErrNotFound)
	}
	r := el.Value.(*StoredReview)
	seen := map[int]bool{}
	for _, f := range r.Feedback {
		seen[f.Finding] = true
	}
	for _, it := range items {
		if seen[it.Finding] {
			return fmt.Errorf("review %s: finding %d already has a verdict: %w", id, it.Finding, coordination.ErrConflict)
		}
		seen[it.Finding] = true
	}
	c := r.clone()
	c.Feedback = append(c.Feedback, items...)
	el.Value = c
	return nil
}

// Len returns how many reviews the store holds.
func (s *MemoryStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ll.Len()
}
