package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/coordination/alerting"
)

func TestDefaultIsTheDesignNote(t *testing.T) {
	t.Parallel()
	cfg := Default()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
	prod, err := cfg.ProductionVariant()
	if err != nil {
		t.Fatal(err)
	}
	if prod.Name != "baseline" || prod.Provider != coordination.ProviderBuiltin {
		t.Errorf("production variant = %+v, want baseline/builtin", prod)
	}
	cc, want := cfg.Coordination(), coordination.DefaultConfig()
	if !reflect.DeepEqual(cc, want) {
		t.Errorf("Default().Coordination() =\n%+v\nwant coordination.DefaultConfig()\n%+v", cc, want)
	}
	if cfg.Server.Addr != "127.0.0.1:8080" || cfg.Storage.DSN != "sqlite:tricycle.db" || cfg.Bus.URL != "memory" {
		t.Errorf("server/storage/bus = %q %q %q", cfg.Server.Addr, cfg.Storage.DSN, cfg.Bus.URL)
	}
}

func TestLoadSketch(t *testing.T) {
	t.Parallel()
	cfg, err := Load(filepath.Join("testdata", "tricycle.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	if cfg.Server.Addr != "127.0.0.1:9090" {
		t.Errorf("server.addr = %q", cfg.Server.Addr)
	}
	if cfg.Server.ReadTimeout != Default().Server.ReadTimeout {
		t.Errorf("a key absent from the file lost its default: read_timeout = %s", cfg.Server.ReadTimeout)
	}
	if len(cfg.Variants) != 3 || cfg.Variants[1].Simulated == nil || cfg.Variants[1].Simulated.LatencyP95.D() != 2*time.Second {
		t.Fatalf("variants = %+v", cfg.Variants)
	}
	if cfg.Variants[1].Prices.OutputPerMTok != 0.60 {
		t.Errorf("prices = %+v", cfg.Variants[1].Prices)
	}
	th := cfg.Health.Thresholds
	if got := th[alerting.MetricErrorRate]; got.Critical != 0.08 || got.Warning != 0.02 || got.Remediation != "rollback" {
		t.Errorf("error_rate threshold = %+v, want critical 0.08 on top of the defaults", got)
	}
	if _, ok := th[alerting.MetricCPUUtilization]; !ok {
		t.Error("cpu_utilization threshold lost: thresholds absent from the file must keep their defaults")
	}
	hc := cfg.Coordination().Health
	if len(hc.Thresholds) != 4 || hc.Thresholds[0].Metric != alerting.MetricErrorRate || hc.Thresholds[0].Critical != 0.08 {
		t.Errorf("coordination thresholds = %+v", hc.Thresholds)
	}
	if cfg.Log.Format != "json" || cfg.DataDir != "/var/lib/tricycle" {
		t.Errorf("log/data_dir = %+v %q", cfg.Log, cfg.DataDir)
	}
}

func TestLoadMissingFile(t *testing.T) {
	t.Parallel()
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Load(missing) = %v, want ErrNotExist", err)
	}
}

func TestParseRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		doc  string
		want []string // substrings of the error
	}{
		{"unknown top-level key", "server: {addr: ':1'}\nstorrage: {dsn: x}\n", []string{"line 2", "storrage", "unknown key"}},
		{"unknown nested key", "server:\n  adress: ':1'\n", []string{"line 2", "server.adress", "known keys here: addr"}},
		{"unknown variant key", "variants:\n  - {name: a, provider: builtin, modle: x}\n", []string{"line 2", "variants[0].modle"}},
		{"duplicate key", "server:\n  addr: ':1'\n  addr: ':2'\n", []string{"line 3", "server.addr", "duplicate key (first at line 2)"}},
		{"duplicate top-level section", "bus: {url: memory}\nbus: {url: memory}\n", []string{"line 2", "bus", "duplicate"}},
		{"duplicate key in parameters", "variants:\n  - name: a\n    provider: builtin\n    parameters: {t: 1, t: 2}\n", []string{"line 4", "variants[0].parameters.t", "duplicate"}},
		{"wrong type", "cycle:\n  shadow_percent: lots\n", []string{"line 2", "cycle.shadow_percent", "lots"}},
		{"bad duration", "cycle:\n  evaluation_min: 7days\n", []string{"line 2", "cycle.evaluation_min", "7days"}},
		{"number as duration", "health: {window: [1]}\n", []string{"line 1", "health.window", "want a single value"}},
		{"list for a section", "server: [1, 2]\n", []string{"line 1", "server", "want a mapping"}},
		{"scalar for a list", "variants: baseline\n", []string{"line 1", "variants", "want a list"}},
		{"two documents", "bus: {url: memory}\n---\nbus: {url: memory}\n", []string{"line 2", "more than one YAML document"}},
		{"merge key", "base: &b {addr: ':1'}\n", []string{"line 1", "base", "unknown key"}},
		{"merge into section", "x: &b {addr: ':1'}\nserver: {<<: *b}\n", []string{"unknown key"}},
		{"admin token in file", "admin_token: secret-secret-secret\n", []string{"line 1", "admin_token", "unknown key"}},
		{"threshold unknown key", "health:\n  thresholds:\n    error_rate: {critcal: 0.1}\n", []string{"line 3", "health.thresholds.error_rate.critcal"}},
		{"syntax error", "server: {addr: \n", []string{"parse YAML"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(tt.doc))
			if err == nil {
				t.Fatalf("Parse(%q) succeeded, want an error", tt.doc)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Parse error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestParseAccepts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		doc   string
		check func(t *testing.T, c Config)
	}{
		{"empty", "", func(t *testing.T, c Config) {
			if !reflect.DeepEqual(c, Default()) {
				t.Error("empty document is not Default()")
			}
		}},
		{"comment only", "# nothing\n", func(t *testing.T, c Config) {
			if !reflect.DeepEqual(c, Default()) {
				t.Error("comment-only document is not Default()")
			}
		}},
		{"phases replace the plan", "cycle:\n  phases: [{percent: 25, duration: 1m}, {percent: 100, duration: 2m}]\n", func(t *testing.T, c Config) {
			want := []coordination.Phase{{Percent: 25, Duration: Duration(time.Minute)}, {Percent: 100, Duration: Duration(2 * time.Minute)}}
			if !reflect.DeepEqual(c.Cycle.Phases, want) {
				t.Errorf("phases = %+v", c.Cycle.Phases)
			}
		}},
		{"aliases", "variants:\n  - &v {name: a, provider: builtin}\nproduction: {variant: a}\n", func(t *testing.T, c Config) {
			if len(c.Variants) != 1 || c.Variants[0].Name != "a" {
				t.Errorf("variants = %+v", c.Variants)
			}
		}},
		{"slo objectives", "health:\n  slo: {window: 24h, objectives: {latency_p95: 2.5}}\n", func(t *testing.T, c Config) {
			if c.Health.SLO.Objectives["latency_p95"] != 2.5 || c.Health.SLO.Window.D() != 24*time.Hour {
				t.Errorf("slo = %+v", c.Health.SLO)
			}
		}},
		{"threshold without remediation", "health:\n  thresholds:\n    cpu_utilization: {remediation: none}\n", func(t *testing.T, c Config) {
			if got := c.Coordination().Health.Thresholds[3]; got.Metric != "cpu_utilization" || got.Remediation != alerting.NoRemediation || got.Critical != 0.9 {
				t.Errorf("cpu threshold = %+v", got)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Parse([]byte(tt.doc))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			tt.check(t, c)
		})
	}
}

func TestParseDoesNotShareDefaults(t *testing.T) {
	t.Parallel()
	a, err := Parse([]byte("health:\n  thresholds:\n    error_rate: {critical: 0.5}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if Default().Health.Thresholds["error_rate"].Critical != 0.05 || a.Health.Thresholds["error_rate"].Critical != 0.5 {
		t.Error("parsing a file changed the defaults")
	}
}

func TestValidateNamesTheField(t *testing.T) {
	t.Parallel()
	tests := []struct {
		field  string
		mutate func(c *Config)
	}{
		{"server.addr", func(c *Config) { c.Server.Addr = "localhost" }},
		{"server.addr", func(c *Config) { c.Server.Addr = "127.0.0.1:99999" }},
		{"server.read_timeout", func(c *Config) { c.Server.ReadTimeout = 0 }},
		{"server.write_timeout", func(c *Config) { c.Server.WriteTimeout = -1 }},
		{"server.max_body_bytes", func(c *Config) { c.Server.MaxBodyBytes = 0 }},
		{"server.events_replay", func(c *Config) { c.Server.EventsReplay = 0 }},
		{"storage.dsn", func(c *Config) { c.Storage.DSN = "mysql://x" }},
		{"storage.dsn", func(c *Config) { c.Storage.DSN = "sqlite:" }},
		{"storage.dsn", func(c *Config) { c.Storage.DSN = "" }},
		{"bus.url", func(c *Config) { c.Bus.URL = "kafka://x" }},
		{"bus.url", func(c *Config) { c.Bus.URL = "" }},
		{"variants", func(c *Config) { c.Variants = nil }},
		{"variants[1].name", func(c *Config) { c.Variants = append(c.Variants, c.Variants[0]) }},
		{"variants[0].provider", func(c *Config) { c.Variants[0].Provider = "" }},
		{"variants[0].provider", func(c *Config) { c.Variants[0].Provider = "gemini" }},
		{"production.variant", func(c *Config) { c.Production.Variant = "nope" }},
		{"cycle.shadow_percent", func(c *Config) { c.Cycle.ShadowPercent = 0 }},
		{"cycle.shadow_percent", func(c *Config) { c.Cycle.ShadowPercent = 101 }},
		{"cycle.evaluation_max", func(c *Config) { c.Cycle.EvaluationMax = Duration(time.Hour) }},
		{"cycle.phases[1].percent", func(c *Config) { c.Cycle.Phases[1].Percent = 5 }},
		{"cycle.phases", func(c *Config) { c.Cycle.Phases = nil }},
		{"cycle.tolerance", func(c *Config) { c.Cycle.Tolerance = 0 }},
		{"cycle.confidence", func(c *Config) { c.Cycle.Confidence = 1 }},
		{"cycle.poll_interval", func(c *Config) { c.Cycle.PollInterval = 0 }},
		{"cycle.canary_min_samples", func(c *Config) { c.Cycle.CanaryMinSamples = 0 }},
		{"health.window", func(c *Config) { c.Health.Window = 0 }},
		{"health.hysteresis", func(c *Config) { c.Health.Hysteresis = 1 }},
		{"health.thresholds", func(c *Config) { c.Health.Thresholds = nil }},
		{"health.thresholds.disk_usage", func(c *Config) {
			c.Health.Thresholds = Thresholds{"disk_usage": {Direction: "above", Warning: 1, Critical: 2, Remediation: "none"}}
		}},
		{"health.thresholds.error_rate.direction", func(c *Config) { setThreshold(c, "error_rate", func(t *Threshold) { t.Direction = "sideways" }) }},
		{"health.thresholds.error_rate.remediation", func(c *Config) { setThreshold(c, "error_rate", func(t *Threshold) { t.Remediation = "reboot" }) }},
		{"health.thresholds.error_rate.critical", func(c *Config) { setThreshold(c, "error_rate", func(t *Threshold) { t.Critical = 0.01 }) }},
		{"health.thresholds.accuracy_rate.critical", func(c *Config) { setThreshold(c, "accuracy_rate", func(t *Threshold) { t.Critical = 0.95 }) }},
		{"health.slo.objectives", func(c *Config) { c.Health.SLO.Objectives = nil }},
		{"health.slo.objectives.uptime", func(c *Config) { c.Health.SLO.Objectives = map[string]float64{"uptime": 0.99} }},
		{"health.slo.objectives.error_rate", func(c *Config) { c.Health.SLO.Objectives["error_rate"] = 0 }},
		{"health.max_replicas", func(c *Config) { c.Health.MaxReplicas = 0 }},
		{"log.level", func(c *Config) { c.Log.Level = "verbose" }},
		{"log.format", func(c *Config) { c.Log.Format = "xml" }},
		{"admin_token", func(c *Config) { c.AdminToken = "short" }},
		{"admin_token", func(c *Config) { c.AdminToken = "has a space in it somewhere" }},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			t.Parallel()
			c := Default()
			tt.mutate(&c)
			err := c.Validate()
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Validate() = %v, want a *FieldError", err)
			}
			if fe.Field != tt.field {
				t.Errorf("Validate() field = %q (%v), want %q", fe.Field, err, tt.field)
			}
		})
	}
}

func setThreshold(c *Config, metric string, fn func(*Threshold)) {
	ts := Thresholds{}
	for k, v := range c.Health.Thresholds {
		ts[k] = v
	}
	th := ts[metric]
	fn(&th)
	ts[metric] = th
	c.Health.Thresholds = ts
}

func TestStorageAndBusKinds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		dsn, kind, path string
	}{
		{"sqlite:tricycle.db", StorageSQLite, "tricycle.db"},
		{"sqlite:/var/lib/t.db", StorageSQLite, "/var/lib/t.db"},
		{"sqlite::memory:", StorageSQLite, ":memory:"},
		{"postgres://u:p@db:5432/tricycle", StoragePostgres, ""},
		{"postgresql://db/tricycle", StoragePostgres, ""},
	}
	for _, tt := range tests {
		kind, path, err := StorageConfig{DSN: tt.dsn}.StorageKind()
		if err != nil || kind != tt.kind || path != tt.path {
			t.Errorf("StorageKind(%q) = %q, %q, %v; want %q, %q", tt.dsn, kind, path, err, tt.kind, tt.path)
		}
	}
	_, _, err := StorageConfig{DSN: "mysql://u:hunter2@db/x"}.StorageKind()
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("StorageKind(mysql with password) = %v; want an error that hides the password", err)
	}
	for url, want := range map[string]string{"memory": BusMemory, "nats://127.0.0.1:4222": BusNATS} {
		if got, err := (BusConfig{URL: url}).BusKind(); err != nil || got != want {
			t.Errorf("BusKind(%q) = %q, %v; want %q", url, got, err, want)
		}
	}
}

func TestApplyEnv(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
		check   func(t *testing.T, c Config)
	}{
		{name: "short forms", env: map[string]string{"TRICYCLE_ADDR": "0.0.0.0:9000", "TRICYCLE_DB": "sqlite:/tmp/x.db", "TRICYCLE_BUS": "nats://n:4222"},
			check: func(t *testing.T, c Config) {
				if c.Server.Addr != "0.0.0.0:9000" || c.Storage.DSN != "sqlite:/tmp/x.db" || c.Bus.URL != "nats://n:4222" {
					t.Errorf("got %q %q %q", c.Server.Addr, c.Storage.DSN, c.Bus.URL)
				}
			}},
		{name: "long forms", env: map[string]string{"TRICYCLE_DATA_DIR": "/data", "TRICYCLE_CYCLE_SHADOW_PERCENT": "12.5",
			"TRICYCLE_SERVER_READ_TIMEOUT": "3s", "TRICYCLE_HEALTH_MAX_REPLICAS": "4", "TRICYCLE_LOG_LEVEL": "debug"},
			check: func(t *testing.T, c Config) {
				if c.DataDir != "/data" || c.Cycle.ShadowPercent != 12.5 || c.Server.ReadTimeout.D() != 3*time.Second ||
					c.Health.MaxReplicas != 4 || c.Log.Level != "debug" {
					t.Errorf("got %+v", c)
				}
			}},
		{name: "yaml list", env: map[string]string{"TRICYCLE_CYCLE_PHASES": "[{percent: 50, duration: 1m}, {percent: 100, duration: 1m}]"},
			check: func(t *testing.T, c Config) {
				if len(c.Cycle.Phases) != 2 || c.Cycle.Phases[0].Percent != 50 {
					t.Errorf("phases = %+v", c.Cycle.Phases)
				}
			}},
		{name: "thresholds merge", env: map[string]string{"TRICYCLE_HEALTH_THRESHOLDS": "{error_rate: {critical: 0.2}}"},
			check: func(t *testing.T, c Config) {
				if th := c.Health.Thresholds["error_rate"]; th.Critical != 0.2 || th.Warning != 0.02 || len(c.Health.Thresholds) != 4 {
					t.Errorf("thresholds = %+v", c.Health.Thresholds)
				}
			}},
		{name: "admin token", env: map[string]string{"TRICYCLE_ADMIN_TOKEN": "tc_0123456789abcdef"},
			check: func(t *testing.T, c Config) {
				if c.AdminToken != "tc_0123456789abcdef" {
					t.Errorf("admin token = %q", c.AdminToken)
				}
			}},
		{name: "empty counts as unset", env: map[string]string{"TRICYCLE_ADDR": "", "TRICYCLE_ADMIN_TOKEN": ""},
			check: func(t *testing.T, c Config) {
				if c.Server.Addr != Default().Server.Addr || c.AdminToken != "" {
					t.Errorf("got addr %q token %q", c.Server.Addr, c.AdminToken)
				}
			}},
		{name: "client variables are not keys", env: map[string]string{"TRICYCLE_SERVER": "http://x", "TRICYCLE_TOKEN": "t"},
			check: func(t *testing.T, c Config) {
				if !reflect.DeepEqual(c, Default()) {
					t.Error("client variables changed the server configuration")
				}
			}},
		{name: "bad number", env: map[string]string{"TRICYCLE_CYCLE_SHADOW_PERCENT": "five"}, wantErr: "TRICYCLE_CYCLE_SHADOW_PERCENT"},
		{name: "bad duration", env: map[string]string{"TRICYCLE_HEALTH_WINDOW": "5 minutes"}, wantErr: "TRICYCLE_HEALTH_WINDOW"},
		{name: "bad yaml", env: map[string]string{"TRICYCLE_VARIANTS": "[{name: a, provder: builtin}]"}, wantErr: "provder"},
		{name: "disagreeing forms", env: map[string]string{"TRICYCLE_ADDR": ":1", "TRICYCLE_SERVER_ADDR": ":2"}, wantErr: "disagree"},
		{name: "infinite number", env: map[string]string{"TRICYCLE_CYCLE_TOLERANCE": "Inf"}, wantErr: "finite"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := ApplyEnv(Default(), func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ApplyEnv = %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestPrecedence(t *testing.T) {
	t.Parallel()
	// defaults < file < env < flags
	c, err := Parse([]byte("server: {addr: '127.0.0.1:1'}\nlog: {level: warn}\ncycle: {shadow_percent: 7}\n"))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"TRICYCLE_ADDR": "127.0.0.1:2", "TRICYCLE_LOG_LEVEL": "error"}
	c, err = ApplyEnv(c, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Set("server.addr", "127.0.0.1:3"); err != nil { // a flag
		t.Fatal(err)
	}
	if c.Server.Addr != "127.0.0.1:3" || c.Log.Level != "error" || c.Cycle.ShadowPercent != 7 || c.Log.Format != "text" {
		t.Errorf("addr %q level %q shadow %v format %q", c.Server.Addr, c.Log.Level, c.Cycle.ShadowPercent, c.Log.Format)
	}
}

func TestSetDoesNotShareMaps(t *testing.T) {
	t.Parallel()
	a := Default()
	b := a
	if err := b.Set("health.slo.objectives", "{latency_p95: 1.5}"); err != nil {
		t.Fatal(err)
	}
	if err := b.Set("health.thresholds", "{error_rate: {critical: 0.3}}"); err != nil {
		t.Fatal(err)
	}
	if a.Health.SLO.Objectives["latency_p95"] != 3 || a.Health.Thresholds["error_rate"].Critical != 0.05 {
		t.Error("setting a copy changed the original configuration")
	}
	if b.Health.SLO.Objectives["latency_p95"] != 1.5 || b.Health.SLO.Objectives["error_rate"] != 0.02 {
		t.Errorf("objectives = %v, want latency_p95 replaced and error_rate kept", b.Health.SLO.Objectives)
	}
}

func TestSet(t *testing.T) {
	t.Parallel()
	c := Default()
	for _, bad := range []struct{ key, value string }{
		{"server", "x"}, {"server.nope", "x"}, {"nope", "x"}, {"server.addr.port", "1"},
		{"server.max_body_bytes", "1.5"}, {"admin_token", "x"},
	} {
		err := c.Set(bad.key, bad.value)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != bad.key {
			t.Errorf("Set(%q, %q) = %v, want a FieldError naming the key", bad.key, bad.value, err)
		}
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Error("failed Set calls changed the configuration")
	}
	for _, k := range Keys() {
		if strings.Contains(k, "admin") {
			t.Errorf("Keys() lists the secret %q", k)
		}
	}
}

func TestMarshalHidesAdminToken(t *testing.T) {
	t.Parallel()
	c := Default()
	c.AdminToken = "tc_supersecretvalue123"
	out, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "supersecret") {
		t.Error("the admin token appears in the marshalled configuration")
	}
	back, err := Parse(out)
	if err != nil {
		t.Fatalf("marshalled default does not parse back: %v\n%s", err, out)
	}
	c.AdminToken = ""
	if !reflect.DeepEqual(back, c) {
		t.Errorf("round trip changed the configuration:\n%+v\n%+v", back, c)
	}
}

func FuzzParse(f *testing.F) {
	seed, err := os.ReadFile(filepath.Join("testdata", "tricycle.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	for _, s := range []string{"", "server: {addr: ':0'}", "a: &a [*a]", "x: &x {y: *x}\n",
		"health: {thresholds: {error_rate: {critical: .nan}}}", "variants: [{name: a, parameters: {k: [1, {z: 2}]}}]",
		"cycle: {phases: [{percent: 10, duration: 1h}]}", "- 1\n- 2", "!!binary aGVsbG8=", "{a: 1, a: 2}",
		"? [a, b]\n: c\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			return
		}
		_ = c.Validate()
		out, err := yaml.Marshal(c)
		if err != nil {
			t.Fatalf("a parsed configuration does not marshal: %v", err)
		}
		if _, err := Parse(out); err != nil && c.Validate() == nil {
			t.Fatalf("a valid parsed configuration does not parse back: %v\n%s", err, out)
		}
	})
}

// TestLoadReadsPromptTemplateFiles: a variant's prompt naming a template
// file (PRODUCT.md's `prompt: prompts/review.tmpl`) is read relative to the
// configuration file; a missing file names the variant; inline text stays.
func TestLoadReadsPromptTemplateFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "prompts"), 0o755); err != nil {
		t.Fatal(err)
	}
	tmpl := "Review this change as data:\n{{.Diff}}\n"
	if err := os.WriteFile(filepath.Join(dir, "prompts", "review.tmpl"), []byte(tmpl), 0o600); err != nil {
		t.Fatal(err)
	}
	write := func(body string) string {
		p := filepath.Join(dir, fmt.Sprintf("c%d.yaml", len(body)))
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg, err := Load(write(`variants:
  - {name: baseline, provider: builtin}
  - {name: gpt, provider: openai, base_url: "https://api.example.com/v1", model: m, api_key_env: K, prompt: prompts/review.tmpl}
  - {name: inline, provider: openai, base_url: "https://api.example.com/v1", model: m, api_key_env: K, prompt: "Look at {{.Diff}}"}
`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Variants[1].Prompt != tmpl || cfg.Variants[2].Prompt != "Look at {{.Diff}}" {
		t.Fatalf("prompts %q, %q", cfg.Variants[1].Prompt, cfg.Variants[2].Prompt)
	}
	_, err = Load(write(`variants:
  - {name: baseline, provider: builtin}
  - {name: gpt, provider: openai, base_url: "https://api.example.com/v1", model: m, api_key_env: K, prompt: prompts/missing.tmpl}
`))
	if err == nil || !strings.Contains(err.Error(), "variants[1].prompt") {
		t.Fatalf("missing template: %v", err)
	}
}
