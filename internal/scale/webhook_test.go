package scale_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/internal/scale"
)

var testSecret = []byte("0123456789abcdef-shared-secret")

// receiver is a webhook endpoint that checks signatures independently of
// the package under test and keeps a replica count.
type receiver struct {
	t testing.TB

	mu       sync.Mutex
	replicas int
	got      []receivedRequest
	// respond, when set, replaces the protocol answer.
	respond func(http.ResponseWriter, *http.Request)
}

type receivedRequest struct {
	method, contentType, signature string
	body                           []byte
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		rc.t.Errorf("read request: %v", err)
	}
	rc.mu.Lock()
	rc.got = append(rc.got, receivedRequest{r.Method, r.Header.Get("Content-Type"), r.Header.Get(scale.SignatureHeader), body})
	respond := rc.respond
	rc.mu.Unlock()
	if respond != nil {
		respond(w, r)
		return
	}
	mac := hmac.New(sha256.New, testSecret)
	mac.Write(body)
	if r.Header.Get(scale.SignatureHeader) != "sha256="+hex.EncodeToString(mac.Sum(nil)) {
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if r.Method == http.MethodPost {
		var req struct {
			Replicas int    `json:"replicas"`
			Reason   string `json:"reason"`
		}
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rc.replicas = req.Replicas
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]int{"replicas": rc.replicas})
}

func (rc *receiver) requests() []receivedRequest {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]receivedRequest(nil), rc.got...)
}

func setupWebhook(tb testing.TB, replicas int) (*receiver, *scale.Webhook, *httptest.Server) {
	tb.Helper()
	rc := &receiver{t: tb, replicas: replicas}
	srv := httptest.NewServer(rc)
	tb.Cleanup(srv.Close)
	w, err := scale.NewWebhook(scale.WebhookOptions{URL: srv.URL + "/scale", Secret: testSecret, Timeout: 5 * time.Second})
	if err != nil {
		tb.Fatalf("NewWebhook: %v", err)
	}
	return rc, w, srv
}

func TestWebhookScalePostsSignedJSON(t *testing.T) {
	t.Parallel()
	rc, w, _ := setupWebhook(t, 2)
	if err := w.Scale(t.Context(), 5, "alr-7 cpu_utilization critical"); err != nil {
		t.Fatalf("Scale: %v", err)
	}
	got, err := w.Replicas(t.Context())
	if err != nil || got != 5 {
		t.Fatalf("Replicas after Scale = %d, %v; want 5", got, err)
	}
	reqs := rc.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want a POST and a GET", len(reqs))
	}
	post := reqs[0]
	if post.method != http.MethodPost || post.contentType != "application/json" {
		t.Errorf("first request %s with content type %q, want a JSON POST", post.method, post.contentType)
	}
	var body map[string]any
	if err := json.Unmarshal(post.body, &body); err != nil {
		t.Fatalf("POST body %q: %v", post.body, err)
	}
	if len(body) != 2 || body["replicas"] != float64(5) || body["reason"] != "alr-7 cpu_utilization critical" {
		t.Errorf("POST body %s, want exactly replicas 5 and the reason", post.body)
	}
	if !scale.Verify(testSecret, post.body, post.signature) {
		t.Errorf("Verify refuses the POST's own signature %q", post.signature)
	}
	if reqs[1].method != http.MethodGet || !scale.Verify(testSecret, nil, reqs[1].signature) {
		t.Errorf("second request %s signed %q, want a signed GET", reqs[1].method, reqs[1].signature)
	}
}

func TestVerifyRefusesTampering(t *testing.T) {
	t.Parallel()
	body := []byte(`{"replicas":3,"reason":"x"}`)
	sig := scale.Sign(testSecret, body)
	cases := map[string]struct {
		secret, body []byte
		header       string
	}{
		"other body":      {testSecret, []byte(`{"replicas":30,"reason":"x"}`), sig},
		"other secret":    {[]byte("another-secret-of-16+"), body, sig},
		"no prefix":       {testSecret, body, strings.TrimPrefix(sig, "sha256=")},
		"not hex":         {testSecret, body, "sha256=zz"},
		"truncated":       {testSecret, body, sig[:len(sig)-2]},
		"empty header":    {testSecret, body, ""},
		"other algorithm": {testSecret, body, strings.Replace(sig, "sha256=", "sha1=", 1)},
	}
	for name, tc := range cases {
		if scale.Verify(tc.secret, tc.body, tc.header) {
			t.Errorf("%s: Verify accepted a signature that does not match", name)
		}
	}
	if !scale.Verify(testSecret, body, sig) {
		t.Error("Verify refused a matching signature")
	}
}

func TestWebhookStrictResponses(t *testing.T) {
	t.Parallel()
	jsonReply := func(status int, body string) func(http.ResponseWriter, *http.Request) {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = io.WriteString(w, body)
		}
	}
	cases := []struct {
		name    string
		respond func(http.ResponseWriter, *http.Request)
		want    string
	}{
		{"server error", jsonReply(http.StatusInternalServerError, `{"error":"boom"}`), "status 500"},
		{"accepted is not ok", jsonReply(http.StatusAccepted, `{"replicas":4}`), "status 202"},
		{"no content", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }, "status 204"},
		{"redirect not followed", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		}, "status 302"},
		{"text body", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, `{"replicas":4}`)
		}, "not application/json"},
		{"unknown field", jsonReply(http.StatusOK, `{"replicas":4,"status":"ok"}`), "unknown fields"},
		{"missing replicas", jsonReply(http.StatusOK, `{}`), `no "replicas" field`},
		{"null", jsonReply(http.StatusOK, `null`), `no "replicas" field`},
		{"fractional", jsonReply(http.StatusOK, `{"replicas":4.5}`), "not an integer"},
		{"capitalised field", jsonReply(http.StatusOK, `{"Replicas":4}`), `no "replicas" field`},
		{"string count", jsonReply(http.StatusOK, `{"replicas":"4"}`), "not an integer"},
		{"trailing data", jsonReply(http.StatusOK, `{"replicas":4} {"replicas":5}`), "data after the JSON object"},
		{"oversized", jsonReply(http.StatusOK, `{"replicas":4}`+strings.Repeat(" ", scale.MaxResponseBytes)), "larger than"},
		{"wrong count", jsonReply(http.StatusOK, `{"replicas":3}`), "acknowledged 3 replicas, asked for 4"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rc, w, _ := setupWebhook(t, 2)
			rc.respond = tc.respond
			err := w.Scale(t.Context(), 4, "alr-1")
			if !errors.Is(err, scale.ErrBadResponse) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Scale = %v, want ErrBadResponse mentioning %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), "scale through webhook http://127.0.0.1:") {
				t.Errorf("error %q does not name the webhook", err)
			}
		})
	}
}

func TestWebhookReplicasRefusesNegativeCount(t *testing.T) {
	t.Parallel()
	rc, w, _ := setupWebhook(t, 2)
	rc.respond = func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = io.WriteString(w, `{"replicas":-1}`)
	}
	if _, err := w.Replicas(t.Context()); !errors.Is(err, scale.ErrBadResponse) {
		t.Fatalf("Replicas = %v, want ErrBadResponse", err)
	}
}

func TestWebhookTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	rc := &receiver{t: t, respond: func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	w, err := scale.NewWebhook(scale.WebhookOptions{URL: srv.URL, Secret: testSecret, Timeout: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	err = w.Scale(t.Context(), 3, "alr-1")
	if err == nil || !strings.Contains(err.Error(), "deadline exceeded") {
		t.Fatalf("Scale against a hung webhook = %v, want a deadline error", err)
	}
}

func TestWebhookErrorsHideThePassword(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "nope", http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	u := strings.Replace(srv.URL, "http://", "http://ops:hunter2@", 1)
	w, err := scale.NewWebhook(scale.WebhookOptions{URL: u, Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	err = w.Scale(t.Context(), 3, "alr-1")
	if err == nil || strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), string(testSecret)) {
		t.Fatalf("error %v leaks a credential", err)
	}
	if !strings.Contains(err.Error(), "status 503") {
		t.Errorf("error %q does not give the status", err)
	}
}

func TestWebhookScaleRefusesInvalidCountWithoutCalling(t *testing.T) {
	t.Parallel()
	rc, w, _ := setupWebhook(t, 2)
	if err := w.Scale(t.Context(), 0, "alr-1"); !errors.Is(err, coordination.ErrInvalidInput) {
		t.Fatalf("Scale(0) = %v, want ErrInvalidInput", err)
	}
	if n := len(rc.requests()); n != 0 {
		t.Errorf("Scale(0) sent %d requests", n)
	}
}

func TestNewWebhookValidatesOptions(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		opts scale.WebhookOptions
		want string
	}{
		{"no url", scale.WebhookOptions{Secret: testSecret}, "url: must not be empty"},
		{"ftp", scale.WebhookOptions{URL: "ftp://example.com/x", Secret: testSecret}, `scheme "ftp"`},
		{"no host", scale.WebhookOptions{URL: "http:///x", Secret: testSecret}, "names no host"},
		{"short secret", scale.WebhookOptions{URL: "https://example.com", Secret: []byte("short")}, "secret: 5 bytes"},
		{"negative timeout", scale.WebhookOptions{URL: "https://example.com", Secret: testSecret, Timeout: -time.Second}, "timeout"},
	}
	for _, tc := range cases {
		_, err := scale.NewWebhook(tc.opts)
		if !errors.Is(err, coordination.ErrInvalidInput) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want ErrInvalidInput naming %q", tc.name, err, tc.want)
		}
	}
}

// FuzzWebhookResponse feeds arbitrary response bodies to Replicas: it must
// never panic, and any count it accepts must be non-negative and come from
// a body that really is {"replicas": n}.
func FuzzWebhookResponse(f *testing.F) {
	for _, seed := range []string{`{"replicas":3}`, `{"replicas":-1}`, `{}`, `null`, `[]`, `{"replicas":1e3}`,
		`{"replicas":3}x`, `{"replicas":3,"replicas":4}`, `{"Replicas":2}`, "\xff", ``} {
		f.Add(seed)
	}
	var (
		mu   sync.Mutex
		body string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		b := body
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, b)
	}))
	defer srv.Close()
	w, err := scale.NewWebhook(scale.WebhookOptions{URL: srv.URL, Secret: testSecret})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in string) {
		mu.Lock()
		body = in
		mu.Unlock()
		n, err := w.Replicas(t.Context())
		if err != nil {
			if !errors.Is(err, scale.ErrBadResponse) {
				t.Fatalf("Replicas(%q) = %v, not ErrBadResponse", in, err)
			}
			return
		}
		if n < 0 {
			t.Fatalf("Replicas(%q) accepted negative %d", in, n)
		}
		var check map[string]json.RawMessage
		if json.Unmarshal([]byte(in), &check) != nil || len(check) != 1 || check["replicas"] == nil {
			t.Fatalf("Replicas(%q) = %d from a body that is not a one-field object", in, n)
		}
	})
}
