package coordination

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/tricyclehq/tricycle/coordination/alerting"
)

// activeCanary returns the promotion in its phases, or nil.
func (c *LifecycleCoordinator) activeCanary(ctx context.Context) (*PromotionRequest, error) {
	ps, err := c.store.PromotionList(ctx, PromotionFilter{States: phaseStates(MaxPhases)})
	if err != nil {
		return nil, fmt.Errorf("read active canary: %w", err)
	}
	if len(ps) == 0 {
		return nil, nil
	}
	return ps[0], nil
}

// rollbackLatest rolls back the active canary or, with none, the most recent
// completed promotion still in its rollback window. It returns the
// promotion's ID, or "" when there was nothing to roll back.
func (c *LifecycleCoordinator) rollbackLatest(ctx context.Context, actor Actor, reason string, alert any) (string, error) {
	var id string
	err := c.tx(ctx, func(ctx context.Context, w *txw) error {
		id = ""
		target, err := c.rollbackTarget(ctx, w.tx, w.now)
		if err != nil || target == nil {
			return err
		}
		id = target.RequestID
		ft := FailureManual
		var ev map[string]any
		if actor.Role == RoleSystem {
			ft = FailureCanarySLOBreach
			ev = map[string]any{"alert": alert}
			if a, ok := alert.(alerting.Alert); ok {
				ev["metrics"] = map[string]float64{a.Metric: a.Value}
			}
		}
		return c.promotion.rollbackTx(ctx, w, actor, target, reason, ft, ev)
	})
	return id, err
}

func (c *LifecycleCoordinator) rollbackTarget(ctx context.Context, r Reader, now time.Time) (*PromotionRequest, error) {
	ps, err := r.PromotionList(ctx, PromotionFilter{States: phaseStates(MaxPhases)})
	if err != nil {
		return nil, err
	}
	if len(ps) > 0 {
		return ps[0], nil
	}
	done, err := r.PromotionList(ctx, PromotionFilter{States: []PromotionState{PromotionCompleted}})
	if err != nil {
		return nil, err
	}
	var best *PromotionRequest
	for _, p := range done {
		if p.RollbackWindowEnds.After(now) && (best == nil || p.CompletedAt.After(best.CompletedAt)) {
			best = p
		}
	}
	return best, nil
}

// EmergencyRollback rolls back the active canary or, with none, the most
// recent promotion still in its rollback window: all traffic goes back to
// the old release in one routing update. With nothing to roll back it
// returns an ErrNotFound error.
func (c *LifecycleCoordinator) EmergencyRollback(ctx context.Context, reason, actor string) error {
	a, err := authorize(ctx, PermPromotionsRollback, actor)
	if err != nil {
		return fmt.Errorf("emergency rollback: %w", err)
	}
	if strings.TrimSpace(reason) == "" {
		return fmt.Errorf("emergency rollback: %w", invalidInput("reason", "must not be empty"))
	}
	id, err := c.rollbackLatest(ctx, a, "emergency rollback: "+reason, nil)
	if err != nil {
		return fmt.Errorf("emergency rollback: %w", err)
	}
	if id == "" {
		return fmt.Errorf("emergency rollback: no canary and no promotion within its rollback window: %w", ErrNotFound)
	}
	return nil
}

// Routing is what the gateway needs to route traffic.
type Routing struct {
	Production *Release `json:"production"`
	// Canary is the promotion in its phases (nil when none): the candidate
	// takes Canary.TrafficPercent of user traffic.
	Canary *PromotionRequest `json:"canary,omitempty"`
	// Experiments are the running experiments, each taking ShadowPercent of
	// production requests as shadow copies.
	Experiments []*Experiment `json:"experiments"`
}

// Routing returns the current routing state.
func (c *LifecycleCoordinator) Routing(ctx context.Context) (Routing, error) {
	var r Routing
	var err error
	if r.Production, err = c.store.ReleaseActive(ctx); err != nil {
		return r, fmt.Errorf("routing: %w", err)
	}
	if r.Canary, err = c.activeCanary(ctx); err != nil {
		return r, fmt.Errorf("routing: %w", err)
	}
	if r.Experiments, err = c.store.ExperimentList(ctx, ExperimentFilter{States: []ExperimentState{ExperimentRunning}}); err != nil {
		return r, fmt.Errorf("routing: %w", err)
	}
	return r, nil
}

// SystemStatus is the overview of the whole cycle.
type SystemStatus struct {
	At                 time.Time               `json:"at"`
	Production         *Release                `json:"production"`
	ExperimentsByState map[ExperimentState]int `json:"experiments_by_state"`
	RunningExperiments int                     `json:"running_experiments"`
	ActivePromotions   []*PromotionRequest     `json:"active_promotions"`
	QuarantineRecords  int                     `json:"quarantine_records"`
	BlacklistEntries   int                     `json:"blacklist_entries"`
	PendingProposals   int                     `json:"pending_proposals"`
	ActiveAlerts       []Alert                 `json:"active_alerts"`
	SLO                SLOCompliance           `json:"slo"`
}

// String is a one-paragraph summary of the status.
func (s SystemStatus) String() string {
	var b strings.Builder
	prod := "none"
	if s.Production != nil {
		prod = fmt.Sprintf("%s (%s)", s.Production.Variant.Name, s.Production.ID)
	}
	fmt.Fprintf(&b, "V2 production %s; SLO compliant=%t, error budget %.0f%% left", prod, s.SLO.Compliant, 100*s.SLO.BudgetRemaining)
	states := make([]string, 0, len(s.ExperimentsByState))
	for st, n := range s.ExperimentsByState {
		states = append(states, fmt.Sprintf("%s=%d", st, n))
	}
	sort.Strings(states)
	fmt.Fprintf(&b, "; V1 experiments: %s", strings.Join(states, " "))
	for _, p := range s.ActivePromotions {
		fmt.Fprintf(&b, "; promotion %s %s at %d%%", p.RequestID, p.State, p.TrafficPercent)
	}
	fmt.Fprintf(&b, "; V3 records %d, blacklist %d; proposals pending %d; active alerts %d",
		s.QuarantineRecords, s.BlacklistEntries, s.PendingProposals, len(s.ActiveAlerts))
	return b.String()
}

// SystemStatus returns an overview of V1, V2, V3, alerts and SLOs.
func (c *LifecycleCoordinator) SystemStatus(ctx context.Context) (SystemStatus, error) {
	if _, err := authorize(ctx, PermStatusRead, ""); err != nil {
		return SystemStatus{}, fmt.Errorf("system status: %w", err)
	}
	s := SystemStatus{At: c.clock.Now(), ExperimentsByState: map[ExperimentState]int{}}
	var err error
	if s.Production, err = c.store.ReleaseActive(ctx); err != nil && !errors.Is(err, ErrNotFound) {
		return s, fmt.Errorf("system status: %w", err)
	}
	exps, err := c.store.ExperimentList(ctx, ExperimentFilter{})
	if err != nil {
		return s, fmt.Errorf("system status: %w", err)
	}
	for _, e := range exps {
		s.ExperimentsByState[e.State]++
	}
	s.RunningExperiments = s.ExperimentsByState[ExperimentRunning]
	sys := WithActor(ctx, SystemActor("status"))
	if s.ActivePromotions, err = c.promotion.GetActivePromotions(sys); err != nil {
		return s, fmt.Errorf("system status: %w", err)
	}
	recs, err := c.store.QuarantineList(ctx, QuarantineFilter{})
	if err != nil {
		return s, fmt.Errorf("system status: %w", err)
	}
	s.QuarantineRecords = len(recs)
	bl, err := c.store.BlacklistList(ctx, true)
	if err != nil {
		return s, fmt.Errorf("system status: %w", err)
	}
	s.BlacklistEntries = len(bl)
	props, err := c.store.ProposalList(ctx, ProposalFilter{States: []ProposalState{ProposalSuggested}})
	if err != nil {
		return s, fmt.Errorf("system status: %w", err)
	}
	s.PendingProposals = len(props)
	if s.ActiveAlerts, err = c.health.GetActiveAlerts(sys); err != nil {
		return s, fmt.Errorf("system status: %w", err)
	}
	if s.SLO, err = c.health.CalculateSLOCompliance(sys); err != nil {
		return s, fmt.Errorf("system status: %w", err)
	}
	return s, nil
}

// Releases returns the release history, newest first.
func (c *LifecycleCoordinator) Releases(ctx context.Context) ([]*Release, error) {
	if _, err := authorize(ctx, PermPromotionsRead, ""); err != nil {
		return nil, fmt.Errorf("list releases: %w", err)
	}
	return c.store.ReleaseList(ctx)
}

// AuditLog returns audit entries after afterSeq, up to limit.
func (c *LifecycleCoordinator) AuditLog(ctx context.Context, afterSeq int64, limit int) ([]*AuditEntry, error) {
	if _, err := authorize(ctx, PermAuditRead, ""); err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	return c.store.AuditList(ctx, AuditFilter{AfterSeq: afterSeq, Limit: limit})
}

// VerifyAudit checks the whole audit chain and names the first entry that
// was altered, removed or reordered.
func (c *LifecycleCoordinator) VerifyAudit(ctx context.Context) (AuditVerification, error) {
	if _, err := authorize(ctx, PermAuditRead, ""); err != nil {
		return AuditVerification{}, fmt.Errorf("verify audit: %w", err)
	}
	var all []*AuditEntry
	var after int64
	for {
		page, err := c.store.AuditList(ctx, AuditFilter{AfterSeq: after, Limit: 1000})
		if err != nil {
			return AuditVerification{}, fmt.Errorf("verify audit: %w", err)
		}
		all = append(all, page...)
		if len(page) < 1000 {
			break
		}
		after = page[len(page)-1].Seq
	}
	var head *auditHead
	raw, err := c.store.KVGet(ctx, kvAuditHead)
	switch {
	case err == nil:
		head = &auditHead{}
		if json.Unmarshal(raw, head) != nil {
			return AuditVerification{Entries: int64(len(all)), FirstBadSeq: 1, Reason: "the audit head record is corrupt"}, nil
		}
	case !errors.Is(err, ErrNotFound):
		return AuditVerification{}, fmt.Errorf("verify audit: read head: %w", err)
	}
	return verifyHead(VerifyAuditChain(all), all, head), nil
}
