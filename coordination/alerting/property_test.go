package alerting

import (
	"math/rand/v2"
	"testing"
	"time"
)

// FuzzEvaluatorLifecycle drives the evaluator with arbitrary values at
// non-decreasing times and checks the lifecycle invariants: per alert,
// transitions follow pending → (fired → resolved | cancelled) → pending…,
// an alert never fires before For has elapsed since ActiveAt, and it
// resolves only after RecoverFor on the good side of the band.
func FuzzEvaluatorLifecycle(f *testing.F) {
	for seed := range uint64(8) {
		rng := rand.New(rand.NewPCG(seed, 42))
		b := make([]byte, 3*64)
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		f.Add(b)
	}
	f.Add([]byte{10, 0, 200, 10, 0, 200, 70, 0, 200, 10, 0, 0, 130, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := DefaultConfig()
		cfg.For = 30 * time.Second
		cfg.RecoverFor = 45 * time.Second
		e, err := NewEvaluator(cfg)
		if err != nil {
			t.Fatal(err)
		}
		last := map[string]TransitionKind{}
		now := t0
		for i := 0; i+2 < len(data); i += 3 {
			now = now.Add(time.Duration(data[i]%40) * time.Second)
			target := TargetProduction
			if data[i+1]&1 == 1 {
				target = TargetCanary
			}
			values := map[string]float64{}
			v := float64(data[i+2]) / 255
			switch (data[i+1] >> 1) % 4 {
			case 0:
				values[MetricErrorRate] = v * 0.08
			case 1:
				values[MetricAccuracyRate] = 0.8 + v*0.2
			case 2:
				values[MetricLatencyP95] = v * 12
			case 3: // no data
			}
			for _, tr := range e.Eval(now, target, values) {
				checkTransition(t, cfg, last[tr.Alert.ID], tr, now)
				last[tr.Alert.ID] = tr.Kind
			}
		}
		for _, a := range e.Active() {
			want := map[TransitionKind]State{TransitionPending: Pending, TransitionFired: Firing}[last[a.ID]]
			if a.State != want {
				t.Fatalf("%s is %s but its last transition was %q", a.ID, a.State, last[a.ID])
			}
		}
	})
}

func checkTransition(t *testing.T, cfg Config, prev TransitionKind, tr Transition, now time.Time) {
	t.Helper()
	allowed := map[TransitionKind][]TransitionKind{
		"":                  {TransitionPending},
		TransitionPending:   {TransitionFired, TransitionCancelled},
		TransitionFired:     {TransitionResolved},
		TransitionResolved:  {TransitionPending},
		TransitionCancelled: {TransitionPending},
	}
	ok := false
	for _, k := range allowed[prev] {
		ok = ok || k == tr.Kind
	}
	if !ok {
		t.Fatalf("%s: %q after %q", tr.Alert.ID, tr.Kind, prev)
	}
	a := tr.Alert
	switch tr.Kind {
	case TransitionFired:
		if !a.FiredAt.Equal(now) || a.FiredAt.Sub(a.ActiveAt) < cfg.For {
			t.Fatalf("%s fired at %v, active since %v, For %v", a.ID, a.FiredAt, a.ActiveAt, cfg.For)
		}
		if a.State != Firing {
			t.Fatalf("%s fired but state %s", a.ID, a.State)
		}
	case TransitionResolved:
		th, _ := (&Evaluator{cfg: cfg}).threshold(a.Metric)
		if !th.Recovered(a.Value, a.Threshold, cfg.hysteresisFor(th)) {
			t.Fatalf("%s resolved at value %v outside the band around %v", a.ID, a.Value, a.Threshold)
		}
		if a.ResolvedAt.Sub(a.FiredAt) < cfg.RecoverFor {
			t.Fatalf("%s resolved %v after firing, RecoverFor %v", a.ID, a.ResolvedAt.Sub(a.FiredAt), cfg.RecoverFor)
		}
	}
}
