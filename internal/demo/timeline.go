package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/coordination/alerting"
)

// Lanes of the timeline: which part of the cycle a line is about.
const (
	laneV1   = "V1"
	laneV2   = "V2"
	laneV3   = "V3"
	laneMon  = "MON"
	laneDemo = "---"
)

// timeline prints the demo's story: lines the script writes and one line
// per cycle event. It is also the coordinator's bus: Publish prints the
// event at once, so the output follows commit order without waiting on a
// background delivery. Other subscribers are called synchronously too.
type timeline struct {
	w     io.Writer
	start time.Time           // day 0 00:00 of the simulation
	store coordination.Reader // non-nil; for details events only reference

	mu     sync.Mutex // guards the fields below
	subs   []*timelineSub
	closed bool
	counts map[string]int // events seen per type
	err    error          // first write error
}

type timelineSub struct {
	t    *timeline
	opts coordination.SubscribeOptions
	h    coordination.Handler
}

func (s *timelineSub) Close() error {
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	for i, x := range s.t.subs {
		if x == s {
			s.t.subs = append(s.t.subs[:i], s.t.subs[i+1:]...)
			break
		}
	}
	return nil
}

var _ coordination.Bus = (*timeline)(nil)

func newTimeline(w io.Writer, start time.Time, store coordination.Reader) *timeline {
	y, m, d := start.UTC().Date()
	return &timeline{w: w, start: time.Date(y, m, d, 0, 0, 0, 0, time.UTC), store: store, counts: map[string]int{}}
}

// Publish prints ev and hands it to the other subscribers.
func (t *timeline) Publish(ctx context.Context, ev coordination.Event) error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return coordination.ErrBusClosed
	}
	t.counts[ev.Type]++
	subs := append([]*timelineSub(nil), t.subs...)
	t.mu.Unlock()
	t.event(ctx, ev)
	for _, s := range subs {
		if s.opts.Matches(ev.Type) {
			if err := s.h(ctx, ev); err != nil {
				return fmt.Errorf("deliver %s to %s: %w", ev.Type, s.opts.Name, err)
			}
		}
	}
	return nil
}

// Subscribe adds a synchronous subscriber.
func (t *timeline) Subscribe(_ context.Context, opts coordination.SubscribeOptions, h coordination.Handler) (coordination.Subscription, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, coordination.ErrBusClosed
	}
	s := &timelineSub{t: t, opts: opts, h: h}
	t.subs = append(t.subs, s)
	return s, nil
}

// Close stops delivery.
func (t *timeline) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed, t.subs = true, nil
	return nil
}

// count returns how many events of typ were published.
func (t *timeline) count(typ string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.counts[typ]
}

// total returns how many events were published.
func (t *timeline) total() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, c := range t.counts {
		n += c
	}
	return n
}

// when formats a time as "day N HH:MM" from the start of the simulation.
func (t *timeline) when(at time.Time) string {
	d := at.UTC().Sub(t.start)
	day := int(d / (24 * time.Hour))
	rest := d - time.Duration(day)*24*time.Hour
	return fmt.Sprintf("day %2d %02d:%02d", day, int(rest/time.Hour), int(rest%time.Hour/time.Minute))
}

// line prints one timeline line.
func (t *timeline) line(at time.Time, lane, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	t.mu.Lock()
	if t.err == nil {
		_, t.err = fmt.Fprintf(t.w, "%s  %-3s  %s\n", t.when(at), lane, msg)
	}
	t.mu.Unlock()
}

// text prints a line without a time (headings, the summary).
func (t *timeline) text(format string, args ...any) {
	t.mu.Lock()
	if t.err == nil {
		_, t.err = fmt.Fprintf(t.w, format+"\n", args...)
	}
	t.mu.Unlock()
}

// writeErr returns the first error writing the output.
func (t *timeline) writeErr() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// event prints the line of one cycle event, reading details from the store
// where the event only names an object.
func (t *timeline) event(ctx context.Context, ev coordination.Event) {
	var d map[string]any
	_ = json.Unmarshal(ev.Data, &d) // events the cycle emits always carry an object
	str := func(k string) string { s, _ := d[k].(string); return s }
	num := func(k string) float64 { f, _ := d[k].(float64); return f }
	at := ev.Time
	switch ev.Type {
	case coordination.EventExperimentCreated:
		t.line(at, laneV1, "%s created: %q", ev.Subject, str("title"))
	case coordination.EventExperimentStarted:
		due := ""
		if s := str("evaluation_due"); s != "" {
			if tm, err := time.Parse(time.RFC3339Nano, s); err == nil {
				due = ", evaluation from " + t.when(tm)
			}
		}
		t.line(at, laneV1, "%s started on %g%% shadow traffic by %s%s", ev.Subject, num("shadow_percent"), str("approver"), due)
	case coordination.EventExperimentEvaluationCompleted:
		var x struct {
			Decision    string `json:"decision"`
			Explanation struct {
				Summary string `json:"summary"`
			} `json:"explanation"`
		}
		_ = json.Unmarshal(ev.Data, &x)
		t.line(at, laneV1, "%s evaluated: %s. %s", ev.Subject, x.Decision, oneLine(x.Explanation.Summary))
	case coordination.EventPromotionRequested:
		t.line(at, laneV2, "%s requested for %s (%s)", ev.Subject, str("experiment_id"), str("candidate"))
		if p, err := t.store.PromotionGet(ctx, ev.Subject); err == nil && len(p.Validation) > 0 {
			var checks []string
			for _, c := range p.Validation {
				mark := "passed"
				switch {
				case !c.Passed:
					mark = "FAILED: " + c.Message
				case strings.HasPrefix(c.Message, "skipped"):
					mark = "skipped"
				}
				checks = append(checks, c.Name+" "+mark)
			}
			t.line(at, laneV2, "%s validation: %s → %s", ev.Subject, strings.Join(checks, ", "), p.State)
		}
	case coordination.EventPromotionApproved:
		t.line(at, laneV2, "%s approved by %s: the canary starts", ev.Subject, str("approver"))
	case coordination.EventPromotionPhaseChanged:
		state := str("state")
		if n := coordination.PromotionState(state).Phase(); n > 0 {
			due := ""
			if s := str("phase_due_at"); s != "" {
				if tm, err := time.Parse(time.RFC3339Nano, s); err == nil {
					due = " until " + t.when(tm)
				}
			}
			t.line(at, laneV2, "%s phase %d: %s takes %g%% of user traffic%s", ev.Subject, n, str("candidate"), num("traffic_percent"), due)
		} else {
			t.line(at, laneV2, "%s %s", ev.Subject, state)
		}
	case coordination.EventPromotionCompleted:
		t.line(at, laneV2, "%s completed: %s is the new production release %s; release %s archived",
			ev.Subject, str("candidate"), str("release_id"), str("archived_release_id"))
	case coordination.EventPromotionRollback:
		t.line(at, laneV2, "%s ROLLED BACK from %s: 100%% of traffic back on release %s (%s)",
			ev.Subject, str("from_state"), str("restored_release_id"), str("reason"))
	case coordination.EventQuarantineCompleted:
		var rc coordination.RootCause
		if raw, ok := d["root_cause"]; ok {
			b, _ := json.Marshal(raw)
			_ = json.Unmarshal(b, &rc)
		}
		t.line(at, laneV3, "%s quarantined as %s (%s); root cause %s: %s (confidence %.0f%%); next review %s",
			str("experiment_id"), ev.Subject, str("failure_type"), rc.Category, rc.Summary, 100*rc.Confidence,
			t.when(parseTime(str("next_review_at"))))
	case coordination.EventQuarantineReviewed:
		t.line(at, laneV3, "%s reviewed by %s (retry approved: %v)", ev.Subject, str("reviewer"), d["retry_approved"])
	case coordination.EventMonitoringAlert:
		var a alerting.Alert
		_ = json.Unmarshal(ev.Data, &a)
		t.line(at, laneMon, "%s alert %s: %s %s threshold %s", strings.ToUpper(string(a.Severity)), a.ID,
			metricValue(a.Metric, a.Value), comparison(a.Metric), metricValue(a.Metric, a.Threshold))
	case coordination.EventMonitoringRecovery:
		var a alerting.Alert
		_ = json.Unmarshal(ev.Data, &a)
		t.line(at, laneMon, "resolved %s (last value %s)", a.ID, metricValue(a.Metric, a.Value))
	case coordination.EventAutoRemediation:
		t.line(at, laneMon, "auto-remediation (%s) for %s: %s", str("action"), str("alert_id"), str("result"))
	}
}

func parseTime(s string) time.Time {
	tm, _ := time.Parse(time.RFC3339Nano, s)
	return tm
}

// metricValue formats a health metric in its natural unit.
func metricValue(metric string, v float64) string {
	if strings.HasPrefix(metric, "latency") {
		return fmt.Sprintf("%.2fs", v)
	}
	return fmt.Sprintf("%.1f%%", 100*v)
}

// comparison says on which side of its threshold a metric breaches.
func comparison(metric string) string {
	if metric == "accuracy_rate" {
		return "below"
	}
	return "above"
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
