package builtin

import (
	"strings"

	"github.com/tricyclehq/tricycle/internal/review/diff"
)

// lit is the part of one string literal that lies on one line.
type lit struct {
	text   string // contents without quotes
	prefix string // lower-cased Python prefix letters such as "f" or "rb"
	quote  byte   // the opening quote character
	interp bool   // holds an interpolation: an f-string "{x}" or a template "${x}"
	start  int    // offset in bare of the placeholder's opening quote
	end    int    // offset in bare just past the placeholder's closing quote
}

// srcLine is one new-side line of a hunk, split into code and comments.
type srcLine struct {
	no      int    // 1-based line number in the new file
	added   bool   // the line is added (not context)
	hunk    int    // index of the hunk the line belongs to
	long    bool   // over the line cap: no rule looks at it
	raw     string // the line as written
	lower   string // strings.ToLower(raw)
	code    string // raw without comments; literals kept
	bare    string // code with each literal replaced by `""`
	comment string // the text of comments on this line
	lits    []lit
}

// lexState carries what one line leaves open into the next.
type lexState struct {
	inBlock  bool   // inside /* ... */
	strClose string // inside a multi-line literal closed by this delimiter
	strRaw   bool   // the open literal has no escapes (Go raw string)
	strDoc   bool   // the open literal is a Python docstring: comment text
	strInt   bool   // the open literal is a JS template (may interpolate)
}

// syntax describes the lexical features the lexer needs per language.
type syntax struct {
	lineComment  string
	blockComment bool
	special      string // bytes that may start a literal or a comment
	pyStrings    bool   // prefixes, triple quotes, docstrings
	backquote    bool   // ` starts a raw (Go) or template (JS) literal
	textBlocks   bool   // Java """ text blocks
	regexLits    bool   // JS regular expression literals
}

func syntaxOf(lang string) (syntax, bool) {
	switch lang {
	case diff.LangGo:
		return syntax{lineComment: "//", blockComment: true, special: "\"'`/", backquote: true}, true
	case diff.LangPython:
		return syntax{lineComment: "#", special: "\"'#", pyStrings: true}, true
	case diff.LangJavaScript, diff.LangTypeScript:
		return syntax{lineComment: "//", blockComment: true, special: "\"'`/", backquote: true, regexLits: true}, true
	case diff.LangJava:
		return syntax{lineComment: "//", blockComment: true, special: "\"'/", textBlocks: true}, true
	}
	return syntax{}, false
}

// lexer splits lines of one language into code, literals and comments.
type lexer struct {
	syn   syntax
	known bool
	st    lexState

	pending string // Python prefix of the open multi-line literal

	code, bare, comment strings.Builder
	lits                []lit
}

func newLexer(lang string) *lexer {
	syn, ok := syntaxOf(lang)
	return &lexer{syn: syn, known: ok}
}

// reset forgets open comments and literals, e.g. at the start of a hunk.
func (lx *lexer) reset() { lx.st, lx.pending = lexState{}, "" }

// line lexes one line and fills the code, bare, comment and lits of sl.
func (lx *lexer) line(sl *srcLine) {
	raw := sl.raw
	if !lx.known {
		sl.code, sl.bare = raw, raw
		return
	}
	if !lx.st.inBlock && lx.st.strClose == "" && !strings.ContainsAny(raw, lx.syn.special) {
		sl.code, sl.bare = raw, raw
		if lx.syn.blockComment && continuesBlockComment(raw) {
			sl.code, sl.bare, sl.comment = "", "", raw
		}
		return
	}
	lx.code.Reset()
	lx.bare.Reset()
	lx.comment.Reset()
	lx.lits = nil
	i := 0
	if lx.syn.blockComment && !lx.st.inBlock && lx.st.strClose == "" && continuesBlockComment(raw) {
		// A hunk that starts inside a /* */ comment: " * text" or " */".
		lx.st.inBlock = true
	}
	for i < len(raw) {
		switch {
		case lx.st.inBlock:
			i = lx.blockComment(raw, i)
		case lx.st.strClose != "":
			i = lx.continueString(raw, i)
		default:
			i = lx.codeStep(raw, i)
		}
	}
	sl.code, sl.bare, sl.comment, sl.lits = lx.code.String(), lx.bare.String(), lx.comment.String(), lx.lits
}

// continuesBlockComment reports whether a line looks like the middle or end
// of a /* */ comment (" * text", " *", " */").
func continuesBlockComment(raw string) bool {
	t := strings.TrimLeft(raw, " \t")
	return t == "*" || strings.HasPrefix(t, "* ") || strings.HasPrefix(t, "*/") || strings.HasPrefix(t, "*\t")
}

func (lx *lexer) blockComment(raw string, i int) int {
	j := strings.Index(raw[i:], "*/")
	if j < 0 {
		lx.comment.WriteString(raw[i:])
		return len(raw)
	}
	lx.comment.WriteString(raw[i : i+j])
	lx.comment.WriteByte(' ')
	lx.code.WriteByte(' ')
	lx.bare.WriteByte(' ')
	lx.st.inBlock = false
	return i + j + 2
}

// codeStep consumes one token of code starting at raw[i].
func (lx *lexer) codeStep(raw string, i int) int {
	c := raw[i]
	syn := lx.syn
	if strings.HasPrefix(raw[i:], syn.lineComment) {
		lx.comment.WriteString(raw[i+len(syn.lineComment):])
		return len(raw)
	}
	if syn.blockComment && strings.HasPrefix(raw[i:], "/*") {
		lx.st.inBlock = true
		return i + 2
	}
	switch {
	case c == '"' || c == '\'':
		triple := (syn.pyStrings || (syn.textBlocks && c == '"')) && strings.HasPrefix(raw[i:], strings.Repeat(string(c), 3))
		if triple {
			return lx.openMultiLine(raw, i, raw[i:i+3])
		}
		return lx.oneLineString(raw, i, c)
	case c == '`' && syn.backquote:
		return lx.openMultiLine(raw, i, "`")
	case c == '/' && syn.regexLits && regexAllowed(lx.code.String()):
		if end := regexEnd(raw, i); end > 0 {
			lx.code.WriteString(raw[i:end])
			lx.bare.WriteString("/re/")
			return end
		}
	}
	lx.code.WriteByte(c)
	lx.bare.WriteByte(c)
	return i + 1
}

// pyPrefix returns the lower-cased string prefix letters written just before
// raw[i] (already copied to code), for Python.
func (lx *lexer) pyPrefix(raw string, i int) string {
	if !lx.syn.pyStrings {
		return ""
	}
	j := i
	for j > 0 && i-j < 2 && strings.IndexByte("rRbBfFuU", raw[j-1]) >= 0 {
		j--
	}
	if j > 0 && isWordByte(raw[j-1]) {
		return ""
	}
	return strings.ToLower(raw[j:i])
}

func isWordByte(b byte) bool {
	return b == '_' || b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}

// oneLineString consumes a quoted literal that must end on this line.
func (lx *lexer) oneLineString(raw string, i int, q byte) int {
	prefix := lx.pyPrefix(raw, i)
	j := i + 1
	for j < len(raw) {
		if raw[j] == '\\' {
			j += 2
			continue
		}
		if raw[j] == q {
			break
		}
		j++
	}
	text := raw[i+1 : min(j, len(raw))]
	lx.code.WriteString(raw[i:min(j+1, len(raw))])
	lx.addLit(text, prefix, q, strings.Contains(prefix, "f") && hasFInterp(text))
	return min(j+1, len(raw))
}

func hasFInterp(s string) bool {
	return strings.Contains(strings.ReplaceAll(s, "{{", ""), "{")
}

// addLit records a literal and writes its placeholder to bare.
func (lx *lexer) addLit(text, prefix string, quote byte, interp bool) {
	start := lx.bare.Len()
	lx.bare.WriteString(`""`)
	lx.lits = append(lx.lits, lit{text: text, prefix: prefix, quote: quote, interp: interp, start: start, end: start + 2})
}

// openMultiLine starts a literal that may span lines: Go raw strings, JS
// templates, Python triple-quoted strings and Java text blocks.
func (lx *lexer) openMultiLine(raw string, i int, delim string) int {
	prefix := lx.pyPrefix(raw, i)
	lx.st.strClose = delim
	lx.st.strRaw = delim == "`" && !lx.syn.regexLits
	lx.st.strInt = delim == "`" && lx.syn.regexLits
	lx.st.strDoc = lx.syn.pyStrings && len(delim) == 3 &&
		strings.TrimSpace(strings.TrimSuffix(lx.code.String(), raw[i-len(prefix):i])) == ""
	lx.pending = prefix
	if !lx.st.strDoc {
		lx.code.WriteString(delim)
	}
	return lx.continueString(raw, i+len(delim))
}

// continueString consumes the body of an open multi-line literal, up to its
// closing delimiter or the end of the line.
func (lx *lexer) continueString(raw string, i int) int {
	closer := lx.st.strClose
	j := i
	found := false
	for j < len(raw) {
		if raw[j] == '\\' && !lx.st.strRaw {
			j += 2
			continue
		}
		if strings.HasPrefix(raw[j:], closer) {
			found = true
			break
		}
		j++
	}
	j = min(j, len(raw))
	text := raw[i:j]
	end := j
	if found {
		end = j + len(closer)
	}
	if lx.st.strDoc {
		lx.comment.WriteString(text)
	} else {
		lx.code.WriteString(raw[i:end])
		interp := (lx.st.strInt && strings.Contains(text, "${")) ||
			(strings.Contains(lx.pending, "f") && hasFInterp(text))
		lx.addLit(text, lx.pending, closer[0], interp)
	}
	if found {
		lx.st = lexState{inBlock: lx.st.inBlock}
		lx.pending = ""
	}
	return end
}

// regexAllowed reports whether a '/' after code is the start of a regular
// expression literal rather than a division, in JavaScript.
func regexAllowed(code string) bool {
	t := strings.TrimRight(code, " \t")
	if t == "" {
		return true
	}
	if strings.IndexByte("(,=:[!&|?{};+-*%<>~^", t[len(t)-1]) >= 0 {
		return true
	}
	for _, kw := range []string{"return", "typeof", "case", "void", "in", "of"} {
		if strings.HasSuffix(t, kw) && (len(t) == len(kw) || !isWordByte(t[len(t)-len(kw)-1])) {
			return true
		}
	}
	return false
}

// regexEnd returns the offset just past a regular expression literal that
// starts at raw[i], or 0 if none closes on this line.
func regexEnd(raw string, i int) int {
	inClass := false
	for j := i + 1; j < len(raw); j++ {
		switch raw[j] {
		case '\\':
			j++
		case '[':
			inClass = true
		case ']':
			inClass = false
		case '/':
			if !inClass {
				k := j + 1
				for k < len(raw) && isWordByte(raw[k]) {
					k++
				}
				return k
			}
		}
	}
	return 0
}
