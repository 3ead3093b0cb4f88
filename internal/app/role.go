package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/internal/bus/natsbus"
	"github.com/tricyclehq/tricycle/internal/config"
	"github.com/tricyclehq/tricycle/internal/httpapi"
)

// Role is what one `tricycle serve` process runs.
//
// Allowed combinations: RoleAll runs on any store and bus. The split roles
// (gateway, experiments, coordinator) are separate processes that meet only
// through the store and the bus, so they need NATS JetStream (bus.url
// nats://…: the in-process bus cannot carry routing changes, shadow copies
// or outcomes between processes) and a store every process opens: PostgreSQL,
// or a SQLite file when every process runs on one host. An in-memory SQLite
// store (sqlite::memory:) is refused.
type Role string

// The roles.
const (
	// RoleAll runs everything in one process (the default).
	RoleAll Role = "all"
	// RoleGateway serves reviews (the review and chat-completion routes)
	// plus /healthz, /readyz and /metrics; it runs no coordinator loops and
	// reads routing from the store, refreshed on routing events.
	RoleGateway Role = "gateway"
	// RoleExperiments runs the shadow worker, plus /healthz, /readyz and
	// /metrics.
	RoleExperiments Role = "experiments"
	// RoleCoordinator runs the coordinator's loops under the leader lease,
	// the outbox relay, the admin API and the dashboard; no review routes.
	RoleCoordinator Role = "coordinator"
)

// Roles lists the roles in the order the CLI names them.
var Roles = []Role{RoleAll, RoleGateway, RoleExperiments, RoleCoordinator}

// ParseRole returns the role s names ("" is RoleAll).
func ParseRole(s string) (Role, error) {
	if s == "" {
		return RoleAll, nil
	}
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("role %q: %w: want all, gateway, experiments or coordinator", s, coordination.ErrInvalidInput)
}

// RunsCoordinator reports whether the role starts the coordinator's loops
// and the outbox relay.
func (r Role) RunsCoordinator() bool { return r == RoleAll || r == RoleCoordinator }

// ServesReviews reports whether the role serves the review routes.
func (r Role) ServesReviews() bool { return r == RoleAll || r == RoleGateway }

// RunsWorker reports whether the role runs the experiments worker.
func (r Role) RunsWorker() bool { return r == RoleAll || r == RoleExperiments }

// Split reports whether the role is one part of a deployment of several
// processes (every role but RoleAll).
func (r Role) Split() bool { return r != RoleAll && r != "" }

// CheckRole says whether role can run on the configuration's store and bus.
func CheckRole(cfg config.Config, role Role) error {
	if _, err := ParseRole(string(role)); err != nil {
		return err
	}
	if !role.Split() {
		return nil
	}
	bus, err := cfg.Bus.BusKind()
	if err != nil {
		return err
	}
	if bus != config.BusNATS {
		return fmt.Errorf("role %s: %w: the processes of a split deployment meet on NATS JetStream; "+
			"set bus.url (or --bus) to nats://…, or run every role in one process with --role all", role, coordination.ErrInvalidInput)
	}
	kind, path, err := cfg.Storage.StorageKind()
	if err != nil {
		return err
	}
	if kind == config.StorageSQLite && path == ":memory:" {
		return fmt.Errorf("role %s: %w: an in-memory store is private to one process; "+
			"use postgres://… (or a sqlite: file shared on one host)", role, coordination.ErrInvalidInput)
	}
	return nil
}

// Environment variables of the NATS bus and of the replica's name.
const (
	// EnvInstance names this replica's bus consumers and its lease holder
	// (default: host name and process id). It must be unique among the
	// running replicas.
	EnvInstance = "TRICYCLE_INSTANCE"
	// EnvNATSStream names the JetStream stream (default natsbus's TRICYCLE).
	EnvNATSStream = "TRICYCLE_NATS_STREAM"
	// EnvNATSSubjectPrefix is the first token of every subject (default
	// natsbus's tricycle). Deployments sharing a NATS server need distinct
	// streams and prefixes.
	EnvNATSSubjectPrefix = "TRICYCLE_NATS_SUBJECT_PREFIX"
)

// InstanceName returns the replica's name: EnvInstance when set, else the
// host name and the process id.
func InstanceName(lookup func(string) (string, bool)) string {
	if v, ok := lookup(EnvInstance); ok && strings.TrimSpace(v) != "" {
		return strings.TrimSpace(v)
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "host"
	}
	return fmt.Sprintf("%s-%d", host, os.Getpid())
}

// openBus opens the bus the URL names: the in-process bus, or NATS
// JetStream with the stream and subject prefix of EnvNATSStream and
// EnvNATSSubjectPrefix.
func openBus(ctx context.Context, cfg config.Config, log *slog.Logger, instance string, lookup func(string) (string, bool)) (coordination.Bus, error) {
	kind, err := cfg.Bus.BusKind()
	if err != nil {
		return nil, err
	}
	if kind == config.BusMemory {
		return coordination.NewMemoryBus(coordination.MemoryBusOptions{Logger: log}), nil
	}
	opts := natsbus.Options{Logger: log, ClientName: "tricycle " + instance}
	if v, ok := lookup(EnvNATSStream); ok {
		opts.Stream = strings.TrimSpace(v)
	}
	if v, ok := lookup(EnvNATSSubjectPrefix); ok {
		opts.SubjectPrefix = strings.TrimSpace(v)
	}
	b, err := natsbus.Open(ctx, cfg.Bus.URL, opts)
	if err != nil {
		return nil, fmt.Errorf("open bus %s: %w", cfg.Bus.URL, err)
	}
	return b, nil
}

// opsPaths are served by every role.
var opsPaths = []string{"/healthz", "/readyz", "/metrics"}

// reviewPaths are the data plane's routes a gateway serves.
var reviewPaths = []string{"/api/v1/reviews", "/v1/"}

// roleHandler restricts next to the paths role serves: a gateway serves
// the review routes and the operational ones, an experiments worker only
// the operational ones. Other paths answer 404 naming the role that
// serves them.
func roleHandler(role Role, next http.Handler) http.Handler {
	var allowed []string
	switch role {
	case RoleGateway:
		allowed = append(append(allowed, opsPaths...), reviewPaths...)
	case RoleExperiments:
		allowed = opsPaths
	default:
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, p := range allowed {
			if r.URL.Path == p || (strings.HasSuffix(p, "/") && strings.HasPrefix(r.URL.Path, p)) ||
				strings.HasPrefix(r.URL.Path, p+"/") {
				next.ServeHTTP(w, r)
				return
			}
		}
		httpapi.WriteJSON(w, http.StatusNotFound, httpapi.ErrorBody{Error: httpapi.ErrorDetail{Code: "not_found",
			Message: fmt.Sprintf("%s is not served by a %s process; the coordinator role serves the admin API", r.URL.Path, role)}})
	})
}
