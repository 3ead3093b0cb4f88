// Package demo runs the whole three-version cycle in about a minute: a
// coordinator on a compressed clock, fed by the review data plane of
// `tricycle serve` under synthetic traffic, tells three stories as a
// timeline — an experiment promoted through every canary phase, one
// quarantined early whose retry the blacklist refuses, and one that breaks
// in production and is rolled back by the health monitor.
//
// The synthetic requests go through the real gateway (the canary split by
// repository, shadow copies over the in-process bus to the experiments
// worker), and the measurement recorder's hooks feed the coordinator. The
// reviewers are simulated: their latency, failures, token use and which of
// the builtin reviewer's findings they report are drawn from configured
// figures, and the third reviewer's provider account has a simulated daily
// quota.
package demo

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/coordination/coordinationtest"
	"github.com/tricyclehq/tricycle/internal/measure"
)

// Options tune a demo run. The zero value is a valid, unpaced run.
type Options struct {
	// Seed seeds the synthetic traffic (0 means 1). The same seed tells the
	// same story; only ids and wall-clock timestamps differ between runs.
	Seed int64
	// Start is the simulated time of day 0 (zero: 09:00 UTC nineteen days
	// before today, so the story ends about now).
	Start time.Time
	// Pace is the wall time slept after each simulation step so that a
	// person can follow the output (0: none). It is capped at MaxPace.
	Pace time.Duration
	// Store holds the cycle's state and, at the end, the recorder's hourly
	// measurements (nil: an in-memory store). The caller keeps ownership:
	// Run does not close it, so the state can be inspected or served
	// afterwards.
	Store coordination.Store
	// Fast runs the cycle once an hour of simulated time (every five minutes
	// while the third story's canary breaks) instead of every five minutes
	// throughout: the same traffic and the same stories with fewer cycle
	// passes.
	Fast bool
	// Logger receives the coordinator's and the data plane's log (nil:
	// discarded).
	Logger *slog.Logger
}

// MaxPace caps Options.Pace: the demo never sleeps longer than this per step.
const MaxPace = 10 * time.Millisecond

// Demo actors, the traffic volume and the cycle settings.
const (
	admin = "admin@example.com"
	// reviewsPerHour is production's load; shadow copies are
	// shadowPercent of it per experiment.
	reviewsPerHour = 300
	shadowPercent  = 5
	// healthWindow is the health monitor's sliding window: long enough to
	// hold a hundred canary requests at 10% of the demo's load, so that one
	// failed request is not an alert.
	healthWindow = 4 * time.Hour
	// fineStep is the simulated time of one step.
	fineStep = 5 * time.Minute
)

// Run runs the demo, printing its timeline to w, and returns nil once the
// three stories have happened and the audit chain verifies. It returns an
// error when a story does not unfold as told (a decision or an alert that
// did not come) or ctx is cancelled.
func Run(ctx context.Context, w io.Writer, opts Options) error {
	seed := opts.Seed
	if seed == 0 {
		seed = 1
	}
	start := opts.Start
	if start.IsZero() {
		y, m, d := time.Now().UTC().AddDate(0, 0, -19).Date()
		start = time.Date(y, m, d, 9, 0, 0, 0, time.UTC)
	}
	pace := min(max(opts.Pace, 0), MaxPace)
	store := opts.Store
	if store == nil {
		store = coordination.NewMemoryStore()
		defer store.Close()
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	clock := coordinationtest.NewManualClock(start)
	vs := newVariants()
	tl := newTimeline(w, start, store)
	dp, err := newPlane(clock, store, vs, uint64(seed), reviewsPerHour, log)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer dp.close(context.WithoutCancel(ctx))
	rec := dp.rec
	c, err := coordination.NewLifecycleCoordinator(coordination.Options{
		Store: store, Bus: tl, Clock: clock, Logger: log, Production: vs.baseline.Variant,
		Config:       coordination.Config{ShadowPercent: shadowPercent, HealthWindow: coordination.Duration(healthWindow)},
		Measurements: rec.Measurements, CanaryMetrics: rec.CanaryMetrics, HealthMetrics: rec.HealthMetrics,
		CostPerReview: rec.CostPerReview, Feedback: rec.Feedback,
	})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	ctx = coordination.WithActor(ctx, coordination.AdminActor(admin))
	s := &script{c: c, clock: clock, tl: tl, dp: dp, vs: vs, store: store, pace: pace, seed: seed, start: start, stepSize: fineStep}
	if opts.Fast {
		s.stepSize = time.Hour
	}
	if err := s.run(ctx); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	return tl.writeErr()
}

// script drives the coordinator through the three stories.
type script struct {
	c     *coordination.LifecycleCoordinator
	clock *coordinationtest.ManualClock
	tl    *timeline
	dp    *plane
	vs    variants
	store coordination.Store
	pace  time.Duration
	seed  int64
	start time.Time // day 0 of the story
	// stepSize is the simulated time of one step (fineStep, or an hour
	// with Options.Fast outside the critical canary).
	stepSize time.Duration

	good, bad, breaks string // experiment ids of the three stories
}

func (s *script) run(ctx context.Context) error {
	if err := s.c.Init(ctx); err != nil {
		return err
	}
	if err := s.dp.attach(ctx, s.c.Routing); err != nil {
		return err
	}
	b := s.vs.baseline
	s.tl.text("tricycle demo: about 18 days of the cycle on a compressed clock (seed %d, %d reviews an hour, %d%% shadow copies, health window %.0fh)",
		s.seed, reviewsPerHour, shadowPercent, healthWindow.Hours())
	s.tl.text("traffic: synthetic review requests from %d repositories, each carrying one of %d sample changes, answered by the gateway", repositories, len(changes))
	s.tl.text("  (canary split by repository); shadow copies go over the in-process bus to the experiments worker; the recorder measures every outcome.")
	s.tl.text("  The reviewers are simulated: the reference findings are the builtin reviewer's, and agreement compares a candidate's findings with V2's.")
	s.tl.text("production (V2) starts on %s: %s", b.Name, b.describe())
	s.tl.text("")
	for _, story := range []func(context.Context) error{s.startAll, s.quarantineEarly, s.breakInProduction, s.promoteGood} {
		if err := story(ctx); err != nil {
			return err
		}
	}
	if err := s.summary(ctx); err != nil {
		return err
	}
	if n := s.dp.rec.Dropped(); n > 0 {
		return fmt.Errorf("the recorder dropped %d outcomes", n)
	}
	// Persist the hourly measurements with the cycle's state, for the
	// dashboard's charts.
	if err := s.dp.rec.Flush(ctx); err != nil {
		return fmt.Errorf("save measurements: %w", err)
	}
	return nil
}

// step sends d of traffic through the data plane, advances the clock and
// runs one pass of the cycle, printing the events it committed.
func (s *script) step(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r, err := s.dp.refresh(ctx)
	if err != nil {
		return err
	}
	from := s.clock.Now()
	if err := s.dp.serve(ctx, from, from.Add(d)); err != nil {
		return err
	}
	if at, ok := s.dp.quota.takeExhausted(); ok {
		s.tl.line(at, laneDemo, "simulated: the provider account of %s has used its quota of %d requests in 24 hours; further calls fail with 429",
			s.dp.quota.model, s.dp.quota.quota)
	}
	s.clock.Set(from.Add(d))
	_, runErr := s.c.RunOnce(ctx)
	if err := s.relay(ctx); err != nil {
		return err
	}
	if runErr != nil {
		return fmt.Errorf("cycle pass at %s: %w", s.tl.when(s.clock.Now()), runErr)
	}
	if now := s.clock.Now(); now.Hour() == 9 && now.Minute() == 0 && now.After(s.start) {
		s.daily(r)
	}
	if s.pace > 0 {
		t := time.NewTimer(s.pace)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// daily prints a line on the last day's traffic as the recorder measured
// it: what production and any canary served, and what the running
// experiments have measured so far.
func (s *script) daily(r coordination.Routing) {
	rec := s.dp.rec
	var parts []string
	add := func(who string, st measure.Stats) {
		a := st.Aggregate
		if a.Requests == 0 {
			return
		}
		parts = append(parts, fmt.Sprintf("%s %d reviews, errors %.2f%%, p95 %.2fs, $%.4f a review",
			who, a.Requests, 100*a.ErrorRate(), a.Quantile(0.95), a.MeanCost()))
	}
	add("stable "+r.Production.Variant.Name, rec.Stats(measure.SeriesProduction, 24*time.Hour))
	if r.Canary != nil {
		add(fmt.Sprintf("canary %s (%d%%)", r.Canary.Candidate.Name, r.Canary.TrafficPercent),
			rec.Stats(measure.CanarySeries(r.Canary.RequestID), 24*time.Hour))
	}
	line := "last 24h: " + strings.Join(parts, "; ")
	now := s.clock.Now()
	exps := slices.Clone(r.Experiments)
	slices.SortFunc(exps, func(a, b *coordination.Experiment) int { return cmp.Compare(a.Variant.Name, b.Variant.Name) })
	for _, e := range exps {
		st := rec.Stats(measure.ExperimentSeries(e.ID), now.Sub(e.StartedAt))
		if st.Aggregate.Requests > 0 && st.Compared > 0 {
			line += fmt.Sprintf(" | V1 %s: %d shadow reviews so far, agreement with V2 %.1f%%",
				e.Variant.Name, st.Aggregate.Requests, 100*float64(st.Agreed)/float64(st.Compared))
		}
	}
	s.tl.line(now, laneDemo, "%s", line)
}

// relay publishes every pending event (printing it).
func (s *script) relay(ctx context.Context) error {
	for {
		n, err := s.c.RelayOnce(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
	}
}

// until steps by step until done reports true, or fails after limit.
func (s *script) until(ctx context.Context, what string, step, limit time.Duration, done func(context.Context) (bool, error)) error {
	deadline := s.clock.Now().Add(limit)
	for {
		ok, err := done(ctx)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if ok {
			return nil
		}
		if !s.clock.Now().Before(deadline) {
			return fmt.Errorf("%s did not happen within %s of simulated time", what, limit)
		}
		if err := s.step(ctx, step); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
}

// wait lets d of simulated time pass.
func (s *script) wait(ctx context.Context, d time.Duration) error {
	end := s.clock.Now().Add(d)
	for s.clock.Now().Before(end) {
		if err := s.step(ctx, min(s.stepSize, end.Sub(s.clock.Now()))); err != nil {
			return err
		}
	}
	return nil
}

// create creates and starts an experiment for candidate c.
func (s *script) create(ctx context.Context, c candidate) (string, error) {
	p, err := s.c.CreateExperiment(ctx, c.spec())
	if err != nil {
		return "", err
	}
	if err := s.c.StartExperiment(ctx, p.ExperimentID, admin); err != nil {
		return "", err
	}
	if err := s.relay(ctx); err != nil {
		return "", err
	}
	s.tl.line(s.clock.Now(), laneV1, "%s runs %s: %s; criteria %s", p.ExperimentID, c.Name, c.describe(), criteriaText(c.Criteria))
	return p.ExperimentID, nil
}

func (s *script) experimentState(ctx context.Context, id string) (coordination.ExperimentState, error) {
	e, err := s.store.ExperimentGet(ctx, id)
	if err != nil {
		return "", err
	}
	return e.State, nil
}

// promotionOf returns the promotion of experiment id (nil before one exists).
func (s *script) promotionOf(ctx context.Context, id string) (*coordination.PromotionRequest, error) {
	e, err := s.store.ExperimentGet(ctx, id)
	if err != nil || e.PromotionID == "" {
		return nil, err
	}
	return s.store.PromotionGet(ctx, e.PromotionID)
}

// startAll starts the three candidates: the third first, the other two an
// hour later, so that no two decisions fall in one cycle pass.
func (s *script) startAll(ctx context.Context) error {
	s.tl.text("== story 1: a better, cheaper reviewer goes from V1 through every canary phase to V2")
	s.tl.text("== story 2: a cheap reviewer that misses findings is quarantined early; its retry is refused")
	s.tl.text("== story 3: a reviewer that shines in V1 breaks under production load; the health monitor rolls it back")
	var err error
	if s.breaks, err = s.create(ctx, s.vs.breaks); err != nil {
		return fmt.Errorf("story 3: %w", err)
	}
	if err := s.wait(ctx, time.Hour); err != nil {
		return err
	}
	if s.good, err = s.create(ctx, s.vs.good); err != nil {
		return fmt.Errorf("story 1: %w", err)
	}
	if s.bad, err = s.create(ctx, s.vs.bad); err != nil {
		return fmt.Errorf("story 2: %w", err)
	}
	return nil
}

// quarantineEarly waits for the worse candidate's early quarantine and tries
// to create it again.
func (s *script) quarantineEarly(ctx context.Context) error {
	err := s.until(ctx, "story 2: the early quarantine of "+s.bad, s.stepSize, 2*24*time.Hour, func(ctx context.Context) (bool, error) {
		st, err := s.experimentState(ctx, s.bad)
		return st == coordination.ExperimentQuarantined, err
	})
	if err != nil {
		return err
	}
	retry := s.vs.retry
	_, err = s.c.CreateExperiment(ctx, retry.spec())
	if !errors.Is(err, coordination.ErrBlacklisted) {
		return fmt.Errorf("story 2: creating %s again was not refused by the blacklist (got %v)", retry.Name, err)
	}
	s.tl.line(s.clock.Now(), laneV1, "retry %q (%s) refused: %v", retry.Title, retry.Name, err)
	return nil
}

// breakInProduction approves the third candidate's promotion first and
// follows its canary in five-minute steps until the health monitor has
// rolled it back.
func (s *script) breakInProduction(ctx context.Context) error {
	err := s.until(ctx, "story 3: a PROMOTE decision for "+s.breaks, s.stepSize, 15*24*time.Hour, func(ctx context.Context) (bool, error) {
		p, err := s.promotionOf(ctx, s.breaks)
		return p != nil && p.State == coordination.PromotionAwaitingApproval, err
	})
	if err != nil {
		return err
	}
	p, err := s.promotionOf(ctx, s.breaks)
	if err != nil {
		return err
	}
	if err := s.c.Promotion().ApprovePromotion(ctx, p.RequestID, admin); err != nil {
		return fmt.Errorf("story 3: %w", err)
	}
	if err := s.relay(ctx); err != nil {
		return err
	}
	err = s.until(ctx, "story 3: the rollback of "+p.RequestID, fineStep, 24*time.Hour, func(ctx context.Context) (bool, error) {
		cur, err := s.store.PromotionGet(ctx, p.RequestID)
		return err == nil && cur.State == coordination.PromotionRolledBack, err
	})
	if err != nil {
		return err
	}
	// Production runs on until the next morning, when the waiting
	// promotion is approved.
	next := s.clock.Now().Add(3 * time.Hour).Truncate(24 * time.Hour).Add(9 * time.Hour)
	if next.Before(s.clock.Now().Add(3 * time.Hour)) {
		next = next.Add(24 * time.Hour)
	}
	return s.wait(ctx, next.Sub(s.clock.Now()))
}

// promoteGood approves the better candidate's promotion once it is
// requested and follows its canary through every phase.
func (s *script) promoteGood(ctx context.Context) error {
	err := s.until(ctx, "story 1: a PROMOTE decision for "+s.good, s.stepSize, 15*24*time.Hour, func(ctx context.Context) (bool, error) {
		p, err := s.promotionOf(ctx, s.good)
		return p != nil && p.State == coordination.PromotionAwaitingApproval, err
	})
	if err != nil {
		return err
	}
	p, err := s.promotionOf(ctx, s.good)
	if err != nil {
		return err
	}
	if now := s.clock.Now(); p.RequestedAt.Before(now) {
		s.tl.line(now, laneV2, "%s (%s) has waited since %s: only one promotion may be in its canary phases at a time",
			p.RequestID, p.Candidate.Name, s.tl.when(p.RequestedAt))
	}
	if err := s.c.Promotion().ApprovePromotion(ctx, p.RequestID, admin); err != nil {
		return fmt.Errorf("story 1: %w", err)
	}
	if err := s.relay(ctx); err != nil {
		return err
	}
	return s.until(ctx, "story 1: the completion of "+p.RequestID, s.stepSize, 11*24*time.Hour, func(ctx context.Context) (bool, error) {
		cur, err := s.store.PromotionGet(ctx, p.RequestID)
		return err == nil && cur.State == coordination.PromotionCompleted, err
	})
}
