package builtin

import (
	"regexp"
	"strings"

	"github.com/tricyclehq/tricycle/internal/review"
)

var (
	reSQLStmt = rx(`(?i)\b(?:select\s.*\bfrom\b|insert\s+into\b|update\s+[\w."\x60\[\]]+\s+set\b|delete\s+from\b|replace\s+into\b|merge\s+into\b)`)
	reSQLFrag = rx(`(?i)^\s*(?:where|and|or|order\s+by|group\s+by|limit|offset|values|set|having)\s|\b(?:where|and|or)\s+[\w."]+\s*(?:=|<>|!=|<=|>=|<|>|like|in)\s*['"(%]?\s*$`)
	reFmtVerb = rx(`%[-+# 0-9.]*[sdvqxf]|%\[\d+\]`)
)

// sqlLiteral reports whether a literal looks like SQL or a piece of it.
func sqlLiteral(text string) bool { return reSQLStmt.MatchString(text) || reSQLFrag.MatchString(text) }

// builtDynamically reports whether literal k of line i is combined with
// non-literal values: interpolated, concatenated with +, or used as a format
// string (%, .format, Sprintf, String.format, .formatted).
func builtDynamically(c *fileCtx, i, k int) bool {
	l := &c.lines[i]
	x := l.lits[k]
	if x.interp {
		return true
	}
	before := strings.TrimRight(l.bare[:x.start], " \t")
	after := strings.TrimLeft(l.bare[x.end:], " \t")
	switch {
	case strings.HasPrefix(after, "+") && !strings.HasPrefix(after, "++"):
		rest := strings.TrimLeft(after[1:], " \t")
		if rest == "" { // continued on the next line
			if j := c.nextCode(i); j >= 0 {
				rest = strings.TrimLeft(c.lines[j].bare, " \t")
			}
		}
		return !strings.HasPrefix(rest, `""`)
	case strings.HasSuffix(before, "+") && !strings.HasSuffix(before, `"" +`) && !strings.HasSuffix(before, `""+`):
		return true
	case strings.HasPrefix(after, "%") && !strings.HasPrefix(after, "%="):
		return true
	case strings.HasPrefix(after, ".format(") || strings.HasPrefix(after, ".formatted("):
		return true
	case (strings.HasSuffix(before, "Sprintf(") || strings.HasSuffix(before, "String.format(") ||
		strings.HasSuffix(before, "fmt.Sprintf(")) && reFmtVerb.MatchString(x.text):
		return true
	}
	return false
}

// sqlBuilt fires when a SQL-looking literal on the line is built from
// non-literal values.
func sqlBuilt(c *fileCtx, i int) bool {
	for k, x := range c.lines[i].lits {
		if sqlLiteral(x.text) && builtDynamically(c, i, k) {
			return true
		}
	}
	return false
}

// dynamicArgs fires when a call matched by re (on bare code) is given a
// string built from non-literal values, or user input.
func dynamicArgs(re *regexp.Regexp) matchFunc {
	return func(c *fileCtx, i int) bool {
		l := &c.lines[i]
		loc := re.FindStringIndex(l.bare)
		if loc == nil {
			return false
		}
		for k, x := range l.lits {
			if x.start >= loc[1] && builtDynamically(c, i, k) {
				return true
			}
		}
		seg := l.bare[loc[1]:]
		if strings.Contains(seg, "Sprintf(") || strings.Contains(seg, "String.format(") {
			return true
		}
		return userInput(c, i)
	}
}

var (
	reGoShellC      = rx(`\bexec\.Command(?:Context)?\(.*"(?:/bin/|/usr/bin/)?(?:ba|z|da)?sh"\s*,\s*"-c"\s*,`)
	reGoShellConst  = rx(`"-c"\s*,\s*"(?:[^"\\]|\\.)*"\s*\)`)
	reGoExec        = rx(`\bexec\.Command(?:Context)?\(`)
	rePyShellTrue   = rx(`\bshell\s*=\s*True\b`)
	rePySubprocess  = rx(`\bsubprocess\.\w+\(|\b(?:Popen|check_output|check_call|call|run)\(`)
	rePyOSSystem    = rx(`\bos\.(?:system|popen)\(|\bsubprocess\.getoutput\(|\bsubprocess\.getstatusoutput\(`)
	reJSExec        = rx(`(?:^|[^.\w$])(?:exec|execSync)\(|\b(?:child_process|cp|childProcess)\.(?:exec|execSync)\(`)
	reJSShellOpt    = rx(`\b(?:spawn|spawnSync|execFile|execFileSync)\(.*\bshell\s*:\s*true`)
	reJavaExec      = rx(`\bRuntime\.getRuntime\(\)\.exec\(|\bnew\s+ProcessBuilder\(`)
	reGoPathSink    = rx(`\b(?:filepath|path)\.Join\(|\bos\.(?:Open|OpenFile|ReadFile|Create|WriteFile|Remove|RemoveAll|ReadDir)\(|\bhttp\.ServeFile\(|\bioutil\.ReadFile\(`)
	rePyPathSink    = rx(`(?:^|[^\w.])open\(|\bos\.path\.join\(|\bsend_file\(|\bos\.(?:remove|unlink|listdir|makedirs|rmdir)\(|\bshutil\.\w+\(|\bPath\(`)
	reJSPathSink    = rx(`\bpath\.(?:join|resolve)\(|\bfs\.\w+\(|\bfsPromises\.\w+\(|\bres\.(?:sendFile|download)\(`)
	reJavaPathSink  = rx(`\bnew\s+File(?:InputStream|OutputStream|Reader|Writer)?\(|\bPaths\.get\(|\bPath\.of\(|\.resolve\(|\bFiles\.\w+\(`)
	reGoZipSlip     = rx(`\b(?:filepath|path)\.Join\([^)]*\b\w+\.Name\b`)
	reGoArchive     = rx(`\b(?:zip|tar)\.(?:OpenReader|NewReader|Reader|Header|File)\b|"archive/(?:zip|tar)"`)
	rePyExtractAll  = rx(`\.extractall\(`)
	rePyExtractSafe = rx(`\bfilter\s*=`)
	reGoSSRF        = rx(`\bhttp\.(?:Get|Post|Head|PostForm)\(|\bhttp\.NewRequest(?:WithContext)?\(`)
	rePySSRF        = rx(`\brequests\.(?:get|post|put|delete|head|patch|request)\(|\burlopen\(|\bhttpx\.\w+\(|\burllib\.request\.\w+\(`)
	reJSSSRF        = rx(`(?:^|[^.\w])fetch\(|\baxios(?:\.\w+)?\(|\bhttps?\.(?:get|request)\(|\bgot(?:\.\w+)?\(`)
	reJavaSSRF      = rx(`\bnew\s+URL\(|\bURI\.create\(|\brestTemplate\.\w+\(|\bHttpRequest\.newBuilder\(`)
	reGoRedirect    = rx(`\bhttp\.Redirect\(`)
	rePyRedirect    = rx(`\bredirect\(|\bHttpResponseRedirect\(`)
	reJSRedirect    = rx(`\bres\.redirect\(|\blocation\.(?:href|assign|replace)\b|\bwindow\.location\s*=`)
	reJavaRedirect  = rx(`\.sendRedirect\(`)
	reGoXSS         = rx(`\bfmt\.Fprint(?:f|ln)?\(\s*w\b|\bw\.Write\(|\bio\.WriteString\(\s*w\b|\btemplate\.HTML\(`)
	reGoTemplateHTM = rx(`\btemplate\.HTML\(`)
	rePyXSS         = rx(`\bMarkup\(|\bmark_safe\(|\brender_template_string\(|\bHttpResponse\(|\bmake_response\(|^\s*return\s+f""`)
	reJSHTMLSink    = rx(`\.(?:innerHTML|outerHTML)\s*\+?=|\binsertAdjacentHTML\(|\bdocument\.write(?:ln)?\(`)
	reJSHTMLConst   = rx(`(?:\.(?:innerHTML|outerHTML)\s*\+?=|\binsertAdjacentHTML\([^,]*,|\bdocument\.write(?:ln)?\()\s*""\s*[;)]?\s*$`)
	reJSDangerous   = rx(`\bdangerouslySetInnerHTML\s*=`)
	reJSSanitized   = rx(`\b(?:DOMPurify\.sanitize|sanitize\w*)\(`)
	reJSSend        = rx(`\bres\.(?:send|write)\(`)
	reJavaXSS       = rx(`\bgetWriter\(\)\.(?:print|println|write|printf)\(`)
	rePyRegex       = rx(`\bre\.(?:compile|search|match|fullmatch|findall|sub|split)\(`)
	reJSRegex       = rx(`\b(?:new\s+)?RegExp\(`)
	reJavaRegex     = rx(`\bPattern\.(?:compile|matches)\(`)
	rePyEval        = rx(`(?:^|[^\w.])(?:eval|exec)\(`)
	rePyEvalConst   = rx(`(?:^|[^\w.])(?:eval|exec)\(\s*""\s*\)`)
	reJSEval        = rx(`(?:^|[^\w.$])eval\(|\bnew\s+Function\(|\bset(?:Timeout|Interval)\(\s*""|\bvm\.run\w*\(`)
	reJavaEval      = rx(`\.eval\(`)
	reJavaScript    = rx(`\bScriptEngine`)
)

func injectionRules() []rule {
	const param = "Pass values as query parameters (placeholders such as ?, $1 or :name) instead of building the SQL text."
	return []rule{
		{id: "injection/sql", category: catSecurity, severity: review.SeverityCritical, langs: lCode,
			kw:      []string{"select", "insert", "update", "delete", "where", "replace", "merge", "order", "values", " and ", " or "},
			match:   sqlBuilt,
			message: "SQL built from string concatenation or formatting: injection if any part comes from input.", suggestion: param},
		{id: "injection/command", category: catSecurity, severity: review.SeverityCritical, langs: lGo,
			kw:         []string{"exec.command"},
			match:      anyOf(all(onCode(reGoShellC), not(onCode(reGoShellConst))), sinkWithInput(reGoExec)),
			message:    "Command run through a shell, or with user input, built from variable text: command injection.",
			suggestion: "Call the program directly with exec.Command(name, args...) and pass input as separate arguments; never through sh -c."},
		{id: "injection/command", category: catSecurity, severity: review.SeverityHigh, langs: lPy,
			kw:         []string{"shell", "os.system", "os.popen", "getoutput"},
			match:      anyOf(all(onCode(rePyShellTrue), onCode(rePySubprocess)), dynamicArgs(rePyOSSystem)),
			message:    "Shell command built from variable text (shell=True, os.system or os.popen): command injection.",
			suggestion: "Use subprocess.run([...]) with an argument list and shell=False; quote with shlex.quote only as a last resort."},
		{id: "injection/command", category: catSecurity, severity: review.SeverityHigh, langs: lWeb,
			kw:         []string{"exec", "shell"},
			match:      anyOf(dynamicArgs(reJSExec), onCode(reJSShellOpt)),
			message:    "child_process command built from variable text and run through a shell: command injection.",
			suggestion: "Use execFile or spawn with an argument array and no shell option."},
		{id: "injection/command", category: catSecurity, severity: review.SeverityHigh, langs: lJava,
			kw:         []string{"exec(", "processbuilder"},
			match:      dynamicArgs(reJavaExec),
			message:    "Process command built from variable text: command injection.",
			suggestion: "Pass a fixed program and separate arguments to ProcessBuilder; never hand input to a shell."},
		{id: "injection/path-traversal", category: catSecurity, severity: review.SeverityHigh, langs: lGo,
			kw:         []string{"join(", "open", "readfile", "create(", "writefile", "remove", "servefile", "readdir"},
			match:      anyOf(sinkWithInput(reGoPathSink), all(onCode(reGoZipSlip), fileHas(reGoArchive))),
			message:    "File path built from user input (or an archive entry name): path traversal with ../.",
			suggestion: "Reduce the name with filepath.Base or check that filepath.Clean(filepath.Join(root, name)) stays under root (os.Root on Go 1.24+)."},
		{id: "injection/path-traversal", category: catSecurity, severity: review.SeverityHigh, langs: lPy,
			kw:         []string{"open(", "path.join", "send_file", "os.", "shutil", "path(", "extractall"},
			match:      anyOf(sinkWithInput(rePyPathSink), all(onCode(rePyExtractAll), not(onCode(rePyExtractSafe)))),
			message:    "File path built from user input, or an archive extracted without a filter: path traversal.",
			suggestion: "Use werkzeug's secure_filename or os.path.basename, check the resolved path stays under the base directory, and pass filter='data' to extractall."},
		{id: "injection/path-traversal", category: catSecurity, severity: review.SeverityHigh, langs: lWeb,
			kw:         []string{"path.", "fs.", "fspromises", "sendfile", "download("},
			match:      sinkWithInput(reJSPathSink),
			message:    "File path built from request data: path traversal with ../.",
			suggestion: "Use path.basename, or resolve the path and verify it starts with the base directory; res.sendFile accepts a root option."},
		{id: "injection/path-traversal", category: catSecurity, severity: review.SeverityHigh, langs: lJava,
			kw:         []string{"file", "paths.get", "path.of", "resolve("},
			match:      sinkWithInput(reJavaPathSink),
			message:    "File path built from request data: path traversal with ../.",
			suggestion: "Normalize the path and verify it starts with the base directory, or keep only FilenameUtils.getName(input)."},
		{id: "injection/ssrf", category: catSecurity, severity: review.SeverityHigh, langs: lCode,
			kw:         []string{"http", "request", "urlopen", "fetch", "axios", "got", "url", "uri.create", "resttemplate"},
			match:      anyOf(all(inLang(lGo), sinkWithInput(reGoSSRF)), all(inLang(lPy), sinkWithInput(rePySSRF)), all(inLang(lWeb), sinkWithInput(reJSSSRF)), all(inLang(lJava), sinkWithInput(reJavaSSRF))),
			message:    "Outgoing request to a URL taken from user input: server-side request forgery.",
			suggestion: "Allow only known hosts (parse the URL and check the host against an allow-list) and block internal address ranges."},
		{id: "injection/open-redirect", category: catSecurity, severity: review.SeverityMedium, langs: lCode,
			kw:         []string{"redirect", "location"},
			match:      anyOf(all(inLang(lGo), sinkWithInput(reGoRedirect)), all(inLang(lPy), sinkWithInput(rePyRedirect)), all(inLang(lWeb), sinkWithInput(reJSRedirect)), all(inLang(lJava), sinkWithInput(reJavaRedirect))),
			message:    "Redirect to a location taken from user input: open redirect.",
			suggestion: "Redirect only to relative paths or to hosts on an allow-list."},
		{id: "injection/xss", category: catSecurity, severity: review.SeverityHigh, langs: lGo,
			kw:         []string{"fprint", "write", "template.html"},
			match:      anyOf(sinkWithInput(reGoXSS), dynamicArgs(reGoTemplateHTM)),
			message:    "User input written into an HTML response without escaping: cross-site scripting.",
			suggestion: "Render with html/template and plain strings; never wrap input in template.HTML."},
		{id: "injection/xss", category: catSecurity, severity: review.SeverityHigh, langs: lPy,
			kw:         []string{"markup", "mark_safe", "render_template_string", "response", "return f"},
			match:      sinkWithInput(rePyXSS),
			message:    "User input placed into HTML without escaping: cross-site scripting.",
			suggestion: "Render a template with autoescaping and pass the input as a variable."},
		{id: "injection/xss", category: catSecurity, severity: review.SeverityHigh, langs: lWeb,
			kw: []string{"innerhtml", "outerhtml", "insertadjacenthtml", "document.write", "dangerouslysetinnerhtml", "res.send", "res.write"},
			match: anyOf(all(onBare(reJSHTMLSink), not(all(onBare(reJSHTMLConst), not(hasInterp))), not(onCode(reJSSanitized))),
				all(onBare(reJSDangerous), not(onCode(reJSSanitized))), sinkWithInput(reJSSend)),
			message:    "Markup built from variable data and inserted as HTML: cross-site scripting.",
			suggestion: "Use textContent or a framework binding that escapes; sanitize with DOMPurify if HTML is required."},
		{id: "injection/xss", category: catSecurity, severity: review.SeverityHigh, langs: lJava,
			kw:         []string{"getwriter"},
			match:      sinkWithInput(reJavaXSS),
			message:    "Request data written to the response without escaping: cross-site scripting.",
			suggestion: "Escape with an HTML encoder (OWASP Encoder's Encode.forHtml) or render through a template engine."},
		{id: "injection/regex", category: catSecurity, severity: review.SeverityMedium, langs: lPy | lWeb | lJava,
			kw:         []string{"re.", "regexp", "pattern."},
			match:      anyOf(all(inLang(lPy), sinkWithInput(rePyRegex)), all(inLang(lWeb), sinkWithInput(reJSRegex)), all(inLang(lJava), sinkWithInput(reJavaRegex))),
			message:    "Regular expression compiled from user input: denial of service through catastrophic backtracking (ReDoS).",
			suggestion: "Escape the input (re.escape, escapeRegExp, Pattern.quote) or match it as plain text."},
		{id: "injection/code-eval", category: catSecurity, severity: review.SeverityHigh, langs: lPy,
			kw: []string{"eval(", "exec("}, match: all(onBare(rePyEval), not(onBare(rePyEvalConst))),
			message:    "eval/exec of a dynamic string runs arbitrary code.",
			suggestion: "Use ast.literal_eval for data, or a dispatch table of allowed operations."},
		{id: "injection/code-eval", category: catSecurity, severity: review.SeverityHigh, langs: lWeb,
			kw: []string{"eval(", "function(", "settimeout", "setinterval", "vm.run"}, match: onBare(reJSEval),
			message:    "eval, new Function, vm or a string timer runs arbitrary code.",
			suggestion: "Parse data with JSON.parse and pass functions, not strings, to timers."},
		{id: "injection/code-eval", category: catSecurity, severity: review.SeverityHigh, langs: lJava,
			kw: []string{".eval("}, match: all(fileHas(reJavaScript), dynamicArgs(reJavaEval)),
			message:    "Script engine evaluates a dynamic string: arbitrary code execution.",
			suggestion: "Do not evaluate scripts built from input; expose a fixed set of operations instead."},
	}
}
