package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
)

// testReviews: answered reviews round-trip every field (the JSON data as
// stored, the creation time to the nanosecond), a missing one is ErrNotFound
// naming its id, a stored ID is ErrConflict, an empty ID or data that is not
// JSON is refused, an insert rolls back with its transaction, and retention
// removes exactly the reviews created before a time.
func testReviews(t *testing.T, s coordination.Store) {
	ctx := t.Context()
	full := &coordination.StoredReview{ID: "rev-1", Owner: "alice", Repository: "acme/api", Arm: "canary",
		Variant: "v2-fast", CreatedAt: at(time.Hour + 123456789*time.Nanosecond),
		Data: json.RawMessage(`{"review_id":"rev-1","findings":[{"category":"bug","text":"nil \u00e9"}],"latency_ms":12.5}`)}
	bare := &coordination.StoredReview{ID: "rev-2", Owner: "bob", Arm: "production", Variant: "v2",
		CreatedAt: at(2 * time.Hour), Data: json.RawMessage(`{}`)}
	tx(t, s, func(ctx context.Context, tx coordination.Tx) error {
		if err := tx.ReviewInsert(ctx, full); err != nil {
			return err
		}
		in, err := tx.ReviewGet(ctx, "rev-1")
		if err != nil || in.Owner != "alice" {
			t.Errorf("ReviewGet in the inserting transaction = %+v, %v", in, err)
		}
		return tx.ReviewInsert(ctx, bare)
	})
	for _, want := range []*coordination.StoredReview{full, bare} {
		got, err := s.ReviewGet(ctx, want.ID)
		mustOK(t, "ReviewGet "+want.ID, err)
		if got.ID != want.ID || got.Owner != want.Owner || got.Repository != want.Repository || got.Arm != want.Arm ||
			got.Variant != want.Variant || !got.CreatedAt.Equal(want.CreatedAt) {
			t.Errorf("ReviewGet(%s) = %+v, want %+v", want.ID, got, want)
		}
		var gotData, wantData any
		if err := json.Unmarshal(got.Data, &gotData); err != nil {
			t.Fatalf("ReviewGet(%s) data %q: %v", want.ID, got.Data, err)
		}
		_ = json.Unmarshal(want.Data, &wantData)
		if g, w := mustJSON(t, gotData), mustJSON(t, wantData); g != w {
			t.Errorf("ReviewGet(%s) data = %s, want %s", want.ID, g, w)
		}
	}

	_, err := s.ReviewGet(ctx, "rev-missing")
	if !errors.Is(err, coordination.ErrNotFound) || !strings.Contains(err.Error(), "rev-missing") {
		t.Errorf("ReviewGet of a missing review: %v, want ErrNotFound naming rev-missing", err)
	}
	dup := *bare
	dup.Owner = "mallory"
	err = s.InTx(ctx, func(ctx context.Context, tx coordination.Tx) error { return tx.ReviewInsert(ctx, &dup) })
	if !errors.Is(err, coordination.ErrConflict) {
		t.Errorf("inserting a stored review ID: %v, want ErrConflict", err)
	}
	if got, err := s.ReviewGet(ctx, "rev-2"); err != nil || got.Owner != "bob" {
		t.Errorf("rev-2 after a refused duplicate = %+v, %v; want bob's review", got, err)
	}

	for name, r := range map[string]*coordination.StoredReview{
		"empty id":      {ID: "", Data: json.RawMessage(`{}`)},
		"non-UTF-8 id":  {ID: "rev-\xff", Data: json.RawMessage(`{}`)},
		"data not JSON": {ID: "rev-bad", Data: json.RawMessage(`{"a":`)},
		"no data":       {ID: "rev-nodata"},
	} {
		err := s.InTx(ctx, func(ctx context.Context, tx coordination.Tx) error { return tx.ReviewInsert(ctx, r) })
		if !errors.Is(err, coordination.ErrInvalidInput) {
			t.Errorf("ReviewInsert with %s: %v, want ErrInvalidInput", name, err)
		}
	}

	lost := errors.New("abort")
	err = s.InTx(ctx, func(ctx context.Context, tx coordination.Tx) error {
		if err := tx.ReviewInsert(ctx, &coordination.StoredReview{ID: "rev-lost", CreatedAt: at(0), Data: json.RawMessage(`1`)}); err != nil {
			return err
		}
		return lost
	})
	if !errors.Is(err, lost) {
		t.Fatalf("InTx returned %v, want the callback's error", err)
	}
	if _, err := s.ReviewGet(ctx, "rev-lost"); !errors.Is(err, coordination.ErrNotFound) {
		t.Errorf("a rolled-back review is readable: %v", err)
	}

	var removed int
	tx(t, s, func(ctx context.Context, tx coordination.Tx) error {
		var err error
		removed, err = tx.ReviewsDelete(ctx, at(2*time.Hour))
		return err
	})
	if removed != 1 {
		t.Errorf("ReviewsDelete before rev-2's creation removed %d, want 1 (rev-1)", removed)
	}
	if _, err := s.ReviewGet(ctx, "rev-1"); !errors.Is(err, coordination.ErrNotFound) {
		t.Errorf("rev-1 after retention: %v, want ErrNotFound", err)
	}
	if _, err := s.ReviewGet(ctx, "rev-2"); err != nil {
		t.Errorf("rev-2 (created at the cutoff) after retention: %v", err)
	}
}

// mustJSON encodes v canonically (sorted object keys).
func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encode %v: %v", v, err)
	}
	return string(b)
}
