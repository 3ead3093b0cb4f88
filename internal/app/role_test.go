package app

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/internal/config"
)

func TestCheckRole(t *testing.T) {
	t.Parallel()
	tests := []struct {
		role     Role
		db, bus  string
		wantErr  string
		wantRole Role
	}{
		{RoleAll, "sqlite::memory:", "memory", "", RoleAll},
		{"", "sqlite:x.db", "memory", "", RoleAll},
		{RoleGateway, "postgres://u@127.0.0.1/t", "nats://127.0.0.1:4222", "", RoleGateway},
		{RoleExperiments, "sqlite:/tmp/shared.db", "nats://127.0.0.1:4222", "", RoleExperiments},
		{RoleCoordinator, "postgres://u@127.0.0.1/t", "memory", "NATS JetStream", ""},
		{RoleGateway, "sqlite:x.db", "memory", "nats://", ""},
		{RoleCoordinator, "sqlite::memory:", "nats://127.0.0.1:4222", "in-memory store", ""},
		{"janitor", "sqlite:x.db", "memory", "janitor", ""},
	}
	for _, tt := range tests {
		t.Run(string(tt.role)+" "+tt.db+" "+tt.bus, func(t *testing.T) {
			t.Parallel()
			cfg := config.Default()
			cfg.Storage.DSN, cfg.Bus.URL = tt.db, tt.bus
			err := CheckRole(cfg, tt.role)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("CheckRole = %v, want nil", err)
				}
				if r, _ := ParseRole(string(tt.role)); r != tt.wantRole {
					t.Fatalf("ParseRole(%q) = %q, want %q", tt.role, r, tt.wantRole)
				}
				return
			}
			if !errors.Is(err, coordination.ErrInvalidInput) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("CheckRole = %v, want an invalid input naming %q", err, tt.wantErr)
			}
		})
	}
}

func TestRoleParts(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		role                   Role
		coord, reviews, worker bool
	}{
		{RoleAll, true, true, true},
		{RoleGateway, false, true, false},
		{RoleExperiments, false, false, true},
		{RoleCoordinator, true, false, false},
	} {
		if tt.role.RunsCoordinator() != tt.coord || tt.role.ServesReviews() != tt.reviews || tt.role.RunsWorker() != tt.worker {
			t.Errorf("%s: coordinator %v reviews %v worker %v", tt.role, tt.role.RunsCoordinator(), tt.role.ServesReviews(), tt.role.RunsWorker())
		}
	}
}

// TestRoleHandler: a gateway serves only reviews and the operational
// routes, an experiments worker only the operational ones, a coordinator
// everything it mounted.
func TestRoleHandler(t *testing.T) {
	t.Parallel()
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	tests := []struct {
		role   Role
		path   string
		served bool
	}{
		{RoleGateway, "/api/v1/reviews", true},
		{RoleGateway, "/api/v1/reviews/rev-1/feedback", true},
		{RoleGateway, "/v1/chat/completions", true},
		{RoleGateway, "/metrics", true},
		{RoleGateway, "/api/v1/experiments", false},
		{RoleGateway, "/api/v1/reviewsx", false},
		{RoleGateway, "/", false},
		{RoleExperiments, "/readyz", true},
		{RoleExperiments, "/api/v1/reviews", false},
		{RoleCoordinator, "/api/v1/experiments", true},
		{RoleAll, "/api/v1/reviews", true},
	}
	for _, tt := range tests {
		w := httptest.NewRecorder()
		roleHandler(tt.role, ok).ServeHTTP(w, httptest.NewRequest("GET", tt.path, nil))
		if served := w.Code == http.StatusTeapot; served != tt.served {
			t.Errorf("%s %s: status %d, served %v, want %v", tt.role, tt.path, w.Code, served, tt.served)
		}
		if !tt.served && (w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), "coordinator role")) {
			t.Errorf("%s %s: %d %s, want a 404 naming the coordinator role", tt.role, tt.path, w.Code, w.Body)
		}
	}
}

func TestInstanceName(t *testing.T) {
	t.Parallel()
	if got := InstanceName(func(string) (string, bool) { return " gw-7 ", true }); got != "gw-7" {
		t.Errorf("InstanceName with %s = %q, want gw-7", EnvInstance, got)
	}
	a := InstanceName(func(string) (string, bool) { return "", false })
	if a == "" || !strings.Contains(a, "-") {
		t.Errorf("InstanceName without %s = %q, want host-pid", EnvInstance, a)
	}
}
