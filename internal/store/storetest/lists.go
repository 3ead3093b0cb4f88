package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
)

const day = 24 * time.Hour

func testExperimentList(t *testing.T, s coordination.Store) {
	whole := base.Truncate(time.Second).Add(5 * time.Hour) // no fractional second
	plus5 := time.FixedZone("UTC+5", 5*3600)
	insert(t, s,
		experiment("exp-b", coordination.ExperimentRunning, at(3*time.Hour)),
		experiment("exp-c", coordination.ExperimentProposed, at(1*time.Hour)),
		experiment("exp-d", coordination.ExperimentRunning, at(2*time.Hour)),
		experiment("exp-e", coordination.ExperimentHeld, at(2*time.Hour).In(plus5)),
		experiment("exp-a", coordination.ExperimentRunning, at(2*time.Hour)),
		experiment("exp-x", coordination.ExperimentHeld, whole.Add(500*time.Millisecond)),
		experiment("exp-y", coordination.ExperimentHeld, whole),
	)
	running, held := coordination.ExperimentRunning, coordination.ExperimentHeld
	for _, c := range []struct {
		name string
		f    coordination.ExperimentFilter
		want []string
	}{
		{"all, oldest first, ties by id, any time zone", coordination.ExperimentFilter{},
			[]string{"exp-c", "exp-a", "exp-d", "exp-e", "exp-b", "exp-y", "exp-x"}},
		{"running", coordination.ExperimentFilter{States: []coordination.ExperimentState{running}},
			[]string{"exp-a", "exp-d", "exp-b"}},
		{"running or held", coordination.ExperimentFilter{States: []coordination.ExperimentState{held, running}},
			[]string{"exp-a", "exp-d", "exp-e", "exp-b", "exp-y", "exp-x"}},
		{"limit", coordination.ExperimentFilter{Limit: 2}, []string{"exp-c", "exp-a"}},
		{"running, limit", coordination.ExperimentFilter{States: []coordination.ExperimentState{running}, Limit: 2},
			[]string{"exp-a", "exp-d"}},
		{"no such state", coordination.ExperimentFilter{States: []coordination.ExperimentState{"nope"}}, nil},
	} {
		got, err := s.ExperimentList(t.Context(), c.f)
		mustOK(t, c.name, err)
		wantIDs(t, "ExperimentList "+c.name, ids(got, expID), c.want)
	}
	e, err := s.ExperimentGet(t.Context(), "exp-e")
	mustOK(t, "ExperimentGet", err)
	if !e.CreatedAt.Equal(at(2 * time.Hour)) {
		t.Errorf("CreatedAt given in UTC+5 read back as %v, want the instant %v", e.CreatedAt, at(2*time.Hour))
	}
}

func testPromotionList(t *testing.T, s coordination.Store) {
	insert(t, s,
		promotion("prm-1", "exp-1", coordination.PromotionPhase1, at(2*time.Hour)),
		promotion("prm-2", "exp-2", coordination.PromotionRequested, at(1*time.Hour)),
		promotion("prm-3", "exp-1", coordination.PromotionCompleted, at(3*time.Hour)),
		promotion("prm-4", "exp-1", coordination.PromotionRejected, at(1*time.Hour)),
	)
	type states = []coordination.PromotionState
	for _, c := range []struct {
		name string
		f    coordination.PromotionFilter
		want []string
	}{
		{"all, oldest first, ties by id", coordination.PromotionFilter{}, []string{"prm-2", "prm-4", "prm-1", "prm-3"}},
		{"experiment", coordination.PromotionFilter{ExperimentID: "exp-1"}, []string{"prm-4", "prm-1", "prm-3"}},
		{"states", coordination.PromotionFilter{States: states{coordination.PromotionRequested, coordination.PromotionPhase1}},
			[]string{"prm-2", "prm-1"}},
		{"experiment and states", coordination.PromotionFilter{ExperimentID: "exp-1",
			States: states{coordination.PromotionCompleted, coordination.PromotionRejected}}, []string{"prm-4", "prm-3"}},
		{"experiment, limit", coordination.PromotionFilter{ExperimentID: "exp-1", Limit: 1}, []string{"prm-4"}},
		{"unknown experiment", coordination.PromotionFilter{ExperimentID: "exp-9"}, nil},
	} {
		got, err := s.PromotionList(t.Context(), c.f)
		mustOK(t, c.name, err)
		wantIDs(t, "PromotionList "+c.name, ids(got, promID), c.want)
	}
}

func testReleases(t *testing.T, s coordination.Store) {
	ctx := t.Context()
	rel1 := release("rel-1", coordination.ReleaseActive, at(0))
	insert(t, s, rel1)
	active, err := s.ReleaseActive(ctx)
	mustOK(t, "ReleaseActive", err)
	if active.ID != "rel-1" {
		t.Fatalf("ReleaseActive = %s, want rel-1", active.ID)
	}
	err = s.InTx(ctx, func(ctx context.Context, tx coordination.Tx) error {
		return tx.ReleaseInsert(ctx, release("rel-2", coordination.ReleaseActive, at(time.Hour)))
	})
	wantErr(t, "inserting a second active release", err, coordination.ErrConflict)
	_, err = s.ReleaseGet(ctx, "rel-2")
	wantErr(t, "the refused release", err, coordination.ErrNotFound, "rel-2")

	rel2 := release("rel-2", coordination.ReleaseActive, at(time.Hour))
	tx(t, s, func(ctx context.Context, tx coordination.Tx) error {
		rel1.State, rel1.ArchivedAt = coordination.ReleaseArchived, at(time.Hour)
		if err := tx.ReleaseUpdate(ctx, rel1); err != nil {
			return err
		}
		return tx.ReleaseInsert(ctx, rel2)
	})
	active, err = s.ReleaseActive(ctx)
	mustOK(t, "ReleaseActive", err)
	if active.ID != "rel-2" {
		t.Errorf("after archiving rel-1 and inserting rel-2, ReleaseActive = %s, want rel-2", active.ID)
	}

	back := *rel1
	back.State = coordination.ReleaseActive
	err = s.InTx(ctx, func(ctx context.Context, tx coordination.Tx) error { return tx.ReleaseUpdate(ctx, &back) })
	wantErr(t, "reactivating rel-1 while rel-2 is active", err, coordination.ErrConflict)
	got, err := s.ReleaseGet(ctx, "rel-1")
	mustOK(t, "ReleaseGet", err)
	if got.State != coordination.ReleaseArchived || got.Version != 2 {
		t.Errorf("rel-1 after the refused reactivation: %s v%d, want archived v2", got.State, got.Version)
	}

	insert(t, s, release("rel-0", coordination.ReleaseArchived, at(-time.Hour)),
		release("rel-3", coordination.ReleaseArchived, at(time.Hour)))
	list, err := s.ReleaseList(ctx)
	mustOK(t, "ReleaseList", err)
	wantIDs(t, "ReleaseList (newest activation first, ties by id descending)", ids(list, relID),
		[]string{"rel-3", "rel-2", "rel-1", "rel-0"})
}

func testQuarantine(t *testing.T, s coordination.Store) {
	ctx := t.Context()
	insert(t, s,
		record("rec-1", "exp-1", at(2*time.Hour), at(90*day)),
		record("rec-2", "exp-2", at(1*time.Hour), at(90*day)),
		record("rec-3", "exp-1", at(3*time.Hour), at(90*day)),
		review("rev-b", "rec-1", at(5*time.Hour), at(180*day)),
		review("rev-a", "rec-1", at(4*time.Hour), at(180*day)),
		review("rev-c", "rec-2", at(4*time.Hour), at(180*day)),
	)
	for _, c := range []struct {
		name string
		f    coordination.QuarantineFilter
		want []string
	}{
		{"all, oldest first", coordination.QuarantineFilter{}, []string{"rec-2", "rec-1", "rec-3"}},
		{"experiment", coordination.QuarantineFilter{ExperimentID: "exp-1"}, []string{"rec-1", "rec-3"}},
		{"limit", coordination.QuarantineFilter{Limit: 1}, []string{"rec-2"}},
		{"experiment, limit", coordination.QuarantineFilter{ExperimentID: "exp-1", Limit: 1}, []string{"rec-1"}},
	} {
		got, err := s.QuarantineList(ctx, c.f)
		mustOK(t, c.name, err)
		wantIDs(t, "QuarantineList "+c.name, ids(got, recID), c.want)
	}
	for rec, want := range map[string][]string{"rec-1": {"rev-a", "rev-b"}, "rec-2": {"rev-c"}, "rec-3": nil} {
		got, err := s.QuarantineReviews(ctx, rec)
		mustOK(t, "QuarantineReviews", err)
		wantIDs(t, "QuarantineReviews("+rec+")", ids(got, revID), want)
	}
}

// testQuarantineDue pins down DueBefore: a record's next review is the one
// its latest review scheduled (records themselves never change), else its
// own; a record with no next review is never due.
func testQuarantineDue(t *testing.T, s coordination.Store) {
	now := at(100 * day)
	insert(t, s,
		record("rec-due", "exp-1", at(1*time.Hour), at(99*day)),
		record("rec-future", "exp-1", at(2*time.Hour), at(101*day)),
		record("rec-rescheduled", "exp-2", at(3*time.Hour), at(90*day)),
		record("rec-reviewed-due", "exp-2", at(4*time.Hour), at(90*day)),
		record("rec-latest-counts", "exp-1", at(5*time.Hour), at(10*day)),
		record("rec-never", "exp-1", at(6*time.Hour), time.Time{}),
		review("rev-1", "rec-rescheduled", at(90*day), at(180*day)),
		review("rev-2", "rec-reviewed-due", at(90*day), at(95*day)),
		review("rev-3", "rec-latest-counts", at(20*day), at(200*day)),
		review("rev-4", "rec-latest-counts", at(30*day), at(50*day)),
	)
	for _, c := range []struct {
		name string
		f    coordination.QuarantineFilter
		want []string
	}{
		{"due", coordination.QuarantineFilter{DueBefore: now}, []string{"rec-due", "rec-reviewed-due", "rec-latest-counts"}},
		{"due, experiment", coordination.QuarantineFilter{DueBefore: now, ExperimentID: "exp-1"},
			[]string{"rec-due", "rec-latest-counts"}},
		{"due, limit", coordination.QuarantineFilter{DueBefore: now, Limit: 2}, []string{"rec-due", "rec-reviewed-due"}},
		{"due long ago", coordination.QuarantineFilter{DueBefore: at(day)}, nil},
		{"due exactly at the next review is not yet due", coordination.QuarantineFilter{DueBefore: at(99 * day)},
			[]string{"rec-reviewed-due", "rec-latest-counts"}},
	} {
		got, err := s.QuarantineList(t.Context(), c.f)
		mustOK(t, c.name, err)
		wantIDs(t, "QuarantineList "+c.name, ids(got, recID), c.want)
	}
}

func testBlacklist(t *testing.T, s coordination.Store) {
	ctx := t.Context()
	lifted := entry("bl-0", "rec-3", "k3", at(0))
	lifted.LiftedAt, lifted.LiftedBy = at(time.Minute), "admin"
	insert(t, s, lifted,
		entry("bl-2", "rec-1", "k2", at(2*time.Hour)),
		entry("bl-1", "rec-1", "k1", at(1*time.Hour)),
		entry("bl-3", "rec-2", "k1", at(3*time.Hour)),
	)
	find := func(r coordination.Reader, ctx context.Context, what string, keys []string, want []string) {
		t.Helper()
		got, err := r.BlacklistFind(ctx, keys)
		mustOK(t, what, err)
		wantIDs(t, what, ids(got, blID), want)
	}
	list := func(what string, activeOnly bool, want []string) []*coordination.BlacklistEntry {
		t.Helper()
		got, err := s.BlacklistList(ctx, activeOnly)
		mustOK(t, what, err)
		wantIDs(t, what, ids(got, blID), want)
		return got
	}
	find(s, ctx, "BlacklistFind(k1)", []string{"k1"}, []string{"bl-1", "bl-3"})
	find(s, ctx, "BlacklistFind(k2, k1, k9)", []string{"k2", "k1", "k9"}, []string{"bl-1", "bl-2", "bl-3"})
	find(s, ctx, "BlacklistFind of a lifted key", []string{"k3"}, nil)
	find(s, ctx, "BlacklistFind of no keys", nil, nil)
	list("BlacklistList(all)", false, []string{"bl-0", "bl-1", "bl-2", "bl-3"})
	list("BlacklistList(active)", true, []string{"bl-1", "bl-2", "bl-3"})

	tx(t, s, func(ctx context.Context, tx coordination.Tx) error {
		n, err := tx.BlacklistLift(ctx, "rec-1", "alice", at(10*time.Hour))
		if err != nil {
			return err
		}
		if n != 2 {
			t.Errorf("BlacklistLift(rec-1) = %d, want 2", n)
		}
		find(tx, ctx, "in tx after lift: BlacklistFind(k1, k2)", []string{"k1", "k2"}, []string{"bl-3"})
		return nil
	})
	find(s, ctx, "after lift: BlacklistFind(k1, k2)", []string{"k1", "k2"}, []string{"bl-3"})
	list("after lift: BlacklistList(active)", true, []string{"bl-3"})
	all := list("after lift: BlacklistList(all)", false, []string{"bl-0", "bl-1", "bl-2", "bl-3"})
	for _, b := range all {
		switch b.ID {
		case "bl-1", "bl-2":
			if !b.LiftedAt.Equal(at(10*time.Hour)) || b.LiftedBy != "alice" {
				t.Errorf("%s lifted (%v, %q), want (%v, alice)", b.ID, b.LiftedAt, b.LiftedBy, at(10*time.Hour))
			}
		case "bl-0":
			if !b.LiftedAt.Equal(at(time.Minute)) || b.LiftedBy != "admin" {
				t.Errorf("an entry lifted earlier was lifted again: %+v", b)
			}
		case "bl-3":
			if !b.LiftedAt.IsZero() || b.LiftedBy != "" {
				t.Errorf("another record's entry was lifted: %+v", b)
			}
		}
	}
	for rec, want := range map[string]int{"rec-1": 0, "rec-9": 0} {
		tx(t, s, func(ctx context.Context, tx coordination.Tx) error {
			n, err := tx.BlacklistLift(ctx, rec, "alice", at(11*time.Hour))
			if n != want {
				t.Errorf("BlacklistLift(%s) again = %d, want %d", rec, n, want)
			}
			return err
		})
	}
}

func testProposalList(t *testing.T, s coordination.Store) {
	insert(t, s,
		proposal("p-a", coordination.ProposalSuggested, 0.5, at(1*time.Hour)),
		proposal("p-b", coordination.ProposalSuggested, 0.9, at(2*time.Hour)),
		proposal("p-c", coordination.ProposalAccepted, 0.5, at(0)),
		proposal("p-d", coordination.ProposalDismissed, 0.9, at(2*time.Hour)),
		proposal("p-e", coordination.ProposalSuggested, -1, at(0)),
	)
	type states = []coordination.ProposalState
	for _, c := range []struct {
		name string
		f    coordination.ProposalFilter
		want []string
	}{
		{"all, highest priority first, then oldest, then id", coordination.ProposalFilter{},
			[]string{"p-b", "p-d", "p-c", "p-a", "p-e"}},
		{"suggested", coordination.ProposalFilter{States: states{coordination.ProposalSuggested}}, []string{"p-b", "p-a", "p-e"}},
		{"limit", coordination.ProposalFilter{Limit: 2}, []string{"p-b", "p-d"}},
		{"accepted or dismissed", coordination.ProposalFilter{States: states{coordination.ProposalAccepted, coordination.ProposalDismissed}},
			[]string{"p-d", "p-c"}},
	} {
		got, err := s.ProposalList(t.Context(), c.f)
		mustOK(t, c.name, err)
		wantIDs(t, "ProposalList "+c.name, ids(got, propID), c.want)
	}
}
