package measure

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/internal/window"
)

// pendingPut is a coarse bucket being flushed.
type pendingPut struct {
	epoch int64
	b     coordination.MetricBucket
}

// Flush writes the coarse buckets changed since the last flush to the store
// in one transaction, and deletes stored buckets older than the coarse
// window. Series with no data left in the coarse window are forgotten. When
// the transaction fails the buckets stay marked and the next Flush writes
// them.
func (r *Recorder) Flush(ctx context.Context) error {
	r.sync()
	now := r.clock.Now()
	var puts []pendingPut
	r.mu.Lock()
	for name, s := range r.series {
		for i := range s.coarse.slots {
			b := &s.coarse.slots[i]
			if !b.dirty || b.epoch == noEpoch {
				continue
			}
			data, err := encodeBucket(&b.agg, &b.counts)
			if err != nil {
				r.mu.Unlock()
				return fmt.Errorf("flush metrics: series %q: %w", name, err)
			}
			b.dirty = false
			puts = append(puts, pendingPut{b.epoch, coordination.MetricBucket{Series: name, Start: s.coarse.startOf(b.epoch), Data: data}})
		}
		if s.coarse.latest == noEpoch || s.coarse.latest <= s.coarse.epochOf(now)-int64(len(s.coarse.slots)) {
			delete(r.series, name)
		}
	}
	r.mu.Unlock()
	slices.SortFunc(puts, func(a, b pendingPut) int { return a.b.Start.Compare(b.b.Start) })
	before := r.retentionStart(now)
	err := r.store.InTx(ctx, func(ctx context.Context, tx coordination.Tx) error {
		for _, p := range puts {
			if err := tx.MetricBucketPut(ctx, p.b, now); err != nil {
				return err
			}
		}
		_, err := tx.MetricBucketsDelete(ctx, before)
		return err
	})
	if err != nil {
		r.mu.Lock()
		for _, p := range puts {
			if s := r.series[p.b.Series]; s != nil {
				if b := &s.coarse.slots[slotIndex(s.coarse, p.epoch)]; b.epoch == p.epoch {
					b.dirty = true
				}
			}
		}
		r.mu.Unlock()
		return fmt.Errorf("flush metrics: %d buckets: %w", len(puts), err)
	}
	return nil
}

func slotIndex(g *ring, e int64) int {
	n := int64(len(g.slots))
	return int(((e % n) + n) % n)
}

// retentionStart is the start of the oldest coarse bucket still in the
// window at now.
func (r *Recorder) retentionStart(now time.Time) time.Time {
	g := ring{width: int64(r.opts.CoarseBucket), n: int64(r.opts.CoarseBuckets)}
	return g.startOf(g.epochOf(now) - g.n)
}

// Load restores the coarse window from the store, merging stored buckets
// into any recorded since the start. It runs once; later calls do nothing.
// A bucket that does not decode is skipped and reported in the returned
// error, after every other bucket is restored.
func (r *Recorder) Load(ctx context.Context) error {
	r.mu.RLock()
	done := r.loaded
	r.mu.RUnlock()
	if done {
		return nil
	}
	now := r.clock.Now()
	from := r.retentionStart(now)
	names, err := r.store.MetricSeries(ctx)
	if err != nil {
		return fmt.Errorf("load metrics: %w", err)
	}
	type restored struct {
		series string
		start  time.Time
		agg    *window.Aggregate
		counts Counts
	}
	var got []restored
	var errs []error
	for _, name := range names {
		bs, err := r.store.MetricBuckets(ctx, name, from)
		if err != nil {
			return fmt.Errorf("load metrics: %w", err)
		}
		for _, b := range bs {
			agg, c, err := decodeBucket(b.Data)
			if err != nil {
				errs = append(errs, fmt.Errorf("series %q bucket %s: %w", name, b.Start.Format(time.RFC3339), err))
				continue
			}
			got = append(got, restored{name, b.Start, agg, c})
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.loaded {
		return nil
	}
	r.loaded = true
	for _, g := range got {
		s := r.seriesLocked(g.series)
		if b := s.coarse.at(s.coarse.epochOf(g.start)); b != nil {
			b.agg.Merge(g.agg)
			b.counts.merge(&g.counts)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("load metrics: skipped undecodable buckets: %w", err)
	}
	return nil
}

// flushTimeout bounds the final flush when Run's context ends.
const flushTimeout = 10 * time.Second

// Run drains recorded outcomes into the windows and Prometheus (every
// DrainInterval, or sooner when a buffer fills half way), samples CPU every
// CPUInterval and flushes every FlushInterval, until ctx ends; it then
// drains and flushes a last time and returns that flush's error. Flush
// errors on the way are logged and retried at the next interval.
func (r *Recorder) Run(ctx context.Context) error {
	drain := time.NewTicker(r.opts.DrainInterval)
	defer drain.Stop()
	flush := time.NewTicker(r.opts.FlushInterval)
	defer flush.Stop()
	cpu := time.NewTicker(r.opts.CPUInterval)
	defer cpu.Stop()
	r.sampleCPU()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushTimeout)
			defer cancel()
			if err := r.Flush(fctx); err != nil {
				return fmt.Errorf("final flush: %w", err)
			}
			return nil
		case <-r.wake:
			r.sync()
		case <-drain.C:
			r.sync()
		case <-cpu.C:
			r.sampleCPU()
		case <-flush.C:
			if err := r.Flush(ctx); err != nil {
				r.opts.Logger.Error("flush metrics", "err", err)
			}
		}
	}
}

func (r *Recorder) sampleCPU() {
	if err := r.SampleCPU(); err != nil {
		r.opts.Logger.Debug("sample cpu", "err", err)
	}
}
