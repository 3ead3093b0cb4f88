package coordination_test

import (
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
)

func sample(errRate, p95 float64) coordination.HealthSample {
	return coordination.HealthSample{Values: map[string]float64{"error_rate": errRate, "latency_p95": p95},
		Requests: 1_000_000, Errors: int64(errRate * 1_000_000), LatencyP95: p95}
}

// TestAlertFiresAndRecoversWithHysteresis: a critical error rate fires after
// the hold time, triggers a rollback of the active canary, and recovers only
// once the value is back below the hysteresis band for the recovery time.
func TestAlertFiresAndRecoversWithHysteresis(t *testing.T) {
	t.Parallel()
	b := setup(t)
	exp, pr := b.promoted(t, candidate)
	if err := b.c.ApprovePromotion(b.ctx, pr.RequestID, "admin"); err != nil {
		t.Fatal(err)
	}
	b.src.set(func(f *fakeSource) {
		f.health["production"] = sample(0.001, 1)
		f.health["canary"] = sample(0.08, 1)
	})
	b.runOnce(t)
	if alerts, _ := b.c.Health().GetActiveAlerts(b.ctx); len(alerts) == 0 || alerts[0].State != "pending" {
		t.Fatalf("want pending alerts, got %+v", alerts)
	}
	if b.count(t, coordination.EventMonitoringAlert) != 0 {
		t.Fatal("fired before the hold time")
	}
	b.clock.Advance(61 * time.Second)
	rep := b.runOnce(t)
	if len(rep.Health.Fired) == 0 || len(rep.Health.Remediation) == 0 {
		t.Fatalf("health report %+v", rep.Health)
	}
	if p := b.promotion(t, pr.RequestID); p.State != coordination.PromotionRolledBack {
		t.Fatalf("canary not rolled back: %s", p.State)
	}
	if e := b.experiment(t, exp.ID); e.State != coordination.ExperimentQuarantined {
		t.Fatalf("experiment %s", e.State)
	}
	if b.count(t, coordination.EventAutoRemediation) != 1 {
		t.Errorf("auto_remediation events %d, want 1", b.count(t, coordination.EventAutoRemediation))
	}

	// Production now degrades: warning and critical on error rate.
	b.src.set(func(f *fakeSource) { f.health["production"] = sample(0.06, 1) })
	b.runOnce(t)
	b.clock.Advance(2 * time.Minute)
	b.runOnce(t)
	fired := b.count(t, coordination.EventMonitoringAlert)
	// 4.8% is under the critical 5% but inside the 10% hysteresis band (4.5%):
	// the critical alert must not resolve, however long it stays there.
	before := b.count(t, coordination.EventMonitoringRecovery)
	b.src.set(func(f *fakeSource) { f.health["production"] = sample(0.048, 1) })
	for range 5 {
		b.clock.Advance(time.Minute)
		b.runOnce(t)
	}
	if got := b.count(t, coordination.EventMonitoringRecovery); got != before {
		t.Fatalf("an alert recovered inside the hysteresis band (%d recoveries, %d before)", got, before)
	}
	b.src.set(func(f *fakeSource) { f.health["production"] = sample(0.001, 1) })
	b.clock.Advance(time.Minute)
	b.runOnce(t)
	if b.count(t, coordination.EventMonitoringRecovery) != before {
		t.Fatal("recovered before the recovery time")
	}
	b.clock.Advance(2 * time.Minute)
	b.runOnce(t)
	if got := b.count(t, coordination.EventMonitoringRecovery); got <= before {
		t.Fatalf("no recovery after the value went back under the band (fired %d)", fired)
	}
	if alerts, _ := b.c.Health().GetActiveAlerts(b.ctx); len(alerts) != 0 {
		t.Fatalf("alerts still active: %+v", alerts)
	}
}

// TestScaleUpHonoursCooldownAndCeiling: critical latency scales the gateway
// up, not again within the cooldown, and never past the ceiling.
func TestScaleUpHonoursCooldownAndCeiling(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *coordination.Options) { o.Config.MaxReplicas = 4 })
	b.src.set(func(f *fakeSource) { f.health["production"] = sample(0.001, 12) })
	b.runOnce(t)
	b.clock.Advance(61 * time.Second)
	b.runOnce(t)
	if got := b.scaler.calls; len(got) != 1 || got[0] != 3 {
		t.Fatalf("scale calls %v, want [3]", got)
	}
	b.clock.Advance(time.Minute)
	b.runOnce(t)
	if len(b.scaler.calls) != 1 {
		t.Fatalf("scaled again inside the cooldown: %v", b.scaler.calls)
	}
	for range 4 {
		b.clock.Advance(6 * time.Minute)
		b.runOnce(t)
	}
	if b.scaler.replicas != 4 {
		t.Fatalf("replicas %d, want the ceiling 4 (calls %v)", b.scaler.replicas, b.scaler.calls)
	}
	for _, n := range b.scaler.calls {
		if n > 4 {
			t.Fatalf("scaled past the ceiling: %v", b.scaler.calls)
		}
	}
}

// TestSLOCompliance reports value, target and error budget per SLO.
func TestSLOCompliance(t *testing.T) {
	t.Parallel()
	b := setup(t)
	slo, err := b.c.Health().CalculateSLOCompliance(b.ctx)
	if err != nil || !slo.Compliant || slo.BudgetRemaining != 1 {
		t.Fatalf("no traffic: %+v %v", slo, err)
	}
	b.src.set(func(f *fakeSource) {
		f.health["production"] = coordination.HealthSample{Requests: 1000, Errors: 30, SlowRequests: 10, LatencyP95: 2.1}
	})
	slo, err = b.c.Health().CalculateSLOCompliance(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	er := slo.Details["error_rate"]
	if slo.Compliant || er.Compliant || er.Value != 0.03 || er.Target != 0.02 {
		t.Fatalf("3%% errors must break the 2%% SLO: %+v", slo)
	}
	if d := er.BudgetRemaining - (-0.5); d > 1e-9 || d < -1e-9 {
		t.Errorf("error budget remaining %v, want -0.5", er.BudgetRemaining)
	}
	if lat := slo.Details["latency_p95"]; !lat.Compliant || lat.Value != 2.1 {
		t.Errorf("latency SLO %+v", lat)
	}
}

// TestFewRequestsAreNotJudged: one error among a handful of requests (a
// quiet night) is not an error spike; the same rate over enough requests is.
func TestFewRequestsAreNotJudged(t *testing.T) {
	t.Parallel()
	b := setup(t)
	quiet := coordination.HealthSample{Values: map[string]float64{"error_rate": 0.25, "latency_p95": 1}, Requests: 4, Errors: 1}
	b.src.set(func(f *fakeSource) { f.health["production"] = quiet })
	for range 5 {
		b.runOnce(t)
		b.clock.Advance(time.Minute)
	}
	if n := b.count(t, coordination.EventMonitoringAlert); n != 0 {
		t.Fatalf("%d alerts on 4 requests", n)
	}
	busy := quiet
	busy.Requests, busy.Errors = 400, 100
	b.src.set(func(f *fakeSource) { f.health["production"] = busy })
	for range 3 {
		b.runOnce(t)
		b.clock.Advance(time.Minute)
	}
	if n := b.count(t, coordination.EventMonitoringAlert); n == 0 {
		t.Fatal("no alert on a 25% error rate over 400 requests")
	}
}

// TestHealthValuesJudgeTheConfidenceBound: the error rate an alert judges is
// the lower end of its interval, so a few hundred requests at a rate near
// the threshold do not fire, while a clear breach does.
func TestHealthValuesJudgeTheConfidenceBound(t *testing.T) {
	t.Parallel()
	noisy := coordination.HealthSample{Values: map[string]float64{"error_rate": 18.0 / 300}, Requests: 300, Errors: 18}
	if v := coordination.HealthValues(noisy, 50, 0.95)["error_rate"]; v >= 0.05 {
		t.Errorf("6%% of 300 requests judged as %.4f: not shown above 5%%", v)
	}
	clear := coordination.HealthSample{Values: map[string]float64{"error_rate": 60.0 / 300}, Requests: 300, Errors: 60}
	if v := coordination.HealthValues(clear, 50, 0.95)["error_rate"]; v <= 0.05 {
		t.Errorf("20%% of 300 requests judged as %.4f", v)
	}
	few := coordination.HealthSample{Values: map[string]float64{"error_rate": 0.5, "latency_p95": 9, "cpu_utilization": 0.5}, Requests: 4, Errors: 2}
	got := coordination.HealthValues(few, 50, 0.95)
	if _, ok := got["error_rate"]; ok || got["cpu_utilization"] != 0.5 {
		t.Errorf("4 requests: %v (error rate and latency must be left out, cpu kept)", got)
	}
}
