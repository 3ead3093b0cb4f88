//go:build unix

package measure

import (
	"fmt"
	"syscall"
	"time"
)

// processCPU reads the process's user and system time with getrusage.
func (r *Recorder) processCPU() (CPUReading, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return CPUReading{}, fmt.Errorf("getrusage: %w", err)
	}
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return CPUReading{CPU: cpu, Wall: time.Since(r.start)}, nil
}
