package measure

import (
	"bytes"
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/internal/window"
)

// A bucket survives encoding, and decoding refuses what no sequence of
// outcomes produces.
func TestBucketEncoding(t *testing.T) {
	t.Parallel()
	var b bucket
	b.reset(1)
	for i := range 50 {
		b.add(&Outcome{Latency: time.Duration(100+i) * time.Millisecond, Error: i%7 == 0, CostUSD: 0.01,
			TP: 2, FP: i % 2, Compared: true, Agreed: i%3 == 0})
	}
	b.counts.Feedback, b.counts.Accepted, b.counts.Complaints = 4, 3, 1
	data, err := encodeBucket(&b.agg, &b.counts)
	if err != nil {
		t.Fatal(err)
	}
	agg, c, err := decodeBucket(data)
	if err != nil {
		t.Fatal(err)
	}
	if c != b.counts || agg.Requests != 50 || agg.Errors != 8 || agg.Quantile(0.5) != b.agg.Quantile(0.5) {
		t.Errorf("decoded %+v %+v, want %+v", c, agg, b.counts)
	}
	for name, bad := range map[string][]byte{
		"empty":          nil,
		"unknown format": append([]byte{9}, data[1:]...),
		"truncated":      data[:len(data)-1],
		"agreed > compared": func() []byte {
			x := Counts{Compared: 1, Agreed: 2}
			d, _ := encodeBucket(&window.Aggregate{}, &x)
			return d
		}(),
	} {
		if _, _, err := decodeBucket(bad); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
}

func FuzzDecodeBucket(f *testing.F) {
	var b bucket
	b.reset(0)
	b.add(&Outcome{Latency: time.Second, CostUSD: 0.5, TP: 1, Compared: true, Agreed: true, Labelled: true})
	good, err := encodeBucket(&b.agg, &b.counts)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte{bucketFormat})
	f.Add([]byte{bucketFormat, 0, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		agg, c, err := decodeBucket(data)
		if err != nil {
			return
		}
		again, err := encodeBucket(agg, &c)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		agg2, c2, err := decodeBucket(again)
		if err != nil || c2 != c || agg2.Requests != agg.Requests || agg2.Count() != agg.Count() {
			t.Fatalf("round trip changed the bucket: %v", err)
		}
		if again2, _ := encodeBucket(agg2, &c2); !bytes.Equal(again, again2) {
			t.Fatal("encoding is not stable")
		}
	})
}
