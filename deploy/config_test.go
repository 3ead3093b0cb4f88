package deploy

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/tricyclehq/tricycle/internal/config"
)

// TestConfigMapsAreValidServerConfig loads the ConfigMaps' tricycle.yaml
// the way `tricycle serve --config` does, with the database URL that the
// Secret provides, so a key the server does not know fails here rather than
// in a crash-looping pod.
func TestConfigMapsAreValidServerConfig(t *testing.T) {
	t.Parallel()
	cms := objectsOf[*corev1.ConfigMap](defaultSet(t))
	if len(cms) != 3 {
		t.Fatalf("%d ConfigMaps, want one per role namespace", len(cms))
	}
	first := cms[0].Data["tricycle.yaml"]
	for _, cm := range cms {
		doc, ok := cm.Data["tricycle.yaml"]
		if !ok || len(cm.Data) != 1 {
			t.Errorf("%s/%s: keys %v, want only tricycle.yaml", cm.Namespace, cm.Name, keysOf(cm.Data))
			continue
		}
		if doc != first {
			t.Errorf("%s/%s differs from %s/%s: keep the copies identical", cm.Namespace, cm.Name, cms[0].Namespace, cms[0].Name)
		}
		cfg, err := config.Parse([]byte(doc))
		if err != nil {
			t.Errorf("%s/%s: %v", cm.Namespace, cm.Name, err)
			continue
		}
		cfg, err = config.ApplyEnv(cfg, envFrom(map[string]string{
			"TRICYCLE_DB":          "postgres://tricycle:secret@postgresql.platform-data.svc:5432/tricycle?sslmode=require",
			"TRICYCLE_ADMIN_TOKEN": "an-admin-token-from-the-secret",
		}))
		if err != nil {
			t.Fatalf("%s/%s: environment: %v", cm.Namespace, cm.Name, err)
		}
		if err := cfg.Validate(); err != nil {
			t.Errorf("%s/%s: invalid: %v", cm.Namespace, cm.Name, err)
		}
		if kind, _ := cfg.Bus.BusKind(); kind != config.BusNATS {
			t.Errorf("%s/%s: bus %q, want NATS: V1 and V2 meet only on the bus", cm.Namespace, cm.Name, cfg.Bus.URL)
		}
		if !strings.HasPrefix(cfg.Server.Addr, "0.0.0.0:8080") {
			t.Errorf("%s/%s: listens on %q; the probes and Services expect 0.0.0.0:8080", cm.Namespace, cm.Name, cfg.Server.Addr)
		}
		if cfg.DataDir != "/var/lib/tricycle" {
			t.Errorf("%s/%s: data_dir %q is not the writable volume /var/lib/tricycle", cm.Namespace, cm.Name, cfg.DataDir)
		}
	}
}

func envFrom(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func keysOf(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
