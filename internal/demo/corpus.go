package demo

import (
	"fmt"
	"strings"
)

// change is one file's edit: the hunk's first line number and its lines,
// each prefixed ' ' (context), '-' (removed) or '+' (added).
type change struct {
	path  string
	start int
	lines []string
}

// diff renders c as a unified diff with one hunk.
func (c change) diff() string {
	var old, neu int
	for _, l := range c.lines {
		switch l[0] {
		case ' ':
			old++
			neu++
		case '-':
			old++
		case '+':
			neu++
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "diff --git a/%s b/%s\n--- a/%s\n+++ b/%s\n@@ -%d,%d +%d,%d @@\n", c.path, c.path, c.path, c.path, c.start, old, c.start, neu)
	for _, l := range c.lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String()
}

// changes are the synthetic traffic's edits, in Go, Python and JavaScript:
// some clean and some with one to three issues the builtin reviewer
// reports. The simulated reviewers' findings are drawn from what the
// builtin reviewer finds (their ground truth).
var changes = []change{
	{"store/users.go", 10, []string{ // a query built from user input
		" \tvar u User",
		"-\trow := s.db.QueryRowContext(ctx, \"SELECT name FROM users WHERE id = ?\", id)",
		"+\trow := s.db.QueryRowContext(ctx, \"SELECT name FROM users WHERE id = '\"+id+\"'\")",
		" \treturn &u, row.Scan(&u.Name)",
	}},
	{"tools/convert.py", 4, []string{ // a shell command from a request, errors swallowed
		" def convert(request):",
		"     name = request.args[\"name\"]",
		"-    subprocess.run([\"convert\", name, name + \".png\"], check=True)",
		"+    subprocess.call(\"convert \" + name + \" out.png\", shell=True)",
		"+    try:",
		"+        os.remove(name)",
		"+    except Exception:",
		"+        pass",
	}},
	{"client/http.go", 8, []string{ // TLS verification off
		" \treturn &http.Client{",
		"-\t\tTimeout: 10 * time.Second,",
		"+\t\tTimeout:   10 * time.Second,",
		"+\t\tTransport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},",
		" \t}",
	}},
	{"billing/total.go", 3, []string{ // clean: a helper extracted
		" func Total(items []Item) int64 {",
		" \tvar sum int64",
		" \tfor _, it := range items {",
		"-\t\tsum += it.Price * int64(it.Qty)",
		"+\t\tsum += lineTotal(it)",
		" \t}",
		" \treturn sum",
		" }",
		"+",
		"+func lineTotal(it Item) int64 {",
		"+\treturn it.Price * int64(it.Qty)",
		"+}",
	}},
	{"app/settings.py", 1, []string{ // debug on, any host allowed
		" import os",
		" ",
		"-DEBUG = False",
		"-ALLOWED_HOSTS = [\"reviews.example.com\"]",
		"+DEBUG = True",
		"+ALLOWED_HOSTS = [\"*\"]",
		" LOG_LEVEL = os.environ.get(\"LOG_LEVEL\", \"info\")",
	}},
	{"web/profile.js", 2, []string{ // HTML from user input
		"   const el = document.getElementById(\"name\");",
		"-  el.textContent = params.get(\"name\");",
		"+  el.innerHTML = params.get(\"name\");",
		" }",
	}},
	{"jobs/retry.py", 1, []string{ // clean: a constant and a logger
		" import logging",
		" ",
		"-MAX_ATTEMPTS = 3",
		"+MAX_ATTEMPTS = 5",
		"+log = logging.getLogger(__name__)",
		" ",
		" def should_retry(attempt):",
		"     return attempt < MAX_ATTEMPTS",
	}},
	{"auth/session.go", 5, []string{ // a DES cipher, a math/rand session id
		"-func newBlock(k []byte) (cipher.Block, error) { return aes.NewCipher(k) }",
		"+func newBlock(k []byte) (cipher.Block, error) { return des.NewCipher(k) }",
		"+",
		"+func NewSessionID() string { return strconv.FormatInt(rand.Int63(), 36) }",
	}},
	{"billing/total_test.go", 6, []string{ // clean: a test case
		" \t\t{nil, 0},",
		" \t\t{[]Item{{Price: 2, Qty: 3}}, 6},",
		"+\t\t{[]Item{{Price: 2, Qty: 3}, {Price: 1, Qty: 1}}, 7},",
		" \t}",
	}},
	{"server/files.go", 12, []string{ // a path from the request
		" \tname := r.URL.Query().Get(\"file\")",
		"-\thttp.ServeFile(w, r, filepath.Join(s.root, filepath.Base(name)))",
		"+\thttp.ServeFile(w, r, filepath.Join(s.root, name))",
		" }",
	}},
	{"config/load.py", 3, []string{ // untrusted YAML, unsafe loader
		" def load(stream):",
		"-    return yaml.safe_load(stream)",
		"+    return yaml.load(stream, Loader=yaml.Loader)",
	}},
	{"web/cart.js", 1, []string{ // clean: a null check
		" export function count(cart) {",
		"+  if (!cart || !cart.items) {",
		"+    return 0;",
		"+  }",
		"   return cart.items.reduce((n, it) => n + it.qty, 0);",
		" }",
	}},
}
