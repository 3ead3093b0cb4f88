package measure

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/internal/window"
)

// Options configure a Recorder. Zero fields take the defaults named on each.
type Options struct {
	// FineBucket × FineBuckets is the fine window, read for health and short
	// canary spans (10 s × 60: ten minutes).
	FineBucket  time.Duration
	FineBuckets int
	// CoarseBucket × CoarseBuckets is the coarse window, read for
	// evaluations and persisted (1 h × 360: fifteen days).
	CoarseBucket  time.Duration
	CoarseBuckets int
	// CostCap bounds any one review's cost in dollars; it is the
	// evaluator's CostMax, fixed before the data arrive (default $1).
	CostCap float64
	// SlowThreshold is the latency above which a request counts as slow for
	// the SLO (default 3 s).
	SlowThreshold time.Duration
	// ActiveCanary returns the promotion request id of the canary taking
	// traffic, or "" when none; HealthMetrics reads it for target "canary".
	// Nil means no canary is ever reported.
	ActiveCanary func() string
	// FlushInterval is how often Run persists the coarse window (default 1 min).
	FlushInterval time.Duration
	// DrainInterval is how often Run moves recorded outcomes into the
	// windows and Prometheus (default 250 ms); reads always drain first.
	DrainInterval time.Duration
	// CPUInterval is how often Run samples the process's CPU time (default 10 s).
	CPUInterval time.Duration
	// ReadCPU reads the process's CPU time (default: getrusage where
	// available; elsewhere cpu_utilization is not reported).
	ReadCPU func() (CPUReading, error)
	// Shards and BufferSize shape the intake: Shards buffers (rounded up to
	// a power of two; default 2×GOMAXPROCS) of BufferSize outcomes each
	// (default 1024).
	Shards, BufferSize int
	// Logger receives flush errors from Run (default: discard).
	Logger *slog.Logger
}

func (o Options) withDefaults() (Options, error) {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&o.FineBucket, 10*time.Second)
	def(&o.CoarseBucket, time.Hour)
	def(&o.SlowThreshold, 3*time.Second)
	def(&o.FlushInterval, time.Minute)
	def(&o.DrainInterval, 250*time.Millisecond)
	def(&o.CPUInterval, 10*time.Second)
	if o.FineBuckets == 0 {
		o.FineBuckets = 60
	}
	if o.CoarseBuckets == 0 {
		o.CoarseBuckets = 24 * 15
	}
	if o.CostCap == 0 {
		o.CostCap = 1
	}
	if o.Shards == 0 {
		o.Shards = 2 * runtime.GOMAXPROCS(0)
	}
	if o.BufferSize == 0 {
		o.BufferSize = 1024
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	var errs []error
	for _, d := range []struct {
		name string
		d    time.Duration
	}{{"fine bucket", o.FineBucket}, {"coarse bucket", o.CoarseBucket}, {"slow threshold", o.SlowThreshold},
		{"flush interval", o.FlushInterval}, {"drain interval", o.DrainInterval}, {"cpu interval", o.CPUInterval}} {
		if d.d < 0 {
			errs = append(errs, fmt.Errorf("%s %s is negative", d.name, d.d))
		}
	}
	if o.FineBuckets < 0 || o.CoarseBuckets < 0 || o.Shards < 0 || o.BufferSize < 2 {
		errs = append(errs, fmt.Errorf("bucket counts, shards and buffer size must be positive (buffer size at least 2)"))
	}
	if !(o.CostCap > 0) {
		errs = append(errs, fmt.Errorf("cost cap %v must be a positive number", o.CostCap))
	}
	if o.FineBucket*time.Duration(o.FineBuckets) > o.CoarseBucket*time.Duration(o.CoarseBuckets) {
		errs = append(errs, errors.New("the fine window must not be longer than the coarse one"))
	}
	if err := errors.Join(errs...); err != nil {
		return o, fmt.Errorf("%w: measure options: %w", coordination.ErrInvalidInput, err)
	}
	return o, nil
}

// Recorder aggregates review outcomes per series in a fine and a coarse
// sliding window, persists the coarse one, feeds the coordinator's metric
// hooks and exports Prometheus metrics. It is safe for concurrent use.
type Recorder struct {
	store   coordination.Store // non-nil
	clock   coordination.Clock // non-nil
	opts    Options
	metrics *Metrics      // non-nil
	in      *intake       // non-nil
	wake    chan struct{} // buffered(1): an intake buffer is half full
	dropped atomic.Int64
	start   time.Time // real time at New, for the default CPU reader

	mu     sync.RWMutex // guards the fields below and every ring
	spare  []Outcome    // the empty buffer the next drain swaps in
	series map[string]*seriesState
	prom   map[promKey]*promChildren
	cpu    cpuRing
	loaded bool
}

// seriesState is one series' windows.
type seriesState struct {
	fine, coarse *ring // non-nil
}

// New returns a recorder over store (where Flush and Load persist the
// coarse window and Feedback reads feedback), reading time from clock (nil:
// the real clock) and registering its metrics with reg (nil: not
// registered). Nothing runs until Run.
func New(store coordination.Store, clock coordination.Clock, reg prometheus.Registerer, opts Options) (*Recorder, error) {
	if store == nil {
		return nil, fmt.Errorf("new recorder: %w: store is nil", coordination.ErrInvalidInput)
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("new recorder: %w", err)
	}
	if clock == nil {
		clock = coordination.RealClock()
	}
	m, err := NewMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("new recorder: %w", err)
	}
	r := &Recorder{store: store, clock: clock, opts: o, metrics: m, in: newIntake(o.Shards, o.BufferSize),
		wake: make(chan struct{}, 1), start: time.Now(), spare: make([]Outcome, 0, o.BufferSize),
		series: map[string]*seriesState{}, prom: map[promKey]*promChildren{}}
	if r.opts.ReadCPU == nil {
		r.opts.ReadCPU = r.processCPU
	}
	return r, nil
}

// Metrics returns the recorder's Prometheus metrics.
func (r *Recorder) Metrics() *Metrics { return r.metrics }

// ShadowDropped counts one shadow request the gateway dropped because its
// queue was full.
func (r *Recorder) ShadowDropped() { r.metrics.shadowDropped.Inc() }

// Dropped returns how many outcomes Record dropped because every buffer was
// full while another goroutine held the windows.
func (r *Recorder) Dropped() int64 { return r.dropped.Load() }

// Record takes one outcome; one without a Series is ignored. It never
// blocks: it copies o into a buffer that Run and every read drain into the
// windows. When every buffer is full it drains them itself unless another
// goroutine holds the windows (draining or reading) at that moment, in which
// case o is dropped and counted (Dropped, tricycle_measure_dropped_total).
func (r *Recorder) Record(o Outcome) {
	if o.At.IsZero() {
		o.At = r.clock.Now()
	}
	ok, half := r.in.put(&o)
	if ok {
		if half {
			select {
			case r.wake <- struct{}{}:
			default:
			}
		}
		return
	}
	if r.mu.TryLock() {
		r.drainLocked()
		r.mu.Unlock()
		if ok, _ = r.in.put(&o); ok {
			return
		}
	}
	r.dropped.Add(1)
	r.metrics.dropped.Inc()
}

// RecordFeedback counts a user's verdict on a finding of a review answered
// in series: accepted or not, and whether it was a complaint. It feeds
// acceptance_rate and accuracy_rate; a zero at means now.
func (r *Recorder) RecordFeedback(at time.Time, series, category string, accepted, complaint bool) {
	now := r.clock.Now()
	if at.IsZero() || at.After(now) {
		at = now
	}
	if series != "" {
		r.mu.Lock()
		s := r.seriesLocked(series)
		for _, g := range []*ring{s.fine, s.coarse} {
			b := g.at(g.epochOf(at))
			if b == nil {
				continue
			}
			b.counts.Feedback++
			if accepted {
				b.counts.Accepted++
			}
			if complaint {
				b.counts.Complaints++
			}
			b.dirty = true
		}
		r.mu.Unlock()
	}
	r.metrics.feedback(category, accepted, complaint)
}

// maxFuture is how far ahead of the clock an outcome may be dated; later
// ones are counted now, so that one skewed timestamp cannot age out the
// whole window.
const maxFuture = time.Minute

func (r *Recorder) seriesLocked(name string) *seriesState {
	s := r.series[name]
	if s == nil {
		s = &seriesState{fine: newRing(r.opts.FineBucket, r.opts.FineBuckets),
			coarse: newRing(r.opts.CoarseBucket, r.opts.CoarseBuckets)}
		r.series[name] = s
	}
	return s
}

// sync moves every recorded outcome into the windows.
func (r *Recorder) sync() {
	r.mu.Lock()
	r.drainLocked()
	r.mu.Unlock()
}

func (r *Recorder) drainLocked() {
	now := r.clock.Now()
	for i := range r.in.shards {
		batch := r.in.swap(i, r.spare)
		for j := range batch {
			r.applyLocked(&batch[j], now)
		}
		clear(batch)
		r.spare = batch[:0]
	}
}

func (r *Recorder) applyLocked(o *Outcome, now time.Time) {
	if o.Series == "" {
		return
	}
	at := o.At
	if at.After(now.Add(maxFuture)) {
		at = now
	}
	s := r.seriesLocked(o.Series)
	if b := s.fine.at(s.fine.epochOf(at)); b != nil {
		b.add(o)
	}
	if b := s.coarse.at(s.coarse.epochOf(at)); b != nil {
		b.add(o)
	}
	r.observeLocked(o)
}

// Series returns the name of every series held, sorted.
func (r *Recorder) Series() []string {
	r.sync()
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.series))
	for name := range r.series {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// Stats returns series' statistics over the span ending now, from the fine
// window when the span fits in it, else from the coarse one (spans beyond
// it are capped).
func (r *Recorder) Stats(series string, span time.Duration) Stats {
	r.sync()
	now := r.clock.Now()
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.statsLocked(now, series, span, false)
}

// statsLocked reads series over (now−span, now], from the coarse window when
// coarse is set or the span does not fit in the fine one.
func (r *Recorder) statsLocked(now time.Time, series string, span time.Duration, coarse bool) Stats {
	s := r.series[series]
	switch {
	case s == nil:
		return Stats{Aggregate: &window.Aggregate{}}
	case !coarse && span <= s.fine.span():
		return s.fine.stats(now, span)
	}
	return s.coarse.stats(now, span)
}

// spanSince is the span from since to now; a zero since means the whole
// coarse window.
func (r *Recorder) spanSince(now, since time.Time) time.Duration {
	if since.IsZero() {
		return r.opts.CoarseBucket * time.Duration(r.opts.CoarseBuckets)
	}
	return now.Sub(since)
}

// Spent returns the cost in dollars of experiment id's shadow reviews over
// the coarse window (which outlasts any evaluation period).
func (r *Recorder) Spent(experimentID string) float64 {
	r.sync()
	r.mu.RLock()
	defer r.mu.RUnlock()
	s := r.series[ExperimentSeries(experimentID)]
	if s == nil {
		return 0
	}
	sum := 0.0
	s.coarse.each(r.clock.Now(), s.coarse.span(), func(b *bucket) { sum += b.agg.CostSum })
	return sum
}
