package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const dashboardFile = "grafana/tricycle.json"

// dashboard is the part of Grafana's dashboard model the tests read.
type dashboard struct {
	ID            *int    `json:"id"`
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      json.RawMessage `json:"query"`
			Datasource *datasourceRef  `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
	Annotations struct {
		List []struct {
			Name       string         `json:"name"`
			Expr       string         `json:"expr"`
			Datasource *datasourceRef `json:"datasource"`
		} `json:"list"`
	} `json:"annotations"`
}

type datasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type panel struct {
	ID         int            `json:"id"`
	Type       string         `json:"type"`
	Title      string         `json:"title"`
	GridPos    gridPos        `json:"gridPos"`
	Datasource *datasourceRef `json:"datasource"`
	Targets    []struct {
		RefID      string         `json:"refId"`
		Expr       string         `json:"expr"`
		Datasource *datasourceRef `json:"datasource"`
	} `json:"targets"`
	Panels []panel `json:"panels"`
}

type gridPos struct {
	X int `json:"x"`
	Y int `json:"y"`
	W int `json:"w"`
	H int `json:"h"`
}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return d
}

// allPanels returns the dashboard's panels, those inside collapsed rows
// included.
func (d dashboard) allPanels() []panel {
	var out []panel
	for _, p := range d.Panels {
		out = append(out, p)
		out = append(out, p.Panels...)
	}
	return out
}

// expressions returns every PromQL expression of the dashboard, keyed by
// where it is.
func (d dashboard) expressions() map[string]string {
	out := map[string]string{}
	for _, p := range d.allPanels() {
		for _, tg := range p.Targets {
			out[fmt.Sprintf("panel %q target %s", p.Title, tg.RefID)] = tg.Expr
		}
	}
	for _, a := range d.Annotations.List {
		if a.Expr != "" {
			out[fmt.Sprintf("annotation %q", a.Name)] = a.Expr
		}
	}
	return out
}

var labelValuesCall = regexp.MustCompile(`^label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)$`)

func TestDashboardNamesOnlyKnownMetrics(t *testing.T) {
	t.Parallel()
	d := loadDashboard(t)
	catalog := newCatalog(recordedLabels(t, loadRules(t)))
	exprs := d.expressions()
	if len(exprs) < 20 {
		t.Fatalf("only %d expressions in the dashboard", len(exprs))
	}
	for where, expr := range exprs {
		if strings.TrimSpace(expr) == "" {
			t.Errorf("%s: empty expression", where)
		}
		for _, err := range catalog.check(expr) {
			t.Errorf("%s: %v", where, err)
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(v.Query, &q); err != nil {
			t.Errorf("variable %s: query: %v", v.Name, err)
			continue
		}
		m := labelValuesCall.FindStringSubmatch(q.Query)
		if m == nil {
			t.Errorf("variable %s: query %q is not label_values(metric, label)", v.Name, q.Query)
			continue
		}
		if labels, ok := catalog.labelsOf(m[1]); !ok || !slices.Contains(labels, m[2]) {
			t.Errorf("variable %s: %s has no label %s", v.Name, m[1], m[2])
		}
	}
}

// TestDashboardCoversTheCycle checks that each area an operator looks for
// has panels, by the metrics they read.
func TestDashboardCoversTheCycle(t *testing.T) {
	t.Parallel()
	var all strings.Builder
	for _, e := range loadDashboard(t).expressions() {
		all.WriteString(e + "\n")
	}
	text := all.String()
	for area, needle := range map[string]string{
		"V2 SLO latency":         `tricycle_review_latency_seconds_bucket{series_kind=~"production|canary"`,
		"error budget":           "tricycle_error_budget_remaining",
		"canary vs stable":       `sum by (series_kind, variant) (rate(tricycle_reviews_total{series_kind=~"production|canary"`,
		"canary weight":          "tricycle_canary_weight_percent",
		"experiments by state":   "tricycle_experiments",
		"experiments vs V2":      `series_kind=~"shadow|production"`,
		"cost per review":        "tricycle_cost_usd_total",
		"health monitor alerts":  "tricycle_active_alerts",
		"prometheus alerts":      `ALERTS{alertname=~"Tricycle.*"`,
		"gateway cpu":            "container_cpu_usage_seconds_total",
		"shadow traffic dropped": "tricycle_shadow_dropped_total",
	} {
		if !strings.Contains(text, needle) {
			t.Errorf("no panel for %s (no expression contains %q)", area, needle)
		}
	}
}

func TestDashboardIsProvisioningReady(t *testing.T) {
	t.Parallel()
	d := loadDashboard(t)
	if d.ID != nil {
		t.Errorf("id is %d; a provisioned dashboard has a null id and is known by its uid", *d.ID)
	}
	if d.UID == "" || d.Title == "" || d.SchemaVersion < 36 {
		t.Errorf("uid %q, title %q, schemaVersion %d; want a uid, a title and schema 36 or later", d.UID, d.Title, d.SchemaVersion)
	}
	var dsVar bool
	for _, v := range d.Templating.List {
		dsVar = dsVar || (v.Name == "datasource" && v.Type == "datasource" && string(v.Query) == `"prometheus"`)
		if v.Datasource != nil && v.Datasource.UID != "${datasource}" {
			t.Errorf("variable %s: data source %q, want ${datasource}", v.Name, v.Datasource.UID)
		}
	}
	if !dsVar {
		t.Error("no datasource variable of type prometheus: the dashboard would be bound to one data source")
	}
	ids := map[int]string{}
	var cells []gridPos
	for _, p := range d.allPanels() {
		if prev, dup := ids[p.ID]; dup || p.ID == 0 {
			t.Errorf("panel %q: id %d is missing or already used by %q", p.Title, p.ID, prev)
		}
		ids[p.ID] = p.Title
		g := p.GridPos
		if p.Title == "" || g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
			t.Errorf("panel %q: no title or a grid position %+v outside the 24 columns", p.Title, g)
		}
		for _, c := range cells {
			if g.X < c.X+c.W && c.X < g.X+g.W && g.Y < c.Y+c.H && c.Y < g.Y+g.H {
				t.Errorf("panel %q at %+v overlaps another at %+v", p.Title, g, c)
			}
		}
		cells = append(cells, g)
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" || len(p.Targets) == 0 {
			t.Errorf("panel %q: data source %v with %d targets, want ${datasource} and at least one", p.Title, p.Datasource, len(p.Targets))
		}
		for _, tg := range p.Targets {
			if tg.RefID == "" || (tg.Datasource != nil && tg.Datasource.UID != "${datasource}") {
				t.Errorf("panel %q: target %q has no refId or another data source", p.Title, tg.RefID)
			}
		}
	}
}

func TestGrafanaProvisioningFiles(t *testing.T) {
	t.Parallel()
	strict := func(path string, out any) {
		t.Helper()
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(out); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	var dashboards struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Name                  string `yaml:"name"`
			OrgID                 int    `yaml:"orgId"`
			Folder                string `yaml:"folder"`
			Type                  string `yaml:"type"`
			DisableDeletion       bool   `yaml:"disableDeletion"`
			AllowUIUpdates        bool   `yaml:"allowUiUpdates"`
			UpdateIntervalSeconds int    `yaml:"updateIntervalSeconds"`
			Options               struct {
				Path                      string `yaml:"path"`
				FoldersFromFilesStructure bool   `yaml:"foldersFromFilesStructure"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	strict("grafana/provisioning/dashboards/tricycle.yaml", &dashboards)
	if dashboards.APIVersion != 1 || len(dashboards.Providers) != 1 || dashboards.Providers[0].Type != "file" ||
		!strings.HasPrefix(dashboards.Providers[0].Options.Path, "/") {
		t.Errorf("dashboard provisioning %+v, want apiVersion 1 and one file provider with an absolute path", dashboards)
	}
	var sources struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Name      string         `yaml:"name"`
			Type      string         `yaml:"type"`
			UID       string         `yaml:"uid"`
			Access    string         `yaml:"access"`
			URL       string         `yaml:"url"`
			IsDefault bool           `yaml:"isDefault"`
			Editable  bool           `yaml:"editable"`
			JSONData  map[string]any `yaml:"jsonData"`
		} `yaml:"datasources"`
	}
	strict("grafana/provisioning/datasources/prometheus.yaml", &sources)
	if sources.APIVersion != 1 || len(sources.Datasources) != 1 || sources.Datasources[0].Type != "prometheus" || sources.Datasources[0].URL == "" {
		t.Errorf("data source provisioning %+v, want one Prometheus data source", sources)
	}
}
