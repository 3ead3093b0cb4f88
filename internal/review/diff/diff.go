// Package diff parses unified diffs into files, hunks and numbered lines.
//
// It understands the output of `git diff` (extended headers such as `new file
// mode`, `deleted file mode`, `rename from`/`rename to`, `Binary files ...
// differ` and `GIT binary patch`), plain `diff -u` output with `---`/`+++`
// headers, `/dev/null` sides, `\ No newline at end of file` markers, CRLF line
// endings and any number of files in one text.
//
// The parser is strict where a reviewer depends on it: a hunk whose body does
// not contain exactly the number of old and new lines its `@@` header declares
// is an error, as are hunks out of order and inputs over the limits. Text
// outside of files (a commit message before the first header, `Only in ...`
// lines between files) is ignored. Every error is a *ParseError naming the
// 1-based input line and, when known, the file.
//
// The input is untrusted: parsing is linear in its size and allocates no more
// than a small constant factor of it.
package diff

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// Languages the parser recognises from a file's extension.
const (
	// LangGo is Go (.go).
	LangGo = "go"
	// LangPython is Python (.py, .pyw, .pyi).
	LangPython = "python"
	// LangJavaScript is JavaScript (.js, .mjs, .cjs, .jsx).
	LangJavaScript = "javascript"
	// LangTypeScript is TypeScript (.ts, .tsx, .mts, .cts).
	LangTypeScript = "typescript"
	// LangJava is Java (.java).
	LangJava = "java"
)

// ErrLimit is wrapped by every error about an input over a Limits bound.
var ErrLimit = errors.New("diff exceeds limit")

// Kind says which side of the diff a line belongs to.
type Kind int

const (
	// Context is a line present, unchanged, in both the old and new file.
	Context Kind = iota
	// Added is a line present only in the new file.
	Added
	// Removed is a line present only in the old file.
	Removed
)

// String returns "context", "added" or "removed".
func (k Kind) String() string {
	switch k {
	case Context:
		return "context"
	case Added:
		return "added"
	case Removed:
		return "removed"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Line is one line of a hunk body.
type Line struct {
	// Kind is Added, Removed or Context.
	Kind Kind
	// Text is the line without its leading marker and without a trailing CR.
	Text string
	// OldNo is the 1-based line number in the old file; 0 for Added lines.
	OldNo int
	// NewNo is the 1-based line number in the new file; 0 for Removed lines.
	NewNo int
}

// Hunk is one `@@ -OldStart,OldLines +NewStart,NewLines @@` section.
//
// Invariant after a successful Parse: the body holds exactly OldLines lines
// of kind Context or Removed and NewLines lines of kind Context or Added.
type Hunk struct {
	// OldStart and OldLines are the first line and the line count in the
	// old file; OldStart is the line before the hunk when OldLines is 0.
	OldStart, OldLines int
	// NewStart and NewLines are the same for the new file.
	NewStart, NewLines int
	// Section is the optional text after the closing `@@`, often the
	// enclosing function's signature.
	Section string
	Lines   []Line
}

// File is the change to one file.
type File struct {
	// OldPath is the path before the change, without a/ prefix; empty for a
	// new file.
	OldPath string
	// NewPath is the path after the change, without b/ prefix; empty for a
	// deleted file.
	NewPath string
	// Language is derived from the file's extension by LanguageOf; "" when
	// the language is not one the reviewer knows.
	Language string
	// IsNew, IsDeleted and IsBinary describe the kind of change.
	IsNew, IsDeleted, IsBinary bool
	// Hunks are in file order; they never overlap.
	Hunks []Hunk
}

// Path returns NewPath, or OldPath for a deleted file.
func (f File) Path() string {
	if f.NewPath != "" {
		return f.NewPath
	}
	return f.OldPath
}

// Added returns the added lines of every hunk, in order.
func (f File) Added() []Line {
	var out []Line
	for _, h := range f.Hunks {
		for _, l := range h.Lines {
			if l.Kind == Added {
				out = append(out, l)
			}
		}
	}
	return out
}

// LanguageOf maps a file path to one of the Lang constants by extension, or
// "" when the extension is not recognised.
func LanguageOf(p string) string {
	switch strings.ToLower(path.Ext(p)) {
	case ".go":
		return LangGo
	case ".py", ".pyw", ".pyi":
		return LangPython
	case ".js", ".mjs", ".cjs", ".jsx":
		return LangJavaScript
	case ".ts", ".tsx", ".mts", ".cts":
		return LangTypeScript
	case ".java":
		return LangJava
	}
	return ""
}

// Limits bounds what Parse accepts. A zero field means "no limit".
type Limits struct {
	// MaxBytes bounds the length of the whole text.
	MaxBytes int
	// MaxFiles bounds the number of files.
	MaxFiles int
	// MaxLines bounds the number of input lines.
	MaxLines int
}

// DefaultLimits returns the limits Parse applies: 10 MiB, 10,000 files and
// 1,000,000 lines.
func DefaultLimits() Limits {
	return Limits{MaxBytes: 10 << 20, MaxFiles: 10_000, MaxLines: 1_000_000}
}

// ParseError reports where and why a diff was rejected.
type ParseError struct {
	// Line is the 1-based input line the problem was found on.
	Line int
	// File is the path of the file being parsed, if any.
	File string
	// Msg says what was wrong.
	Msg string
	// Err is an underlying cause such as ErrLimit, or nil.
	Err error
}

// Error formats the problem as "diff line N (file F): message".
func (e *ParseError) Error() string {
	if e.File != "" {
		return fmt.Sprintf("diff line %d (file %s): %s", e.Line, e.File, e.Msg)
	}
	return fmt.Sprintf("diff line %d: %s", e.Line, e.Msg)
}

// Unwrap returns the underlying cause.
func (e *ParseError) Unwrap() error { return e.Err }

// Parse parses text as a unified diff with DefaultLimits. Text with no file
// headers at all yields no files and no error.
func Parse(text string) ([]File, error) {
	return ParseLimited(text, DefaultLimits())
}

// ParseLimited parses text as a unified diff, rejecting input over lim.
func ParseLimited(text string, lim Limits) ([]File, error) {
	if lim.MaxBytes > 0 && len(text) > lim.MaxBytes {
		return nil, &ParseError{Line: 1, Msg: fmt.Sprintf("diff is %d bytes, limit is %d", len(text), lim.MaxBytes), Err: ErrLimit}
	}
	if lim.MaxLines > 0 {
		n := strings.Count(text, "\n")
		if !strings.HasSuffix(text, "\n") && text != "" {
			n++
		}
		if n > lim.MaxLines {
			return nil, &ParseError{Line: lim.MaxLines + 1, Msg: fmt.Sprintf("diff has %d lines, limit is %d", n, lim.MaxLines), Err: ErrLimit}
		}
	}
	p := &parser{rest: text, lim: lim}
	if err := p.run(); err != nil {
		return nil, err
	}
	return p.files, nil
}
