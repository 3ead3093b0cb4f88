package cli

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tricyclehq/tricycle/coordination"
)

// createExperiment creates an experiment with flags and returns its id.
func (f *fixture) createExperiment(title string, extra ...string) string {
	f.t.Helper()
	var e coordination.Experiment
	f.okJSON(&e, append([]string{"experiment", "create", "--title", title, "--hypothesis", "it is better",
		"--criterion", "accuracy=> 90%", "--criterion", "latency_p95=< 3s", "--criterion", "cost_per_review=< $0.15"}, extra...)...)
	if !strings.HasPrefix(e.ID, "exp-") || e.State != coordination.ExperimentProposed {
		f.t.Fatalf("created %+v", e)
	}
	return e.ID
}

func TestExperimentToProductionAndBack(t *testing.T) {
	t.Parallel()
	f := setup(t)
	id := f.createExperiment("Test GPT-4.5 for security analysis", "--provider", "openai", "--model", "gpt-4.5", "--budget", "25")

	if out := f.ok("experiment", "list"); !strings.Contains(out, id) || !strings.Contains(out, "proposed") {
		t.Errorf("list:\n%s", out)
	}
	if out := f.ok("experiment", "list", "--state", "running"); strings.Contains(out, id) || !strings.Contains(out, "no experiments") {
		t.Errorf("list --state running shows a proposed experiment:\n%s", out)
	}
	out := f.ok("experiment", "show", id)
	for _, want := range []string{"accuracy > 90%", "provider openai, model gpt-4.5", "$25.00", "7d – 14d"} {
		if !strings.Contains(out, want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}
	if out := f.ok("experiment", "start", id, "--approver", "admin@example.com"); !strings.Contains(out, "running") {
		t.Errorf("start: %s", out)
	}
	oneErrorLine(t, f.run(nil, "experiment", "start", id), ExitError, id, `state "running"`)

	out = f.ok("experiment", "evaluate", id, "--metric", "accuracy=0.92", "--metric", "latency_p95=2.5", "--metric", "cost_per_review=0.12")
	if !strings.Contains(out, id+": PROMOTE") || !strings.Contains(out, "tricycle promotion approve prm-") {
		t.Fatalf("evaluate:\n%s", out)
	}
	e, err := f.coord.GetExperiment(t.Context(), id)
	if err != nil || e.State != coordination.ExperimentPromoting {
		t.Fatalf("after PROMOTE the experiment is %+v, %v", e, err)
	}
	prm := e.PromotionID
	if out := f.ok("promotion", "list"); !strings.Contains(out, prm) || !strings.Contains(out, "awaiting_approval") {
		t.Errorf("promotion list:\n%s", out)
	}
	if out := f.ok("promotion", "approve", prm, "--approver", "admin@example.com"); !strings.Contains(out, "phase_1 at 10%") {
		t.Errorf("approve: %s", out)
	}
	oneErrorLine(t, f.run(nil, "promotion", "approve", prm), ExitError, "already approved")
	if out := f.ok("promotion", "show", prm); !strings.Contains(out, "phases:") || !strings.Contains(out, "validation:") {
		t.Errorf("promotion show:\n%s", out)
	}
	if out := f.ok("status"); !strings.Contains(out, prm+" of "+id+": phase_1 at 10%") {
		t.Errorf("status:\n%s", out)
	}

	// An emergency rollback ends the canary and quarantines the experiment.
	oneErrorLine(t, f.run(nil, "rollback"), ExitUsage, "--reason is required")
	if out := f.ok("rollback", "--reason", "p95 doubled"); !strings.Contains(out, "production is baseline") {
		t.Errorf("rollback: %s", out)
	}
	p, err := f.coord.Promotion().GetPromotion(t.Context(), prm)
	if err != nil || p.State != coordination.PromotionRolledBack {
		t.Fatalf("promotion after rollback: %+v, %v", p, err)
	}
	oneErrorLine(t, f.run(nil, "rollback", "--reason", "again"), ExitError, "not found")

	var recs list[coordination.QuarantineRecord]
	f.okJSON(&recs, "quarantine", "list")
	if len(recs.Items) != 1 || recs.Items[0].ExperimentID != id {
		t.Fatalf("quarantine list: %+v", recs)
	}
	rec := recs.Items[0].RecordID
	if out := f.ok("quarantine", "show", rec); !strings.Contains(out, "root cause:") || !strings.Contains(out, "manual") {
		t.Errorf("quarantine show:\n%s", out)
	}

	// Creating it again is refused by the blacklist, naming the record.
	r := f.run(nil, "experiment", "create", "--title", "again", "--provider", "openai", "--model", "gpt-4.5")
	oneErrorLine(t, r, ExitError, "blacklisted", rec)

	// A review approving a retry lifts the blacklist and proposes a retry.
	out = f.ok("quarantine", "review", rec, "--reviewer", "lead@example.com", "--retry-approved", "--notes", "new model")
	if !strings.Contains(out, "retry approved: proposal prop-") {
		t.Fatalf("review: %s", out)
	}
	if out := f.ok("quarantine", "show", rec); !strings.Contains(out, "lead@example.com") {
		t.Errorf("quarantine show lacks the review:\n%s", out)
	}
	var props list[coordination.Proposal]
	f.okJSON(&props, "proposals", "list", "--state", "suggested")
	if len(props.Items) != 1 || props.Items[0].RecordID != rec {
		t.Fatalf("proposals: %+v", props)
	}
	if out := f.ok("proposals", "accept", props.Items[0].ProposalID); !strings.Contains(out, "as experiment exp-") {
		t.Errorf("accept: %s", out)
	}

	if out := f.ok("audit", "verify"); !strings.Contains(out, "audit chain verified") {
		t.Errorf("audit verify: %s", out)
	}
	if out := f.ok("audit", "list", "--limit", "3"); strings.Count(out, "\n") != 4 {
		t.Errorf("audit list --limit 3 printed:\n%s", out)
	}
}

func TestExperimentCreateFromFileAndStdin(t *testing.T) {
	t.Parallel()
	f := setup(t)
	dir := t.TempDir()
	variant := filepath.Join(dir, "v.yaml")
	if err := os.WriteFile(variant, []byte("name: fast-sim\nprovider: simulated\nmodel: sim-1\nsimulated: {latency_p50: 800ms, latency_p95: 2s}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	id := f.createExperiment("From a variant file", "--variant-file", variant)
	e, err := f.coord.GetExperiment(t.Context(), id)
	if err != nil || e.Variant.Name != "fast-sim" || e.Variant.Simulated == nil {
		t.Fatalf("variant file: %+v, %v", e, err)
	}

	body := `{"title": "From JSON", "hypothesis": "h", "success_criteria": {"accuracy": "> 95%"}}`
	var got coordination.Experiment
	r := execute(map[string]string{"TRICYCLE_SERVER": f.srv.URL, "TRICYCLE_TOKEN": f.admin}, body,
		"experiment", "create", "-f", "-", "-o", "json")
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &got) != nil || got.SuccessCriteria["accuracy"] != "> 95%" {
		t.Fatalf("create -f -: %+v", r)
	}
	oneErrorLine(t, f.run(nil, "experiment", "create", "-f", "x.json", "--title", "t"), ExitUsage, "-f cannot be combined with --title")
	oneErrorLine(t, execute(map[string]string{"TRICYCLE_SERVER": f.srv.URL}, `{"title": "x", "colour": "red"}`,
		"experiment", "create", "-f", "-", "--token", f.admin), ExitError, "colour")
}

func TestErrorsAreOneLine(t *testing.T) {
	t.Parallel()
	f := setup(t)
	tests := []struct {
		name  string
		env   map[string]string
		args  []string
		code  int
		parts []string
	}{
		{"unknown experiment", nil, []string{"experiment", "show", "exp-missing"}, ExitError, []string{`"exp-missing"`, "not found"}},
		{"no token", map[string]string{"TRICYCLE_TOKEN": ""}, []string{"status"}, ExitError, []string{"--token", "TRICYCLE_TOKEN"}},
		{"revoked or wrong token", map[string]string{"TRICYCLE_TOKEN": "tc_not-a-token"}, []string{"status"}, ExitError, []string{"TRICYCLE_TOKEN"}},
		{"user may not create", map[string]string{"TRICYCLE_TOKEN": f.user}, []string{"experiment", "create", "--title", "x"}, ExitError, []string{"experiments:write"}},
		{"malformed criterion", nil, []string{"experiment", "create", "--title", "x", "--criterion", "accuracy 90%"}, ExitUsage, []string{"accuracy 90%"}},
		{"unknown metric", nil, []string{"experiment", "create", "--title", "x", "--criterion", "happiness=> 90%"}, ExitError, []string{"happiness"}},
		{"bad metric value", nil, []string{"experiment", "evaluate", "exp-x", "--metric", "accuracy=high"}, ExitUsage, []string{"accuracy=high"}},
		{"missing title", nil, []string{"experiment", "create"}, ExitUsage, []string{"--title is required"}},
		{"bad output format", nil, []string{"status", "-o", "yaml"}, ExitUsage, []string{"yaml"}},
		{"unknown command", nil, []string{"frobnicate"}, ExitUsage, []string{"frobnicate"}},
		{"unknown subcommand", nil, []string{"experiment", "frobnicate"}, ExitUsage, []string{"frobnicate", "create"}},
		{"group without subcommand", nil, []string{"promotion"}, ExitUsage, []string{"needs a subcommand"}},
		{"unknown flag", nil, []string{"status", "--colour"}, ExitUsage, []string{"--colour"}},
		{"missing argument", nil, []string{"promotion", "approve"}, ExitUsage, []string{"ID"}},
		{"bad role", nil, []string{"token", "create", "--name", "ci", "--role", "root"}, ExitUsage, []string{"root"}},
		{"bad server URL", map[string]string{"TRICYCLE_SERVER": "ftp://host"}, []string{"status"}, ExitUsage, []string{"http or https"}},
		{"credentials in server URL", nil, []string{"status", "--server", "http://u:p@127.0.0.1:1"}, ExitUsage, []string{"--token"}},
		{"eval unknown variant", nil, []string{"eval", "--variant", "nope"}, ExitUsage, []string{"nope", "baseline"}},
		{"eval missing golden set", nil, []string{"eval", "--golden", "/nonexistent/golden"}, ExitError, []string{"golden"}},
		{"review without diff", nil, []string{"review"}, ExitUsage, []string{"--diff"}},
		{"unreadable diff", nil, []string{"review", "--diff", "/nonexistent/x.patch"}, ExitError, []string{"x.patch"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			oneErrorLine(t, f.run(tt.env, tt.args...), tt.code, tt.parts...)
		})
	}
}

func TestUnreachableServerNamesItAndSuggestsServe(t *testing.T) {
	t.Parallel()
	dead := httptest.NewServer(nil)
	url := dead.URL
	dead.Close()
	r := execute(map[string]string{"TRICYCLE_SERVER": url}, "", "experiment", "list")
	oneErrorLine(t, r, ExitError, url, "connection refused", "tricycle serve")
}

func TestJSONOutputIsTheAPIAnswer(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.createExperiment("json")
	for _, args := range [][]string{
		{"experiment", "list"}, {"promotion", "list"}, {"quarantine", "list"}, {"proposals", "list"},
		{"status"}, {"alerts"}, {"slo"}, {"audit", "list"}, {"audit", "verify"}, {"token", "list"},
	} {
		out := f.ok(append(args, "-o", "json")...)
		var v map[string]any
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Errorf("%v -o json is not a JSON object: %v\n%s", args, err, out)
			continue
		}
		if strings.HasSuffix(args[len(args)-1], "list") || args[0] == "alerts" {
			if _, ok := v["items"]; !ok {
				t.Errorf("%v -o json has no items: %s", args, out)
			}
		}
	}
	var st coordination.SystemStatus
	f.okJSON(&st, "status")
	if st.Production == nil || st.ExperimentsByState[coordination.ExperimentProposed] != 1 {
		t.Errorf("status -o json: %+v", st)
	}
}

func TestServerAndTokenPrecedence(t *testing.T) {
	t.Parallel()
	f := setup(t)
	dead := httptest.NewServer(nil)
	deadURL := dead.URL
	dead.Close()

	// --server beats TRICYCLE_SERVER.
	if r := f.run(map[string]string{"TRICYCLE_SERVER": deadURL}, "status", "--server", f.srv.URL); r.code != 0 {
		t.Errorf("--server did not override TRICYCLE_SERVER: %+v", r)
	}
	// TRICYCLE_SERVER beats the default.
	oneErrorLine(t, f.run(map[string]string{"TRICYCLE_SERVER": deadURL}, "status"), ExitError, deadURL)
	// The default server is used without either.
	r := &runner{env: Env{LookupEnv: func(string) (string, bool) { return "", false }}}
	root := r.rootCommand()
	cmd, _, err := root.Find([]string{"status"})
	if err != nil {
		t.Fatal(err)
	}
	if c, err := r.client(cmd); err != nil || c.Server() != DefaultServer {
		t.Errorf("without --server or TRICYCLE_SERVER the client uses %v (%v), want %s", c.Server(), err, DefaultServer)
	}
	// --token beats TRICYCLE_TOKEN.
	if r := f.run(map[string]string{"TRICYCLE_TOKEN": f.user}, "experiment", "create", "--title", "t", "--token", f.admin); r.code != 0 {
		t.Errorf("--token did not override TRICYCLE_TOKEN: %+v", r)
	}
	oneErrorLine(t, f.run(map[string]string{"TRICYCLE_TOKEN": f.user}, "experiment", "create", "--title", "t"), ExitError, "forbidden")
}

func TestRequestsCarryUserAgentAndTokenOnlyInTheHeader(t *testing.T) {
	t.Parallel()
	f := setup(t)
	secret := "tc_wrong-secret-that-must-not-leak"
	r := f.run(map[string]string{"TRICYCLE_TOKEN": secret}, "experiment", "list")
	if r.code != ExitError || strings.Contains(r.stdout+r.stderr, secret) {
		t.Fatalf("a refused token leaked or did not fail: %+v", r)
	}
	f.ok("experiment", "list")
	hs := f.requests()
	if len(hs) != 2 {
		t.Fatalf("%d requests, want 2", len(hs))
	}
	for _, h := range hs {
		if ua := h.Get("User-Agent"); !strings.HasPrefix(ua, "tricycle/") {
			t.Errorf("User-Agent %q", ua)
		}
	}
	if got := hs[0].Get("Authorization"); got != "Bearer "+secret {
		t.Errorf("Authorization %q", got)
	}
}

// TestEvalScoresAVariantOnTheGoldenSet runs eval on the project's golden set
// with the builtin baseline: the figures are printed, and -o json parses.
func TestEvalScoresAVariantOnTheGoldenSet(t *testing.T) {
	t.Parallel()
	golden := filepath.Join("..", "..", "testdata", "golden")
	r := execute(nil, "", "eval", "--golden", golden)
	if r.code != 0 || !strings.Contains(r.stdout, "F1 (accuracy)") || !strings.Contains(r.stdout, "language python") {
		t.Fatalf("eval: exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	j := execute(nil, "", "eval", "--golden", golden, "-o", "json")
	var rep struct {
		Overall struct{ Precision, Recall, F1 float64 } `json:"overall"`
	}
	if j.code != 0 || json.Unmarshal([]byte(j.stdout), &rep) != nil || rep.Overall.F1 < 0.5 || rep.Overall.F1 > 1 {
		t.Fatalf("eval -o json: exit %d, %q", j.code, j.stdout)
	}
	if h := execute(nil, "", "--help"); h.code != 0 || !strings.Contains(h.stdout, "eval") || !strings.Contains(h.stdout, "review") {
		t.Errorf("help does not list eval and review:\n%s", h.stdout)
	}
}

func TestReviewPostsTheDiffAndPrintsFindings(t *testing.T) {
	t.Parallel()
	f := setup(t)
	diff := "--- a/db/query.go\n+++ b/db/query.go\n@@ -10,2 +10,3 @@\n+q := \"SELECT * FROM t WHERE id=\" + id\n"
	path := filepath.Join(t.TempDir(), "change.patch")
	if err := os.WriteFile(path, []byte(diff), 0o600); err != nil {
		t.Fatal(err)
	}
	out := f.ok("review", "--diff", path, "--repository", "org/repo")
	for _, want := range []string{"review rvw-1: 1 finding(s) in 812 ms, $0.0042", "db/query.go:12", "high", "sql-injection",
		"query built from user input — use a placeholder", "One SQL injection."} {
		if !strings.Contains(out, want) {
			t.Errorf("review output lacks %q:\n%s", want, out)
		}
	}
	f.mu.Lock()
	posted := f.reviews[0]
	f.mu.Unlock()
	var body struct{ Repository, Diff string }
	if err := json.Unmarshal(posted, &body); err != nil || body.Repository != "org/repo" || body.Diff != diff {
		t.Errorf("posted %s (%v)", posted, err)
	}
	// From stdin, as JSON.
	r := execute(map[string]string{"TRICYCLE_SERVER": f.srv.URL, "TRICYCLE_TOKEN": f.user}, diff, "review", "--diff", "-", "-o", "json")
	var v map[string]any
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &v) != nil || v["review_id"] != "rvw-1" {
		t.Errorf("review --diff - -o json: %+v", r)
	}
	oneErrorLine(t, execute(map[string]string{"TRICYCLE_SERVER": f.srv.URL}, "  \n", "review", "--diff", "-"), ExitUsage, "empty")
}
