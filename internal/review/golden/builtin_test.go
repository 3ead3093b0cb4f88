package golden_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/tricyclehq/tricycle/internal/review/builtin"
	"github.com/tricyclehq/tricycle/internal/review/golden"
)

// The builtin reviewer's score on testdata/golden, recorded when the set had
// 135 cases: TP 87, FP 3, FN 12; precision 0.967, recall 0.879, F1 0.921.
// What it misses are mostly the cases tagged hard (data flow across lines,
// intent, API quirks). The thresholds leave a little room for new cases;
// a drop below them is a regression to look at, not to paper over.
const (
	minF1        = 0.88
	minPrecision = 0.92
	minRecall    = 0.83
)

// Run with GOLDEN_REPORT=1 to print the full report.
func TestBuiltinOnGoldenSet(t *testing.T) {
	t.Parallel()
	cases, err := golden.Load("../../../testdata/golden")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := golden.Score(context.Background(), builtin.New(builtin.Options{}), cases)
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	if err := rep.WriteText(&sb); err != nil {
		t.Fatal(err)
	}
	if os.Getenv("GOLDEN_REPORT") != "" {
		t.Log("\n" + sb.String())
	}
	m := rep.Overall
	if m.F1 < minF1 || m.Precision < minPrecision || m.Recall < minRecall {
		t.Errorf("builtin scores precision %.3f recall %.3f F1 %.3f, want at least %.2f / %.2f / %.2f\n%s",
			m.Precision, m.Recall, m.F1, minPrecision, minRecall, minF1, sb.String())
	}
	if rep.Errors != 0 {
		t.Errorf("%d cases failed to review", rep.Errors)
	}
	// Comments addressed to the reviewer must not hide what it would
	// otherwise find.
	for i, c := range cases {
		if c.HasTag(golden.TagPromptInjection) && !c.HasTag(golden.TagClean) && len(rep.Cases[i].Missed) > 0 {
			t.Errorf("%s: missed %+v behind a prompt-injection comment", c.ID, rep.Cases[i].Missed)
		}
	}
}
