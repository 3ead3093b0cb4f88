package measure_test

import (
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/internal/measure"
)

// TestHistoryOnePointPerBucket: history returns the coarse buckets in time
// order, each with only what was recorded in it.
func TestHistoryOnePointPerBucket(t *testing.T) {
	t.Parallel()
	b := setup(t)
	start := t0
	for h := range 5 {
		for i := 0; i <= h; i++ {
			b.r.Record(measure.Outcome{At: start.Add(time.Duration(h)*time.Hour + time.Minute), Series: measure.SeriesProduction,
				Variant: "v", Latency: time.Second, Error: i == 0, CostUSD: 0.01})
		}
	}
	b.clock.Set(start.Add(5 * time.Hour))
	pts := b.r.History(measure.SeriesProduction, start.Add(time.Hour), start.Add(4*time.Hour))
	if len(pts) != 4 {
		t.Fatalf("%d points, want 4 (hours 1-4)", len(pts))
	}
	for i, p := range pts {
		h := i + 1
		if !p.Start.Equal(start.Add(time.Duration(h)*time.Hour)) || p.Stats.Aggregate.Requests != int64(h+1) || p.Stats.Aggregate.Errors != 1 {
			t.Errorf("point %d: start %s requests %d errors %d", i, p.Start, p.Stats.Aggregate.Requests, p.Stats.Aggregate.Errors)
		}
	}
	if got := b.r.History("exp/none", start, start.Add(time.Hour)); got != nil {
		t.Errorf("unknown series: %v", got)
	}
}
