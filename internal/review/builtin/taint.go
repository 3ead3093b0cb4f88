package builtin

import (
	"regexp"
	"strings"
)

// flow describes, per language, where user input comes from, what makes it
// safe and how assignments look. The builtin reviewer follows input through
// plain assignments within the visible lines of a file: a light, local taint
// analysis that knows nothing of types or calls across files.
type flow struct {
	source    *regexp.Regexp // an expression that yields request data
	sanitizer *regexp.Regexp // a call that makes data safe for paths, commands, queries
	assign    *regexp.Regexp // group 1: the assigned names, group 2: the value
	params    *regexp.Regexp // last group: a handler parameter bound to request data
	// barrier is a call whose result is not user input even when its
	// arguments are: reading a file, making a request, running a query.
	barrier *regexp.Regexp
}

var flows = map[langSet]flow{
	lGo: {
		source:    rx(`\b(?:r|req|request)\.(?:URL\.Query\(\)|URL\.Path|URL\.RawQuery|FormValue|PostFormValue|Form\b|PostForm\b|PathValue|Header\.Get|Cookie\(|Body\b|MultipartForm)|\bmux\.Vars\(|\bchi\.URLParam\(|\bc\.(?:Param|Query|DefaultQuery|PostForm|FormValue|QueryParam|GetHeader)\(`),
		sanitizer: rx(`\b(?:filepath\.Base|path\.Base|strconv\.(?:Atoi|Parse\w+)|uuid\.Parse|url\.(?:PathEscape|QueryEscape)|html\.EscapeString|template\.HTMLEscapeString|regexp\.QuoteMeta)\(`),
		barrier:   rx(`\b(?:os|ioutil|http|exec|sql)\.\w+\(|\.(?:Query|QueryRow|Exec|Do)(?:Context)?\(|[cC]lient\.(?:Get|Post|Head)\(`),
		assign:    rx(`^\s*(?:var\s+)?([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s*(?:\s+\w+\s*)?:?=\s*([^=].*)$`),
	},
	lPy: {
		source:    rx(`\brequest\.(?:args|form|values|json|get_json|files|data|cookies|headers|GET|POST|query_params|path_params|body)\b|\binput\(`),
		sanitizer: rx(`\b(?:os\.path\.basename|secure_filename|int|float|shlex\.quote|uuid\.UUID|re\.escape|html\.escape|escape|quote)\(`),
		barrier:   rx(`(?:^|[^\w.])open\(|\b(?:requests|httpx|subprocess|os|shutil|urllib)\.|\.(?:execute|fetch\w*|read)\(`),
		assign:    rx(`^\s*([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s*(?::\s*[\w\[\], ]+)?=\s*([^=].*)$`),
		params:    rx(`[<{](?:\w+:)?(\w+)[>}]`),
	},
	lJS: {
		source:    rx(`\b(?:req|request)\.(?:query|params|body|headers|cookies|files|file)\b|\bctx\.(?:query|params|request\.body|request\.query)\b|\bevent\.(?:queryStringParameters|pathParameters|body)\b|\blocation\.(?:search|hash)\b`),
		sanitizer: rx(`\b(?:path\.basename|parseInt|parseFloat|Number|encodeURIComponent|escapeRegExp|escapeHtml|DOMPurify\.sanitize|sanitize\w*)\(`),
		barrier:   rx(`\b(?:fs|fsPromises|axios|https?|child_process)\.\w+\(|(?:^|[^.\w])(?:fetch|exec|execSync|execFile)\(|\.query\(`),
		assign:    rx(`^\s*(?:export\s+)?(?:const|let|var)\s+(\{[^}]*\}|\[[^\]]*\]|[\w$]+)\s*(?::\s*[\w<>\[\]| ]+)?=\s*([^=>].*)$`),
	},
	lJava: {
		source:    rx(`\.get(?:Parameter|ParameterValues|Header|QueryString|PathInfo|RequestURI|InputStream|Reader)\(|\bgetCookies\(`),
		sanitizer: rx(`\b(?:FilenameUtils\.getName|Integer\.(?:parseInt|valueOf)|Long\.(?:parseLong|valueOf)|UUID\.fromString|Pattern\.quote|StringEscapeUtils\.\w+|HtmlUtils\.\w+|Encode\.\w+)\(|\.getFileName\(\)`),
		barrier:   rx(`\bnew\s+File\w*\(|\bFiles\.\w+\(|\bPaths\.get\(|\.(?:exec|execute\w*|send)\(|\bnew\s+URL\(`),
		assign:    rx(`^\s*(?:final\s+)?(?:[\w<>\[\],.?]+\s+)?([A-Za-z_]\w*)\s*=\s*([^=].*)$`),
		params:    rx(`@(?:RequestParam|PathVariable|RequestHeader|QueryParam|PathParam|FormParam|RequestBody|CookieValue)\b(?:\([^)]*\))?\s+(?:final\s+)?[\w<>\[\].]+\s+(\w+)`),
	},
}

// reRoute is a Python web route decorator whose path names parameters.
var reRoute = rx(`^\s*@\w+(?:\.\w+)*\.(?:route|get|post|put|delete|patch)\(\s*[rf]?["']`)

func flowOf(lang string) (flow, bool) {
	b := langBit(lang)
	if b == lTS {
		b = lJS
	}
	f, ok := flows[b]
	return f, ok
}

// analyse computes the per-line enclosing function names and the tainted
// identifiers of c, walking its lines in order.
func (c *fileCtx) analyse(sections []string) {
	c.fn = make([]string, len(c.lines))
	c.taint = map[string]bool{}
	f, hasFlow := flowOf(c.lang)
	cur, hunk := "", -1
	for i := range c.lines {
		l := &c.lines[i]
		if l.hunk != hunk {
			hunk = l.hunk
			cur = funcName(sections[hunk])
		}
		if name := funcName(l.code); name != "" {
			cur = name
		}
		c.fn[i] = cur
		if !hasFlow || l.long {
			continue
		}
		if f.params != nil {
			isRoute := langBit(c.lang) == lPy && reRoute.MatchString(l.code)
			if isRoute || langBit(c.lang) == lJava {
				text := l.code
				if isRoute {
					text = strings.Join(litTexts(l), " ")
				}
				for _, m := range f.params.FindAllStringSubmatch(text, -1) {
					c.taint[m[len(m)-1]] = true
				}
			}
		}
		if !strings.Contains(l.code, "=") {
			continue
		}
		m := f.assign.FindStringSubmatch(l.code)
		if m == nil {
			continue
		}
		names, value := assignedNames(m[1]), m[2]
		tainted := c.valueTainted(f, l, value)
		for _, n := range names {
			if tainted {
				c.taint[n] = true
			} else {
				delete(c.taint, n) // reassigned from something safe
			}
		}
	}
}

func litTexts(l *srcLine) []string {
	out := make([]string, len(l.lits))
	for i, x := range l.lits {
		out[i] = x.text
	}
	return out
}

// assignedNames returns the identifiers on the left of an assignment,
// including destructured ones ("{ a, b: c }" yields a and c).
func assignedNames(lhs string) []string {
	lhs = strings.Trim(lhs, "{}[] ")
	var out []string
	for _, part := range strings.Split(lhs, ",") {
		if _, after, ok := strings.Cut(part, ":"); ok {
			part = after
		}
		part, _, _ = strings.Cut(part, "=")
		part = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(part), "..."))
		if part != "" && identOnly(part) && !notAssignable[part] {
			out = append(out, part)
		}
	}
	return out
}

// notAssignable holds names an assignment pattern may capture by mistake.
var notAssignable = map[string]bool{"_": true, "err": true, "if": true, "for": true, "switch": true,
	"return": true, "else": true, "case": true, "while": true, "elif": true}

func identOnly(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isIdentByte(s[i]) {
			return false
		}
	}
	return true
}

// valueTainted reports whether an assigned value carries user input: it
// reads a source or a tainted name and is not passed through a sanitizer.
func (c *fileCtx) valueTainted(f flow, l *srcLine, value string) bool {
	switch {
	case f.sanitizer.MatchString(value):
		return false
	case f.source.MatchString(value):
		return true
	case f.barrier.MatchString(value):
		return false
	}
	return c.mentionsTainted(l, value)
}

// mentionsTainted reports whether text, or an interpolating literal of l,
// names a tainted identifier.
func (c *fileCtx) mentionsTainted(l *srcLine, text string) bool {
	if len(c.taint) == 0 {
		return false
	}
	for _, id := range identifiers(text) {
		if c.taint[id] {
			return true
		}
	}
	for _, x := range l.lits {
		if x.interp {
			for _, id := range identifiers(x.text) {
				if c.taint[id] {
					return true
				}
			}
		}
	}
	return false
}

// userInput fires when line i uses request data (directly or through a
// tainted name) without a sanitizer on the same line.
func userInput(c *fileCtx, i int) bool {
	f, ok := flowOf(c.lang)
	if !ok {
		return false
	}
	l := &c.lines[i]
	if f.sanitizer.MatchString(l.code) {
		return false
	}
	return f.source.MatchString(l.code) || c.mentionsTainted(l, l.bare)
}

// sinkWithInput fires when line i calls a sink (re on bare code) and user
// input appears after the sink's name: in its arguments, not in the
// receiver of an unrelated call before it.
func sinkWithInput(re *regexp.Regexp) matchFunc {
	return func(c *fileCtx, i int) bool {
		f, ok := flowOf(c.lang)
		l := &c.lines[i]
		loc := re.FindStringIndex(l.bare)
		if !ok || loc == nil || f.sanitizer.MatchString(l.code) {
			return false
		}
		args := l.bare[loc[0]:]
		if f.source.MatchString(args) {
			return true
		}
		for _, id := range identifiers(args) {
			if c.taint[id] {
				return true
			}
		}
		for _, x := range l.lits {
			if x.interp && x.start >= loc[0] {
				if f.source.MatchString(x.text) {
					return true
				}
				for _, id := range identifiers(x.text) {
					if c.taint[id] {
						return true
					}
				}
			}
		}
		return false
	}
}
