package builtin

import (
	"regexp"
	"strings"

	"github.com/tricyclehq/tricycle/internal/review"
)

var (
	reGoBlankAssign  = rx(`^\s*_\s*=\s*[\w.]+\(|^\s*(?:\w+\s*,\s*)+_\s*:?=\s*[\w.]+\(`)
	reGoBlankBenign  = rx(`\bfmt\.(?:Fprint|Print|Sprint)|\.Write(?:String|Byte|Rune)\(|\.Rollback\(|\.\(|\bstrconv\.|\butf8\.|\bbinary\.|\bio\.Copy\(io\.Discard|\bjson\.NewEncoder\(w\)\.Encode\(`)
	reGoUnchecked    = rx(`^\s*(?:os\.(?:Remove|RemoveAll|Mkdir|MkdirAll|WriteFile|Setenv|Unsetenv|Chmod|Chdir|Rename|Symlink|Link|Truncate)|(?:json|xml|yaml)\.Unmarshal|\w+\.(?:Exec|ExecContext|Commit))\(.*\)\s*$`)
	reGoEmptyErr     = rx(`\berr\s*!=\s*nil\s*\{\s*(\}\s*)?$`)
	rePyBroadExcept  = rx(`^\s*except\s*(?:\(?\s*(?:Exception|BaseException)\b[^:]*)?:\s*(pass|\.\.\.)?\s*$`)
	reCatchEmpty     = rx(`\bcatch\s*(?:\([^)]*\))?\s*\{\s*(\}\s*)?$`)
	reJSCatchNoop    = rx(`\.catch\(\s*(?:\(\s*\w*\s*\)|\w+)\s*=>\s*\{\s*\}\s*\)`)
	reLogCall        = rx(`\b(?:log|logger|logging|console|slog|LOG|LOGGER|Log|System\.out|System\.err)\.\w+\(|\bfmt\.Print(?:f|ln)?\(|(?:^|[^\w.])print(?:ln)?\(`)
	reSecretIdent    = rx(`(?i)(?:^|_)(?:password|passwd|pwd|secret|token|apikey|api_key|accesstoken|access_token|authtoken|refreshtoken|clientsecret|client_secret|privatekey|private_key|creditcard|cardnumber|card_number|cvv|ssn)$|[a-z0-9](?:Password|Passwd|Secret|Token|ApiKey|APIKey|PrivateKey|CardNumber)$`)
	reGoOpenRes      = rx(`^\s*(\w+)\s*,\s*(?:err|_)\s*:?=\s*.*\b(?:(?:http|\w*[cC]lient)\.(?:Get|Post|Head|PostForm|Do)|\w+\.Query(?:Context)?|os\.(?:Open|Create|OpenFile))\(`)
	reGoRegexpInFunc = rx(`\w+\s*:=\s*regexp\.(?:MustCompile|Compile)\(|\bregexp\.MatchString\(`)
	rePyMutableDef   = rx(`^\s*(?:async\s+)?def\s+\w+\(.*=\s*(?:\[\]|\{\}|list\(\)|dict\(\)|set\(\))\s*[,)]`)
	rePyMktemp       = rx(`\btempfile\.mktemp\(|(?:^|[^\w.])mktemp\(|\bos\.tempnam\(`)
	reJavaStackTrace = rx(`\.printStackTrace\(\)`)
	reJSAsyncForEach = rx(`\.forEach\(\s*async\b`)
	reJSDeepClone    = rx(`\bJSON\.parse\(\s*JSON\.stringify\(`)
	reJavaBigDecimal = rx(`\bnew\s+BigDecimal\(\s*-?\d+\.\d+`)
	reJavaStrCmpOp   = rx(`^\s*[!=]=`)
	reJavaStrCmpOpR  = rx(`[!=]=\s*$`)
	reGoDefer        = rx(`^\s*defer\b`)
	reGoFor          = rx(`^\s*for\b`)
	reGoFunc         = rx(`\bfunc\b`)
)

// indentOf returns the width of a line's leading white space, a tab
// counting as four columns.
func indentOf(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\t':
			n += 4
		case ' ':
			n++
		default:
			return n
		}
	}
	return n
}

// goDeferInLoop fires on a defer whose enclosing block, by indentation, is a
// for loop rather than a function: it runs only when the function returns.
func goDeferInLoop(c *fileCtx, i int) bool {
	if !reGoDefer.MatchString(c.lines[i].code) {
		return false
	}
	depth := indentOf(c.lines[i].raw)
	for j := i - 1; j >= 0 && c.lines[j].hunk == c.lines[i].hunk && depth > 0; j-- {
		code := c.lines[j].code
		ind := indentOf(c.lines[j].raw)
		if strings.TrimSpace(code) == "" || ind >= depth {
			continue
		}
		switch {
		case reGoFunc.MatchString(code):
			return false
		case reGoFor.MatchString(code):
			return true
		}
		depth = ind
	}
	return false
}

// goIgnoredError fires on an error-returning call whose error is discarded.
func goIgnoredError(c *fileCtx, i int) bool {
	bare := c.lines[i].bare
	if reGoBlankAssign.MatchString(bare) && !reGoBlankBenign.MatchString(bare) {
		return true
	}
	return reGoUnchecked.MatchString(bare)
}

// logsSecret fires on a logging or print call whose arguments (outside of
// literal text) name a secret.
func logsSecret(c *fileCtx, i int) bool {
	l := &c.lines[i]
	loc := reLogCall.FindStringIndex(l.bare)
	if loc == nil {
		return false
	}
	args := l.bare[loc[1]:]
	for _, x := range l.lits {
		if x.interp && x.start >= loc[1] {
			args += " " + x.text
		}
	}
	for _, id := range identifiers(args) {
		if reSecretIdent.MatchString(id) {
			return true
		}
	}
	return false
}

// goUnclosed fires on a response body, rows or file opened in a function
// whose visible end has no Close of it.
func goUnclosed(c *fileCtx, i int) bool {
	m := reGoOpenRes.FindStringSubmatch(c.lines[i].bare)
	if m == nil || m[1] == "_" {
		return false
	}
	name := m[1]
	for j := i + 1; j < len(c.lines) && c.lines[j].hunk == c.lines[i].hunk; j++ {
		code := c.lines[j].code
		if strings.Contains(code, name+".Close()") || strings.Contains(code, name+".Body.Close()") ||
			containsWord(code, "return") && containsWord(code, name) {
			return false
		}
		if c.lines[j].raw == "}" { // the end of a top-level function
			return true
		}
	}
	return false // the end of the function is not visible
}

// javaStringCompare fires on == or != with a string literal operand.
func javaStringCompare(c *fileCtx, i int) bool {
	l := &c.lines[i]
	for _, x := range l.lits {
		if x.quote != '"' {
			continue
		}
		if reJavaStrCmpOp.MatchString(l.bare[x.end:]) || reJavaStrCmpOpR.MatchString(l.bare[:x.start]) {
			return true
		}
	}
	return false
}

// opensEmptyBlock fires when re matches a line that either closes the block
// on the same line (group 1 non-empty) or is followed by a closing line.
func opensEmptyBlock(re *regexp.Regexp) matchFunc {
	return func(c *fileCtx, i int) bool {
		m := re.FindStringSubmatch(c.lines[i].code)
		if m == nil {
			return false
		}
		return m[1] != "" || emptyBlockNext(c, i)
	}
}

func qualityRules() []rule {
	return []rule{
		{id: "errors/ignored", category: catCorrectness, severity: review.SeverityMedium, langs: lGo,
			kw: []string{"_", "os.", "unmarshal", "exec", "commit"}, match: goIgnoredError,
			message: "Error returned by this call is discarded.", suggestion: "Handle or return the error; if ignoring it is intended, say why in a comment."},
		{id: "errors/empty-check", category: catCorrectness, severity: review.SeverityMedium, langs: lGo,
			kw: []string{"err"}, match: opensEmptyBlock(reGoEmptyErr),
			message: "The error is checked but the branch does nothing, so the failure is silently ignored.", suggestion: "Return, wrap or log the error inside the branch."},
		{id: "errors/swallowed", category: catCorrectness, severity: review.SeverityMedium, langs: lPy,
			kw: []string{"except"}, match: opensEmptyBlock(rePyBroadExcept),
			message: "Broad exception caught and silently ignored; real failures disappear.", suggestion: "Catch the specific exception you expect and log or handle it."},
		{id: "errors/swallowed", category: catCorrectness, severity: review.SeverityMedium, langs: lWeb | lJava,
			kw: []string{"catch"}, match: anyOf(opensEmptyBlock(reCatchEmpty), onCode(reJSCatchNoop)),
			message: "Exception caught and silently ignored; real failures disappear.", suggestion: "Handle, log or rethrow the exception."},
		{id: "logging/secret", category: catSecurity, severity: review.SeverityMedium, langs: lCode,
			kw: []string{"log", "print", "console", "fmt."}, match: logsSecret,
			message: "A password, token or other secret is written to logs or output.", suggestion: "Do not log secrets; log an identifier or a redacted form instead."},
		{id: "resource/unclosed", category: catCorrectness, severity: review.SeverityMedium, langs: lGo,
			kw: []string{"get(", "post(", "head(", ".do(", "query", "open(", "create(", "openfile("}, match: goUnclosed,
			message: "Response body, rows or file is never closed: connections and descriptors leak.", suggestion: "Add defer x.Close() (resp.Body.Close() for HTTP responses) right after the error check."},
		{id: "resource/defer-in-loop", category: catCorrectness, severity: review.SeverityMedium, langs: lGo,
			kw: []string{"defer"}, match: goDeferInLoop,
			message: "defer inside a loop runs only when the function returns: resources pile up until then.", suggestion: "Move the loop body into a function, or close explicitly at the end of each iteration."},
		{id: "perf/regexp-compile-in-function", category: catPerformance, severity: review.SeverityLow, langs: lGo,
			kw:      []string{"regexp."},
			match:   all(onCode(reGoRegexpInFunc), func(c *fileCtx, i int) bool { return c.fn[i] != "" }),
			message: "Regular expression compiled on every call.", suggestion: "Compile it once into a package-level variable."},
		{id: "perf/json-deep-clone", category: catPerformance, severity: review.SeverityLow, langs: lWeb,
			kw: []string{"json.parse"}, match: onCode(reJSDeepClone),
			message: "Deep copy through JSON.stringify/parse is slow and drops dates, undefined and Maps.", suggestion: "Use structuredClone."},
		{id: "correctness/mutable-default", category: catCorrectness, severity: review.SeverityMedium, langs: lPy,
			kw: []string{"def "}, match: onCode(rePyMutableDef),
			message: "Mutable default argument is shared between calls.", suggestion: "Default to None and create the list or dict inside the function."},
		{id: "correctness/string-identity", category: catCorrectness, severity: review.SeverityMedium, langs: lJava,
			kw: []string{"==", "!="}, match: javaStringCompare,
			message: "String compared with == or != compares references, not contents.", suggestion: "Use equals (or Objects.equals for nullable values)."},
		{id: "correctness/bigdecimal-double", category: catCorrectness, severity: review.SeverityMedium, langs: lJava,
			kw: []string{"bigdecimal"}, match: onCode(reJavaBigDecimal),
			message: "BigDecimal built from a double literal keeps its binary rounding error.", suggestion: "Use new BigDecimal(\"0.1\") or BigDecimal.valueOf(0.1)."},
		{id: "correctness/async-foreach", category: catCorrectness, severity: review.SeverityMedium, langs: lWeb,
			kw: []string{"foreach"}, match: onCode(reJSAsyncForEach),
			message: "forEach does not wait for async callbacks: errors are unhandled and work runs unordered.", suggestion: "Use for...of with await, or await Promise.all(items.map(...))."},
		{id: "security/insecure-tempfile", category: catSecurity, severity: review.SeverityMedium, langs: lPy,
			kw: []string{"mktemp", "tempnam"}, match: onCode(rePyMktemp),
			message: "tempfile.mktemp returns a name another process can claim first.", suggestion: "Use tempfile.NamedTemporaryFile or tempfile.mkstemp."},
		{id: "maintainability/print-stack-trace", category: catMaintainability, severity: review.SeverityLow, langs: lJava,
			kw: []string{"printstacktrace"}, match: onCode(reJavaStackTrace),
			message: "printStackTrace writes to stderr, bypassing the logging configuration.", suggestion: "Log the exception with the application's logger."},
	}
}
