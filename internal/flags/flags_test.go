package flags_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/internal/flags"
)

// keys returns n request-like keys.
func keys(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("org/repo-%d#%d", i%97, i)
	}
	return out
}

func TestEnabledShareMatchesPercent(t *testing.T) {
	t.Parallel()
	ks := keys(10000)
	for _, salt := range []string{"canary:prom-01", "shadow:exp-7", ""} {
		for _, pct := range []float64{0, 1, 5, 10, 25, 50, 90, 100} {
			f := flags.Flag{Name: "x", Percent: pct, Salt: salt}
			on := 0
			for _, k := range ks {
				if f.Enabled(k) {
					on++
				}
			}
			share := 100 * float64(on) / float64(len(ks))
			if math.Abs(share-pct) > 1.5 {
				t.Errorf("salt %q percent %v: %.2f%% of 10,000 keys enabled, want within 1.5 points", salt, pct, share)
			}
		}
	}
}

func TestBucketRangeAndStickiness(t *testing.T) {
	t.Parallel()
	for _, k := range keys(2000) {
		b := flags.Bucket("canary:prom-1", k)
		if b < 0 || b >= flags.Buckets {
			t.Fatalf("Bucket(%q) = %d, outside [0, %d)", k, b, flags.Buckets)
		}
		if again := flags.Bucket("canary:prom-1", k); again != b {
			t.Fatalf("Bucket(%q) = %d then %d: not sticky", k, b, again)
		}
	}
	// Known values pin the formula: a change would move live traffic.
	for _, tc := range []struct {
		salt, key string
		want      int
	}{{"", "", 2267}, {"canary:prom-1", "org/repo", 2638}, {"shadow:exp-1", "req-42", 9138}} {
		if got := flags.Bucket(tc.salt, tc.key); got != tc.want {
			t.Errorf("Bucket(%q, %q) = %d, want %d", tc.salt, tc.key, got, tc.want)
		}
	}
}

func TestSaltsSplitIndependently(t *testing.T) {
	t.Parallel()
	a := flags.Flag{Name: "a", Percent: 50, Salt: "shadow:exp-1"}
	b := flags.Flag{Name: "b", Percent: 50, Salt: "shadow:exp-2"}
	both := 0
	ks := keys(10000)
	for _, k := range ks {
		if a.Enabled(k) && b.Enabled(k) {
			both++
		}
	}
	// Independent halves overlap on about a quarter of the keys.
	if share := 100 * float64(both) / float64(len(ks)); math.Abs(share-25) > 1.5 {
		t.Errorf("two 50%% flags with different salts both enable %.2f%% of keys, want about 25%%", share)
	}
	// The separator keeps ("ab", "c") and ("a", "bc") apart.
	diff := 0
	for i := range 200 {
		if flags.Bucket(fmt.Sprint("ab", i), "c") != flags.Bucket("a", fmt.Sprint("b", i, "c")) {
			diff++
		}
	}
	if diff < 190 {
		t.Errorf("salt and key boundaries collide: only %d of 200 differ", diff)
	}
}

func TestKillSwitch(t *testing.T) {
	t.Parallel()
	f := flags.Flag{Name: flags.Canary, Percent: 100, Salt: "canary:p"}
	if !f.Enabled("k") {
		t.Fatal("a 100% flag is off")
	}
	f.Killed = true
	for _, k := range keys(500) {
		if f.Enabled(k) {
			t.Fatalf("killed flag enabled for %q", k)
		}
	}
	s, err := flags.NewSet(f)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Killed(flags.Canary) || s.Enabled(flags.Canary, "k") {
		t.Error("set does not report the kill switch")
	}
	if s.Killed(flags.Shadow) || s.Enabled(flags.Shadow, "k") {
		t.Error("an unknown flag must be neither killed nor enabled")
	}
}

// Raising Percent never turns an enabled key off.
func TestRaisingPercentIsMonotonic(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	ks := keys(3000)
	for range 200 {
		lo := rng.Float64() * 100
		hi := lo + rng.Float64()*(100-lo)
		salt := fmt.Sprint("canary:", rng.IntN(1000))
		low, high := flags.Flag{Name: "f", Percent: lo, Salt: salt}, flags.Flag{Name: "f", Percent: hi, Salt: salt}
		for _, k := range ks {
			if low.Enabled(k) && !high.Enabled(k) {
				t.Fatalf("key %q enabled at %v%% but not at %v%% (salt %q)", k, lo, hi, salt)
			}
		}
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		f    flags.Flag
		part string
	}{
		{flags.Flag{Name: "", Percent: 1}, "name"},
		{flags.Flag{Name: "a b", Percent: 1}, "name"},
		{flags.Flag{Name: "x", Percent: -1}, "percent"},
		{flags.Flag{Name: "x", Percent: 100.5}, "percent"},
		{flags.Flag{Name: "x", Percent: math.NaN()}, "percent"},
	} {
		err := tc.f.Validate()
		if !errors.Is(err, coordination.ErrInvalidInput) {
			t.Errorf("Validate(%+v) = %v, want ErrInvalidInput", tc.f, err)
		}
		var s flags.Set
		if err := s.Put(tc.f); err == nil || len(s.All()) != 0 {
			t.Errorf("Put(%+v) accepted an invalid flag", tc.f)
		}
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	store := coordination.NewMemoryStore()
	saved, err := flags.NewSet(
		flags.Flag{Name: flags.Canary, Percent: 10, Salt: "canary:prom-1"},
		flags.Flag{Name: flags.Shadow, Killed: true, Salt: "shadow:"})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := store.InTx(ctx, func(ctx context.Context, tx coordination.Tx) error { return saved.Save(ctx, tx, at) }); err != nil {
		t.Fatal(err)
	}
	loaded := &flags.Set{}
	if err := loaded.Load(ctx, store, flags.Canary, flags.Shadow, "absent"); err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(loaded.All()), fmt.Sprint(saved.All()); got != want {
		t.Errorf("loaded %s, want %s", got, want)
	}
	// A corrupt stored flag is refused and changes nothing.
	if err := store.InTx(ctx, func(ctx context.Context, tx coordination.Tx) error {
		return tx.KVPut(ctx, flags.Key("bad"), []byte(`{"name":"bad","percent":400}`), at)
	}); err != nil {
		t.Fatal(err)
	}
	fresh := &flags.Set{}
	if err := fresh.Load(ctx, store, flags.Canary, "bad"); !errors.Is(err, coordination.ErrInvalidInput) || len(fresh.All()) != 0 {
		t.Errorf("Load of a corrupt flag = %v with %d flags, want ErrInvalidInput and none", err, len(fresh.All()))
	}
}

// Readers never see a torn update while writers change flags.
func TestSetConcurrentReadsAndWrites(t *testing.T) {
	t.Parallel()
	var s flags.Set
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			for i := range 500 {
				_ = s.Put(flags.Flag{Name: fmt.Sprint("f", w), Percent: float64(i % 101)})
			}
		})
	}
	wg.Go(func() {
		for range 2000 {
			for _, f := range s.All() {
				if f.Validate() != nil {
					t.Errorf("read an invalid flag %+v", f)
					return
				}
			}
		}
	})
	wg.Wait()
	if n := len(s.All()); n != 2 {
		t.Errorf("after concurrent puts the set has %d flags, want 2", n)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"name":"canary","percent":10,"killed":false,"salt":"canary:p"}`))
	f.Add([]byte(`{"name":"x","percent":1e308}`))
	f.Add([]byte(`{"name":"","percent":-0}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fl, err := flags.Decode(data)
		if err != nil {
			if !errors.Is(err, coordination.ErrInvalidInput) {
				t.Fatalf("Decode error %v does not wrap ErrInvalidInput", err)
			}
			return
		}
		if fl.Validate() != nil || fl.Percent < 0 || fl.Percent > 100 {
			t.Fatalf("Decode accepted %+v", fl)
		}
	})
}

func FuzzBucket(f *testing.F) {
	f.Add("canary:prom-1", "org/repo")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, salt, key string) {
		b := flags.Bucket(salt, key)
		if b < 0 || b >= flags.Buckets || b != flags.Bucket(salt, key) {
			t.Fatalf("Bucket(%q, %q) = %d: out of range or not deterministic", salt, key, b)
		}
	})
}

func BenchmarkBucket(b *testing.B) {
	ks := keys(1024)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = flags.Bucket("canary:prom-01JQ3", ks[i%len(ks)])
	}
}

func BenchmarkSetEnabled(b *testing.B) {
	s, err := flags.NewSet(flags.Flag{Name: flags.Canary, Percent: 10, Salt: "canary:prom-01JQ3"},
		flags.Flag{Name: flags.Shadow, Percent: 5, Salt: "shadow:exp-1"})
	if err != nil {
		b.Fatal(err)
	}
	ks := keys(1024)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = s.Enabled(flags.Canary, ks[i%len(ks)])
	}
}
