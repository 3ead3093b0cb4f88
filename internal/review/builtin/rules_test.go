package builtin

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/tricyclehq/tricycle/internal/review"
)

// newFileDiff renders src as the diff of a new file at path.
func newFileDiff(path, src string) string {
	lines := strings.Split(strings.TrimSuffix(src, "\n"), "\n")
	var b strings.Builder
	fmt.Fprintf(&b, "diff --git a/%s b/%s\nnew file mode 100644\n--- /dev/null\n+++ b/%s\n@@ -0,0 +1,%d @@\n", path, path, path, len(lines))
	for _, l := range lines {
		b.WriteString("+" + l + "\n")
	}
	return b.String()
}

var pathFor = map[string]string{"go": "x/main.go", "py": "x/app.py", "js": "x/app.js", "ts": "x/app.ts", "java": "x/App.java", "yaml": "x/config.yaml"}

func reviewSrc(t testing.TB, lang, src string) []review.Finding {
	t.Helper()
	res, err := New(Options{}).Review(context.Background(), review.Request{ID: "t", Diff: newFileDiff(pathFor[lang], src)})
	if err != nil {
		t.Fatalf("Review: %v", err)
	}
	return res.Findings
}

// ruleCases holds, per rule, code that must trigger it on line `line`, and
// code that must not trigger it anywhere (line 0).
var ruleCases = []struct {
	rule string
	lang string
	src  string
	line int
}{
	{"secrets/private-key", "yaml", "key: |\n  -----BEGIN OPENSSH PRIVATE KEY-----", 2},
	{"secrets/aws-access-key", "py", `KEY = "AKIAZ7QWERTY2HX7KDLM"`, 1},
	{"secrets/aws-access-key", "py", `KEY = "AKIAIOSFODNN7EXAMPLE"`, 0},
	{"secrets/aws-secret-key", "yaml", "aws_secret_access_key: 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", 1},
	{"secrets/github-token", "go", "// token ghp_R4nD0mT0k3nV4lu3F0rT3st1ngXyZ12345ab", 1},
	{"secrets/slack-token", "js", "const t = 'xoxb-2210535565-3981204817029-Yf3kQ9vLr2Xp8Zt6';", 1},
	{"secrets/stripe-key", "ts", "const k = 'sk_live_51NvQx2KpL8mZr4Tw9Yb3Hc6';", 1},
	{"secrets/slack-webhook", "py", `URL = "https://hooks.slack.com/services/T0123ABCD/B0456EFGH/abcdefghijklmnopqrstuvwx"`, 1},
	{"secrets/google-api-key", "js", "const k = 'AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q';", 1},
	{"secrets/ai-api-key", "py", `client = OpenAI(api_key="sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD")`, 1},
	{"secrets/jwt", "java", `String t = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";`, 1},
	{"secrets/url-credentials", "go", `dsn := "postgres://app:Zq8!vR2mK7@db.prod.acme.io:5432/app"`, 1},
	{"secrets/url-credentials", "go", `dsn := "postgres://postgres:postgres@localhost:5432/test"`, 0},
	{"secrets/hardcoded-password", "java", `private static final String DB_PASSWORD = "Pr0d#2024!";`, 1},
	{"secrets/hardcoded-password", "java", `if (password.equals("letmein99")) {`, 1},
	{"secrets/hardcoded-password", "ts", `const password: string = "hunter2hunter2";`, 1},
	{"secrets/hardcoded-password", "py", `PASSWORD_FIELD = "password"` + "\n" + `token = "Bearer"` + "\n" + `password = os.environ["DB_PASSWORD"]`, 0},
	{"secrets/hardcoded-password", "go", `Password: "${DB_PASSWORD}",` + "\n" + `apiKey := "your_api_key_here"`, 0},

	{"injection/sql", "go", `q := "SELECT * FROM users WHERE name = '" + name + "'"`, 1},
	{"injection/sql", "go", `q := fmt.Sprintf("DELETE FROM sessions WHERE user_id = %d", id)`, 1},
	{"injection/sql", "go", `rows, err := db.Query("SELECT * FROM users WHERE name = $1", name)`, 0},
	{"injection/sql", "py", `cur.execute("UPDATE users SET name = '%s' WHERE id = %d" % (name, uid))`, 1},
	{"injection/sql", "py", `cur.execute("SELECT * FROM t WHERE id = %s", (uid,))`, 0},
	{"injection/sql", "py", `q = "SELECT * FROM t WHERE a = {}".format(a)`, 1},
	{"injection/sql", "js", "db.query(`INSERT INTO logs (msg) VALUES ('${msg}')`);", 1},
	{"injection/sql", "java", `String q = "SELECT a FROM b WHERE c = '" +` + "\n" + `    c + "'";`, 1},
	{"injection/sql", "java", `String q = "SELECT a FROM b " +` + "\n" + `    "WHERE c = ?";`, 0},
	{"injection/command", "go", `cmd := exec.Command("bash", "-c", "rm -rf "+dir)`, 1},
	{"injection/command", "go", `cmd := exec.Command("sh", "-c", "ls -la")`, 0},
	{"injection/command", "go", "tool := r.URL.Query().Get(\"tool\")\nout, _ := exec.Command(tool).Output()", 2},
	{"injection/command", "py", `subprocess.call("ls " + d, shell=True)`, 1},
	{"injection/command", "py", `os.popen(f"du -sh {path}")`, 1},
	{"injection/command", "py", `os.system("clear")`, 0},
	{"injection/command", "js", "execSync(`rm -rf ${dir}`);", 1},
	{"injection/command", "js", "const m = /a(b)/.exec(s);\nexecSync('ls');", 0},
	{"injection/command", "js", "spawn('ls', [dir], { shell: true });", 1},
	{"injection/command", "java", `new ProcessBuilder("sh", "-c", "tar xf " + archive).start();`, 1},
	{"injection/path-traversal", "go", "f, err := os.Open(r.FormValue(\"path\"))", 1},
	{"injection/path-traversal", "go", "for _, f := range zr.File {\n\tp := filepath.Join(dest, f.Name)\n}\nvar _ = zip.OpenReader", 2},
	{"injection/path-traversal", "py", "name = request.args['f']\npath = os.path.join(BASE, name)", 2},
	{"injection/path-traversal", "py", "name = secure_filename(request.args['f'])\npath = os.path.join(BASE, name)", 0},
	{"injection/path-traversal", "js", "fs.readFile(`/data/${req.query.file}`, cb);", 1},
	{"injection/path-traversal", "java", "String n = request.getParameter(\"n\");\nPath p = Paths.get(ROOT, n);", 2},
	{"injection/path-traversal", "java", "public void get(@PathVariable String name) {\n  Files.readAllBytes(Path.of(ROOT, name));", 2},
	{"injection/ssrf", "py", "requests.get(request.args['url'], timeout=5)", 1},
	{"injection/ssrf", "js", "const r = await axios.get(req.body.callback);", 1},
	{"injection/open-redirect", "go", "http.Redirect(w, r, r.URL.Query().Get(\"next\"), http.StatusFound)", 1},
	{"injection/open-redirect", "py", "return redirect(request.args.get('next'))", 1},
	{"injection/open-redirect", "java", "response.sendRedirect(request.getParameter(\"to\"));", 1},
	{"injection/xss", "go", "name := r.FormValue(\"name\")\nfmt.Fprintf(w, \"<h1>Hello %s</h1>\", name)", 2},
	{"injection/xss", "js", "el.innerHTML = msg;", 1},
	{"injection/xss", "js", "el.innerHTML = '';\nel.innerHTML = DOMPurify.sanitize(html);", 0},
	{"injection/xss", "py", "@app.route('/hi/<name>')\ndef hi(name):\n    return render_template_string('<p>' + name + '</p>')", 3},
	{"injection/xss", "java", "resp.getWriter().println(\"<p>\" + req.getParameter(\"q\") + \"</p>\");", 1},
	{"injection/regex", "js", "const re = new RegExp(req.query.pattern);", 1},
	{"injection/code-eval", "py", "result = eval(expr)", 1},
	{"injection/code-eval", "py", "model.eval()\nv = ast.literal_eval(s)", 0},
	{"injection/code-eval", "js", "const f = new Function('a', body);", 1},
	{"injection/code-eval", "js", "setTimeout(() => poll(), 1000);", 0},
	{"injection/code-eval", "java", "ScriptEngine engine = m.getEngineByName(\"js\");\nengine.eval(\"var x = \" + input);", 2},

	{"deserialization/unsafe", "py", "data = pickle.load(fh)", 1},
	{"deserialization/unsafe", "py", "cfg = yaml.load(fh)", 1},
	{"deserialization/unsafe", "py", "cfg = yaml.load(fh, Loader=yaml.SafeLoader)", 0},
	{"deserialization/unsafe", "java", "Object o = new ObjectInputStream(in).readObject();", 1},
	{"deserialization/unsafe", "js", "const o = serialize.unserialize(str);", 1},
	{"xml/xxe", "java", "SAXParserFactory f = SAXParserFactory.newInstance();", 1},
	{"xml/xxe", "java", "DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();\nf.setFeature(\"http://apache.org/xml/features/disallow-doctype-decl\", true);", 0},

	{"auth/jwt-no-verify", "go", "tok, _, err := new(jwt.Parser).ParseUnverified(s, claims)", 1},
	{"auth/jwt-no-verify", "js", "jwt.verify(t, key, { ignoreExpiration: true });", 1},
	{"tls/verify-disabled", "py", "ctx = ssl._create_unverified_context()", 1},
	{"tls/verify-disabled", "js", "process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';", 1},
	{"tls/verify-disabled", "java", "sc.init(null, trustAllCerts, new SecureRandom());", 1},
	{"tls/verify-disabled", "go", "cfg := &tls.Config{InsecureSkipVerify: false}", 0},
	{"tls/weak-version", "go", "cfg := &tls.Config{MinVersion: tls.VersionTLS10}", 1},
	{"tls/weak-version", "java", `SSLContext ctx = SSLContext.getInstance("TLSv1");`, 1},
	{"tls/weak-version", "go", "cfg := &tls.Config{MinVersion: tls.VersionTLS13}", 0},
	{"crypto/weak-hash", "js", "const h = crypto.createHash('sha1').update(pw).digest('hex');", 1},
	{"crypto/weak-hash", "py", "h = hashlib.md5(data, usedforsecurity=False)", 0},
	{"crypto/weak-cipher", "go", "block, err := des.NewCipher(key)", 1},
	{"crypto/weak-cipher", "java", `Cipher c = Cipher.getInstance("AES");`, 1},
	{"crypto/weak-cipher", "java", `Cipher c = Cipher.getInstance("AES/GCM/NoPadding");`, 0},
	{"crypto/weak-cipher", "py", "cipher = AES.new(key, AES.MODE_ECB)", 1},
	{"crypto/insecure-random", "go", "import \"math/rand\"\n\nfunc apiKey() string {\n\treturn fmt.Sprint(rand.Int63())\n}", 4},
	{"crypto/insecure-random", "go", "import \"crypto/rand\"\n\nfunc nonce() []byte {\n\tb := make([]byte, 12)\n\trand.Read(b)\n\treturn b\n}", 0},
	{"crypto/insecure-random", "py", "otp = random.randint(100000, 999999)", 1},
	{"crypto/insecure-random", "py", "color = random.choice(COLORS)", 0},
	{"crypto/insecure-random", "java", "String csrf = Integer.toHexString(ThreadLocalRandom.current().nextInt());", 1},
	{"config/debug-enabled", "py", "DEBUG = True", 1},
	{"config/debug-enabled", "py", "DEBUG = os.environ.get('DEBUG') == '1'", 0},
	{"config/allowed-hosts", "py", "ALLOWED_HOSTS = ['*']", 1},
	{"config/world-writable", "py", "os.chmod(path, 0o777)", 1},
	{"config/world-writable", "go", "err := os.WriteFile(p, b, 0o600)", 0},
	{"web/insecure-cookie", "js", "res.cookie('session', sid, { httpOnly: false });", 1},
	{"web/insecure-cookie", "java", "cookie.setSecure(false);", 1},
	{"web/cors-wildcard", "go", `w.Header().Set("Access-Control-Allow-Origin", "*")`, 1},
	{"net/plaintext-http", "java", `URL u = new URL("http://payments.acme-pay.com/charge");`, 1},
	{"net/plaintext-http", "go", `u := "http://localhost:8080/api"` + "\n" + `ns := "http://www.w3.org/2000/svg"` + "\n" + `s := "http://orders-svc:8080/v1"` + "\n" + `p := "http://10.0.0.7/metrics"`, 0},
	{"net/plaintext-http", "py", "# see http://api.legacy-vendor.com/docs", 0},

	{"errors/ignored", "go", "_ = os.Remove(tmp)", 1},
	{"errors/ignored", "go", "n, _ := strconv.Atoi(s)\n_ = tx.Rollback()\n_, _ = fmt.Fprintf(w, \"ok\")", 0},
	{"errors/ignored", "go", "db.Exec(\"DELETE FROM t\")", 1},
	{"errors/empty-check", "go", "if err := f(); err != nil {}", 1},
	{"errors/swallowed", "py", "try:\n    run()\nexcept:\n    pass", 3},
	{"errors/swallowed", "py", "try:\n    del d[k]\nexcept KeyError:\n    pass", 0},
	{"errors/swallowed", "js", "p.then(run).catch(() => {});", 1},
	{"errors/swallowed", "java", "try {\n  run();\n} catch (Exception e) {\n  // ignore\n}", 3},
	{"logging/secret", "py", "print('api key', api_key)", 1},
	{"logging/secret", "go", "log.Printf(\"token refreshed for %s\", userID)", 0},
	{"logging/secret", "go", "auth := fmt.Sprintf(\"Bearer %s\", token)", 0},
	{"logging/secret", "go", "fmt.Println(\"db password:\", cfg.DBPassword)", 1},
	{"logging/secret", "js", "console.log(`auth ${accessToken}`);", 1},
	{"resource/unclosed", "go", "func q(db *sql.DB) error {\n\trows, err := db.Query(\"SELECT 1\")\n\tif err != nil {\n\t\treturn err\n\t}\n\treturn nil\n}", 2},
	{"resource/unclosed", "go", "func q(db *sql.DB) error {\n\trows, err := db.Query(\"SELECT 1\")\n\tif err != nil {\n\t\treturn err\n\t}\n\tdefer rows.Close()\n\treturn nil\n}", 0},
	{"resource/defer-in-loop", "go", "func f(ps []string) {\n\tfor _, p := range ps {\n\t\tf, _ := os.Open(p)\n\t\tdefer f.Close()\n\t}\n}", 4},
	{"resource/defer-in-loop", "go", "func f(ps []string) {\n\tfor _, p := range ps {\n\t\tfunc() {\n\t\t\tdefer mu.Unlock()\n\t\t}()\n\t}\n}", 0},
	{"perf/regexp-compile-in-function", "go", "func ok(s string) bool {\n\tre := regexp.MustCompile(`^a+$`)\n\treturn re.MatchString(s)\n}", 2},
	{"perf/regexp-compile-in-function", "go", "var re = regexp.MustCompile(`^a+$`)", 0},
	{"perf/json-deep-clone", "ts", "const copy = JSON.parse(JSON.stringify(obj));", 1},
	{"correctness/mutable-default", "py", "def f(x, seen={}):", 1},
	{"correctness/mutable-default", "py", "def f(x, seen=None):", 0},
	{"correctness/string-identity", "java", `if (s != "") {`, 1},
	{"correctness/string-identity", "java", `if (c == 'a' || s.equals("b")) {`, 0},
	{"correctness/bigdecimal-double", "java", "BigDecimal r = new BigDecimal(0.1);", 1},
	{"correctness/async-foreach", "ts", "items.forEach(async (i) => save(i));", 1},
	{"security/insecure-tempfile", "py", "p = tempfile.mktemp()", 1},
	{"maintainability/print-stack-trace", "java", "e.printStackTrace();", 1},
}

func TestRules(t *testing.T) {
	t.Parallel()
	covered := map[string]bool{}
	for _, tc := range ruleCases {
		t.Run(fmt.Sprintf("%s/%s/%d", tc.rule, tc.lang, tc.line), func(t *testing.T) {
			t.Parallel()
			var lines []int
			for _, f := range reviewSrc(t, tc.lang, tc.src) {
				if f.Rule == tc.rule {
					lines = append(lines, f.Line)
				}
			}
			switch {
			case tc.line == 0 && len(lines) > 0:
				t.Errorf("rule fired on lines %v of\n%s", lines, tc.src)
			case tc.line > 0 && (len(lines) != 1 || lines[0] != tc.line):
				t.Errorf("rule fired on lines %v, want [%d] of\n%s", lines, tc.line, tc.src)
			}
		})
		if tc.line > 0 {
			covered[tc.rule] = true
		}
	}
	for _, info := range Rules() {
		if !covered[info.ID] {
			t.Errorf("rule %s has no positive example", info.ID)
		}
	}
}
