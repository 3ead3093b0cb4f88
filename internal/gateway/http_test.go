package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/internal/review"
	"github.com/tricyclehq/tricycle/internal/review/prompt"
)

var (
	alice = coordination.Actor{Name: "alice", Role: coordination.RoleUser}
	bob   = coordination.Actor{Name: "bob", Role: coordination.RoleUser}
	admin = coordination.Actor{Name: "root", Role: coordination.RoleAdmin}
)

// call sends a request as actor to h and decodes the JSON answer.
func call(t *testing.T, h http.Handler, actor coordination.Actor, method, path, ct, body string, hdr ...string) (int, map[string]any, http.Header) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	req = req.WithContext(coordination.WithActor(req.Context(), actor))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var out map[string]any
	raw, _ := io.ReadAll(rec.Body)
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s %s: answer %q is not a JSON object: %v", method, path, raw, err)
	}
	return rec.Code, out, rec.Header()
}

func errCode(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func httpBundle(t *testing.T) (*bundle, http.Handler) {
	t.Helper()
	f := review.Finding{File: "store/users.go", Line: 5, Severity: review.SeverityHigh, Category: "security", Rule: "sqli", Message: "m", Suggestion: "s"}
	g := review.Finding{File: "store/users.go", Line: 4, Severity: review.SeverityLow, Category: "maintainability", Rule: "doc", Message: "m", Suggestion: "s"}
	b := setup(t, map[string]review.Reviewer{"prod": returns(f, g)}, func(o *Options) { o.MaxBodyBytes = 64 << 10 })
	return b, b.g.Handler()
}

func reviewBody(repo string) string {
	raw, _ := json.Marshal(ReviewRequest{Repository: repo, Diff: goDiff})
	return string(raw)
}

func TestCreateReviewAnswersTheContract(t *testing.T) {
	t.Parallel()
	_, h := httpBundle(t)
	code, body, _ := call(t, h, alice, "POST", "/api/v1/reviews", "application/json", reviewBody("org/repo"))
	if code != http.StatusOK {
		t.Fatalf("status %d: %v", code, body)
	}
	for _, k := range []string{"review_id", "findings", "summary", "usage", "latency_ms"} {
		if _, ok := body[k]; !ok {
			t.Errorf("answer lacks %q: %v", k, body)
		}
	}
	if len(body) != 5 {
		t.Errorf("answer has extra fields: %v", body)
	}
	u := body["usage"].(map[string]any)
	for _, k := range []string{"input_tokens", "output_tokens", "cost_usd"} {
		if _, ok := u[k]; !ok {
			t.Errorf("usage lacks %q: %v", k, u)
		}
	}
	if fs := body["findings"].([]any); len(fs) != 2 {
		t.Errorf("findings %v", fs)
	}
}

func TestCreateReviewIsStrict(t *testing.T) {
	t.Parallel()
	_, h := httpBundle(t)
	tests := []struct {
		name, ct, body string
		status         int
		code           string
	}{
		{"unknown field", "application/json", `{"repository":"org/a","diff":"x","model":"gpt"}`, 400, "invalid_input"},
		{"duplicate key", "application/json", `{"repository":"org/a","diff":"x","diff":"y"}`, 400, "invalid_input"},
		{"duplicate key in another case", "application/json", `{"repository":"org/a","diff":"x","Diff":"y"}`, 400, "invalid_input"},
		{"duplicate key folded", "application/json", `{"repository":"org/a","diff":"x","DIFF":"y"}`, 400, "invalid_input"},
		{"nested duplicate key", "application/json", `{"repository":"org/a","diff":"x","files":{"a":"1","a":"2"}}`, 400, "invalid_input"},
		{"trailing data", "application/json", `{"repository":"org/a","diff":"x"} {}`, 400, "invalid_input"},
		{"not an object", "application/json", `["x"]`, 400, "invalid_input"},
		{"wrong type", "application/json", `{"repository":"org/a","diff":3}`, 400, "invalid_input"},
		{"empty diff", "application/json", `{"repository":"org/a","diff":""}`, 400, "invalid_input"},
		{"bad repository", "application/json", `{"repository":"../etc passwd","diff":"x"}`, 400, "invalid_input"},
		{"empty body", "application/json", ``, 400, "invalid_input"},
		{"text body", "text/plain", reviewBody("org/a"), 415, "unsupported_media_type"},
		{"no content type", "", reviewBody("org/a"), 415, "unsupported_media_type"},
		{"too large", "application/json", `{"repository":"org/a","diff":"` + strings.Repeat("x", 70<<10) + `"}`, 413, "too_large"},
	}
	t.Run("file paths differing in case", func(t *testing.T) {
		t.Parallel()
		code, body, _ := call(t, h, alice, "POST", "/api/v1/reviews", "application/json",
			`{"repository":"org/a","diff":`+strconvQuote(goDiff)+`,"files":{"a.go":"1","A.go":"2"}}`)
		if code != http.StatusOK {
			t.Errorf("status %d %v", code, body)
		}
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, body, _ := call(t, h, alice, "POST", "/api/v1/reviews", tt.ct, tt.body)
			if code != tt.status || errCode(body) != tt.code {
				t.Errorf("status %d code %q (%v), want %d %q", code, errCode(body), body, tt.status, tt.code)
			}
			if e, _ := body["error"].(map[string]any); e["message"] == "" {
				t.Errorf("error without message: %v", body)
			}
		})
	}
}

func TestCreateReviewNeedsPermission(t *testing.T) {
	t.Parallel()
	_, h := httpBundle(t)
	nobody := coordination.Actor{Name: "x", Role: "guest"}
	code, body, _ := call(t, h, nobody, "POST", "/api/v1/reviews", "application/json", reviewBody("org/a"))
	if code != http.StatusForbidden || errCode(body) != "forbidden" {
		t.Errorf("status %d %v, want 403", code, body)
	}
}

func TestReviewUpstreamFailureHidesDetails(t *testing.T) {
	t.Parallel()
	boom := &fakeReviewer{fn: func(context.Context, review.Request) (review.Result, error) {
		return review.Result{}, fmt.Errorf("POST https://internal-host/v1?key=secret: 500")
	}}
	b := setup(t, map[string]review.Reviewer{"prod": boom}, nil)
	code, body, _ := call(t, b.g.Handler(), alice, "POST", "/api/v1/reviews", "application/json", reviewBody("org/a"))
	if code != http.StatusBadGateway || errCode(body) != "upstream_error" {
		t.Fatalf("status %d %v, want 502 upstream_error", code, body)
	}
	if raw, _ := json.Marshal(body); strings.Contains(string(raw), "secret") || strings.Contains(string(raw), "internal-host") {
		t.Errorf("error answer leaks provider details: %s", raw)
	}
}

func TestGetReviewOnlyForOwnerOrAdmin(t *testing.T) {
	t.Parallel()
	_, h := httpBundle(t)
	_, created, _ := call(t, h, alice, "POST", "/api/v1/reviews", "application/json", reviewBody("org/a"))
	id := created["review_id"].(string)
	tests := []struct {
		who    coordination.Actor
		status int
	}{
		{alice, 200}, {admin, 200}, {bob, 404},
	}
	for _, tt := range tests {
		code, body, _ := call(t, h, tt.who, "GET", "/api/v1/reviews/"+id, "", "")
		if code != tt.status {
			t.Errorf("%s: status %d (%v), want %d", tt.who.Name, code, body, tt.status)
		}
		if code == 200 && (body["review_id"] != id || len(body["findings"].([]any)) != 2) {
			t.Errorf("%s read %v", tt.who.Name, body)
		}
	}
	// Another user's review looks exactly like a missing one.
	_, other, _ := call(t, h, bob, "GET", "/api/v1/reviews/"+id, "", "")
	_, missing, _ := call(t, h, bob, "GET", "/api/v1/reviews/rvw-nope", "", "")
	if errCode(other) != "not_found" || errCode(missing) != "not_found" {
		t.Errorf("other's review %v, missing review %v", other, missing)
	}
}

func TestFeedbackIsRecorded(t *testing.T) {
	t.Parallel()
	b, h := httpBundle(t)
	_, created, _ := call(t, h, alice, "POST", "/api/v1/reviews", "application/json", reviewBody("org/a"))
	id := created["review_id"].(string)
	path := "/api/v1/reviews/" + id + "/feedback"
	code, body, _ := call(t, h, alice, "POST", path, "application/json",
		`{"items":[{"finding":0,"verdict":"accepted"},{"finding":1,"verdict":"dismissed","text":"not an issue here"}]}`)
	if code != 200 || body["recorded"] != float64(2) {
		t.Fatalf("status %d %v", code, body)
	}
	b.rec.mu.Lock()
	fb := append([]feedbackCall(nil), b.rec.feedback...)
	b.rec.mu.Unlock()
	want := []feedbackCall{{t0, SeriesProduction, "security", true, false}, {t0, SeriesProduction, "maintainability", false, true}}
	if fmt.Sprint(fb) != fmt.Sprint(want) {
		t.Errorf("recorder got %v, want %v", fb, want)
	}
	_, got, _ := call(t, h, alice, "GET", "/api/v1/reviews/"+id, "", "")
	if items, _ := got["feedback"].([]any); len(items) != 2 {
		t.Errorf("stored review feedback %v", got["feedback"])
	}

	tests := []struct {
		name  string
		who   coordination.Actor
		body  string
		code  int
		ecode string
	}{
		{"second verdict on a finding", alice, `{"items":[{"finding":0,"verdict":"dismissed"}]}`, 409, "conflict"},
		{"index out of range", alice, `{"items":[{"finding":2,"verdict":"accepted"}]}`, 400, "invalid_input"},
		{"negative index", alice, `{"items":[{"finding":-1,"verdict":"accepted"}]}`, 400, "invalid_input"},
		{"missing index", alice, `{"items":[{"verdict":"accepted"}]}`, 400, "invalid_input"},
		{"unknown verdict", alice, `{"items":[{"finding":0,"verdict":"maybe"}]}`, 400, "invalid_input"},
		{"no items", alice, `{"items":[]}`, 400, "invalid_input"},
		{"unknown field", alice, `{"items":[{"finding":0,"verdict":"accepted","score":3}]}`, 400, "invalid_input"},
		{"someone else's review", bob, `{"items":[{"finding":0,"verdict":"accepted"}]}`, 404, "not_found"},
	}
	for _, tt := range tests {
		code, body, _ := call(t, h, tt.who, "POST", path, "application/json", tt.body)
		if code != tt.code || errCode(body) != tt.ecode {
			t.Errorf("%s: status %d %v, want %d %s", tt.name, code, body, tt.code, tt.ecode)
		}
	}
	b.rec.mu.Lock()
	defer b.rec.mu.Unlock()
	if len(b.rec.feedback) != 2 {
		t.Errorf("refused feedback reached the recorder: %v", b.rec.feedback)
	}
}

func TestChatCompletionsRoutesThroughTheGateway(t *testing.T) {
	t.Parallel()
	b, h := httpBundle(t)
	body, _ := json.Marshal(map[string]any{"model": "tricycle", "temperature": 0,
		"messages": []map[string]any{{"role": "system", "content": "review"}, {"role": "user", "content": goDiff}}})
	code, out, hdr := call(t, h, alice, "POST", "/v1/chat/completions", "application/json", string(body), RepositoryHeader, "org/chat")
	if code != 200 {
		t.Fatalf("status %d %v", code, out)
	}
	if out["object"] != "chat.completion" || out["model"] != "tricycle" {
		t.Errorf("answer %v", out)
	}
	choice := out["choices"].([]any)[0].(map[string]any)
	content := choice["message"].(map[string]any)["content"].(string)
	findings, _, err := prompt.ParseFindings(content)
	if err != nil || len(findings) != 2 {
		t.Errorf("content %q parses to %v, %v", content, findings, err)
	}
	id := hdr.Get(ReviewIDHeader)
	if id == "" {
		t.Fatal("no review id header")
	}
	if code, _, _ := call(t, h, alice, "GET", "/api/v1/reviews/"+id, "", ""); code != 200 {
		t.Errorf("chat review not readable: %d", code)
	}
	if n := b.rec.count(SeriesProduction); n != 1 {
		t.Errorf("recorded %d production outcomes", n)
	}

	// Parts arrays work; the production variant's name is an alias too.
	parts, _ := json.Marshal(map[string]any{"model": "prod",
		"messages": []map[string]any{{"role": "user", "content": []map[string]string{{"type": "text", "text": goDiff}}}}})
	if code, out, _ := call(t, h, alice, "POST", "/v1/chat/completions", "application/json", string(parts)); code != 200 {
		t.Errorf("parts content: %d %v", code, out)
	}
	tests := []struct {
		name, body string
		status     int
		code       string
	}{
		{"unknown model", `{"model":"gpt-4","messages":[{"role":"user","content":"x"}]}`, 404, "model_not_found"},
		{"streaming", `{"model":"tricycle","stream":true,"messages":[{"role":"user","content":"x"}]}`, 400, "invalid_input"},
		{"no user message", `{"model":"tricycle","messages":[{"role":"system","content":"x"}]}`, 400, "invalid_input"},
		{"image part", `{"model":"tricycle","messages":[{"role":"user","content":[{"type":"image_url","image_url":{}}]}]}`, 400, "invalid_input"},
		{"unknown field", `{"model":"tricycle","tools":[],"messages":[{"role":"user","content":"x"}]}`, 400, "invalid_input"},
	}
	for _, tt := range tests {
		code, out, _ := call(t, h, alice, "POST", "/v1/chat/completions", "application/json", tt.body)
		e, _ := out["error"].(map[string]any)
		if code != tt.status || e["code"] != tt.code || e["type"] == nil {
			t.Errorf("%s: status %d %v, want %d %s in OpenAI's error shape", tt.name, code, out, tt.status, tt.code)
		}
	}
}

func TestModelsListsTheAliases(t *testing.T) {
	t.Parallel()
	_, h := httpBundle(t)
	code, out, _ := call(t, h, alice, "GET", "/v1/models", "", "")
	if code != 200 || out["object"] != "list" {
		t.Fatalf("status %d %v", code, out)
	}
	var ids []string
	for _, m := range out["data"].([]any) {
		ids = append(ids, m.(map[string]any)["id"].(string))
	}
	if fmt.Sprint(ids) != "[tricycle prod]" {
		t.Errorf("models %v", ids)
	}
}

func TestEndpointsDeclarePermissions(t *testing.T) {
	t.Parallel()
	b := setup(t, nil, nil)
	for _, e := range b.g.Endpoints() {
		if e.Permission == "" || e.Handler == nil || e.Status == 0 {
			t.Errorf("endpoint %s %s is incomplete: %+v", e.Method, e.Path, e)
		}
	}
}

func FuzzDecodeStrict(f *testing.F) {
	for _, s := range []string{`{"repository":"org/a","diff":"x"}`, `{"diff":"x","diff":"y"}`, `{"files":{"a":"b"}}`,
		`{"a":[1,{"b":2}],"c":{}}`, `[]`, `{"diff":"x"}{}`, `{`, `{"items":[{"finding":0,"verdict":"accepted"}]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var in ReviewRequest
		err := decodeStrict(data, &in)
		if err != nil {
			return
		}
		// What the strict decoder accepts, the standard one accepts too, with
		// the same result.
		var std ReviewRequest
		if err := json.Unmarshal(data, &std); err != nil {
			t.Fatalf("strict decoder accepted %q that encoding/json refuses: %v", data, err)
		}
		if fmt.Sprint(std) != fmt.Sprint(in) {
			t.Fatalf("decoders disagree on %q: %+v vs %+v", data, in, std)
		}
	})
}

func FuzzChatMessageText(f *testing.F) {
	for _, s := range []string{`"diff"`, `[{"type":"text","text":"a"},{"type":"text","text":"b"}]`, `[{"type":"image_url"}]`, `3`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		text, err := messageText(data)
		if err != nil {
			return
		}
		var s string
		if json.Unmarshal(data, &s) == nil && s != text {
			t.Fatalf("string content %q read as %q", s, text)
		}
	})
}

func strconvQuote(s string) string {
	raw, _ := json.Marshal(s)
	return string(raw)
}
