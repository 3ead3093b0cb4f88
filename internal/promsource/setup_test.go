package promsource

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tricyclehq/tricycle/coordination"
)

// sample is one element of a fake instant vector.
type sample struct {
	labels map[string]string
	value  float64
}

// request is what the fake server received for one query.
type request struct {
	expr    string
	at      time.Time
	timeout string
}

// fakeProm answers /api/v1/query like Prometheus, from answer. A nil
// answer or a nil vector answers an empty vector.
type fakeProm struct {
	t      testing.TB
	srv    *httptest.Server
	answer func(expr string) (status int, body string)

	mu       sync.Mutex // guards requests
	requests []request
}

// newFakeProm starts a fake Prometheus answering vectors from byQuery: the
// first key (tried longest first) that the query contains picks the vector.
func newFakeProm(t testing.TB, byQuery map[string][]sample) *fakeProm {
	t.Helper()
	keys := make([]string, 0, len(byQuery))
	for k := range byQuery {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return len(keys[i]) > len(keys[j]) })
	f := &fakeProm{t: t}
	f.answer = func(expr string) (int, string) {
		for _, k := range keys {
			if strings.Contains(expr, k) {
				return http.StatusOK, vectorJSON(byQuery[k])
			}
		}
		return http.StatusOK, vectorJSON(nil)
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeProm) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/api/v1/query" {
		http.NotFound(w, r)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	req := request{expr: r.Form.Get("query"), timeout: r.Form.Get("timeout")}
	if ts, err := strconv.ParseFloat(r.Form.Get("time"), 64); err == nil {
		sec := int64(ts)
		req.at = time.Unix(sec, int64((ts-float64(sec))*1e9)).UTC()
	}
	f.mu.Lock()
	f.requests = append(f.requests, req)
	answer := f.answer
	f.mu.Unlock()
	status, body := answer(req.expr)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// seen returns the requests received so far.
func (f *fakeProm) seen() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.requests...)
}

// vectorJSON renders a successful instant-vector answer.
func vectorJSON(samples []sample) string {
	type result struct {
		Metric map[string]string `json:"metric"`
		Value  [2]any            `json:"value"`
	}
	res := make([]result, 0, len(samples))
	for _, s := range samples {
		m := s.labels
		if m == nil {
			m = map[string]string{}
		}
		res = append(res, result{Metric: m, Value: [2]any{1700000000.0, strconv.FormatFloat(s.value, 'g', -1, 64)}})
	}
	out, err := json.Marshal(map[string]any{"status": "success", "data": map[string]any{"resultType": "vector", "result": res}})
	if err != nil {
		panic(err)
	}
	return string(out)
}

// errorJSON renders Prometheus's error answer.
func errorJSON(typ, msg string) string {
	return fmt.Sprintf(`{"status":"error","errorType":%q,"error":%q}`, typ, msg)
}

// labels builds a label map from name, value pairs.
func labels(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// buckets renders cumulative latency buckets of one series kind.
func buckets(kind string, bounds []string, counts []float64) []sample {
	out := make([]sample, len(bounds))
	for i := range bounds {
		out[i] = sample{labels: labels("series_kind", kind, "le", bounds[i]), value: counts[i]}
	}
	return out
}

// testNow is the fixed evaluation time of the tests.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// newSource returns a Source on f with a fixed clock and opts' other fields.
func newSource(t testing.TB, f *fakeProm, opts Options) *Source {
	t.Helper()
	opts.URL = f.srv.URL
	if opts.Clock == nil {
		opts.Clock = coordination.ClockFunc(func() time.Time { return testNow })
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
