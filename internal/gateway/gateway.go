package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/internal/flags"
	"github.com/tricyclehq/tricycle/internal/review"
)

// Errors of a review that did not get an answer. The HTTP handlers map them
// to statuses.
var (
	// ErrUpstream means the variant's provider failed or answered something
	// that could not be parsed.
	ErrUpstream = errors.New("reviewer failed")
	// ErrUpstreamTimeout means the variant did not answer in time.
	ErrUpstreamTimeout = errors.New("reviewer timed out")
	// ErrUnavailable means no reviewer can serve: the routing state is
	// unknown or the production variant cannot be built.
	ErrUnavailable = errors.New("review service unavailable")
)

// PrefixReviewID prefixes review IDs.
const PrefixReviewID = "rvw"

// Arm says which release answered a request.
type Arm string

const (
	// ArmProduction is the production release (V2).
	ArmProduction Arm = "production"
	// ArmCanary is the candidate of a promotion in its canary phases.
	ArmCanary Arm = "canary"
)

// Defaults of Options.
const (
	// DefaultTimeout bounds one review.
	DefaultTimeout = 2 * time.Minute
	// DefaultShadowQueue bounds the shadow copies waiting to be published.
	DefaultShadowQueue = 1024
	// DefaultPublishTimeout bounds one publish on the bus.
	DefaultPublishTimeout = 5 * time.Second
	// DefaultRefreshInterval is the periodic routing refresh.
	DefaultRefreshInterval = 10 * time.Second
)

// Options configure a Gateway. Routing and Registry are required.
type Options struct {
	// Routing reads the routing state (the coordinator's Routing).
	Routing RoutingFunc
	// Registry builds the variants' reviewers.
	Registry *Registry
	// Recorder receives every answered request's outcome; nil discards.
	Recorder Recorder
	// Bus carries shadow copies and routing events; nil means no shadow
	// traffic and no event-driven refresh (the periodic one remains).
	Bus coordination.Bus
	// Clock timestamps outcomes and reviews; nil means the real clock.
	Clock coordination.Clock
	// Logger receives errors and drops; nil discards.
	Logger *slog.Logger
	// Metrics are the gateway's Prometheus metrics; nil means none.
	Metrics *Metrics
	// Store keeps answered reviews for GET and feedback; nil means an
	// in-memory store of DefaultStoreCapacity reviews.
	Store ReviewStore
	// Bucket assigns sticky buckets for the canary split and the shadow
	// sample; nil means flags.Bucket.
	Bucket BucketFunc
	// Flags holds the kill switches flags.Canary (no user traffic to the
	// canary) and flags.Shadow (no shadow copies); nil means neither is on.
	Flags *flags.Set
	// Timeout bounds one review (DefaultTimeout).
	Timeout time.Duration
	// ShadowQueue bounds the shadow copies waiting to be published
	// (DefaultShadowQueue); copies beyond it are dropped and counted.
	ShadowQueue int
	// PublishTimeout bounds one shadow publish (DefaultPublishTimeout).
	PublishTimeout time.Duration
	// RefreshInterval is the periodic routing refresh (DefaultRefreshInterval).
	RefreshInterval time.Duration
	// MaxBodyBytes bounds a request body of the HTTP endpoints
	// (DefaultMaxBodyBytes).
	MaxBodyBytes int64
	// Instance names this gateway's routing-event consumer; every gateway
	// replica needs its own. "" means a generated name.
	Instance string
}

// Result is the answer to one review request.
type Result struct {
	// ReviewID identifies the review (GET /api/v1/reviews/{id}); it is also
	// the request ID shadow copies carry.
	ReviewID   string           `json:"review_id"`
	Findings   []review.Finding `json:"findings"`
	Summary    string           `json:"summary"`
	Usage      review.Usage     `json:"usage"`
	Latency    time.Duration    `json:"-"`
	LatencyMS  float64          `json:"latency_ms"`
	Arm        Arm              `json:"arm"`
	Variant    string           `json:"variant"`
	Model      string           `json:"model,omitempty"`
	Series     string           `json:"series"`
	Repository string           `json:"repository,omitempty"`
	CreatedAt  time.Time        `json:"created_at"`
}

// Gateway is the V2 data plane: it routes each review to production or the
// canary, records its outcome, keeps it for later reads and sends shadow
// copies to running experiments over the bus. It is safe for concurrent use.
type Gateway struct {
	reg     *Registry
	rec     Recorder           // non-nil
	bus     coordination.Bus   // may be nil
	clock   coordination.Clock // non-nil
	log     *slog.Logger       // non-nil
	metrics *Metrics           // may be nil
	store   ReviewStore        // non-nil
	bucket  BucketFunc         // non-nil
	router  *router            // non-nil
	shadow  *shadowQueue       // non-nil
	opts    Options

	mu      sync.Mutex // guards running, cancel, sub, wg
	running bool
	cancel  context.CancelFunc
	sub     coordination.Subscription
	wg      sync.WaitGroup
}

// New validates opts and returns a Gateway; nothing runs until Start.
func New(opts Options) (*Gateway, error) {
	if opts.Routing == nil || opts.Registry == nil {
		return nil, errors.New("new gateway: Routing and Registry are required")
	}
	if opts.Timeout < 0 || opts.ShadowQueue < 0 || opts.PublishTimeout < 0 || opts.RefreshInterval < 0 {
		return nil, errors.New("new gateway: timeouts, intervals and queue sizes must not be negative")
	}
	g := &Gateway{reg: opts.Registry, rec: opts.Recorder, bus: opts.Bus, clock: opts.Clock, log: opts.Logger,
		metrics: opts.Metrics, store: opts.Store, bucket: opts.Bucket, opts: opts}
	if g.rec == nil {
		g.rec = discardRecorder{}
	}
	if g.clock == nil {
		g.clock = coordination.RealClock()
	}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	if g.store == nil {
		g.store = NewMemoryStore(DefaultStoreCapacity)
	}
	if g.bucket == nil {
		g.bucket = flags.Bucket
	}
	g.opts.Timeout = orDuration(opts.Timeout, DefaultTimeout)
	g.opts.PublishTimeout = orDuration(opts.PublishTimeout, DefaultPublishTimeout)
	g.opts.RefreshInterval = orDuration(opts.RefreshInterval, DefaultRefreshInterval)
	if g.opts.ShadowQueue == 0 {
		g.opts.ShadowQueue = DefaultShadowQueue
	}
	if g.opts.Instance == "" {
		g.opts.Instance = coordination.NewID("gateway", g.clock.Now())
	}
	g.router = newRouter(opts.Routing, opts.Registry, g.clock, g.log)
	g.shadow = newShadowQueue(g.opts.ShadowQueue)
	return g, nil
}

func orDuration(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// Start reads the routing state, subscribes to routing events and starts
// the periodic refresh and the shadow publisher. It is idempotent; the work
// stops with Stop or when ctx ends. A failed first read is logged, not
// returned: the periodic refresh keeps trying and reviews fail with
// ErrUnavailable meanwhile.
func (g *Gateway) Start(ctx context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.running {
		return nil
	}
	if err := g.router.refresh(ctx); err != nil {
		g.log.Error("initial routing read failed", "err", err)
	}
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	if g.bus != nil {
		sub, err := g.router.subscribe(lctx, g.bus, "gateway-routing/"+g.opts.Instance)
		if err != nil {
			cancel()
			return fmt.Errorf("start gateway: %w", err)
		}
		g.sub = sub
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			g.shadow.drain(lctx, g.publishShadow)
		}()
	}
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		g.router.loop(lctx, g.opts.RefreshInterval)
	}()
	g.cancel, g.running = cancel, true
	go func() {
		select {
		case <-ctx.Done():
			_ = g.Stop(context.WithoutCancel(ctx))
		case <-lctx.Done():
		}
	}()
	return nil
}

// Stop ends the background work; shadow copies still queued are dropped. It
// is idempotent.
func (g *Gateway) Stop(context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.running {
		return nil
	}
	g.running = false
	g.cancel()
	var err error
	if g.sub != nil {
		err = g.sub.Close()
		g.sub = nil
	}
	g.wg.Wait()
	return err
}

// Refresh reads the routing state now.
func (g *Gateway) Refresh(ctx context.Context) error { return g.router.refresh(ctx) }

// RoutingKey is the sticky key of a request: its repository, else its
// client, else its ID.
func RoutingKey(req review.Request) string {
	switch {
	case req.Repository != "":
		return req.Repository
	case req.Client != "":
		return req.Client
	}
	return req.ID
}

// Review answers req with the production release or, for the canary's share
// of routing keys, the canary; it records the outcome, stores the review for
// its owner (the context's actor) and queues shadow copies for running
// experiments without waiting for them. req.ID is assigned when empty.
func (g *Gateway) Review(ctx context.Context, req review.Request) (Result, error) {
	now := g.clock.Now()
	if strings.TrimSpace(req.Diff) == "" {
		return Result{}, fmt.Errorf("review: %w: diff: must not be empty", coordination.ErrInvalidInput)
	}
	if req.ID == "" {
		req.ID = coordination.NewID(PrefixReviewID, now)
	}
	t, err := g.router.current(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("review %s: %w: %w", req.ID, ErrUnavailable, err)
	}
	key := RoutingKey(req)
	arm, rv, variant, series := ArmProduction, t.prod, t.prodName, SeriesProduction
	if t.canary != nil && !g.killed(flags.Canary) && inPercent(g.bucket("canary:"+t.canaryID, key), t.canaryPct) {
		arm, rv, variant, series = ArmCanary, t.canary, t.canaryName, SeriesCanary(t.canaryID)
	}
	if rv == nil {
		return Result{}, fmt.Errorf("review %s: %w: production variant %s: %w", req.ID, ErrUnavailable, variant, t.prodErr)
	}
	if arm == ArmCanary && !g.router.canaryLive(t.canaryID) {
		// Rolled back since the snapshot was taken: never invoke it again.
		arm, rv, variant, series = ArmProduction, t.prod, t.prodName, SeriesProduction
	}
	res, err := invokeReviewer(ctx, rv, req, g.opts.Timeout)
	if err != nil && ctx.Err() != nil {
		// The caller gave up: nothing to say about the reviewer.
		return Result{}, fmt.Errorf("review %s: %w", req.ID, ctx.Err())
	}
	out := Result{ReviewID: req.ID, Findings: res.Findings, Summary: res.Summary, Usage: res.Usage,
		Latency: res.Latency, LatencyMS: ms(res.Latency), Arm: arm, Variant: variant, Model: res.Model,
		Series: series, Repository: req.Repository, CreatedAt: now}
	if out.Findings == nil {
		out.Findings = []review.Finding{}
	}
	g.rec.Record(Outcome{At: now, Series: series, Variant: variant, Latency: res.Latency, Error: err != nil,
		InputTokens: res.Usage.InputTokens, OutputTokens: res.Usage.OutputTokens, CostUSD: res.Usage.CostUSD})
	g.metrics.observeReview(arm, variant, err, res.Latency)
	if arm == ArmProduction {
		g.queueShadows(t, req, key, variant, res, err)
	}
	if err != nil {
		return out, fmt.Errorf("review %s by %s: %w", req.ID, variant, err)
	}
	owner := coordination.ActorFrom(ctx).Name
	if perr := g.store.ReviewPut(ctx, &StoredReview{Result: out, Owner: owner}); perr != nil {
		g.log.Error("store review", "review", req.ID, "err", perr)
	}
	return out, nil
}

// invokeReviewer calls rv under timeout. The latency is the longer of the
// wall time and what the reviewer reports (a simulated variant reports its
// drawn latency without waiting). Errors wrap ErrUpstream or
// ErrUpstreamTimeout.
func invokeReviewer(ctx context.Context, rv review.Reviewer, req review.Request, timeout time.Duration) (review.Result, error) {
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	res, err := rv.Review(cctx, req)
	res.Latency = max(res.Latency, time.Since(start))
	switch {
	case err == nil:
		return res, nil
	case errors.Is(err, context.DeadlineExceeded):
		return res, fmt.Errorf("%w: %w", ErrUpstreamTimeout, err)
	default:
		return res, fmt.Errorf("%w: %w", ErrUpstream, err)
	}
}

// ProductionVariant returns the name of the variant production serves.
func (g *Gateway) ProductionVariant(ctx context.Context) (string, error) {
	t, err := g.router.current(ctx)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return t.prodName, nil
}

// killed reports whether the kill switch name is on.
func (g *Gateway) killed(name string) bool {
	return g.opts.Flags != nil && g.opts.Flags.Killed(name)
}
