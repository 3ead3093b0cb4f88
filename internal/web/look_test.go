package web

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/coordination/decision"
)

// constLatency is a latency sample of n reviews that all took v seconds.
type constLatency struct {
	n int64
	v float64
}

func (c constLatency) Quantile(float64) float64 { return c.v }
func (c constLatency) Count() int64             { return c.n }

func TestRunningExperimentCriteria(t *testing.T) {
	t.Parallel()
	measured := func(_ context.Context, _ *coordination.Experiment, _ time.Time) (decision.Measured, decision.Measured, error) {
		cand := decision.Measured{Requests: 4000, Labelled: 4000, Correct: 3800, Latency: constLatency{4000, 1.0}}
		base := decision.Measured{Requests: 4000, Labelled: 4000, Correct: 3600, Latency: constLatency{4000, 1.2}}
		return cand, base, nil
	}
	empty := func(context.Context, *coordination.Experiment, time.Time) (decision.Measured, decision.Measured, error) {
		return decision.Measured{}, decision.Measured{}, nil
	}
	broken := func(context.Context, *coordination.Experiment, time.Time) (decision.Measured, decision.Measured, error) {
		return decision.Measured{}, decision.Measured{}, errors.New("recorder offline")
	}
	cases := []struct {
		name         string
		measurements coordination.MeasurementFunc
		want         []string
		noSamples    bool
	}{
		{name: "live look at the samples", measurements: measured,
			want: []string{"Live look at the samples so far", "accuracy > 90% 95% pass 4000", "latency_p95 < 3s 1s pass 4000"}},
		{name: "nothing measured yet", measurements: empty, want: []string{"No samples yet.", "accuracy > 90% — no samples yet"}, noSamples: true},
		{name: "measurements fail", measurements: broken, want: []string{"Live measurements are unavailable: recorder offline"}, noSamples: true},
		{name: "no measurements configured", want: []string{"No samples yet.", "latency_p95 < 3s — no samples yet"}, noSamples: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t, func(o *Options) { o.Measurements = tc.measurements })
			doc, _ := f.page(t, f.admin)
			card := text(find(doc, byAttr("data-experiment", f.runningID)))
			for _, w := range tc.want {
				if !strings.Contains(card, w) {
					t.Errorf("card lacks %q:\n%s", w, card)
				}
			}
			if got := strings.Contains(card, "no samples yet"); got != tc.noSamples {
				t.Errorf("shows no samples = %t, want %t", got, tc.noSamples)
			}
		})
	}
}

// A restarted experiment's last evaluation belongs to its previous run, so
// it is not shown as the current look.
func TestLookIgnoresThePreviousRun(t *testing.T) {
	t.Parallel()
	f := setup(t)
	mustDo(t, "restart the held experiment", f.c.StartExperiment(f.ctx, f.heldID, "ops@example.com"))
	doc, _ := f.page(t, f.admin)
	card := text(find(doc, byAttr("data-experiment", f.heldID)))
	if !strings.Contains(card, "accuracy > 90% — no samples yet") {
		t.Errorf("the previous run's evaluation shows as the current look:\n%s", card)
	}
}
