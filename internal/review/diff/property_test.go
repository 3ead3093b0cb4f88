package diff

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// op is one step of an edit script from old to new.
type op struct {
	kind Kind
	text string
}

// editScript returns a shortest edit script from a to b (LCS based).
func editScript(a, b []string) []op {
	n, m := len(a), len(b)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var ops []op
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			ops = append(ops, op{Context, a[i]})
			i, j = i+1, j+1
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			ops = append(ops, op{Added, b[j]})
			j++
		default:
			ops = append(ops, op{Removed, a[i]})
			i++
		}
	}
	return ops
}

// unified renders ops as a unified diff of one file with ctx context lines
// and returns the diff with the added and removed lines it should parse to.
func unified(name string, ops []op, ctx int) (text string, added, removed []Line) {
	var sb strings.Builder
	fmt.Fprintf(&sb, "diff --git a/%s b/%s\n--- a/%s\n+++ b/%s\n", name, name, name, name)
	// oldBefore[k], newBefore[k]: old/new lines consumed before op k.
	oldBefore := make([]int, len(ops)+1)
	newBefore := make([]int, len(ops)+1)
	for k, o := range ops {
		oldBefore[k+1], newBefore[k+1] = oldBefore[k], newBefore[k]
		if o.kind != Added {
			oldBefore[k+1]++
		}
		if o.kind != Removed {
			newBefore[k+1]++
		}
	}
	k := 0
	for k < len(ops) {
		if ops[k].kind == Context {
			k++
			continue
		}
		start := max(0, k-ctx)
		end := k // exclusive end of the hunk in op space
		for end < len(ops) {
			if ops[end].kind != Context {
				end++
				continue
			}
			run := end
			for run < len(ops) && ops[run].kind == Context {
				run++
			}
			if run == len(ops) || run-end > 2*ctx {
				end = min(end+ctx, run)
				break
			}
			end = run
		}
		oldN := oldBefore[end] - oldBefore[start]
		newN := newBefore[end] - newBefore[start]
		oldS, newS := oldBefore[start]+1, newBefore[start]+1
		if oldN == 0 {
			oldS--
		}
		if newN == 0 {
			newS--
		}
		fmt.Fprintf(&sb, "@@ -%d,%d +%d,%d @@\n", oldS, oldN, newS, newN)
		for i := start; i < end; i++ {
			o := ops[i]
			switch o.kind {
			case Context:
				sb.WriteString(" " + o.text + "\n")
			case Added:
				sb.WriteString("+" + o.text + "\n")
				added = append(added, Line{Kind: Added, Text: o.text, NewNo: newBefore[i] + 1})
			case Removed:
				sb.WriteString("-" + o.text + "\n")
				removed = append(removed, Line{Kind: Removed, Text: o.text, OldNo: oldBefore[i] + 1})
			}
		}
		k = end
	}
	return sb.String(), added, removed
}

// alphabet mixes ordinary lines with lines that look like diff syntax once
// a marker is put in front of them.
var alphabet = []string{"a", "b", "c", "", "-- x", "++ y", "@@ -1 +1 @@", `\ w`, "diff --git a/q b/q", " sp", "--- a/f", "++ b/f"}

func randomLines(r *rand.Rand) []string {
	out := make([]string, r.IntN(30))
	for i := range out {
		out[i] = alphabet[r.IntN(len(alphabet))]
	}
	return out
}

func TestParseRoundTripProperty(t *testing.T) {
	t.Parallel()
	const seed = 20240601
	r := rand.New(rand.NewPCG(seed, 7))
	for iter := range 500 {
		var text strings.Builder
		var wantAdded, wantRemoved [][]Line
		files := 1 + r.IntN(3)
		for f := range files {
			a, b := randomLines(r), randomLines(r)
			d, added, removed := unified(fmt.Sprintf("dir/f%d.go", f), editScript(a, b), r.IntN(4))
			text.WriteString(d)
			wantAdded, wantRemoved = append(wantAdded, added), append(wantRemoved, removed)
		}
		input := text.String()
		if r.IntN(4) == 0 {
			input = strings.ReplaceAll(input, "\n", "\r\n")
		}
		got, err := Parse(input)
		if err != nil {
			t.Fatalf("seed %d iter %d: Parse: %v\n%s", seed, iter, err, input)
		}
		if len(got) != files {
			t.Fatalf("seed %d iter %d: %d files, want %d\n%s", seed, iter, len(got), files, input)
		}
		checkInvariants(t, got)
		for i, f := range got {
			var removed []Line
			for _, h := range f.Hunks {
				for _, l := range h.Lines {
					if l.Kind == Removed {
						removed = append(removed, l)
					}
				}
			}
			if added := f.Added(); !reflect.DeepEqual(added, wantAdded[i]) {
				t.Fatalf("seed %d iter %d file %d: added\n got %+v\nwant %+v\n%s", seed, iter, i, added, wantAdded[i], input)
			}
			if !reflect.DeepEqual(removed, wantRemoved[i]) {
				t.Fatalf("seed %d iter %d file %d: removed\n got %+v\nwant %+v\n%s", seed, iter, i, removed, wantRemoved[i], input)
			}
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{gitModify, gitNewAndDeleted, gitRenameBinary, noNewline, plainDiff, formatPatch, quotedPaths,
		"--- a/x.go\n+++ b/x.go\n@@ -1,3 +1,3 @@\n a\n-b\n+c\n", "@@ -1 +1 @@\n", "diff --git \"a/x\" b/y\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		files, err := ParseLimited(text, Limits{MaxBytes: 1 << 16, MaxFiles: 100, MaxLines: 5000})
		if err != nil {
			if _, ok := err.(*ParseError); !ok {
				t.Fatalf("error %v is not a *ParseError", err)
			}
			return
		}
		checkInvariants(t, files)
	})
}

// benchDiff builds a multi-file diff of about n added lines.
func benchDiff(n int) string {
	var sb strings.Builder
	r := rand.New(rand.NewPCG(1, 2))
	for f := 0; n > 0; f++ {
		fmt.Fprintf(&sb, "diff --git a/pkg/f%d.go b/pkg/f%d.go\nindex 1..2 100644\n--- a/pkg/f%d.go\n+++ b/pkg/f%d.go\n", f, f, f, f)
		start := 1
		for range 5 {
			added := 5 + r.IntN(20)
			fmt.Fprintf(&sb, "@@ -%d,6 +%d,%d @@ func f%d() {\n", start, start, 6+added-1, f)
			sb.WriteString(" \tx := 1\n \ty := 2\n-\told := x + y\n")
			for i := range added {
				fmt.Fprintf(&sb, "+\tv%d := compute(ctx, %q, x, y)\n", i, "some argument text")
			}
			sb.WriteString(" \treturn x\n \t}\n \t// end\n")
			start += 6 + added + 10
			n -= added
		}
	}
	return sb.String()
}

func BenchmarkParse(b *testing.B) {
	text := benchDiff(50_000)
	lines := strings.Count(text, "\n")
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := Parse(text); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(lines)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
