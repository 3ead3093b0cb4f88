package provider_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/internal/review"
	"github.com/tricyclehq/tricycle/internal/review/prompt"
	"github.com/tricyclehq/tricycle/internal/review/provider"
	"github.com/tricyclehq/tricycle/internal/review/provider/providertest"
	"github.com/tricyclehq/tricycle/internal/review/redact/redacttest"
)

func TestPricesCost(t *testing.T) {
	t.Parallel()
	p := provider.Prices{InputPerMTok: 0.15, OutputPerMTok: 0.60}
	got := p.Cost(review.Usage{InputTokens: 2_000_000, OutputTokens: 500_000})
	if want := 0.30 + 0.30; math.Abs(got-want) > 1e-12 {
		t.Errorf("Cost = %v, want %v", got, want)
	}
	if err := (provider.Prices{InputPerMTok: -1}).Validate(); err == nil {
		t.Error("negative price accepted")
	}
	if err := (provider.Prices{OutputPerMTok: math.NaN()}).Validate(); err == nil {
		t.Error("NaN price accepted")
	}
	if err := p.Validate(); err != nil {
		t.Errorf("Validate(%+v) = %v", p, err)
	}
}

func TestPipelineRun(t *testing.T) {
	t.Parallel()
	samples := redacttest.Samples()
	req := review.Request{ID: "r1", Repository: "acme/app", Diff: redacttest.Diff(samples)}
	answer := `{"summary":"ok","findings":[{"file":"a.go","line":3,"severity":"high","category":"bug"}]}`
	clock := providertest.NewClock(epoch)
	p := provider.Pipeline{Model: "m1", Prices: provider.Prices{InputPerMTok: 1, OutputPerMTok: 2}, Clock: clock}

	var sent string
	res, err := p.Run(t.Context(), req, func(_ context.Context, system, user string) (provider.Completion, error) {
		sent = system + user
		clock.Advance(1500 * time.Millisecond)
		return provider.Completion{Text: answer, InputTokens: 1000, OutputTokens: 500}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if leaks := redacttest.Leaks(samples, sent); len(leaks) > 0 {
		t.Errorf("secrets of %v reached the model", leaks)
	}
	if len(res.Findings) != 1 || res.Summary != "ok" || res.Model != "m1" || res.Latency != 1500*time.Millisecond {
		t.Errorf("result %+v", res)
	}
	if want := 1000.0/1e6*1 + 500.0/1e6*2; math.Abs(res.Usage.CostUSD-want) > 1e-12 || res.Usage.InputTokens != 1000 {
		t.Errorf("usage %+v, want cost %v", res.Usage, want)
	}

	// Unparsable output: an error wrapping ErrUnparsable, with usage kept.
	res, err = p.Run(t.Context(), req, func(context.Context, string, string) (provider.Completion, error) {
		return provider.Completion{Text: "Looks good to me!", InputTokens: 10, OutputTokens: 5}, nil
	})
	if !errors.Is(err, prompt.ErrUnparsable) || res.Usage.OutputTokens != 5 || res.Usage.CostUSD == 0 {
		t.Errorf("unparsable answer: %+v, %v", res, err)
	}

	// A failing call keeps its error chain.
	boom := errors.New("boom")
	_, err = p.Run(t.Context(), req, func(context.Context, string, string) (provider.Completion, error) {
		return provider.Completion{}, boom
	})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "r1") {
		t.Errorf("call error = %v", err)
	}

	// A bad template fails before any call.
	called := false
	_, err = provider.Pipeline{Template: "no diff"}.Run(t.Context(), req, func(context.Context, string, string) (provider.Completion, error) {
		called = true
		return provider.Completion{}, nil
	})
	if !errors.Is(err, prompt.ErrMissingDiff) || called {
		t.Errorf("bad template: err %v, called %v", err, called)
	}
}
