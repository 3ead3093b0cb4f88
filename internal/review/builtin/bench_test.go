package builtin_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/tricyclehq/tricycle/internal/review"
	"github.com/tricyclehq/tricycle/internal/review/builtin"
	"github.com/tricyclehq/tricycle/internal/review/golden"
)

// largeMixedDiff concatenates the golden set's diffs (all five languages,
// vulnerable and clean) until the text reaches size bytes.
func largeMixedDiff(tb testing.TB, size int) string {
	tb.Helper()
	cases, err := golden.Load("../../../testdata/golden")
	if err != nil {
		tb.Fatal(err)
	}
	var b strings.Builder
	for b.Len() < size {
		for _, c := range cases {
			b.WriteString(c.Diff)
		}
	}
	return b.String()
}

func benchmarkReview(b *testing.B, text string) {
	r := builtin.New(builtin.Options{})
	req := review.Request{ID: "bench", Diff: text}
	lines := strings.Count(text, "\n")
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := r.Review(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(lines)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

func BenchmarkReview(b *testing.B) {
	benchmarkReview(b, largeMixedDiff(b, 2<<20))
}

// BenchmarkReviewPathological reviews lines just under the length cap made
// of quotes, escapes, comment markers and keywords meant to stress the lexer
// and the rules' patterns.
func BenchmarkReviewPathological(b *testing.B) {
	var sb strings.Builder
	for i, lang := range []string{"a.go", "a.py", "a.js", "A.java"} {
		unit := []string{`"\'` + "`", `/*'"#`, `SELECT password= "`, `+ ${x} eval( `}[i]
		line := strings.Repeat(unit, 4000/len(unit))
		fmt.Fprintf(&sb, "--- /dev/null\n+++ b/%s\n@@ -0,0 +1,200 @@\n", lang)
		for range 200 {
			sb.WriteString("+" + line + "\n")
		}
	}
	benchmarkReview(b, sb.String())
}
