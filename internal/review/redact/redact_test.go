package redact_test

import (
	"strings"
	"testing"

	"github.com/tricyclehq/tricycle/internal/review"
	"github.com/tricyclehq/tricycle/internal/review/redact"
	"github.com/tricyclehq/tricycle/internal/review/redact/redacttest"
)

func TestRedactSamples(t *testing.T) {
	t.Parallel()
	samples := redacttest.Samples()
	if len(samples) < 30 {
		t.Fatalf("only %d secret shapes in the table, want at least 30", len(samples))
	}
	for _, s := range samples {
		t.Run(s.Rule, func(t *testing.T) {
			t.Parallel()
			out, n := redact.Redact(s.Text)
			if n == 0 {
				t.Fatalf("nothing redacted in %q", s.Text)
			}
			for _, sec := range s.Secrets {
				if redacttest.Leaked(sec, out) {
					t.Errorf("secret %q survives in %q", sec, out)
				}
			}
			if want := redact.Placeholder(s.Rule); !strings.Contains(out, want) {
				t.Errorf("output %q lacks %s", out, want)
			}
		})
	}
}

func TestRedactSamplesInDiff(t *testing.T) {
	t.Parallel()
	samples := redacttest.Samples()
	diff := redacttest.Diff(samples)
	out, n := redact.Redact(diff)
	if leaks := redacttest.Leaks(samples, out); len(leaks) > 0 {
		t.Fatalf("secrets of %v survive redaction of a diff", leaks)
	}
	if n < len(samples) {
		t.Errorf("redacted %d secrets, want at least %d", n, len(samples))
	}
	// Diff structure around the secrets is kept.
	if got, want := strings.Count(out, "\n+++ b/"), len(samples); got != want {
		t.Errorf("diff has %d file headers after redaction, want %d", got, want)
	}
}

func TestRedactKeepsContext(t *testing.T) {
	t.Parallel()
	pass := redacttest.Gen("ctx-pass", 16, "abcdefghijklmnopqrstuvwxyz0123456789")
	tests := []struct {
		name, in, want string
	}{
		{
			name: "database url keeps user and host",
			in:   "postgres://app:" + pass + "@db:5432/app",
			want: "postgres://app:[REDACTED:database-password]@db:5432/app",
		},
		{
			name: "basic auth url keeps host",
			in:   "https://bob:" + pass + "@example.com/x",
			want: "https://bob:[REDACTED:url-password]@example.com/x",
		},
		{
			name: "assignment keeps key",
			in:   `password = "` + pass + `X!"`,
			want: `password = "[REDACTED:secret-assignment]"`,
		},
		{
			name: "two secrets on a line",
			in:   "a=AKIA" + strings.ToUpper(pass) + " b=AKIA" + strings.ToUpper(pass),
			want: "a=[REDACTED:aws-access-key-id] b=[REDACTED:aws-access-key-id]",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got, _ := redact.Redact(tt.in); got != tt.want {
				t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestRedactLeavesNegativesAlone(t *testing.T) {
	t.Parallel()
	for _, neg := range redacttest.Negatives() {
		t.Run(neg.Name, func(t *testing.T) {
			t.Parallel()
			out, n := redact.Redact(neg.Text)
			if n != 0 || out != neg.Text {
				t.Errorf("Redact changed %q to %q (%d replacements)", neg.Text, out, n)
			}
		})
	}
}

func TestRedactIdempotent(t *testing.T) {
	t.Parallel()
	for _, s := range redacttest.Samples() {
		once, _ := redact.Redact(s.Text)
		twice, n := redact.Redact(once)
		if twice != once || n != 0 {
			t.Errorf("%s: second Redact changed %q to %q (%d replacements)", s.Rule, once, twice, n)
		}
	}
}

func TestRequest(t *testing.T) {
	t.Parallel()
	key := "ghp_" + redacttest.Gen("req", 36, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
	req := review.Request{
		ID:         "r1",
		Repository: "acme/app",
		Diff:       "+token := \"" + key + "\"\n",
		Files:      map[string]string{"main.go": "const k = \"" + key + "\"\n", "README": "hello\n"},
	}
	out, n := redact.Request(req)
	if n != 2 {
		t.Errorf("Request redacted %d secrets, want 2", n)
	}
	if strings.Contains(out.Diff, key) || strings.Contains(out.Files["main.go"], key) {
		t.Errorf("secret survives: %+v", out)
	}
	if out.Files["README"] != "hello\n" || out.ID != "r1" || out.Repository != "acme/app" {
		t.Errorf("unrelated fields changed: %+v", out)
	}
	if !strings.Contains(req.Files["main.go"], key) {
		t.Error("Request modified the caller's Files map")
	}
}

func TestRulesCoverTable(t *testing.T) {
	t.Parallel()
	names := map[string]bool{}
	for _, r := range redact.Rules() {
		names[r] = true
	}
	if len(names) < 30 {
		t.Errorf("%d rules, want at least 30", len(names))
	}
	for _, s := range redacttest.Samples() {
		if !names[s.Rule] {
			t.Errorf("sample names unknown rule %q", s.Rule)
		}
	}
}

func FuzzRedact(f *testing.F) {
	samples := redacttest.Samples()
	for i, s := range samples {
		f.Add("x := 1\n", s.Text, uint8(i))
	}
	for i, n := range redacttest.Negatives() {
		f.Add(n.Text, "", uint8(i))
	}
	f.Add("password = \"", "[REDACTED:jwt]", uint8(3))
	f.Add("-----BEGIN RSA PRIVATE KEY-----\n", "postgres://u:", uint8(9))
	f.Fuzz(func(t *testing.T, prefix, suffix string, pick uint8) {
		s := samples[int(pick)%len(samples)]
		in := prefix + "\n" + s.Text + "\n" + suffix
		out, _ := redact.Redact(in)
		for _, sec := range s.Secrets {
			if redacttest.Leaked(sec, out) && !redacttest.Leaked(sec, prefix+suffix) {
				t.Fatalf("secret %q of %s survives in %q", sec, s.Rule, out)
			}
		}
		again, n := redact.Redact(out)
		if again != out || n != 0 {
			t.Fatalf("not idempotent: %q then %q (%d)", out, again, n)
		}
		// Arbitrary text alone is also idempotent.
		raw, _ := redact.Redact(prefix + suffix)
		if raw2, _ := redact.Redact(raw); raw2 != raw {
			t.Fatalf("not idempotent on %q: %q then %q", prefix+suffix, raw, raw2)
		}
	})
}

// benchInput is a realistic diff: mostly ordinary code with a few secrets.
func benchInput() string {
	var b strings.Builder
	code := "+\tif err := s.store.Save(ctx, item); err != nil {\n+\t\treturn fmt.Errorf(\"save item %s: %w\", item.ID, err)\n+\t}\n"
	samples := redacttest.Samples()
	for i := 0; b.Len() < 256<<10; i++ {
		b.WriteString(code)
		if i%50 == 0 {
			b.WriteString(samples[i/50%len(samples)].Text)
		}
	}
	return b.String()
}

func BenchmarkRedact(b *testing.B) {
	in := benchInput()
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		redact.Redact(in)
	}
}

func BenchmarkRedactClean(b *testing.B) {
	in := strings.Repeat("+\tif err := s.store.Save(ctx, item); err != nil {\n+\t\treturn err\n+\t}\n", 4096)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		redact.Redact(in)
	}
}
