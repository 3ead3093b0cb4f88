package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
)

// relayResult is what the outbox measurement found, in events per second.
type relayResult struct {
	name              string
	write, relay, e2e float64
}

// relay writes n events in n transactions over writers goroutines, then
// relays them with the coordinator's outbox relay while a subscriber counts
// them, and returns the rates.
func relay(ctx context.Context, st coordination.Store, bus coordination.Bus, n, writers int, log *slog.Logger) (relayResult, error) {
	c, err := coordination.NewLifecycleCoordinator(coordination.Options{Store: st, Bus: bus, Logger: log,
		Production: coordination.Variant{Name: "builtin", Provider: coordination.ProviderBuiltin}})
	if err != nil {
		return relayResult{}, err
	}
	const typ = "bench.outbox.event"
	var got atomic.Int64
	all := make(chan struct{})
	seen := sync.Map{}
	sub, err := bus.Subscribe(ctx, coordination.SubscribeOptions{Types: []string{typ}}, func(_ context.Context, ev coordination.Event) error {
		if _, dup := seen.LoadOrStore(ev.ID, true); !dup && got.Add(1) == int64(n) {
			close(all)
		}
		return nil
	})
	if err != nil {
		return relayResult{}, err
	}
	defer func() { _ = sub.Close() }()

	start := time.Now()
	var next atomic.Int64
	errs := make(chan error, writers)
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				ev, err := coordination.NewEvent(typ, fmt.Sprintf("subject-%d", i), time.Now(), map[string]int64{"i": i})
				if err == nil {
					err = st.InTx(ctx, func(ctx context.Context, tx coordination.Tx) error { return tx.OutboxAppend(ctx, ev) })
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return relayResult{}, fmt.Errorf("write: %w", err)
	}
	wrote := time.Since(start)

	rstart := time.Now()
	relayed := 0
	for relayed < n {
		k, err := c.RelayOnce(ctx)
		if err != nil {
			return relayResult{}, err
		}
		if k == 0 {
			return relayResult{}, fmt.Errorf("relay stalled at %d of %d events", relayed, n)
		}
		relayed += k
	}
	relayTime := time.Since(rstart)
	select {
	case <-all:
	case <-time.After(time.Minute):
		return relayResult{}, fmt.Errorf("the subscriber received %d of %d events", got.Load(), n)
	}
	total := time.Since(start)
	return relayResult{write: float64(n) / wrote.Seconds(), relay: float64(n) / relayTime.Seconds(),
		e2e: float64(n) / total.Seconds()}, nil
}
