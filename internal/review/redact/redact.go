// Package redact replaces secrets in submitted code with placeholders such as
// [REDACTED:aws-access-key-id] before any of that code leaves the process.
//
// # What is redacted
//
// Redact knows the shapes of cloud credentials (AWS, GCP service accounts,
// Azure storage and Entra ID secrets), PEM and PGP private keys (terminated
// blocks, and blocks cut short by a diff hunk), vendor API tokens (GitHub,
// GitLab, Slack, Stripe, Twilio, SendGrid, Mailgun, OpenAI, Anthropic, Google,
// npm, PyPI, Heroku, DigitalOcean, Shopify, Square, Discord, Telegram, Hugging
// Face, Vault, and more), JWTs, passwords in URLs and database DSNs,
// Authorization headers, and generic assignments such as password = "..." or
// API_KEY=... whose value looks random. Rules lists every shape by name.
//
// Only the secret part of a match is replaced: in postgres://app:s3cr3t@db the
// scheme, user and host stay, so a reviewer still sees what the code does.
//
// # What is left alone
//
// Content hashes are not secrets: lockfile integrity hashes (sha512-...),
// go.sum lines (h1:...), git object ids and UUIDs without a credential-naming
// key are kept, as are references to secrets that are not themselves secrets
// (${DB_PASSWORD}, os.Getenv("TOKEN"), {{ .Values.password }}) and obvious
// documentation placeholders (YOUR_API_KEY, changeme). Generic assignments are
// redacted only when the value has high entropy, so ordinary identifiers next
// to words like "token" survive.
//
// # Guarantees
//
// Redact is deterministic and idempotent: Redact(Redact(x)) returns the same
// text as Redact(x), with zero further replacements. A placeholder is never
// redacted again. Redact never panics and is safe for concurrent use.
package redact

import (
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/tricyclehq/tricycle/internal/review"
)

// maxPasses bounds how often the rule set is reapplied until nothing changes.
// Each pass that changes anything removes at least one byte of text outside
// placeholders, and in practice the second pass already finds nothing new.
const maxPasses = 16

// placeholderRE matches the text Redact substitutes for a secret.
var placeholderRE = regexp.MustCompile(`\[REDACTED:[a-z0-9-]+\]`)

// Placeholder returns the text that replaces a secret matched by the named rule.
func Placeholder(rule string) string { return "[REDACTED:" + rule + "]" }

// Redact returns s with every secret it recognises replaced by a placeholder
// naming the kind of secret, and the number of secrets replaced.
func Redact(s string) (out string, n int) {
	for range maxPasses {
		next, k := redactOnce(s)
		if k == 0 {
			return s, n
		}
		s, n = next, n+k
	}
	return s, n
}

// Request returns a copy of req whose diff and file contents are redacted,
// and the number of secrets replaced. File paths, the repository and the
// client name are kept.
func Request(req review.Request) (review.Request, int) {
	out := req
	var n int
	out.Diff, n = Redact(req.Diff)
	if req.Files != nil {
		out.Files = make(map[string]string, len(req.Files))
		for path, content := range req.Files {
			red, k := Redact(content)
			out.Files[path] = red
			n += k
		}
	}
	return out, n
}

// Rules returns the names of every secret shape Redact recognises, in the
// order they are applied.
func Rules() []string {
	names := make([]string, 0, len(rules))
	seen := make(map[string]bool, len(rules))
	for _, r := range rules {
		if !seen[r.name] {
			seen[r.name] = true
			names = append(names, r.name)
		}
	}
	return names
}

// span is a half-open byte range [start, end).
type span struct{ start, end int }

// hit is a secret found in the input and the rule that found it.
type hit struct {
	span
	rule string
}

// redactOnce applies every rule once to s and replaces what they find. Rules
// run in order; a secret overlapping one an earlier rule found, or an
// existing placeholder, is skipped. It is a pure function of s.
//
// Single-line rules run only on the lines that contain one of their
// keywords, which keeps the cost near a plain substring search on ordinary
// code; multi-line rules run on the whole text.
func redactOnce(s string) (string, int) {
	lower := asciiLower(s)
	var hits []hit // sorted by start, disjoint
	for _, h := range placeholderSpans(s) {
		hits = append(hits, hit{span: h})
	}
	found := 0
	for i := range rules {
		r := &rules[i]
		if r.multiline {
			if r.mayMatch(s, lower) {
				hits, found = r.collect(s, 0, hits, found)
			}
			continue
		}
		for _, line := range r.candidateLines(s, lower) {
			hits, found = r.collect(s[line.start:line.end], line.start, hits, found)
		}
	}
	if found == 0 {
		return s, 0
	}
	var b strings.Builder
	b.Grow(len(s))
	prev := 0
	for _, h := range hits {
		if h.rule == "" {
			continue // an existing placeholder
		}
		b.WriteString(s[prev:h.start])
		b.WriteString(Placeholder(h.rule))
		prev = h.end
	}
	b.WriteString(s[prev:])
	return b.String(), found
}

// collect adds to hits the secrets r finds in text, which starts at byte
// offset base of the whole input, and returns the new hits and count. A
// secret overlapping an earlier hit, or refused by the rule's validator, is
// skipped.
func (r *rule) collect(text string, base int, hits []hit, found int) ([]hit, int) {
	var spans []span
	if r.find != nil {
		spans = r.find(text)
	} else {
		for _, m := range r.re.FindAllStringSubmatchIndex(text, -1) {
			if sp, ok := r.secretSpan(m); ok {
				spans = append(spans, sp)
			}
		}
	}
	for _, sp := range spans {
		secret := text[sp.start:sp.end]
		sp = span{sp.start + base, sp.end + base}
		i := sort.Search(len(hits), func(i int) bool { return hits[i].end > sp.start })
		if i < len(hits) && hits[i].start < sp.end {
			continue // overlaps an earlier hit
		}
		if r.valid != nil && !r.valid(secret) {
			continue
		}
		hits = slices.Insert(hits, i, hit{span: sp, rule: r.name})
		found++
	}
	return hits, found
}

// candidateLines returns, in order and without repeats, the lines of s that
// contain one of r's keywords (every line when r has none).
func (r *rule) candidateLines(s, lower string) []span {
	if len(r.keywords) == 0 {
		return allLines(s)
	}
	hay := s
	if r.fold {
		hay = lower
	}
	var lines []span
	for _, k := range r.keywords {
		for from := 0; from < len(hay); {
			i := strings.Index(hay[from:], k)
			if i < 0 {
				break
			}
			pos := from + i
			line := lineAt(s, pos)
			lines = append(lines, line)
			from = line.end
		}
	}
	if len(r.keywords) > 1 {
		sort.Slice(lines, func(i, j int) bool { return lines[i].start < lines[j].start })
		lines = slicesCompact(lines)
	}
	return lines
}

// lineAt returns the line of s holding byte pos, without its newline.
func lineAt(s string, pos int) span {
	start := strings.LastIndexByte(s[:pos], '\n') + 1
	end := strings.IndexByte(s[pos:], '\n')
	if end < 0 {
		return span{start, len(s)}
	}
	return span{start, pos + end}
}

// allLines returns every line of s, without newlines.
func allLines(s string) []span {
	lines := make([]span, 0, strings.Count(s, "\n")+1)
	for start := 0; start <= len(s); {
		end := strings.IndexByte(s[start:], '\n')
		if end < 0 {
			lines = append(lines, span{start, len(s)})
			break
		}
		lines = append(lines, span{start, start + end})
		start += end + 1
	}
	return lines
}

// slicesCompact removes consecutive duplicates from sorted spans.
func slicesCompact(lines []span) []span {
	out := lines[:0]
	for i, l := range lines {
		if i == 0 || l != lines[i-1] {
			out = append(out, l)
		}
	}
	return out
}

// asciiLower lower-cases ASCII letters only, so byte offsets into the result
// are offsets into s.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}

// placeholderSpans returns where placeholders occur in s, in order.
func placeholderSpans(s string) []span {
	if !strings.Contains(s, "[REDACTED:") {
		return nil
	}
	idx := placeholderRE.FindAllStringIndex(s, -1)
	out := make([]span, len(idx))
	for i, m := range idx {
		out[i] = span{m[0], m[1]}
	}
	return out
}

// entropy returns the Shannon entropy of s in bits per byte.
func entropy(s string) float64 {
	if s == "" {
		return 0
	}
	var counts [256]int
	for i := 0; i < len(s); i++ {
		counts[s[i]]++
	}
	n := float64(len(s))
	var h float64
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}

// charClasses counts which of lower case, upper case, digits and other
// characters occur in s.
func charClasses(s string) int {
	var lower, upper, digit, other int
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z':
			lower = 1
		case c >= 'A' && c <= 'Z':
			upper = 1
		case c >= '0' && c <= '9':
			digit = 1
		default:
			other = 1
		}
	}
	return lower + upper + digit + other
}

// hasDigit reports whether s contains an ASCII digit.
func hasDigit(s string) bool { return strings.ContainsAny(s, "0123456789") }

// hasLetter reports whether s contains an ASCII letter.
func hasLetter(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; c >= 'a' && c <= 'z' {
			return true
		}
	}
	return false
}

// placeholderWords mark values that are documentation, not secrets.
var placeholderWords = []string{
	"your", "example", "xxxx", "****", "changeme", "change_me", "placeholder",
	"redacted", "dummy", "sample", "<", ">", "${", "{{", "%s", "%(", "$(",
}

// isReference reports whether v names a secret kept elsewhere (an environment
// variable, a template expression) or is an obvious documentation
// placeholder, rather than being a secret itself.
func isReference(v string) bool {
	if strings.HasPrefix(v, "$") || strings.HasPrefix(v, "%") {
		return true
	}
	l := strings.ToLower(v)
	for _, w := range placeholderWords {
		if strings.Contains(l, w) {
			return true
		}
	}
	return strings.Trim(v, "*xX.-_") == ""
}
