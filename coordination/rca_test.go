package coordination

import "testing"

// TestAnalyzeRootCause checks the rule table row by row: the category each
// kind of evidence leads to.
func TestAnalyzeRootCause(t *testing.T) {
	t.Parallel()
	v2 := Variant{Name: "base", Provider: "openai", Model: "gpt-a", Prompt: "Review {{.Diff}}"}
	newModel := Variant{Name: "cand", Provider: "openai", Model: "gpt-b", Prompt: "Review {{.Diff}}"}
	newPrompt := Variant{Name: "cand", Provider: "openai", Model: "gpt-a", Prompt: "Be brief. {{.Diff}}"}
	cascade := Variant{Name: "cand", Provider: "openai", Model: "gpt-a", Prompt: "Review {{.Diff}}", Strategy: StrategyCascade}
	pricey := Variant{Name: "cand", Provider: "openai", Model: "gpt-a", Prompt: "Review {{.Diff}}", Prices: Prices{InputPerMTok: 9}}
	cases := []struct {
		name string
		ft   FailureType
		ev   Evidence
		cand Variant
		want string
	}{
		{"budget", FailureBudgetExhausted, Evidence{}, newModel, "cost"},
		{"injection", FailureSafetyViolation, Evidence{ErrorLogs: "prompt injection via comment"}, newModel, "prompt_injection"},
		{"safety", FailureSafetyViolation, Evidence{}, newModel, "security"},
		{"auth", FailureErrorSpike, Evidence{ErrorLogs: "HTTP 401 invalid api key"}, newModel, "provider_configuration"},
		{"rate limit", FailureErrorSpike, Evidence{ErrorLogs: "429 Too Many Requests"}, newModel, "provider_capacity"},
		{"timeouts", FailureLatencyRegression, Evidence{ErrorLogs: "context deadline exceeded"}, newModel, "provider_latency"},
		{"unparsable", FailureErrorSpike, Evidence{ErrorLogs: "unparsable model output"}, newPrompt, "output_format"},
		{"hallucination", FailureAccuracyDegradation, Evidence{ErrorLogs: "Model hallucination detected"}, newModel, "model_quality"},
		{"canary errors", FailureCanarySLOBreach, Evidence{MetricsAtFailure: map[string]float64{"error_rate": 0.2, "latency_p95": 1}}, newModel, "reliability"},
		{"canary latency", FailureCanarySLOBreach, Evidence{MetricsAtFailure: map[string]float64{"error_rate": 0.001, "latency_p95": 12}}, newModel, "model_latency"},
		{"canary accuracy", FailureCanarySLOBreach, Evidence{MetricsAtFailure: map[string]float64{"accuracy": 0.8}}, newModel, "model_quality"},
		{"accuracy model", FailureAccuracyDegradation, Evidence{}, newModel, "model_capability"},
		{"accuracy prompt", FailureAccuracyDegradation, Evidence{}, newPrompt, "prompt_regression"},
		{"latency routing", FailureLatencyRegression, Evidence{}, cascade, "routing"},
		{"cost price", FailureCostOverrun, Evidence{}, pricey, "pricing"},
		{"cost tokens", FailureCostOverrun, Evidence{}, v2, "token_usage"},
		{"canary other", FailureCanarySLOBreach, Evidence{}, v2, "production_slo"},
		{"errors", FailureErrorSpike, Evidence{}, v2, "reliability"},
		{"manual", FailureManual, Evidence{}, v2, "operator_decision"},
		{"fallback", FailureLatencyRegression, Evidence{}, v2, "unknown"},
	}
	for _, tc := range cases {
		rc := AnalyzeRootCause(tc.ft, tc.ev, tc.cand, v2)
		if rc.Category != tc.want {
			t.Errorf("%s: category %q (rule %s), want %q", tc.name, rc.Category, rc.Rule, tc.want)
		}
		if rc.Summary == "" || rc.Confidence <= 0 || rc.Confidence > 1 || rc.ContributingFactors == nil {
			t.Errorf("%s: incomplete analysis %+v", tc.name, rc)
		}
	}
	rc := AnalyzeRootCause(FailureAccuracyDegradation, Evidence{MetricsAtFailure: map[string]float64{"accuracy": 0.7}}, newModel, v2)
	if len(rc.ContributingFactors) != 2 {
		t.Errorf("factors %v, want the model change and the metric", rc.ContributingFactors)
	}
}
