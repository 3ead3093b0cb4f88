package app

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/internal/leadership"
	"github.com/tricyclehq/tricycle/internal/store/postgres"
	"github.com/tricyclehq/tricycle/internal/store/sqlite"
)

// EnvLeaderTTL names the environment variable that sets the coordinator
// lease's time to live (a Go duration, at least MinLeaderTTL; default
// leadership.DefaultTTL). A shorter lease hands over sooner after a crash
// and needs renewals (every third of it) to get through sooner.
const EnvLeaderTTL = "TRICYCLE_LEADER_TTL"

// MinLeaderTTL is the shortest lease EnvLeaderTTL may ask for.
const MinLeaderTTL = time.Second

// newLeader returns the elector of the coordinator lease when the store is
// a SQL store, or nil (the in-memory store has one process by nature).
//
// With PostgreSQL, replicas elect one acting coordinator; a replica whose
// leader crashed takes over once the lease expired, one whose leader shut
// down takes over at once. With SQLite the same lease, under the file's
// write lock, makes sure a single process acts on one file, even when two
// servers are started on it; a server restarted after a crash acts once
// its predecessor's lease expired.
//
// The coordinator starts the elector with its loops and stops it, releasing
// the lease, when it stops (coordination.Options.Leader). The elector's
// clock is the monotonic real clock even when the coordinator's is
// simulated: the lease is about processes, not the cycle's time.
func (a *App) newLeader() (coordination.Leader, error) {
	var leases leadership.Leases
	switch st := a.store.(type) {
	case *postgres.Store:
		leases = st.Leases()
	case *sqlite.Store:
		leases = st.Leases()
	default:
		return nil, nil
	}
	ttl, err := leaderTTL(a.env)
	if err != nil {
		return nil, err
	}
	e, err := leadership.New(leases, leadership.Options{TTL: ttl, Logger: a.log})
	if err != nil {
		return nil, fmt.Errorf("leader election: %w", err)
	}
	if err := registerLeaderMetrics(a.reg, e); err != nil {
		return nil, err
	}
	a.log.Info("leader election", "holder", e.Holder(), "ttl", e.Options().TTL)
	return e, nil
}

// leaderTTL reads EnvLeaderTTL; 0 means the default.
func leaderTTL(lookup func(string) (string, bool)) (time.Duration, error) {
	v, ok := lookup(EnvLeaderTTL)
	if !ok || v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("environment %s: %w: %q is not a duration: %v", EnvLeaderTTL, coordination.ErrInvalidInput, v, err)
	}
	if d < MinLeaderTTL {
		return 0, fmt.Errorf("environment %s: %w: %v is shorter than %v", EnvLeaderTTL, coordination.ErrInvalidInput, d, MinLeaderTTL)
	}
	return d, nil
}

// registerLeaderMetrics exposes whether this process acts and its epoch.
func registerLeaderMetrics(reg prometheus.Registerer, e *leadership.Elector) error {
	acting := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tricycle_coordinator_leader",
		Help: "1 while this process holds the coordinator lease and acts, else 0.",
	}, func() float64 {
		if _, ok := e.Acting(); ok {
			return 1
		}
		return 0
	})
	epoch := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tricycle_coordinator_leader_epoch",
		Help: "The coordinator lease's epoch this process holds, or last saw another hold.",
	}, func() float64 { return float64(e.Status().Epoch) })
	for _, c := range []prometheus.Collector{acting, epoch} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("register leader metrics: %w", err)
		}
	}
	return nil
}
