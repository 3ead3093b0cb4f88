package measure_test

import (
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/coordination/coordinationtest"
	"github.com/tricyclehq/tricycle/internal/measure"
)

// t0 is on an hour boundary, so coarse buckets start at t0 + whole hours.
var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

type bundle struct {
	r     *measure.Recorder
	clock *coordinationtest.ManualClock
	store coordination.Store
	reg   *prometheus.Registry
	cpu   *fakeCPU
}

// fakeCPU is a scripted process CPU reader.
type fakeCPU struct {
	mu      sync.Mutex
	reading measure.CPUReading
}

func (f *fakeCPU) read() (measure.CPUReading, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reading, nil
}

// advance adds cpu of CPU time over wall of real time.
func (f *fakeCPU) advance(cpu, wall time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reading.CPU += cpu
	f.reading.Wall += wall
}

// setup builds a recorder on a memory store with a manual clock at t0, a
// private registry and a scripted CPU reader; nothing runs in the
// background.
func setup(t testing.TB, mutate ...func(*measure.Options)) *bundle {
	t.Helper()
	b := &bundle{clock: coordinationtest.NewManualClock(t0), store: coordination.NewMemoryStore(),
		reg: prometheus.NewRegistry(), cpu: &fakeCPU{}}
	opts := measure.Options{ReadCPU: b.cpu.read}
	for _, m := range mutate {
		m(&opts)
	}
	r, err := measure.New(b.store, b.clock, b.reg, opts)
	if err != nil {
		t.Fatal(err)
	}
	b.r = r
	t.Cleanup(func() { _ = b.store.Close() })
	return b
}

// reopen builds a second recorder over the same store, as after a restart.
func (b *bundle) reopen(t *testing.T) *measure.Recorder {
	t.Helper()
	r, err := measure.New(b.store, b.clock, nil, measure.Options{ReadCPU: b.cpu.read})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// ok returns a successful production-like outcome at at.
func ok(series string, at time.Time, latency time.Duration, cost float64) measure.Outcome {
	return measure.Outcome{At: at, Series: series, Variant: "baseline", Latency: latency,
		InputTokens: 1000, OutputTokens: 200, CostUSD: cost}
}

func failed(series string, at time.Time) measure.Outcome {
	o := ok(series, at, 500*time.Millisecond, 0.001)
	o.Error = true
	return o
}

func procs() int { return runtime.GOMAXPROCS(0) }
