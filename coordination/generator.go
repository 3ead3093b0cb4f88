package coordination

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// ExperimentGenerator proposes experiments from research catalogs, internal
// signals, user feedback and V3 re-evaluation. Proposals are deduplicated
// against running experiments, pending proposals and the blacklist, scored,
// and stored as suggested until an admin accepts one.
type ExperimentGenerator struct {
	c *LifecycleCoordinator // non-nil
}

func newExperimentGenerator(c *LifecycleCoordinator) *ExperimentGenerator {
	return &ExperimentGenerator{c: c}
}

// Candidate is a source's raw suggestion, before dedupe and scoring.
type Candidate struct {
	Title           string
	Hypothesis      string
	SuccessCriteria map[string]string
	Variant         Variant
	Source          string
	// Impact is the expected relative improvement (0-1); Confidence how sure
	// the source is (0-1). Priority = Impact × Confidence × source weight.
	Impact, Confidence float64
	Rationale          []string
	RecordID           string
}

// GeneratorInput is what sources look at.
type GeneratorInput struct {
	Now        time.Time
	Production Variant
	// Active are experiments that are proposed, running, held or promoting.
	Active        []*Experiment
	Health        map[string]HealthSample
	CostPerReview float64
	HasCost       bool
	Catalog       []CatalogModel
	DueRecords    []DueRecord
	Feedback      []FeedbackAggregate
	Config        Config
}

// ProposalSource is one source of proposals.
type ProposalSource interface {
	Name() string
	Propose(ctx context.Context, in GeneratorInput) ([]Candidate, error)
}

// FeedbackAggregate is user feedback on findings of one category.
type FeedbackAggregate struct {
	Category   string `json:"category"`
	Accepted   int64  `json:"accepted"`
	Dismissed  int64  `json:"dismissed"`
	Complaints int64  `json:"complaints"`
}

// FeedbackFunc returns feedback aggregated by category since a time.
type FeedbackFunc func(ctx context.Context, since time.Time) ([]FeedbackAggregate, error)

// sourceWeights scale priorities by how directly a source speaks for users.
var sourceWeights = map[string]float64{
	SourceInternalSignals: 1.0, SourceUserFeedback: 0.9, SourceResearch: 0.8, SourceV3Reevaluation: 0.7,
}

// GenerateProposals asks every source for candidates, drops those that
// duplicate an active experiment, a pending proposal, each other or a
// blacklisted variant, stores the rest as suggested proposals and returns
// them, highest priority first.
func (g *ExperimentGenerator) GenerateProposals(ctx context.Context) ([]*Proposal, error) {
	actor, err := authorize(ctx, PermProposalsGenerate, "")
	if err != nil {
		return nil, fmt.Errorf("generate proposals: %w", err)
	}
	in, err := g.input(ctx)
	if err != nil {
		return nil, fmt.Errorf("generate proposals: %w", err)
	}
	sources := append([]ProposalSource{ResearchSource{}, InternalSignalsSource{}, FeedbackSource{}, ReevaluationSource{}}, g.c.opts.Sources...)
	var cands []Candidate
	for _, s := range sources {
		cs, err := s.Propose(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("generate proposals: source %s: %w", s.Name(), err)
		}
		cands = append(cands, cs...)
	}
	var out []*Proposal
	err = g.c.tx(ctx, func(ctx context.Context, w *txw) error {
		out = out[:0]
		pending, err := w.tx.ProposalList(ctx, ProposalFilter{States: []ProposalState{ProposalSuggested}})
		if err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, p := range pending {
			seen[p.DedupeKey] = true
		}
		for _, e := range in.Active {
			if !e.Variant.IsZero() {
				seen[dedupeKey(e.Variant, e.Title)] = true
			}
		}
		var skipped []string
		for _, cand := range cands {
			key := dedupeKey(cand.Variant, cand.Title)
			if seen[key] {
				skipped = append(skipped, cand.Title+" (duplicate)")
				continue
			}
			if err := g.c.quarantine.checkBlacklist(ctx, w.tx, cand.Variant); err != nil {
				if errors.Is(err, ErrBlacklisted) {
					skipped = append(skipped, cand.Title+" (blacklisted)")
					continue
				}
				return err
			}
			if err := (ExperimentSpec{Title: cand.Title, Hypothesis: cand.Hypothesis,
				SuccessCriteria: cand.SuccessCriteria, Variant: cand.Variant}).validateOnly(); err != nil {
				return fmt.Errorf("source %s produced an invalid proposal %q: %w", cand.Source, cand.Title, err)
			}
			seen[key] = true
			p := &Proposal{ProposalID: NewID(PrefixProposal, w.now), Title: cand.Title, Hypothesis: cand.Hypothesis,
				SuccessCriteria: copyStrings(cand.SuccessCriteria), Variant: cand.Variant, Source: cand.Source,
				Priority: priority(cand), State: ProposalSuggested, Rationale: cand.Rationale,
				RecordID: cand.RecordID, DedupeKey: key, CreatedAt: w.now, UpdatedAt: w.now}
			if err := w.tx.ProposalInsert(ctx, p); err != nil {
				return err
			}
			out = append(out, p)
		}
		ids := make([]string, len(out))
		for i, p := range out {
			ids[i] = p.ProposalID
		}
		return w.audit(actor, "proposals.generate", "proposals", map[string]any{"created": ids, "skipped": skipped})
	})
	if err != nil {
		return nil, fmt.Errorf("generate proposals: %w", err)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Priority > out[j].Priority })
	return out, nil
}

func (s ExperimentSpec) validateOnly() error {
	_, err := s.validate()
	return err
}

func priority(c Candidate) float64 {
	w, ok := sourceWeights[c.Source]
	if !ok {
		w = 0.5
	}
	p := clamp01(c.Impact) * clamp01(c.Confidence) * w
	return float64(int(p*1000+0.5)) / 1000
}

func clamp01(x float64) float64 { return max(0, min(1, x)) }

// dedupeKey is equal for candidates that would test the same thing: the
// same variant behaviour, or (without a variant) the same title.
func dedupeKey(v Variant, title string) string {
	if !v.IsZero() {
		return "variant:" + v.Fingerprint()
	}
	return "title:" + strings.ToLower(strings.Join(strings.Fields(title), " "))
}

// input gathers what the sources look at.
func (g *ExperimentGenerator) input(ctx context.Context) (GeneratorInput, error) {
	c := g.c
	in := GeneratorInput{Now: c.clock.Now(), Config: c.cfg, Health: map[string]HealthSample{}}
	rel, err := c.store.ReleaseActive(ctx)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return in, err
	}
	if rel != nil {
		in.Production = rel.Variant
	}
	if in.Active, err = c.store.ExperimentList(ctx, ExperimentFilter{States: []ExperimentState{
		ExperimentProposed, ExperimentRunning, ExperimentHeld, ExperimentPromoting}}); err != nil {
		return in, err
	}
	if s, ok := c.health.LastSample(TargetProduction); ok {
		in.Health[TargetProduction] = s
	} else if c.opts.HealthMetrics != nil {
		if s, err := c.opts.HealthMetrics(ctx, TargetProduction, c.cfg.HealthWindow.D()); err == nil {
			in.Health[TargetProduction] = s
		}
	}
	if c.opts.CostPerReview != nil {
		in.CostPerReview, in.HasCost = c.opts.CostPerReview(ctx)
	}
	if c.opts.Catalog != nil {
		if in.Catalog, err = c.opts.Catalog(ctx); err != nil {
			return in, fmt.Errorf("read catalog: %w", err)
		}
	}
	if in.DueRecords, err = c.quarantine.DueForReview(ctx, in.Now); err != nil {
		return in, err
	}
	if c.opts.Feedback != nil {
		if in.Feedback, err = c.opts.Feedback(ctx, in.Now.Add(-30*24*time.Hour)); err != nil {
			return in, fmt.Errorf("read feedback: %w", err)
		}
	}
	return in, nil
}

// AcceptProposal turns a suggested proposal into a proposed experiment
// (refused when the blacklist blocks its variant).
func (g *ExperimentGenerator) AcceptProposal(ctx context.Context, proposalID string) (*Experiment, error) {
	actor, err := authorize(ctx, PermProposalsAccept, "")
	if err != nil {
		return nil, fmt.Errorf("accept proposal %s: %w", proposalID, err)
	}
	var exp *Experiment
	err = g.c.tx(ctx, func(ctx context.Context, w *txw) error {
		p, err := w.tx.ProposalGet(ctx, proposalID)
		if err != nil {
			return err
		}
		if p.State != ProposalSuggested {
			return fmt.Errorf("%w: cannot accept a proposal in state %q", ErrInvalidTransition, p.State)
		}
		retryOf := ""
		if p.Source == SourceRetry {
			retryOf = p.RecordID
		}
		exp, err = g.c.createExperimentTx(ctx, w, actor, ExperimentSpec{Title: p.Title, Hypothesis: p.Hypothesis,
			SuccessCriteria: p.SuccessCriteria, Variant: p.Variant}, p.ProposalID, retryOf)
		if err != nil {
			return err
		}
		p.State, p.ExperimentID, p.UpdatedAt = ProposalAccepted, exp.ID, w.now
		if err := w.tx.ProposalUpdate(ctx, p); err != nil {
			return err
		}
		return w.audit(actor, "proposal.accept", p.ProposalID, map[string]any{"experiment_id": exp.ID})
	})
	if err != nil {
		return nil, fmt.Errorf("accept proposal %s: %w", proposalID, err)
	}
	return exp, nil
}

// DismissProposal declines a suggested proposal.
func (g *ExperimentGenerator) DismissProposal(ctx context.Context, proposalID, reason string) error {
	actor, err := authorize(ctx, PermProposalsAccept, "")
	if err != nil {
		return fmt.Errorf("dismiss proposal %s: %w", proposalID, err)
	}
	err = g.c.tx(ctx, func(ctx context.Context, w *txw) error {
		p, err := w.tx.ProposalGet(ctx, proposalID)
		if err != nil {
			return err
		}
		if p.State != ProposalSuggested {
			return fmt.Errorf("%w: cannot dismiss a proposal in state %q", ErrInvalidTransition, p.State)
		}
		p.State, p.UpdatedAt = ProposalDismissed, w.now
		if err := w.tx.ProposalUpdate(ctx, p); err != nil {
			return err
		}
		return w.audit(actor, "proposal.dismiss", p.ProposalID, map[string]any{"reason": reason})
	})
	if err != nil {
		return fmt.Errorf("dismiss proposal %s: %w", proposalID, err)
	}
	return nil
}

// GetProposal returns one proposal.
func (g *ExperimentGenerator) GetProposal(ctx context.Context, id string) (*Proposal, error) {
	if _, err := authorize(ctx, PermProposalsRead, ""); err != nil {
		return nil, fmt.Errorf("get proposal %s: %w", id, err)
	}
	p, err := g.c.store.ProposalGet(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("get proposal: %w", err)
	}
	return p, nil
}

// ListProposals returns proposals, highest priority first.
func (g *ExperimentGenerator) ListProposals(ctx context.Context, f ProposalFilter) ([]*Proposal, error) {
	if _, err := authorize(ctx, PermProposalsRead, ""); err != nil {
		return nil, fmt.Errorf("list proposals: %w", err)
	}
	return g.c.store.ProposalList(ctx, f)
}
