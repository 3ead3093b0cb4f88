// Package redacttest provides fake secrets of every shape the redact package
// recognises, for tests of redact itself and of everything that must redact
// before sending code out of the process.
//
// The secrets are generated, not written out, so that no credential-shaped
// literal appears in the source tree; they are deterministic, so tests are
// reproducible.
package redacttest

import (
	"encoding/base64"
	"hash/fnv"
	"strconv"
	"strings"
)

// Sample is one secret shape embedded in the text a user might submit.
type Sample struct {
	// Rule is the redact rule expected to replace the secret.
	Rule string
	// Text is source code or configuration containing the secret.
	Text string
	// Secrets are the sensitive values in Text; none may survive redaction.
	// A multi-line secret is checked line by line.
	Secrets []string
}

// Character sets for generated secrets.
const (
	alnum  = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	upper  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	lowerH = "0123456789abcdef"
	b64    = alnum + "+/"
	b64url = alnum + "-_"
	letter = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	bech32 = "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L"
)

// Gen returns n deterministic pseudo-random characters from alphabet, chosen
// by seed. Different seeds give unrelated strings.
func Gen(seed string, n int, alphabet string) string {
	h := fnv.New64a()
	h.Write([]byte(seed))
	x := h.Sum64()
	b := make([]byte, n)
	for i := range b {
		// splitmix64
		x += 0x9e3779b97f4a7c15
		z := x
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		z ^= z >> 31
		b[i] = alphabet[z%uint64(len(alphabet))]
	}
	return string(b)
}

// pemBody returns lines of base64 key material.
func pemBody(seed string, lines int) []string {
	out := make([]string, lines)
	for i := range out {
		out[i] = Gen(seed+string(rune('a'+i)), 64, b64)
	}
	return out
}

// pemBlock returns a PEM block with the given label and body lines.
func pemBlock(label string, body []string) string {
	return "-----BEGIN " + label + "-----\n" + strings.Join(body, "\n") + "\n-----END " + label + "-----\n"
}

// pemSample returns a sample holding a complete PEM block.
func pemSample(rule, label string) Sample {
	body := pemBody(rule, 3)
	return Sample{Rule: rule, Text: pemBlock(label, body), Secrets: body}
}

// one returns a sample whose Text is prefix + secret + suffix.
func one(rule, prefix, secret, suffix string) Sample {
	return Sample{Rule: rule, Text: prefix + secret + suffix, Secrets: []string{secret}}
}

// Samples returns at least one sample of every secret shape, more than 30 in
// all. Every call returns equal values.
func Samples() []Sample {
	gcpKey := pemBody("gcp", 2)
	gcpID := Gen("gcp-id", 40, lowerH)
	discordID := base64.RawStdEncoding.EncodeToString([]byte("812345678901234567"))
	unterminated := pemBody("cut", 2)
	return []Sample{
		one("aws-access-key-id", "aws_access_key_id = ", "AKIA"+Gen("aws-id", 16, upper), "\n"),
		one("aws-secret-access-key", "aws_secret_access_key = ", Gen("aws-secret", 40, b64), "\n"),
		{
			Rule: "gcp-service-account-key",
			Text: `{"type": "service_account", "project_id": "demo", "private_key_id": "` + gcpID +
				`", "private_key": "-----BEGIN PRIVATE KEY-----\n` + strings.Join(gcpKey, `\n`) +
				`\n-----END PRIVATE KEY-----\n", "client_email": "ci@demo.iam.gserviceaccount.com"}`,
			Secrets: append([]string{gcpID}, gcpKey...),
		},
		one("azure-storage-account-key", `conn := "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=`,
			Gen("azure-storage", 86, b64)+"==", `;EndpointSuffix=core.windows.net"`),
		one("azure-shared-access-key", "Endpoint=sb://acme.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=",
			Gen("azure-sb", 43, b64)+"=", "\n"),
		one("azure-sas-signature", "url = https://acme.blob.core.windows.net/c/f.txt?sv=2022-11-02&sp=r&se=2030-01-01&sig=",
			Gen("azure-sas", 40, alnum)+"%3D", "\n"),
		one("azure-client-secret", `clientSecret: "`, Gen("aad", 3, alnum)+"8Q~"+Gen("aad-2", 34, alnum), `"`),
		pemSample("rsa-private-key", "RSA PRIVATE KEY"),
		pemSample("ec-private-key", "EC PRIVATE KEY"),
		pemSample("dsa-private-key", "DSA PRIVATE KEY"),
		pemSample("openssh-private-key", "OPENSSH PRIVATE KEY"),
		pemSample("pgp-private-key", "PGP PRIVATE KEY BLOCK"),
		pemSample("private-key", "PRIVATE KEY"),
		pemSample("private-key", "ENCRYPTED PRIVATE KEY"),
		{
			Rule:    "private-key",
			Text:    "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\n" + strings.Join(unterminated, "\n") + "\n",
			Secrets: unterminated,
		},
		one("github-token", `token := "`, "ghp_"+Gen("ghp", 36, alnum), `"`),
		one("github-token", "GITHUB_TOKEN=", "gho_"+Gen("gho", 36, alnum), "\n"),
		one("github-token", "app: ", "ghs_"+Gen("ghs", 36, alnum), "\n"),
		one("github-token", "user ", "ghu_"+Gen("ghu", 36, alnum), "\n"),
		one("github-fine-grained-token", `gh = "`, "github_pat_"+Gen("ghpat", 22, alnum)+"_"+Gen("ghpat2", 59, alnum), `"`),
		one("gitlab-token", "CI_TOKEN: ", "glpat-"+Gen("glpat", 20, b64url), "\n"),
		one("slack-token", `slack.New("`, "xoxb-"+Gen("xoxb", 12, "0123456789")+"-"+Gen("xoxb2", 13, "0123456789")+"-"+Gen("xoxb3", 24, alnum), `")`),
		one("slack-token", `SLACK_USER_TOKEN="`, "xoxp-"+Gen("xoxp", 12, "0123456789")+"-"+Gen("xoxp3", 32, lowerH), `"`),
		one("slack-webhook", `hook = "https://hooks.slack.com/services/`, "T"+Gen("slk", 8, upper)+"/B"+Gen("slk2", 8, upper)+"/"+Gen("slk3", 24, alnum), `"`),
		one("stripe-key", `stripe.Key = "`, "sk_live_"+Gen("stripe", 24, alnum), `"`),
		one("stripe-key", `STRIPE_RESTRICTED=`, "rk_live_"+Gen("stripe-rk", 24, alnum), "\n"),
		one("stripe-webhook-secret", `endpointSecret := "`, "whsec_"+Gen("whsec", 32, alnum), `"`),
		one("twilio-api-key", `twilio.NewRestClientWithParams(twilio.ClientParams{Username: "`, "SK"+Gen("twilio", 32, lowerH), `"})`),
		one("twilio-auth-token", "TWILIO_AUTH_TOKEN=", Gen("twilio-auth", 32, lowerH), "\n"),
		one("sendgrid-api-key", `sg := sendgrid.NewSendClient("`, "SG."+Gen("sg1", 22, b64url)+"."+Gen("sg2", 43, b64url), `")`),
		one("mailgun-api-key", `mg := mailgun.NewMailgun("mg.example.com", "`, "key-"+Gen("mailgun", 32, lowerH), `")`),
		one("openai-api-key", `client = OpenAI(api_key="`, "sk-"+Gen("openai", 48, alnum), `")`),
		one("openai-api-key", `OPENAI_API_KEY=`, "sk-proj-"+Gen("openai-proj", 74, b64url)+"9", "\n"),
		one("anthropic-api-key", `anthropic.Anthropic(api_key="`, "sk-ant-api03-"+Gen("anthropic", 93, b64url)+"-AA", `")`),
		one("google-api-key", `const mapsKey = "`, "AIza"+Gen("google", 35, b64url), `";`),
		one("google-oauth-client-secret", `"client_secret": "`, "GOCSPX-"+Gen("gocspx", 28, b64url), `"`),
		one("google-oauth-access-token", `req.Header.Set("X-Goog-Token", "`, "ya29."+Gen("ya29", 60, b64url), `")`),
		one("jwt", `const session = "`, "eyJhbGciOiJIUzI1NiJ9.eyJ"+Gen("jwt", 40, b64url)+"."+Gen("jwt-sig", 43, b64url), `";`),
		one("url-password", `git remote add origin https://deploy:`, Gen("url-pass", 20, alnum), "@git.example.com/acme/app.git\n"),
		one("database-password", `DATABASE_URL="postgres://app:`, Gen("pg-pass", 18, alnum), `@db.internal:5432/app?sslmode=require"`),
		one("database-password", `mongo.Connect(ctx, options.Client().ApplyURI("mongodb+srv://admin:`, Gen("mongo-pass", 16, alnum), `@cluster0.mongodb.net/"))`),
		one("npm-token", "NPM_TOKEN=", "npm_"+Gen("npm", 36, alnum), "\n"),
		one("npm-auth-token", "//registry.npmjs.org/:_authToken=", Gen("npmrc", 8, lowerH)+"-"+Gen("npmrc2", 4, lowerH)+"-"+Gen("npmrc3", 12, lowerH), "\n"),
		one("pypi-token", "password = ", "pypi-AgEIcHlwaS5vcmc"+Gen("pypi", 60, b64url), "\n"),
		one("heroku-api-key", "HEROKU_API_KEY=", Gen("heroku1", 8, lowerH)+"-"+Gen("heroku2", 4, lowerH)+"-"+Gen("heroku3", 4, lowerH)+"-"+Gen("heroku4", 4, lowerH)+"-"+Gen("heroku5", 12, lowerH), "\n"),
		one("heroku-api-key", "export HEROKU_TOKEN=", "HRKU-"+Gen("hrku", 60, b64url), "\n"),
		one("digitalocean-token", `do_token = "`, "dop_v1_"+Gen("do", 64, lowerH), `"`),
		one("shopify-token", `X-Shopify-Access-Token: `, "shpat_"+Gen("shopify", 32, lowerH), "\n"),
		one("square-token", `SQUARE_ACCESS_TOKEN="`, "EAAA"+Gen("square", 60, b64url), `"`),
		one("square-token", `square_app_secret: `, "sq0csp-"+Gen("sq0csp", 43, b64url), "\n"),
		one("discord-bot-token", `bot.run("`, discordID+"."+Gen("discord1", 6, b64url)+"."+Gen("discord2", 38, b64url), `")`),
		one("discord-webhook", `WEBHOOK = "https://discord.com/api/webhooks/123456789012345678/`, Gen("dwh", 68, b64url), `"`),
		one("telegram-bot-token", `bot = telebot.TeleBot("`, "123456789:AA"+Gen("telegram", 33, b64url), `")`),
		one("huggingface-token", "HF_TOKEN=", "hf_"+Gen("hf", 34, letter), "\n"),
		one("hashicorp-vault-token", "VAULT_TOKEN=", "hvs."+Gen("vault", 90, b64url), "\n"),
		one("databricks-token", `host_token = "`, "dapi"+Gen("databricks", 32, lowerH), `"`),
		one("age-secret-key", "# age key\n", "AGE-SECRET-KEY-1"+Gen("age", 58, bech32), "\n"),
		one("linear-api-key", `linear = "`, "lin_api_"+Gen("linear", 40, alnum), `"`),
		one("authorization-header", "curl -H 'Authorization: Basic ", Gen("basic", 28, alnum)+"==", "' https://api.example.com\n"),
		one("bearer-token", `req.Header.Set("X-Auth", "Bearer `, Gen("bearer", 40, alnum), `")`),
		one("secret-assignment", `db_password = "`, Gen("pw", 14, alnum)+"!", `"`),
		one("secret-assignment", "jwt_signing_key: ", Gen("yaml-secret", 32, alnum), "\n"),
		one("secret-assignment", "API_KEY=", Gen("env-key", 32, lowerH), "\n"),
		one("secret-assignment", `const clientSecret = '`, Gen("js-secret", 24, b64), `';`),
		one("secret-assignment", `{"apiKey": "`, Gen("json-key", 30, alnum), `"}`),
	}
}

// Negative is text that Redact must leave exactly as it is.
type Negative struct {
	// Name says what the text is.
	Name string
	// Text must come out of Redact unchanged.
	Text string
}

// Negatives returns ordinary code and configuration that resembles secrets
// without being one: content hashes, references to secrets kept elsewhere,
// identifiers next to credential words, documentation placeholders.
func Negatives() []Negative {
	return []Negative{
		{"go code", "func (s *Server) handle(w http.ResponseWriter, r *http.Request) {\n\tif err := s.auth(r); err != nil {\n\t\thttp.Error(w, err.Error(), 401)\n\t}\n}\n"},
		{"form password", `password := r.FormValue("password")`},
		{"env lookup", `token := os.Getenv("GITHUB_TOKEN")`},
		{"python env", `api_key = os.environ["OPENAI_API_KEY"]`},
		{"yaml env reference", "secret: ${DB_SECRET}\npassword: '{{ .Values.db.password }}'\n"},
		{"function call", "secret = loadSecretFromVault(ctx, name)\n"},
		{"tokenizer name", `tokenizer = "bert-base-uncased"`},
		{"max tokens", "max_tokens = 4096\n"},
		{"token type", `token_type = "Bearer"`},
		{"documentation placeholder", `api_key = "YOUR_API_KEY_HERE"`},
		{"changeme", `password: "changeme"`},
		{"prose", "The secret: keep the token out of logs.\n"},
		{"go.sum", "github.com/spf13/cobra v1.10.2 h1:" + Gen("gosum", 43, b64) + "=\n"},
		{"npm integrity", `"integrity": "sha512-` + Gen("integrity", 86, b64) + `=="`},
		{"git sha", "commit " + Gen("sha", 40, lowerH) + "\n"},
		{"uuid", `id := "` + Gen("u1", 8, lowerH) + "-" + Gen("u2", 4, lowerH) + "-4" + Gen("u3", 3, lowerH) + "-a" + Gen("u4", 3, lowerH) + "-" + Gen("u5", 12, lowerH) + `"`},
		{"url without credentials", "resp, err := http.Get(\"https://api.example.com:8443/v1/items?page=2\")\n"},
		{"ssh url", "git clone ssh://git@github.com/acme/app.git\n"},
		{"dsn with env password", `dsn := "postgres://app:${DB_PASSWORD}@db:5432/app"`},
		{"sklearn", "pip install scikit-learn # sk-learn\n"},
		{"bearer reference", `req.Header.Set("Authorization", "Bearer "+token)`},
		{"css colours", ".btn { color: #a1b2c3; background: #ffffff; }\n"},
		{"base64 image", `<img src="data:image/png;base64,` + Gen("png", 120, b64) + `">`},
		{"placeholder already", "api_key = \"[REDACTED:openai-api-key]\"\n"},
	}
}

// Diff returns a unified diff that adds every sample's text to a file of its
// own, as a user would submit it.
func Diff(samples []Sample) string {
	var b strings.Builder
	for i, s := range samples {
		lines := strings.Split(strings.TrimSuffix(s.Text, "\n"), "\n")
		name := "config/" + s.Rule + "-" + string(rune('a'+i%26)) + ".txt"
		b.WriteString("diff --git a/" + name + " b/" + name + "\n")
		b.WriteString("new file mode 100644\n--- /dev/null\n+++ b/" + name + "\n")
		b.WriteString("@@ -0,0 +1," + strconv.Itoa(len(lines)) + " @@\n")
		for _, l := range lines {
			b.WriteString("+" + l + "\n")
		}
	}
	return b.String()
}

// Leaks returns the rule names of samples with a secret still present in out.
func Leaks(samples []Sample, out string) []string {
	var leaked []string
	for _, s := range samples {
		for _, sec := range s.Secrets {
			if Leaked(sec, out) {
				leaked = append(leaked, s.Rule)
				break
			}
		}
	}
	return leaked
}

// Leaked reports whether secret, or any line of it, occurs in out.
func Leaked(secret, out string) bool {
	for _, line := range strings.Split(secret, "\n") {
		if line != "" && strings.Contains(out, line) {
			return true
		}
	}
	return false
}
