package diff

import (
	"fmt"
	"strconv"
	"strings"
)

// splitGitPaths splits the operands of a "diff --git" line into the old and
// new path, with a/ and b/ prefixes removed. Paths may be C-quoted, and
// unquoted paths may contain spaces when both sides are the same.
func splitGitPaths(s string) (oldPath, newPath string, err error) {
	var a, b string
	switch {
	case strings.HasPrefix(s, `"`):
		q, rest, err := cutQuoted(s)
		if err != nil {
			return "", "", err
		}
		rest, ok := strings.CutPrefix(rest, " ")
		if !ok || rest == "" {
			return "", "", fmt.Errorf("missing second path")
		}
		a = q
		if b, err = unquotePath(rest); err != nil {
			return "", "", err
		}
	case strings.Contains(s, ` "`):
		i := strings.Index(s, ` "`)
		a = s[:i]
		if b, err = unquotePath(s[i+1:]); err != nil {
			return "", "", err
		}
	default:
		mid := len(s) / 2
		if len(s)%2 == 1 && s[mid] == ' ' && trimSide(s[:mid], "a/") == trimSide(s[mid+1:], "b/") {
			a, b = s[:mid], s[mid+1:]
			break
		}
		i := strings.Index(s, " b/")
		if i < 0 {
			return "", "", fmt.Errorf("cannot tell the two paths apart")
		}
		a, b = s[:i], s[i+1:]
	}
	if a == "" || b == "" {
		return "", "", fmt.Errorf("empty path")
	}
	oldPath, newPath = stripPrefixes(a, b)
	return oldPath, newPath, nil
}

func trimSide(s, prefix string) string { return strings.TrimPrefix(s, prefix) }

// cutQuoted reads a C-quoted string at the start of s and returns it
// unquoted together with the remainder of s.
func cutQuoted(s string) (string, string, error) {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			v, err := strconv.Unquote(s[:i+1])
			if err != nil {
				return "", "", fmt.Errorf("bad quoted path %s: %w", truncate(s[:i+1], 40), err)
			}
			return v, s[i+1:], nil
		}
	}
	return "", "", fmt.Errorf("unterminated quoted path")
}

// unquotePath returns s, unquoted if it is a C-quoted string.
func unquotePath(s string) (string, error) {
	if !strings.HasPrefix(s, `"`) {
		if s == "" {
			return "", fmt.Errorf("empty path")
		}
		return s, nil
	}
	v, rest, err := cutQuoted(s)
	if err != nil {
		return "", err
	}
	if rest != "" {
		return "", fmt.Errorf("text after quoted path")
	}
	return v, nil
}

// headerPath extracts the path from the operand of a ---/+++ line, dropping
// a tab-separated timestamp.
func headerPath(field string) (string, error) {
	if strings.HasPrefix(field, `"`) {
		v, _, err := cutQuoted(field)
		return v, err
	}
	if i := strings.IndexByte(field, '\t'); i >= 0 {
		field = field[:i]
	}
	if field == "" {
		return "", fmt.Errorf("empty path")
	}
	return field, nil
}

// stripPrefixes removes the a/ and b/ prefixes git adds, but only when both
// sides carry them (or are /dev/null), so that plain paths stay intact.
func stripPrefixes(oldPath, newPath string) (string, string) {
	oldOK := len(oldPath) > 2 && strings.HasPrefix(oldPath, "a/") || oldPath == devNull
	newOK := len(newPath) > 2 && strings.HasPrefix(newPath, "b/") || newPath == devNull
	if !oldOK || !newOK || (oldPath == devNull && newPath == devNull) {
		return oldPath, newPath
	}
	if oldPath != devNull {
		oldPath = oldPath[2:]
	}
	if newPath != devNull {
		newPath = newPath[2:]
	}
	return oldPath, newPath
}
