package gateway

import (
	"context"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/coordination/coordinationtest"
	"github.com/tricyclehq/tricycle/internal/flags"
	"github.com/tricyclehq/tricycle/internal/review"
)

var candV = coordination.Variant{Name: "cand", Provider: "builtin"}

func TestCanarySplitIsStickyAndWithinWeight(t *testing.T) {
	t.Parallel()
	for _, pct := range []int{10, 50} {
		t.Run(fmt.Sprintf("%d%%", pct), func(t *testing.T) {
			t.Parallel()
			prod, cand := returns(), returns()
			b := setup(t, map[string]review.Reviewer{"prod": prod, "cand": cand}, nil)
			b.routing.set(func(r *coordination.Routing) { r.Canary = canary("prm-1", pct, candV) })
			ctx := context.Background()
			const n = 10000
			arms := map[string]Arm{}
			canaries := 0
			for i := range n {
				repo := fmt.Sprintf("org/repo-%d", i)
				res, err := b.g.Review(ctx, review.Request{Repository: repo, Diff: goDiff})
				if err != nil {
					t.Fatal(err)
				}
				arms[repo] = res.Arm
				if res.Arm == ArmCanary {
					canaries++
					if res.Variant != "cand" || res.Series != SeriesCanary("prm-1") {
						t.Fatalf("canary answer names variant %q series %q", res.Variant, res.Series)
					}
				}
			}
			share := 100 * float64(canaries) / n
			if math.Abs(share-float64(pct)) > 1.5 {
				t.Errorf("canary share %.2f%%, want %d%% ± 1.5", share, pct)
			}
			if got := cand.n(); got != canaries {
				t.Errorf("canary reviewer called %d times for %d canary answers", got, canaries)
			}
			// The same repository always gets the same variant.
			for i := range 500 {
				repo := fmt.Sprintf("org/repo-%d", i)
				res, err := b.g.Review(ctx, review.Request{Repository: repo, Client: "someone-else", Diff: goDiff})
				if err != nil {
					t.Fatal(err)
				}
				if res.Arm != arms[repo] {
					t.Fatalf("%s first went to %s, then to %s", repo, arms[repo], res.Arm)
				}
			}
			if got := b.rec.count(SeriesCanary("prm-1")) + b.rec.count(SeriesProduction); got != n+500 {
				t.Errorf("recorded %d outcomes for %d requests", got, n+500)
			}
		})
	}
}

func TestRoutingKeyFallsBackToClientThenRequestID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		req  review.Request
		want string
	}{
		{review.Request{ID: "r1", Client: "alice", Repository: "org/a"}, "org/a"},
		{review.Request{ID: "r1", Client: "alice"}, "alice"},
		{review.Request{ID: "r1"}, "r1"},
	}
	for _, tt := range tests {
		if got := RoutingKey(tt.req); got != tt.want {
			t.Errorf("RoutingKey(%+v) = %q, want %q", tt.req, got, tt.want)
		}
	}
}

func TestRolledBackCanaryIsNeverInvoked(t *testing.T) {
	t.Parallel()
	prod, cand := returns(), returns()
	b := setup(t, map[string]review.Reviewer{"prod": prod, "cand": cand}, nil)
	b.routing.set(func(r *coordination.Routing) { r.Canary = canary("prm-1", 100, candV) })
	ctx := context.Background()
	if res, err := b.g.Review(ctx, review.Request{Repository: "org/a", Diff: goDiff}); err != nil || res.Arm != ArmCanary {
		t.Fatalf("before rollback: arm %s, err %v; want canary", res.Arm, err)
	}
	// The rollback event arrives while the routing source still reports the
	// canary (e.g. a replica's stale read): the event alone must stop it.
	ev, err := coordination.NewEvent(coordination.EventPromotionRollback, "prm-1", t0,
		map[string]any{"request_id": "prm-1", "experiment_id": "exp-c"})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.g.router.handle(ctx, ev); err != nil {
		t.Fatal(err)
	}
	before := cand.n()
	for i := range 50 {
		res, err := b.g.Review(ctx, review.Request{Repository: fmt.Sprintf("org/%d", i), Diff: goDiff})
		if err != nil {
			t.Fatal(err)
		}
		if res.Arm != ArmProduction {
			t.Fatalf("after rollback a request went to %s", res.Arm)
		}
	}
	if cand.n() != before {
		t.Errorf("rolled-back canary was invoked %d more times", cand.n()-before)
	}
}

func TestCanaryKillSwitch(t *testing.T) {
	t.Parallel()
	fs, err := flags.NewSet(flags.Flag{Name: flags.Canary, Killed: true})
	if err != nil {
		t.Fatal(err)
	}
	cand := returns()
	b := setup(t, map[string]review.Reviewer{"prod": returns(), "cand": cand}, func(o *Options) { o.Flags = fs })
	b.routing.set(func(r *coordination.Routing) { r.Canary = canary("prm-1", 100, candV) })
	for i := range 20 {
		if _, err := b.g.Review(context.Background(), review.Request{Repository: fmt.Sprintf("org/%d", i), Diff: goDiff}); err != nil {
			t.Fatal(err)
		}
	}
	if cand.n() != 0 {
		t.Errorf("killed canary answered %d requests", cand.n())
	}
}

func TestReviewErrorsAreRecordedAndClassified(t *testing.T) {
	t.Parallel()
	boom := &fakeReviewer{fn: func(context.Context, review.Request) (review.Result, error) {
		return review.Result{}, errors.New("provider said 500")
	}}
	hang := &fakeReviewer{fn: func(ctx context.Context, _ review.Request) (review.Result, error) {
		<-ctx.Done()
		return review.Result{}, ctx.Err()
	}}
	tests := []struct {
		name string
		rv   review.Reviewer
		want error
	}{
		{"provider error", boom, ErrUpstream},
		{"timeout", hang, ErrUpstreamTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, map[string]review.Reviewer{"prod": tt.rv}, func(o *Options) { o.Timeout = 1 })
			_, err := b.g.Review(context.Background(), review.Request{Repository: "org/a", Diff: goDiff})
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			got := b.rec.series(SeriesProduction)
			if len(got) != 1 || !got[0].Error {
				t.Errorf("recorded %+v, want one error outcome", got)
			}
		})
	}
	t.Run("caller gave up", func(t *testing.T) {
		t.Parallel()
		b := setup(t, map[string]review.Reviewer{"prod": hang}, nil)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := b.g.Review(ctx, review.Request{Repository: "org/a", Diff: goDiff}); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if n := b.rec.count(SeriesProduction); n != 0 {
			t.Errorf("a request the caller abandoned was recorded %d times", n)
		}
	})
}

func TestReviewRefusesEmptyDiffAndUnknownProduction(t *testing.T) {
	t.Parallel()
	b := setup(t, nil, nil)
	if _, err := b.g.Review(context.Background(), review.Request{Repository: "org/a"}); !errors.Is(err, coordination.ErrInvalidInput) {
		t.Errorf("empty diff: err = %v, want ErrInvalidInput", err)
	}
	b.routing.set(func(r *coordination.Routing) {
		r.Production = release(coordination.Variant{Name: "x", Provider: "nope"})
	})
	if err := b.g.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := b.g.Review(context.Background(), review.Request{Repository: "org/a", Diff: goDiff}); !errors.Is(err, ErrUnavailable) {
		t.Errorf("unbuildable production: err = %v, want ErrUnavailable", err)
	}
}

func TestShadowSampleIsStickyPerExperiment(t *testing.T) {
	t.Parallel()
	b := setup(t, map[string]review.Reviewer{"prod": returns(), "cand": returns()}, func(o *Options) { o.ShadowQueue = 20000 })
	b.routing.set(func(r *coordination.Routing) {
		r.Experiments = []*coordination.Experiment{running("exp-a", 5, candV), running("exp-b", 20, candV)}
	})
	ctx := context.Background()
	const n = 4000
	for i := range n {
		if _, err := b.g.Review(ctx, review.Request{Repository: fmt.Sprintf("org/r%d", i), Diff: goDiff}); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]int{}
	pending := b.g.shadow.ch
	for len(pending) > 0 {
		it := <-pending
		got[it.data.ExperimentID]++
		if want := flags.Bucket("shadow:"+it.data.ExperimentID, it.data.Request.Repository); float64(want) >= map[string]float64{"exp-a": 500, "exp-b": 2000}[it.data.ExperimentID] {
			t.Fatalf("%s copied to %s with bucket %d", it.data.Request.Repository, it.data.ExperimentID, want)
		}
	}
	for id, pct := range map[string]float64{"exp-a": 5, "exp-b": 20} {
		share := 100 * float64(got[id]) / n
		if math.Abs(share-pct) > 1.5 {
			t.Errorf("%s got %.2f%% of requests, want %.0f%% ± 1.5", id, share, pct)
		}
	}
}

func TestShadowQueueFullDropsWithoutBlocking(t *testing.T) {
	t.Parallel()
	// No Start: nothing drains the queue, so it fills and then drops.
	b := setup(t, map[string]review.Reviewer{"prod": returns()}, func(o *Options) { o.ShadowQueue = 8 })
	b.routing.set(func(r *coordination.Routing) {
		r.Experiments = []*coordination.Experiment{running("exp-a", 100, candV)}
	})
	for i := range 100 {
		if _, err := b.g.Review(context.Background(), review.Request{Repository: fmt.Sprintf("org/%d", i), Diff: goDiff}); err != nil {
			t.Fatal(err)
		}
	}
	st := b.g.ShadowStats()
	if st.Queued != 8 || st.Dropped != 92 || st.Pending != 8 {
		t.Errorf("stats %+v, want 8 queued, 92 dropped, 8 pending", st)
	}
}

func TestCanaryAnswersAreNotShadowed(t *testing.T) {
	t.Parallel()
	b := setup(t, map[string]review.Reviewer{"prod": returns(), "cand": returns()}, nil)
	b.routing.set(func(r *coordination.Routing) {
		r.Canary = canary("prm-1", 100, candV)
		r.Experiments = []*coordination.Experiment{running("exp-a", 100, candV)}
	})
	if _, err := b.g.Review(context.Background(), review.Request{Repository: "org/a", Diff: goDiff}); err != nil {
		t.Fatal(err)
	}
	if st := b.g.ShadowStats(); st.Queued != 0 {
		t.Errorf("a canary answer was shadowed: %+v", st)
	}
}

func TestExperimentWithoutVariantGetsNoShadows(t *testing.T) {
	t.Parallel()
	b := setup(t, map[string]review.Reviewer{"prod": returns()}, nil)
	b.routing.set(func(r *coordination.Routing) {
		r.Experiments = []*coordination.Experiment{running("exp-bare", 100, coordination.Variant{})}
	})
	if _, err := b.g.Review(context.Background(), review.Request{Repository: "org/a", Diff: goDiff}); err != nil {
		t.Fatal(err)
	}
	if st := b.g.ShadowStats(); st.Queued != 0 {
		t.Errorf("an experiment without a variant got shadow copies: %+v", st)
	}
}

func TestShadowKillSwitch(t *testing.T) {
	t.Parallel()
	fs, err := flags.NewSet(flags.Flag{Name: flags.Shadow, Killed: true})
	if err != nil {
		t.Fatal(err)
	}
	b := setup(t, map[string]review.Reviewer{"prod": returns()}, func(o *Options) { o.Flags = fs })
	b.routing.set(func(r *coordination.Routing) {
		r.Experiments = []*coordination.Experiment{running("exp-a", 100, candV)}
	})
	if _, err := b.g.Review(context.Background(), review.Request{Repository: "org/a", Diff: goDiff}); err != nil {
		t.Fatal(err)
	}
	if st := b.g.ShadowStats(); st.Queued+st.Dropped != 0 {
		t.Errorf("shadow copies made with the kill switch on: %+v", st)
	}
}

func TestRoutingOutageIsNotHammered(t *testing.T) {
	t.Parallel()
	clock := coordinationtest.NewManualClock(t0)
	reads := 0
	reg, err := NewRegistry(RegistryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(Options{Registry: reg, Clock: clock, Routing: func(context.Context) (coordination.Routing, error) {
		reads++
		return coordination.Routing{}, errors.New("database is locked")
	}})
	if err != nil {
		t.Fatal(err)
	}
	for range 50 {
		if _, err := g.Review(context.Background(), review.Request{Diff: goDiff}); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
	}
	if reads != 1 {
		t.Errorf("50 requests read the routing state %d times within a second", reads)
	}
	clock.Advance(2 * time.Second)
	_, _ = g.Review(context.Background(), review.Request{Diff: goDiff})
	if reads != 2 {
		t.Errorf("after a second the routing state was read %d times in all, want 2", reads)
	}
}
