package postgres

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestColumnText(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want string }{
		{"exp-1", "exp-1"},
		{"ünïcødé-🚲", "ünïcødé-🚲"},
		{"a\x00b", "a\x010b"},
		{"\x01", "\x011"},
		{"bad\xffbyte", "bad\x01xffbyte"},
		{"", ""},
	} {
		if got := col(c.in); got != c.want {
			t.Errorf("col(%q) = %q, want %q", c.in, got, c.want)
		}
		if back := uncol(col(c.in)); back != c.in {
			t.Errorf("uncol(col(%q)) = %q", c.in, back)
		}
	}
	// Strings that would collide under a lossy mapping stay distinct.
	if col("a\x00") == col("a\uFFFD") || col("a\x00") == col("a\x010") {
		t.Error("col maps distinct strings to one value")
	}
}

// FuzzColumnText checks that col yields text PostgreSQL accepts (UTF-8
// without U+0000) and that uncol restores the input.
func FuzzColumnText(f *testing.F) {
	for _, s := range []string{"", "plain", "a\x00b", "\x01\x010x", "\xff\xfe", "\x01x4", "🚲\x00\x01\xc3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := col(s)
		if !utf8.ValidString(c) || strings.IndexByte(c, 0) >= 0 {
			t.Fatalf("col(%q) = %q: not storable as PostgreSQL text", s, c)
		}
		if back := uncol(c); back != s {
			t.Fatalf("uncol(col(%q)) = %q", s, back)
		}
	})
}
