package gateway

import (
	"path"
	"regexp"
	"strings"
	"unicode"
)

// sensitiveWords are path words (after splitting on punctuation and case
// changes) that mark code handling authentication, cryptography, secrets or
// payments.
var sensitiveWords = map[string]bool{
	// Authentication and authorisation.
	"auth": true, "authn": true, "authz": true, "authentication": true, "authorization": true,
	"authorize": true, "login": true, "logout": true, "signin": true, "oauth": true, "oauth2": true,
	"oidc": true, "saml": true, "sso": true, "session": true, "sessions": true, "jwt": true,
	"token": true, "tokens": true, "password": true, "passwords": true, "passwd": true,
	"iam": true, "rbac": true, "acl": true, "permission": true, "permissions": true, "mfa": true, "totp": true,
	// Cryptography.
	"crypto": true, "cryptography": true, "cipher": true, "encrypt": true, "encryption": true,
	"decrypt": true, "tls": true, "ssl": true, "cert": true, "certs": true, "certificate": true,
	"certificates": true, "keystore": true, "hmac": true, "signing": true, "kms": true,
	// Secrets.
	"secret": true, "secrets": true, "credential": true, "credentials": true, "creds": true, "vault": true,
	// Payments.
	"payment": true, "payments": true, "billing": true, "checkout": true, "invoice": true,
	"invoices": true, "wallet": true, "stripe": true, "paypal": true, "pay": true, "refund": true,
}

// sensitiveNames are file names (or name prefixes ending in "*") that hold
// secrets by their nature.
var sensitiveNames = []string{".env", ".env.*", "*.pem", "*.key", "*.p12", "*.pfx", "*.jks",
	"*.keystore", "id_rsa*", "id_ed25519*", "id_ecdsa*", ".npmrc", ".pypirc", ".netrc", ".htpasswd",
	".dockercfg", "credentials"}

// configExts are extensions of configuration files.
var configExts = map[string]bool{".yaml": true, ".yml": true, ".json": true, ".toml": true,
	".ini": true, ".conf": true, ".cfg": true, ".properties": true, ".env": true, ".xml": true, ".tf": true,
	".tfvars": true, ".hcl": true}

// credentialKeyRE matches a configuration key that holds a credential.
var credentialKeyRE = regexp.MustCompile(`(?i)(password|passwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credential|client[_-]?secret|connection[_-]?string|dsn)["']?\s*[:=]`)

// SecuritySensitive reports whether a changed file needs the stronger
// reviewer of a cascade, and why: its path names authentication,
// cryptography, secrets or payments; its name is one that holds secrets
// (.env, *.pem, id_rsa …); or it is a configuration file whose added lines
// set a credential. added holds the file's added lines (may be nil).
func SecuritySensitive(p string, added []string) (bool, string) {
	base := path.Base(p)
	lower := strings.ToLower(base)
	for _, pat := range sensitiveNames {
		if ok, _ := path.Match(pat, lower); ok {
			return true, "file name " + base
		}
	}
	for _, w := range pathWords(p) {
		if sensitiveWords[w] {
			return true, "path word " + w
		}
	}
	if configExts[strings.ToLower(path.Ext(p))] {
		for _, l := range added {
			if credentialKeyRE.MatchString(l) {
				return true, "configuration with credentials"
			}
		}
	}
	return false, ""
}

// pathWords splits a path into lower-case words at punctuation, digits-to-
// letters boundaries and lower-to-upper case changes: "pkg/AuthService.java"
// gives pkg, auth, service, java.
func pathWords(p string) []string {
	var words []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			words = append(words, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	runes := []rune(p)
	for i, r := range runes {
		switch {
		case !unicode.IsLetter(r) && !unicode.IsDigit(r):
			flush()
			continue
		case unicode.IsUpper(r) && i > 0 && unicode.IsLower(runes[i-1]):
			flush()
		case unicode.IsUpper(r) && i > 0 && unicode.IsUpper(runes[i-1]) && i+1 < len(runes) && unicode.IsLower(runes[i+1]):
			flush() // "JWTToken": JWT | Token
		}
		cur = append(cur, r)
	}
	flush()
	return words
}
