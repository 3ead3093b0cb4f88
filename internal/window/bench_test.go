package window

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkWindowObserve records one observation per op into a 5-minute
// window of 10-second buckets, time advancing 1ms per op, after a warm-up
// that has cycled the ring so buckets are reused rather than allocated.
func BenchmarkWindowObserve(b *testing.B) {
	w := NewWindow(10*time.Second, 30)
	lat := latencies(1, 1024)
	now := tb
	for i := range 400_000 {
		w.Observe(now, Observation{Latency: lat[i%len(lat)]})
		now = now.Add(time.Millisecond)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w.Observe(now, Observation{Latency: lat[i%len(lat)], CostUSD: 0.002, InputTokens: 1200, OutputTokens: 300})
		now = now.Add(time.Millisecond)
	}
}

// BenchmarkAggregate merges a full 5-minute window of thirty 10-second
// buckets holding 100 requests per second.
func BenchmarkAggregate(b *testing.B) {
	w := NewWindow(10*time.Second, 30)
	lat := latencies(2, 1024)
	now := tb
	for i := range 30_000 {
		w.Observe(now, Observation{Latency: lat[i%len(lat)], Error: i%50 == 0})
		now = now.Add(10 * time.Millisecond)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a := w.Aggregate(now, 5*time.Minute)
		if a.Requests == 0 {
			b.Fatal("empty aggregate")
		}
	}
}

// BenchmarkSetObserveParallel records observations from every core into
// eight series of one set, as the gateway does for concurrent reviews.
func BenchmarkSetObserveParallel(b *testing.B) {
	s := NewSet(10*time.Second, 30)
	lat := latencies(3, 1024)
	names := make([]string, 8)
	for i := range names {
		names[i] = fmt.Sprintf("exp/exp-%02d", i)
		for j := range 1000 {
			s.Observe(tb.Add(time.Duration(j)*time.Millisecond), names[i], Observation{Latency: lat[j%len(lat)]})
		}
	}
	var clock atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := clock.Add(1)
			now := tb.Add(time.Duration(i) * time.Microsecond)
			s.Observe(now, names[i%int64(len(names))], Observation{Latency: lat[i%int64(len(lat))]})
		}
	})
}
