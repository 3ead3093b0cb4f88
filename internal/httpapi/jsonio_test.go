package httpapi

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/tricyclehq/tricycle/coordination"
)

func TestCheckJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		doc   string
		field string // "" when valid
	}{
		{`{}`, ""},
		{`{"a":1,"b":{"a":2},"c":[{"a":1},{"a":2}]}`, ""},
		{`{"a":1,"a":2}`, "a"},
		{`{"a":{"b":1,"b":2}}`, "a.b"},
		{`{"a":[{"b":1},{"b":1,"b":2}]}`, "a[1].b"},
		{`{"a":[[{"x":1,"x":1}]]}`, "a[0][0].x"},
		{`{"a":"\u0061","\u0061":1}`, "a"},
		{`[]`, "body"},
		{`"x"`, "body"},
		{`{} {}`, "body"},
		{`{} x`, "body"},
		{`{"a":` + strings.Repeat(`[`, maxJSONDepth+1) + strings.Repeat(`]`, maxJSONDepth+1) + `}`, "a" + strings.Repeat("[0]", maxJSONDepth-1)},
	}
	for _, tt := range tests {
		err := checkJSON([]byte(tt.doc))
		if tt.field == "" {
			if err != nil {
				t.Errorf("checkJSON(%s) = %v, want nil", tt.doc, err)
			}
			continue
		}
		if !errors.Is(err, coordination.ErrInvalidInput) || !strings.Contains(err.Error(), ": "+tt.field+": ") {
			t.Errorf("checkJSON(%.60s) = %v, want an invalid-input error naming %q", tt.doc, err, tt.field)
		}
	}
}

// FuzzDecodeStrict checks that the strict decoder never panics, accepts only
// valid JSON objects without duplicate keys, and agrees with encoding/json on
// what it accepts.
func FuzzDecodeStrict(f *testing.F) {
	for _, s := range []string{
		`{"title":"t","success_criteria":{"accuracy":"> 90%"},"variant":{"name":"a","parameters":{"k":[1,{"z":null}]}}}`,
		`{"title":"t","title":"u"}`, `{"evaluation_min":"1h"}`, `{"evaluation_min":1}`, `{} {}`, `[`, `{"a":1}`,
		`{"variant":{"simulated":{"latency_p50":"800ms"}}}`, `{"shadow_percent":1e400}`, "{\"title\":\"\xff\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var req CreateExperimentRequest
		err := decodeStrict(data, &req)
		if err == nil {
			if !json.Valid(data) {
				t.Fatalf("accepted invalid JSON %q", data)
			}
			var again CreateExperimentRequest
			if err := json.Unmarshal(data, &again); err != nil {
				t.Fatalf("accepted %q that encoding/json refuses: %v", data, err)
			}
			return
		}
		if !errors.Is(err, coordination.ErrInvalidInput) {
			t.Fatalf("error %v does not wrap ErrInvalidInput", err)
		}
	})
}
