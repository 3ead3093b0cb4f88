package decision

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// aaWorld generates an A/A experiment: candidate and baseline draw every
// request from the same distribution.
//
//	error rate 2%, accuracy 90% (every request labelled),
//	latency 5*floor(500 U^2)/500 seconds, so p95 = 5*(ceil(500*0.95^2)-1)/500 = 4.51s,
//	cost 0.05 + 0.1 U^2 dollars (mean 0.0833, at most 0.15, cap 0.20).
type aaWorld struct {
	rng *rand.Rand
}

const (
	aaErrorRate   = 0.02
	aaAccuracy    = 0.90
	aaLatencyGrid = 500
	aaP95         = 4.51
	aaMeanCost    = 0.05 + 0.1/3
)

// arm accumulates one variant's measurements.
type arm struct {
	m   Measured
	lat *gridLatencies
}

func newArm() *arm {
	a := &arm{lat: &gridLatencies{step: 5.0 / aaLatencyGrid, counts: make([]int64, aaLatencyGrid)}}
	a.m.CostMax = 0.20
	return a
}

// observe adds one request.
func (w aaWorld) observe(a *arm) {
	a.m.Requests++
	if w.rng.Float64() < aaErrorRate {
		a.m.Errors++
	}
	a.m.Labelled++
	if w.rng.Float64() < aaAccuracy {
		a.m.Correct++
	}
	u := w.rng.Float64()
	a.lat.add(int(aaLatencyGrid * u * u))
	v := w.rng.Float64()
	cost := 0.05 + 0.1*v*v
	a.m.CostSum += cost
	a.m.CostSumSq += cost * cost
}

// measured returns a snapshot with the latency sketch attached.
func (a *arm) measured() Measured {
	m := a.m
	m.Latency = a.lat
	return m
}

// TestAAWrongDecisionRate runs A/A experiments, evaluates each 100 times as
// data accumulate and counts the runs that ever reach a wrong decision:
// QUARANTINE when every criterion truly holds, PROMOTE when every criterion
// is truly missed. Criteria sit just beside the true values, where wrong
// decisions are likeliest. The rate must be at most alpha = 5%; the
// sequences are conservative, so it is expected far below.
func TestAAWrongDecisionRate(t *testing.T) {
	t.Parallel()
	const looks, perLook, alpha = 100, 40, 0.05
	runs := 200
	if testing.Short() || raceEnabled {
		runs = 50
	}
	scenarios := []struct {
		name     string
		criteria map[string]string
		wrong    Decision
	}{
		{
			name: "criteria truly met",
			criteria: map[string]string{
				"accuracy": "> 88%", "error_rate": "< 3%",
				"latency_p95": fmt.Sprintf("< %.2fs", aaP95*1.04), "cost_per_review": fmt.Sprintf("< $%.3f", aaMeanCost*1.05),
			},
			wrong: Quarantine,
		},
		{
			name: "criteria truly missed",
			criteria: map[string]string{
				"accuracy": "> 92%", "error_rate": "< 1%",
				"latency_p95": fmt.Sprintf("< %.2fs", aaP95*0.96), "cost_per_review": fmt.Sprintf("< $%.3f", aaMeanCost*0.95),
			},
			wrong: Promote,
		},
	}
	for si, sc := range scenarios {
		cs := mustParseSet(t, sc.criteria)
		wrongRuns := 0
		decisive := 0
		for run := range runs {
			w := aaWorld{rng: rand.New(rand.NewPCG(uint64(si), uint64(run)))}
			cand, base := newArm(), newArm()
			everWrong, everDecisive := false, false
			for range looks {
				for range perLook {
					w.observe(cand)
					w.observe(base)
				}
				d := EvaluateSamples(cs, cand.measured(), base.measured(), DefaultSampleConfig()).Decision
				everWrong = everWrong || d == sc.wrong
				everDecisive = everDecisive || d != Hold
			}
			if everWrong {
				wrongRuns++
			}
			if everDecisive {
				decisive++
			}
		}
		rate := float64(wrongRuns) / float64(runs)
		t.Logf("%s: %d of %d runs ever reached a wrong %s over %d looks (%.1f%%); %d runs reached some decision",
			sc.name, wrongRuns, runs, sc.wrong, looks, 100*rate, decisive)
		if rate > alpha {
			t.Errorf("%s: wrong %s in %.1f%% of runs, want at most %.0f%%", sc.name, sc.wrong, 100*rate, 100*alpha)
		}
	}
}

// TestDecisionsReachedWithEnoughData checks that the sequences are not so
// wide that nothing is ever decided: a candidate clearly inside its
// criteria is promoted, and one clearly outside is quarantined, within the
// simulated evaluation period.
func TestDecisionsReachedWithEnoughData(t *testing.T) {
	t.Parallel()
	tests := []struct {
		criteria map[string]string
		want     Decision
	}{
		{map[string]string{"accuracy": "> 85%", "latency_p95": "< 5s", "cost_per_review": "< $0.10"}, Promote},
		{map[string]string{"accuracy": "> 95%", "latency_p95": "< 5s"}, Quarantine},
	}
	for i, tc := range tests {
		cs := mustParseSet(t, tc.criteria)
		w := aaWorld{rng: rand.New(rand.NewPCG(99, uint64(i)))}
		cand, base := newArm(), newArm()
		// The error-rate comparison needs the most data: equal 2% rates
		// and a 0.5-point margin.
		first := int64(math.MaxInt64)
		for look := range 200 {
			for range 500 {
				w.observe(cand)
				w.observe(base)
			}
			if EvaluateSamples(cs, cand.measured(), base.measured(), DefaultSampleConfig()).Decision == tc.want {
				first = int64(look+1) * 500
				break
			}
		}
		if first == math.MaxInt64 {
			t.Errorf("%v: never reached %s within 100000 requests per arm", tc.criteria, tc.want)
			continue
		}
		t.Logf("%v: %s after %d requests per arm", tc.criteria, tc.want, first)
	}
}
