package gateway

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/tricyclehq/tricycle/coordination"
	"github.com/tricyclehq/tricycle/internal/review"
)

// BenchmarkReview measures the gateway's own cost per request around a
// reviewer that answers at once: routing, canary split, shadow sampling,
// recording and storing.
func BenchmarkReview(b *testing.B) {
	f := review.Finding{File: "a.go", Line: 3, Severity: review.SeverityHigh, Category: "security"}
	bb := setup(b, map[string]review.Reviewer{"prod": returns(f), "cand": returns(f)}, func(o *Options) {
		o.ShadowQueue, o.Recorder = 1<<16, discardRecorder{}
	})
	bb.routing.set(func(r *coordination.Routing) {
		r.Canary = canary("prm-1", 10, candV)
		r.Experiments = []*coordination.Experiment{running("exp-a", 5, candV)}
	})
	ctx := context.Background()
	if err := bb.g.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer bb.g.Stop(ctx)
	reqs := make([]review.Request, 1024)
	for i := range reqs {
		reqs[i] = review.Request{Repository: fmt.Sprintf("org/r%d", i), Diff: goDiff}
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if _, err := bb.g.Review(ctx, reqs[i%len(reqs)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkAgreement(b *testing.B) {
	var x, y []review.Finding
	for i := range 20 {
		x = append(x, review.Finding{File: "a.go", Line: i, Category: "security"})
		y = append(y, review.Finding{File: "a.go", Line: i + 5, Category: "security"})
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = Agreement(x, y)
	}
}

func BenchmarkDecodeStrict(b *testing.B) {
	body := []byte(`{"repository":"org/repo","diff":` + fmt.Sprintf("%q", goDiff) + `,"files":{"a.go":"package a"}}`)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var in ReviewRequest
		if err := decodeStrict(body, &in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkChatCompletion measures POST /v1/chat/completions end to end in
// process: strict decoding, routing, an openai-provider variant calling a
// loopback upstream (redaction, prompt, HTTP, parsing) and the answer.
func BenchmarkChatCompletion(b *testing.B) {
	srv, _ := fakeUpstream(b, `[{"file":"store/users.go","line":5,"severity":"high","category":"security","rule":"sqli","message":"m","suggestion":"s"}]`)
	reg, err := NewRegistry(RegistryOptions{LookupEnv: func(string) (string, bool) { return "k", true }})
	if err != nil {
		b.Fatal(err)
	}
	v := coordination.Variant{Name: "gpt", Provider: "openai", Model: "m", BaseURL: srv.URL, APIKeyEnv: "K"}
	rs := &routingState{r: coordination.Routing{Production: release(v)}}
	g, err := New(Options{Routing: rs.fetch, Registry: reg, Recorder: discardRecorder{}})
	if err != nil {
		b.Fatal(err)
	}
	h := g.Handler()
	body := []byte(`{"model":"tricycle","messages":[{"role":"user","content":` + strconv.Quote(goDiff) + `}]}`)
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("POST", "/v1/chat/completions", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}
