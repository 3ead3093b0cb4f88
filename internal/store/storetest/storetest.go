// Package storetest is the conformance suite of coordination.Store. Every
// implementation (the in-memory store, SQLite, PostgreSQL) runs Run from its
// own tests and must pass it unchanged; a rule of the store contract that is
// not checked here is not part of the contract.
package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
)

// Run runs the conformance suite. open is called once per subtest and must
// return a new, empty store; Run closes it when the subtest ends. Subtests
// run in parallel, so stores returned by open must not share state.
func Run(t *testing.T, open func(t *testing.T) coordination.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s coordination.Store)
	}{
		{"RoundTripEveryField", testRoundTrip},
		{"CallerCannotMutateStoredState", testIsolation},
		{"NotFoundNamesID", testNotFound},
		{"InsertExistingIDConflicts", testInsertConflict},
		{"IDMustBeNonEmptyUTF8", testEmptyID},
		{"OptimisticUpdate", testOptimisticUpdate},
		{"EmptyListsAreNotNil", testEmptyLists},
		{"ExperimentListFilterOrderLimit", testExperimentList},
		{"PromotionListFilterOrderLimit", testPromotionList},
		{"ReleasesOneActive", testReleases},
		{"QuarantineRecordsAndReviews", testQuarantine},
		{"QuarantineDueBefore", testQuarantineDue},
		{"Blacklist", testBlacklist},
		{"ProposalListPriorityOrder", testProposalList},
		{"KV", testKV},
		{"AuditChain", testAudit},
		{"Outbox", testOutbox},
		{"ConsumerMarkProcessed", testConsumer},
		{"RollbackDiscardsEveryWrite", testRollback},
		{"TxSeesOwnWritesOthersDoNot", testTxVisibility},
		{"TxUnusableAfterInTx", testTxAfterEnd},
		{"CanceledContext", testCanceled},
		{"ConcurrentIncrementsLoseNothing", testConcurrent},
		{"Tokens", testTokens},
		{"MetricsAndFeedback", testMetrics},
		{"Reviews", testReviews},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("close store: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
}

// tx runs fn in a transaction and fails the test if it returns an error.
func tx(t *testing.T, s coordination.Store, fn func(ctx context.Context, tx coordination.Tx) error) {
	t.Helper()
	if err := s.InTx(t.Context(), fn); err != nil {
		t.Fatalf("InTx: %v", err)
	}
}

// insert stores objects with their Insert method in one transaction.
func insert(t *testing.T, s coordination.Store, objs ...any) {
	t.Helper()
	tx(t, s, func(ctx context.Context, tx coordination.Tx) error {
		for _, o := range objs {
			var err error
			switch o := o.(type) {
			case *coordination.Experiment:
				err = tx.ExperimentInsert(ctx, o)
			case *coordination.PromotionRequest:
				err = tx.PromotionInsert(ctx, o)
			case *coordination.Release:
				err = tx.ReleaseInsert(ctx, o)
			case *coordination.QuarantineRecord:
				err = tx.QuarantineInsert(ctx, o)
			case *coordination.QuarantineReview:
				err = tx.QuarantineReviewInsert(ctx, o)
			case *coordination.BlacklistEntry:
				err = tx.BlacklistInsert(ctx, o)
			case *coordination.Proposal:
				err = tx.ProposalInsert(ctx, o)
			default:
				t.Fatalf("insert: unexpected %T", o)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// at returns base plus d: a readable way to place objects in time.
func at(d time.Duration) time.Time { return base.Add(d) }

func experiment(id string, state coordination.ExperimentState, created time.Time) *coordination.Experiment {
	return &coordination.Experiment{ID: id, Title: "title " + id, State: state, CreatedAt: created, UpdatedAt: created,
		SuccessCriteria: map[string]string{"accuracy": ">= 0.9"}}
}

func promotion(id, expID string, state coordination.PromotionState, requested time.Time) *coordination.PromotionRequest {
	return &coordination.PromotionRequest{RequestID: id, ExperimentID: expID, State: state, RequestedAt: requested, UpdatedAt: requested}
}

func release(id string, state coordination.ReleaseState, activated time.Time) *coordination.Release {
	return &coordination.Release{ID: id, State: state, ActivatedAt: activated, Variant: coordination.Variant{Name: id}}
}

func record(id, expID string, quarantined, nextReview time.Time) *coordination.QuarantineRecord {
	return &coordination.QuarantineRecord{RecordID: id, ExperimentID: expID, FailureType: coordination.FailureErrorSpike,
		QuarantinedAt: quarantined, NextReviewAt: nextReview, ContentHash: "hash-" + id}
}

func review(id, recordID string, reviewed, next time.Time) *coordination.QuarantineReview {
	return &coordination.QuarantineReview{ReviewID: id, RecordID: recordID, Reviewer: "admin", ReviewedAt: reviewed, NextReviewAt: next}
}

func proposal(id string, state coordination.ProposalState, prio float64, created time.Time) *coordination.Proposal {
	return &coordination.Proposal{ProposalID: id, State: state, Priority: prio, CreatedAt: created, UpdatedAt: created, DedupeKey: "d-" + id}
}

func entry(id, recordID, key string, created time.Time) *coordination.BlacklistEntry {
	return &coordination.BlacklistEntry{ID: id, RecordID: recordID, Kind: coordination.BlacklistFingerprint, Key: key, CreatedAt: created}
}

func event(t *testing.T, id, typ string, when time.Time) coordination.Event {
	t.Helper()
	ev, err := coordination.NewEvent(typ, "subject-"+id, when, map[string]string{"id": id})
	if err != nil {
		t.Fatal(err)
	}
	ev.ID = id
	return ev
}

// ids returns the ids of objects, in order.
func ids[T any](objs []*T, id func(*T) string) []string {
	out := make([]string, 0, len(objs))
	for _, o := range objs {
		out = append(out, id(o))
	}
	return out
}

func expID(e *coordination.Experiment) string        { return e.ID }
func promID(p *coordination.PromotionRequest) string { return p.RequestID }
func relID(r *coordination.Release) string           { return r.ID }
func recID(r *coordination.QuarantineRecord) string  { return r.RecordID }
func revID(r *coordination.QuarantineReview) string  { return r.ReviewID }
func blID(b *coordination.BlacklistEntry) string     { return b.ID }
func propID(p *coordination.Proposal) string         { return p.ProposalID }

func wantIDs(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

// same fails unless got equals want field for field (and as JSON, whose
// difference is what the message shows).
func same(t *testing.T, what string, got, want any) {
	t.Helper()
	g, err1 := json.Marshal(got)
	w, err2 := json.Marshal(want)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatalf("%s: encode: %v", what, err)
	}
	if !bytes.Equal(g, w) {
		t.Errorf("%s: read back differs from what was stored:\n got %s\nwant %s", what, g, w)
	} else if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: read back differs from what was stored in a way JSON does not show:\n got %#v\nwant %#v", what, got, want)
	}
}

// wantErr fails unless err wraps target and its message contains every one
// of parts.
func wantErr(t *testing.T, what string, err, target error, parts ...string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error = %v, want one wrapping %v", what, err, target)
		return
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %q does not name %q", what, err, p)
		}
	}
}
