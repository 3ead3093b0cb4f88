package measure_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/internal/measure"
)

// benchOutcomes returns n outcomes spread over a few series, as the gateway
// records them.
func benchOutcomes(n int) []measure.Outcome {
	series := []string{measure.SeriesProduction, measure.ExperimentSeries("exp-1"), measure.BaselineSeries("exp-1"),
		measure.CanarySeries("prom-1")}
	out := make([]measure.Outcome, n)
	for i := range out {
		out[i] = measure.Outcome{Series: series[i%len(series)], Variant: fmt.Sprint("v", i%3),
			Latency: time.Duration(200+i%1800) * time.Millisecond, Error: i%50 == 0,
			InputTokens: 1200, OutputTokens: 300, CostUSD: 0.002, Compared: i%4 == 1, Agreed: i%8 == 1}
	}
	return out
}

// BenchmarkRecord measures what a review pays to record its outcome: the
// copy into an intake buffer. Draining into the windows, which Run does on
// another goroutine, happens off the clock every 256 records (so buffers
// never fill); BenchmarkRecordAndApply measures that part.
func BenchmarkRecord(b *testing.B) {
	r, err := measure.New(coordination.NewMemoryStore(), nil, nil, measure.Options{})
	if err != nil {
		b.Fatal(err)
	}
	os := benchOutcomes(1024)
	now := time.Now()
	for i := range os {
		os[i].At = now
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r.Record(os[i%len(os)])
		if i%256 == 255 {
			b.StopTimer()
			_ = r.Spent("none") // drains
			b.StartTimer()
		}
	}
	b.StopTimer()
	if r.Dropped() != 0 {
		b.Fatalf("%d outcomes dropped", r.Dropped())
	}
}

// BenchmarkRecordParallel records from every core with Run draining in the
// background. A tight loop records faster than outcomes can be applied, so
// this is the overloaded case: dropped/op is the share Record shed rather
// than block.
func BenchmarkRecordParallel(b *testing.B) {
	r, err := measure.New(coordination.NewMemoryStore(), nil, nil, measure.Options{})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	os := benchOutcomes(1024)
	now := time.Now()
	for i := range os {
		os[i].At = now
	}
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r.Record(os[next.Add(1)%int64(len(os))])
		}
	})
	b.StopTimer()
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(r.Dropped())/float64(b.N), "dropped/op")
}

// BenchmarkRecordAndApply is the whole cost of an outcome on one core:
// recording it and moving it into both windows and Prometheus (a read
// drains every 512 records).
func BenchmarkRecordAndApply(b *testing.B) {
	r, err := measure.New(coordination.NewMemoryStore(), nil, nil, measure.Options{})
	if err != nil {
		b.Fatal(err)
	}
	os := benchOutcomes(1024)
	now := time.Now()
	for i := range os {
		os[i].At = now
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r.Record(os[i%len(os)])
		if i%512 == 511 {
			_ = r.Spent("none")
		}
	}
}
