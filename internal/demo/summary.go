package demo

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
)

// summary prints where the cycle ended and checks that the three stories
// happened: the better reviewer is production, the worse one and the one
// that broke are in V3 with the expected failure types, and the audit chain
// verifies.
func (s *script) summary(ctx context.Context) error {
	now := s.clock.Now()
	rel, err := s.store.ReleaseActive(ctx)
	if err != nil {
		return fmt.Errorf("summary: %w", err)
	}
	releases, err := s.store.ReleaseList(ctx)
	if err != nil {
		return fmt.Errorf("summary: %w", err)
	}
	recs, err := s.store.QuarantineList(ctx, coordination.QuarantineFilter{})
	if err != nil {
		return fmt.Errorf("summary: %w", err)
	}
	bl, err := s.store.BlacklistList(ctx, true)
	if err != nil {
		return fmt.Errorf("summary: %w", err)
	}
	exps, err := s.store.ExperimentList(ctx, coordination.ExperimentFilter{})
	if err != nil {
		return fmt.Errorf("summary: %w", err)
	}
	alerts, err := s.c.Health().GetActiveAlerts(ctx)
	if err != nil {
		return fmt.Errorf("summary: %w", err)
	}
	slo, err := s.c.Health().CalculateSLOCompliance(ctx)
	if err != nil {
		return fmt.Errorf("summary: %w", err)
	}
	audit, err := s.c.VerifyAudit(ctx)
	if err != nil {
		return fmt.Errorf("summary: %w", err)
	}

	s.tl.text("")
	span := now.Sub(s.start).Round(time.Minute)
	s.tl.text("== summary at %s (%dd %dh %02dm of simulated time)", s.tl.when(now),
		span/(24*time.Hour), span%(24*time.Hour)/time.Hour, span%time.Hour/time.Minute)
	s.tl.text("V2 production: %s (release %s, from %s): %s", rel.Variant.Name, rel.ID, dash(rel.ExperimentID), rel.Note)
	for _, r := range releases {
		if r.State == coordination.ReleaseArchived {
			s.tl.text("V2 archived:   %s (release %s), archived at %s", r.Variant.Name, r.ID, s.tl.when(r.ArchivedAt))
		}
	}
	var states []string
	for _, id := range []string{s.good, s.bad, s.breaks} {
		for _, e := range exps {
			if e.ID == id {
				states = append(states, fmt.Sprintf("%s %s (%s)", e.ID, e.State, e.Variant.Name))
			}
		}
	}
	s.tl.text("V1 experiments: %s", strings.Join(states, "; "))
	for _, r := range recs {
		s.tl.text("V3 record %s: %s, %s (root cause %s), next review %s, hash %.12s…",
			r.RecordID, r.ExperimentID, r.FailureType, r.RootCause.Category, r.NextReviewAt.Format("2006-01-02"), r.ContentHash)
	}
	s.tl.text("V3 blacklist: %d active entries", len(bl))
	var firing []string
	for _, a := range alerts {
		firing = append(firing, a.ID+" "+string(a.State))
	}
	s.tl.text("alerts: %s; SLO compliant=%t (error budget %.0f%% left)", dash(strings.Join(firing, ", ")), slo.Compliant, 100*slo.BudgetRemaining)
	ws := s.dp.worker.Stats()
	s.tl.text("data plane: the gateway answered %d reviews (%d by canaries); the experiments worker ran %d shadow copies (%d failed)",
		s.dp.served, s.dp.canary, ws.Done+ws.Failed, ws.Failed)
	s.tl.text("events published: %d; audit log: %d entries, chain verified=%t", s.tl.total(), audit.Entries, audit.OK)
	if !audit.OK {
		return fmt.Errorf("summary: the audit chain does not verify at entry %d: %s", audit.FirstBadSeq, audit.Reason)
	}
	return s.check(ctx, rel, recs)
}

// check verifies the stories from the stored state.
func (s *script) check(ctx context.Context, rel *coordination.Release, recs []*coordination.QuarantineRecord) error {
	if rel.ExperimentID != s.good {
		return fmt.Errorf("story 1: production is release %s of %q, not experiment %s", rel.ID, rel.ExperimentID, s.good)
	}
	byExp := map[string]*coordination.QuarantineRecord{}
	for _, r := range recs {
		byExp[r.ExperimentID] = r
	}
	if r := byExp[s.bad]; r == nil || r.FailureType != coordination.FailureAccuracyDegradation {
		return fmt.Errorf("story 2: experiment %s has no accuracy_degradation record", s.bad)
	}
	r := byExp[s.breaks]
	if r == nil || r.FailureType != coordination.FailureCanarySLOBreach {
		return fmt.Errorf("story 3: experiment %s has no canary_slo_breach record", s.breaks)
	}
	if s.tl.count(coordination.EventAutoRemediation) == 0 {
		return fmt.Errorf("story 3: the health monitor took no remediation")
	}
	p, err := s.promotionOf(ctx, s.breaks)
	if err != nil || p == nil || p.State != coordination.PromotionRolledBack {
		return fmt.Errorf("story 3: the promotion of %s was not rolled back", s.breaks)
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
