package coordination

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// rcaInput is what the root-cause rules look at.
type rcaInput struct {
	ft        FailureType
	ev        Evidence
	cand, v2  Variant
	diff      []string // human descriptions of how the candidate differs from V2
	modelDiff bool
	promptDif bool
	stratDiff bool
	priceUp   bool
	logs      string // lower-cased error logs
	// What breached, from the metrics at failure (seed thresholds).
	errBreach, latBreach, accBreach bool
}

// rcaRule is one row of the root-cause rule table: the first row whose match
// holds names the category.
type rcaRule struct {
	name       string
	match      func(in rcaInput) bool
	category   string
	summary    func(in rcaInput) string
	confidence float64
}

var (
	reTimeout   = regexp.MustCompile(`timeout|timed out|deadline exceeded`)
	reRateLimit = regexp.MustCompile(`\b429\b|rate.?limit|too many requests|quota`)
	reParse     = regexp.MustCompile(`unparsable|parse|invalid json|malformed|unexpected token`)
	reAuth      = regexp.MustCompile(`\b401\b|\b403\b|unauthori[sz]ed|invalid api key|forbidden`)
	reHalluc    = regexp.MustCompile(`hallucinat|fabricat|nonexistent|made.?up`)
	reInjection = regexp.MustCompile(`inject|ignore previous|jailbreak`)
)

// rcaRules is the transparent rule table, most specific first.
var rcaRules = []rcaRule{
	{"budget", func(in rcaInput) bool { return in.ft == FailureBudgetExhausted }, "cost",
		func(in rcaInput) string { return "the experiment spent its shadow budget before a decision" }, 0.9},
	{"safety-injection", func(in rcaInput) bool {
		return in.ft == FailureSafetyViolation && reInjection.MatchString(in.logs)
	}, "prompt_injection", func(rcaInput) string {
		return "reviewed code could steer the model: the prompt is not hardened against injection"
	}, 0.85},
	{"safety", func(in rcaInput) bool { return in.ft == FailureSafetyViolation }, "security",
		func(rcaInput) string {
			return "the variant failed a security check (endpoint, secrets or prompt hardening)"
		}, 0.8},
	{"auth", func(in rcaInput) bool { return reAuth.MatchString(in.logs) }, "provider_configuration",
		func(rcaInput) string {
			return "the provider refused the credentials: a configuration error, not a model failure"
		}, 0.85},
	{"rate-limit", func(in rcaInput) bool {
		return (in.ft == FailureErrorSpike || in.ft == FailureCanarySLOBreach) && reRateLimit.MatchString(in.logs)
	}, "provider_capacity", func(rcaInput) string { return "the provider rate-limited the variant (HTTP 429 / quota)" }, 0.8},
	{"timeouts", func(in rcaInput) bool {
		return (in.ft == FailureErrorSpike || in.ft == FailureLatencyRegression || in.ft == FailureCanarySLOBreach) && reTimeout.MatchString(in.logs)
	}, "provider_latency", func(rcaInput) string { return "calls to the provider timed out" }, 0.75},
	{"output-format", func(in rcaInput) bool {
		return (in.ft == FailureErrorSpike || in.ft == FailureAccuracyDegradation) && reParse.MatchString(in.logs)
	}, "output_format", func(in rcaInput) string {
		if in.promptDif {
			return "the model's output could not be parsed into findings after the prompt changed"
		}
		return "the model's output could not be parsed into findings"
	}, 0.75},
	{"hallucination", func(in rcaInput) bool {
		return in.ft == FailureAccuracyDegradation && reHalluc.MatchString(in.logs)
	}, "model_quality", func(rcaInput) string { return "the model reported findings that do not exist in the code" }, 0.7},
	{"canary-errors", func(in rcaInput) bool { return in.ft == FailureCanarySLOBreach && in.errBreach }, "reliability",
		func(in rcaInput) string {
			return fmt.Sprintf("the canary failed %.1f%% of production requests", 100*in.ev.MetricsAtFailure["error_rate"])
		}, 0.7},
	{"canary-accuracy", func(in rcaInput) bool { return in.ft == FailureCanarySLOBreach && in.accBreach }, "model_quality",
		func(in rcaInput) string {
			return fmt.Sprintf("the canary's accuracy fell to %.1f%% on production traffic", 100*in.ev.MetricsAtFailure["accuracy"])
		}, 0.65},
	{"accuracy-model", func(in rcaInput) bool { return in.ft == FailureAccuracyDegradation && in.modelDiff }, "model_capability",
		func(in rcaInput) string {
			return fmt.Sprintf("model %q finds fewer real issues than production's %q", in.cand.Model, in.v2.Model)
		}, 0.65},
	{"accuracy-prompt", func(in rcaInput) bool { return in.ft == FailureAccuracyDegradation && in.promptDif }, "prompt_regression",
		func(rcaInput) string { return "the new prompt lowered review accuracy with the same model" }, 0.65},
	{"latency-routing", func(in rcaInput) bool {
		return (in.ft == FailureLatencyRegression || (in.ft == FailureCanarySLOBreach && in.latBreach)) && in.stratDiff
	}, "routing", func(in rcaInput) string {
		return fmt.Sprintf("routing strategy %q adds latency over production's %q", in.cand.Strategy, in.v2.Strategy)
	}, 0.6},
	{"latency-model", func(in rcaInput) bool {
		return (in.ft == FailureLatencyRegression || (in.ft == FailureCanarySLOBreach && in.latBreach)) && in.modelDiff
	}, "model_latency", func(in rcaInput) string {
		return fmt.Sprintf("model %q is slower than production's %q", in.cand.Model, in.v2.Model)
	}, 0.6},
	{"cost-price", func(in rcaInput) bool { return in.ft == FailureCostOverrun && in.priceUp }, "pricing",
		func(rcaInput) string { return "the variant's token prices are higher than production's" }, 0.7},
	{"cost-tokens", func(in rcaInput) bool { return in.ft == FailureCostOverrun }, "token_usage",
		func(rcaInput) string { return "the variant uses more tokens per review than production" }, 0.55},
	{"canary", func(in rcaInput) bool { return in.ft == FailureCanarySLOBreach }, "production_slo",
		func(rcaInput) string { return "the canary breached production's SLOs under real traffic" }, 0.5},
	{"errors", func(in rcaInput) bool { return in.ft == FailureErrorSpike }, "reliability",
		func(rcaInput) string { return "the variant fails more requests than production" }, 0.5},
	{"manual", func(in rcaInput) bool { return in.ft == FailureManual }, "operator_decision",
		func(rcaInput) string { return "an operator quarantined the experiment" }, 0.9},
	{"fallback", func(rcaInput) bool { return true }, "unknown",
		func(in rcaInput) string {
			return fmt.Sprintf("%s without a more specific signal in the evidence", in.ft)
		}, 0.3},
}

// AnalyzeRootCause applies the rule table to a failure: the first matching
// row names the category, summary and confidence; the contributing factors
// list how the candidate differs from V2, the metrics at failure and the
// signals found in the error logs.
func AnalyzeRootCause(ft FailureType, ev Evidence, cand, v2 Variant) RootCause {
	in := rcaInput{ft: ft, ev: ev, cand: cand, v2: v2, logs: strings.ToLower(ev.ErrorLogs)}
	m := ev.MetricsAtFailure
	if v, ok := m["error_rate"]; ok && v >= 0.02 {
		in.errBreach = true
	}
	if v, ok := m["latency_p95"]; ok && v >= 3 {
		in.latBreach = true
	}
	if v, ok := m["accuracy"]; ok && v < 0.90 {
		in.accBreach = true
	}
	if cand.Provider != v2.Provider || !strings.EqualFold(cand.Model, v2.Model) {
		in.modelDiff = cand.Provider != "" || cand.Model != ""
		if in.modelDiff {
			in.diff = append(in.diff, fmt.Sprintf("model %s/%s instead of %s/%s", cand.Provider, cand.Model, v2.Provider, v2.Model))
		}
	}
	if normalisedPrompt(cand.Prompt) != normalisedPrompt(v2.Prompt) {
		in.promptDif = true
		in.diff = append(in.diff, "prompt differs from production's")
	}
	if defaultString(cand.Strategy, StrategySingle) != defaultString(v2.Strategy, StrategySingle) {
		in.stratDiff = true
		in.diff = append(in.diff, fmt.Sprintf("strategy %s instead of %s", defaultString(cand.Strategy, StrategySingle), defaultString(v2.Strategy, StrategySingle)))
	}
	cp, vp := cand.Prices, v2.Prices
	if cp.InputPerMTok > vp.InputPerMTok || cp.OutputPerMTok > vp.OutputPerMTok {
		in.priceUp = true
		in.diff = append(in.diff, fmt.Sprintf("prices $%.2f/$%.2f per Mtok instead of $%.2f/$%.2f",
			cp.InputPerMTok, cp.OutputPerMTok, vp.InputPerMTok, vp.OutputPerMTok))
	}
	var rc RootCause
	for _, r := range rcaRules {
		if r.match(in) {
			rc = RootCause{Category: r.category, Summary: r.summary(in), Confidence: r.confidence, Rule: r.name}
			break
		}
	}
	factors := append([]string(nil), in.diff...)
	keys := make([]string, 0, len(ev.MetricsAtFailure))
	for k := range ev.MetricsAtFailure {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		factors = append(factors, fmt.Sprintf("%s = %.4g at failure", k, ev.MetricsAtFailure[k]))
	}
	for name, re := range map[string]*regexp.Regexp{"timeouts": reTimeout, "rate limiting": reRateLimit,
		"unparsable output": reParse, "authentication errors": reAuth} {
		if re.MatchString(in.logs) {
			factors = append(factors, "error logs show "+name)
		}
	}
	sort.SliceStable(factors[len(in.diff)+len(keys):], func(i, j int) bool {
		rest := factors[len(in.diff)+len(keys):]
		return rest[i] < rest[j]
	})
	if len(in.diff) > 0 && rc.Confidence < 0.9 {
		rc.Confidence = min(0.95, rc.Confidence+0.05) // a concrete change to point at
	}
	rc.ContributingFactors = factors
	if rc.ContributingFactors == nil {
		rc.ContributingFactors = []string{}
	}
	return rc
}
