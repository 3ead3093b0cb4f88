package coordination

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/tricyclehq/tricycle/coordination/alerting"
	"github.com/tricyclehq/tricycle/internal/stats"
)

// Alert is a health alert (inactive → pending → firing → resolved).
type Alert = alerting.Alert

// Health monitor targets.
const (
	TargetProduction = "production"
	TargetCanary     = "canary"
)

// HealthSample is what the data plane measured for a target over a window.
// Values holds error_rate, latency_p95 (seconds), accuracy_rate and
// cpu_utilization (fractions); an absent metric means no data.
type HealthSample struct {
	Values       map[string]float64 `json:"values"`
	Requests     int64              `json:"requests"`
	Errors       int64              `json:"errors"`
	SlowRequests int64              `json:"slow_requests"`
	LatencyP95   float64            `json:"latency_p95"`
}

// HealthMetricsFunc returns the health sample of target ("production" or
// "canary") over the window ending now.
type HealthMetricsFunc func(ctx context.Context, target string, window time.Duration) (HealthSample, error)

// SLOCompliance is the SLO report: compliant or not, each SLO's value and
// target, and the error budget left.
type SLOCompliance struct {
	Compliant bool                          `json:"compliant"`
	Details   map[string]alerting.SLOResult `json:"details"`
	// BudgetRemaining is the smallest fraction of error budget left over the SLOs.
	BudgetRemaining float64   `json:"budget_remaining"`
	Window          Duration  `json:"window"`
	Requests        int64     `json:"requests"`
	At              time.Time `json:"at"`
}

// HealthReport says what one pass of HealthMonitor.RunOnce did.
type HealthReport struct {
	Fired       []string `json:"fired,omitempty"`
	Resolved    []string `json:"resolved,omitempty"`
	Remediation []string `json:"remediation,omitempty"`
}

// HealthMonitor watches V2 and any canary over sliding windows, fires and
// resolves alerts with hold times and hysteresis, and carries out
// auto-remediation: rollback on a critical error rate, scale up on critical
// latency or CPU.
type HealthMonitor struct {
	c      *LifecycleCoordinator // non-nil
	scaler Scaler                // non-nil

	mu        sync.Mutex // guards the fields below
	eval      *alerting.Evaluator
	restored  bool
	last      map[string]HealthSample
	lastScale time.Time
	cancel    context.CancelFunc
	done      chan struct{}
}

const (
	kvAlerts    = "health/alerts"
	kvLastScale = "health/last_scale"
)

func newHealthMonitor(c *LifecycleCoordinator, s Scaler) *HealthMonitor {
	ev, err := alerting.NewEvaluator(c.cfg.Health)
	if err != nil {
		// Config.Validate ran before: this cannot happen with a valid config.
		panic(fmt.Sprintf("health monitor: %v", err))
	}
	return &HealthMonitor{c: c, scaler: s, eval: ev, last: map[string]HealthSample{}}
}

// Start starts the monitor's own loop when the coordinator's loops are not
// running (the seed's monitor.start()); it is idempotent.
func (h *HealthMonitor) Start(ctx context.Context) error {
	h.c.mu.Lock()
	running := h.c.running
	h.c.mu.Unlock()
	h.mu.Lock()
	defer h.mu.Unlock()
	if running || h.cancel != nil {
		return nil
	}
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	h.cancel, h.done = cancel, make(chan struct{})
	go func() {
		defer close(h.done)
		t := time.NewTicker(h.c.opts.PollInterval)
		defer t.Stop()
		for {
			if _, err := h.RunOnce(lctx); err != nil && lctx.Err() == nil {
				h.c.log.Error("health monitor pass failed", "err", err)
			}
			select {
			case <-lctx.Done():
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return nil
}

func (h *HealthMonitor) stop() {
	h.mu.Lock()
	cancel, done := h.cancel, h.done
	h.cancel = nil
	h.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// restore loads the alert state once (caller holds mu).
func (h *HealthMonitor) restore(ctx context.Context) error {
	if h.restored {
		return nil
	}
	raw, err := h.c.store.KVGet(ctx, kvAlerts)
	switch {
	case errors.Is(err, ErrNotFound):
	case err != nil:
		return fmt.Errorf("load alert state: %w", err)
	default:
		var alerts []alerting.Alert
		if err := json.Unmarshal(raw, &alerts); err != nil {
			return fmt.Errorf("decode alert state: %w", err)
		}
		h.eval.Restore(alerts)
	}
	if raw, err := h.c.store.KVGet(ctx, kvLastScale); err == nil {
		_ = h.lastScale.UnmarshalText(raw) // a corrupt value only resets the cooldown
	}
	h.restored = true
	return nil
}

// RunOnce samples production (and the canary when one is in its phases),
// evaluates the alert rules at the clock's now, records fired and resolved
// alerts with their events, and carries out remediation.
func (h *HealthMonitor) RunOnce(ctx context.Context) (HealthReport, error) {
	var rep HealthReport
	if h.c.opts.HealthMetrics == nil {
		return rep, nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.restore(ctx); err != nil {
		return rep, err
	}
	now := h.c.clock.Now()
	targets := []string{TargetProduction}
	var transitions []alerting.Transition
	if canary, err := h.c.activeCanary(ctx); err != nil {
		return rep, err
	} else if canary != nil {
		targets = append(targets, TargetCanary)
	} else {
		// No canary any more: its alerts resolve (or are cancelled) with it.
		transitions = append(transitions, h.eval.Forget(now, TargetCanary)...)
	}
	for _, t := range targets {
		s, err := h.c.opts.HealthMetrics(ctx, t, h.c.cfg.HealthWindow.D())
		if err != nil {
			return rep, fmt.Errorf("health: sample %s: %w", t, err)
		}
		h.last[t] = s
		for _, tr := range h.eval.Eval(now, t, h.judged(s)) {
			tr.Alert = h.observed(tr.Alert)
			transitions = append(transitions, tr)
		}
	}
	var fired []alerting.Alert
	var changed bool
	for _, tr := range transitions {
		switch tr.Kind {
		case "fired":
			rep.Fired = append(rep.Fired, tr.Alert.ID)
			fired = append(fired, tr.Alert)
			changed = true
		case "resolved":
			rep.Resolved = append(rep.Resolved, tr.Alert.ID)
			changed = true
		default:
			changed = true
		}
	}
	if changed {
		if err := h.recordTransitions(ctx, transitions); err != nil {
			return rep, err
		}
	}
	// Remediation: on a fresh critical alert, and again for scale-ups while
	// a critical alert keeps firing past the cooldown.
	done := map[alerting.Remediation]bool{}
	for _, a := range fired {
		if a.Severity == "critical" && a.Remediation != "" && !done[a.Remediation] {
			done[a.Remediation] = true
			if r := h.remediate(ctx, a, now); r != "" {
				rep.Remediation = append(rep.Remediation, r)
			}
		}
	}
	if !done["scale_up"] {
		for _, a := range h.eval.Active() {
			if a.State == "firing" && a.Severity == "critical" && a.Remediation == "scale_up" {
				if r := h.remediate(ctx, a, now); r != "" {
					rep.Remediation = append(rep.Remediation, r)
				}
				break
			}
		}
	}
	return rep, nil
}

// recordTransitions stores the alert state and emits monitoring.alert for
// each fired alert and monitoring.recovery for each resolved one.
func (h *HealthMonitor) recordTransitions(ctx context.Context, trs []alerting.Transition) error {
	snap, err := json.Marshal(h.eval.Snapshot())
	if err != nil {
		return fmt.Errorf("encode alert state: %w", err)
	}
	actor := SystemActor("health-monitor")
	return h.c.tx(ctx, func(ctx context.Context, w *txw) error {
		if err := w.tx.KVPut(ctx, kvAlerts, snap, w.now); err != nil {
			return err
		}
		for _, tr := range trs {
			var typ, action string
			switch tr.Kind {
			case "fired":
				typ, action = EventMonitoringAlert, "monitoring.alert"
			case "resolved":
				typ, action = EventMonitoringRecovery, "monitoring.recovery"
			default:
				continue
			}
			if err := w.emit(typ, tr.Alert.ID, tr.Alert); err != nil {
				return err
			}
			if err := w.audit(actor, action, tr.Alert.ID, map[string]any{
				"value": tr.Alert.Value, "threshold": tr.Alert.Threshold, "severity": string(tr.Alert.Severity)}); err != nil {
				return err
			}
		}
		return nil
	})
}

// remediate carries out an alert's remediation and returns a description of
// what was done ("" when nothing was).
func (h *HealthMonitor) remediate(ctx context.Context, a alerting.Alert, now time.Time) string {
	actor := SystemActor("health-monitor")
	var desc string
	var err error
	switch a.Remediation {
	case "rollback":
		var id string
		id, err = h.c.rollbackLatest(ctx, actor, fmt.Sprintf("%s %s %.4g breached critical %.4g", a.Target, a.Metric, a.Value, a.Threshold), a)
		switch {
		case err != nil:
			desc = "rollback failed: " + err.Error()
		case id == "":
			desc = "rollback: nothing to roll back (no canary and no promotion within its rollback window)"
		default:
			desc = "rolled back promotion " + id
		}
	case "scale_up":
		if !h.lastScale.IsZero() && now.Sub(h.lastScale) < h.c.cfg.ScaleCooldown.D() {
			return ""
		}
		var cur int
		cur, err = h.scaler.Replicas(ctx)
		if err == nil {
			if cur >= h.c.cfg.MaxReplicas {
				if !h.lastScale.IsZero() && h.lastScale.Equal(now) {
					return ""
				}
				desc = fmt.Sprintf("scale up: already at the ceiling of %d replicas", h.c.cfg.MaxReplicas)
			} else {
				target := min(h.c.cfg.MaxReplicas, cur+max(1, cur/2))
				if err = h.scaler.Scale(ctx, target, a.ID); err == nil {
					desc = fmt.Sprintf("scaled gateway from %d to %d replicas", cur, target)
				} else {
					desc = "scale up failed: " + err.Error()
				}
			}
		} else {
			desc = "scale up failed: " + err.Error()
		}
		h.lastScale = now
	default:
		return ""
	}
	if err != nil {
		h.c.log.Error("auto-remediation failed", "alert", a.ID, "err", err)
	}
	stamp, _ := h.lastScale.MarshalText()
	txErr := h.c.tx(ctx, func(ctx context.Context, w *txw) error {
		if a.Remediation == "scale_up" {
			if err := w.tx.KVPut(ctx, kvLastScale, stamp, w.now); err != nil {
				return err
			}
		}
		data := map[string]any{"alert_id": a.ID, "action": string(a.Remediation), "result": desc,
			"metric": a.Metric, "value": a.Value, "target": a.Target, "ok": err == nil}
		if err := w.emit(EventAutoRemediation, a.ID, data); err != nil {
			return err
		}
		return w.audit(actor, "system.auto_remediation", a.ID, data)
	})
	if txErr != nil {
		h.c.log.Error("record auto-remediation", "alert", a.ID, "err", txErr)
	}
	return desc
}

// CalculateSLOCompliance reports production's SLO compliance over the
// configured SLO window.
func (h *HealthMonitor) CalculateSLOCompliance(ctx context.Context) (SLOCompliance, error) {
	if _, err := authorize(ctx, PermHealthRead, ""); err != nil {
		return SLOCompliance{}, fmt.Errorf("calculate SLO compliance: %w", err)
	}
	var s HealthSample
	if h.c.opts.HealthMetrics != nil {
		var err error
		if s, err = h.c.opts.HealthMetrics(ctx, TargetProduction, h.c.cfg.SLOWindow.D()); err != nil {
			return SLOCompliance{}, fmt.Errorf("calculate SLO compliance: %w", err)
		}
	}
	rep := alerting.ComputeSLO(h.c.cfg.SLO, h.c.cfg.SLOWindow.D(), alerting.SLOCounts{
		Requests: s.Requests, Errors: s.Errors, SlowRequests: s.SlowRequests, LatencyP95: s.LatencyP95})
	out := SLOCompliance{Compliant: rep.Compliant, Details: map[string]alerting.SLOResult{},
		BudgetRemaining: rep.BudgetRemaining, Window: h.c.cfg.SLOWindow, Requests: rep.Requests, At: h.c.clock.Now()}
	for _, d := range rep.Details {
		out.Details[d.Name] = d
	}
	return out, nil
}

// GetActiveAlerts returns pending and firing alerts, sorted by ID.
func (h *HealthMonitor) GetActiveAlerts(ctx context.Context) ([]Alert, error) {
	if _, err := authorize(ctx, PermHealthRead, ""); err != nil {
		return nil, fmt.Errorf("get active alerts: %w", err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.restore(ctx); err != nil {
		return nil, err
	}
	out := h.eval.Active()
	if out == nil {
		out = []Alert{}
	}
	for i := range out {
		out[i] = h.observed(out[i])
	}
	return out, nil
}

// LastSample returns the most recent sample of target, if any.
func (h *HealthMonitor) LastSample(target string) (HealthSample, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s, ok := h.last[target]
	return s, ok
}

// observed shows an alert with the value last observed for its metric
// (alerts are judged on HealthValues, e.g. the lower end of the error
// rate's interval; people read the measured rate). Caller holds mu.
func (h *HealthMonitor) observed(a alerting.Alert) alerting.Alert {
	if s, ok := h.last[a.Target]; ok {
		if v, ok := s.Values[a.Metric]; ok {
			a.Value = v
		}
	}
	return a
}

// judged returns the values of s the alert rules judge (see HealthValues).
func (h *HealthMonitor) judged(s HealthSample) map[string]float64 {
	return HealthValues(s, h.c.cfg.HealthMinRequests, h.c.cfg.Samples.Confidence)
}

// HealthValues returns the values of a health sample that the alert rules
// judge. With a known request count:
//   - below minRequests, the error rate and p95 latency are left out (no
//     data: alerts neither fire nor resolve on them) — at night one error
//     among a handful of requests is not an error spike;
//   - otherwise the error rate is the lower end of its two-sided confidence
//     interval at the given confidence (Wilson), so an alert fires only when
//     the window shows the rate above the threshold, not when sampling noise
//     at a few hundred requests does.
//
// Without a request count the values are used as they are.
func HealthValues(s HealthSample, minRequests int64, confidence float64) map[string]float64 {
	if s.Requests <= 0 {
		return s.Values
	}
	out := make(map[string]float64, len(s.Values))
	for k, v := range s.Values {
		out[k] = v
	}
	if s.Requests < minRequests {
		delete(out, "error_rate")
		delete(out, "latency_p95")
		return out
	}
	if rate, ok := out["error_rate"]; ok && rate >= 0 && rate <= 1 {
		// The interval around the reported rate over the window's requests.
		k := int64(math.Round(rate * float64(s.Requests)))
		out["error_rate"] = stats.FixedHorizonProportionCI(k, s.Requests, 1-confidence).Low
	}
	return out
}
