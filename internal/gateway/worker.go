package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/internal/review"
)

// ProcessedFunc records that consumer handled eventID and reports whether
// it was the first time (the store's ConsumerMarkProcessed).
type ProcessedFunc func(ctx context.Context, consumer, eventID string, at time.Time) (bool, error)

// SpentFunc returns what an experiment's shadow calls have cost so far, in
// US dollars.
type SpentFunc func(ctx context.Context, experimentID string) (float64, error)

// Defaults of WorkerOptions.
const (
	// DefaultWorkerConcurrency is how many candidate reviews run at once.
	DefaultWorkerConcurrency = 4
	// DefaultWorkerQueue bounds the shadow requests waiting for a worker.
	DefaultWorkerQueue = 64
	// defaultSeenCapacity is how many event IDs the in-memory dedup keeps.
	defaultSeenCapacity = 100_000
)

// WorkerOptions configure a Worker. Bus, Routing and Registry are required.
type WorkerOptions struct {
	Bus      coordination.Bus
	Routing  RoutingFunc
	Registry *Registry
	// Recorder receives exp/<id> and exp/<id>/v2 outcomes; nil discards.
	Recorder Recorder
	Clock    coordination.Clock
	Logger   *slog.Logger
	Metrics  *Metrics
	// Processed deduplicates events by ID; nil means an in-memory set of the
	// last 100,000 IDs (enough for one process; replicas need the store's).
	Processed ProcessedFunc
	// Spent returns an experiment's spend; nil means the worker's own total
	// since it started, added to the experiment's recorded SpentUSD.
	Spent SpentFunc
	// Concurrency is how many candidate reviews run at once
	// (DefaultWorkerConcurrency); QueueSize bounds the events waiting for
	// one (DefaultWorkerQueue). Events beyond the queue are dropped.
	Concurrency int
	QueueSize   int
	// Timeout bounds one candidate review (DefaultTimeout).
	Timeout time.Duration
	// PublishTimeout bounds publishing a result (DefaultPublishTimeout).
	PublishTimeout time.Duration
	// RefreshInterval is the periodic routing refresh (DefaultRefreshInterval).
	RefreshInterval time.Duration
	// Instance names this worker's routing-event consumer ("" generates one).
	Instance string
}

// Worker is the experiments role: it takes shadow requests off the bus, runs
// the experiment's variant on them, records the candidate's and V2's
// outcomes and publishes EventShadowCompleted. It is idempotent by event ID,
// runs at most Concurrency reviews at once, and never queues more than
// QueueSize events: a hanging or failing provider slows only its own
// experiment's results and cannot grow memory. It is safe for concurrent use.
type Worker struct {
	opts   WorkerOptions
	rec    Recorder
	clock  coordination.Clock
	log    *slog.Logger
	router *router
	seen   *seenSet // nil when opts.Processed is set

	queue chan shadowJob

	spentMu sync.Mutex
	spent   map[string]float64 // experiment ID → spend since start; guarded by spentMu

	received, duplicates, dropped, done, failed, notRunning, overBudget, inFlight atomic.Int64

	mu      sync.Mutex // guards running, cancel, subs, wg
	running bool
	cancel  context.CancelFunc
	subs    []coordination.Subscription
	wg      sync.WaitGroup
}

// shadowJob is one shadow request waiting for a worker.
type shadowJob struct {
	ev   coordination.Event
	data ShadowRequest
}

// NewWorker validates opts and returns a Worker; nothing runs until Start.
func NewWorker(opts WorkerOptions) (*Worker, error) {
	if opts.Bus == nil || opts.Routing == nil || opts.Registry == nil {
		return nil, errors.New("new experiments worker: Bus, Routing and Registry are required")
	}
	if opts.Concurrency < 0 || opts.QueueSize < 0 || opts.Timeout < 0 || opts.PublishTimeout < 0 || opts.RefreshInterval < 0 {
		return nil, errors.New("new experiments worker: sizes and durations must not be negative")
	}
	w := &Worker{opts: opts, rec: opts.Recorder, clock: opts.Clock, log: opts.Logger, spent: map[string]float64{}}
	if w.rec == nil {
		w.rec = discardRecorder{}
	}
	if w.clock == nil {
		w.clock = coordination.RealClock()
	}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	if w.opts.Concurrency == 0 {
		w.opts.Concurrency = DefaultWorkerConcurrency
	}
	if w.opts.QueueSize == 0 {
		w.opts.QueueSize = DefaultWorkerQueue
	}
	w.opts.Timeout = orDuration(opts.Timeout, DefaultTimeout)
	w.opts.PublishTimeout = orDuration(opts.PublishTimeout, DefaultPublishTimeout)
	w.opts.RefreshInterval = orDuration(opts.RefreshInterval, DefaultRefreshInterval)
	if w.opts.Instance == "" {
		w.opts.Instance = coordination.NewID("experiments", w.clock.Now())
	}
	if opts.Processed == nil {
		w.seen = newSeenSet(defaultSeenCapacity)
	}
	w.queue = make(chan shadowJob, w.opts.QueueSize)
	w.router = newRouter(opts.Routing, opts.Registry, w.clock, w.log)
	return w, nil
}

// Start reads the routing state, subscribes to shadow requests (durable
// consumer ConsumerExperiments) and routing events, and starts the workers.
// It is idempotent; the work stops with Stop or when ctx ends.
func (w *Worker) Start(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.running {
		return nil
	}
	if err := w.router.refresh(ctx); err != nil {
		w.log.Error("initial routing read failed", "err", err)
	}
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	rsub, err := w.router.subscribe(lctx, w.opts.Bus, "experiments-routing/"+w.opts.Instance)
	if err != nil {
		cancel()
		return fmt.Errorf("start experiments worker: %w", err)
	}
	ssub, err := w.opts.Bus.Subscribe(lctx, coordination.SubscribeOptions{Name: ConsumerExperiments,
		Types: []string{EventShadowRequested}}, w.Handle)
	if err != nil {
		cancel()
		_ = rsub.Close()
		return fmt.Errorf("start experiments worker: subscribe to shadow requests: %w", err)
	}
	w.subs = []coordination.Subscription{ssub, rsub}
	for range w.opts.Concurrency {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			for {
				select {
				case <-lctx.Done():
					return
				case j := <-w.queue:
					w.run(lctx, j)
				}
			}
		}()
	}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		w.router.loop(lctx, w.opts.RefreshInterval)
	}()
	w.cancel, w.running = cancel, true
	go func() {
		select {
		case <-ctx.Done():
			_ = w.Stop(context.WithoutCancel(ctx))
		case <-lctx.Done():
		}
	}()
	return nil
}

// Stop closes the subscriptions, cancels the reviews in flight (they are not
// recorded) and waits for the workers. Queued events are dropped. It is
// idempotent.
func (w *Worker) Stop(context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.running {
		return nil
	}
	w.running = false
	var errs []error
	for _, s := range w.subs {
		errs = append(errs, s.Close())
	}
	w.subs = nil
	w.cancel()
	w.wg.Wait()
	return errors.Join(errs...)
}

// Refresh reads the routing state now.
func (w *Worker) Refresh(ctx context.Context) error { return w.router.refresh(ctx) }

// Handle is the bus handler: it deduplicates the event by ID and queues it
// without blocking; with the queue full the event is dropped and counted.
// It returns an error (asking for redelivery) only when deduplication
// itself fails.
func (w *Worker) Handle(ctx context.Context, ev coordination.Event) error {
	if ev.Type != EventShadowRequested {
		return nil
	}
	w.received.Add(1)
	var data ShadowRequest
	if err := ev.DecodeData(&data); err != nil || data.ExperimentID == "" {
		w.log.Warn("malformed shadow request dropped", "id", ev.ID, "err", err)
		w.failed.Add(1)
		return nil
	}
	first, err := w.markProcessed(ctx, ev.ID)
	if err != nil {
		return fmt.Errorf("deduplicate shadow request %s: %w", ev.ID, err)
	}
	if !first {
		w.duplicates.Add(1)
		w.opts.Metrics.workerResult("duplicate")
		return nil
	}
	select {
	case w.queue <- shadowJob{ev: ev, data: data}:
	default:
		w.dropped.Add(1)
		w.opts.Metrics.workerResult("dropped")
		w.log.Debug("shadow request dropped: worker queue full", "id", ev.ID, "experiment", data.ExperimentID)
	}
	return nil
}

func (w *Worker) markProcessed(ctx context.Context, id string) (bool, error) {
	if w.seen != nil {
		return w.seen.add(id), nil
	}
	return w.opts.Processed(ctx, ConsumerExperiments, id, w.clock.Now())
}

// Process runs one shadow request now, without deduplication or queueing,
// and returns what it published. Skipped requests (experiment not running,
// budget spent) return ok false.
func (w *Worker) Process(ctx context.Context, ev coordination.Event) (ShadowCompleted, bool, error) {
	var data ShadowRequest
	if err := ev.DecodeData(&data); err != nil {
		return ShadowCompleted{}, false, err
	}
	if _, err := w.router.current(ctx); err != nil {
		return ShadowCompleted{}, false, fmt.Errorf("process shadow request %s: %w", ev.ID, err)
	}
	return w.process(ctx, shadowJob{ev: ev, data: data})
}

func (w *Worker) run(ctx context.Context, j shadowJob) {
	if _, err := w.router.current(ctx); err != nil {
		w.log.Warn("shadow request skipped: no routing state", "id", j.ev.ID, "err", err)
		w.notRunning.Add(1)
		return
	}
	if _, _, err := w.process(ctx, j); err != nil && ctx.Err() == nil {
		w.log.Warn("shadow request", "id", j.ev.ID, "experiment", j.data.ExperimentID, "err", err)
	}
}

// process runs the candidate on one shadow request, records both outcomes
// and publishes the result.
func (w *Worker) process(ctx context.Context, j shadowJob) (ShadowCompleted, bool, error) {
	id := j.data.ExperimentID
	exp := w.router.experiment(id)
	if exp == nil {
		w.notRunning.Add(1)
		w.opts.Metrics.workerResult("not_running")
		return ShadowCompleted{}, false, nil
	}
	if over, err := w.budgetSpent(ctx, exp); err != nil {
		return ShadowCompleted{}, false, err
	} else if over {
		w.overBudget.Add(1)
		w.opts.Metrics.workerResult("over_budget")
		return ShadowCompleted{}, false, nil
	}
	rv, err := w.opts.Registry.Reviewer(exp.Variant)
	if err != nil {
		err = fmt.Errorf("%w: %w", ErrUpstream, err) // a variant that cannot be built fails every call
	}
	var res review.Result
	if err == nil {
		if w.router.experiment(id) == nil { // quarantined meanwhile: never invoke it
			w.notRunning.Add(1)
			w.opts.Metrics.workerResult("not_running")
			return ShadowCompleted{}, false, nil
		}
		w.inFlight.Add(1)
		res, err = invokeReviewer(ctx, rv, j.data.Request, w.opts.Timeout)
		w.inFlight.Add(-1)
	}
	if ctx.Err() != nil {
		return ShadowCompleted{}, false, ctx.Err() // stopping: say nothing about the variant
	}
	now := w.clock.Now()
	v2 := j.data.V2
	out := ShadowCompleted{RequestID: j.data.RequestID, ExperimentID: id, Variant: exp.Variant.Name,
		Error: err != nil, LatencyMS: ms(res.Latency), CostUSD: res.Usage.CostUSD, Findings: len(res.Findings)}
	compared := err == nil && !v2.Error
	if compared {
		out.Agreement = Agreement(res.Findings, v2.Findings)
	}
	w.rec.Record(Outcome{At: now, Series: SeriesExperiment(id), Variant: exp.Variant.Name, Latency: res.Latency,
		Error: err != nil, InputTokens: res.Usage.InputTokens, OutputTokens: res.Usage.OutputTokens,
		CostUSD: res.Usage.CostUSD, Compared: compared, Agreed: compared && out.Agreement >= AgreementThreshold})
	w.rec.Record(Outcome{At: now, Series: SeriesExperimentBaseline(id), Variant: v2.Variant, Latency: fromMS(v2.LatencyMS),
		Error: v2.Error, InputTokens: v2.InputTokens, OutputTokens: v2.OutputTokens, CostUSD: v2.CostUSD})
	w.addSpent(id, res.Usage.CostUSD)
	if err != nil {
		w.failed.Add(1)
		w.opts.Metrics.workerResult("error")
	} else {
		w.done.Add(1)
		w.opts.Metrics.workerResult("done")
	}
	ev, eerr := newEvent(EventShadowCompleted, SourceExperiments, id, now, out)
	if eerr != nil {
		return out, true, eerr
	}
	pctx, cancel := context.WithTimeout(ctx, w.opts.PublishTimeout)
	defer cancel()
	if perr := w.opts.Bus.Publish(pctx, ev); perr != nil {
		return out, true, fmt.Errorf("publish shadow result: %w", perr)
	}
	return out, true, nil
}

func (w *Worker) budgetSpent(ctx context.Context, e *coordination.Experiment) (bool, error) {
	if e.BudgetUSD <= 0 {
		return false, nil
	}
	var spent float64
	if w.opts.Spent != nil {
		var err error
		if spent, err = w.opts.Spent(ctx, e.ID); err != nil {
			return false, fmt.Errorf("read spend of %s: %w", e.ID, err)
		}
	} else {
		w.spentMu.Lock()
		spent = e.SpentUSD + w.spent[e.ID]
		w.spentMu.Unlock()
	}
	return spent >= e.BudgetUSD, nil
}

func (w *Worker) addSpent(id string, usd float64) {
	if usd <= 0 {
		return
	}
	w.spentMu.Lock()
	w.spent[id] += usd
	w.spentMu.Unlock()
}

// WorkerStats count shadow requests since the worker was built.
type WorkerStats struct {
	Received   int64 `json:"received"`
	Duplicates int64 `json:"duplicates"`
	// Dropped requests found the queue full.
	Dropped int64 `json:"dropped"`
	// Done and Failed requests ran the candidate (failed: it errored).
	Done       int64 `json:"done"`
	Failed     int64 `json:"failed"`
	NotRunning int64 `json:"not_running"`
	OverBudget int64 `json:"over_budget"`
	// Pending requests wait in the queue; InFlight are being reviewed.
	Pending  int   `json:"pending"`
	InFlight int64 `json:"in_flight"`
	Capacity int   `json:"capacity"`
}

// Stats returns the worker's counters.
func (w *Worker) Stats() WorkerStats {
	return WorkerStats{Received: w.received.Load(), Duplicates: w.duplicates.Load(), Dropped: w.dropped.Load(),
		Done: w.done.Load(), Failed: w.failed.Load(), NotRunning: w.notRunning.Load(), OverBudget: w.overBudget.Load(),
		Pending: len(w.queue), InFlight: w.inFlight.Load(), Capacity: cap(w.queue)}
}

// seenSet remembers the last n IDs added.
type seenSet struct {
	mu   sync.Mutex
	ids  map[string]struct{} // guarded by mu
	ring []string            // insertion order, circular; guarded by mu
	next int                 // guarded by mu
}

func newSeenSet(n int) *seenSet {
	return &seenSet{ids: make(map[string]struct{}, n), ring: make([]string, n)}
}

// add records id and reports whether it was new.
func (s *seenSet) add(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.ids[id]; ok {
		return false
	}
	if old := s.ring[s.next]; old != "" {
		delete(s.ids, old)
	}
	s.ring[s.next] = id
	s.next = (s.next + 1) % len(s.ring)
	s.ids[id] = struct{}{}
	return true
}
