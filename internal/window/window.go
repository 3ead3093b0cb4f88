package window

import (
	"fmt"
	"math"
	"sort"
	"sync"
	"time"
)

// noEpoch marks a bucket that has never held data.
const noEpoch = math.MinInt64

// Window keeps aggregates for a ring of fixed-width time buckets covering the
// last bucket×buckets of time. Bucket k holds observations made in
// [k×bucket, (k+1)×bucket) since the Unix epoch; a bucket is reset when an
// observation for a later period reuses its slot. The ring holds one bucket
// more than asked for, so a query spanning the whole window still has the
// partly covered oldest bucket. It is safe for concurrent use.
type Window struct {
	width int64 // bucket width in nanoseconds; > 0
	n     int64 // buckets asked for; len(buckets) is n+1

	mu      sync.Mutex
	latest  int64  // highest epoch observed, noEpoch before the first; guarded by mu
	buckets []slot // fixed length; guarded by mu
}

type slot struct {
	epoch int64 // period index of the data held; noEpoch when empty
	agg   Aggregate
}

// NewWindow returns an empty window of buckets buckets, each bucket wide. It
// panics if either is not positive.
func NewWindow(bucket time.Duration, buckets int) *Window {
	mustShape(bucket, buckets)
	w := &Window{width: int64(bucket), n: int64(buckets), latest: noEpoch, buckets: make([]slot, buckets+1)}
	for i := range w.buckets {
		w.buckets[i].epoch = noEpoch
	}
	return w
}

func mustShape(bucket time.Duration, buckets int) {
	if bucket <= 0 || buckets <= 0 {
		panic(fmt.Sprintf("window: bucket width %s and count %d must both be positive", bucket, buckets))
	}
	if int64(bucket) > math.MaxInt64/int64(buckets+1) {
		panic(fmt.Sprintf("window: %d buckets of %s overflow time.Duration", buckets, bucket))
	}
}

// Span returns the longest span the window retains: bucket width × buckets.
func (w *Window) Span() time.Duration {
	return time.Duration(w.width * w.n)
}

// epochOf returns the index of the period containing t.
func (w *Window) epochOf(t time.Time) int64 { return floorDiv(t.UnixNano(), w.width) }

// floorDiv divides rounding towards negative infinity.
func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// slot returns the ring position of epoch e.
func (w *Window) slotOf(e int64) *slot {
	n := int64(len(w.buckets))
	return &w.buckets[((e%n)+n)%n]
}

// Observe records o as made at now. Observations too old for the ring,
// measured from the latest observation, are dropped: only those in a bucket
// overlapping the window's Span before the latest are kept.
func (w *Window) Observe(now time.Time, o Observation) {
	e := w.epochOf(now)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.latest != noEpoch && e <= w.latest-int64(len(w.buckets)) {
		return
	}
	w.latest = max(w.latest, e)
	b := w.slotOf(e)
	if b.epoch != e {
		b.agg.Reset()
		b.epoch = e
	}
	b.agg.Add(o)
}

// Aggregate returns a new aggregate of the buckets overlapping (now−span,
// now]: every kept observation made in that interval, plus, at bucket
// granularity, up to one bucket's worth made just before now−span. span is
// capped at Span(); a non-positive span yields an empty aggregate. Buckets
// dated after now are left out.
func (w *Window) Aggregate(now time.Time, span time.Duration) *Aggregate {
	out := &Aggregate{}
	if span <= 0 {
		return out
	}
	span = min(span, w.Span())
	hi := w.epochOf(now)
	lo := floorDiv(now.UnixNano()-int64(span), w.width)
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := range w.buckets {
		b := &w.buckets[i]
		if b.epoch != noEpoch && b.epoch >= lo && b.epoch <= hi {
			out.Merge(&b.agg)
		}
	}
	return out
}

// Set keeps one Window per series name, created on first observation. It is
// safe for concurrent use.
type Set struct {
	bucket  time.Duration // > 0
	buckets int           // > 0

	mu      sync.RWMutex
	windows map[string]*Window // guarded by mu
}

// NewSet returns an empty set whose windows have buckets buckets, each bucket
// wide. It panics if either is not positive or
// their product overflows time.Duration.
func NewSet(bucket time.Duration, buckets int) *Set {
	mustShape(bucket, buckets)
	return &Set{bucket: bucket, buckets: buckets, windows: make(map[string]*Window)}
}

func (s *Set) window(series string) *Window {
	s.mu.RLock()
	w := s.windows[series]
	s.mu.RUnlock()
	return w
}

// Observe records o for series as made at now, creating the series' window
// if needed.
func (s *Set) Observe(now time.Time, series string, o Observation) {
	w := s.window(series)
	if w == nil {
		s.mu.Lock()
		if w = s.windows[series]; w == nil {
			w = NewWindow(s.bucket, s.buckets)
			s.windows[series] = w
		}
		s.mu.Unlock()
	}
	w.Observe(now, o)
}

// Aggregate returns series' aggregate over (now−span, now] as Window.Aggregate
// does; an unknown series yields an empty aggregate.
func (s *Set) Aggregate(now time.Time, series string, span time.Duration) *Aggregate {
	w := s.window(series)
	if w == nil {
		return &Aggregate{}
	}
	return w.Aggregate(now, span)
}

// Series returns the names of every series observed and not deleted, sorted.
func (s *Set) Series() []string {
	s.mu.RLock()
	out := make([]string, 0, len(s.windows))
	for name := range s.windows {
		out = append(out, name)
	}
	s.mu.RUnlock()
	sort.Strings(out)
	return out
}

// Delete forgets series, as when an experiment ends. It is a no-op for an
// unknown series.
func (s *Set) Delete(series string) {
	s.mu.Lock()
	delete(s.windows, series)
	s.mu.Unlock()
}
