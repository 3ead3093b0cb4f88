package deploy

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/tricyclehq/tricycle/coordination/alerting"
	"github.com/tricyclehq/tricycle/deploy/deploytest"
)

const (
	rulesFile     = "prometheus/rules.yml"
	rulesTestFile = "prometheus/rules_test.yml"
)

// ruleFile is the Prometheus rule file format.
type ruleFile struct {
	Groups []struct {
		Name     string `yaml:"name"`
		Interval string `yaml:"interval"`
		Rules    []rule `yaml:"rules"`
	} `yaml:"groups"`
}

type rule struct {
	Record      string            `yaml:"record"`
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

func loadRules(t *testing.T) []rule {
	t.Helper()
	data, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var f ruleFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	var out []rule
	for _, g := range f.Groups {
		out = append(out, g.Rules...)
	}
	return out
}

// recordedLabels returns the recording rules' names and the labels their
// series carry: those of their grouping clauses.
func recordedLabels(t *testing.T, rules []rule) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, r := range rules {
		if r.Record == "" {
			continue
		}
		refs, err := parsePromQL(r.Expr)
		if err != nil {
			t.Fatalf("recording rule %s: %v", r.Record, err)
		}
		labels := slices.Clone(refs.grouping)
		for k := range r.Labels {
			labels = append(labels, k)
		}
		out[r.Record] = labels
	}
	return out
}

func TestPromtoolCheckRules(t *testing.T) {
	t.Parallel()
	promtool := deploytest.LookTool(t, "promtool")
	out, err := exec.CommandContext(t.Context(), promtool, "check", "rules", rulesFile).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
}

func TestPromtoolTestRules(t *testing.T) {
	t.Parallel()
	promtool := deploytest.LookTool(t, "promtool")
	out, err := exec.CommandContext(t.Context(), promtool, "test", "rules", rulesTestFile).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}

// thresholdExpr is the shape of a threshold alert: a recorded series
// compared with a constant.
var thresholdExpr = regexp.MustCompile(`^\s*(tricycle:[a-z0-9_:]+)\s*([<>])\s*([0-9.eE+-]+)\s*$`)

// TestRulesMirrorTheHealthMonitor checks the health alerts against the
// health monitor's default thresholds: one warning and one critical alert
// per metric, on the unhealthy side of the same level, after the same
// delay, labelled with the same remediation.
func TestRulesMirrorTheHealthMonitor(t *testing.T) {
	t.Parallel()
	rules := loadRules(t)
	cfg := alerting.DefaultConfig()
	covered := map[string]bool{}
	for _, th := range cfg.Thresholds {
		for _, sev := range alerting.Severities() {
			var found []rule
			for _, r := range rules {
				if r.Alert != "" && r.Labels["metric"] == th.Metric && r.Labels["severity"] == string(sev) {
					found = append(found, r)
				}
			}
			if len(found) != 1 {
				t.Errorf("%s %s: %d alert rules, want 1", th.Metric, sev, len(found))
				continue
			}
			r := found[0]
			covered[r.Alert+"/"+string(sev)] = true
			m := thresholdExpr.FindStringSubmatch(r.Expr)
			if m == nil {
				t.Errorf("%s %s: expr %q is not `recorded-series <op> level`", th.Metric, sev, r.Expr)
				continue
			}
			wantOp := map[alerting.Direction]string{alerting.Above: ">", alerting.Below: "<"}[th.Direction]
			level, err := strconv.ParseFloat(m[3], 64)
			if err != nil || m[2] != wantOp || level != th.Level(sev) {
				t.Errorf("%s %s: expr %q, want %s %v", th.Metric, sev, r.Expr, wantOp, th.Level(sev))
			}
			if d, err := time.ParseDuration(r.For); err != nil || d != cfg.For {
				t.Errorf("%s %s: for %q, want %s", th.Metric, sev, r.For, cfg.For)
			}
			wantRem := ""
			if sev == alerting.Critical {
				wantRem = string(th.Remediation)
			}
			if r.Labels["remediation"] != wantRem {
				t.Errorf("%s %s: remediation label %q, want %q", th.Metric, sev, r.Labels["remediation"], wantRem)
			}
			if !slices.Contains(recordedSeries(rules), m[1]) {
				t.Errorf("%s %s: compares %s, which no recording rule defines", th.Metric, sev, m[1])
			}
		}
	}
	for _, r := range rules {
		if r.Labels["metric"] != "" && !covered[r.Alert+"/"+r.Labels["severity"]] {
			t.Errorf("alert %s (%s) names metric %q, which the health monitor does not watch", r.Alert, r.Labels["severity"], r.Labels["metric"])
		}
	}
}

func recordedSeries(rules []rule) []string {
	var out []string
	for _, r := range rules {
		if r.Record != "" {
			out = append(out, r.Record)
		}
	}
	return out
}

// TestSLORulesUseTheObjectives checks that the burn-rate alerts use the
// product's SLO targets: the 2% error rate as the error budget, and the 3 s
// latency objective with its 5% slow-request budget.
func TestSLORulesUseTheObjectives(t *testing.T) {
	t.Parallel()
	rules := loadRules(t)
	num := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	budgets := map[string]string{}
	for _, o := range alerting.DefaultObjectives() {
		switch o.Name {
		case alerting.ObjectiveErrorRate:
			budgets[o.Name] = num(o.Target)
		case alerting.ObjectiveLatencyP95:
			budgets[o.Name] = num(alerting.SlowFractionAllowed)
			for _, r := range rules {
				if strings.HasPrefix(r.Record, "tricycle:slo_slow_ratio:") && !strings.Contains(r.Expr, fmt.Sprintf(`le="%s"`, num(o.Target))) {
					t.Errorf("%s does not count requests over the %ss objective: %s", r.Record, num(o.Target), r.Expr)
				}
			}
		}
	}
	burn := 0
	for _, r := range rules {
		slo := r.Labels["slo"]
		if slo == "" {
			continue
		}
		burn++
		budget, ok := budgets[slo]
		if !ok {
			t.Errorf("alert %s names SLO %q, which is not a product objective", r.Alert, slo)
			continue
		}
		if n := strings.Count(r.Expr, "* "+budget+")"); n != 2 {
			t.Errorf("alert %s (%s): expr uses the budget %s %d times, want both windows: %s", r.Alert, slo, budget, n, r.Expr)
		}
	}
	if burn != 2*len(budgets) {
		t.Errorf("%d burn-rate alerts, want a fast and a slow one per objective (%d)", burn, 2*len(budgets))
	}
}

func TestRulesAreWellFormedAndUseKnownMetrics(t *testing.T) {
	t.Parallel()
	rules := loadRules(t)
	catalog := newCatalog(recordedLabels(t, rules))
	for _, r := range rules {
		name := r.Record + r.Alert
		for _, err := range catalog.check(r.Expr) {
			t.Errorf("%s: %v", name, err)
		}
		if r.Alert == "" {
			continue
		}
		if !slices.Contains(severities, r.Labels["severity"]) {
			t.Errorf("alert %s: severity %q", name, r.Labels["severity"])
		}
		if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
			t.Errorf("alert %s: summary and description annotations are required", name)
		}
	}
}
