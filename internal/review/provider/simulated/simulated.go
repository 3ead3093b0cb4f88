// Package simulated is a review.Reviewer that calls no model: it draws
// latency, failures, accuracy and token use from configured distributions,
// for demos, load tests and the evolution simulation.
//
// # Model
//
// Latency is log-normal, fitted so that its median is LatencyP50 and its
// 95th percentile LatencyP95. A review fails with ErrSimulatedFailure with
// probability ErrorRate. The findings of the Truth reviewer count as the
// ground truth: each is reported with probability Accuracy (recall), and
// with probability FalsePositiveRate one spurious finding on a changed file
// is added. Input tokens are the prompt's length over BytesPerToken (so they
// grow with the diff); output tokens are OutputTokensBase plus
// OutputTokensPerFinding per reported finding; cost follows Prices.
//
// # Determinism
//
// Every draw comes from a generator seeded with Seed and the request ID, so
// a given seed and request ID always give the same result, whatever the
// order or concurrency of requests. Different variants should use different
// seeds, or their draws for a shadowed request (same ID) will correlate.
//
// # Time
//
// Review returns at once and reports the drawn latency in Result.Latency;
// with Sleep set it also waits that long on Clock. Either way, a context
// deadline shorter than the drawn latency fails the review as a timeout.
//
// The answer goes through the same pipeline as a real model's — redaction,
// prompt building, strict parsing — so the simulation exercises that code.
package simulated

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/tricyclehq/tricycle/internal/review"
	"github.com/tricyclehq/tricycle/internal/review/prompt"
	"github.com/tricyclehq/tricycle/internal/review/provider"
)

// ErrSimulatedFailure is the error of a review the simulation chose to fail.
var ErrSimulatedFailure = errors.New("simulated provider failure")

// z95 is the standard normal quantile of 0.95.
const z95 = 1.6448536269514722

// Defaults for zero token settings.
const (
	// DefaultBytesPerToken is the prompt bytes per input token.
	DefaultBytesPerToken = 4.0
	// DefaultOutputTokensBase is the output tokens of an answer without findings.
	DefaultOutputTokensBase = 40
	// DefaultOutputTokensPerFinding is the output tokens each finding adds.
	DefaultOutputTokensPerFinding = 60
)

// Config configures a Reviewer. Rates are probabilities in [0, 1].
type Config struct {
	// Model names the simulated model in results; "" means "simulated".
	Model string
	// LatencyP50 and LatencyP95 are the median and 95th percentile of the
	// latency. Both zero means no latency; otherwise 0 < P50 <= P95.
	LatencyP50, LatencyP95 time.Duration
	// ErrorRate is the probability that a review fails.
	ErrorRate float64
	// Accuracy is the probability that each true finding is reported.
	Accuracy float64
	// FalsePositiveRate is the probability that a review adds one finding
	// that is not in the truth.
	FalsePositiveRate float64
	// BytesPerToken converts prompt length to input tokens; 0 means
	// DefaultBytesPerToken.
	BytesPerToken float64
	// OutputTokensBase is the output tokens of an answer without findings;
	// 0 means DefaultOutputTokensBase.
	OutputTokensBase int64
	// OutputTokensPerFinding is the output tokens each finding adds; 0
	// means DefaultOutputTokensPerFinding.
	OutputTokensPerFinding int64
	// Prices turn token use into cost.
	Prices provider.Prices
	// Seed selects the simulation's draws.
	Seed uint64
	// Truth reviews the unredacted request; its findings are the ground
	// truth. Nil means the truth has no findings.
	Truth review.Reviewer
	// Template is the user-prompt template; "" means prompt.DefaultTemplate.
	Template string
	// Sleep makes Review wait for the drawn latency.
	Sleep bool
	// Clock measures deadlines and waits when sleeping; nil means the
	// system clock.
	Clock provider.Clock
}

// Reviewer is a simulated review.Reviewer. It is safe for concurrent use.
type Reviewer struct {
	cfg   Config         // defaults applied
	clock provider.Clock // non-nil
	mu    float64        // log-normal location: ln(P50 in seconds)
	sigma float64        // log-normal scale
	pipe  provider.Pipeline
}

var _ review.Reviewer = (*Reviewer)(nil)

// New validates cfg and returns a Reviewer.
func New(cfg Config) (*Reviewer, error) {
	if cfg.Model == "" {
		cfg.Model = "simulated"
	}
	if cfg.BytesPerToken == 0 {
		cfg.BytesPerToken = DefaultBytesPerToken
	}
	if cfg.OutputTokensBase == 0 {
		cfg.OutputTokensBase = DefaultOutputTokensBase
	}
	if cfg.OutputTokensPerFinding == 0 {
		cfg.OutputTokensPerFinding = DefaultOutputTokensPerFinding
	}
	if err := validate(cfg); err != nil {
		return nil, fmt.Errorf("simulated: %w", err)
	}
	compiled, err := prompt.Compile(cfg.Template)
	if err != nil {
		return nil, fmt.Errorf("simulated: prompt template: %w", err)
	}
	r := &Reviewer{cfg: cfg, clock: cfg.Clock}
	if r.clock == nil {
		r.clock = provider.SystemClock{}
	}
	if cfg.LatencyP50 > 0 {
		r.mu = math.Log(cfg.LatencyP50.Seconds())
		r.sigma = (math.Log(cfg.LatencyP95.Seconds()) - r.mu) / z95
	}
	r.pipe = provider.Pipeline{Template: cfg.Template, Compiled: compiled, Model: cfg.Model, Prices: cfg.Prices, Clock: r.clock}
	return r, nil
}

// validate checks a Config with defaults applied.
func validate(cfg Config) error {
	switch {
	case cfg.LatencyP50 < 0 || cfg.LatencyP95 < 0:
		return errors.New("latency percentiles must be >= 0")
	case cfg.LatencyP50 == 0 && cfg.LatencyP95 != 0:
		return errors.New("latency_p95 is set but latency_p50 is not")
	case cfg.LatencyP95 < cfg.LatencyP50:
		return fmt.Errorf("latency_p95 %s is below latency_p50 %s", cfg.LatencyP95, cfg.LatencyP50)
	case cfg.BytesPerToken < 0 || cfg.OutputTokensBase < 0 || cfg.OutputTokensPerFinding < 0:
		return errors.New("token settings must be >= 0")
	}
	for _, p := range []struct {
		name string
		v    float64
	}{{"error_rate", cfg.ErrorRate}, {"accuracy", cfg.Accuracy}, {"false_positive_rate", cfg.FalsePositiveRate}} {
		if !(p.v >= 0 && p.v <= 1) {
			return fmt.Errorf("%s %v outside [0, 1]", p.name, p.v)
		}
	}
	if err := cfg.Prices.Validate(); err != nil {
		return err
	}
	if err := prompt.Validate(cfg.Template); err != nil {
		return fmt.Errorf("prompt template: %w", err)
	}
	return nil
}

// draw is everything the simulation decides about one request.
type draw struct {
	latency  time.Duration
	fail     bool
	keep     []bool // per true finding
	spurious *review.Finding
}

// Review simulates a review of req.
func (r *Reviewer) Review(ctx context.Context, req review.Request) (review.Result, error) {
	if err := ctx.Err(); err != nil {
		return review.Result{Model: r.cfg.Model}, fmt.Errorf("simulated review %q: %w", req.ID, err)
	}
	var truth []review.Finding
	if r.cfg.Truth != nil {
		res, err := r.cfg.Truth.Review(ctx, req)
		if err != nil {
			return review.Result{Model: r.cfg.Model}, fmt.Errorf("simulated review %q: ground truth: %w", req.ID, err)
		}
		truth = res.Findings
	}
	d := r.draw(req, len(truth))
	res, err := r.pipe.Run(ctx, req, func(ctx context.Context, system, user string) (provider.Completion, error) {
		if err := r.wait(ctx, d.latency); err != nil {
			return provider.Completion{}, err
		}
		if d.fail {
			return provider.Completion{}, ErrSimulatedFailure
		}
		return r.answer(system, user, truth, d)
	})
	res.Latency = d.latency
	return res, err
}

// draw makes the request's random choices, always in the same order.
func (r *Reviewer) draw(req review.Request, truths int) draw {
	h := fnv.New64a()
	h.Write([]byte(req.ID))
	rng := rand.New(rand.NewPCG(r.cfg.Seed, h.Sum64()))
	var d draw
	z := rng.NormFloat64()
	if r.cfg.LatencyP50 > 0 {
		secs := math.Exp(r.mu + r.sigma*z)
		d.latency = time.Duration(math.Min(secs, 24*3600) * float64(time.Second))
	}
	d.fail = rng.Float64() < r.cfg.ErrorRate
	d.keep = make([]bool, truths)
	for i := range d.keep {
		d.keep[i] = rng.Float64() < r.cfg.Accuracy
	}
	if rng.Float64() < r.cfg.FalsePositiveRate {
		d.spurious = spuriousFinding(rng, req)
	}
	return d
}

// wait honours ctx's deadline against the drawn latency and, with Sleep,
// waits that long.
func (r *Reviewer) wait(ctx context.Context, latency time.Duration) error {
	if dl, ok := ctx.Deadline(); ok && latency > dl.Sub(r.clock.Now()) {
		if r.cfg.Sleep {
			<-ctx.Done()
		}
		return fmt.Errorf("simulated latency %s exceeds the deadline: %w", latency, context.DeadlineExceeded)
	}
	if !r.cfg.Sleep || latency <= 0 {
		return nil
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-r.clock.After(latency):
		return nil
	}
}

// answer renders the reported findings as a model's JSON answer.
func (r *Reviewer) answer(system, user string, truth []review.Finding, d draw) (provider.Completion, error) {
	out := make([]review.Finding, 0, len(truth)+1)
	for i, f := range truth {
		if d.keep[i] {
			out = append(out, f)
		}
	}
	if d.spurious != nil {
		out = append(out, *d.spurious)
	}
	summary := fmt.Sprintf("Simulated review: %d finding(s).", len(out))
	text, err := json.Marshal(map[string]any{"summary": summary, "findings": out})
	if err != nil {
		return provider.Completion{}, fmt.Errorf("encode simulated answer: %w", err)
	}
	return provider.Completion{
		Text:         string(text),
		InputTokens:  int64(math.Ceil(float64(len(system)+len(user)) / r.cfg.BytesPerToken)),
		OutputTokens: r.cfg.OutputTokensBase + r.cfg.OutputTokensPerFinding*int64(len(out)),
	}, nil
}

// Choices for spurious findings.
var (
	spuriousCategories = []string{"bug", "maintainability", "performance", "security", "style"}
	spuriousSeverities = []review.Severity{review.SeverityInfo, review.SeverityLow, review.SeverityLow, review.SeverityMedium, review.SeverityHigh}
)

// spuriousFinding invents a plausible finding on a file the request changes.
func spuriousFinding(rng *rand.Rand, req review.Request) *review.Finding {
	files := changedFiles(req)
	lines := max(1, strings.Count(req.Diff, "\n"))
	return &review.Finding{
		File:       files[rng.IntN(len(files))],
		Line:       1 + rng.IntN(lines),
		Severity:   spuriousSeverities[rng.IntN(len(spuriousSeverities))],
		Category:   spuriousCategories[rng.IntN(len(spuriousCategories))],
		Rule:       "speculative",
		Message:    "This change may not handle every case correctly.",
		Suggestion: "Add a test for the edge cases.",
	}
}

// changedFiles lists the new-side paths of the diff, or the request's files,
// or a stand-in name.
func changedFiles(req review.Request) []string {
	var files []string
	for _, line := range strings.Split(req.Diff, "\n") {
		if p, ok := strings.CutPrefix(line, "+++ b/"); ok && strings.TrimSpace(p) != "" {
			files = append(files, strings.TrimSpace(p))
		}
	}
	if len(files) == 0 {
		for p := range req.Files {
			files = append(files, p)
		}
		sort.Strings(files)
	}
	if len(files) == 0 {
		files = []string{"unknown"}
	}
	return files
}
