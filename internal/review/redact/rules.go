package redact

import (
	"encoding/base64"
	"regexp"
	"strings"
)

// rule is one secret shape.
type rule struct {
	// name goes into the placeholder; several rules may share one.
	name string
	// re finds candidates unless find is set.
	re *regexp.Regexp
	// find, when set, replaces re and returns whole-match spans.
	find func(text string) []span
	// group is the capture group holding the secret: 0 is the whole match,
	// -1 the first group that took part in the match.
	group int
	// keywords gate the rule: when non-empty, at least one must occur in the
	// text (in its lower-cased form when fold is set) before re runs.
	keywords []string
	fold     bool
	// valid, when set, must accept the secret for it to be redacted.
	valid func(secret string) bool
	// multiline rules may match across lines and run on the whole text;
	// the others run line by line.
	multiline bool
}

// mayMatch reports whether the rule's keywords allow a match in s.
func (r *rule) mayMatch(s, lower string) bool {
	if len(r.keywords) == 0 {
		return true
	}
	hay := s
	if r.fold {
		hay = lower
	}
	for _, k := range r.keywords {
		if strings.Contains(hay, k) {
			return true
		}
	}
	return false
}

// secretSpan picks the secret's byte range out of a submatch index.
func (r *rule) secretSpan(m []int) (span, bool) {
	if r.group >= 0 {
		a, b := m[2*r.group], m[2*r.group+1]
		return span{a, b}, a >= 0 && b > a
	}
	for g := 1; 2*g+1 < len(m); g++ {
		if a, b := m[2*g], m[2*g+1]; a >= 0 && b > a {
			return span{a, b}, true
		}
	}
	return span{}, false
}

// Common value validators.
var (
	highEntropy = func(min float64) func(string) bool {
		return func(v string) bool { return entropy(v) >= min }
	}
	notReference = func(v string) bool { return !isReference(v) }
)

// discordToken accepts a Discord bot token whose first segment is the
// base64 encoding of a numeric user id.
func discordToken(v string) bool {
	id, _, _ := strings.Cut(v, ".")
	raw, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(id, "="))
	if err != nil || len(raw) < 15 {
		return false
	}
	for _, c := range raw {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// quotedSecret accepts a quoted value of a credential-named assignment.
func quotedSecret(v string) bool {
	return len(v) >= 8 && !isReference(v) && !strings.Contains(v, "://") &&
		charClasses(v) >= 2 && entropy(v) >= 3.0
}

// bareSecret accepts an unquoted value of a credential-named assignment,
// which needs more evidence of randomness than a quoted one.
func bareSecret(v string) bool {
	return len(v) >= 12 && !isReference(v) && !strings.Contains(v, "://") &&
		hasDigit(v) && hasLetter(v) && entropy(v) >= 3.3
}

// secretKey matches names of assignments that hold credentials, such as
// password, DB_PASSWORD, apiKey, client_secret or "private_key".
const secretKey = `[a-z0-9_.-]{0,40}(?:password|passwd|passphrase|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|(?:signing|encryption|master|session)[_-]?key|credential)s?(?:[_-]?(?:key|value|b64|base64|hex|str|string))?`

// assignOp matches the assignment operators of common languages and formats.
const assignOp = `["']?[ \t]*(?::=|=>|=|:)[ \t]*`

// pem returns a rule for a complete PEM block of the given label: from its
// BEGIN line to the nearest END line, across raw or escaped newlines.
func pem(name, label string) rule {
	begin, end := "-----BEGIN "+label+"-----", "-----END "+label+"-----"
	return rule{
		name: name,
		find: func(text string) []span {
			var out []span
			for from := 0; ; {
				i := strings.Index(text[from:], begin)
				if i < 0 {
					return out
				}
				start := from + i
				j := strings.Index(text[start+len(begin):], end)
				if j < 0 {
					return out
				}
				stop := start + len(begin) + j + len(end)
				out = append(out, span{start, stop})
				from = stop
			}
		},
		keywords:  []string{begin},
		multiline: true,
	}
}

// token returns a rule for a self-identifying token: re's first group is the
// secret and every match contains one of the keywords.
func token(name, re string, keywords ...string) rule {
	r := rule{name: name, re: regexp.MustCompile(re), group: 1, keywords: keywords}
	if strings.HasPrefix(re, "(?i)") {
		r.fold = true
		for i, k := range keywords {
			r.keywords[i] = strings.ToLower(k)
		}
	}
	return r
}

// rules lists every secret shape, most specific first: a later rule sees the
// output of the earlier ones and never re-redacts a placeholder.
var rules = []rule{
	// Private keys. GCP service-account JSON carries its key as an escaped
	// string; PEM blocks may sit in a file, a string literal or a diff.
	{
		name:      "gcp-service-account-key",
		re:        regexp.MustCompile(`"private_key"\s*:\s*"(-----BEGIN[A-Z ]*PRIVATE KEY-----(?:[^"\\]|\\.)*)"`),
		group:     1,
		keywords:  []string{`"private_key"`},
		multiline: true,
	},
	{
		name:      "gcp-private-key-id",
		re:        regexp.MustCompile(`"private_key_id"\s*:\s*"([a-f0-9]{40})"`),
		group:     1,
		keywords:  []string{`"private_key_id"`},
		multiline: true,
	},
	pem("rsa-private-key", "RSA PRIVATE KEY"),
	pem("ec-private-key", "EC PRIVATE KEY"),
	pem("dsa-private-key", "DSA PRIVATE KEY"),
	pem("openssh-private-key", "OPENSSH PRIVATE KEY"),
	pem("pgp-private-key", "PGP PRIVATE KEY BLOCK"),
	pem("private-key", "PRIVATE KEY"),
	pem("private-key", "ENCRYPTED PRIVATE KEY"),
	{
		// A key block cut short (a diff hunk that ends inside it): the header
		// and every following line that looks like key material.
		name:      "private-key",
		re:        regexp.MustCompile(`-----BEGIN [A-Z0-9 ]{0,30}PRIVATE KEY(?: BLOCK)?-----(?:\r?\n[+ ]?[ \t]*(?:[A-Za-z0-9+/]{16,}={0,2}|[A-Za-z-]+: [^\r\n]*|))*`),
		keywords:  []string{"-----BEGIN "},
		multiline: true,
	},

	// Cloud providers.
	token("aws-access-key-id", `\b((?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA|ASCA)[A-Z0-9]{16})\b`,
		"A3T", "AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AIPA", "ANPA", "ANVA", "AROA", "APKA", "ASCA"),
	{
		name:     "aws-secret-access-key",
		re:       regexp.MustCompile(`(?i)aws[a-z0-9_.-]{0,20}(?:secret|key)[a-z0-9_.-]{0,20}` + assignOp + `["']?([a-z0-9/+]{40})(?:[^a-z0-9/+=]|$)`),
		group:    1,
		keywords: []string{"aws"},
		fold:     true,
		valid:    highEntropy(3.5),
	},
	token("azure-storage-account-key", `(?i)AccountKey=([a-z0-9+/]{80,100}={0,2})`, "accountkey="),
	token("azure-shared-access-key", `(?i)SharedAccessKey=([a-z0-9+/]{40,}={0,2})`, "sharedaccesskey="),
	{
		name:     "azure-sas-signature",
		re:       regexp.MustCompile(`[?&;]sig=([A-Za-z0-9%+/=]{30,})`),
		group:    1,
		keywords: []string{"sig="},
		valid:    highEntropy(3.5),
	},
	token("azure-client-secret", `(?:^|[^A-Za-z0-9_~.-])([A-Za-z0-9_~.-]{3}[0-9]Q~[A-Za-z0-9_~.-]{31,34})(?:[^A-Za-z0-9_~.-]|$)`, "Q~"),
	token("google-api-key", `\b(AIza[0-9A-Za-z_-]{35})`, "AIza"),
	token("google-oauth-client-secret", `\b(GOCSPX-[A-Za-z0-9_-]{28})`, "GOCSPX-"),
	token("google-oauth-access-token", `\b(ya29\.[0-9A-Za-z_-]{20,})`, "ya29."),
	token("digitalocean-token", `\b(do[opr]_v1_[a-f0-9]{64})\b`, "_v1_"),
	token("heroku-api-key", `\b(HRKU-[A-Za-z0-9_-]{40,})`, "HRKU-"),
	{
		name:     "heroku-api-key",
		re:       regexp.MustCompile(`(?i)heroku[a-z0-9_.-]{0,20}` + assignOp + `["']?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b`),
		group:    1,
		keywords: []string{"heroku"},
		fold:     true,
	},
	token("hashicorp-vault-token", `\b(hv[sb]\.[A-Za-z0-9_-]{24,})`, "hvs.", "hvb."),
	token("terraform-cloud-token", `\b([A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=-]{60,})`, ".atlasv1."),
	token("databricks-token", `\b(dapi[a-f0-9]{32}(?:-[0-9])?)\b`, "dapi"),

	// Source hosting and package registries.
	token("github-token", `\b(gh[pousr]_[A-Za-z0-9]{36,255})\b`, "ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
	token("github-fine-grained-token", `\b(github_pat_[A-Za-z0-9_]{22,255})\b`, "github_pat_"),
	token("gitlab-token", `\b(gl(?:pat|dt|ptt|rt|soat|ft|imt|cbt)-[A-Za-z0-9_-]{20,})`, "gl"),
	token("npm-token", `\b(npm_[A-Za-z0-9]{36})\b`, "npm_"),
	{
		name:     "npm-auth-token",
		re:       regexp.MustCompile(`(?im)(?:^|:)(?:_authToken|_auth|_password)[ \t]*=[ \t]*["']?([^\s"']{8,})`),
		group:    1,
		keywords: []string{"_auth", "_password"},
		fold:     true,
		valid:    notReference,
	},
	token("pypi-token", `\b(pypi-AgE[A-Za-z0-9_-]{50,})`, "pypi-AgE"),

	// Messaging, payments and other SaaS APIs.
	token("slack-token", `\b((?:xox[abposre]|xapp)-[0-9A-Za-z-]{10,})`, "xox", "xapp-"),
	token("slack-webhook", `https://hooks\.slack\.com/(?:services|workflows|triggers)/([A-Za-z0-9/_+-]{20,})`, "hooks.slack.com"),
	token("stripe-key", `\b((?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,})`, "_live_", "_test_"),
	token("stripe-webhook-secret", `\b(whsec_[A-Za-z0-9+/=]{24,})`, "whsec_"),
	token("twilio-api-key", `\b(SK[0-9a-fA-F]{32})\b`, "SK"),
	{
		name:     "twilio-auth-token",
		re:       regexp.MustCompile(`(?i)twilio[a-z0-9_.-]{0,20}` + assignOp + `["']?([0-9a-f]{32})\b`),
		group:    1,
		keywords: []string{"twilio"},
		fold:     true,
	},
	token("sendgrid-api-key", `\b(SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43})`, "SG."),
	token("mailgun-api-key", `\b(key-[0-9a-f]{32})\b`, "key-"),
	token("shopify-token", `\b(shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32})\b`, "shp"),
	token("square-token", `\b(sq0(?:atp|csp)-[0-9A-Za-z_-]{22,43})`, "sq0"),
	token("square-token", `\b(EAAA[A-Za-z0-9_-]{60,80})`, "EAAA"),
	{
		name:     "discord-bot-token",
		re:       regexp.MustCompile(`\b([MNO][A-Za-z0-9_-]{23,27}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,40})\b`),
		group:    1,
		keywords: []string{"."},
		valid:    discordToken,
	},
	token("discord-webhook", `https://(?:(?:ptb|canary)\.)?discord(?:app)?\.com/api/webhooks/[0-9]+/([A-Za-z0-9_-]{30,})`, "discord"),
	token("telegram-bot-token", `\b([0-9]{8,10}:AA[0-9A-Za-z_-]{33})\b`, ":AA"),
	token("huggingface-token", `\b(hf_[A-Za-z]{34})\b`, "hf_"),
	token("postman-api-key", `\b(PMAK-[a-f0-9]{24}-[a-f0-9]{34})\b`, "PMAK-"),
	token("new-relic-api-key", `\b(NRAK-[A-Z0-9]{27})\b`, "NRAK-"),
	token("grafana-token", `\b(glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}|glc_[A-Za-z0-9+/]{32,}={0,2})`, "glsa_", "glc_"),
	token("linear-api-key", `\b(lin_api_[A-Za-z0-9]{40})\b`, "lin_api_"),
	token("age-secret-key", `\b(AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58})\b`, "AGE-SECRET-KEY-1"),

	// Model providers: Anthropic before OpenAI, whose shape is looser.
	token("anthropic-api-key", `\b(sk-ant-[A-Za-z0-9_-]{20,})`, "sk-ant-"),
	{
		name:     "openai-api-key",
		re:       regexp.MustCompile(`\b(sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,})`),
		group:    1,
		keywords: []string{"sk-"},
		valid:    func(v string) bool { return hasDigit(v) && entropy(v) >= 3.5 },
	},

	// Structured credentials: JWTs, URLs with passwords, HTTP headers.
	token("jwt", `\b(eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*)`, "eyJ"),
	{
		name:     "database-password",
		re:       regexp.MustCompile(`(?i)\b(?:postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|rediss?|amqps?|mssql|sqlserver|clickhouse|cockroachdb|oracle|couchdb|neo4j(?:\+s)?|jdbc:[a-z0-9]+)://[^\s:@/'"]*:([^\s@/'"]+)@`),
		group:    1,
		keywords: []string{"://"},
		valid:    notReference,
	},
	{
		name:     "url-password",
		re:       regexp.MustCompile(`\b[A-Za-z][A-Za-z0-9+.-]{1,20}://[^\s:@/'"]+:([^\s@/'"]+)@`),
		group:    1,
		keywords: []string{"://"},
		valid:    notReference,
	},
	{
		name:     "authorization-header",
		re:       regexp.MustCompile(`(?i)\b(?:proxy-)?authorization["']?[ \t]*[:=][ \t]*["']?(?:bearer|basic|token|bot)[ \t]+([A-Za-z0-9._~+/=-]{12,})`),
		group:    1,
		keywords: []string{"authorization"},
		fold:     true,
		valid:    func(v string) bool { return !isReference(v) && entropy(v) >= 3.0 },
	},
	{
		name:     "bearer-token",
		re:       regexp.MustCompile(`(?i)\bbearer[ \t]+([A-Za-z0-9._~+/-]{20,}=*)`),
		group:    1,
		keywords: []string{"bearer"},
		fold:     true,
		valid:    func(v string) bool { return !isReference(v) && hasDigit(v) && entropy(v) >= 3.5 },
	},

	// Generic assignments to credential-named keys, last so that every
	// recognisable token above gets its specific name.
	{
		name: "secret-assignment",
		re: regexp.MustCompile(`(?i)` + secretKey + assignOp +
			"(?:\"([^\"\\s]{8,200})\"|'([^'\\s]{8,200})'|`([^`\\s]{8,200})`)"),
		group:    -1,
		keywords: []string{"pass", "pwd", "secret", "token", "key", "credential"},
		fold:     true,
		valid:    quotedSecret,
	},
	{
		name:     "secret-assignment",
		re:       regexp.MustCompile(`(?i)` + secretKey + assignOp + "([^\\s\"'`,;()\\[\\]{}<>]{12,200})(?:[\\s,;)\\]}]|$)"),
		group:    1,
		keywords: []string{"pass", "pwd", "secret", "token", "key", "credential"},
		fold:     true,
		valid:    bareSecret,
	},
}
