package postgres

import (
	"strings"
	"time"
	"unicode/utf8"
)

// colEscape starts an escape in a text column value (see col).
const colEscape = '\x01'

// col returns s as a text column value. PostgreSQL text holds neither U+0000
// nor bytes that are not UTF-8, both of which a Go string may carry (a title
// typed by a user, say). col maps them injectively, so that a value written
// and a value compared with are encoded alike and two different strings
// never become equal: U+0000 → "\x01" "0", U+0001 → "\x01" "1", and a byte
// that is not UTF-8 → "\x01" "x" and two hex digits. Every other string,
// which is every string in practice, is unchanged.
func col(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 && strings.IndexByte(s, colEscape) < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			const hex = "0123456789abcdef"
			b.WriteByte(colEscape)
			b.WriteByte('x')
			b.WriteByte(hex[s[i]>>4])
			b.WriteByte(hex[s[i]&0xf])
		case r == 0:
			b.WriteByte(colEscape)
			b.WriteByte('0')
		case r == colEscape:
			b.WriteByte(colEscape)
			b.WriteByte('1')
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// uncol inverts col. A malformed escape is kept as it is.
func uncol(s string) string {
	if strings.IndexByte(s, colEscape) < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != colEscape || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		switch s[i+1] {
		case '0':
			b.WriteByte(0)
			i++
		case '1':
			b.WriteByte(colEscape)
			i++
		case 'x':
			if i+3 < len(s) {
				if v, ok := unhex(s[i+2], s[i+3]); ok {
					b.WriteByte(v)
					i += 3
					continue
				}
			}
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func unhex(hi, lo byte) (byte, bool) {
	h, ok1 := hexDigit(hi)
	l, ok2 := hexDigit(lo)
	return h<<4 | l, ok1 && ok2
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// cols maps col over vals (for "= ANY($n)" arguments).
func cols[S ~string](vals []S) []string {
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = col(string(v))
	}
	return out
}

// nullTime is t, or NULL for the zero time.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}
