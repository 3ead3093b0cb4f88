package builtin

import (
	"reflect"
	"testing"

	"github.com/tricyclehq/tricycle/internal/review/diff"
)

func TestLexer(t *testing.T) {
	t.Parallel()
	type out struct{ code, bare, comment string }
	tests := []struct {
		name  string
		lang  string
		lines []string
		want  []out
		lits  [][]string
	}{
		{"go line comment", diff.LangGo, []string{`x := "a//b" // eval(y)`},
			[]out{{`x := "a//b" `, `x := "" `, ` eval(y)`}}, [][]string{{"a//b"}}},
		{"go block comment across lines", diff.LangGo, []string{"a /* one", "two */ b", "c"},
			[]out{{"a ", "a ", " one"}, {"  b", "  b", "two  "}, {"c", "c", ""}}, nil},
		{"go raw string across lines", diff.LangGo, []string{"q := `SELECT", "// not a comment` + x"},
			[]out{{"q := `SELECT", `q := ""`, ""}, {"// not a comment` + x", `"" + x`, ""}},
			[][]string{{"SELECT"}, {"// not a comment"}}},
		{"go rune with quote", diff.LangGo, []string{`c := '"' // x`}, []out{{`c := '"' `, `c := "" `, " x"}}, nil},
		{"python hash in string", diff.LangPython, []string{`url = "http://x/#frag"  # eval(a)`},
			[]out{{`url = "http://x/#frag"  `, `url = ""  `, " eval(a)"}}, nil},
		{"python docstring is comment", diff.LangPython, []string{`    """Run eval(x) safely.`, `    pickle.loads""" + y`},
			[]out{{"    ", "    ", "Run eval(x) safely."}, {" + y", " + y", "    pickle.loads"}}, nil},
		{"python f-string interp", diff.LangPython, []string{`q = f"SELECT {a}" + rb'x'`},
			[]out{{`q = f"SELECT {a}" + rb'x'`, `q = f"" + rb""`, ""}}, [][]string{{"SELECT {a}", "x"}}},
		{"js template and regex", diff.LangJavaScript, []string{"const r = /\"/g; const s = `a ${b}`; // c"},
			[]out{{"const r = /\"/g; const s = `a ${b}`; ", `const r = /re/; const s = ""; `, " c"}}, nil},
		{"js division is not regex", diff.LangJavaScript, []string{`x = a / b / "c"`},
			[]out{{`x = a / b / "c"`, `x = a / b / ""`, ""}}, nil},
		{"java text block", diff.LangJava, []string{`String q = """`, `  SELECT * FROM t WHERE id = %s`, `  """.formatted(id);`},
			[]out{{`String q = """`, `String q = ""`, ""}, {`  SELECT * FROM t WHERE id = %s`, `""`, ""}, {`  """.formatted(id);`, `"".formatted(id);`, ""}}, nil},
		{"javadoc continuation at hunk start", diff.LangJava, []string{" * Runtime.getRuntime().exec(cmd)", " */", "int x;"},
			[]out{{"", "", " * Runtime.getRuntime().exec(cmd)"}, {" ", " ", "  "}, {"int x;", "int x;", ""}}, nil},
		{"unknown language is all code", "", []string{`password: "hunter22" # note`},
			[]out{{`password: "hunter22" # note`, `password: "hunter22" # note`, ""}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lx := newLexer(tt.lang)
			for i, raw := range tt.lines {
				sl := srcLine{raw: raw}
				lx.line(&sl)
				got := out{sl.code, sl.bare, sl.comment}
				if got != tt.want[i] {
					t.Errorf("line %d %q:\n got %+v\nwant %+v", i, raw, got, tt.want[i])
				}
				if tt.lits != nil {
					var texts []string
					for _, x := range sl.lits {
						texts = append(texts, x.text)
					}
					if !reflect.DeepEqual(texts, tt.lits[i]) {
						t.Errorf("line %d literals = %q, want %q", i, texts, tt.lits[i])
					}
				}
			}
		})
	}
}

func TestLexerInterp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		lang, line string
		want       bool
	}{
		{diff.LangPython, `f"id = {x}"`, true},
		{diff.LangPython, `f"id = {{x}}"`, false},
		{diff.LangPython, `"id = {x}"`, false},
		{diff.LangJavaScript, "`id = ${x}`", true},
		{diff.LangJavaScript, "`id = $x`", false},
		{diff.LangGo, "`id = ${x}`", false},
	}
	for _, tt := range tests {
		sl := srcLine{raw: tt.line}
		newLexer(tt.lang).line(&sl)
		if len(sl.lits) != 1 || sl.lits[0].interp != tt.want {
			t.Errorf("%s %s: lits %+v, want interp %v", tt.lang, tt.line, sl.lits, tt.want)
		}
	}
}
