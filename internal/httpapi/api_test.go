package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tricyclehq/tricycle/coordination"
)

// snapshot is what a refused request must leave alone.
type snapshot struct {
	audit       int
	experiments map[string]coordination.ExperimentState
	promotions  map[string]coordination.PromotionState
	proposals   map[string]coordination.ProposalState
	tokens      int
}

func (f *fixture) snapshot() snapshot {
	f.t.Helper()
	s := snapshot{audit: f.auditLen(), experiments: map[string]coordination.ExperimentState{},
		promotions: map[string]coordination.PromotionState{}, proposals: map[string]coordination.ProposalState{}}
	es, err := f.coord.ListExperiments(local, coordination.ExperimentFilter{})
	if err != nil {
		f.t.Fatal(err)
	}
	for _, e := range es {
		s.experiments[e.ID] = e.State
	}
	ps, err := f.coord.Promotion().ListPromotions(local, coordination.PromotionFilter{})
	if err != nil {
		f.t.Fatal(err)
	}
	for _, p := range ps {
		s.promotions[p.RequestID] = p.State
	}
	props, err := f.coord.Generator().ListProposals(local, coordination.ProposalFilter{})
	if err != nil {
		f.t.Fatal(err)
	}
	for _, p := range props {
		s.proposals[p.ProposalID] = p.State
	}
	toks, err := f.coord.ListTokens(local)
	if err != nil {
		f.t.Fatal(err)
	}
	s.tokens = len(toks)
	return s
}

func TestRefusedRequestsChangeNothing(t *testing.T) {
	t.Parallel()
	valid := `"title":"t","hypothesis":"h","success_criteria":{"accuracy":"> 90%"}`
	huge := `{"title":"` + strings.Repeat("a", 10<<20) + `"}`
	running := func(f *fixture) string {
		id := f.experiment()
		if err := f.coord.StartExperiment(local, id, "root"); err != nil {
			t.Fatal(err)
		}
		return id
	}
	tests := []struct {
		name        string
		prep        func(f *fixture) (method, path, body string)
		contentType string // overrides application/json when set ("-" removes it)
		chunked     bool
		status      int
		code        string
		msg         string
	}{
		{name: "malformed JSON", prep: post("/api/v1/experiments", `{"title": `), status: 400, code: "invalid_input", msg: "malformed JSON"},
		{name: "syntax error", prep: post("/api/v1/experiments", `{"title" "x"}`), status: 400, code: "invalid_input", msg: "malformed JSON"},
		{name: "unknown field", prep: post("/api/v1/experiments", `{`+valid+`,"colour":"red"}`), status: 400, code: "invalid_input", msg: `colour: unknown field`},
		{name: "unknown nested field", prep: post("/api/v1/experiments", `{`+valid+`,"variant":{"name":"a","modle":"m"}}`), status: 400, code: "invalid_input", msg: "modle"},
		{name: "duplicate key", prep: post("/api/v1/experiments", `{`+valid+`,"title":"again"}`), status: 400, code: "invalid_input", msg: "title: duplicate key"},
		{name: "duplicate nested key", prep: post("/api/v1/experiments", `{"title":"t","success_criteria":{"accuracy":"> 90%","accuracy":"> 1%"}}`), status: 400, code: "invalid_input", msg: "success_criteria.accuracy: duplicate key"},
		{name: "duplicate key in a list", prep: post("/api/v1/experiments", `{"title":"t","variant":{"name":"a","parameters":{"x":[{"k":1,"k":2}]}}}`), status: 400, code: "invalid_input", msg: "variant.parameters.x[0].k: duplicate key"},
		{name: "trailing data", prep: post("/api/v1/experiments", `{`+valid+`} {}`), status: 400, code: "invalid_input", msg: "unexpected data"},
		{name: "wrong type", prep: post("/api/v1/experiments", `{"title":5}`), status: 400, code: "invalid_input", msg: "title: want a string"},
		{name: "wrong nested type", prep: post("/api/v1/experiments", `{"title":"t","variant":{"prices":{"input_per_mtok":"cheap"}}}`), status: 400, code: "invalid_input", msg: "variant.prices.input_per_mtok"},
		{name: "bad duration", prep: post("/api/v1/experiments", `{`+valid+`,"evaluation_min":7}`), status: 400, code: "invalid_input", msg: "duration"},
		{name: "not an object", prep: post("/api/v1/experiments", `[1,2]`), status: 400, code: "invalid_input", msg: "must be a JSON object"},
		{name: "null body", prep: post("/api/v1/experiments", `null`), status: 400, code: "invalid_input", msg: "must be a JSON object"},
		{name: "missing body", prep: post("/api/v1/experiments", ``), status: 400, code: "invalid_input", msg: "JSON object is required"},
		{name: "10 MiB body", prep: post("/api/v1/experiments", huge), status: 413, code: "too_large"},
		{name: "10 MiB chunked body", prep: post("/api/v1/experiments", huge), chunked: true, status: 413, code: "too_large"},
		{name: "10 MiB optional body", prep: func(f *fixture) (string, string, string) {
			return "POST", "/api/v1/experiments/" + f.experiment() + "/start", huge
		}, status: 413, code: "too_large"},
		{name: "text/plain", prep: post("/api/v1/experiments", `{`+valid+`}`), contentType: "text/plain", status: 415, code: "unsupported_media_type"},
		{name: "no content type", prep: post("/api/v1/experiments", `{`+valid+`}`), contentType: "-", status: 415, code: "unsupported_media_type"},
		{name: "latin-1", prep: post("/api/v1/experiments", `{`+valid+`}`), contentType: "application/json; charset=latin1", status: 415, code: "unsupported_media_type"},
		{name: "bad criterion", prep: post("/api/v1/experiments", `{"title":"t","success_criteria":{"accuracy":"> lots"}}`), status: 400, code: "invalid_input", msg: "success_criteria"},
		{name: "unknown experiment", prep: get("/api/v1/experiments/exp-nope"), status: 404, code: "not_found", msg: "exp-nope"},
		{name: "start unknown experiment", prep: post("/api/v1/experiments/exp-nope/start", ``), status: 404, code: "not_found"},
		{name: "evaluate unknown experiment", prep: post("/api/v1/experiments/exp-nope/evaluate", `{"metrics":{"accuracy":1}}`), status: 404, code: "not_found"},
		{name: "approve unknown promotion", prep: post("/api/v1/promotions/prm-nope/approve", ``), status: 404, code: "not_found"},
		{name: "review unknown record", prep: post("/api/v1/quarantine/q-nope/review", `{"retry_approved":true}`), status: 404, code: "not_found"},
		{name: "accept unknown proposal", prep: post("/api/v1/proposals/p-nope/accept", ``), status: 404, code: "not_found"},
		{name: "revoke unknown token", prep: func(*fixture) (string, string, string) { return "DELETE", "/api/v1/tokens/tok-nope", "" }, status: 404, code: "not_found"},
		{name: "start a running experiment", prep: func(f *fixture) (string, string, string) {
			return "POST", "/api/v1/experiments/" + running(f) + "/start", ""
		}, status: 409, code: "invalid_transition", msg: `"running"`},
		{name: "evaluate a proposed experiment from samples", prep: func(f *fixture) (string, string, string) {
			return "POST", "/api/v1/experiments/" + f.experiment() + "/evaluate", ""
		}, status: 409, code: "invalid_transition", msg: `"proposed"`},
		{name: "reject a quarantined experiment", prep: func(f *fixture) (string, string, string) {
			id := f.experiment()
			if _, err := f.coord.Quarantine().QuarantineExperiment(local, coordination.QuarantineSpec{ExperimentID: id}); err != nil {
				t.Fatal(err)
			}
			return "POST", "/api/v1/experiments/" + id + "/reject", ""
		}, status: 409, code: "invalid_transition", msg: `"quarantined"`},
		{name: "approve twice", prep: func(f *fixture) (string, string, string) {
			return "POST", "/api/v1/promotions/" + f.canary() + "/approve", ""
		}, status: 409, code: "conflict", msg: "already approved"},
		{name: "accept a dismissed proposal", prep: func(f *fixture) (string, string, string) {
			id := f.proposal()
			if err := f.coord.Generator().DismissProposal(local, id, "no"); err != nil {
				t.Fatal(err)
			}
			return "POST", "/api/v1/proposals/" + id + "/accept", ""
		}, status: 409, code: "invalid_transition", msg: `"dismissed"`},
		{name: "blacklisted variant", prep: func(f *fixture) (string, string, string) {
			rec, err := f.coord.Quarantine().QuarantineExperiment(local, coordination.QuarantineSpec{ExperimentID: f.experiment()})
			if err != nil {
				t.Fatal(err)
			}
			v, _ := json.Marshal(rec.Snapshot.Variant)
			return "POST", "/api/v1/experiments", fmt.Sprintf(`{"title":"again","variant":%s}`, v)
		}, status: 409, code: "blacklisted"},
		{name: "unknown metric", prep: func(f *fixture) (string, string, string) {
			return "POST", "/api/v1/experiments/" + f.experiment() + "/evaluate", `{"metrics":{"acuracy":0.9}}`
		}, status: 400, code: "invalid_input", msg: "metrics.acuracy"},
		{name: "unknown failure type", prep: func(f *fixture) (string, string, string) {
			return "POST", "/api/v1/experiments/" + f.experiment() + "/quarantine", `{"failure_type":"bad_vibes"}`
		}, status: 400, code: "invalid_input", msg: "failure_type"},
		{name: "nothing to roll back", prep: post("/api/v1/rollback", `{"reason":"panic"}`), status: 404, code: "not_found"},
		{name: "rollback without reason", prep: post("/api/v1/rollback", `{"reason":""}`), status: 400, code: "invalid_input", msg: "reason"},
		{name: "unknown query parameter", prep: get("/api/v1/experiments?stat=running"), status: 400, code: "invalid_input", msg: "stat: unknown query parameter"},
		{name: "unknown state", prep: get("/api/v1/experiments?state=running,sleeping"), status: 400, code: "invalid_input", msg: `"sleeping"`},
		{name: "unknown promotion state", prep: get("/api/v1/promotions?state=phase_0"), status: 400, code: "invalid_input", msg: "state"},
		{name: "bad limit", prep: get("/api/v1/experiments?limit=0"), status: 400, code: "invalid_input", msg: "limit"},
		{name: "bad audit cursor", prep: get("/api/v1/audit?after=-1"), status: 400, code: "invalid_input", msg: "after"},
		{name: "audit limit too large", prep: get("/api/v1/audit?limit=5000"), status: 400, code: "invalid_input", msg: "limit"},
		{name: "bad event filter", prep: get("/api/v1/events?type=promo*tion"), status: 400, code: "invalid_input", msg: "type"},
		{name: "token with unknown role", prep: post("/api/v1/tokens", `{"name":"x","role":"root"}`), status: 400, code: "invalid_input", msg: "role"},
		{name: "token without name", prep: post("/api/v1/tokens", `{"name":" ","role":"user"}`), status: 400, code: "invalid_input", msg: "name"},
		{name: "body on generate", prep: post("/api/v1/proposals/generate", `{"sources":["research"]}`), status: 400, code: "invalid_input", msg: "sources"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			f.experiment()
			method, path, body := tt.prep(f)
			before := f.snapshot()
			r := f.req(method, path, "admin", body)
			switch tt.contentType {
			case "":
			case "-":
				r.Header.Del("Content-Type")
			default:
				r.Header.Set("Content-Type", tt.contentType)
			}
			if tt.chunked {
				r.ContentLength = -1
			}
			w := f.serve(r)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, truncate(w.Body.String()))
			}
			code, msg := errorOf(t, w)
			if code != tt.code || !strings.Contains(msg, tt.msg) {
				t.Errorf("error {%q, %q}, want {%q, containing %q}", code, msg, tt.code, tt.msg)
			}
			if after := f.snapshot(); !reflect.DeepEqual(before, after) {
				t.Errorf("a refused request changed state:\nbefore %+v\nafter  %+v", before, after)
			}
		})
	}
}

func post(path, body string) func(*fixture) (string, string, string) {
	return func(*fixture) (string, string, string) { return "POST", path, body }
}

func get(path string) func(*fixture) (string, string, string) {
	return func(*fixture) (string, string, string) { return "GET", path, "" }
}

func truncate(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

func TestMethodNotAllowedAndUnknownRoutes(t *testing.T) {
	t.Parallel()
	fallback := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("dashboard")) })
	f := setup(t, func(o *Options) { o.Fallback = fallback })
	tests := []struct {
		method, path string
		status       int
		allow        string
		body         string
	}{
		{"DELETE", "/api/v1/experiments", 405, "GET, POST, HEAD", ""},
		{"PUT", "/api/v1/experiments/exp-1", 405, "GET, HEAD", ""},
		{"GET", "/api/v1/experiments/exp-1/start", 405, "POST", ""},
		{"POST", "/api/v1/tokens/tok-1", 405, "DELETE", ""},
		{"GET", "/api/v1/nothing-here", 404, "", ""},
		{"GET", "/api/v2/experiments", 404, "", ""},
		{"GET", "/", 200, "", "dashboard"},
		{"GET", "/static/app.js", 200, "", "dashboard"},
	}
	for _, tt := range tests {
		w := f.do(tt.method, tt.path, "admin", "")
		if w.Code != tt.status {
			t.Errorf("%s %s: status %d, want %d", tt.method, tt.path, w.Code, tt.status)
			continue
		}
		if got := w.Header().Get("Allow"); got != tt.allow {
			t.Errorf("%s %s: Allow %q, want %q", tt.method, tt.path, got, tt.allow)
		}
		if tt.body != "" {
			if w.Body.String() != tt.body {
				t.Errorf("%s %s: body %q, want the fallback", tt.method, tt.path, w.Body)
			}
			continue
		}
		code, _ := errorOf(t, w)
		want := map[int]string{404: "not_found", 405: "method_not_allowed"}[tt.status]
		if code != want {
			t.Errorf("%s %s: code %q, want %q", tt.method, tt.path, code, want)
		}
	}
}

func TestStatusOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err    error
		status int
		code   string
	}{
		{fmt.Errorf("x: %w", coordination.ErrInvalidInput), 400, "invalid_input"},
		{fmt.Errorf("x: %w", coordination.ErrNotFound), 404, "not_found"},
		{fmt.Errorf("x: %w", coordination.ErrInvalidTransition), 409, "invalid_transition"},
		{fmt.Errorf("x: %w", coordination.ErrConflict), 409, "conflict"},
		{fmt.Errorf("x: %w", coordination.ErrBlacklisted), 409, "blacklisted"},
		{fmt.Errorf("x: %w", coordination.ErrForbidden), 403, "forbidden"},
		{coordination.ErrUnauthenticated, 404, "not_found"}, // the domain's own sentinel; the API turns it into ErrUnauthenticated
		{fmt.Errorf("x: %w", ErrUnauthenticated), 401, "unauthenticated"},
		{fmt.Errorf("x: %w", ErrTooLarge), 413, "too_large"},
		{fmt.Errorf("x: %w", ErrUnsupportedMediaType), 415, "unsupported_media_type"},
		{&methodError{allow: []string{"GET"}}, 405, "method_not_allowed"},
		{fmt.Errorf("disk on fire"), 500, "internal"},
	}
	for _, tt := range tests {
		if status, code := StatusOf(tt.err); status != tt.status || code != tt.code {
			t.Errorf("StatusOf(%v) = %d %q, want %d %q", tt.err, status, code, tt.status, tt.code)
		}
	}
}

func TestInternalErrorsDoNotLeak(t *testing.T) {
	t.Parallel()
	f := setup(t)
	err := f.srv.Mount(Route{Method: "GET", Path: "/api/v1/boom", Permission: coordination.PermStatusRead,
		Handler: apiFunc(func(http.ResponseWriter, *http.Request) (int, any, error) {
			return 0, nil, fmt.Errorf("open /var/lib/secret.db: permission denied")
		})})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.srv.Mount(Route{Method: "GET", Path: "/api/v1/panic", Permission: coordination.PermStatusRead,
		Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("nil map in handler") })}); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/api/v1/boom", "/api/v1/panic"} {
		w := f.do("GET", path, "admin", "")
		if w.Code != 500 {
			t.Fatalf("%s: status %d, want 500", path, w.Code)
		}
		code, msg := errorOf(t, w)
		if code != "internal" || msg != "internal error" {
			t.Errorf("%s: error {%q, %q}, want {internal, internal error}", path, code, msg)
		}
	}
	logs := f.log.String()
	if !strings.Contains(logs, "secret.db") || !strings.Contains(logs, "nil map in handler") {
		t.Errorf("the log does not record the internal errors:\n%s", logs)
	}
}

func TestEvaluateAnswers(t *testing.T) {
	t.Parallel()
	f := setup(t)
	tests := []struct {
		metrics  string
		decision coordination.Decision
		state    coordination.ExperimentState
	}{
		{`{"accuracy":0.95,"latency_p95":2}`, coordination.Promote, coordination.ExperimentPromoting},
		{`{"accuracy":0.5,"latency_p95":2}`, coordination.Quarantine, coordination.ExperimentQuarantined},
		{`{"accuracy":0.895,"latency_p95":2}`, coordination.Hold, coordination.ExperimentHeld},
	}
	for _, tt := range tests {
		id := f.experiment()
		w := f.do("POST", "/api/v1/experiments/"+id+"/evaluate", "system", `{"metrics":`+tt.metrics+`}`)
		if w.Code != 200 {
			t.Fatalf("evaluate: %d %s", w.Code, w.Body)
		}
		got := decodeBody[EvaluateResponse](t, w)
		if got.ExperimentID != id || got.Decision != tt.decision || got.State != tt.state || got.By != "t-system" {
			t.Errorf("evaluate %s = %+v, want %s / %s", tt.metrics, got, tt.decision, tt.state)
		}
		if len(got.Explanation.Criteria) != 2 {
			t.Errorf("explanation has %d criteria, want 2", len(got.Explanation.Criteria))
		}
		if (got.PromotionID != "") != (tt.decision == coordination.Promote) || (got.RecordID != "") != (tt.decision == coordination.Quarantine) {
			t.Errorf("promotion_id %q, record_id %q for %s", got.PromotionID, got.RecordID, tt.decision)
		}
		if f.experimentState(id) != tt.state {
			t.Errorf("stored state %s, want %s", f.experimentState(id), tt.state)
		}
	}
}

func TestCycleThroughTheAPI(t *testing.T) {
	t.Parallel()
	f := setup(t)
	w := f.do("POST", "/api/v1/experiments", "admin", `{"title":"Test GPT-4.5 for security analysis",
		"hypothesis":"GPT-4.5 will improve vulnerability detection by 20%",
		"success_criteria":{"accuracy":"> 90%","latency_p95":"< 3s","cost_per_review":"< $0.15"},
		"variant":{"name":"gpt45","provider":"openai","model":"gpt-4.5","base_url":"https://api.openai.com/v1"}}`)
	if w.Code != 201 {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	exp := decodeBody[coordination.Experiment](t, w)
	if exp.State != coordination.ExperimentProposed || w.Header().Get("Location") != "/api/v1/experiments/"+exp.ID {
		t.Fatalf("created %+v at %q", exp, w.Header().Get("Location"))
	}
	if w := f.do("POST", "/api/v1/experiments/"+exp.ID+"/start", "admin", ""); w.Code != 200 {
		t.Fatalf("start: %d %s", w.Code, w.Body)
	}
	w = f.do("POST", "/api/v1/experiments/"+exp.ID+"/evaluate", "admin", `{"metrics":{"accuracy":0.92,"latency_p95":2.5,"cost_per_review":0.12}}`)
	ev := decodeBody[EvaluateResponse](t, w)
	if ev.Decision != coordination.Promote {
		t.Fatalf("decision %s, want PROMOTE", ev.Decision)
	}
	w = f.do("POST", "/api/v1/promotions/"+ev.PromotionID+"/approve", "admin", `{"approver":"admin@example.com"}`)
	p := decodeBody[coordination.PromotionRequest](t, w)
	if w.Code != 200 || p.State != coordination.PromotionPhase1 || p.TrafficPercent != 10 {
		t.Fatalf("approve: %d %+v", w.Code, p)
	}
	w = f.do("GET", "/api/v1/promotions?state=phase_1", "system", "")
	if got := decodeBody[List[coordination.PromotionRequest]](t, w); len(got.Items) != 1 || got.Items[0].RequestID != p.RequestID {
		t.Fatalf("promotions in phase_1 = %+v", got)
	}
	w = f.do("POST", "/api/v1/rollback", "admin", `{"reason":"p95 doubled"}`)
	rb := decodeBody[RollbackResponse](t, w)
	if w.Code != 200 || !rb.RolledBack || rb.Production == nil || rb.Production.Variant.Name != "baseline" {
		t.Fatalf("rollback: %d %+v", w.Code, rb)
	}
	if st := f.experimentState(exp.ID); st != coordination.ExperimentQuarantined {
		t.Errorf("experiment after rollback is %s, want quarantined", st)
	}
	w = f.do("GET", "/api/v1/quarantine?experiment_id="+exp.ID, "system", "")
	recs := decodeBody[List[coordination.QuarantineRecord]](t, w)
	if len(recs.Items) != 1 {
		t.Fatalf("quarantine records = %+v", recs)
	}
	rid := recs.Items[0].RecordID
	if w := f.do("POST", "/api/v1/quarantine/"+rid+"/review", "system", `{"retry_approved":true,"notes":"new model"}`); w.Code != 201 {
		t.Fatalf("review: %d %s", w.Code, w.Body)
	}
	w = f.do("GET", "/api/v1/quarantine/"+rid, "admin", "")
	rec := decodeBody[struct {
		RecordID string                          `json:"record_id"`
		Reviews  []coordination.QuarantineReview `json:"reviews"`
	}](t, w)
	if rec.RecordID != rid || len(rec.Reviews) != 1 || rec.Reviews[0].Reviewer != "t-system" || rec.Reviews[0].ProposalID == "" {
		t.Fatalf("record with reviews = %+v", rec)
	}
	w = f.do("POST", "/api/v1/proposals/"+rec.Reviews[0].ProposalID+"/accept", "admin", "")
	if retry := decodeBody[coordination.Experiment](t, w); w.Code != 201 || retry.RetryOf != rid {
		t.Fatalf("accept: %d %+v", w.Code, retry)
	}
	w = f.do("GET", "/api/v1/audit?limit=1000", "admin", "")
	page := decodeBody[AuditPage](t, w)
	if len(page.Items) == 0 || page.NextAfter != page.Items[len(page.Items)-1].Seq {
		t.Fatalf("audit page = %d items, next_after %d", len(page.Items), page.NextAfter)
	}
	w = f.do("GET", "/api/v1/audit/verify", "admin", "")
	if v := decodeBody[coordination.AuditVerification](t, w); !v.OK {
		t.Errorf("audit chain does not verify: %+v", v)
	}
}

func TestRequestMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	f := setup(t, func(o *Options) { o.Registerer = reg })
	f.do("GET", "/api/v1/status", "admin", "")
	f.do("GET", "/api/v1/status", "user", "")
	f.do("GET", "/api/v1/nowhere", "admin", "")
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]float64{}
	histograms := 0
	for _, fam := range families {
		for _, m := range fam.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			switch fam.GetName() {
			case "tricycle_http_requests_total":
				counts[labels["route"]+" "+labels["code"]] = m.GetCounter().GetValue()
			case "tricycle_http_request_duration_seconds":
				histograms++
			}
		}
	}
	want := map[string]float64{"GET /api/v1/status 200": 1, "GET /api/v1/status 403": 1, "unmatched 404": 1}
	if !reflect.DeepEqual(counts, want) {
		t.Errorf("tricycle_http_requests_total = %v, want %v", counts, want)
	}
	if histograms != 2 {
		t.Errorf("duration histograms for %d routes, want 2", histograms)
	}
}

func TestMount(t *testing.T) {
	t.Parallel()
	f := setup(t)
	review := Route{Method: "POST", Path: "/api/v1/reviews", Permission: coordination.PermReviewsSubmit,
		Summary: "Review a diff", Request: map[string]any{}, Response: map[string]any{}, Status: 201,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var body map[string]any
			if err := DecodeJSON(w, r, &body, 0, false); err != nil {
				WriteError(w, r, err)
				return
			}
			WriteJSON(w, 201, map[string]string{"by": coordination.ActorFrom(r.Context()).Name})
		})}
	if err := f.srv.Mount(review); err != nil {
		t.Fatal(err)
	}
	chat := Route{Method: "POST", Path: "/v1/chat/completions", Permission: coordination.PermReviewsSubmit,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(200) })}
	if err := f.srv.Mount(chat); err != nil {
		t.Fatal(err)
	}
	for who, want := range map[string]int{"user": 201, "system": 201, "admin": 201, "": 401, "revoked": 401} {
		if w := f.do("POST", "/api/v1/reviews", who, `{"diff":"x"}`); w.Code != want {
			t.Errorf("POST /api/v1/reviews as %q: %d, want %d", who, w.Code, want)
		}
	}
	if w := f.do("POST", "/api/v1/reviews", "user", `{"diff":"x","diff":"y"}`); w.Code != 400 {
		t.Errorf("a mounted route does not get strict JSON: %d", w.Code)
	}
	if w := f.do("GET", "/v1/chat/completions", "user", ""); w.Code != 405 {
		t.Errorf("GET on a mounted POST route: %d, want 405", w.Code)
	}
	for _, bad := range []Route{
		review,
		{Method: "GET", Path: "/api/v1/x", Handler: review.Handler},
		{Method: "GET", Path: "/api/v1/x", Public: true, Permission: coordination.PermStatusRead, Handler: review.Handler},
		{Method: "FETCH", Path: "/api/v1/x", Public: true, Handler: review.Handler},
		{Method: "GET", Path: "api/v1/x", Public: true, Handler: review.Handler},
		{Method: "GET", Path: "/api/v1/x", Public: true},
		{Method: "GET", Path: "/api/v1/{a}/{a}", Public: true, Handler: review.Handler},
	} {
		if err := f.srv.Mount(bad); err == nil {
			t.Errorf("Mount(%s %s) succeeded, want an error", bad.Method, bad.Path)
		}
	}
	doc := f.srv.OpenAPI()
	paths := doc["paths"].(map[string]map[string]any)
	op, ok := paths["/api/v1/reviews"]["post"].(map[string]any)
	if !ok || op["x-permission"] != "reviews:submit" {
		t.Errorf("the mounted route is not documented: %+v", paths["/api/v1/reviews"])
	}
}
