package gateway

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/internal/review"
	"github.com/tricyclehq/tricycle/internal/review/builtin"
	"github.com/tricyclehq/tricycle/internal/review/provider"
	"github.com/tricyclehq/tricycle/internal/review/provider/anthropic"
	"github.com/tricyclehq/tricycle/internal/review/provider/openai"
	"github.com/tricyclehq/tricycle/internal/review/provider/simulated"
)

// ErrInvalidVariant is wrapped by every error about a variant the registry
// cannot build: an unknown provider, strategy, route or parameter, a missing
// API key, or a provider's own refusal of the configuration.
var ErrInvalidVariant = errors.New("invalid variant")

// maxRouteDepth bounds how deeply strategies may route to strategies.
const maxRouteDepth = 4

// RegistryOptions configure a Registry. Every field is optional.
type RegistryOptions struct {
	// Variants are the variants known by name: the targets of cascade and
	// by_language routes.
	Variants []coordination.Variant
	// LookupEnv reads the environment variable a variant's APIKeyEnv names;
	// nil means os.LookupEnv. Keys are never logged nor put in errors.
	LookupEnv func(name string) (string, bool)
	// HTTPClient sends provider requests; nil means a client without its own
	// timeout (each attempt is bounded by the retry policy).
	HTTPClient *http.Client
	// Clock is the providers' clock; nil means the system clock.
	Clock provider.Clock
	// Retry and Breaker tune every provider Caller; the variant parameters
	// max_attempts and timeout override Retry per variant.
	Retry   provider.RetryPolicy
	Breaker provider.BreakerConfig
	// SimulatedSleep makes simulated variants wait their drawn latency.
	SimulatedSleep bool
	// Truth is the ground truth of simulated variants; nil means the builtin
	// reviewer.
	Truth review.Reviewer
	// Reviewers are fixed reviewers by variant name, used instead of building
	// one (embedding programs and tests).
	Reviewers map[string]review.Reviewer
}

// Registry builds the review.Reviewer a variant describes and keeps it, so
// that a variant's provider Caller (its retries and circuit breaker) lives as
// long as the process. Each variant gets a Caller of its own: one variant's
// failures open only its own circuit, so a failing experiment can never trip
// production's. It is safe for concurrent use.
type Registry struct {
	opts    RegistryOptions
	builtin *builtin.Reviewer               // non-nil
	named   map[string]coordination.Variant // by name

	mu    sync.Mutex
	cache map[string]review.Reviewer // by variantKey; guarded by mu
}

// NewRegistry returns a registry; it fails when two known variants share a
// name or one is invalid.
func NewRegistry(opts RegistryOptions) (*Registry, error) {
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	r := &Registry{opts: opts, builtin: builtin.New(builtin.Options{}),
		named: make(map[string]coordination.Variant, len(opts.Variants)), cache: map[string]review.Reviewer{}}
	if r.opts.Truth == nil {
		r.opts.Truth = r.builtin
	}
	for _, v := range opts.Variants {
		if v.Name == "" {
			return nil, fmt.Errorf("new registry: %w: a known variant has no name", ErrInvalidVariant)
		}
		if _, dup := r.named[v.Name]; dup {
			return nil, fmt.Errorf("new registry: %w: variant %q is listed twice", ErrInvalidVariant, v.Name)
		}
		if err := v.Validate(); err != nil {
			return nil, fmt.Errorf("new registry: %w: variant %q: %w", ErrInvalidVariant, v.Name, err)
		}
		r.named[v.Name] = v
	}
	return r, nil
}

// Variant returns the known variant called name.
func (r *Registry) Variant(name string) (coordination.Variant, bool) {
	v, ok := r.named[name]
	return v, ok
}

// Reviewer returns the reviewer of v, building it on first use. Errors wrap
// ErrInvalidVariant and name the offending field; they are not cached, so a
// key set later is picked up.
func (r *Registry) Reviewer(v coordination.Variant) (review.Reviewer, error) {
	if fixed, ok := r.opts.Reviewers[v.Name]; ok && v.Name != "" {
		return fixed, nil
	}
	key := variantKey(v)
	r.mu.Lock()
	rv, ok := r.cache[key]
	r.mu.Unlock()
	if ok {
		return rv, nil
	}
	rv, err := r.build(v, 0, nil)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if prev, ok := r.cache[key]; ok {
		return prev, nil // built concurrently: keep the first, with its breaker
	}
	r.cache[key] = rv
	return rv, nil
}

// variantKey identifies a variant's behaviour and the key it reads.
func variantKey(v coordination.Variant) string {
	return v.Name + "\x00" + v.APIKeyEnv + "\x00" + v.Fingerprint()
}

// build makes v's reviewer; chain lists the variants routed through so far.
func (r *Registry) build(v coordination.Variant, depth int, chain []string) (review.Reviewer, error) {
	name := v.Name
	if name == "" {
		name = "(unnamed)"
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("build variant %s: %w: %s", name, ErrInvalidVariant, fmt.Sprintf(format, args...))
	}
	if depth > maxRouteDepth {
		return nil, fail("routes nest deeper than %d levels (%s)", maxRouteDepth, strings.Join(chain, " → "))
	}
	if v.Name != "" && slices.Contains(chain, v.Name) {
		return nil, fail("routes form a cycle (%s → %s)", strings.Join(chain, " → "), v.Name)
	}
	if err := v.Validate(); err != nil {
		return nil, fmt.Errorf("build variant %s: %w: %w", name, ErrInvalidVariant, err)
	}
	params, err := parseParams(v.Parameters)
	if err != nil {
		return nil, fail("%v", err)
	}
	chain = append(slices.Clip(chain), v.Name)
	switch v.Strategy {
	case "", coordination.StrategySingle:
		if len(v.Routes) > 0 {
			return nil, fail("routes are set but strategy %q uses none", coordination.StrategySingle)
		}
		return r.buildProvider(v, params, fail)
	case coordination.StrategyCascade:
		return r.buildCascade(v, depth, chain, fail)
	case coordination.StrategyByLanguage:
		return r.buildByLanguage(v, depth, chain, fail)
	default:
		return nil, fail("unknown strategy %q (want single, cascade or by_language)", v.Strategy)
	}
}

// route returns the reviewer a route names.
func (r *Registry) route(target string, depth int, chain []string, fail func(string, ...any) error) (review.Reviewer, string, error) {
	tv, ok := r.named[target]
	if !ok {
		return nil, "", fail("route target %q is not a known variant", target)
	}
	if fixed, ok := r.opts.Reviewers[target]; ok {
		return fixed, target, nil
	}
	rv, err := r.build(tv, depth+1, chain)
	if err != nil {
		return nil, "", err
	}
	return rv, target, nil
}

// buildProvider makes a single-strategy reviewer.
func (r *Registry) buildProvider(v coordination.Variant, p params, fail func(string, ...any) error) (review.Reviewer, error) {
	prices := provider.Prices{InputPerMTok: v.Prices.InputPerMTok, OutputPerMTok: v.Prices.OutputPerMTok}
	switch v.Provider {
	case "", coordination.ProviderBuiltin:
		return r.builtin, nil
	case coordination.ProviderSimulated:
		return r.buildSimulated(v, prices, fail)
	case coordination.ProviderOpenAI:
		key, err := r.apiKey(v, false, fail)
		if err != nil {
			return nil, err
		}
		caller, err := r.caller(p)
		if err != nil {
			return nil, fail("%v", err)
		}
		rv, err := openai.New(openai.Config{BaseURL: v.BaseURL, Model: v.Model, APIKey: key, Template: v.Prompt,
			Temperature: p.temperature, MaxTokens: p.maxTokens, JSONMode: p.jsonMode, Prices: prices, Caller: caller})
		if err != nil {
			return nil, fail("%v", err)
		}
		return rv, nil
	case coordination.ProviderAnthropic:
		key, err := r.apiKey(v, true, fail)
		if err != nil {
			return nil, err
		}
		caller, err := r.caller(p)
		if err != nil {
			return nil, fail("%v", err)
		}
		rv, err := anthropic.New(anthropic.Config{BaseURL: v.BaseURL, Model: v.Model, APIKey: key, Template: v.Prompt,
			Temperature: p.temperature, MaxTokens: p.maxTokens, Prices: prices, Caller: caller})
		if err != nil {
			return nil, fail("%v", err)
		}
		return rv, nil
	default:
		return nil, fail("unknown provider %q (want builtin, simulated, openai or anthropic)", v.Provider)
	}
}

// apiKey reads the key named by v.APIKeyEnv; required says whether the
// provider needs one.
func (r *Registry) apiKey(v coordination.Variant, required bool, fail func(string, ...any) error) (string, error) {
	if v.APIKeyEnv == "" {
		if required {
			return "", fail("provider %s needs api_key_env", v.Provider)
		}
		return "", nil
	}
	key, ok := r.opts.LookupEnv(v.APIKeyEnv)
	if !ok || strings.TrimSpace(key) == "" {
		return "", fail("environment variable %s (api_key_env) is not set", v.APIKeyEnv)
	}
	return key, nil
}

// caller makes a provider Caller of its own for one variant.
func (r *Registry) caller(p params) (*provider.Caller, error) {
	retry := r.opts.Retry
	if p.maxAttempts > 0 {
		retry.MaxAttempts = p.maxAttempts
	}
	if p.timeout > 0 {
		retry.PerCallTimeout = p.timeout
	}
	return provider.NewCaller(provider.CallerConfig{Client: r.opts.HTTPClient, Clock: r.opts.Clock,
		Retry: retry, Breaker: r.opts.Breaker})
}

// buildSimulated makes a simulated reviewer from v.Simulated, seeded by its
// Seed or, when zero, by the variant's fingerprint.
func (r *Registry) buildSimulated(v coordination.Variant, prices provider.Prices, fail func(string, ...any) error) (review.Reviewer, error) {
	s := v.Simulated
	if s == nil {
		return nil, fail("provider simulated needs a simulated block (latency, error rate, accuracy)")
	}
	seed := uint64(s.Seed)
	if seed == 0 {
		sum := sha256.Sum256([]byte(v.Fingerprint()))
		seed = binary.LittleEndian.Uint64(sum[:8])
	}
	model := v.Model
	if model == "" {
		model = v.Name
	}
	rv, err := simulated.New(simulated.Config{Model: model, LatencyP50: s.LatencyP50.D(), LatencyP95: s.LatencyP95.D(),
		ErrorRate: s.ErrorRate, Accuracy: s.Accuracy, FalsePositiveRate: s.FalsePosRate, Prices: prices, Seed: seed,
		Truth: r.opts.Truth, Template: v.Prompt, Sleep: r.opts.SimulatedSleep, Clock: r.opts.Clock})
	if err != nil {
		return nil, fail("%v", err)
	}
	if s.InputTokens < 0 || s.OutputTokens < 0 {
		return nil, fail("simulated token counts must be >= 0")
	}
	if s.InputTokens > 0 || s.OutputTokens > 0 {
		return fixedTokens{next: rv, in: s.InputTokens, out: s.OutputTokens, prices: prices}, nil
	}
	return rv, nil
}

// params are the variant parameters the registry understands.
type params struct {
	temperature float64
	maxTokens   int
	jsonMode    bool
	maxAttempts int
	timeout     time.Duration
}

// parseParams reads a variant's parameters; an unknown name or a value of
// the wrong type is an error.
func parseParams(m map[string]any) (params, error) {
	var p params
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		val := m[k]
		var err error
		switch k {
		case "temperature":
			p.temperature, err = number(val)
		case "max_tokens":
			p.maxTokens, err = integer(val, 0)
		case "max_attempts":
			p.maxAttempts, err = integer(val, 1)
		case "json_mode":
			b, ok := val.(bool)
			if !ok {
				err = fmt.Errorf("want true or false, got %v", val)
			}
			p.jsonMode = b
		case "timeout":
			p.timeout, err = duration(val)
		default:
			return p, fmt.Errorf("unknown parameter %q (known: json_mode, max_attempts, max_tokens, temperature, timeout)", k)
		}
		if err != nil {
			return p, fmt.Errorf("parameter %s: %w", k, err)
		}
	}
	return p, nil
}

// number reads a JSON or YAML number.
func number(v any) (float64, error) {
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case float32:
		f = float64(x)
	case int:
		f = float64(x)
	case int64:
		f = float64(x)
	case uint64:
		f = float64(x)
	case json.Number:
		var err error
		if f, err = x.Float64(); err != nil {
			return 0, fmt.Errorf("want a number, got %q", x)
		}
	default:
		return 0, fmt.Errorf("want a number, got %v", v)
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("want a finite number, got %v", f)
	}
	return f, nil
}

// integer reads a whole number of at least lo.
func integer(v any, lo int) (int, error) {
	f, err := number(v)
	if err != nil {
		return 0, err
	}
	if f != math.Trunc(f) || f < float64(lo) || f > 1e9 {
		return 0, fmt.Errorf("want a whole number from %d, got %v", lo, v)
	}
	return int(f), nil
}

// duration reads "30s" or a number of seconds.
func duration(v any) (time.Duration, error) {
	var d time.Duration
	if s, ok := v.(string); ok {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("want a duration such as \"30s\": %w", err)
		}
	} else {
		f, err := number(v)
		if err != nil {
			return 0, err
		}
		d = time.Duration(f * float64(time.Second))
	}
	if d <= 0 {
		return 0, fmt.Errorf("want a positive duration, got %v", v)
	}
	return d, nil
}
