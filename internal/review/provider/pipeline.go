package provider

import (
	"context"
	"fmt"

	"github.com/tricyclehq/tricycle/internal/review"
	"github.com/tricyclehq/tricycle/internal/review/prompt"
	"github.com/tricyclehq/tricycle/internal/review/redact"
)

// Completion is what one model call returned.
type Completion struct {
	// Text is the model's answer.
	Text string
	// InputTokens and OutputTokens are the tokens the call consumed.
	InputTokens, OutputTokens int64
}

// CompleteFunc sends a system and a user prompt to a model.
type CompleteFunc func(ctx context.Context, system, user string) (Completion, error)

// Pipeline is the part of a review every model-backed provider shares:
// redact the request, build the prompts, call the model, parse its answer
// and account for usage, cost, latency and model.
type Pipeline struct {
	// Template is the user-prompt template; "" means prompt.DefaultTemplate.
	Template string
	// Compiled is Template parsed once (prompt.Compile); nil means Template
	// is parsed on every review.
	Compiled *prompt.Template
	// Model names the model in results.
	Model string
	// Prices turn token use into cost.
	Prices Prices
	// Clock measures latency; nil means the system clock.
	Clock Clock
}

// Run reviews req through complete. The request is redacted before the
// prompts are built, so no secret reaches complete. When the model's answer
// is unparsable the error wraps prompt.ErrUnparsable and the returned result
// still carries the usage, cost, latency and model of the call, so that the
// tokens spent are accounted for; on any other error the result carries
// latency and model only.
func (p Pipeline) Run(ctx context.Context, req review.Request, complete CompleteFunc) (review.Result, error) {
	clock := clockOr(p.Clock)
	red, _ := redact.Request(req)
	var system, user string
	var err error
	if p.Compiled != nil {
		system, user, err = p.Compiled.Build(red)
	} else {
		system, user, err = prompt.Build(p.Template, red)
	}
	if err != nil {
		return review.Result{Model: p.Model}, fmt.Errorf("build prompt for review %q: %w", req.ID, err)
	}
	start := clock.Now()
	c, err := complete(ctx, system, user)
	res := review.Result{Model: p.Model, Latency: clock.Now().Sub(start)}
	if err != nil {
		return res, fmt.Errorf("review %q with %s: %w", req.ID, p.Model, err)
	}
	res.Usage = review.Usage{InputTokens: c.InputTokens, OutputTokens: c.OutputTokens}
	res.Usage.CostUSD = p.Prices.Cost(res.Usage)
	findings, summary, err := prompt.ParseFindings(c.Text)
	if err != nil {
		return res, fmt.Errorf("review %q with %s: %w", req.ID, p.Model, err)
	}
	res.Findings, res.Summary = findings, summary
	return res, nil
}
