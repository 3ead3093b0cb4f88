package promsource

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/coordination/decision"
)

// Defaults of Options.
const (
	// DefaultTimeout bounds one query.
	DefaultTimeout = 5 * time.Second
	// DefaultWindow is the shortest range a query covers: two scrapes at
	// Prometheus's usual 15-second interval.
	DefaultWindow = 30 * time.Second
	// DefaultSlowThreshold is the latency above which a request counts as
	// slow for the latency SLO, as in internal/measure.
	DefaultSlowThreshold = 3 * time.Second
)

// Options configure a Source.
type Options struct {
	// URL is the Prometheus server's base URL (http or https), such as
	// http://prometheus.monitoring.svc:9090; required.
	URL string
	// Timeout bounds each query; zero means DefaultTimeout.
	Timeout time.Duration
	// Window is the shortest range a query covers: a shorter health window,
	// or a canary phase younger than it, is widened to it. Set it to about
	// twice the scrape interval; zero means DefaultWindow.
	Window time.Duration
	// Clock gives the evaluation time of the queries; nil means the real
	// clock.
	Clock coordination.Clock
	// SlowThreshold is the latency above which a request counts in
	// HealthSample.SlowRequests; zero means DefaultSlowThreshold.
	SlowThreshold time.Duration
	// Client sends the requests; nil means a client with the default
	// transport.
	Client *http.Client
	// Logger receives Prometheus's warnings about a query; nil discards them.
	Logger *slog.Logger
}

// Source reads health and canary metrics from Prometheus. It is safe for
// concurrent use.
type Source struct {
	api     v1.API             // non-nil
	display string             // the URL with any password redacted
	timeout time.Duration      // > 0
	window  time.Duration      // > 0
	slow    time.Duration      // > 0
	clock   coordination.Clock // non-nil
	log     *slog.Logger       // non-nil
}

// The methods below have the signatures of coordination.Options' hooks.
var (
	_ coordination.HealthMetricsFunc = (*Source)(nil).HealthMetrics
	_ coordination.CanaryMetricsFunc = (*Source)(nil).CanaryMetrics
)

// New checks opts and returns a Source. It makes no request: an unreachable
// server shows on the first query.
func New(opts Options) (*Source, error) {
	var errs []error
	u, err := url.Parse(opts.URL)
	switch {
	case opts.URL == "":
		errs = append(errs, errors.New("url: must not be empty"))
	case err != nil:
		errs = append(errs, fmt.Errorf("url: %w", err))
	case u.Scheme != "http" && u.Scheme != "https":
		errs = append(errs, fmt.Errorf("url: scheme %q is not http or https", u.Scheme))
	case u.Host == "":
		errs = append(errs, errors.New("url: names no host"))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"timeout", opts.Timeout}, {"window", opts.Window}, {"slow threshold", opts.SlowThreshold}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s: must not be negative, got %s", d.name, d.v))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("prometheus metrics source: %w: %w", coordination.ErrInvalidInput, err)
	}
	client, err := api.NewClient(api.Config{Address: strings.TrimSuffix(u.String(), "/"), Client: opts.Client})
	if err != nil {
		return nil, fmt.Errorf("prometheus metrics source %s: %w", u.Redacted(), err)
	}
	s := &Source{api: v1.NewAPI(client), display: u.Redacted(), timeout: opts.Timeout, window: opts.Window,
		slow: opts.SlowThreshold, clock: opts.Clock, log: opts.Logger}
	if s.timeout == 0 {
		s.timeout = DefaultTimeout
	}
	if s.window == 0 {
		s.window = DefaultWindow
	}
	if s.slow == 0 {
		s.slow = DefaultSlowThreshold
	}
	if s.clock == nil {
		s.clock = coordination.RealClock()
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// HealthMetrics returns the health sample of target ("production" or
// "canary") over the window ending now, widened to Options.Window:
// requests, errors and error_rate; slow requests, the p95 latency and
// latency_p95 from the latency histogram; for production also
// accuracy_rate from golden probes and user feedback and cpu_utilization
// from the process CPU. A value is present only when there are data for it.
func (s *Source) HealthMetrics(ctx context.Context, target string, window time.Duration) (coordination.HealthSample, error) {
	out := coordination.HealthSample{Values: map[string]float64{}}
	var kind string
	switch target {
	case coordination.TargetProduction:
		kind = kindProduction
	case coordination.TargetCanary:
		kind = kindCanary
	default:
		return out, fmt.Errorf("health metrics: %w: unknown target %q (want %s or %s)",
			coordination.ErrInvalidInput, target, coordination.TargetProduction, coordination.TargetCanary)
	}
	w := max(window, s.window)
	var reviews, latency, probes, feedback, cpu model.Vector
	queries := []query{{reviewsQuery(kind, w), &reviews}, {latencyQuery(kind, w), &latency}}
	if target == coordination.TargetProduction {
		queries = append(queries, query{probesQuery(w), &probes}, query{feedbackQuery(w), &feedback}, query{cpuQuery(w), &cpu})
	}
	if err := s.run(ctx, s.clock.Now(), queries); err != nil {
		return coordination.HealthSample{}, fmt.Errorf("health metrics of %s: %w", target, err)
	}

	counts := countsBy(reviews, "outcome")
	for _, n := range counts {
		out.Requests += roundCount(n)
	}
	out.Errors = roundCount(counts["error"])
	if out.Requests > 0 {
		out.Values["error_rate"] = float64(out.Errors) / float64(out.Requests)
	}
	if h := bucketsFrom(latency, "")[""]; h.Count() > 0 {
		out.SlowRequests = roundCount(h.CountAbove(s.slow.Seconds()))
		out.LatencyP95 = h.Quantile(0.95)
		out.Values["latency_p95"] = out.LatencyP95
	}
	if target != coordination.TargetProduction {
		return out, nil
	}
	p, f := countsBy(probes, "result"), countsBy(feedback, "verdict")
	labelled := roundCount(p["correct"]) + roundCount(p["incorrect"]) + roundCount(f["accepted"]) + roundCount(f["dismissed"])
	correct := roundCount(p["correct"]) + roundCount(f["accepted"])
	if labelled > 0 {
		out.Values["accuracy_rate"] = float64(correct) / float64(labelled)
	}
	if len(cpu) > 0 {
		if u := float64(cpu[0].Value); !math.IsNaN(u) && !math.IsInf(u, 0) {
			out.Values["cpu_utilization"] = min(max(u, 0), 1)
		}
	}
	return out, nil
}

// CanaryMetrics returns the canary's requests, errors and latency
// histogram (series_kind="canary") and the stable release's (production)
// over [since, now], widened to Options.Window; a zero since means all
// that the counters hold. p names the promotion for errors only: the canary
// series carry no promotion id.
func (s *Source) CanaryMetrics(ctx context.Context, p *coordination.PromotionRequest, since time.Time) (canary, stable decision.Measured, err error) {
	if p == nil {
		return canary, stable, fmt.Errorf("canary metrics: %w: promotion is nil", coordination.ErrInvalidInput)
	}
	now := s.clock.Now()
	var w time.Duration
	if !since.IsZero() {
		w = max(now.Sub(since), s.window)
	}
	var reviews, latency model.Vector
	if err := s.run(ctx, now, []query{{reviewsQuery(kindUser, w), &reviews}, {latencyQuery(kindUser, w), &latency}}); err != nil {
		return canary, stable, fmt.Errorf("canary metrics of %s: %w", p.RequestID, err)
	}
	hists := bucketsFrom(latency, "series_kind")
	measured := func(kind string) decision.Measured {
		var m decision.Measured
		for _, smp := range reviews {
			if string(smp.Metric["series_kind"]) != kind {
				continue
			}
			n := roundCount(float64(smp.Value))
			m.Requests += n
			if smp.Metric["outcome"] == "error" {
				m.Errors += n
			}
		}
		if h := hists[kind]; h != nil && h.Count() > 0 {
			m.Latency = h
		}
		return m
	}
	return measured("canary"), measured("production"), nil
}

// query is one PromQL expression and where its vector goes.
type query struct {
	expr string
	out  *model.Vector
}

// run evaluates the queries at now in parallel; it returns every error.
func (s *Source) run(ctx context.Context, now time.Time, qs []query) error {
	errs := make([]error, len(qs))
	var wg sync.WaitGroup
	for i := range qs {
		wg.Go(func() { *qs[i].out, errs[i] = s.eval(ctx, qs[i].expr, now) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// eval evaluates one instant query, bounded by the timeout.
func (s *Source) eval(ctx context.Context, expr string, now time.Time) (model.Vector, error) {
	qctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	val, warnings, _, err := s.api.Query(qctx, expr, now, v1.WithTimeout(s.timeout))
	if err != nil {
		if cerr := qctx.Err(); cerr != nil && !errors.Is(err, cerr) {
			err = fmt.Errorf("%w (%w)", cerr, err)
		}
		return nil, fmt.Errorf("prometheus %s: query %q: %w", s.display, expr, err)
	}
	if len(warnings) > 0 {
		s.log.Warn("prometheus warned about a query", "server", s.display, "query", expr, "warnings", []string(warnings))
	}
	switch v := val.(type) {
	case model.Vector:
		return v, nil
	case nil:
		return nil, nil
	default:
		return nil, fmt.Errorf("prometheus %s: query %q: the result is a %s, want a vector", s.display, expr, val.Type())
	}
}

// countsBy sums the samples of v by the value of label.
func countsBy(v model.Vector, label model.LabelName) map[string]float64 {
	out := map[string]float64{}
	for _, s := range v {
		if f := float64(s.Value); !math.IsNaN(f) && !math.IsInf(f, 0) {
			out[string(s.Metric[label])] += f
		}
	}
	return out
}
