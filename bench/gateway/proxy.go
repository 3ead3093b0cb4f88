package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/internal/gateway"
	"github.com/tricyclehq/tricycle/internal/measure"
)

// serveProxy serves the proxy under test in front of cfg.upstream.
func serveProxy(ctx context.Context, cfg config) error {
	up, err := url.Parse(cfg.upstream)
	if err != nil || up.Host == "" {
		return fmt.Errorf("proxy: -upstream %q is not a URL", cfg.upstream)
	}
	switch cfg.kind {
	case "plain":
		rp := httputil.NewSingleHostReverseProxy(up)
		rp.Transport = transport()
		return serve(ctx, rp)
	case "tricycle":
		h, stop, err := tricycle(ctx, cfg.upstream)
		if err != nil {
			return err
		}
		defer stop()
		return serve(ctx, h)
	}
	return fmt.Errorf("proxy: unknown -kind %q", cfg.kind)
}

// variant is an openai-provider variant at the fake upstream.
func variant(name, upstream string) coordination.Variant {
	return coordination.Variant{Name: name, Provider: coordination.ProviderOpenAI, Model: "bench-" + name,
		BaseURL: upstream, APIKeyEnv: "BENCH_API_KEY", Strategy: coordination.StrategySingle,
		Prices: coordination.Prices{InputPerMTok: 0.15, OutputPerMTok: 0.6}}
}

// tricycle builds the gateway as a server would: production and a canary at
// 10% on the upstream, one experiment shadowing 5% over the in-process bus to
// an experiments worker, the measure recorder and Prometheus metrics.
func tricycle(ctx context.Context, upstream string) (http.Handler, func(), error) {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	routing := coordination.Routing{
		Production: &coordination.Release{ID: "rel-bench", Variant: variant("prod", upstream), State: coordination.ReleaseActive},
		Canary: &coordination.PromotionRequest{RequestID: "prm-bench", ExperimentID: "exp-canary",
			State: coordination.PromotionPhase1, TrafficPercent: 10, Candidate: variant("canary", upstream)},
		Experiments: []*coordination.Experiment{{ID: "exp-bench", State: coordination.ExperimentRunning,
			ShadowPercent: 5, Variant: variant("candidate", upstream)}},
	}
	fetch := func(context.Context) (coordination.Routing, error) { return routing, nil }
	reg := prometheus.NewRegistry()
	rec, err := measure.New(coordination.NewMemoryStore(), nil, reg, measure.Options{})
	if err != nil {
		return nil, nil, err
	}
	metrics, err := gateway.NewMetrics(reg)
	if err != nil {
		return nil, nil, err
	}
	registry, err := gateway.NewRegistry(gateway.RegistryOptions{
		HTTPClient: &http.Client{Transport: transport()},
		LookupEnv:  func(string) (string, bool) { return "bench-key", true },
	})
	if err != nil {
		return nil, nil, err
	}
	bus := coordination.NewMemoryBus(coordination.MemoryBusOptions{Logger: log})
	g, err := gateway.New(gateway.Options{Routing: fetch, Registry: registry, Recorder: rec, Bus: bus,
		Logger: log, Metrics: metrics})
	if err != nil {
		return nil, nil, err
	}
	w, err := gateway.NewWorker(gateway.WorkerOptions{Bus: bus, Routing: fetch, Registry: registry, Recorder: rec,
		Logger: log, Metrics: metrics})
	if err != nil {
		return nil, nil, err
	}
	rctx, cancel := context.WithCancel(ctx)
	go func() { _ = rec.Run(rctx) }()
	if err := errors.Join(g.Start(rctx), w.Start(rctx)); err != nil {
		cancel()
		return nil, nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/", g.Handler())
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /stats", func(w2 http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w2, "shadow %+v\nworker %+v\n", g.ShadowStats(), w.Stats())
	})
	stop := func() {
		_ = w.Stop(context.Background())
		_ = g.Stop(context.Background())
		cancel()
		_ = bus.Close()
	}
	return mux, stop, nil
}
