//go:build !unix

package measure

import "errors"

// processCPU reports that process CPU time is not available here.
func (r *Recorder) processCPU() (CPUReading, error) {
	return CPUReading{}, errors.New("process CPU time is not available on this platform")
}
