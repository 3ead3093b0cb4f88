package window

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// aggregateFormat is the first byte of an encoded Aggregate; bump it when the
// layout changes.
const aggregateFormat byte = 1

// MarshalBinary encodes a for persistence: a format byte, the six counters
// as zig-zag varints, the three cost figures as little-endian float64s, then
// the latency sketch as a bin count followed by (index delta, count) varint
// pairs in increasing index order.
func (a *Aggregate) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, 64)
	b = append(b, aggregateFormat)
	for _, v := range []int64{a.Requests, a.Errors, a.Labelled, a.Correct, a.InputTokens, a.OutputTokens} {
		b = binary.AppendVarint(b, v)
	}
	for _, f := range []float64{a.CostSum, a.CostSumSq, a.CostMax} {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
	}
	var bins [][2]int64
	if a.latency != nil {
		a.latency.GetPositiveValueStore().ForEach(func(index int, count float64) bool {
			bins = append(bins, [2]int64{int64(index), int64(math.Round(count))})
			return false
		})
	}
	b = binary.AppendUvarint(b, uint64(len(bins)))
	prev := int64(0)
	for _, bin := range bins {
		b = binary.AppendVarint(b, bin[0]-prev)
		b = binary.AppendUvarint(b, uint64(bin[1]))
		prev = bin[0]
	}
	return b, nil
}

// UnmarshalBinary replaces a with the aggregate encoded in data by
// MarshalBinary. It rejects truncated, trailing or inconsistent data (such
// as more errors than requests) and leaves a unchanged on error.
func (a *Aggregate) UnmarshalBinary(data []byte) error {
	d := decoder{b: data}
	if format := d.byte(); d.err == nil && format != aggregateFormat {
		return fmt.Errorf("decode aggregate: unknown format %d", format)
	}
	var out Aggregate
	for _, p := range []*int64{&out.Requests, &out.Errors, &out.Labelled, &out.Correct, &out.InputTokens, &out.OutputTokens} {
		*p = d.varint()
	}
	for _, p := range []*float64{&out.CostSum, &out.CostSumSq, &out.CostMax} {
		*p = d.float64()
	}
	nbins := d.uvarint()
	if d.err == nil && nbins > maxSketchBins {
		return fmt.Errorf("decode aggregate: %d latency bins exceeds the limit of %d", nbins, maxSketchBins)
	}
	if nbins > 0 && d.err == nil {
		out.latency = newSketch()
		lo, hi := out.latency.Index(minLatencySeconds), out.latency.Index(maxLatencySeconds)
		st := out.latency.GetPositiveValueStore()
		index := int64(0)
		var total uint64
		for i := uint64(0); i < nbins && d.err == nil; i++ {
			delta, count := d.varint(), d.uvarint()
			if d.err != nil {
				break
			}
			if i > 0 && delta <= 0 {
				return fmt.Errorf("decode aggregate: latency bin %d: indexes not increasing", i)
			}
			index += delta
			if index < int64(lo) || index > int64(hi) {
				return fmt.Errorf("decode aggregate: latency bin %d: index %d outside [%d, %d]", i, index, lo, hi)
			}
			if count == 0 || count > math.MaxInt64-total {
				return fmt.Errorf("decode aggregate: latency bin %d: invalid count %d", i, count)
			}
			total += count
			st.AddWithCount(int(index), float64(count))
		}
	}
	if d.err != nil {
		return fmt.Errorf("decode aggregate: %w", d.err)
	}
	if len(d.b) != 0 {
		return fmt.Errorf("decode aggregate: %d trailing bytes", len(d.b))
	}
	if err := out.check(); err != nil {
		return fmt.Errorf("decode aggregate: %w", err)
	}
	*a = out
	return nil
}

// Latency bounds in seconds: one nanosecond to the largest time.Duration.
const (
	minLatencySeconds = 1e-9
	maxLatencySeconds = float64(math.MaxInt64) / 1e9
)

// check reports counters that cannot come from a sequence of Add calls.
func (a *Aggregate) check() error {
	switch {
	case a.Requests < 0 || a.Errors < 0 || a.Labelled < 0 || a.Correct < 0:
		return errors.New("negative counter")
	case a.Errors > a.Requests:
		return fmt.Errorf("%d errors exceed %d requests", a.Errors, a.Requests)
	case a.Labelled > a.Requests:
		return fmt.Errorf("%d labelled checks exceed %d requests", a.Labelled, a.Requests)
	case a.Correct > a.Labelled:
		return fmt.Errorf("%d correct checks exceed %d labelled", a.Correct, a.Labelled)
	case a.Count() > a.Requests:
		return fmt.Errorf("%d latency samples exceed %d requests", a.Count(), a.Requests)
	}
	for _, f := range []float64{a.CostSum, a.CostSumSq, a.CostMax} {
		if math.IsNaN(f) || f < 0 {
			return fmt.Errorf("invalid cost figure %v", f)
		}
	}
	return nil
}

// decoder reads varints and floats, remembering the first error.
type decoder struct {
	b   []byte
	err error
}

var errTruncated = errors.New("truncated data")

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.err = errTruncated
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errTruncated
		if n < 0 {
			d.err = errors.New("varint overflows 64 bits")
		}
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errTruncated
		if n < 0 {
			d.err = errors.New("varint overflows 64 bits")
		}
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) float64() float64 {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 8 {
		d.err = errTruncated
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
	d.b = d.b[8:]
	return v
}
