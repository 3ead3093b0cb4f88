package coordination_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
)

const catalogYAML = `
models:
  - {name: gpt-x, provider: openai, model: gpt-x-2026, family: gpt-x, input_per_mtok: 1, output_per_mtok: 4,
     scores: {accuracy: 0.90, latency_p95: 2.0}, released: 2026-01-01T00:00:00Z}
  - {name: gpt-x-next, provider: openai, model: gpt-x-2027, family: gpt-x, input_per_mtok: 1, output_per_mtok: 4,
     scores: {accuracy: 0.93, latency_p95: 2.0}, released: 2026-05-01T00:00:00Z}
  - {name: mini, provider: openai, model: mini-1, family: mini, input_per_mtok: 0.1, output_per_mtok: 0.4,
     scores: {accuracy: 0.895, latency_p95: 0.8}}
`

func withGenerator(o *coordination.Options) {
	cat, err := coordination.ParseCatalog([]byte(catalogYAML))
	if err != nil {
		panic(err)
	}
	o.Production = candidate
	o.Catalog = func(context.Context) ([]coordination.CatalogModel, error) { return cat, nil }
	o.Feedback = func(context.Context, time.Time) ([]coordination.FeedbackAggregate, error) {
		return []coordination.FeedbackAggregate{
			{Category: "style", Accepted: 30, Dismissed: 40},
			{Category: "security", Accepted: 90, Dismissed: 5},
		}, nil
	}
	o.CostPerReview = func(context.Context) (float64, bool) { return 0.14, true }
}

func bySource(ps []*coordination.Proposal) map[string][]*coordination.Proposal {
	m := map[string][]*coordination.Proposal{}
	for _, p := range ps {
		m[p.Source] = append(m[p.Source], p)
	}
	return m
}

// TestGeneratorSources checks the proposals of each source, their scores and
// dedupe against pending proposals, running experiments and the blacklist.
func TestGeneratorSources(t *testing.T) {
	t.Parallel()
	b := setup(t, withGenerator)
	b.src.set(func(f *fakeSource) { f.health["production"] = sample(0.012, 2.6) })
	ps, err := b.c.Generator().GenerateProposals(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := bySource(ps)
	if r := got[coordination.SourceResearch]; len(r) != 2 {
		t.Fatalf("research proposals %+v, want gpt-x-next (better) and mini (cheaper)", r)
	}
	// The cost signal suggests mini too, which research already proposed: it
	// is deduplicated, leaving the latency and error-rate proposals.
	if s := got[coordination.SourceInternalSignals]; len(s) != 2 {
		t.Fatalf("internal signal proposals: %d, want latency and errors", len(s))
	}
	keys := map[string]bool{}
	for _, p := range ps {
		if keys[p.DedupeKey] {
			t.Fatalf("two proposals test the same thing: %s", p.DedupeKey)
		}
		keys[p.DedupeKey] = true
	}
	fb := got[coordination.SourceUserFeedback]
	if len(fb) != 1 || !strings.Contains(fb[0].Title, "style") {
		t.Fatalf("feedback proposals %+v, want one for style", fb)
	}
	for i := 1; i < len(ps); i++ {
		if ps[i].Priority > ps[i-1].Priority {
			t.Fatal("proposals not sorted by priority")
		}
	}
	for _, p := range ps {
		if p.State != coordination.ProposalSuggested || p.Priority <= 0 || p.Hypothesis == "" || len(p.SuccessCriteria) == 0 {
			t.Errorf("incomplete proposal %+v", p)
		}
	}
	// Generating again adds nothing: everything is already pending.
	again, err := b.c.Generator().GenerateProposals(b.ctx)
	if err != nil || len(again) != 0 {
		t.Fatalf("second generation: %d proposals, %v", len(again), err)
	}
	// Accept one: it becomes a proposed experiment.
	exp, err := b.c.Generator().AcceptProposal(b.ctx, got[coordination.SourceResearch][0].ProposalID)
	if err != nil || exp.State != coordination.ExperimentProposed {
		t.Fatalf("accept: %+v %v", exp, err)
	}
	_, err = b.c.Generator().AcceptProposal(b.ctx, got[coordination.SourceResearch][0].ProposalID)
	if !errors.Is(err, coordination.ErrInvalidTransition) {
		t.Fatalf("accepting twice: %v", err)
	}
}

// TestGeneratorReevaluatesV3: a quarantined variant whose review is due and
// whose model family has a newer release is proposed again, linked to its
// record; a blacklisted candidate is never proposed.
func TestGeneratorReevaluatesV3(t *testing.T) {
	t.Parallel()
	b := setup(t, withGenerator, func(o *coordination.Options) {
		o.Production = coordination.Variant{Name: "baseline", Provider: "builtin"}
		o.Feedback, o.CostPerReview = nil, nil
	})
	quarantine := func(v coordination.Variant) string {
		p, err := b.c.CreateExperiment(b.ctx, coordination.ExperimentSpec{Title: v.Name, Variant: v,
			SuccessCriteria: map[string]string{"accuracy": "> 90%"}})
		if err != nil {
			t.Fatal(err)
		}
		rec, err := b.c.Quarantine().QuarantineExperiment(b.ctx, coordination.QuarantineSpec{ExperimentID: p.ExperimentID,
			FailureType: "accuracy_degradation"})
		if err != nil {
			t.Fatal(err)
		}
		return rec.RecordID
	}
	quarantine(coordination.Variant{Name: "mini", Provider: "openai", Model: "mini-1"})
	gptRecord := quarantine(candidate)
	ps, err := b.c.Generator().GenerateProposals(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if p.Variant.Model == "mini-1" || p.Variant.Fingerprint() == candidate.Fingerprint() {
			t.Fatalf("blacklisted variant proposed: %+v", p)
		}
		if p.Source == coordination.SourceV3Reevaluation {
			t.Fatalf("re-evaluation before the review is due: %+v", p)
		}
	}
	// Ninety days later both records are due; only gpt-x's family has a newer model.
	b.clock.Advance(91 * 24 * time.Hour)
	ps, err = b.c.Generator().GenerateProposals(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	re := bySource(ps)[coordination.SourceV3Reevaluation]
	if len(re) != 1 || re[0].RecordID != gptRecord || re[0].Variant.Model != "gpt-x-2027" {
		t.Fatalf("re-evaluation proposals %+v, want one for %s with gpt-x-2027", re, gptRecord)
	}
}

func TestParseCatalogRefusesBadInput(t *testing.T) {
	t.Parallel()
	bad := map[string]string{
		"unknown field":    "models: [{name: a, provider: openai, model: m, colour: red}]",
		"no model":         "models: [{name: a, provider: openai}]",
		"unknown provider": "models: [{model: m, provider: acme}]",
		"negative price":   "models: [{model: m, provider: openai, input_per_mtok: -1}]",
		"duplicate":        "models: [{model: m, provider: openai}, {model: m, provider: openai}]",
		"not yaml":         "models: [",
	}
	for name, text := range bad {
		if _, err := coordination.ParseCatalog([]byte(text)); !errors.Is(err, coordination.ErrInvalidInput) {
			t.Errorf("%s: %v, want ErrInvalidInput", name, err)
		}
	}
}
