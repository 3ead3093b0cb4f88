package dataplane

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/internal/gateway"
	"github.com/tricyclehq/tricycle/internal/measure"
)

// EventOutcomesRecorded carries a batch of review outcomes (and feedback)
// from a gateway or experiments process to the coordinators, whose
// recorders feed the cycle's decisions (data: OutcomeBatch).
const EventOutcomesRecorded = "review.outcomes.recorded"

// SourceOutcomes is the source of EventOutcomesRecorded.
const SourceOutcomes = "/tricycle/dataplane"

// Defaults of the outcome forwarder.
const (
	// DefaultForwardInterval is how often pending outcomes are published.
	DefaultForwardInterval = 200 * time.Millisecond
	// DefaultForwardBatch is the most outcomes one event carries.
	DefaultForwardBatch = 500
	// DefaultForwardBacklog bounds the outcomes waiting while the bus is
	// down; outcomes beyond it are dropped and counted.
	DefaultForwardBacklog = 200000
)

// FeedbackRecord is one user verdict on a finding, as forwarded.
type FeedbackRecord struct {
	At        time.Time `json:"at"`
	Series    string    `json:"series"`
	Category  string    `json:"category"`
	Accepted  bool      `json:"accepted"`
	Complaint bool      `json:"complaint"`
}

// OutcomeBatch is the data of EventOutcomesRecorded.
type OutcomeBatch struct {
	// Instance names the process that recorded the outcomes.
	Instance string            `json:"instance"`
	Outcomes []measure.Outcome `json:"outcomes,omitempty"`
	Feedback []FeedbackRecord  `json:"feedback,omitempty"`
}

// forwarder is the recorder of a gateway or experiments process: it keeps
// every outcome in the process's own recorder (its Prometheus metrics and
// the worker's spend) and publishes them in batches on the bus for the
// coordinators. Record never blocks.
type forwarder struct {
	local    *measure.Recorder
	bus      coordination.Bus
	clock    coordination.Clock
	log      *slog.Logger
	instance string
	interval time.Duration
	batch    int
	backlog  int

	mu       sync.Mutex // guards the fields below
	outcomes []measure.Outcome
	feedback []FeedbackRecord
	dropped  int64
	retry    *coordination.Event // a batch whose publish failed, sent again first
	retryN   int                 // the outcomes and feedback it holds
	wake     chan struct{}
}

var _ gateway.Recorder = (*forwarder)(nil)

func newForwarder(local *measure.Recorder, bus coordination.Bus, clock coordination.Clock, log *slog.Logger, instance string) *forwarder {
	return &forwarder{local: local, bus: bus, clock: clock, log: log, instance: instance,
		interval: DefaultForwardInterval, batch: DefaultForwardBatch, backlog: DefaultForwardBacklog,
		wake: make(chan struct{}, 1)}
}

// Record keeps o locally and queues it for the coordinators.
func (f *forwarder) Record(o measure.Outcome) {
	if o.At.IsZero() {
		o.At = f.clock.Now()
	}
	f.local.Record(o)
	f.mu.Lock()
	if len(f.outcomes)+len(f.feedback)+f.retryN >= f.backlog {
		f.dropped++
		f.mu.Unlock()
		return
	}
	f.outcomes = append(f.outcomes, o)
	full := len(f.outcomes) >= f.batch
	f.mu.Unlock()
	if full {
		select {
		case f.wake <- struct{}{}:
		default:
		}
	}
}

// RecordFeedback keeps the verdict locally and queues it for the
// coordinators.
func (f *forwarder) RecordFeedback(at time.Time, series, category string, accepted, complaint bool) {
	f.local.RecordFeedback(at, series, category, accepted, complaint)
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.outcomes)+len(f.feedback)+f.retryN >= f.backlog {
		f.dropped++
		return
	}
	f.feedback = append(f.feedback, FeedbackRecord{At: at, Series: series, Category: category, Accepted: accepted, Complaint: complaint})
}

// ShadowDropped counts a dropped shadow copy in the local metrics.
func (f *forwarder) ShadowDropped() { f.local.ShadowDropped() }

// Dropped returns how many outcomes and verdicts were dropped because the
// backlog was full.
func (f *forwarder) Dropped() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dropped
}

// run publishes pending outcomes every interval (or when a batch is full)
// until ctx ends.
func (f *forwarder) run(ctx context.Context) {
	t := time.NewTicker(f.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-f.wake:
		}
		if err := f.flush(ctx); err != nil && ctx.Err() == nil {
			f.log.Warn("forward outcomes to the coordinators; retrying", "err", err)
		}
	}
}

// flush publishes everything pending, one batch after another; a batch
// whose publish fails is kept and published again, under the same event
// ID, by the next flush.
func (f *forwarder) flush(ctx context.Context) error {
	for {
		ev, n, err := f.next()
		if err != nil || n == 0 {
			return err
		}
		if err := f.bus.Publish(ctx, ev); err != nil {
			f.mu.Lock()
			f.retry, f.retryN = &ev, n
			f.mu.Unlock()
			return fmt.Errorf("publish %d outcomes: %w", n, err)
		}
	}
}

// next takes the batch to publish: the one that failed before, else up to
// batch pending outcomes and the pending feedback.
func (f *forwarder) next() (coordination.Event, int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.retry != nil {
		ev, n := *f.retry, f.retryN
		f.retry, f.retryN = nil, 0
		return ev, n, nil
	}
	if len(f.outcomes) == 0 && len(f.feedback) == 0 {
		return coordination.Event{}, 0, nil
	}
	k := min(len(f.outcomes), f.batch)
	b := OutcomeBatch{Instance: f.instance, Outcomes: f.outcomes[:k:k], Feedback: f.feedback}
	f.outcomes = append([]measure.Outcome(nil), f.outcomes[k:]...)
	f.feedback = nil
	ev, err := coordination.NewEvent(EventOutcomesRecorded, f.instance, f.clock.Now(), b)
	if err != nil {
		return ev, 0, fmt.Errorf("forward outcomes: %w", err)
	}
	ev.Source = SourceOutcomes
	return ev, len(b.Outcomes) + len(b.Feedback), nil
}

// intake records forwarded outcomes into a coordinator's recorder, once per
// event ID.
type intake struct {
	rec  *measure.Recorder
	log  *slog.Logger
	seen map[string]bool // guarded by mu
	ring []string        // the IDs in seen, oldest first, for eviction
	next int
	mu   sync.Mutex
}

// intakeMemory is how many recent event IDs an intake remembers to drop
// redeliveries.
const intakeMemory = 8192

func newIntake(rec *measure.Recorder, log *slog.Logger) *intake {
	return &intake{rec: rec, log: log, seen: map[string]bool{}, ring: make([]string, intakeMemory)}
}

// handle is the bus handler of EventOutcomesRecorded.
func (in *intake) handle(_ context.Context, ev coordination.Event) error {
	if ev.Type != EventOutcomesRecorded {
		return nil
	}
	in.mu.Lock()
	if in.seen[ev.ID] {
		in.mu.Unlock()
		return nil
	}
	if old := in.ring[in.next]; old != "" {
		delete(in.seen, old)
	}
	in.ring[in.next] = ev.ID
	in.next = (in.next + 1) % len(in.ring)
	in.seen[ev.ID] = true
	in.mu.Unlock()
	var b OutcomeBatch
	if err := ev.DecodeData(&b); err != nil {
		// A batch that does not decode never will: drop it, do not retry.
		in.log.Error("drop an undecodable outcome batch", "event", ev.ID, "err", err)
		return nil
	}
	for _, o := range b.Outcomes {
		in.rec.Record(o)
	}
	for _, fb := range b.Feedback {
		in.rec.RecordFeedback(fb.At, fb.Series, fb.Category, fb.Accepted, fb.Complaint)
	}
	return nil
}
