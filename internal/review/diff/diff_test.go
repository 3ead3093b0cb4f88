package diff

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// want is a compact description of a parsed file for table tests.
type want struct {
	oldPath, newPath, lang string
	isNew, isDel, isBin    bool
	hunks                  int
	added                  []Line // Kind is implied
	removed                int
}

func (w want) check(t *testing.T, f File) {
	t.Helper()
	if f.OldPath != w.oldPath || f.NewPath != w.newPath {
		t.Errorf("paths = %q -> %q, want %q -> %q", f.OldPath, f.NewPath, w.oldPath, w.newPath)
	}
	if f.Language != w.lang {
		t.Errorf("%s: language = %q, want %q", f.Path(), f.Language, w.lang)
	}
	if f.IsNew != w.isNew || f.IsDeleted != w.isDel || f.IsBinary != w.isBin {
		t.Errorf("%s: new/deleted/binary = %v/%v/%v, want %v/%v/%v", f.Path(),
			f.IsNew, f.IsDeleted, f.IsBinary, w.isNew, w.isDel, w.isBin)
	}
	if len(f.Hunks) != w.hunks {
		t.Errorf("%s: %d hunks, want %d", f.Path(), len(f.Hunks), w.hunks)
	}
	var got []Line
	for _, l := range f.Added() {
		got = append(got, Line{Text: l.Text, NewNo: l.NewNo})
	}
	if !reflect.DeepEqual(got, w.added) {
		t.Errorf("%s: added = %+v, want %+v", f.Path(), got, w.added)
	}
	removed := 0
	for _, h := range f.Hunks {
		for _, l := range h.Lines {
			if l.Kind == Removed {
				removed++
			}
		}
	}
	if removed != w.removed {
		t.Errorf("%s: %d removed lines, want %d", f.Path(), removed, w.removed)
	}
}

func add(no int, text string) Line { return Line{Text: text, NewNo: no} }

const gitModify = `diff --git a/internal/store/user.go b/internal/store/user.go
index 3b18e51..a9c4f2d 100644
--- a/internal/store/user.go
+++ b/internal/store/user.go
@@ -10,7 +10,8 @@ import (
 
 // UserGet loads one user.
 func (s *Store) UserGet(ctx context.Context, id string) (User, error) {
-	row := s.db.QueryRowContext(ctx, "SELECT name FROM users WHERE id = ?", id)
+	q := "SELECT name FROM users WHERE id = '" + id + "'"
+	row := s.db.QueryRowContext(ctx, q)
 	var u User
 	if err := row.Scan(&u.Name); err != nil {
 		return User{}, fmt.Errorf("get user %s: %w", id, err)
@@ -40,3 +41,4 @@ func (s *Store) UserDelete(ctx context.Context, id string) error {
 	_, err := s.db.ExecContext(ctx, "DELETE FROM users WHERE id = ?", id)
 	return err
 }
+// trailing comment
`

const gitNewAndDeleted = `diff --git a/app/settings.py b/app/settings.py
new file mode 100644
index 0000000..e69de29
--- /dev/null
+++ b/app/settings.py
@@ -0,0 +1,3 @@
+import os
+
+DEBUG = True
diff --git a/web/old.js b/web/old.js
deleted file mode 100644
index 83db48f..0000000
--- a/web/old.js
+++ /dev/null
@@ -1,2 +0,0 @@
-const x = 1;
-module.exports = x;
`

const gitRenameBinary = `diff --git a/src/Main.java b/src/app/Main.java
similarity index 100%
rename from src/Main.java
rename to src/app/Main.java
diff --git a/assets/logo.png b/assets/logo.png
index 1d2f3a4..5e6f7a8 100644
Binary files a/assets/logo.png and b/assets/logo.png differ
diff --git a/assets/icon.png b/assets/icon.png
new file mode 100644
index 0000000000000000000000000000000000000000..9b1c8f6a3a2d4e5f
GIT binary patch
literal 12
TcmZ?wbhEHbRA5kG_{a<ZA0+

literal 0
HcmV?d00001

diff --git a/src/Old.ts b/src/New.ts
similarity index 90%
rename from src/Old.ts
rename to src/New.ts
index 1111111..2222222 100644
--- a/src/Old.ts
+++ b/src/New.ts
@@ -1,2 +1,2 @@
-export const name = "old";
+export const name = "new";
 export default name;
`

const noNewline = `diff --git a/main.go b/main.go
--- a/main.go
+++ b/main.go
@@ -1,3 +1,3 @@
 package main
 
-func main() {}
\ No newline at end of file
+func main() { run() }
\ No newline at end of file
`

const plainDiff = `diff -ruN old/lib/util.py new/lib/util.py
--- old/lib/util.py	2024-03-01 10:00:00.000000000 +0100
+++ new/lib/util.py	2024-03-02 11:30:00.000000000 +0100
@@ -1,4 +1,5 @@
 import subprocess
 
 def run(cmd):
-    return subprocess.run(cmd)
+    # run through the shell
+    return subprocess.run(cmd, shell=True)
Only in new/lib: extra.txt
Binary files old/img/a.gif and new/img/a.gif differ
`

const formatPatch = `From 1a2b3c4d Mon Sep 17 00:00:00 2001
From: Dev <dev@example.com>
Subject: [PATCH] add token helper

---
 token.ts | 3 +++
 1 file changed, 3 insertions(+)

diff --git a/token.ts b/token.ts
new file mode 100644
--- /dev/null
+++ b/token.ts
@@ -0,0 +1,3 @@
+export function token(): string {
+  return Math.random().toString(36);
+}
-- 
2.43.0

`

const quotedPaths = `diff --git "a/docs/caf\303\251 notes.py" "b/docs/caf\303\251 notes.py"
--- "a/docs/caf\303\251 notes.py"
+++ "b/docs/caf\303\251 notes.py"
@@ -1 +1 @@
-x = 1
+x = 2
diff --git a/my dir/a b.go b/my dir/a b.go
--- a/my dir/a b.go	
+++ b/my dir/a b.go	
@@ -5,0 +6 @@ func f() {
+	g()
`

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		text string
		want []want
	}{
		{"empty", "", nil},
		{"no headers", "just some text\nand more\n", nil},
		{"git modify", gitModify, []want{{
			oldPath: "internal/store/user.go", newPath: "internal/store/user.go", lang: LangGo, hunks: 2,
			added: []Line{
				add(13, `	q := "SELECT name FROM users WHERE id = '" + id + "'"`),
				add(14, "	row := s.db.QueryRowContext(ctx, q)"),
				add(44, "// trailing comment"),
			},
			removed: 1,
		}}},
		{"new and deleted", gitNewAndDeleted, []want{
			{newPath: "app/settings.py", lang: LangPython, isNew: true, hunks: 1,
				added: []Line{add(1, "import os"), add(2, ""), add(3, "DEBUG = True")}},
			{oldPath: "web/old.js", lang: LangJavaScript, isDel: true, hunks: 1, removed: 2},
		}},
		{"rename and binary", gitRenameBinary, []want{
			{oldPath: "src/Main.java", newPath: "src/app/Main.java", lang: LangJava},
			{oldPath: "assets/logo.png", newPath: "assets/logo.png", isBin: true},
			{newPath: "assets/icon.png", isNew: true, isBin: true},
			{oldPath: "src/Old.ts", newPath: "src/New.ts", lang: LangTypeScript, hunks: 1,
				added: []Line{add(1, `export const name = "new";`)}, removed: 1},
		}},
		{"no newline marker", noNewline, []want{{
			oldPath: "main.go", newPath: "main.go", lang: LangGo, hunks: 1,
			added: []Line{add(3, "func main() { run() }")}, removed: 1,
		}}},
		{"plain diff -ruN", plainDiff, []want{
			{oldPath: "old/lib/util.py", newPath: "new/lib/util.py", lang: LangPython, hunks: 1,
				added:   []Line{add(4, "    # run through the shell"), add(5, "    return subprocess.run(cmd, shell=True)")},
				removed: 1},
			{oldPath: "old/img/a.gif", newPath: "new/img/a.gif", isBin: true},
		}},
		{"format-patch email", formatPatch, []want{{
			newPath: "token.ts", lang: LangTypeScript, isNew: true, hunks: 1,
			added: []Line{add(1, "export function token(): string {"), add(2, "  return Math.random().toString(36);"), add(3, "}")},
		}}},
		{"quoted and spaced paths", quotedPaths, []want{
			{oldPath: "docs/café notes.py", newPath: "docs/café notes.py", lang: LangPython, hunks: 1,
				added: []Line{add(1, "x = 2")}, removed: 1},
			{oldPath: "my dir/a b.go", newPath: "my dir/a b.go", lang: LangGo, hunks: 1,
				added: []Line{add(6, "\tg()")}},
		}},
		{"crlf", strings.ReplaceAll(gitModify, "\n", "\r\n"), []want{{
			oldPath: "internal/store/user.go", newPath: "internal/store/user.go", lang: LangGo, hunks: 2,
			added: []Line{
				add(13, `	q := "SELECT name FROM users WHERE id = '" + id + "'"`),
				add(14, "	row := s.db.QueryRowContext(ctx, q)"),
				add(44, "// trailing comment"),
			},
			removed: 1,
		}}},
		{"blank context line without space", "--- a/x.js\n+++ b/x.js\n@@ -1,3 +1,3 @@\n a\n\n-b\n+c\n", []want{{
			oldPath: "x.js", newPath: "x.js", lang: LangJavaScript, hunks: 1, added: []Line{add(3, "c")}, removed: 1,
		}}},
		{"no trailing newline in input", "--- a/x.go\n+++ b/x.go\n@@ -1 +1 @@\n-a\n+b", []want{{
			oldPath: "x.go", newPath: "x.go", lang: LangGo, hunks: 1, added: []Line{add(1, "b")}, removed: 1,
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			files, err := Parse(tt.text)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if len(files) != len(tt.want) {
				t.Fatalf("got %d files, want %d: %+v", len(files), len(tt.want), files)
			}
			for i, w := range tt.want {
				w.check(t, files[i])
			}
			checkInvariants(t, files)
		})
	}
}

func TestParseHunkFields(t *testing.T) {
	t.Parallel()
	files, err := Parse(gitModify)
	if err != nil {
		t.Fatal(err)
	}
	h := files[0].Hunks[0]
	if h.OldStart != 10 || h.OldLines != 7 || h.NewStart != 10 || h.NewLines != 8 || h.Section != "import (" {
		t.Errorf("hunk = %+v", h)
	}
	first := h.Lines[0]
	if first.Kind != Context || first.Text != "" || first.OldNo != 10 || first.NewNo != 10 {
		t.Errorf("first line = %+v", first)
	}
	rm := h.Lines[3]
	if rm.Kind != Removed || rm.OldNo != 13 || rm.NewNo != 0 {
		t.Errorf("removed line = %+v", rm)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		text  string
		line  int
		file  string
		parts []string
		limit bool
	}{
		{"hunk too short", "--- a/x.go\n+++ b/x.go\n@@ -1,3 +1,3 @@\n a\n-b\n+c\n", 7, "x.go",
			[]string{"@@ -1,3 +1,3 @@ at line 3", "input ends inside the hunk", "1 more old and 1 more new"}, false},
		{"hunk too long", "--- a/x.go\n+++ b/x.go\n@@ -1,1 +1,1 @@\n-b\n+c\n+d\n", 6, "x.go",
			[]string{"more lines than its header declares"}, false},
		{"added line over count", "--- a/x.py\n+++ b/x.py\n@@ -1,2 +1,1 @@\n-a\n+b\n+c\n", 6, "x.py",
			[]string{"added line does not fit"}, false},
		{"garbage in hunk", "--- a/x.go\n+++ b/x.go\n@@ -1,2 +1,2 @@\n a\n*b\n", 5, "x.go",
			[]string{`unexpected line "*b"`}, false},
		{"hunk before header", "@@ -1 +1 @@\n-a\n+b\n", 1, "",
			[]string{"before any file header"}, false},
		{"bad hunk header", "--- a/x.go\n+++ b/x.go\n@@ -a,1 +1 @@\n", 3, "x.go",
			[]string{"bad hunk header", `bad number "a"`}, false},
		{"missing closing", "--- a/x.go\n+++ b/x.go\n@@ -1 +1\n", 3, "x.go", []string{"missing closing @@"}, false},
		{"overlapping hunks", "--- a/x.go\n+++ b/x.go\n@@ -5,2 +5,2 @@\n a\n b\n@@ -3,1 +3,1 @@\n c\n", 6, "x.go",
			[]string{"overlaps or precedes"}, false},
		{"both dev null", "--- /dev/null\n+++ /dev/null\n", 2, "", []string{"both sides"}, false},
		{"bad git header", "diff --git onlyone\n", 1, "", []string{"bad diff --git header"}, false},
		{"start zero with lines", "--- a/x.go\n+++ b/x.go\n@@ -0,1 +1 @@\n", 3, "x.go", []string{"start 0 with 1 lines"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(tt.text)
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want *ParseError", err)
			}
			if pe.Line != tt.line || pe.File != tt.file {
				t.Errorf("error at line %d file %q, want line %d file %q (%v)", pe.Line, pe.File, tt.line, tt.file, err)
			}
			for _, p := range tt.parts {
				if !strings.Contains(err.Error(), p) {
					t.Errorf("error %q does not mention %q", err, p)
				}
			}
			if errors.Is(err, ErrLimit) != tt.limit {
				t.Errorf("errors.Is(ErrLimit) = %v", !tt.limit)
			}
		})
	}
}

func TestParseLimits(t *testing.T) {
	t.Parallel()
	oneFile := "--- a/x.go\n+++ b/x.go\n@@ -1 +1 @@\n-a\n+b\n"
	tests := []struct {
		name string
		text string
		lim  Limits
		ok   bool
	}{
		{"bytes under", oneFile, Limits{MaxBytes: len(oneFile)}, true},
		{"bytes over", oneFile, Limits{MaxBytes: len(oneFile) - 1}, false},
		{"lines under", oneFile, Limits{MaxLines: 5}, true},
		{"lines over", oneFile, Limits{MaxLines: 4}, false},
		{"files under", strings.Repeat(oneFile, 3), Limits{MaxFiles: 3}, true},
		{"files over", strings.Repeat(oneFile, 4), Limits{MaxFiles: 3}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseLimited(tt.text, tt.lim)
			if tt.ok && err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if !tt.ok && !errors.Is(err, ErrLimit) {
				t.Fatalf("err = %v, want ErrLimit", err)
			}
		})
	}
}

func TestParseDefaultByteLimit(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("x", DefaultLimits().MaxBytes+1)
	if _, err := Parse(big); !errors.Is(err, ErrLimit) {
		t.Fatalf("err = %v, want ErrLimit", err)
	}
}

func TestLanguageOf(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"a/b/c.go": LangGo, "x.py": LangPython, "X.PY": LangPython, "app.jsx": LangJavaScript,
		"m.mjs": LangJavaScript, "c.tsx": LangTypeScript, "Main.java": LangJava, "README.md": "",
		"Makefile": "", "go.mod": "", "dir.go/file": "",
	}
	for p, want := range tests {
		if got := LanguageOf(p); got != want {
			t.Errorf("LanguageOf(%q) = %q, want %q", p, got, want)
		}
	}
}

// checkInvariants asserts what every successful Parse guarantees.
func checkInvariants(t testing.TB, files []File) {
	t.Helper()
	for _, f := range files {
		if f.Language != LanguageOf(f.Path()) {
			t.Fatalf("%s: language %q", f.Path(), f.Language)
		}
		if f.IsNew && f.OldPath != "" || f.IsDeleted && f.NewPath != "" {
			t.Fatalf("%+v: path of missing side is set", f)
		}
		lastNew, lastOld := 0, 0
		for _, h := range f.Hunks {
			oldN, newN := 0, 0
			for _, l := range h.Lines {
				switch l.Kind {
				case Context:
					oldN++
					newN++
				case Added:
					newN++
				case Removed:
					oldN++
				default:
					t.Fatalf("bad kind %v", l.Kind)
				}
				if l.Kind != Removed {
					if l.NewNo <= lastNew || l.NewNo < h.NewStart || l.NewNo >= h.NewStart+h.NewLines {
						t.Fatalf("%s: new line number %d out of order or outside %s", f.Path(), l.NewNo, hunkName(h))
					}
					lastNew = l.NewNo
				}
				if l.Kind != Added {
					if l.OldNo <= lastOld || l.OldNo < h.OldStart || l.OldNo >= h.OldStart+h.OldLines {
						t.Fatalf("%s: old line number %d out of order or outside %s", f.Path(), l.OldNo, hunkName(h))
					}
					lastOld = l.OldNo
				}
				if strings.ContainsAny(l.Text, "\n") {
					t.Fatalf("line text contains a newline: %q", l.Text)
				}
			}
			if oldN != h.OldLines || newN != h.NewLines {
				t.Fatalf("%s: hunk %s holds %d old and %d new lines", f.Path(), hunkName(h), oldN, newN)
			}
		}
		for _, l := range f.Added() {
			if l.Kind != Added {
				t.Fatalf("Added returned a %v line", l.Kind)
			}
		}
	}
}
