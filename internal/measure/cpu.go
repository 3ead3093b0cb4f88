package measure

import (
	"fmt"
	"runtime"
	"time"
)

// CPUReading is a cumulative reading of the process's CPU time (user and
// system, every thread) and of real time on a monotonic clock.
type CPUReading struct {
	CPU, Wall time.Duration
}

// cpuSample is a reading taken at a time of the recorder's clock.
type cpuSample struct {
	at time.Time
	r  CPUReading
}

// cpuSamples bounds the CPU history: at the default 10 s interval it
// covers 40 minutes.
const cpuSamples = 240

// cpuRing keeps the last cpuSamples readings, oldest first from next. It is
// guarded by the recorder's lock.
type cpuRing struct {
	samples [cpuSamples]cpuSample
	n, next int
	procs   int // GOMAXPROCS at the last sample
}

func (c *cpuRing) add(s cpuSample, procs int) {
	c.samples[c.next] = s
	c.next = (c.next + 1) % cpuSamples
	c.n = min(c.n+1, cpuSamples)
	c.procs = procs
}

// utilization returns the process's CPU use over the window ending now as
// a fraction of GOMAXPROCS cores: from the newest sample at or before
// now−window (or the oldest kept) to the newest at or before now. It reports
// false with fewer than two usable samples.
func (c *cpuRing) utilization(now time.Time, window time.Duration) (float64, bool) {
	var first, last *cpuSample
	from := now.Add(-window)
	for i := range c.n {
		s := &c.samples[(c.next-c.n+i+cpuSamples)%cpuSamples]
		if s.at.After(now) {
			break
		}
		if first == nil || !s.at.After(from) {
			first = s
		}
		last = s
	}
	if first == nil || last == first || last.r.Wall <= first.r.Wall || c.procs < 1 {
		return 0, false
	}
	u := float64(last.r.CPU-first.r.CPU) / float64(last.r.Wall-first.r.Wall) / float64(c.procs)
	return min(max(u, 0), 1), true
}

// SampleCPU reads the process's CPU time now; HealthMetrics reports
// cpu_utilization from these samples. Run calls it every CPUInterval.
func (r *Recorder) SampleCPU() error {
	reading, err := r.opts.ReadCPU()
	if err != nil {
		return fmt.Errorf("sample cpu: %w", err)
	}
	now := r.clock.Now()
	r.mu.Lock()
	r.cpu.add(cpuSample{at: now, r: reading}, runtime.GOMAXPROCS(0))
	r.mu.Unlock()
	return nil
}
