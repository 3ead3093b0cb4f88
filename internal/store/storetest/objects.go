package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
)

// testRoundTrip stores one object of each kind with every field set and
// reads it back, inside the transaction and after commit.
func testRoundTrip(t *testing.T, s coordination.Store) {
	f := &filler{}
	exp, prm, rel := fill[coordination.Experiment](f), fill[coordination.PromotionRequest](f), fill[coordination.Release](f)
	rec, rev, bl := fill[coordination.QuarantineRecord](f), fill[coordination.QuarantineReview](f), fill[coordination.BlacklistEntry](f)
	prop, aud, ev := fill[coordination.Proposal](f), fill[coordination.AuditEntry](f), *fill[coordination.Event](f)
	rev.RecordID = rec.RecordID
	rel.State = coordination.ReleaseActive
	for _, v := range []*int64{&exp.Version, &prm.Version, &rel.Version, &prop.Version} {
		*v = 41 // Insert must reset it to 1
	}
	blob := []byte{0, 1, 2, 0xff, 'x'}

	check := func(ctx context.Context, r coordination.Reader, where string) {
		t.Helper()
		gotExp, err := r.ExperimentGet(ctx, exp.ID)
		mustOK(t, where+" ExperimentGet", err)
		same(t, where+" experiment", gotExp, exp)
		gotPrm, err := r.PromotionGet(ctx, prm.RequestID)
		mustOK(t, where+" PromotionGet", err)
		same(t, where+" promotion", gotPrm, prm)
		gotRel, err := r.ReleaseGet(ctx, rel.ID)
		mustOK(t, where+" ReleaseGet", err)
		same(t, where+" release", gotRel, rel)
		gotActive, err := r.ReleaseActive(ctx)
		mustOK(t, where+" ReleaseActive", err)
		same(t, where+" active release", gotActive, rel)
		gotRec, err := r.QuarantineGet(ctx, rec.RecordID)
		mustOK(t, where+" QuarantineGet", err)
		same(t, where+" quarantine record", gotRec, rec)
		gotRevs, err := r.QuarantineReviews(ctx, rec.RecordID)
		mustOK(t, where+" QuarantineReviews", err)
		same(t, where+" quarantine reviews", gotRevs, []*coordination.QuarantineReview{rev})
		gotBl, err := r.BlacklistList(ctx, false)
		mustOK(t, where+" BlacklistList", err)
		same(t, where+" blacklist", gotBl, []*coordination.BlacklistEntry{bl})
		gotProp, err := r.ProposalGet(ctx, prop.ProposalID)
		mustOK(t, where+" ProposalGet", err)
		same(t, where+" proposal", gotProp, prop)
		gotAud, err := r.AuditList(ctx, coordination.AuditFilter{})
		mustOK(t, where+" AuditList", err)
		same(t, where+" audit", gotAud, []*coordination.AuditEntry{aud})
		gotKV, err := r.KVGet(ctx, "blob")
		mustOK(t, where+" KVGet", err)
		same(t, where+" kv", gotKV, blob)
	}
	tx(t, s, func(ctx context.Context, tx coordination.Tx) error {
		for _, err := range []error{tx.ExperimentInsert(ctx, exp), tx.PromotionInsert(ctx, prm),
			tx.ReleaseInsert(ctx, rel), tx.QuarantineInsert(ctx, rec), tx.QuarantineReviewInsert(ctx, rev),
			tx.BlacklistInsert(ctx, bl), tx.ProposalInsert(ctx, prop), tx.AuditAppend(ctx, aud),
			tx.OutboxAppend(ctx, ev), tx.KVPut(ctx, "blob", blob, at(0))} {
			if err != nil {
				return err
			}
		}
		check(ctx, tx, "in tx:")
		return nil
	})
	for what, v := range map[string]int64{"experiment": exp.Version, "promotion": prm.Version,
		"release": rel.Version, "proposal": prop.Version} {
		if v != 1 {
			t.Errorf("%s Version after insert = %d, want 1", what, v)
		}
	}
	if aud.Seq != 1 || aud.PrevHash != "" || aud.Hash != coordination.AuditHash(aud) {
		t.Errorf("audit entry after append: seq %d, prev %q, hash %q; want 1, \"\", AuditHash", aud.Seq, aud.PrevHash, aud.Hash)
	}
	check(t.Context(), s, "after commit:")
	pending, err := s.OutboxPending(t.Context(), 0)
	mustOK(t, "OutboxPending", err)
	if len(pending) != 1 {
		t.Fatalf("OutboxPending returned %d events, want 1", len(pending))
	}
	ev.Seq = pending[0].Seq
	same(t, "outbox event", pending, []coordination.Event{ev})
}

func mustOK(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// testIsolation checks that neither the object passed to Insert nor one
// returned by a read shares memory with the store.
func testIsolation(t *testing.T, s coordination.Store) {
	ctx := t.Context()
	e := experiment("exp-1", coordination.ExperimentRunning, at(0))
	e.Variant.Parameters = map[string]any{"temperature": 0.5}
	insert(t, s, e)
	e.Title = "changed by caller"
	e.SuccessCriteria["accuracy"] = "changed"
	e.Variant.Parameters["temperature"] = 1.5

	got, err := s.ExperimentGet(ctx, "exp-1")
	mustOK(t, "ExperimentGet", err)
	if got.Title != "title exp-1" || got.SuccessCriteria["accuracy"] != ">= 0.9" || got.Variant.Parameters["temperature"] != 0.5 {
		t.Errorf("stored experiment follows the caller's later changes: %+v", got)
	}
	got.SuccessCriteria["accuracy"] = "changed by reader"
	again, err := s.ExperimentGet(ctx, "exp-1")
	mustOK(t, "ExperimentGet", err)
	if again.SuccessCriteria["accuracy"] != ">= 0.9" {
		t.Errorf("changing a read object changed the store: %v", again.SuccessCriteria)
	}

	value := []byte("state")
	tx(t, s, func(ctx context.Context, tx coordination.Tx) error { return tx.KVPut(ctx, "k", value, at(0)) })
	value[0] = 'X'
	b, err := s.KVGet(ctx, "k")
	mustOK(t, "KVGet", err)
	b[1] = 'X'
	b2, err := s.KVGet(ctx, "k")
	mustOK(t, "KVGet", err)
	if string(b2) != "state" {
		t.Errorf("KV value = %q after the caller changed its slices, want %q", b2, "state")
	}
}

// testNotFound checks every getter and update on a missing id, outside and
// inside a transaction.
func testNotFound(t *testing.T, s coordination.Store) {
	getters := func(r coordination.Reader) map[string]func(ctx context.Context) error {
		return map[string]func(ctx context.Context) error{
			"ExperimentGet": func(ctx context.Context) error { _, err := r.ExperimentGet(ctx, "missing-1"); return err },
			"PromotionGet":  func(ctx context.Context) error { _, err := r.PromotionGet(ctx, "missing-1"); return err },
			"ReleaseGet":    func(ctx context.Context) error { _, err := r.ReleaseGet(ctx, "missing-1"); return err },
			"QuarantineGet": func(ctx context.Context) error { _, err := r.QuarantineGet(ctx, "missing-1"); return err },
			"ProposalGet":   func(ctx context.Context) error { _, err := r.ProposalGet(ctx, "missing-1"); return err },
			"KVGet":         func(ctx context.Context) error { _, err := r.KVGet(ctx, "missing-1"); return err },
		}
	}
	for name, get := range getters(s) {
		wantErr(t, name, get(t.Context()), coordination.ErrNotFound, "missing-1")
	}
	_, err := s.ReleaseActive(t.Context())
	wantErr(t, "ReleaseActive on an empty store", err, coordination.ErrNotFound)

	updates := map[string]func(ctx context.Context, tx coordination.Tx) error{
		"ExperimentUpdate": func(ctx context.Context, tx coordination.Tx) error {
			return tx.ExperimentUpdate(ctx, experiment("missing-1", coordination.ExperimentRunning, at(0)))
		},
		"PromotionUpdate": func(ctx context.Context, tx coordination.Tx) error {
			return tx.PromotionUpdate(ctx, promotion("missing-1", "e", coordination.PromotionRequested, at(0)))
		},
		"ReleaseUpdate": func(ctx context.Context, tx coordination.Tx) error {
			return tx.ReleaseUpdate(ctx, release("missing-1", coordination.ReleaseArchived, at(0)))
		},
		"ProposalUpdate": func(ctx context.Context, tx coordination.Tx) error {
			return tx.ProposalUpdate(ctx, proposal("missing-1", coordination.ProposalSuggested, 1, at(0)))
		},
		"QuarantineReviewInsert of a missing record": func(ctx context.Context, tx coordination.Tx) error {
			return tx.QuarantineReviewInsert(ctx, review("rev-1", "missing-1", at(0), at(1)))
		},
	}
	for name, fn := range updates {
		wantErr(t, name, s.InTx(t.Context(), fn), coordination.ErrNotFound, "missing-1")
	}
	tx(t, s, func(ctx context.Context, tx coordination.Tx) error {
		for name, get := range getters(tx) {
			wantErr(t, "in tx: "+name, get(ctx), coordination.ErrNotFound, "missing-1")
		}
		return nil
	})
}

// testInsertConflict checks that a second insert with the same id is refused
// and leaves the first object in place.
func testInsertConflict(t *testing.T, s coordination.Store) {
	rec := record("rec-1", "exp-1", at(0), at(90*24*time.Hour))
	firsts := []any{experiment("exp-1", coordination.ExperimentRunning, at(0)),
		promotion("prm-1", "exp-1", coordination.PromotionRequested, at(0)),
		release("rel-1", coordination.ReleaseArchived, at(0)), rec,
		review("rev-1", "rec-1", at(1), at(2)), entry("bl-1", "rec-1", "key", at(0)),
		proposal("prop-1", coordination.ProposalSuggested, 1, at(0))}
	insert(t, s, firsts...)
	seconds := []any{experiment("exp-1", coordination.ExperimentHeld, at(5)),
		promotion("prm-1", "exp-2", coordination.PromotionRejected, at(5)),
		release("rel-1", coordination.ReleaseArchived, at(5)), record("rec-1", "exp-9", at(5), at(6)),
		review("rev-1", "rec-1", at(5), at(6)), entry("bl-1", "rec-1", "other", at(5)),
		proposal("prop-1", coordination.ProposalDismissed, 2, at(5))}
	for _, o := range seconds {
		err := s.InTx(t.Context(), func(ctx context.Context, tx coordination.Tx) error {
			switch o := o.(type) {
			case *coordination.Experiment:
				return tx.ExperimentInsert(ctx, o)
			case *coordination.PromotionRequest:
				return tx.PromotionInsert(ctx, o)
			case *coordination.Release:
				return tx.ReleaseInsert(ctx, o)
			case *coordination.QuarantineRecord:
				return tx.QuarantineInsert(ctx, o)
			case *coordination.QuarantineReview:
				return tx.QuarantineReviewInsert(ctx, o)
			case *coordination.BlacklistEntry:
				return tx.BlacklistInsert(ctx, o)
			case *coordination.Proposal:
				return tx.ProposalInsert(ctx, o)
			}
			return nil
		})
		wantErr(t, fmt.Sprintf("second insert of %T", o), err, coordination.ErrConflict)
	}
	got, err := s.ExperimentGet(t.Context(), "exp-1")
	mustOK(t, "ExperimentGet", err)
	if got.State != coordination.ExperimentRunning || got.Version != 1 {
		t.Errorf("after a refused insert the experiment is %s v%d, want running v1", got.State, got.Version)
	}
	gotRec, err := s.QuarantineGet(t.Context(), "rec-1")
	mustOK(t, "QuarantineGet", err)
	same(t, "quarantine record after a refused insert", gotRec, rec)
}

// testEmptyID checks that objects without an id, or whose id JSON could
// not carry (not UTF-8), are refused.
func testEmptyID(t *testing.T, s coordination.Store) {
	for name, fn := range map[string]func(ctx context.Context, tx coordination.Tx) error{
		"ExperimentInsert without an id": func(ctx context.Context, tx coordination.Tx) error {
			return tx.ExperimentInsert(ctx, experiment("", coordination.ExperimentProposed, at(0)))
		},
		"QuarantineInsert without an id": func(ctx context.Context, tx coordination.Tx) error {
			return tx.QuarantineInsert(ctx, record("", "exp-1", at(0), at(1)))
		},
		"ProposalInsert with an id that is not UTF-8": func(ctx context.Context, tx coordination.Tx) error {
			return tx.ProposalInsert(ctx, proposal("prop-\xff", coordination.ProposalSuggested, 1, at(0)))
		},
		"KVPut without a key": func(ctx context.Context, tx coordination.Tx) error { return tx.KVPut(ctx, "", []byte("x"), at(0)) },
		"OutboxAppend of an event without an id": func(ctx context.Context, tx coordination.Tx) error {
			return tx.OutboxAppend(ctx, coordination.Event{Type: "x"})
		},
	} {
		wantErr(t, name, s.InTx(t.Context(), fn), coordination.ErrInvalidInput)
	}
	list, err := s.ExperimentList(t.Context(), coordination.ExperimentFilter{})
	mustOK(t, "ExperimentList", err)
	if len(list) != 0 {
		t.Errorf("an experiment without an id was stored: %v", ids(list, expID))
	}
}

// testOptimisticUpdate checks the version rule on every versioned kind: two
// updates from the same read, the second refused.
func testOptimisticUpdate(t *testing.T, s coordination.Store) {
	ctx := t.Context()
	insert(t, s, experiment("exp-1", coordination.ExperimentProposed, at(0)),
		promotion("prm-1", "exp-1", coordination.PromotionRequested, at(0)),
		release("rel-1", coordination.ReleaseActive, at(0)),
		proposal("prop-1", coordination.ProposalSuggested, 1, at(0)))

	type versioned struct {
		name   string
		read   func() (any, error)
		change func(obj any, n int)
		update func(ctx context.Context, tx coordination.Tx, obj any) error
		state  func(obj any) (string, int64)
	}
	cases := []versioned{
		{"experiment", func() (any, error) { return s.ExperimentGet(ctx, "exp-1") },
			func(o any, n int) { o.(*coordination.Experiment).Title = fmt.Sprint("title ", n) },
			func(ctx context.Context, tx coordination.Tx, o any) error {
				return tx.ExperimentUpdate(ctx, o.(*coordination.Experiment))
			},
			func(o any) (string, int64) { e := o.(*coordination.Experiment); return e.Title, e.Version }},
		{"promotion", func() (any, error) { return s.PromotionGet(ctx, "prm-1") },
			func(o any, n int) { o.(*coordination.PromotionRequest).Reason = fmt.Sprint("title ", n) },
			func(ctx context.Context, tx coordination.Tx, o any) error {
				return tx.PromotionUpdate(ctx, o.(*coordination.PromotionRequest))
			},
			func(o any) (string, int64) { p := o.(*coordination.PromotionRequest); return p.Reason, p.Version }},
		{"release", func() (any, error) { return s.ReleaseGet(ctx, "rel-1") },
			func(o any, n int) { o.(*coordination.Release).Note = fmt.Sprint("title ", n) },
			func(ctx context.Context, tx coordination.Tx, o any) error {
				return tx.ReleaseUpdate(ctx, o.(*coordination.Release))
			},
			func(o any) (string, int64) { r := o.(*coordination.Release); return r.Note, r.Version }},
		{"proposal", func() (any, error) { return s.ProposalGet(ctx, "prop-1") },
			func(o any, n int) { o.(*coordination.Proposal).Title = fmt.Sprint("title ", n) },
			func(ctx context.Context, tx coordination.Tx, o any) error {
				return tx.ProposalUpdate(ctx, o.(*coordination.Proposal))
			},
			func(o any) (string, int64) { p := o.(*coordination.Proposal); return p.Title, p.Version }},
	}
	for _, c := range cases {
		first, err1 := c.read()
		second, err2 := c.read()
		mustOK(t, c.name+" read", errors.Join(err1, err2))
		c.change(first, 1)
		c.change(second, 2)
		tx(t, s, func(ctx context.Context, tx coordination.Tx) error { return c.update(ctx, tx, first) })
		if _, v := c.state(first); v != 2 {
			t.Errorf("%s: Version after the first update = %d, want 2", c.name, v)
		}
		err := s.InTx(ctx, func(ctx context.Context, tx coordination.Tx) error { return c.update(ctx, tx, second) })
		wantErr(t, c.name+": second update from the same read", err, coordination.ErrConflict)
		if _, v := c.state(second); v != 1 {
			t.Errorf("%s: a refused update changed the caller's Version to %d, want it left at 1", c.name, v)
		}
		stored, err := c.read()
		mustOK(t, c.name+" read", err)
		if title, v := c.state(stored); title != "title 1" || v != 2 {
			t.Errorf("%s: stored (%q, v%d), want the first update's (\"title 1\", v2)", c.name, title, v)
		}
		c.change(stored, 3)
		tx(t, s, func(ctx context.Context, tx coordination.Tx) error { return c.update(ctx, tx, stored) })
		if _, v := c.state(stored); v != 3 {
			t.Errorf("%s: Version after an update from a fresh read = %d, want 3", c.name, v)
		}
	}
}

// testEmptyLists checks that lists on an empty store are empty, not nil (an
// API shows them as [] rather than null).
func testEmptyLists(t *testing.T, s coordination.Store) {
	ctx := t.Context()
	exps, err1 := s.ExperimentList(ctx, coordination.ExperimentFilter{})
	prms, err2 := s.PromotionList(ctx, coordination.PromotionFilter{})
	rels, err3 := s.ReleaseList(ctx)
	recs, err4 := s.QuarantineList(ctx, coordination.QuarantineFilter{})
	revs, err5 := s.QuarantineReviews(ctx, "rec-1")
	found, err6 := s.BlacklistFind(ctx, []string{"k"})
	bls, err7 := s.BlacklistList(ctx, false)
	props, err8 := s.ProposalList(ctx, coordination.ProposalFilter{})
	auds, err9 := s.AuditList(ctx, coordination.AuditFilter{})
	evs, err10 := s.OutboxPending(ctx, 10)
	for i, err := range []error{err1, err2, err3, err4, err5, err6, err7, err8, err9, err10} {
		mustOK(t, fmt.Sprintf("list %d", i+1), err)
	}
	for name, isNil := range map[string]bool{"ExperimentList": exps == nil, "PromotionList": prms == nil,
		"ReleaseList": rels == nil, "QuarantineList": recs == nil, "QuarantineReviews": revs == nil,
		"BlacklistFind": found == nil, "BlacklistList": bls == nil, "ProposalList": props == nil,
		"AuditList": auds == nil, "OutboxPending": evs == nil} {
		if isNil {
			t.Errorf("%s on an empty store returned nil, want an empty list", name)
		}
	}
}
