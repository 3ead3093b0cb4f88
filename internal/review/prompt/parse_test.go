package prompt

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tricyclehq/tricycle/internal/review"
)

const goodAnswer = `{"summary": "Adds a handler.", "findings": [
 {"file": "main.go", "line": 12, "severity": "high", "category": "security", "rule": "sql-injection",
  "message": "Query built from user input.", "suggestion": "Use a placeholder."},
 {"file": "util/x.go", "line": 1, "severity": "INFO", "category": "style"}
]}`

func TestParseFindingsAccepts(t *testing.T) {
	t.Parallel()
	want := []review.Finding{
		{File: "main.go", Line: 12, Severity: review.SeverityHigh, Category: "security", Rule: "sql-injection",
			Message: "Query built from user input.", Suggestion: "Use a placeholder."},
		{File: "util/x.go", Line: 1, Severity: review.SeverityInfo, Category: "style"},
	}
	tests := []struct {
		name, in string
		want     []review.Finding
		summary  string
	}{
		{"plain", goodAnswer, want, "Adds a handler."},
		{"json fence", "```json\n" + goodAnswer + "\n```", want, "Adds a handler."},
		{"bare fence and whitespace", "\n  ```\n" + goodAnswer + "\n```  \n", want, "Adds a handler."},
		{"no findings", `{"summary": "Fine.", "findings": []}`, []review.Finding{}, "Fine."},
		{"summary omitted", `{"findings": []}`, []review.Finding{}, ""},
		{"null optional fields", `{"summary": null, "findings": [{"file":"a","line":2,"severity":"low","category":"bug","rule":null}]}`,
			[]review.Finding{{File: "a", Line: 2, Severity: review.SeverityLow, Category: "bug"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, summary, err := ParseFindings(tt.in)
			if err != nil {
				t.Fatalf("ParseFindings: %v", err)
			}
			if summary != tt.summary {
				t.Errorf("summary = %q, want %q", summary, tt.summary)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) || len(got) != len(tt.want) {
				t.Errorf("findings = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseFindingsRefuses(t *testing.T) {
	t.Parallel()
	finding := func(fields string) string { return `{"summary":"s","findings":[{` + fields + `}]}` }
	ok := `"file":"a.go","line":3,"severity":"low","category":"bug"`
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"prose", "The code looks good to me."},
		{"prose around json", "Here you go: " + goodAnswer},
		{"trailing data", goodAnswer + ` {"findings": []}`},
		{"trailing text", goodAnswer + "\nHope this helps!"},
		{"two fences", "```json\n" + goodAnswer + "\n```\n```json\n{}\n```"},
		{"other language fence", "```yaml\n" + goodAnswer + "\n```"},
		{"truncated", goodAnswer[:len(goodAnswer)/2]},
		{"array", `[]`},
		{"null", `null`},
		{"unknown top key", `{"summary":"s","findings":[],"verdict":"approve"}`},
		{"key wrong case", `{"Summary":"s","findings":[]}`},
		{"missing findings", `{"summary":"s"}`},
		{"null findings", `{"summary":"s","findings":null}`},
		{"findings object", `{"summary":"s","findings":{}}`},
		{"summary number", `{"summary":1,"findings":[]}`},
		{"null finding", `{"findings":[null]}`},
		{"unknown finding key", finding(ok + `,"confidence":0.9`)},
		{"finding key wrong case", finding(`"File":"a.go","line":3,"severity":"low","category":"bug"`)},
		{"empty file", finding(`"file":"","line":3,"severity":"low","category":"bug"`)},
		{"file with newline", finding(`"file":"a\nb","line":3,"severity":"low","category":"bug"`)},
		{"line zero", finding(`"file":"a.go","line":0,"severity":"low","category":"bug"`)},
		{"line negative", finding(`"file":"a.go","line":-4,"severity":"low","category":"bug"`)},
		{"line fraction", finding(`"file":"a.go","line":2.5,"severity":"low","category":"bug"`)},
		{"line string", finding(`"file":"a.go","line":"3","severity":"low","category":"bug"`)},
		{"line huge", finding(`"file":"a.go","line":99999999999,"severity":"low","category":"bug"`)},
		{"missing line", finding(`"file":"a.go","severity":"low","category":"bug"`)},
		{"bad severity", finding(`"file":"a.go","line":3,"severity":"blocker","category":"bug"`)},
		{"missing severity", finding(`"file":"a.go","line":3,"category":"bug"`)},
		{"empty category", finding(`"file":"a.go","line":3,"severity":"low","category":" "`)},
		{"oversized message", finding(ok + `,"message":"` + strings.Repeat("x", MaxFieldBytes+1) + `"`)},
		{"oversized answer", `{"findings":[],"summary":"` + strings.Repeat("x", MaxOutputBytes) + `"}`},
		{"invalid utf8", "{\"findings\":[],\"summary\":\"\xff\"}"},
		{"too many findings", `{"findings":[` + strings.TrimSuffix(strings.Repeat(`{`+ok+`},`, MaxFindings+1), ",") + `]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, _, err := ParseFindings(tt.in)
			if !errors.Is(err, ErrUnparsable) {
				t.Errorf("ParseFindings = %+v, %v; want an error wrapping ErrUnparsable", got, err)
			}
		})
	}
}

func FuzzParseFindings(f *testing.F) {
	f.Add(goodAnswer)
	f.Add("```json\n" + goodAnswer + "\n```")
	f.Add(`{"findings":[]}`)
	f.Add(`{"findings":[{"file":"a","line":1,"severity":"Low","category":"c"}]} x`)
	f.Add(`{"summary":"s","findings":[{"file":"a","line":1e3,"severity":"low","category":"c"}]}`)
	f.Add("```\n{}\n```")
	f.Fuzz(func(t *testing.T, in string) {
		findings, summary, err := ParseFindings(in)
		if err != nil {
			if !errors.Is(err, ErrUnparsable) {
				t.Fatalf("error %v does not wrap ErrUnparsable", err)
			}
			return
		}
		for _, fd := range findings {
			if fd.File == "" || fd.Line < 1 || !fd.Severity.Valid() || strings.TrimSpace(fd.Category) == "" {
				t.Fatalf("invalid finding accepted: %+v", fd)
			}
		}
		// What was accepted survives a round trip unchanged.
		out, err := json.Marshal(map[string]any{"summary": summary, "findings": findings})
		if err != nil {
			t.Fatal(err)
		}
		again, summary2, err := ParseFindings(string(out))
		if err != nil || summary2 != summary || fmt.Sprint(again) != fmt.Sprint(findings) {
			t.Fatalf("round trip of %s: %+v %q %v", out, again, summary2, err)
		}
	})
}

func BenchmarkParseFindings(b *testing.B) {
	b.SetBytes(int64(len(goodAnswer)))
	for b.Loop() {
		if _, _, err := ParseFindings(goodAnswer); err != nil {
			b.Fatal(err)
		}
	}
}
