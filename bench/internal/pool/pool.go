// Package pool runs independent, indexed simulation runs on several
// goroutines. Each run writes only its own result slot, so results do not
// depend on the number of workers or on scheduling.
package pool

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Run calls fn(i) for every i in [0, n) on up to workers goroutines (at most
// GOMAXPROCS when workers <= 0) and returns when all calls have returned.
// fn must be safe to call concurrently for different i.
func Run(n, workers int, fn func(i int)) {
	if n <= 0 {
		return
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(i)
			}
		}()
	}
	wg.Wait()
}
