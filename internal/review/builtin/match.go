package builtin

import (
	"regexp"
	"strings"

	"github.com/tricyclehq/tricycle/internal/review"
	"github.com/tricyclehq/tricycle/internal/review/diff"
)

// Categories of findings.
const (
	catSecurity        = "security"
	catCorrectness     = "correctness"
	catPerformance     = "performance"
	catMaintainability = "maintainability"
)

// langSet is a set of languages a rule applies to.
type langSet uint8

const (
	lGo langSet = 1 << iota
	lPy
	lJS
	lTS
	lJava
	// lUnknown is a file whose language the reviewer does not know
	// (configuration, documentation, shell scripts).
	lUnknown

	lWeb  = lJS | lTS
	lCode = lGo | lPy | lWeb | lJava
	lAny  = lCode | lUnknown
)

func langBit(lang string) langSet {
	switch lang {
	case diff.LangGo:
		return lGo
	case diff.LangPython:
		return lPy
	case diff.LangJavaScript:
		return lJS
	case diff.LangTypeScript:
		return lTS
	case diff.LangJava:
		return lJava
	}
	return lUnknown
}

// names lists the languages in s, for RuleInfo.
func (s langSet) names() []string {
	var out []string
	for _, p := range []struct {
		bit  langSet
		name string
	}{{lGo, diff.LangGo}, {lPy, diff.LangPython}, {lJS, diff.LangJavaScript}, {lTS, diff.LangTypeScript}, {lJava, diff.LangJava}, {lUnknown, "other"}} {
		if s&p.bit != 0 {
			out = append(out, p.name)
		}
	}
	return out
}

// matchFunc reports whether a rule fires on line i of a file.
type matchFunc func(c *fileCtx, i int) bool

// rule is one check of the reviewer.
type rule struct {
	id         string
	category   string
	severity   review.Severity
	langs      langSet
	kw         []string // lower-case; the raw line must contain one (nil: no prefilter)
	match      matchFunc
	message    string
	suggestion string
}

// fileCtx is what rules see of one file: its new-side lines and facts
// derived from them.
type fileCtx struct {
	path  string
	lang  string
	lines []srcLine
	fn    []string        // lower-cased name of the enclosing function per line, if seen
	taint map[string]bool // identifiers assigned from user input
	code  string          // every line's code, newline separated, for file-level facts

	awsKeyLines []bool // per line: holds an AWS access key id; computed on first use
}

// rx compiles a pattern; patterns are constants, so a failure is a bug.
func rx(p string) *regexp.Regexp { return regexp.MustCompile(p) }

// onRaw matches re against the whole line, comments and literals included.
func onRaw(re *regexp.Regexp) matchFunc {
	return func(c *fileCtx, i int) bool { return re.MatchString(c.lines[i].raw) }
}

// onCode matches re against the line without comments.
func onCode(re *regexp.Regexp) matchFunc {
	return func(c *fileCtx, i int) bool { return re.MatchString(c.lines[i].code) }
}

// onBare matches re against the line without comments or literal contents.
func onBare(re *regexp.Regexp) matchFunc {
	return func(c *fileCtx, i int) bool { return re.MatchString(c.lines[i].bare) }
}

// hasInterp fires when a literal on the line interpolates values.
func hasInterp(c *fileCtx, i int) bool {
	for _, l := range c.lines[i].lits {
		if l.interp {
			return true
		}
	}
	return false
}

// all fires when every m fires.
func all(ms ...matchFunc) matchFunc {
	return func(c *fileCtx, i int) bool {
		for _, m := range ms {
			if !m(c, i) {
				return false
			}
		}
		return true
	}
}

// anyOf fires when one of ms fires.
func anyOf(ms ...matchFunc) matchFunc {
	return func(c *fileCtx, i int) bool {
		for _, m := range ms {
			if m(c, i) {
				return true
			}
		}
		return false
	}
}

// not inverts m.
func not(m matchFunc) matchFunc {
	return func(c *fileCtx, i int) bool { return !m(c, i) }
}

// fileHas fires when the file's code (all visible new-side lines) matches re.
func fileHas(re *regexp.Regexp) matchFunc {
	return func(c *fileCtx, _ int) bool { return re.MatchString(c.code) }
}

// inLang fires for files of the given languages only.
func inLang(s langSet) matchFunc {
	return func(c *fileCtx, _ int) bool { return langBit(c.lang)&s != 0 }
}

// reTokenish matches names that suggest a security-sensitive random value.
var reTokenish = rx(`(?i)(token|secret|passw|nonce|salt|session|csrf|otp|api_?key|reset|verif|invite|auth|credential|signature)`)

// tokenContext fires when the line or its enclosing function is about a
// security-sensitive value such as a token or password.
func tokenContext(c *fileCtx, i int) bool {
	return reTokenish.MatchString(c.lines[i].bare) || reTokenish.MatchString(c.fn[i])
}

// nextCode returns the index of the next new-side line in the same hunk that
// has code, or -1.
func (c *fileCtx) nextCode(i int) int {
	for j := i + 1; j < len(c.lines) && c.lines[j].hunk == c.lines[i].hunk; j++ {
		if strings.TrimSpace(c.lines[j].code) != "" {
			return j
		}
	}
	return -1
}

// emptyBlockNext fires when line i ends by opening a block ("{" or ":" for
// Python) and the next line with code closes it ("}") or is "pass".
func emptyBlockNext(c *fileCtx, i int) bool {
	j := c.nextCode(i)
	if j < 0 {
		return false
	}
	t := strings.TrimSpace(c.lines[j].code)
	return t == "}" || t == "pass" || t == "..." || strings.HasPrefix(t, "} ")
}

// Signature patterns, each guarded by a cheap substring test.
var (
	reGoFuncSig   = rx(`^\s*func\s+(?:\([^)]*\)\s*)?(\w+)`)
	rePyFuncSig   = rx(`^\s*(?:async\s+)?def\s+(\w+)`)
	reJSFuncSig   = rx(`^\s*(?:export\s+)?(?:default\s+)?(?:async\s+)?function\s*\*?\s*(\w+)|^\s*(?:export\s+)?(?:const|let|var)\s+(\w+)\s*=\s*(?:async\s*)?(?:function|\([^)]*\)\s*(?::\s*[\w<>\[\]| ]+)?=>|\w+\s*=>)`)
	reMethodSig   = rx(`^\s*(?:(?:public|private|protected|static|final|synchronized|abstract|async|override)\s+)*[\w<>\[\],.?]+(?:\s*<[^>]*>)?\s+(\w+)\s*\([^;]*\)\s*(?:throws\s+[\w.,\s]+)?\{?\s*$`)
	reTSMethodSig = rx(`^\s*(?:(?:public|private|protected|static|async|override)\s+)*(\w+)\s*\([^;]*\)\s*(?::\s*[\w<>\[\]|, ]+)?\s*\{\s*$`)
)

// funcName returns the lower-cased name declared by a function or method
// signature line, or "".
func funcName(code string) string {
	var m []string
	switch {
	case strings.Contains(code, "func"):
		m = reGoFuncSig.FindStringSubmatch(code)
	case strings.Contains(code, "def "):
		m = rePyFuncSig.FindStringSubmatch(code)
	case strings.Contains(code, "function") || strings.Contains(code, "=>"):
		m = reJSFuncSig.FindStringSubmatch(code)
	}
	if m == nil && strings.Contains(code, "(") && strings.HasSuffix(strings.TrimSpace(code), "{") {
		if m = reMethodSig.FindStringSubmatch(code); m == nil {
			m = reTSMethodSig.FindStringSubmatch(code)
		}
	}
	for _, g := range m[min(1, len(m)):] {
		if g != "" {
			switch g {
			case "if", "for", "while", "switch", "catch", "return", "new", "else", "synchronized":
				return ""
			}
			return strings.ToLower(g)
		}
	}
	return ""
}

// isWordAt reports whether s[i:i+n] is a whole identifier.
func isWordAt(s string, i, n int) bool {
	return (i == 0 || !isIdentByte(s[i-1])) && (i+n == len(s) || !isIdentByte(s[i+n]))
}

func isIdentByte(b byte) bool { return isWordByte(b) || b == '$' }

// containsWord reports whether word occurs in s as a whole identifier.
func containsWord(s, word string) bool {
	for off := 0; ; {
		j := strings.Index(s[off:], word)
		if j < 0 {
			return false
		}
		if isWordAt(s, off+j, len(word)) {
			return true
		}
		off += j + 1
	}
}

// identifiers returns the identifiers in s.
func identifiers(s string) []string {
	var out []string
	start := -1
	for i := 0; i <= len(s); i++ {
		if i < len(s) && isIdentByte(s[i]) {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			if w := s[start:i]; w[0] < '0' || w[0] > '9' {
				out = append(out, w)
			}
			start = -1
		}
	}
	return out
}
