package measure_test

import (
	"errors"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/internal/measure"
)

// The fine window answers short spans and forgets after ten minutes; the
// coarse one keeps days; both count the same outcomes.
func TestStatsFineAndCoarseWindows(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// 30 outcomes 20 minutes ago, 10 in the last minute (2 errors).
	for i := range 30 {
		b.r.Record(ok(measure.SeriesProduction, t0.Add(-20*time.Minute+time.Duration(i)*time.Second), time.Second, 0.01))
	}
	for i := range 8 {
		b.r.Record(ok(measure.SeriesProduction, t0.Add(-time.Duration(i)*time.Second), 2*time.Second, 0.01))
	}
	b.r.Record(failed(measure.SeriesProduction, t0))
	b.r.Record(failed(measure.SeriesProduction, t0))

	recent := b.r.Stats(measure.SeriesProduction, 5*time.Minute)
	if recent.Aggregate.Requests != 10 || recent.Aggregate.Errors != 2 {
		t.Errorf("last 5 minutes: %d requests, %d errors; want 10 and 2", recent.Aggregate.Requests, recent.Aggregate.Errors)
	}
	day := b.r.Stats(measure.SeriesProduction, 24*time.Hour)
	if day.Aggregate.Requests != 40 || day.Aggregate.Errors != 2 {
		t.Errorf("last day: %d requests, %d errors; want 40 and 2", day.Aggregate.Requests, day.Aggregate.Errors)
	}
	if got := day.Aggregate.CostSum; math.Abs(got-(38*0.01+2*0.001)) > 1e-9 {
		t.Errorf("last day cost %v, want %v", got, 38*0.01+2*0.001)
	}
	if p := recent.Aggregate.Quantile(0.5); math.Abs(p-2) > 0.02*2 {
		t.Errorf("recent median latency %vs, want about 2s", p)
	}
	if got := b.r.Stats("exp/none", time.Hour); got.Aggregate == nil || got.Aggregate.Requests != 0 {
		t.Errorf("unknown series: %+v, want an empty aggregate", got)
	}
	if got := b.r.Series(); len(got) != 1 || got[0] != measure.SeriesProduction {
		t.Errorf("Series() = %v", got)
	}
}

// Finding counts and agreement are summed beside the window aggregate.
func TestCountsBesideTheAggregate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := measure.ExperimentSeries("exp-1")
	for i := range 10 {
		o := ok(s, t0, time.Second, 0.01)
		o.TP, o.FP, o.FN = 2, 1, i%2
		o.Compared, o.Agreed = true, i < 7
		o.Labelled, o.Correct = true, i < 9
		b.r.Record(o)
	}
	st := b.r.Stats(s, time.Hour)
	want := measure.Counts{TruePositives: 20, FalsePositives: 10, FalseNegatives: 5, Compared: 10, Agreed: 7}
	if st.Counts != want {
		t.Errorf("counts %+v, want %+v", st.Counts, want)
	}
	if st.Aggregate.Labelled != 10 || st.Aggregate.Correct != 9 {
		t.Errorf("labelled %d correct %d, want 10 and 9", st.Aggregate.Labelled, st.Aggregate.Correct)
	}
}

// An outcome dated far ahead (a skewed clock) is counted now instead of
// emptying the window.
func TestFutureOutcomeCountsNow(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.r.Record(ok(measure.SeriesProduction, t0, time.Second, 0))
	b.r.Record(ok(measure.SeriesProduction, t0.Add(30*24*time.Hour), time.Second, 0))
	b.r.Record(ok(measure.SeriesProduction, t0, time.Second, 0))
	if got := b.r.Stats(measure.SeriesProduction, time.Minute).Aggregate.Requests; got != 3 {
		t.Errorf("requests in the last minute = %d, want 3", got)
	}
}

// A zero At means the time of recording.
func TestZeroTimeIsNow(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.clock.Advance(time.Hour)
	b.r.Record(measure.Outcome{Series: measure.SeriesProduction, Latency: time.Second})
	if got := b.r.Stats(measure.SeriesProduction, 10*time.Second).Aggregate.Requests; got != 1 {
		t.Errorf("an outcome recorded now is not in the last 10 seconds (%d)", got)
	}
}

// Concurrent recorders with tiny buffers: every outcome is either counted
// or reported dropped, none silently lost.
func TestConcurrentRecordLosesNothingSilently(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *measure.Options) { o.BufferSize, o.Shards = 8, 2 })
	const writers, each = 4, 500
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				b.r.Record(ok(measure.SeriesProduction, t0.Add(-time.Duration(w*each+i)*time.Millisecond), time.Second, 0))
			}
		})
	}
	wg.Go(func() {
		for range 50 {
			_ = b.r.Stats(measure.SeriesProduction, time.Minute)
		}
	})
	wg.Wait()
	got := b.r.Stats(measure.SeriesProduction, time.Minute).Aggregate.Requests
	if got+b.r.Dropped() != writers*each {
		t.Errorf("%d counted + %d dropped != %d recorded", got, b.r.Dropped(), writers*each)
	}
	if got == 0 {
		t.Error("nothing was counted")
	}
}

// Feedback counts per series, in both windows.
func TestRecordFeedback(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.r.RecordFeedback(t0, measure.SeriesProduction, "security", true, false)
	b.r.RecordFeedback(t0, measure.SeriesProduction, "style", false, true)
	b.r.RecordFeedback(time.Time{}, measure.SeriesProduction, "style", false, false)
	b.r.RecordFeedback(t0, "", "style", false, false) // no series: Prometheus only
	for _, span := range []time.Duration{time.Minute, 24 * time.Hour} {
		st := b.r.Stats(measure.SeriesProduction, span)
		if st.Feedback != 3 || st.Accepted != 1 || st.Complaints != 1 {
			t.Errorf("span %s: feedback %d accepted %d complaints %d; want 3, 1, 1", span, st.Feedback, st.Accepted, st.Complaints)
		}
	}
}

func TestKindOf(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		series string
		kind   measure.Kind
		ok     bool
	}{
		{measure.SeriesProduction, measure.KindProduction, true},
		{measure.CanarySeries("prom-1"), measure.KindCanary, true},
		{measure.ExperimentSeries("exp-1"), measure.KindShadow, true},
		{measure.BaselineSeries("exp-1"), "", false},
		{measure.SeriesProbe, measure.KindProbe, true},
		{"something", "", false},
	} {
		if k, ok := measure.KindOf(tc.series); k != tc.kind || ok != tc.ok {
			t.Errorf("KindOf(%q) = %q, %t; want %q, %t", tc.series, k, ok, tc.kind, tc.ok)
		}
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	t.Parallel()
	store := coordination.NewMemoryStore()
	for name, o := range map[string]measure.Options{
		"negative interval": {FlushInterval: -time.Second},
		"negative cap":      {CostCap: -1},
		"tiny buffer":       {BufferSize: 1},
		"fine over coarse":  {FineBucket: time.Hour, FineBuckets: 1000},
	} {
		if _, err := measure.New(store, nil, nil, o); !errors.Is(err, coordination.ErrInvalidInput) {
			t.Errorf("%s: New = %v, want ErrInvalidInput", name, err)
		}
	}
	if _, err := measure.New(nil, nil, nil, measure.Options{}); !errors.Is(err, coordination.ErrInvalidInput) {
		t.Errorf("nil store: %v", err)
	}
}
