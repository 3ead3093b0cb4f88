package provider_test

import (
	"errors"
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/internal/review/provider"
	"github.com/tricyclehq/tricycle/internal/review/provider/providertest"
)

var epoch = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// step is one action on a breaker in a scripted test.
type step struct {
	outcome provider.Outcome // call Allow, then report this outcome
	advance time.Duration    // instead: move the clock
	refused bool             // expect Allow to fail with ErrCircuitOpen
	state   provider.BreakerState
}

func runSteps(t *testing.T, cfg provider.BreakerConfig, steps []step) {
	t.Helper()
	clock := providertest.NewClock(epoch)
	b, err := provider.NewBreaker(cfg, clock)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range steps {
		if s.advance > 0 {
			clock.Advance(s.advance)
		} else {
			done, err := b.Allow()
			if s.refused {
				if !errors.Is(err, provider.ErrCircuitOpen) {
					t.Fatalf("step %d: Allow = %v, want ErrCircuitOpen", i, err)
				}
			} else {
				if err != nil {
					t.Fatalf("step %d: Allow = %v", i, err)
				}
				done(s.outcome)
			}
		}
		if got := b.State(); got != s.state {
			t.Fatalf("step %d: state %s, want %s", i, got, s.state)
		}
	}
}

func TestBreakerTransitions(t *testing.T) {
	t.Parallel()
	const (
		ok   = provider.OutcomeSuccess
		fail = provider.OutcomeFailure
		ign  = provider.OutcomeIgnored
	)
	closed, open, half := provider.BreakerClosed, provider.BreakerOpen, provider.BreakerHalfOpen
	consec := provider.BreakerConfig{ConsecutiveFailures: 3, Cooldown: 10 * time.Second}
	tests := []struct {
		name  string
		cfg   provider.BreakerConfig
		steps []step
	}{
		{"opens after consecutive failures", consec, []step{
			{outcome: fail, state: closed}, {outcome: fail, state: closed}, {outcome: fail, state: open},
			{refused: true, state: open},
		}},
		{"success resets the run", consec, []step{
			{outcome: fail, state: closed}, {outcome: fail, state: closed}, {outcome: ok, state: closed},
			{outcome: fail, state: closed}, {outcome: fail, state: closed}, {outcome: fail, state: open},
		}},
		{"ignored outcomes do not count", consec, []step{
			{outcome: fail, state: closed}, {outcome: fail, state: closed}, {outcome: ign, state: closed},
			{outcome: fail, state: open},
		}},
		{"half-open after cooldown, probe success closes", consec, []step{
			{outcome: fail, state: closed}, {outcome: fail, state: closed}, {outcome: fail, state: open},
			{advance: 9 * time.Second, state: open}, {refused: true, state: open},
			{advance: time.Second, state: half},
			{outcome: ok, state: closed},
			{outcome: fail, state: closed}, {outcome: fail, state: closed}, {outcome: fail, state: open},
		}},
		{"probe failure reopens for a full cooldown", consec, []step{
			{outcome: fail, state: closed}, {outcome: fail, state: closed}, {outcome: fail, state: open},
			{advance: 10 * time.Second, state: half},
			{outcome: fail, state: open},
			{advance: 9 * time.Second, state: open}, {refused: true, state: open},
			{advance: time.Second, state: half}, {outcome: ok, state: closed},
		}},
		{"ignored probe lets another probe", consec, []step{
			{outcome: fail, state: closed}, {outcome: fail, state: closed}, {outcome: fail, state: open},
			{advance: 10 * time.Second, state: half},
			{outcome: ign, state: half}, {outcome: ok, state: closed},
		}},
		{"failure ratio over the window", provider.BreakerConfig{ConsecutiveFailures: 100, FailureRatio: 0.5, Window: 6, MinSamples: 6}, []step{
			{outcome: fail, state: closed}, {outcome: ok, state: closed}, {outcome: fail, state: closed},
			{outcome: ok, state: closed}, {outcome: ok, state: closed}, {outcome: fail, state: open},
		}},
		{"ratio needs min samples and forgets old outcomes", provider.BreakerConfig{ConsecutiveFailures: 100, FailureRatio: 0.5, Window: 4, MinSamples: 4}, []step{
			{outcome: fail, state: closed}, {outcome: ok, state: closed}, {outcome: ok, state: closed},
			{outcome: ok, state: closed}, // 1 of 4 failed
			{outcome: ok, state: closed}, // the failure left the window: 0 of 4
			{outcome: fail, state: closed}, {outcome: fail, state: open},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			runSteps(t, tt.cfg, tt.steps)
		})
	}
}

func TestBreakerOneProbeAtATime(t *testing.T) {
	t.Parallel()
	clock := providertest.NewClock(epoch)
	b, err := provider.NewBreaker(provider.BreakerConfig{ConsecutiveFailures: 1, Cooldown: time.Minute}, clock)
	if err != nil {
		t.Fatal(err)
	}
	done, _ := b.Allow()
	done(provider.OutcomeFailure)
	clock.Advance(time.Minute)
	probe, err := b.Allow()
	if err != nil {
		t.Fatalf("probe refused: %v", err)
	}
	if _, err := b.Allow(); !errors.Is(err, provider.ErrCircuitOpen) {
		t.Fatalf("second call during the probe: %v, want ErrCircuitOpen", err)
	}
	probe(provider.OutcomeSuccess)
	probe(provider.OutcomeFailure) // a second report is ignored
	if got := b.State(); got != provider.BreakerClosed {
		t.Errorf("state %s after successful probe, want closed", got)
	}
}

func TestBreakerIgnoresStaleOutcomes(t *testing.T) {
	t.Parallel()
	clock := providertest.NewClock(epoch)
	b, _ := provider.NewBreaker(provider.BreakerConfig{ConsecutiveFailures: 1, Cooldown: time.Minute}, clock)
	slow, _ := b.Allow() // started while closed, finishes late
	fast, _ := b.Allow()
	fast(provider.OutcomeFailure)
	clock.Advance(time.Minute)
	probe, _ := b.Allow()
	slow(provider.OutcomeSuccess) // must not close the circuit or end the probe
	if got := b.State(); got != provider.BreakerHalfOpen {
		t.Fatalf("state %s after a stale success, want half-open", got)
	}
	probe(provider.OutcomeFailure)
	if got := b.State(); got != provider.BreakerOpen {
		t.Errorf("state %s after failed probe, want open", got)
	}
}

func TestBreakerConfigValidation(t *testing.T) {
	t.Parallel()
	bad := []provider.BreakerConfig{
		{ConsecutiveFailures: -1},
		{FailureRatio: 1.5},
		{FailureRatio: -0.1},
		{Window: 5, MinSamples: 6},
		{Cooldown: -time.Second},
	}
	for _, cfg := range bad {
		if _, err := provider.NewBreaker(cfg, nil); err == nil {
			t.Errorf("NewBreaker(%+v) accepted an invalid config", cfg)
		}
	}
}
