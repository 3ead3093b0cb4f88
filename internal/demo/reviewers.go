package demo

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/internal/review"
)

// truthCache memoises the simulated reviewers' ground truth (the builtin
// reviewer's findings) per diff: the synthetic traffic repeats a dozen
// changes, and the builtin reviewer is deterministic. It is safe for
// concurrent use; results are shared and must not be modified.
type truthCache struct {
	next review.Reviewer

	mu     sync.Mutex
	byDiff map[string]review.Result // guarded by mu
}

func newTruthCache(next review.Reviewer) *truthCache {
	return &truthCache{next: next, byDiff: map[string]review.Result{}}
}

// Review returns next's result on req's diff, reviewing it once.
func (t *truthCache) Review(ctx context.Context, req review.Request) (review.Result, error) {
	t.mu.Lock()
	res, ok := t.byDiff[req.Diff]
	t.mu.Unlock()
	if ok && len(req.Files) == 0 {
		return res, nil
	}
	res, err := t.next.Review(ctx, req)
	if err != nil || len(req.Files) > 0 {
		return res, err
	}
	t.mu.Lock()
	t.byDiff[req.Diff] = res
	t.mu.Unlock()
	return res, nil
}

// errQuotaExhausted is the simulated provider's refusal once an account
// has used its quota.
var errQuotaExhausted = errors.New("429 Too Many Requests: request quota exhausted")

// quotaRefusalLatency is how long the simulated provider takes to refuse a
// request over quota.
const quotaRefusalLatency = 80 * time.Millisecond

// quotaPeriod is the sliding period a provider account's quota covers.
const quotaPeriod = 24 * time.Hour

// quotaReviewer simulates a provider account with a request quota in front
// of a reviewer: once quota calls were made in the last 24 hours (on the
// demo's clock), further calls fail with errQuotaExhausted until older ones
// age out. Refused calls do not count. It is safe for concurrent use.
type quotaReviewer struct {
	next  review.Reviewer
	clock coordination.Clock
	quota int
	model string

	mu        sync.Mutex
	calls     []time.Time // times of the calls in the last period, oldest first; guarded by mu
	exhausted time.Time   // the first refusal; guarded by mu
	reported  bool        // takeExhausted returned it; guarded by mu
}

// Review calls next while the quota lasts.
func (q *quotaReviewer) Review(ctx context.Context, req review.Request) (review.Result, error) {
	now := q.clock.Now()
	q.mu.Lock()
	i := 0
	for i < len(q.calls) && !q.calls[i].After(now.Add(-quotaPeriod)) {
		i++
	}
	q.calls = q.calls[i:]
	over := len(q.calls) >= q.quota
	if over && q.exhausted.IsZero() {
		q.exhausted = now
	}
	if !over {
		q.calls = append(q.calls, now)
	}
	q.mu.Unlock()
	if over {
		return review.Result{Model: q.model, Latency: quotaRefusalLatency},
			fmt.Errorf("simulated provider, model %s: %w (%d requests in %s)", q.model, errQuotaExhausted, q.quota, quotaPeriod)
	}
	return q.next.Review(ctx, req)
}

// takeExhausted returns when the quota first refused a call, once.
func (q *quotaReviewer) takeExhausted() (time.Time, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.reported || q.exhausted.IsZero() {
		return time.Time{}, false
	}
	q.reported = true
	return q.exhausted, true
}
