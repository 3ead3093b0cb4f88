package golden

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/tricyclehq/tricycle/internal/review"
	"github.com/tricyclehq/tricycle/internal/review/diff"
)

const setDir = "../../../testdata/golden"

const sampleDiff = "diff --git a/a.go b/a.go\n--- a/a.go\n+++ b/a.go\n@@ -1,2 +1,4 @@\n package a\n+var x = 1\n+var y = 2\n \n"

// caseJSON renders a case document with overrides applied to a valid base.
func caseJSON(t testing.TB, edit func(m map[string]any)) []byte {
	t.Helper()
	m := map[string]any{
		"id": "go/sample-01", "language": "go", "description": "A sample.", "diff": sampleDiff,
		"expected": []any{map[string]any{"file": "a.go", "line": 2, "category": "security", "rule": "x/y"}},
	}
	if edit != nil {
		edit(m)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLoadGoldenSet(t *testing.T) {
	t.Parallel()
	cases, err := Load(setDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) < 80 {
		t.Fatalf("%d cases, want at least 80", len(cases))
	}
	perLang := map[string][2]int{} // positives, negatives
	tags := map[string]int{}
	for _, c := range cases {
		n := perLang[c.Language]
		if len(c.Expected) > 0 {
			n[0]++
		} else {
			n[1]++
		}
		perLang[c.Language] = n
		for _, tag := range c.Tags {
			tags[tag]++
		}
	}
	for _, group := range [][]string{{"go"}, {"python"}, {"javascript", "typescript"}, {"java"}} {
		pos, neg := 0, 0
		for _, l := range group {
			pos, neg = pos+perLang[l][0], neg+perLang[l][1]
		}
		if pos < 10 || neg < 4 {
			t.Errorf("%v: %d positive and %d clean cases, want at least 10 and 4", group, pos, neg)
		}
	}
	if tags[TagPromptInjection] < 8 || tags[TagHard] < 10 {
		t.Errorf("tags %v: want at least 8 prompt-injection and 10 hard cases", tags)
	}
}

func TestParseCase(t *testing.T) {
	t.Parallel()
	c, err := ParseCase("go/sample-01", caseJSON(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	want := Expected{File: "a.go", Line: 2, Category: "security", Rule: "x/y"}
	if c.ID != "go/sample-01" || len(c.Expected) != 1 || c.Expected[0] != want {
		t.Errorf("case = %+v", c)
	}
	clean, err := ParseCase("", caseJSON(t, func(m map[string]any) { m["expected"] = []any{}; m["tags"] = []string{"clean"} }))
	if err != nil || clean.Expected == nil || len(clean.Expected) != 0 {
		t.Errorf("clean case: %+v, %v", clean, err)
	}
}

func TestParseCaseErrors(t *testing.T) {
	t.Parallel()
	exp := func(file string, line int, cat string) []any {
		return []any{map[string]any{"file": file, "line": line, "category": cat}}
	}
	tests := []struct {
		name string
		edit func(m map[string]any)
		raw  string
		want string
	}{
		{"unknown field", func(m map[string]any) { m["severity"] = "high" }, "", `unknown field "severity"`},
		{"id mismatch", func(m map[string]any) { m["id"] = "go/other" }, "", `does not match the file's path "go/sample-01"`},
		{"missing id", func(m map[string]any) { delete(m, "id") }, "", "missing id"},
		{"unknown language", func(m map[string]any) { m["language"] = "rust" }, "", `unknown language "rust"`},
		{"missing description", func(m map[string]any) { m["description"] = " " }, "", "missing description"},
		{"unknown tag", func(m map[string]any) { m["tags"] = []string{"easy"} }, "", `unknown tag "easy"`},
		{"clean tag with expectations", func(m map[string]any) { m["tags"] = []string{"clean"} }, "", `tag "clean"`},
		{"no expectations without clean tag", func(m map[string]any) { m["expected"] = []any{} }, "", `tag "clean"`},
		{"file not in diff", func(m map[string]any) { m["expected"] = exp("b.go", 2, "security") }, "", `file "b.go" is not in the diff`},
		{"context line", func(m map[string]any) { m["expected"] = exp("a.go", 1, "security") }, "", "line 1 of a.go is not an added line"},
		{"unknown category", func(m map[string]any) { m["expected"] = exp("a.go", 2, "style") }, "", `unknown category "style"`},
		{"duplicate", func(m map[string]any) {
			m["expected"] = append(exp("a.go", 3, "security"), exp("a.go", 3, "security")...)
		}, "", "duplicate a.go:3 security"},
		{"bad diff", func(m map[string]any) { m["diff"] = "--- a/a.go\n+++ b/a.go\n@@ -1 +1,2 @@\n+x\n" }, "", "diff: diff line"},
		{"trailing data", nil, string(caseJSON(t, nil)) + "{}", "trailing data"},
		{"not json", nil, "id: x", "decode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data := []byte(tt.raw)
			if tt.raw == "" {
				data = caseJSON(t, tt.edit)
			}
			_, err := ParseCase("go/sample-01", data)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestLoadFSNamesBadFile(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{
		"go/sample-01.json": {Data: caseJSON(t, nil)},
		"go/sample-02.json": {Data: caseJSON(t, nil)}, // id says sample-01
		"README.md":         {Data: []byte("# not a case")},
	}
	_, err := LoadFS(fsys)
	if err == nil || !strings.Contains(err.Error(), "go/sample-02.json") {
		t.Fatalf("err = %v, want it to name go/sample-02.json", err)
	}
	delete(fsys, "go/sample-02.json")
	cases, err := LoadFS(fsys)
	if err != nil || len(cases) != 1 {
		t.Fatalf("cases %d, err %v", len(cases), err)
	}
	if _, err := LoadFS(fstest.MapFS{"README.md": {Data: []byte("x")}}); err == nil {
		t.Error("an empty set loaded without error")
	}
}

// fakeReviewer answers with a function of the request.
type fakeReviewer func(req review.Request) (review.Result, error)

func (f fakeReviewer) Review(_ context.Context, req review.Request) (review.Result, error) {
	return f(req)
}

// syntheticSet is two Go cases and one Python case, one of them clean.
func syntheticSet(t testing.TB) []Case {
	t.Helper()
	mk := func(id, lang, path string, exp []Expected, tags ...string) Case {
		d := strings.ReplaceAll(sampleDiff, "a.go", path)
		return Case{ID: id, Language: lang, Description: id, Diff: d, Expected: exp, Tags: tags}
	}
	return []Case{
		mk("go/one", "go", "a.go", []Expected{{File: "a.go", Line: 2, Category: "security"}, {File: "a.go", Line: 3, Category: "correctness"}}),
		mk("go/clean", "go", "b.go", []Expected{}, TagClean),
		mk("python/one", "python", "c.py", []Expected{{File: "c.py", Line: 3, Category: "security"}}),
	}
}

func TestScoreCounts(t *testing.T) {
	t.Parallel()
	cases := syntheticSet(t)
	// Finds a.go:2 security, reports a.go:3 with the wrong category, reports
	// c.py:3 twice, and flags the clean case.
	answers := map[string][]review.Finding{
		"golden:go/one":     {{File: "a.go", Line: 2, Category: "security"}, {File: "a.go", Line: 3, Category: "performance"}},
		"golden:go/clean":   {{File: "b.go", Line: 2, Category: "maintainability"}},
		"golden:python/one": {{File: "c.py", Line: 3, Category: "security"}, {File: "c.py", Line: 3, Category: "security"}},
	}
	r := fakeReviewer(func(req review.Request) (review.Result, error) {
		return review.Result{Findings: answers[req.ID]}, nil
	})
	rep, err := Score(context.Background(), r, cases)
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, m Metrics, tp, fp, fn int, f1 float64) {
		t.Helper()
		if m.TP != tp || m.FP != fp || m.FN != fn || !near(m.F1, f1) {
			t.Errorf("%s = %+v, want TP %d FP %d FN %d F1 %.3f", name, m, tp, fp, fn, f1)
		}
	}
	check("overall", rep.Overall, 2, 3, 1, 4.0/8)
	check("security", rep.ByCategory["security"], 2, 1, 0, 4.0/5)
	check("correctness", rep.ByCategory["correctness"], 0, 0, 1, 0)
	check("performance", rep.ByCategory["performance"], 0, 1, 0, 0)
	check("go", rep.ByLanguage["go"], 1, 2, 1, 2.0/5)
	check("python", rep.ByLanguage["python"], 1, 1, 0, 2.0/3)
	if !near(rep.Overall.Precision, 2.0/5) || !near(rep.Overall.Recall, 2.0/3) || rep.Accuracy() != rep.Overall.F1 {
		t.Errorf("overall = %+v", rep.Overall)
	}
	if rep.Passed != 0 || rep.CleanFlagged != 1 || rep.Errors != 0 || len(rep.Cases) != 3 {
		t.Errorf("passed %d clean flagged %d errors %d cases %d", rep.Passed, rep.CleanFlagged, rep.Errors, len(rep.Cases))
	}
	one := rep.Cases[0]
	if len(one.Missed) != 1 || one.Missed[0].Line != 3 || len(one.Extra) != 1 || one.Extra[0].Category != "performance" {
		t.Errorf("case go/one = %+v", one)
	}
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }

// oracle answers every case with exactly its expectations.
func oracle(cases []Case) review.Reviewer {
	byID := map[string][]Expected{}
	for _, c := range cases {
		byID["golden:"+c.ID] = c.Expected
	}
	return fakeReviewer(func(req review.Request) (review.Result, error) {
		var out []review.Finding
		for _, e := range byID[req.ID] {
			out = append(out, review.Finding{File: e.File, Line: e.Line, Category: e.Category, Rule: e.Rule, Severity: review.SeverityHigh})
		}
		return review.Result{Findings: out}, nil
	})
}

// everything reports every category on every added line.
var everything = fakeReviewer(func(req review.Request) (review.Result, error) {
	files, err := diff.Parse(req.Diff)
	if err != nil {
		return review.Result{}, err
	}
	var out []review.Finding
	for _, f := range files {
		for _, l := range f.Added() {
			for _, cat := range Categories {
				out = append(out, review.Finding{File: f.NewPath, Line: l.NewNo, Category: cat})
			}
		}
	}
	return review.Result{Findings: out}, nil
})

func TestScoreReferenceReviewers(t *testing.T) {
	t.Parallel()
	cases, err := Load(setDir)
	if err != nil {
		t.Fatal(err)
	}
	nothing := fakeReviewer(func(review.Request) (review.Result, error) { return review.Result{}, nil })
	failing := fakeReviewer(func(review.Request) (review.Result, error) { return review.Result{}, errors.New("model unavailable") })
	tests := []struct {
		name         string
		r            review.Reviewer
		minF1, maxF1 float64
	}{
		{"oracle", oracle(cases), 1, 1},
		{"reports nothing", nothing, 0, 0},
		{"reports everything", everything, 0, 0.1},
		{"always fails", failing, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rep, err := Score(context.Background(), tt.r, cases)
			if err != nil {
				t.Fatal(err)
			}
			if f1 := rep.Accuracy(); f1 < tt.minF1 || f1 > tt.maxF1 {
				t.Errorf("F1 = %.3f, want within [%.2f, %.2f] (%+v)", f1, tt.minF1, tt.maxF1, rep.Overall)
			}
			if tt.name == "always fails" && (rep.Errors != len(cases) || !strings.Contains(rep.Cases[0].Err, "model unavailable")) {
				t.Errorf("errors = %d, first case error %q", rep.Errors, rep.Cases[0].Err)
			}
		})
	}
}

func TestScoreStopsOnCancel(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	r := fakeReviewer(func(review.Request) (review.Result, error) {
		calls++
		cancel()
		return review.Result{}, context.Canceled
	})
	if _, err := Score(ctx, r, syntheticSet(t)); !errors.Is(err, context.Canceled) || calls != 1 {
		t.Errorf("err = %v after %d calls, want context.Canceled after 1", err, calls)
	}
}

func TestWriteText(t *testing.T) {
	t.Parallel()
	cases := syntheticSet(t)
	rep, err := Score(context.Background(), everything, cases)
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	if err := rep.WriteText(&sb); err != nil {
		t.Fatal(err)
	}
	out := sb.String()
	for _, want := range []string{"F1 (accuracy)", "category security", "language python", "go/clean", "extra  b.go:2"} {
		if !strings.Contains(out, want) {
			t.Errorf("report does not contain %q:\n%s", want, out)
		}
	}
}

func FuzzParseCase(f *testing.F) {
	f.Add(string(caseJSON(f, nil)))
	f.Add(string(caseJSON(f, func(m map[string]any) { m["expected"] = []any{}; m["tags"] = []string{"clean", "hard"} })))
	f.Add(`{"id":"x","language":"go","description":"d","diff":"","expected":null}`)
	f.Fuzz(func(t *testing.T, data string) {
		c, err := ParseCase("", []byte(data))
		if err != nil {
			return
		}
		files, err := diff.Parse(c.Diff)
		if err != nil {
			t.Fatalf("accepted a case whose diff does not parse: %v", err)
		}
		for _, e := range c.Expected {
			found := false
			for _, f := range files {
				for _, l := range f.Added() {
					found = found || (f.NewPath == e.File && l.NewNo == e.Line)
				}
			}
			if !found {
				t.Fatalf("accepted expectation %+v on a line the diff does not add", e)
			}
		}
	})
}
