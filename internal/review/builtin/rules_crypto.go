package builtin

import (
	"net"
	"strings"

	"github.com/tricyclehq/tricycle/internal/review"
)

var (
	reWeakHash = rx(`\b(?:md5|sha1)\.(?:New|Sum)\(|\bhashlib\.(?:md5|sha1)\(|\bhashlib\.new\(\s*["'](?:md5|sha1)["']|` +
		`\bcreateHash\(\s*["'](?:md5|sha1)["']|\bMessageDigest\.getInstance\(\s*"(?:MD5|MD2|SHA-?1)"|\bDigestUtils\.(?:md5|sha1|sha)(?:Hex)?\(`)
	reHashNonSecurity = rx(`(?i)usedforsecurity\s*=\s*False|etag|checksum|cache|fingerprint|dedup|shard|bucket`)
	reWeakCipher      = rx(`\bdes\.New(?:TripleDES)?Cipher\(|\brc4\.NewCipher\(|\b(?:DES|DES3|ARC4|ARC2|Blowfish)\.new\(|\bMODE_ECB\b|` +
		`\balgorithms\.(?:TripleDES|ARC4|Blowfish)\(|\bmodes\.ECB\(|\bcreateCipher\(|` +
		`\bcreateCipheriv\(\s*["'](?:des|rc4|rc2|bf|blowfish)[^"']*["']|\bcreateCipheriv\(\s*["'][^"']*-ecb["']|` +
		`\bCipher\.getInstance\(\s*"(?:(?:DES|DESede|RC4|RC2|ARCFOUR|Blowfish)\b[^"]*|AES|(?:AES|DES\w*|Blowfish|RC2)/ECB/[^"]*)"`)
	reTLSOff = rx(`\bInsecureSkipVerify\s*:\s*true\b|\bverify\s*=\s*False\b|\b_create_unverified_context\(|\bCERT_NONE\b|` +
		`\bcheck_hostname\s*=\s*False\b|\brejectUnauthorized\s*:\s*false\b|NODE_TLS_REJECT_UNAUTHORIZED["'\]]*\s*=\s*["']?0|` +
		`\bALLOW_ALL_HOSTNAME_VERIFIER\b|\bNoopHostnameVerifier\b|\b[Tt]rustAll\w*|` +
		`\bset(?:Default)?HostnameVerifier\(\s*\(\s*\w*\s*,\s*\w*\s*\)\s*->\s*true|\bverify\(\s*String\s+\w+\s*,\s*SSLSession\s+\w+\s*\)\s*\{\s*return\s+true`)
	reJavaTrustEmpty = rx(`\bcheckServerTrusted\([^)]*\)\s*(?:throws\s+[\w.]+\s*)?\{\s*(\}\s*)?$`)
	reTLSOld         = rx(`\btls\.Version(?:SSL30|TLS10|TLS11)\b|\bPROTOCOL_(?:SSLv2|SSLv3|TLSv1|TLSv1_1)\b|\bTLSVersion\.(?:TLSv1|TLSv1_1|SSLv3)\b|` +
		`\bsecureProtocol\s*:\s*["'](?:SSLv3|TLSv1|TLSv1_1)_method|\bminVersion\s*:\s*["']TLSv1(?:\.1)?["']|` +
		`\bSSLContext\.getInstance\(\s*"(?:SSL|SSLv3|TLSv1|TLSv1\.1)"`)
	reGoMathRandOnly = rx(`\brand\.(?:Intn|IntN|Int63n?|Int31n?|Float32|Float64|Perm|Shuffle|Seed|Uint32|N)\(`)
	reGoRandAmbig    = rx(`\brand\.(?:Read|Int|Uint64)\(`)
	reGoMathImport   = rx(`"math/rand(?:/v2)?"`)
	reGoCryptoImport = rx(`"crypto/rand"`)
	rePyRandom       = rx(`\brandom\.(?:random|randint|randrange|choice|choices|sample|getrandbits|uniform|shuffle)\(`)
	rePySysRandom    = rx(`SystemRandom`)
	reJSRandom       = rx(`\bMath\.random\(\)`)
	reJavaRandom     = rx(`\bnew\s+Random\(|\bMath\.random\(\)|\bThreadLocalRandom\.current\(\)|\bRandomStringUtils\.random\w*\(`)
	reJavaNext       = rx(`\.next(?:Int|Long|Bytes|Double)\(`)
	reJavaNewRandom  = rx(`\bnew\s+Random\(`)
	reJavaSecureRand = rx(`\bSecureRandom\b`)
	reJWTNoVerify    = rx(`verify_signature["']?\s*:\s*False|\bjwt\.decode\(.*\bverify\s*=\s*False|\balgorithms\s*[=:]\s*\[\s*["']none["']|` +
		`\bignoreExpiration\s*:\s*true|\.ParseUnverified\(|\bSigningMethodNone\b|\bUnsafeAllowNoneSignatureType\b|\.parseClaimsJwt\(|\.parseUnsecuredClaims\(`)
	rePyDebug     = rx(`^DEBUG\s*=\s*True\b|\.run\(.*\bdebug\s*=\s*True|\bapp\.debug\s*=\s*True|\bgin\.SetMode\(\s*gin\.DebugMode\s*\)`)
	rePyHosts     = rx(`^ALLOWED_HOSTS\s*=\s*\[\s*["']\*["']\s*\]`)
	rePermissions = rx(`\b(?:os\.(?:Chmod|WriteFile|OpenFile|Mkdir|MkdirAll|chmod|mkdir|makedirs|open)|fs\.(?:chmod|mkdir|writeFile)\w*)\(.*\b0o?(?:777|776|766|666)\b|` +
		`\bPosixFilePermissions\.fromString\(\s*"[rwx-]{6}rw[x-]"|\bsetWritable\(\s*true\s*,\s*false\s*\)`)
	reCookieFlags = rx(`(?i)\bhttp_?only["']?\s*[:=]\s*false\b|\bsecure["']?\s*[:=]\s*false\b|\bsetHttpOnly\(\s*false\s*\)|\bsetSecure\(\s*false\s*\)|SESSION_COOKIE_(?:SECURE|HTTPONLY)\s*=\s*False`)
	reCookie      = rx(`(?i)cookie|session`)
	reCORSAll     = rx(`Access-Control-Allow-Origin"\s*,\s*"\*"|\borigin\s*:\s*["']\*["']|\bCORS_(?:ORIGIN_ALLOW_ALL|ALLOW_ALL_ORIGINS)\s*=\s*True|@CrossOrigin\(\s*(?:origins\s*=\s*)?"\*"|\ballowedOrigins\(\s*"\*"`)
	reHTTPURL     = rx(`^http://([^/:\s"'?#]+)`)
)

// plainHTTP fires on a literal http:// URL to a public host name.
func plainHTTP(c *fileCtx, i int) bool {
	for _, x := range c.lines[i].lits {
		m := reHTTPURL.FindStringSubmatch(x.text)
		if m != nil && publicHost(strings.ToLower(m[1])) {
			return true
		}
	}
	return false
}

// publicHost reports whether host names a machine on the internet rather
// than a local, private, in-cluster, documentation or XML namespace host.
func publicHost(host string) bool {
	if ip := net.ParseIP(host); ip != nil {
		return !(ip.IsLoopback() || ip.IsPrivate() || ip.IsUnspecified() || ip.IsLinkLocalUnicast())
	}
	if !strings.Contains(host, ".") || strings.ContainsAny(host, "{}$%<>") {
		return false // a single-label service name or a template
	}
	for _, suffix := range []string{".local", ".localhost", ".internal", ".svc", ".cluster.local", ".test", ".example",
		".invalid", "example.com", "example.org", "example.net", "w3.org", "xmlsoap.org", "json-schema.org", "purl.org",
		"apache.org", "openxmlformats.org", "microsoft.com", "schemas.android.com", "java.sun.com", "xmlns.jcp.org"} {
		if strings.HasSuffix(host, suffix) {
			return false
		}
	}
	return true
}

// goInsecureRandom fires on math/rand used for a security-sensitive value.
func goInsecureRandom(c *fileCtx, i int) bool {
	if !tokenContext(c, i) {
		return false
	}
	bare := c.lines[i].bare
	if reGoMathRandOnly.MatchString(bare) {
		return !reGoCryptoImport.MatchString(c.code) || reGoMathImport.MatchString(c.code)
	}
	return reGoRandAmbig.MatchString(bare) && reGoMathImport.MatchString(c.code) && !reGoCryptoImport.MatchString(c.code)
}

func cryptoRules() []rule {
	return []rule{
		{id: "auth/jwt-no-verify", category: catSecurity, severity: review.SeverityHigh, langs: lCode,
			kw:      []string{"verify", "none", "ignoreexpiration", "parseunverified", "signingmethodnone", "claimsjwt", "unsecured"},
			match:   onCode(reJWTNoVerify),
			message: "JWT accepted without verifying its signature or expiry (or with alg none).", suggestion: "Verify tokens with the expected key and an explicit algorithm list; never accept 'none'."},
		{id: "tls/verify-disabled", category: catSecurity, severity: review.SeverityHigh, langs: lCode,
			kw:      []string{"insecureskipverify", "verify", "unverified", "cert_none", "check_hostname", "rejectunauthorized", "reject_unauthorized", "hostname", "trust"},
			match:   anyOf(onCode(reTLSOff), all(inLang(lJava), onCode(reJavaTrustEmpty), anyOf(onCode(rx(`\}\s*$`)), emptyBlockNext))),
			message: "TLS certificate or host name verification disabled: traffic can be intercepted.", suggestion: "Keep verification on; to trust a private CA, add its certificate to the trust store or the client's root pool."},
		{id: "tls/weak-version", category: catSecurity, severity: review.SeverityMedium, langs: lCode,
			kw:      []string{"version", "protocol_", "tlsversion", "secureprotocol", "minversion", "sslcontext"},
			match:   onCode(reTLSOld),
			message: "SSL 3.0, TLS 1.0 or TLS 1.1 allowed; these versions are broken or deprecated.", suggestion: "Require TLS 1.2 or later."},
		{id: "crypto/weak-hash", category: catSecurity, severity: review.SeverityMedium, langs: lCode,
			kw:      []string{"md5", "sha1", "sha-1", "md2", "sha("},
			match:   all(onCode(reWeakHash), not(onCode(reHashNonSecurity)), func(c *fileCtx, i int) bool { return !reHashNonSecurity.MatchString(c.fn[i]) }),
			message: "MD5 or SHA-1 used where collisions matter.", suggestion: "Use SHA-256 or better; for passwords use bcrypt, scrypt or Argon2; for integrity checks of untrusted data use HMAC-SHA-256."},
		{id: "crypto/weak-cipher", category: catSecurity, severity: review.SeverityHigh, langs: lCode,
			kw:      []string{"des", "rc4", "arc4", "arc2", "blowfish", "ecb", "createcipher", "cipher.getinstance"},
			match:   onCode(reWeakCipher),
			message: "Broken cipher or mode (DES, 3DES, RC4, Blowfish, ECB, or Java's default \"AES\" which is ECB).", suggestion: "Use an authenticated mode such as AES-GCM or ChaCha20-Poly1305 with a random nonce."},
		{id: "crypto/insecure-random", category: catSecurity, severity: review.SeverityHigh, langs: lGo,
			kw: []string{"rand."}, match: goInsecureRandom,
			message: "math/rand used for a token, password or other secret: its output is predictable.", suggestion: "Use crypto/rand (rand.Read, rand.Text or rand.Int with rand.Reader)."},
		{id: "crypto/insecure-random", category: catSecurity, severity: review.SeverityHigh, langs: lPy,
			kw: []string{"random."}, match: all(onCode(rePyRandom), not(onCode(rePySysRandom)), tokenContext),
			message: "random module used for a token, password or other secret: its output is predictable.", suggestion: "Use the secrets module (secrets.token_urlsafe, secrets.choice)."},
		{id: "crypto/insecure-random", category: catSecurity, severity: review.SeverityHigh, langs: lWeb,
			kw: []string{"math.random"}, match: all(onCode(reJSRandom), tokenContext),
			message: "Math.random used for a token, password or other secret: its output is predictable.", suggestion: "Use crypto.randomBytes, crypto.randomUUID or crypto.getRandomValues."},
		{id: "crypto/insecure-random", category: catSecurity, severity: review.SeverityHigh, langs: lJava,
			kw: []string{"random", ".next"},
			match: all(tokenContext, anyOf(onCode(reJavaRandom),
				all(onCode(reJavaNext), fileHas(reJavaNewRandom), not(fileHas(reJavaSecureRand))))),
			message: "java.util.Random used for a token, password or other secret: its output is predictable.", suggestion: "Use java.security.SecureRandom."},
		{id: "config/debug-enabled", category: catSecurity, severity: review.SeverityMedium, langs: lPy | lGo,
			kw: []string{"debug"}, match: onCode(rePyDebug),
			message: "Debug mode enabled: it exposes stack traces, settings and sometimes an interactive console.", suggestion: "Read the debug flag from the environment and default it to off."},
		{id: "config/allowed-hosts", category: catSecurity, severity: review.SeverityMedium, langs: lPy,
			kw: []string{"allowed_hosts"}, match: onCode(rePyHosts),
			message: "ALLOWED_HOSTS accepts any host: enables Host header attacks.", suggestion: "List the host names the site is served under."},
		{id: "config/world-writable", category: catSecurity, severity: review.SeverityMedium, langs: lCode,
			kw: []string{"77", "66", "posixfilepermissions", "setwritable"}, match: onCode(rePermissions),
			message: "File or directory created world-writable.", suggestion: "Use 0o600/0o644 for files and 0o700/0o755 for directories."},
		{id: "web/insecure-cookie", category: catSecurity, severity: review.SeverityLow, langs: lCode,
			kw: []string{"httponly", "http_only", "secure"}, match: all(onCode(reCookieFlags), anyOf(onCode(reCookie), fileHas(reCookie))),
			message: "Cookie without the Secure or HttpOnly flag.", suggestion: "Set Secure and HttpOnly on session cookies (and SameSite)."},
		{id: "web/cors-wildcard", category: catSecurity, severity: review.SeverityLow, langs: lCode,
			kw: []string{"origin", "cors"}, match: onCode(reCORSAll),
			message: "CORS allows every origin.", suggestion: "List the origins that may call the API; never combine * with credentials."},
		{id: "net/plaintext-http", category: catSecurity, severity: review.SeverityMedium, langs: lCode,
			kw: []string{"http://"}, match: plainHTTP,
			message: "Plain http:// URL for a remote service: data and credentials travel unencrypted.", suggestion: "Use https://."},
	}
}
