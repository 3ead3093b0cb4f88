package gateway

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/internal/review"
	"github.com/tricyclehq/tricycle/internal/review/builtin"
)

func TestProberRecordsLabelledOutcomes(t *testing.T) {
	t.Parallel()
	cases := loadGolden(t)
	b := setup(t, map[string]review.Reviewer{"prod": builtin.New(builtin.Options{}), "cand": returns()}, nil)
	b.routing.set(func(r *coordination.Routing) {
		r.Canary = canary("prm-1", 100, candV)
		r.Experiments = []*coordination.Experiment{running("exp-a", 100, candV)}
	})
	p, err := NewProber(b.g, ProberOptions{Cases: cases, N: 5, Seed: 42})
	if err != nil {
		t.Fatal(err)
	}
	var reports []ProbeReport
	for range 2 {
		rep, err := p.RunOnce(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		reports = append(reports, rep)
	}
	got := b.rec.series(SeriesProbe)
	if len(got) != 10 {
		t.Fatalf("recorded %d probe outcomes, want 10", len(got))
	}
	for i, o := range got {
		r := reports[i/5].Results[i%5]
		if !o.Labelled || o.Error || o.Variant != "prod" || o.Correct != (r.FP == 0 && r.FN == 0) || o.TP != r.TP || o.FN != r.FN {
			t.Errorf("probe %s recorded as %+v (result %+v)", r.CaseID, o, r)
		}
	}
	// Runs draw different cases, reproducibly for a seed.
	if fmt.Sprint(ids(reports[0])) == fmt.Sprint(ids(reports[1])) {
		t.Errorf("two runs replayed the same cases %v", ids(reports[0]))
	}
	p2, _ := NewProber(b.g, ProberOptions{Cases: cases, N: 5, Seed: 42, Recorder: newRecorder()})
	again, err := p2.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(ids(again)) != fmt.Sprint(ids(reports[0])) {
		t.Errorf("same seed drew %v, then %v", ids(reports[0]), ids(again))
	}
	// Probes go to production only: no canary call, no shadow copy, nothing
	// stored as a user's review.
	if b.rec.count(SeriesCanary("prm-1")) != 0 || b.g.ShadowStats().Queued != 0 {
		t.Error("a probe reached the canary or was shadowed")
	}
}

func TestProberRecordsErrorsAsErrors(t *testing.T) {
	t.Parallel()
	boom := &fakeReviewer{fn: func(context.Context, review.Request) (review.Result, error) {
		return review.Result{}, errors.New("down")
	}}
	b := setup(t, map[string]review.Reviewer{"prod": boom}, nil)
	p, err := NewProber(b.g, ProberOptions{Cases: loadGolden(t)[:3], N: 3})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, o := range b.rec.series(SeriesProbe) {
		if !o.Error || o.Labelled || o.Correct {
			t.Errorf("failed probe recorded as %+v; an outage is not an inaccuracy", o)
		}
	}
}

func ids(r ProbeReport) []string {
	out := make([]string, len(r.Results))
	for i, x := range r.Results {
		out[i] = x.CaseID
	}
	return out
}

func TestMetricsCountReviewsAndShadows(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	b := setup(t, map[string]review.Reviewer{"prod": returns()}, func(o *Options) { o.Metrics, o.ShadowQueue = m, 1 })
	b.routing.set(func(r *coordination.Routing) {
		r.Experiments = []*coordination.Experiment{running("exp-a", 100, candV)}
	})
	for i := range 3 {
		if _, err := b.g.Review(context.Background(), review.Request{Repository: fmt.Sprintf("org/%d", i), Diff: goDiff}); err != nil {
			t.Fatal(err)
		}
	}
	got := counters(t, reg)
	for k, want := range map[string]float64{
		`tricycle_gateway_shadow_total{result="queued"}`:                              1,
		`tricycle_gateway_shadow_total{result="dropped"}`:                             2,
		`tricycle_gateway_reviews_total{arm="production",result="ok",variant="prod"}`: 3,
	} {
		if got[k] != want {
			t.Errorf("%s = %v, want %v (all: %v)", k, got[k], want, got)
		}
	}
	if _, err := NewMetrics(reg); err == nil {
		t.Error("registering the metrics twice succeeded")
	}
}

// counters reads every counter of reg as name{label="value",...} → value.
func counters(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if m.GetCounter() == nil {
				continue
			}
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			out[mf.GetName()+"{"+strings.Join(labels, ",")+"}"] = m.GetCounter().GetValue()
		}
	}
	return out
}
