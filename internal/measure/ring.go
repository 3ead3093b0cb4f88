package measure

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/tricyclehq/tricycle/coordination/decision"
	"github.com/tricyclehq/tricycle/internal/window"
)

// Counts are what a series keeps beside the window aggregate: finding
// counts against labels, agreement with V2 and user feedback.
type Counts struct {
	// TruePositives, FalsePositives and FalseNegatives count findings
	// against labels (golden probes).
	TruePositives, FalsePositives, FalseNegatives int64
	// Compared counts shadow results compared with V2 on the same request;
	// Agreed those that agreed.
	Compared, Agreed int64
	// Feedback counts user verdicts on findings, Accepted the acceptances
	// and Complaints the dismissals explained in words.
	Feedback, Accepted, Complaints int64
}

func (c *Counts) merge(o *Counts) {
	c.TruePositives += o.TruePositives
	c.FalsePositives += o.FalsePositives
	c.FalseNegatives += o.FalseNegatives
	c.Compared += o.Compared
	c.Agreed += o.Agreed
	c.Feedback += o.Feedback
	c.Accepted += o.Accepted
	c.Complaints += o.Complaints
}

// fields lists the counters in encoding order.
func (c *Counts) fields() []*int64 {
	return []*int64{&c.TruePositives, &c.FalsePositives, &c.FalseNegatives, &c.Compared, &c.Agreed,
		&c.Feedback, &c.Accepted, &c.Complaints}
}

// Stats summarise a series over a span. Aggregate is never nil.
type Stats struct {
	// Aggregate holds requests, errors, labelled checks, tokens, cost
	// moments and the latency sketch.
	Aggregate *window.Aggregate
	Counts
}

// Measured converts s for the evaluator; costCap is the fixed per-review
// cost bound (CostMax).
func (s Stats) Measured(costCap float64) decision.Measured {
	a := s.Aggregate
	m := decision.Measured{
		Requests: a.Requests, Errors: a.Errors, Labelled: a.Labelled, Correct: a.Correct,
		TruePositives: s.TruePositives, FalsePositives: s.FalsePositives, FalseNegatives: s.FalseNegatives,
		Feedback: s.Feedback, Accepted: s.Accepted, Compared: s.Compared, Agreed: s.Agreed,
		CostSum: a.CostSum, CostSumSq: a.CostSumSq, CostMax: costCap,
	}
	if a.Count() > 0 {
		m.Latency = a
	}
	return m
}

// bucket is one period of a ring.
type bucket struct {
	epoch  int64 // period index (start = epoch × width); noEpoch when empty
	agg    window.Aggregate
	counts Counts
	dirty  bool // changed since the last flush (coarse ring only)
}

// noEpoch marks an empty bucket.
const noEpoch = math.MinInt64

func (b *bucket) reset(epoch int64) {
	b.agg.Reset()
	b.counts = Counts{}
	b.epoch, b.dirty = epoch, false
}

func (b *bucket) add(o *Outcome) {
	b.agg.Add(o.observation())
	c := &b.counts
	c.TruePositives += int64(max(o.TP, 0))
	c.FalsePositives += int64(max(o.FP, 0))
	c.FalseNegatives += int64(max(o.FN, 0))
	if o.Compared {
		c.Compared++
		if o.Agreed {
			c.Agreed++
		}
	}
	b.dirty = true
}

// ring keeps buckets for the last width×n of time, like window.Window, and
// lets the recorder read and restore single buckets. It is guarded by the
// recorder's lock.
type ring struct {
	width  int64 // bucket width in nanoseconds; > 0
	n      int64 // buckets of span; len(slots) is n+1
	latest int64 // highest epoch stored; noEpoch before the first
	slots  []bucket
}

func newRing(width time.Duration, n int) *ring {
	r := &ring{width: int64(width), n: int64(n), latest: noEpoch, slots: make([]bucket, n+1)}
	for i := range r.slots {
		r.slots[i].epoch = noEpoch
	}
	return r
}

func (r *ring) span() time.Duration { return time.Duration(r.width * r.n) }

func (r *ring) epochOf(t time.Time) int64 { return floorDiv(t.UnixNano(), r.width) }

func (r *ring) startOf(epoch int64) time.Time { return time.Unix(0, epoch*r.width).UTC() }

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// at returns the bucket of period e, reset if its slot held an older
// period, or nil when e is too old for the ring.
func (r *ring) at(e int64) *bucket {
	if r.latest != noEpoch && e <= r.latest-int64(len(r.slots)) {
		return nil
	}
	r.latest = max(r.latest, e)
	n := int64(len(r.slots))
	b := &r.slots[((e%n)+n)%n]
	if b.epoch != e {
		b.reset(e)
	}
	return b
}

// each calls fn for every bucket overlapping (now−span, now], span capped at
// the ring's span, as window.Window.Aggregate selects them.
func (r *ring) each(now time.Time, span time.Duration, fn func(*bucket)) {
	if span <= 0 {
		return
	}
	span = min(span, r.span())
	hi := r.epochOf(now)
	lo := floorDiv(now.UnixNano()-int64(span), r.width)
	for i := range r.slots {
		if b := &r.slots[i]; b.epoch != noEpoch && b.epoch >= lo && b.epoch <= hi {
			fn(b)
		}
	}
}

// stats merges the buckets each selects.
func (r *ring) stats(now time.Time, span time.Duration) Stats {
	s := Stats{Aggregate: &window.Aggregate{}}
	r.each(now, span, func(b *bucket) {
		s.Aggregate.Merge(&b.agg)
		s.Counts.merge(&b.counts)
	})
	return s
}

// bucketFormat is the first byte of an encoded bucket; bump it when the
// layout changes.
const bucketFormat byte = 1

// encodeBucket encodes a bucket for the store: the format byte, the
// counters as varints, then the window aggregate's binary encoding.
func encodeBucket(agg *window.Aggregate, c *Counts) ([]byte, error) {
	tail, err := agg.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("encode bucket: %w", err)
	}
	out := make([]byte, 0, 1+8*binary.MaxVarintLen64+len(tail))
	out = append(out, bucketFormat)
	for _, f := range c.fields() {
		out = binary.AppendVarint(out, *f)
	}
	return append(out, tail...), nil
}

var errBucketCounts = errors.New("inconsistent counters")

// decodeBucket decodes what encodeBucket wrote and rejects data no
// sequence of outcomes could produce.
func decodeBucket(data []byte) (*window.Aggregate, Counts, error) {
	var c Counts
	if len(data) == 0 || data[0] != bucketFormat {
		return nil, c, fmt.Errorf("decode bucket: unknown format")
	}
	rest := data[1:]
	for _, f := range c.fields() {
		v, n := binary.Varint(rest)
		if n <= 0 {
			return nil, c, fmt.Errorf("decode bucket: truncated counters")
		}
		if v < 0 {
			return nil, c, fmt.Errorf("decode bucket: %w: negative counter", errBucketCounts)
		}
		*f, rest = v, rest[n:]
	}
	if c.Agreed > c.Compared || c.Accepted > c.Feedback || c.Complaints > c.Feedback {
		return nil, c, fmt.Errorf("decode bucket: %w", errBucketCounts)
	}
	agg := &window.Aggregate{}
	if err := agg.UnmarshalBinary(rest); err != nil {
		return nil, c, fmt.Errorf("decode bucket: %w", err)
	}
	return agg, c, nil
}
