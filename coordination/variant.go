package coordination

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Providers a variant may name.
const (
	ProviderBuiltin   = "builtin"
	ProviderSimulated = "simulated"
	ProviderOpenAI    = "openai"
	ProviderAnthropic = "anthropic"
)

// Routing strategies a variant may use.
const (
	StrategySingle     = "single"
	StrategyCascade    = "cascade"
	StrategyByLanguage = "by_language"
)

// Prices are a variant's token prices in US dollars per million tokens.
type Prices struct {
	InputPerMTok  float64 `json:"input_per_mtok,omitempty" yaml:"input_per_mtok,omitempty"`
	OutputPerMTok float64 `json:"output_per_mtok,omitempty" yaml:"output_per_mtok,omitempty"`
}

// Simulated configures the simulated provider: a latency distribution, an
// error rate, an accuracy against labels and token use.
type Simulated struct {
	LatencyP50   Duration `json:"latency_p50,omitempty" yaml:"latency_p50,omitempty"`
	LatencyP95   Duration `json:"latency_p95,omitempty" yaml:"latency_p95,omitempty"`
	ErrorRate    float64  `json:"error_rate,omitempty" yaml:"error_rate,omitempty"`
	Accuracy     float64  `json:"accuracy,omitempty" yaml:"accuracy,omitempty"`
	FalsePosRate float64  `json:"false_positive_rate,omitempty" yaml:"false_positive_rate,omitempty"`
	InputTokens  int64    `json:"input_tokens,omitempty" yaml:"input_tokens,omitempty"`
	OutputTokens int64    `json:"output_tokens,omitempty" yaml:"output_tokens,omitempty"`
	Seed         int64    `json:"seed,omitempty" yaml:"seed,omitempty"`
}

// Variant is a reviewer configuration: what a V1 experiment tests and what a
// V2 release serves. Name identifies it for people; the fingerprint (which
// ignores Name) identifies its behaviour.
type Variant struct {
	Name       string         `json:"name" yaml:"name"`
	Provider   string         `json:"provider,omitempty" yaml:"provider,omitempty"`
	Model      string         `json:"model,omitempty" yaml:"model,omitempty"`
	Prompt     string         `json:"prompt,omitempty" yaml:"prompt,omitempty"`
	Strategy   string         `json:"strategy,omitempty" yaml:"strategy,omitempty"`
	BaseURL    string         `json:"base_url,omitempty" yaml:"base_url,omitempty"`
	APIKeyEnv  string         `json:"api_key_env,omitempty" yaml:"api_key_env,omitempty"`
	Parameters map[string]any `json:"parameters,omitempty" yaml:"parameters,omitempty"`
	Prices     Prices         `json:"prices,omitzero" yaml:"prices,omitempty"`
	Simulated  *Simulated     `json:"simulated,omitempty" yaml:"simulated,omitempty"`
	// Routes names the variants a cascade or by_language strategy routes to:
	// for cascade the keys "cheap" and "escalate", for by_language a language
	// ("go", "python", …) or "default".
	Routes map[string]string `json:"routes,omitempty" yaml:"routes,omitempty"`
}

// IsZero reports whether the variant names no behaviour at all (an experiment
// created from a bare hypothesis).
func (v Variant) IsZero() bool {
	return v.Provider == "" && v.Model == "" && v.Prompt == "" && v.Strategy == "" &&
		v.BaseURL == "" && len(v.Parameters) == 0 && v.Simulated == nil && len(v.Routes) == 0 &&
		v.Prices == (Prices{})
}

var variantNameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$`)

// Validate checks the variant's fields and names the first bad one. A zero
// variant is valid (an experiment without a concrete configuration yet).
func (v Variant) Validate() error {
	if v.IsZero() && v.Name == "" {
		return nil
	}
	if v.Name != "" && !variantNameRE.MatchString(v.Name) {
		return invalidInput("variant.name", "%q must be 1-64 letters, digits, '.', '_' or '-'", v.Name)
	}
	switch v.Provider {
	case "", ProviderBuiltin, ProviderSimulated, ProviderOpenAI, ProviderAnthropic:
	default:
		return invalidInput("variant.provider", "unknown provider %q (want builtin, simulated, openai or anthropic)", v.Provider)
	}
	switch v.Strategy {
	case "", StrategySingle, StrategyCascade, StrategyByLanguage:
	default:
		return invalidInput("variant.strategy", "unknown strategy %q (want single, cascade or by_language)", v.Strategy)
	}
	if v.Prices.InputPerMTok < 0 || v.Prices.OutputPerMTok < 0 {
		return invalidInput("variant.prices", "prices must not be negative")
	}
	if len(v.Model) > 200 {
		return invalidInput("variant.model", "longer than 200 characters")
	}
	if len(v.Prompt) > 64<<10 {
		return invalidInput("variant.prompt", "longer than 64 KiB")
	}
	if s := v.Simulated; s != nil {
		if s.ErrorRate < 0 || s.ErrorRate > 1 {
			return invalidInput("variant.simulated.error_rate", "%v is not within [0,1]", s.ErrorRate)
		}
		if s.Accuracy < 0 || s.Accuracy > 1 {
			return invalidInput("variant.simulated.accuracy", "%v is not within [0,1]", s.Accuracy)
		}
		if s.LatencyP50 < 0 || s.LatencyP95 < 0 || (s.LatencyP95 > 0 && s.LatencyP95 < s.LatencyP50) {
			return invalidInput("variant.simulated.latency_p95", "must be at least latency_p50")
		}
	}
	return nil
}

// normalisedPrompt folds whitespace and case so that cosmetic edits of a
// prompt do not escape the blacklist.
func normalisedPrompt(p string) string {
	return strings.ToLower(strings.Join(strings.Fields(p), " "))
}

// Fingerprint is the SHA-256 of the variant's normalised configuration: every
// field that changes behaviour, without Name and without the API key variable.
func (v Variant) Fingerprint() string {
	norm := map[string]any{
		"provider":   strings.ToLower(v.Provider),
		"model":      strings.ToLower(strings.TrimSpace(v.Model)),
		"prompt":     normalisedPrompt(v.Prompt),
		"strategy":   defaultString(v.Strategy, StrategySingle),
		"base_url":   strings.TrimRight(strings.ToLower(v.BaseURL), "/"),
		"parameters": sortedParams(v.Parameters),
		"prices":     v.Prices,
		"simulated":  v.Simulated,
		"routes":     v.Routes,
	}
	raw, _ := json.Marshal(norm) // maps marshal with sorted keys; values are JSON-safe
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

// ModelPromptKey identifies "the same model with the same prompt", the second
// kind of blacklist entry. It is empty when the variant names no model.
func (v Variant) ModelPromptKey() string {
	if strings.TrimSpace(v.Model) == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(strings.ToLower(v.Provider) + "\x00" +
		strings.ToLower(strings.TrimSpace(v.Model)) + "\x00" + normalisedPrompt(v.Prompt)))
	return hex.EncodeToString(sum[:])
}

func sortedParams(p map[string]any) []any {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]any, 0, 2*len(keys))
	for _, k := range keys {
		out = append(out, k, fmt.Sprint(p[k]))
	}
	return out
}

func defaultString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
