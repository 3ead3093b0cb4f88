package gateway

import (
	"context"
	"slices"
	"sync/atomic"
	"time"

	"github.com/tricyclehq/tricycle/internal/flags"
	"github.com/tricyclehq/tricycle/internal/review"
)

// shadowItem is one shadow copy waiting to be published.
type shadowItem struct {
	at   time.Time
	data ShadowRequest
}

// shadowQueue is the bounded queue between the request path and the shadow
// publisher. Enqueueing never blocks: a full queue drops the copy and
// counts it.
type shadowQueue struct {
	ch        chan shadowItem
	queued    atomic.Int64
	published atomic.Int64
	dropped   atomic.Int64
	failed    atomic.Int64
}

func newShadowQueue(n int) *shadowQueue { return &shadowQueue{ch: make(chan shadowItem, n)} }

// offer queues it, or drops it when the queue is full; it reports whether it
// was queued.
func (q *shadowQueue) offer(it shadowItem) bool {
	select {
	case q.ch <- it:
		q.queued.Add(1)
		return true
	default:
		q.dropped.Add(1)
		return false
	}
}

// drain publishes queued copies one at a time until ctx ends.
func (q *shadowQueue) drain(ctx context.Context, publish func(context.Context, shadowItem) error) {
	for {
		select {
		case <-ctx.Done():
			return
		case it := <-q.ch:
			if err := publish(ctx, it); err != nil {
				q.failed.Add(1)
			} else {
				q.published.Add(1)
			}
		}
	}
}

// ShadowStats count shadow copies since the gateway was built.
type ShadowStats struct {
	// Queued copies were accepted by the bounded queue.
	Queued int64 `json:"queued"`
	// Published copies were accepted by the bus.
	Published int64 `json:"published"`
	// Dropped copies found the queue full (the user's answer never waits).
	Dropped int64 `json:"dropped"`
	// Failed copies could not be published (bus error or publish timeout).
	Failed int64 `json:"failed"`
	// Pending copies wait in the queue now; never more than its capacity.
	Pending  int `json:"pending"`
	Capacity int `json:"capacity"`
}

// ShadowStats returns the shadow counters.
func (g *Gateway) ShadowStats() ShadowStats {
	q := g.shadow
	return ShadowStats{Queued: q.queued.Load(), Published: q.published.Load(), Dropped: q.dropped.Load(),
		Failed: q.failed.Load(), Pending: len(q.ch), Capacity: cap(q.ch)}
}

// queueShadows offers a copy of a production request to every running
// experiment whose sticky sample contains the routing key.
func (g *Gateway) queueShadows(t *table, req review.Request, key, variant string, res review.Result, err error) {
	if g.bus == nil || len(t.experiments) == 0 || g.killed(flags.Shadow) {
		return
	}
	v2 := ShadowOutcome{Variant: variant, Findings: slices.Clone(res.Findings), LatencyMS: ms(res.Latency), Error: err != nil,
		InputTokens: res.Usage.InputTokens, OutputTokens: res.Usage.OutputTokens, CostUSD: res.Usage.CostUSD}
	if v2.Findings == nil {
		v2.Findings = []review.Finding{}
	}
	now := g.clock.Now()
	for id, e := range t.experiments {
		if e.ShadowPercent <= 0 || !inPercent(g.bucket("shadow:"+id, key), e.ShadowPercent) || g.router.isBlocked("exp:"+id) {
			continue
		}
		ok := g.shadow.offer(shadowItem{at: now, data: ShadowRequest{RequestID: req.ID, ExperimentID: id, Request: req, V2: v2}})
		g.metrics.shadowOffered(ok)
		if !ok {
			if d, ok := g.rec.(interface{ ShadowDropped() }); ok {
				d.ShadowDropped()
			}
			g.log.Debug("shadow dropped: queue full", "experiment", id, "request", req.ID)
		}
	}
}

// publishShadow publishes one copy as EventShadowRequested.
func (g *Gateway) publishShadow(ctx context.Context, it shadowItem) error {
	ev, err := newEvent(EventShadowRequested, SourceGateway, it.data.ExperimentID, it.at, it.data)
	if err != nil {
		g.log.Error("encode shadow request", "request", it.data.RequestID, "err", err)
		return err
	}
	pctx, cancel := context.WithTimeout(ctx, g.opts.PublishTimeout)
	defer cancel()
	if err := g.bus.Publish(pctx, ev); err != nil {
		if ctx.Err() == nil {
			g.log.Warn("publish shadow request", "request", it.data.RequestID, "experiment", it.data.ExperimentID, "err", err)
		}
		g.metrics.shadowFailed()
		return err
	}
	g.metrics.shadowPublished()
	return nil
}
