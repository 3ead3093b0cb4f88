package dataplane

import (
	"context"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
)

// localStore is the recorder's store in a gateway or experiments process:
// its recorder is a local view (metrics, spend) of outcomes the
// coordinators persist, so it neither loads nor writes measurement
// buckets. Everything else reads and writes through.
type localStore struct {
	coordination.Store
}

// InTx does nothing: the recorder's only transaction is its flush.
func (localStore) InTx(context.Context, func(context.Context, coordination.Tx) error) error {
	return nil
}

// MetricSeries reports no stored series, so that Load restores nothing.
func (localStore) MetricSeries(context.Context) ([]string, error) { return nil, nil }

// MetricBuckets reports no stored buckets.
func (localStore) MetricBuckets(context.Context, string, time.Time) ([]coordination.MetricBucket, error) {
	return nil, nil
}

// actingStore is the recorder's store in a coordinator process: every
// coordinator records every forwarded outcome, but only the acting one
// writes its buckets, in transactions fenced with its lease epoch, so that
// two coordinators never overwrite each other's buckets. A standby's flush
// writes nothing and reports success; once it acts, its next flush writes
// the buckets that changed since.
type actingStore struct {
	coordination.Store
	acting func() (int64, bool)
}

// InTx runs fn under the lease epoch while this process acts, and skips
// it otherwise.
func (s actingStore) InTx(ctx context.Context, fn func(context.Context, coordination.Tx) error) error {
	epoch, ok := s.acting()
	if !ok {
		return nil
	}
	return s.Store.InTx(coordination.WithEpoch(ctx, epoch), fn)
}
