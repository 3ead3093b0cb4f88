package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkCreateExperiment measures one authenticated, strictly decoded
// create through the handler, over the in-memory store.
func BenchmarkCreateExperiment(b *testing.B) {
	f := setup(b)
	tok := f.tok["admin"]
	h := f.srv.Handler()
	const body = `{"title":"bench","success_criteria":{"accuracy":"> 90%"},"variant":{"name":"b","provider":"simulated","model":"m"}}`
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest("POST", "/api/v1/experiments", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusCreated {
			b.Fatalf("create: %d %s", w.Code, w.Body)
		}
	}
}

// BenchmarkDecodeStrict measures the strict JSON decoder on a typical create body.
func BenchmarkDecodeStrict(b *testing.B) {
	data := []byte(`{"title":"Test GPT-4.5 for security analysis","hypothesis":"GPT-4.5 will improve vulnerability detection by 20%",
		"success_criteria":{"accuracy":"> 90%","latency_p95":"< 3s","cost_per_review":"< $0.15"},
		"variant":{"name":"gpt45","provider":"openai","model":"gpt-4.5","parameters":{"temperature":0.2,"max_tokens":2048}}}`)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		var req CreateExperimentRequest
		if err := decodeStrict(data, &req); err != nil {
			b.Fatal(err)
		}
	}
}
