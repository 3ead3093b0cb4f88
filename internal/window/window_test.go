package window

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

// tb is aligned to 10-second buckets.
var tb = time.Unix(1_700_000_000, 0).UTC()

const sec = time.Second

func TestWindowEdges(t *testing.T) {
	t.Parallel()
	// 10s buckets, 6 of them: the window retains 60s.
	tests := []struct {
		name string
		obs  []time.Duration // observation times, offsets from tb
		now  time.Duration
		span time.Duration
		want int64
	}{
		{"same instant", []time.Duration{0}, 0, 30 * sec, 1},
		{"inside span", []time.Duration{0}, 25 * sec, 30 * sec, 1},
		{"oldest overlapping bucket is kept", []time.Duration{0}, 40*sec - 1, 30 * sec, 1},
		{"bucket wholly before now-span expires", []time.Duration{0}, 40 * sec, 30 * sec, 0},
		{"end of bucket at now-span", []time.Duration{10*sec - 1}, 40*sec - 1, 30 * sec, 1},
		{"full window", []time.Duration{0, 10 * sec, 59 * sec}, 59 * sec, 60 * sec, 3},
		{"span beyond capacity is capped", []time.Duration{0, 55 * sec}, 75 * sec, 24 * time.Hour, 1},
		{"reused slot no longer reports its old period", []time.Duration{5 * sec, 75 * sec}, 5 * sec, 60 * sec, 0},
		{"late observation beyond the window is dropped", []time.Duration{100 * sec, 30 * sec, 45 * sec}, 100 * sec, 60 * sec, 2},
		{"late observation within the window is kept", []time.Duration{100 * sec, 55 * sec}, 100 * sec, 60 * sec, 2},
		{"buckets after now are left out", []time.Duration{10 * sec, 50 * sec}, 20 * sec, 60 * sec, 1},
		{"zero span", []time.Duration{0}, 0, 0, 0},
		{"negative span", []time.Duration{0}, 0, -sec, 0},
		{"idle longer than the window", []time.Duration{0, 5 * sec}, 10 * time.Minute, 60 * sec, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := NewWindow(10*sec, 6)
			for _, at := range tt.obs {
				w.Observe(tb.Add(at), Observation{Latency: sec})
			}
			got := w.Aggregate(tb.Add(tt.now), tt.span)
			if got.Requests != tt.want || got.Count() != tt.want {
				t.Errorf("Aggregate(t+%s, %s): requests %d, samples %d, want %d", tt.now, tt.span, got.Requests, got.Count(), tt.want)
			}
		})
	}
}

func TestWindowBeforeUnixEpoch(t *testing.T) {
	t.Parallel()
	w := NewWindow(10*sec, 6)
	w.Observe(time.Unix(-25, 0), Observation{})
	w.Observe(time.Unix(-15, 0), Observation{})
	if got := w.Aggregate(time.Unix(-15, 0), 10*sec).Requests; got != 2 {
		t.Errorf("span 10s: %d requests, want 2 (buckets [-30s,-20s) and [-20s,-10s))", got)
	}
	if got := w.Aggregate(time.Unix(-15, 0), 5*sec).Requests; got != 1 {
		t.Errorf("span 5s: %d requests, want 1", got)
	}
}

// TestWindowMatchesBruteForce replays random, mostly increasing observation
// times and checks every query against a direct computation of which
// observations the ring still holds and the span covers.
func TestWindowMatchesBruteForce(t *testing.T) {
	t.Parallel()
	const width, n = 10 * sec, 6
	const slots = n + 1 // the ring keeps one extra bucket
	epoch := func(at time.Duration) int64 { return floorDiv(int64(at), int64(width)) }
	for seed := range uint64(5) {
		rng := rand.New(rand.NewPCG(seed, 11))
		w := NewWindow(width, n)
		var kept []time.Duration
		var now time.Duration
		latest := int64(-1 << 62)
		for step := range 400 {
			now += time.Duration(rng.Int64N(int64(8 * sec)))
			at := now - time.Duration(rng.Int64N(int64(90*sec))) // some late, some too late
			e := epoch(at)
			if e > latest-slots {
				latest = max(latest, e)
				w.Observe(tb.Add(at), Observation{})
				kept = slices.DeleteFunc(kept, func(k time.Duration) bool {
					ke := epoch(k)
					return ke != e && (ke-e)%slots == 0 // same slot, other period: reset
				})
				kept = append(kept, at)
			}
			span := time.Duration(rng.Int64N(int64(80 * sec)))
			qnow := now + time.Duration(rng.Int64N(int64(20*sec))) - 10*sec
			lo := floorDiv(int64(qnow)-int64(min(span, n*width)), int64(width))
			hi := epoch(qnow)
			var want int64
			for _, k := range kept {
				if ke := epoch(k); span > 0 && ke >= lo && ke <= hi {
					want++
				}
			}
			if got := w.Aggregate(tb.Add(qnow), span).Requests; got != want {
				t.Fatalf("seed %d step %d: Aggregate(t+%s, %s) = %d, want %d", seed, step, qnow, span, got, want)
			}
		}
	}
}

func TestWindowObserveDoesNotAllocateInSteadyState(t *testing.T) {
	w := NewWindow(sec, 10)
	lat := latencies(9, 512)
	now := tb
	i := 0
	observe := func() {
		w.Observe(now, Observation{Latency: lat[i%len(lat)], CostUSD: 0.002})
		now = now.Add(7 * time.Millisecond)
		i++
	}
	for range 20000 { // two full turns of the ring
		observe()
	}
	if allocs := testing.AllocsPerRun(5000, observe); allocs != 0 {
		t.Errorf("Observe allocates %.2f times per call in steady state, want 0", allocs)
	}
}

func TestNewWindowRejectsBadShape(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		width time.Duration
		n     int
	}{{0, 5}, {sec, 0}, {-sec, 3}, {time.Duration(1 << 62), 4}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewWindow(%s, %d) did not panic", tt.width, tt.n)
				}
			}()
			NewWindow(tt.width, tt.n)
		}()
	}
	if got := NewWindow(10*sec, 30).Span(); got != 5*time.Minute {
		t.Errorf("Span = %s, want 5m", got)
	}
}

func TestSet(t *testing.T) {
	t.Parallel()
	s := NewSet(10*sec, 30)
	s.Observe(tb, "v2/baseline", Observation{Latency: sec})
	s.Observe(tb, "v2/baseline", Observation{Latency: 2 * sec, Error: true})
	s.Observe(tb.Add(sec), "canary/gpt-x", Observation{Latency: 4 * sec})
	s.Observe(tb.Add(sec), "exp/exp-01", Observation{Labelled: true, Correct: true})

	if got, want := s.Series(), []string{"canary/gpt-x", "exp/exp-01", "v2/baseline"}; !slices.Equal(got, want) {
		t.Errorf("Series = %q, want %q", got, want)
	}
	base := s.Aggregate(tb.Add(sec), "v2/baseline", 5*time.Minute)
	if base.Requests != 2 || base.Errors != 1 || base.Count() != 2 {
		t.Errorf("v2/baseline = %+v", base)
	}
	if c := s.Aggregate(tb.Add(sec), "canary/gpt-x", 5*time.Minute); c.Requests != 1 || !within(c.Quantile(0.95), 4, RelativeAccuracy) {
		t.Errorf("canary = %+v p95 %v", c, c.Quantile(0.95))
	}
	if u := s.Aggregate(tb, "exp/unknown", time.Hour); u.Requests != 0 || u.Quantile(0.5) != 0 {
		t.Errorf("unknown series = %+v", u)
	}
	if got := s.Series(); len(got) != 3 {
		t.Errorf("querying an unknown series created it: %q", got)
	}
	s.Delete("exp/exp-01")
	s.Delete("exp/never")
	if got, want := s.Series(), []string{"canary/gpt-x", "v2/baseline"}; !slices.Equal(got, want) {
		t.Errorf("after Delete, Series = %q, want %q", got, want)
	}
}

func TestSetConcurrentObserve(t *testing.T) {
	t.Parallel()
	const writers, perWriter = 4, 500
	s := NewSet(10*sec, 6)
	var wg sync.WaitGroup
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			for i := range perWriter {
				series := fmt.Sprintf("exp/%d", i%3)
				at := tb.Add(time.Duration(rng.Int64N(int64(50 * sec))))
				s.Observe(at, series, Observation{Latency: time.Duration(1+rng.IntN(3000)) * time.Millisecond, Error: i%10 == 0})
				if i%50 == 0 {
					_ = s.Aggregate(at, series, time.Minute)
					_ = s.Series()
				}
			}
		}()
	}
	wg.Wait()
	var total Aggregate
	for _, name := range s.Series() {
		total.Merge(s.Aggregate(tb.Add(59*sec), name, time.Minute))
	}
	if total.Requests != writers*perWriter || total.Count() != writers*perWriter || total.Errors != writers*perWriter/10 {
		t.Errorf("after concurrent writes: requests %d samples %d errors %d, want %d %d %d",
			total.Requests, total.Count(), total.Errors, writers*perWriter, writers*perWriter, writers*perWriter/10)
	}
}
