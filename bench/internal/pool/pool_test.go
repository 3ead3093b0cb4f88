package pool

import (
	"sync/atomic"
	"testing"
)

func TestRunCallsEveryIndexOnce(t *testing.T) {
	t.Parallel()
	for _, workers := range []int{0, 1, 3, 64} {
		const n = 1000
		var calls [n]atomic.Int32
		Run(n, workers, func(i int) { calls[i].Add(1) })
		for i := range calls {
			if got := calls[i].Load(); got != 1 {
				t.Fatalf("workers=%d: index %d called %d times", workers, i, got)
			}
		}
	}
	Run(0, 4, func(int) { t.Fatal("called with n = 0") })
}
