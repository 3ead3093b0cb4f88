package bustest_test

import (
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/internal/bus/bustest"
)

// The in-process bus does not deduplicate publishes: the suite checks that
// it delivers a repeated event ID at least once and that consumers
// deduplicating by event ID handle it once.
func TestMemoryBus(t *testing.T) {
	t.Parallel()
	bustest.Run(t, func(*testing.T) coordination.Bus {
		return coordination.NewMemoryBus(coordination.MemoryBusOptions{RetryDelay: 10 * time.Millisecond})
	})
}

func BenchmarkMemoryBus(b *testing.B) {
	bus := coordination.NewMemoryBus(coordination.MemoryBusOptions{})
	defer func() { _ = bus.Close() }()
	bustest.Benchmark(b, bus)
}
