package demo

import (
	"fmt"
	"math/rand/v2"

	"github.com/tricyclehq/tricycle/internal/review"
)

// repositories is how many repositories the synthetic traffic comes from;
// the canary split and the shadow sample are sticky by repository.
const repositories = 2000

// traffic generates the synthetic review requests: each from a repository
// drawn uniformly and carrying one of the sample changes, with a sequential
// ID (the simulated reviewers draw their outcome from it, so the same seed
// gives the same outcomes). It is not safe for concurrent use.
type traffic struct {
	rng   *rand.Rand
	diffs []string
	seq   int64
}

func newTraffic(seed uint64) *traffic {
	diffs := make([]string, len(changes))
	for i, c := range changes {
		diffs[i] = c.diff()
	}
	return &traffic{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), diffs: diffs}
}

// next returns the next request.
func (t *traffic) next() review.Request {
	t.seq++
	return review.Request{
		ID:         fmt.Sprintf("rvw-demo-%08d", t.seq),
		Repository: fmt.Sprintf("org/repo-%04d", t.rng.IntN(repositories)),
		Diff:       t.diffs[t.rng.IntN(len(t.diffs))],
	}
}
