package measure

import (
	"math/bits"
	"math/rand/v2"
	"sync"
)

// intake is where Record leaves outcomes: a few independently locked
// buffers, so that concurrent reviews rarely contend, which the recorder
// drains into its windows. Record picks a buffer at random; order across
// buffers is not kept (windows do not need it).
type intake struct {
	shards []shard // len is a power of two
	mask   uint32
	size   int // capacity of each buffer
}

type shard struct {
	mu  sync.Mutex
	buf []Outcome // len ≤ cap == size; guarded by mu
	_   [64]byte  // keeps neighbouring shards off one cache line
}

func newIntake(shards, size int) *intake {
	n := 1 << bits.Len(uint(max(shards, 1)-1))
	in := &intake{shards: make([]shard, n), mask: uint32(n - 1), size: size}
	for i := range in.shards {
		in.shards[i].buf = make([]Outcome, 0, size)
	}
	return in
}

// put appends o to a buffer and reports whether there was room, and
// whether that buffer just became half full. It starts at a random buffer
// and tries the others when that one is full.
func (in *intake) put(o *Outcome) (ok, half bool) {
	start := rand.Uint32()
	for i := range uint32(len(in.shards)) {
		sh := &in.shards[(start+i)&in.mask]
		sh.mu.Lock()
		if n := len(sh.buf); n < in.size {
			sh.buf = append(sh.buf, *o)
			sh.mu.Unlock()
			return true, n+1 == in.size/2
		}
		sh.mu.Unlock()
	}
	return false, false
}

// swap exchanges shard i's buffer for spare (empty, capacity size) and
// returns the filled one.
func (in *intake) swap(i int, spare []Outcome) []Outcome {
	sh := &in.shards[i]
	sh.mu.Lock()
	full := sh.buf
	sh.buf = spare
	sh.mu.Unlock()
	return full
}
