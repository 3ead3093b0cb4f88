package builtin

import (
	"regexp"
	"strings"

	"github.com/tricyclehq/tricycle/internal/review"
)

// Secret rules look at the whole line, comments included: a credential
// pasted into a comment is as leaked as one in code. They apply to every
// file, whatever its language.

var (
	rePrivateKey   = rx(`-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----`)
	reAWSKeyID     = rx(`\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[0-9A-Z]{16}\b`)
	reAWSSecret    = rx(`(?i)aws_?secret_?(?:access_?)?key["']?\s*(?::=|=|:)\s*["']?[A-Za-z0-9/+]{40}(?:[^A-Za-z0-9/+]|$)`)
	reAWSSecretLit = rx(`["'][A-Za-z0-9/+]{40}["']`)
	reGitHubToken  = rx(`\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36}\b|\bgithub_pat_[A-Za-z0-9_]{50,}`)
	reSlackToken   = rx(`\bxox[abposr]-[A-Za-z0-9-]{10,}`)
	reSlackHook    = rx(`hooks\.slack\.com/services/T[A-Z0-9]{6,}/B[A-Z0-9]{6,}/[A-Za-z0-9]{20,}`)
	reStripeKey    = rx(`\b[sr]k_live_[0-9A-Za-z]{20,}`)
	reGoogleKey    = rx(`\bAIza[0-9A-Za-z_-]{35}\b`)
	reAIKey        = rx(`\bsk-(?:proj-|ant-(?:api\d\d-)?)?[A-Za-z0-9_-]{32,}`)
	reJWT          = rx(`\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}`)
	reURLCreds     = rx(`\b[a-zA-Z][a-zA-Z0-9+.-]{1,20}://([^/\s:@'"]+):([^@\s'"/]+)@([^/\s'":?]+)`)
	reSecretAssign = rx(`(?i)((?:password|passwd|pwd|pass_?phrase|secret|secret_?key|api_?key|access_?key|auth_?token|access_?token|refresh_?token|private_?key|client_?secret|token))["']?\s*(?::\s*[\w\[\]]+\s*)?(?:=|:=|:|==|===|!=)\s*[rbuRBU]?["']([^"'\s]{4,})["']`)
	reSecretEquals = rx(`(?i)((?:password|passwd|secret|token|api_?key)\w*)\.equals\(\s*"([^"\s]{4,})"`)
	reEnvName      = rx(`^[A-Z][A-Z0-9_]{2,}$`)
)

// placeholderWords mark a value as an example rather than a credential.
var placeholderWords = []string{"example", "placeholder", "your_", "your-", "yourpass", "replace", "redacted",
	"dummy", "fake", "sample", "test", "fixture", "xxx", "***", "...", "<", ">", "${", "{{", "%s", "%(", "env:", "vault:", "enc("}

// nonSecretValues are values a secret-named field commonly holds that are
// not secrets (scheme names, labels, literals of other types).
var nonSecretValues = map[string]bool{"bearer": true, "basic": true, "token": true, "password": true,
	"secret": true, "authorization": true, "x-api-key": true, "null": true, "none": true, "true": true,
	"false": true, "undefined": true, "string": true, "text": true, "hidden": true, "required": true}

// looksLikeSecret reports whether value, assigned to key, is plausibly a
// real credential rather than a placeholder, label or reference.
func looksLikeSecret(key, value string) bool {
	lv := strings.ToLower(value)
	if nonSecretValues[lv] || strings.EqualFold(key, value) || reEnvName.MatchString(value) {
		return false
	}
	if strings.HasPrefix(value, "$") || strings.HasPrefix(value, "{") || strings.HasPrefix(value, "/") {
		return false
	}
	for _, w := range placeholderWords {
		if strings.Contains(lv, w) {
			return false
		}
	}
	return strings.Trim(value, value[:1]) != "" // not one character repeated
}

// secretAssignment fires on a secret-named field assigned or compared to a
// literal that looks like a real credential.
func secretAssignment(c *fileCtx, i int) bool {
	raw := c.lines[i].raw
	for _, re := range []*regexp.Regexp{reSecretAssign, reSecretEquals} {
		for _, m := range re.FindAllStringSubmatch(raw, -1) {
			if looksLikeSecret(m[1], m[2]) {
				return true
			}
		}
	}
	return false
}

// urlCredentials fires on a URL with an embedded password that is neither a
// placeholder nor on a local host.
func urlCredentials(c *fileCtx, i int) bool {
	for _, m := range reURLCreds.FindAllStringSubmatch(c.lines[i].raw, -1) {
		user, pass, host := m[1], m[2], strings.ToLower(m[3])
		if host == "localhost" || strings.HasPrefix(host, "127.") || host == "0.0.0.0" {
			continue
		}
		switch strings.ToLower(pass) {
		case "pass", "password", "pwd", "secret", "passwd":
			continue
		}
		if pass == user || !looksLikeSecret("password", pass) {
			continue
		}
		return true
	}
	return false
}

// awsSecretNearKeyID fires on a bare 40-character AWS-style secret within
// three lines of an AWS access key id.
func awsSecretNearKeyID(c *fileCtx, i int) bool {
	if c.awsKeyLines == nil {
		c.awsKeyLines = make([]bool, len(c.lines))
		for j := range c.lines {
			c.awsKeyLines[j] = reAWSKeyID.MatchString(c.lines[j].raw)
		}
	}
	for j := max(0, i-3); j <= min(len(c.lines)-1, i+3); j++ {
		if j != i && c.awsKeyLines[j] && c.lines[j].hunk == c.lines[i].hunk {
			return reAWSSecretLit.MatchString(c.lines[i].raw)
		}
	}
	return false
}

func notExample(c *fileCtx, i int) bool { return !strings.Contains(c.lines[i].raw, "EXAMPLE") }

func secretRules() []rule {
	const rotate = "Remove it from the code, revoke and rotate it, and load it at run time from the environment or a secret manager."
	return []rule{
		{id: "secrets/private-key", category: catSecurity, severity: review.SeverityCritical, langs: lAny,
			kw: []string{"private key"}, match: onRaw(rePrivateKey),
			message: "Private key committed to the repository.", suggestion: rotate},
		{id: "secrets/aws-access-key", category: catSecurity, severity: review.SeverityCritical, langs: lAny,
			kw: []string{"akia", "asia", "agpa", "aida", "aroa", "anpa"}, match: all(onRaw(reAWSKeyID), notExample),
			message: "AWS access key ID in source.", suggestion: rotate},
		{id: "secrets/aws-secret-key", category: catSecurity, severity: review.SeverityCritical, langs: lAny,
			match:   anyOf(onRaw(reAWSSecret), awsSecretNearKeyID),
			message: "AWS secret access key in source.", suggestion: rotate},
		{id: "secrets/github-token", category: catSecurity, severity: review.SeverityCritical, langs: lAny,
			kw: []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"}, match: onRaw(reGitHubToken),
			message: "GitHub token in source.", suggestion: rotate},
		{id: "secrets/slack-token", category: catSecurity, severity: review.SeverityCritical, langs: lAny,
			kw: []string{"xox"}, match: onRaw(reSlackToken),
			message: "Slack token in source.", suggestion: rotate},
		{id: "secrets/stripe-key", category: catSecurity, severity: review.SeverityCritical, langs: lAny,
			kw: []string{"k_live_"}, match: onRaw(reStripeKey),
			message: "Stripe live secret key in source.", suggestion: rotate},
		{id: "secrets/slack-webhook", category: catSecurity, severity: review.SeverityHigh, langs: lAny,
			kw: []string{"hooks.slack.com"}, match: onRaw(reSlackHook),
			message: "Slack incoming webhook URL in source: anyone holding it can post to the channel.", suggestion: rotate},
		{id: "secrets/google-api-key", category: catSecurity, severity: review.SeverityHigh, langs: lAny,
			kw: []string{"aiza"}, match: onRaw(reGoogleKey),
			message: "Google API key in source.", suggestion: rotate},
		{id: "secrets/ai-api-key", category: catSecurity, severity: review.SeverityHigh, langs: lAny,
			kw: []string{"sk-"}, match: onRaw(reAIKey),
			message: "AI provider API key (OpenAI or Anthropic format) in source.", suggestion: rotate},
		{id: "secrets/jwt", category: catSecurity, severity: review.SeverityMedium, langs: lAny,
			kw: []string{"eyj"}, match: onRaw(reJWT),
			message: "JSON Web Token in source; if it is live it grants access to whoever reads it.", suggestion: rotate},
		{id: "secrets/url-credentials", category: catSecurity, severity: review.SeverityHigh, langs: lAny,
			kw: []string{"://"}, match: urlCredentials,
			message: "Connection URL with an embedded password.", suggestion: "Take the password out of the URL and supply it from configuration or a secret manager."},
		{id: "secrets/hardcoded-password", category: catSecurity, severity: review.SeverityHigh, langs: lAny,
			kw: []string{"pass", "pwd", "secret", "key", "token"}, match: secretAssignment,
			message: "Hard-coded password or secret.", suggestion: rotate},
	}
}
