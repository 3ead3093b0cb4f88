package coordination

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// CatalogModel is one model of a research catalog: provider, price and
// claimed scores.
type CatalogModel struct {
	Name     string `json:"name" yaml:"name"`
	Provider string `json:"provider" yaml:"provider"`
	Model    string `json:"model" yaml:"model"`
	// Family groups successive versions of a model ("gpt-4", "claude-sonnet").
	Family        string  `json:"family,omitempty" yaml:"family,omitempty"`
	InputPerMTok  float64 `json:"input_per_mtok" yaml:"input_per_mtok"`
	OutputPerMTok float64 `json:"output_per_mtok" yaml:"output_per_mtok"`
	// Scores are claimed figures in base units: accuracy (fraction),
	// latency_p95 (seconds).
	Scores   map[string]float64 `json:"scores,omitempty" yaml:"scores,omitempty"`
	Released time.Time          `json:"released,omitzero" yaml:"released,omitempty"`
	BaseURL  string             `json:"base_url,omitempty" yaml:"base_url,omitempty"`
}

// CatalogFunc returns the research catalog.
type CatalogFunc func(ctx context.Context) ([]CatalogModel, error)

// maxCatalogBytes bounds a catalog file.
const maxCatalogBytes = 4 << 20

// ParseCatalog reads a catalog in YAML or JSON (JSON is YAML):
// {"models": [{name, provider, model, family, input_per_mtok,
// output_per_mtok, scores, released}]}. Unknown fields are refused; errors
// name the model and field.
func ParseCatalog(data []byte) ([]CatalogModel, error) {
	if len(data) > maxCatalogBytes {
		return nil, invalidInput("catalog", "larger than %d bytes", maxCatalogBytes)
	}
	var doc struct {
		Models []CatalogModel `yaml:"models"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: catalog: %v", ErrInvalidInput, err)
	}
	seen := map[string]bool{}
	for i, m := range doc.Models {
		field := fmt.Sprintf("catalog.models[%d]", i)
		if strings.TrimSpace(m.Model) == "" {
			return nil, invalidInput(field+".model", "must not be empty")
		}
		if m.Name == "" {
			doc.Models[i].Name = m.Model
		}
		switch m.Provider {
		case ProviderOpenAI, ProviderAnthropic, ProviderSimulated, ProviderBuiltin:
		default:
			return nil, invalidInput(field+".provider", "unknown provider %q", m.Provider)
		}
		if m.InputPerMTok < 0 || m.OutputPerMTok < 0 || math.IsNaN(m.InputPerMTok) || math.IsNaN(m.OutputPerMTok) {
			return nil, invalidInput(field+".input_per_mtok", "prices must be non-negative numbers")
		}
		for k, v := range m.Scores {
			if math.IsNaN(v) || v < 0 {
				return nil, invalidInput(field+".scores."+k, "must be a non-negative number")
			}
		}
		key := m.Provider + "/" + m.Model
		if seen[key] {
			return nil, invalidInput(field, "duplicate model %s", key)
		}
		seen[key] = true
	}
	return doc.Models, nil
}

// findCatalog returns the catalog entry for a provider and model.
func findCatalog(cat []CatalogModel, provider, model string) (CatalogModel, bool) {
	for _, m := range cat {
		if m.Provider == provider && strings.EqualFold(m.Model, model) {
			return m, true
		}
	}
	return CatalogModel{}, false
}

func blendedPrice(in, out float64) float64 { return 0.75*in + 0.25*out }

// variantFor builds a candidate variant that swaps production's model for m.
func variantFor(prod Variant, m CatalogModel) Variant {
	v := Variant{Name: m.Name, Provider: m.Provider, Model: m.Model, Prompt: prod.Prompt,
		Strategy: StrategySingle, BaseURL: m.BaseURL,
		Prices: Prices{InputPerMTok: m.InputPerMTok, OutputPerMTok: m.OutputPerMTok}}
	if v.BaseURL == "" && prod.Provider == m.Provider {
		v.BaseURL, v.APIKeyEnv = prod.BaseURL, prod.APIKeyEnv
	}
	return v
}

// ResearchSource proposes catalog models that claim better accuracy than
// production's model, or similar accuracy at a clearly lower price.
type ResearchSource struct{}

// Name returns "research".
func (ResearchSource) Name() string { return SourceResearch }

// Propose compares every catalog model with production's entry.
func (ResearchSource) Propose(_ context.Context, in GeneratorInput) ([]Candidate, error) {
	prod, ok := findCatalog(in.Catalog, in.Production.Provider, in.Production.Model)
	prodAcc := 0.0
	if ok {
		prodAcc = prod.Scores["accuracy"]
	}
	var out []Candidate
	for _, m := range in.Catalog {
		if ok && m.Provider == prod.Provider && strings.EqualFold(m.Model, prod.Model) {
			continue
		}
		acc, hasAcc := m.Scores["accuracy"]
		if !hasAcc {
			continue
		}
		switch {
		case acc >= prodAcc+0.02:
			out = append(out, Candidate{
				Title:      fmt.Sprintf("Try %s for code review", m.Name),
				Hypothesis: fmt.Sprintf("%s claims accuracy %.0f%% against production's %.0f%%", m.Name, 100*acc, 100*prodAcc),
				SuccessCriteria: map[string]string{
					"accuracy":    fmt.Sprintf("> %.0f%%", 100*math.Max(prodAcc, 0.5)),
					"latency_p95": "< 3s", "error_rate": "< 2%"},
				Variant: variantFor(in.Production, m), Source: SourceResearch,
				Impact: (acc - prodAcc) * 5, Confidence: 0.5,
				Rationale: []string{fmt.Sprintf("catalog: %s accuracy %.2f, production %.2f", m.Name, acc, prodAcc)},
			})
		case ok && acc >= prodAcc-0.01:
			pp, mp := blendedPrice(prod.InputPerMTok, prod.OutputPerMTok), blendedPrice(m.InputPerMTok, m.OutputPerMTok)
			if pp > 0 && mp <= 0.8*pp {
				cut := 1 - mp/pp
				out = append(out, Candidate{
					Title:      fmt.Sprintf("Cut cost with %s", m.Name),
					Hypothesis: fmt.Sprintf("%s costs %.0f%% less per token with similar claimed accuracy", m.Name, 100*cut),
					SuccessCriteria: map[string]string{
						"cost_reduction": fmt.Sprintf("> %.0f%%", math.Floor(50*cut)),
						"accuracy":       fmt.Sprintf("> %.0f%%", 100*math.Max(prodAcc-0.02, 0.5)), "error_rate": "< 2%"},
					Variant: variantFor(in.Production, m), Source: SourceResearch,
					Impact: cut, Confidence: 0.5,
					Rationale: []string{fmt.Sprintf("catalog: blended price $%.2f vs production $%.2f per Mtok", mp, pp)},
				})
			}
		}
	}
	return out, nil
}

// InternalSignalsSource proposes experiments from production's own figures:
// p95 near its threshold, high cost per review, provider errors.
type InternalSignalsSource struct{}

// Name returns "internal_signals".
func (InternalSignalsSource) Name() string { return SourceInternalSignals }

// Propose reads production's last health sample and cost per review.
func (InternalSignalsSource) Propose(_ context.Context, in GeneratorInput) ([]Candidate, error) {
	var out []Candidate
	warnLat, warnErr := 3.0, 0.02
	for _, t := range in.Config.Health.Thresholds {
		switch t.Metric {
		case "latency_p95":
			warnLat = t.Warning
		case "error_rate":
			warnErr = t.Warning
		}
	}
	s, ok := in.Health[TargetProduction]
	cheapest := cheapestFaster(in.Catalog, in.Production)
	if ok {
		if p95, has := s.Values["latency_p95"]; has && p95 >= 0.8*warnLat {
			v := in.Production
			v.Name, v.Strategy = in.Production.Name+"-cascade", StrategyCascade
			if cheapest != nil {
				v.Routes = map[string]string{"cheap": cheapest.Name, "escalate": in.Production.Name}
			}
			out = append(out, Candidate{
				Title:           "Cascade routing to bring p95 latency down",
				Hypothesis:      fmt.Sprintf("production p95 %.2fs is within 20%% of the %.1fs threshold; a cheap fast first pass escalating only security-sensitive files lowers it", p95, warnLat),
				SuccessCriteria: map[string]string{"latency_p95": fmt.Sprintf("< %.1fs", 0.7*warnLat), "agreement": "> 85%", "error_rate": "< 2%"},
				Variant:         v, Source: SourceInternalSignals,
				Impact: math.Min(1, p95/warnLat), Confidence: 0.7,
				Rationale: []string{fmt.Sprintf("production latency_p95 = %.2fs (warning %.1fs)", p95, warnLat)},
			})
		}
		if er, has := s.Values["error_rate"]; has && er >= 0.5*warnErr && s.Requests >= 100 {
			out = append(out, Candidate{
				Title:           "Retry and fallback for provider errors",
				Hypothesis:      fmt.Sprintf("production error rate %.2f%% is half-way to the %.0f%% threshold; retries with a fallback provider cut it", 100*er, 100*warnErr),
				SuccessCriteria: map[string]string{"error_rate": fmt.Sprintf("< %.1f%%", 100*er/2), "accuracy": "> 85%"},
				Variant:         withParam(in.Production, in.Production.Name+"-retry", "max_attempts", 3),
				Source:          SourceInternalSignals, Impact: math.Min(1, er/warnErr), Confidence: 0.6,
				Rationale: []string{fmt.Sprintf("production error_rate = %.4f over %d requests", er, s.Requests)},
			})
		}
	}
	if in.HasCost && in.CostPerReview >= 0.10 && cheapest != nil {
		out = append(out, Candidate{
			Title:           fmt.Sprintf("Lower cost per review with %s", cheapest.Name),
			Hypothesis:      fmt.Sprintf("cost per review is $%.3f; %s is cheaper per token", in.CostPerReview, cheapest.Name),
			SuccessCriteria: map[string]string{"cost_reduction": "> 20%", "accuracy": "> 85%", "error_rate": "< 2%"},
			Variant:         variantFor(in.Production, *cheapest), Source: SourceInternalSignals,
			Impact: math.Min(1, in.CostPerReview/0.2), Confidence: 0.6,
			Rationale: []string{fmt.Sprintf("cost_per_review = $%.4f", in.CostPerReview)},
		})
	}
	return out, nil
}

func withParam(v Variant, name, key string, val any) Variant {
	p := make(map[string]any, len(v.Parameters)+1)
	for k, x := range v.Parameters {
		p[k] = x
	}
	p[key] = val
	v.Parameters, v.Name = p, name
	return v
}

// cheapestFaster returns the cheapest catalog model other than production's.
func cheapestFaster(cat []CatalogModel, prod Variant) *CatalogModel {
	var best *CatalogModel
	for i := range cat {
		m := &cat[i]
		if m.Provider == prod.Provider && strings.EqualFold(m.Model, prod.Model) {
			continue
		}
		if best == nil || blendedPrice(m.InputPerMTok, m.OutputPerMTok) < blendedPrice(best.InputPerMTok, best.OutputPerMTok) {
			best = m
		}
	}
	return best
}

// FeedbackSource proposes prompt changes for finding categories that users
// dismiss often or complain about.
type FeedbackSource struct{}

// Name returns "user_feedback".
func (FeedbackSource) Name() string { return SourceUserFeedback }

// Propose looks for categories with at least 20 rated findings and a
// dismissal rate of 30% or more, or at least 5 complaints.
func (FeedbackSource) Propose(_ context.Context, in GeneratorInput) ([]Candidate, error) {
	fb := append([]FeedbackAggregate(nil), in.Feedback...)
	sort.Slice(fb, func(i, j int) bool { return fb[i].Category < fb[j].Category })
	var out []Candidate
	for _, f := range fb {
		n := f.Accepted + f.Dismissed
		rate := 0.0
		if n > 0 {
			rate = float64(f.Dismissed) / float64(n)
		}
		if !(n >= 20 && rate >= 0.3) && f.Complaints < 5 {
			continue
		}
		v := in.Production
		v.Name = fmt.Sprintf("%s-%s-precise", in.Production.Name, f.Category)
		v.Prompt = strings.TrimSpace(in.Production.Prompt + fmt.Sprintf(
			"\nReport %s findings only when the changed lines clearly show the problem; skip speculative ones.", f.Category))
		if !strings.Contains(v.Prompt, "{{.Diff}}") {
			v.Prompt += "\n{{.Diff}}"
		}
		accept := 1 - rate
		out = append(out, Candidate{
			Title:      fmt.Sprintf("Fewer dismissed %s findings", f.Category),
			Hypothesis: fmt.Sprintf("users dismiss %.0f%% of %s findings (%d rated, %d complaints); a stricter prompt raises acceptance", 100*rate, f.Category, n, f.Complaints),
			SuccessCriteria: map[string]string{"acceptance_rate": fmt.Sprintf("> %.0f%%", math.Min(95, 100*accept+10)),
				"recall": "> 80%"},
			Variant: v, Source: SourceUserFeedback,
			Impact: math.Min(1, rate+float64(f.Complaints)/50), Confidence: math.Min(0.9, 0.4+float64(n)/200),
			Rationale: []string{fmt.Sprintf("%s: %d accepted, %d dismissed, %d complaints", f.Category, f.Accepted, f.Dismissed, f.Complaints)},
		})
	}
	return out, nil
}

// ReevaluationSource proposes retrying quarantined variants whose review is
// due and whose context changed: a newer model of the same family, or a
// price drop of 20% or more.
type ReevaluationSource struct{}

// Name returns "v3_reevaluation".
func (ReevaluationSource) Name() string { return SourceV3Reevaluation }

// Propose checks every record due for review against the catalog.
func (ReevaluationSource) Propose(_ context.Context, in GeneratorInput) ([]Candidate, error) {
	var out []Candidate
	for _, d := range in.DueRecords {
		if d.Retried {
			continue
		}
		r := d.Record
		old := r.Snapshot.Variant
		if old.Model == "" {
			continue
		}
		entry, known := findCatalog(in.Catalog, old.Provider, old.Model)
		family := entry.Family
		// A newer model of the same family.
		var newer *CatalogModel
		for i := range in.Catalog {
			m := &in.Catalog[i]
			if family != "" && m.Family == family && m.Provider == old.Provider && !strings.EqualFold(m.Model, old.Model) &&
				m.Released.After(r.QuarantinedAt) && (newer == nil || m.Released.After(newer.Released)) {
				newer = m
			}
		}
		crit := copyStrings(r.Snapshot.SuccessCriteria)
		switch {
		case newer != nil:
			v := old
			v.Name, v.Model = newer.Name, newer.Model
			v.Prices = Prices{InputPerMTok: newer.InputPerMTok, OutputPerMTok: newer.OutputPerMTok}
			out = append(out, Candidate{
				Title:           fmt.Sprintf("Re-evaluate %s with %s", r.Snapshot.Title, newer.Name),
				Hypothesis:      fmt.Sprintf("record %s failed with %s (%s); %s of the same family is newer", r.RecordID, old.Model, r.RootCause.Category, newer.Model),
				SuccessCriteria: crit, Variant: v, Source: SourceV3Reevaluation, RecordID: r.RecordID,
				Impact: 0.5, Confidence: 0.5,
				Rationale: []string{fmt.Sprintf("newer model %s released %s", newer.Model, newer.Released.Format("2006-01-02"))},
			})
		case known && (old.Prices.InputPerMTok > 0 || old.Prices.OutputPerMTok > 0) &&
			blendedPrice(entry.InputPerMTok, entry.OutputPerMTok) <= 0.8*blendedPrice(old.Prices.InputPerMTok, old.Prices.OutputPerMTok) &&
			(r.FailureType == FailureCostOverrun || r.FailureType == FailureBudgetExhausted):
			v := old
			v.Prices = Prices{InputPerMTok: entry.InputPerMTok, OutputPerMTok: entry.OutputPerMTok}
			out = append(out, Candidate{
				Title:           fmt.Sprintf("Re-evaluate %s after a price drop", r.Snapshot.Title),
				Hypothesis:      fmt.Sprintf("record %s failed on cost; %s is now at least 20%% cheaper", r.RecordID, old.Model),
				SuccessCriteria: crit, Variant: v, Source: SourceV3Reevaluation, RecordID: r.RecordID,
				Impact: 0.4, Confidence: 0.6,
				Rationale: []string{fmt.Sprintf("price now $%.2f/$%.2f per Mtok", entry.InputPerMTok, entry.OutputPerMTok)},
			})
		}
	}
	return out, nil
}
