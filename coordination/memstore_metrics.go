package coordination

import (
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// The memory store keeps metric buckets and feedback in its key-value table,
// under keys that start with a NUL byte, so that they commit and roll back
// with the rest of a transaction. Each series is one entry holding its
// buckets in start order; each feedback is one entry holding its JSON.
const (
	memMetricPrefix   = "\x00metrics\x00"
	memFeedbackPrefix = "\x00feedback\x00"
)

// kvRead returns the value under key as the view sees it.
func (v memView) kvRead(key string) ([]byte, bool, error) {
	if v.t != nil {
		if v.t.done {
			return nil, false, errMemTxDone
		}
		if b, ok := v.t.kv[key]; ok {
			return b, true, nil
		}
	}
	v.s.mu.RLock()
	defer v.s.mu.RUnlock()
	b, ok := v.s.kv[key]
	return b, ok, nil
}

// kvScan calls fn for every key with prefix (without the prefix) and its
// value as the view sees it, in no particular order.
func (v memView) kvScan(prefix string, fn func(name string, value []byte) error) error {
	var over map[string][]byte
	if v.t != nil {
		if v.t.done {
			return errMemTxDone
		}
		over = v.t.kv
	}
	type entry struct {
		name  string
		value []byte
	}
	var found []entry
	v.s.mu.RLock()
	for k, b := range v.s.kv {
		if _, shadowed := over[k]; !shadowed && strings.HasPrefix(k, prefix) {
			found = append(found, entry{k[len(prefix):], b})
		}
	}
	v.s.mu.RUnlock()
	for k, b := range over {
		if strings.HasPrefix(k, prefix) {
			found = append(found, entry{k[len(prefix):], b})
		}
	}
	for _, e := range found {
		if err := fn(e.name, e.value); err != nil {
			return err
		}
	}
	return nil
}

// memEncodeBuckets encodes buckets (sorted by Start) as (seconds, nanoseconds,
// length, data) tuples.
func memEncodeBuckets(bs []MetricBucket) []byte {
	var out []byte
	for _, b := range bs {
		out = binary.AppendVarint(out, b.Start.Unix())
		out = binary.AppendUvarint(out, uint64(b.Start.Nanosecond()))
		out = binary.AppendUvarint(out, uint64(len(b.Data)))
		out = append(out, b.Data...)
	}
	return out
}

var errMemBuckets = errors.New("corrupt metric buckets")

// memDecodeBuckets decodes what memEncodeBuckets wrote; every Data is a copy.
func memDecodeBuckets(series string, raw []byte) ([]MetricBucket, error) {
	var out []MetricBucket
	for len(raw) > 0 {
		sec, n1 := binary.Varint(raw)
		if n1 <= 0 {
			return nil, fmt.Errorf("decode metric series %q: %w", series, errMemBuckets)
		}
		nsec, n2 := binary.Uvarint(raw[n1:])
		if n2 <= 0 || nsec >= 1e9 {
			return nil, fmt.Errorf("decode metric series %q: %w", series, errMemBuckets)
		}
		size, n3 := binary.Uvarint(raw[n1+n2:])
		raw = raw[max(0, n1+n2+n3):]
		if n3 <= 0 || size > uint64(len(raw)) {
			return nil, fmt.Errorf("decode metric series %q: %w", series, errMemBuckets)
		}
		out = append(out, MetricBucket{Series: series, Start: time.Unix(sec, int64(nsec)).UTC(),
			Data: append([]byte{}, raw[:size]...)})
		raw = raw[size:]
	}
	return out, nil
}

func (v memView) memBuckets(series string) ([]MetricBucket, error) {
	raw, _, err := v.kvRead(memMetricPrefix + series)
	if err != nil {
		return nil, err
	}
	return memDecodeBuckets(series, raw)
}

// MetricBuckets returns series' buckets starting at or after from, oldest first.
func (v memView) MetricBuckets(_ context.Context, series string, from time.Time) ([]MetricBucket, error) {
	all, err := v.memBuckets(series)
	if err != nil {
		return nil, fmt.Errorf("list metric buckets of %q: %w", series, err)
	}
	out := []MetricBucket{}
	for _, b := range all {
		if !b.Start.Before(from) {
			out = append(out, b)
		}
	}
	return out, nil
}

// MetricSeries returns every series with a stored bucket, sorted.
func (v memView) MetricSeries(_ context.Context) ([]string, error) {
	out := []string{}
	err := v.kvScan(memMetricPrefix, func(name string, value []byte) error {
		if len(value) > 0 {
			out = append(out, name)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list metric series: %w", err)
	}
	slices.Sort(out)
	return out, nil
}

// MetricBucketPut stores b over the bucket with the same series and start.
func (t *memTx) MetricBucketPut(_ context.Context, b MetricBucket, _ time.Time) error {
	if err := ValidMetricSeries(b.Series); err != nil {
		return fmt.Errorf("put metric bucket: %w", err)
	}
	all, err := t.memBuckets(b.Series)
	if err != nil {
		return fmt.Errorf("put metric bucket %q at %s: %w", b.Series, b.Start.Format(time.RFC3339), err)
	}
	nb := MetricBucket{Series: b.Series, Start: b.Start.UTC(), Data: append([]byte{}, b.Data...)}
	i, found := slices.BinarySearchFunc(all, nb.Start, func(x MetricBucket, at time.Time) int { return x.Start.Compare(at) })
	if found {
		all[i] = nb
	} else {
		all = slices.Insert(all, i, nb)
	}
	t.kv[memMetricPrefix+b.Series] = memEncodeBuckets(all)
	return nil
}

// MetricBucketsDelete removes every bucket starting before before.
func (t *memTx) MetricBucketsDelete(_ context.Context, before time.Time) (int, error) {
	removed := 0
	kept := map[string][]byte{}
	err := t.kvScan(memMetricPrefix, func(name string, value []byte) error {
		all, err := memDecodeBuckets(name, value)
		if err != nil {
			return err
		}
		n := len(all)
		all = slices.DeleteFunc(all, func(b MetricBucket) bool { return b.Start.Before(before) })
		if len(all) < n {
			removed += n - len(all)
			kept[name] = memEncodeBuckets(all)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("delete metric buckets before %s: %w", before.Format(time.RFC3339), err)
	}
	for name, value := range kept {
		t.kv[memMetricPrefix+name] = value
	}
	return removed, nil
}

// FeedbackInsert stores f; its ID must be new.
func (t *memTx) FeedbackInsert(_ context.Context, f *FindingFeedback) error {
	if err := f.Validate(); err != nil {
		return fmt.Errorf("insert: %w", err)
	}
	_, exists, err := t.kvRead(memFeedbackPrefix + f.ID)
	if err != nil {
		return fmt.Errorf("insert feedback %q: %w", f.ID, err)
	}
	if exists {
		return fmt.Errorf("insert feedback %q: already exists: %w", f.ID, ErrConflict)
	}
	data, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("insert feedback %q: encode: %w", f.ID, err)
	}
	t.kv[memFeedbackPrefix+f.ID] = data
	return nil
}

// FeedbackSince returns the feedback given at or after since, oldest first.
func (v memView) FeedbackSince(_ context.Context, since time.Time) ([]*FindingFeedback, error) {
	out := []*FindingFeedback{}
	err := v.kvScan(memFeedbackPrefix, func(id string, value []byte) error {
		var f FindingFeedback
		if err := json.Unmarshal(value, &f); err != nil {
			return fmt.Errorf("decode feedback %q: %w", id, err)
		}
		if !f.At.Before(since) {
			out = append(out, &f)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list feedback: %w", err)
	}
	slices.SortFunc(out, func(a, b *FindingFeedback) int { return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.ID, b.ID)) })
	return out, nil
}
