package diff

import (
	"fmt"
	"strconv"
	"strings"
)

// devNull is the path diff tools use for the missing side of a created or
// deleted file.
const devNull = "/dev/null"

// parser holds the state of one Parse call.
type parser struct {
	rest   string // unread input
	lim    Limits
	lineNo int // 1-based number of the line last returned by next

	peekLine string
	peekOK   bool
	peeked   bool

	files []File
	cur   *File // file being built, or nil

	inGitHeader bool // cur came from "diff --git" and no hunk has been seen yet
	skipBinary  bool // inside a "GIT binary patch" body
	afterHunk   bool // the previous line closed a hunk
}

// readRaw cuts the next line off p.rest, stripping "\n" and one "\r".
func (p *parser) readRaw() (string, bool) {
	if p.rest == "" {
		return "", false
	}
	var line string
	if i := strings.IndexByte(p.rest, '\n'); i >= 0 {
		line, p.rest = p.rest[:i], p.rest[i+1:]
	} else {
		line, p.rest = p.rest, ""
	}
	return strings.TrimSuffix(line, "\r"), true
}

// next returns the next input line and advances the line counter.
func (p *parser) next() (string, bool) {
	var line string
	var ok bool
	if p.peeked {
		p.peeked = false
		line, ok = p.peekLine, p.peekOK
	} else {
		line, ok = p.readRaw()
	}
	if ok {
		p.lineNo++
	}
	return line, ok
}

// peek returns the next input line without consuming it.
func (p *parser) peek() (string, bool) {
	if !p.peeked {
		p.peekLine, p.peekOK = p.readRaw()
		p.peeked = true
	}
	return p.peekLine, p.peekOK
}

// errorf builds a ParseError at the current line for the current file.
func (p *parser) errorf(format string, args ...any) error {
	e := &ParseError{Line: p.lineNo, Msg: fmt.Sprintf(format, args...)}
	if p.cur != nil {
		e.File = p.cur.Path()
	}
	return e
}

// flush appends the file being built, if any, to p.files.
func (p *parser) flush() {
	if p.cur == nil {
		return
	}
	p.cur.Language = LanguageOf(p.cur.Path())
	p.files = append(p.files, *p.cur)
	p.cur = nil
	p.inGitHeader, p.skipBinary, p.afterHunk = false, false, false
}

// begin starts a new file after flushing the previous one.
func (p *parser) begin(f File) error {
	p.flush()
	if p.lim.MaxFiles > 0 && len(p.files) >= p.lim.MaxFiles {
		return &ParseError{Line: p.lineNo, Msg: fmt.Sprintf("diff has more than %d files", p.lim.MaxFiles), Err: ErrLimit}
	}
	p.cur = &f
	return nil
}

func (p *parser) run() error {
	for {
		line, ok := p.next()
		if !ok {
			break
		}
		afterHunk := p.afterHunk
		p.afterHunk = false
		if err := p.line(line, afterHunk); err != nil {
			return err
		}
	}
	p.flush()
	return nil
}

// line handles one line outside of a hunk body.
func (p *parser) line(line string, afterHunk bool) error {
	if strings.HasPrefix(line, "diff --git ") {
		return p.gitHeader(line)
	}
	if p.skipBinary {
		return nil
	}
	if strings.HasPrefix(line, "--- ") {
		if next, ok := p.peek(); ok && strings.HasPrefix(next, "+++ ") {
			p.next()
			return p.fileHeader(line[4:], next[4:])
		}
	}
	if strings.HasPrefix(line, "@@ ") {
		if p.cur == nil {
			return p.errorf("hunk header %q before any file header", truncate(line, 80))
		}
		return p.hunk(line)
	}
	if p.cur != nil && p.inGitHeader {
		if done, err := p.extendedHeader(line); done || err != nil {
			return err
		}
	}
	if strings.HasPrefix(line, "Binary files ") && strings.HasSuffix(line, " differ") {
		return p.plainBinary(line)
	}
	if line == "-- " || line == "--" {
		// Mail signature separator after the last file of a patch email.
		p.flush()
		return nil
	}
	if afterHunk && p.cur != nil && line != "" {
		switch line[0] {
		case '+', '-', ' ':
			h := p.cur.Hunks[len(p.cur.Hunks)-1]
			return p.errorf("line is not part of a hunk: the hunk %s has more lines than its header declares", hunkName(h))
		case '\\':
			p.afterHunk = true // a "\ No newline" marker may follow a hunk
		}
	}
	return nil
}

// gitHeader starts a file from a "diff --git a/x b/y" line.
func (p *parser) gitHeader(line string) error {
	p.flush()
	oldPath, newPath, err := splitGitPaths(line[len("diff --git "):])
	if err != nil {
		return p.errorf("bad diff --git header %q: %v", truncate(line, 80), err)
	}
	if err := p.begin(File{OldPath: oldPath, NewPath: newPath}); err != nil {
		return err
	}
	p.inGitHeader = true
	return nil
}

// extendedHeader applies a git extended header line to the current file and
// reports whether it recognised the line.
func (p *parser) extendedHeader(line string) (bool, error) {
	f := p.cur
	cut := func(prefix string) (string, bool) {
		rest, ok := strings.CutPrefix(line, prefix)
		return rest, ok
	}
	if _, ok := cut("new file mode "); ok {
		f.IsNew, f.OldPath = true, ""
		return true, nil
	}
	if _, ok := cut("deleted file mode "); ok {
		f.IsDeleted, f.NewPath = true, ""
		return true, nil
	}
	for _, pre := range []string{"rename from ", "copy from "} {
		if v, ok := cut(pre); ok {
			name, err := unquotePath(v)
			if err != nil {
				return true, p.errorf("bad path in %q: %v", truncate(line, 80), err)
			}
			f.OldPath = name
			return true, nil
		}
	}
	for _, pre := range []string{"rename to ", "copy to "} {
		if v, ok := cut(pre); ok {
			name, err := unquotePath(v)
			if err != nil {
				return true, p.errorf("bad path in %q: %v", truncate(line, 80), err)
			}
			f.NewPath = name
			return true, nil
		}
	}
	if line == "GIT binary patch" {
		f.IsBinary = true
		p.skipBinary = true
		return true, nil
	}
	if strings.HasPrefix(line, "Binary files ") && strings.HasSuffix(line, " differ") {
		f.IsBinary = true
		return true, nil
	}
	for _, pre := range []string{"index ", "old mode ", "new mode ", "similarity index ", "dissimilarity index "} {
		if strings.HasPrefix(line, pre) {
			return true, nil
		}
	}
	return false, nil
}

// fileHeader handles a "--- old" / "+++ new" pair (the prefixes already cut).
func (p *parser) fileHeader(oldField, newField string) error {
	oldPath, err := headerPath(oldField)
	if err != nil {
		return p.errorf("bad --- path %q: %v", truncate(oldField, 80), err)
	}
	newPath, err := headerPath(newField)
	if err != nil {
		return p.errorf("bad +++ path %q: %v", truncate(newField, 80), err)
	}
	oldPath, newPath = stripPrefixes(oldPath, newPath)
	f := File{OldPath: oldPath, NewPath: newPath}
	if oldPath == devNull {
		f.OldPath, f.IsNew = "", true
	}
	if newPath == devNull {
		f.NewPath, f.IsDeleted = "", true
	}
	if f.IsNew && f.IsDeleted {
		return p.errorf("both sides of the file header are %s", devNull)
	}
	if p.cur != nil && p.inGitHeader && len(p.cur.Hunks) == 0 {
		// The ---/+++ pair of a git diff refines the paths of its header.
		g := p.cur
		g.IsNew = g.IsNew || f.IsNew
		g.IsDeleted = g.IsDeleted || f.IsDeleted
		g.OldPath, g.NewPath = f.OldPath, f.NewPath
		if g.IsNew {
			g.OldPath = ""
		}
		if g.IsDeleted {
			g.NewPath = ""
		}
		if g.IsNew && g.IsDeleted {
			return p.errorf("file is both created and deleted")
		}
		p.inGitHeader = false
		return nil
	}
	return p.begin(f)
}

// plainBinary records a "Binary files A and B differ" line outside of a git
// header, as printed by diff -r.
func (p *parser) plainBinary(line string) error {
	body := strings.TrimSuffix(strings.TrimPrefix(line, "Binary files "), " differ")
	oldPath, newPath, ok := strings.Cut(body, " and ")
	if !ok {
		return p.errorf("bad binary file line %q", truncate(line, 80))
	}
	oldPath, newPath = stripPrefixes(oldPath, newPath)
	f := File{OldPath: oldPath, NewPath: newPath, IsBinary: true}
	if oldPath == devNull {
		f.OldPath, f.IsNew = "", true
	}
	if newPath == devNull {
		f.NewPath, f.IsDeleted = "", true
	}
	if err := p.begin(f); err != nil {
		return err
	}
	p.flush()
	return nil
}

// hunkName formats a hunk's header for messages.
func hunkName(h Hunk) string {
	return fmt.Sprintf("@@ -%d,%d +%d,%d @@", h.OldStart, h.OldLines, h.NewStart, h.NewLines)
}

// hunk parses a hunk header and its body.
func (p *parser) hunk(header string) error {
	h, err := parseHunkHeader(header)
	if err != nil {
		return p.errorf("bad hunk header %q: %v", truncate(header, 80), err)
	}
	p.inGitHeader = false
	if n := len(p.cur.Hunks); n > 0 {
		prev := p.cur.Hunks[n-1]
		if h.OldStart < prev.OldStart+prev.OldLines || h.NewStart < prev.NewStart+prev.NewLines {
			return p.errorf("hunk %s overlaps or precedes the previous hunk %s", hunkName(h), hunkName(prev))
		}
	}
	headerLine := p.lineNo
	oldRem, newRem := h.OldLines, h.NewLines
	oldNo, newNo := h.OldStart, h.NewStart
	h.Lines = make([]Line, 0, min(oldRem+newRem, 256))
	short := func(what string) error {
		return p.errorf("hunk %s at line %d: %s; expected %d more old and %d more new lines",
			hunkName(h), headerLine, what, oldRem, newRem)
	}
	for oldRem > 0 || newRem > 0 {
		line, ok := p.next()
		if !ok {
			p.lineNo++ // point just past the end of the input
			return short("input ends inside the hunk")
		}
		kind := byte(' ')
		text := ""
		if line != "" {
			kind, text = line[0], line[1:]
		}
		switch kind {
		case ' ':
			if oldRem == 0 || newRem == 0 {
				return short("context line does not fit the counts")
			}
			h.Lines = append(h.Lines, Line{Kind: Context, Text: text, OldNo: oldNo, NewNo: newNo})
			oldNo, newNo, oldRem, newRem = oldNo+1, newNo+1, oldRem-1, newRem-1
		case '-':
			if oldRem == 0 {
				return short("removed line does not fit the counts")
			}
			h.Lines = append(h.Lines, Line{Kind: Removed, Text: text, OldNo: oldNo})
			oldNo, oldRem = oldNo+1, oldRem-1
		case '+':
			if newRem == 0 {
				return short("added line does not fit the counts")
			}
			h.Lines = append(h.Lines, Line{Kind: Added, Text: text, NewNo: newNo})
			newNo, newRem = newNo+1, newRem-1
		case '\\':
			// "\ No newline at end of file" refers to the previous line.
		default:
			return short(fmt.Sprintf("unexpected line %q", truncate(line, 40)))
		}
	}
	p.cur.Hunks = append(p.cur.Hunks, h)
	p.afterHunk = true
	return nil
}

// parseHunkHeader parses "@@ -a[,b] +c[,d] @@[ section]".
func parseHunkHeader(s string) (Hunk, error) {
	var h Hunk
	rest := strings.TrimPrefix(s, "@@ ")
	end := strings.Index(rest, " @@")
	if end < 0 {
		return h, fmt.Errorf("missing closing @@")
	}
	ranges, section := rest[:end], rest[end+3:]
	h.Section = strings.TrimPrefix(section, " ")
	oldR, newR, ok := strings.Cut(ranges, " ")
	if !ok || !strings.HasPrefix(oldR, "-") || !strings.HasPrefix(newR, "+") {
		return h, fmt.Errorf("want -start,count +start,count")
	}
	var err error
	if h.OldStart, h.OldLines, err = parseRange(oldR[1:]); err != nil {
		return h, fmt.Errorf("old range: %w", err)
	}
	if h.NewStart, h.NewLines, err = parseRange(newR[1:]); err != nil {
		return h, fmt.Errorf("new range: %w", err)
	}
	if h.OldLines == 0 && h.NewLines == 0 {
		return h, fmt.Errorf("hunk has no lines")
	}
	return h, nil
}

// parseRange parses "start[,count]"; count defaults to 1 and start may be 0
// only when count is 0.
func parseRange(s string) (start, count int, err error) {
	a, b, hasCount := strings.Cut(s, ",")
	if start, err = parseNum(a); err != nil {
		return 0, 0, err
	}
	count = 1
	if hasCount {
		if count, err = parseNum(b); err != nil {
			return 0, 0, err
		}
	}
	if start == 0 && count != 0 {
		return 0, 0, fmt.Errorf("start 0 with %d lines", count)
	}
	return start, count, nil
}

// parseNum parses a small non-negative decimal number.
func parseNum(s string) (int, error) {
	if s == "" || len(s) > 9 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("bad number %q", truncate(s, 20))
	}
	return strconv.Atoi(s)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
