package natsbus

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/tricyclehq/tricycle/coordination"
)

// validName reports whether s is usable as a stream name as it is.
func validName(s string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !nameByte(s[i]) {
			return false
		}
	}
	return true
}

func nameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

// maxConsumerName bounds escaped consumer names; longer ones end in a hash.
const maxConsumerName = 128

// consumerName maps a subscriber name to a JetStream consumer name, which
// may not hold '.', '*', '>', path separators or spaces. Letters, digits and
// '-' stay; every other byte, '_' included, becomes '_' and two hex digits,
// so distinct names stay distinct ("experiments-routing/gw-1" →
// "experiments-routing_2fgw-1"). A result longer than maxConsumerName keeps
// its start and ends in a hash of the whole name.
func consumerName(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		if nameByte(c) && c != '_' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "_%02x", c)
		}
	}
	out := b.String()
	if len(out) > maxConsumerName {
		sum := sha256.Sum256([]byte(name))
		out = out[:maxConsumerName-33] + "_" + hex.EncodeToString(sum[:16])
	}
	return out
}

// validType reports whether typ can be a subject's tail: dot-separated,
// non-empty tokens of printable characters other than space, '*' and '>'.
func validType(typ string) bool {
	if typ == "" {
		return false
	}
	for tok := range strings.SplitSeq(typ, ".") {
		if tok == "" {
			return false
		}
		for _, r := range tok {
			if r <= ' ' || r == 0x7f || r == '*' || r == '>' {
				return false
			}
		}
	}
	return true
}

// filterSubjects returns the filter subjects for a subscription to types
// (empty: every event). An exact type is its subject; a prefix filter
// ("promotion.*") is the subject of the prefix's complete tokens followed by
// ">" (a prefix that ends inside a token, like "promo*", is approximated by
// the tokens before it, and the client filters exactly). Subjects covered by
// another are dropped, since the server refuses overlapping filters. When
// the server takes one filter only (multi false), several become their
// common token prefix followed by ">".
func filterSubjects(prefix string, types []string, multi bool) ([]string, error) {
	all := prefix + ".>"
	if len(types) == 0 {
		return []string{all}, nil
	}
	var subjects []string
	for _, t := range types {
		p, isPrefix := strings.CutSuffix(t, "*")
		if !isPrefix {
			if !validType(t) {
				return nil, fmt.Errorf("%w: type filter %q: want an event type or a prefix ending in '*'",
					coordination.ErrInvalidInput, t)
			}
			subjects = append(subjects, prefix+"."+t)
			continue
		}
		whole := p[:strings.LastIndex(p, ".")+1] // the complete tokens, with their final dot
		if strings.ContainsAny(p, "*>") {
			return nil, fmt.Errorf("%w: type filter %q: want an event type or a prefix ending in '*'",
				coordination.ErrInvalidInput, t)
		}
		if whole == "" {
			subjects = append(subjects, all)
			continue
		}
		if !validType(strings.TrimSuffix(whole, ".")) {
			return nil, fmt.Errorf("%w: type filter %q: want an event type or a prefix ending in '*'",
				coordination.ErrInvalidInput, t)
		}
		subjects = append(subjects, prefix+"."+whole+">")
	}
	slices.Sort(subjects)
	subjects = slices.Compact(subjects)
	subjects = slices.DeleteFunc(subjects, func(s string) bool {
		for _, other := range subjects {
			if other != s && covers(other, s) {
				return true
			}
		}
		return false
	})
	if len(subjects) > 1 && !multi {
		return []string{commonFilter(subjects)}, nil
	}
	return subjects, nil
}

// covers reports whether filter wide (ending in ">") matches every subject
// filter narrow matches.
func covers(wide, narrow string) bool {
	stem, ok := strings.CutSuffix(wide, ">")
	return ok && strings.HasPrefix(narrow, stem) && len(narrow) > len(stem)
}

// commonFilter returns the longest token prefix shared by subjects that
// leaves each of them at least one token for ">" to match, followed by ">".
// Every subject starts with the bus's prefix and has a token after it, so
// the result never reaches outside the stream.
func commonFilter(subjects []string) string {
	common := strings.Split(subjects[0], ".")
	common = common[:len(common)-1]
	for _, s := range subjects[1:] {
		toks := strings.Split(s, ".")
		n := 0
		for n < len(common) && n < len(toks)-1 && common[n] == toks[n] {
			n++
		}
		common = common[:n]
	}
	return strings.Join(common, ".") + ".>"
}

// serverAtLeast reports whether version ("2.9.10") is at least major.minor.
func serverAtLeast(version string, major, minor int) bool {
	parts := strings.SplitN(version, ".", 3)
	if len(parts) < 2 {
		return false
	}
	maj, err1 := strconv.Atoi(parts[0])
	mnr, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return false
	}
	return maj > major || maj == major && mnr >= minor
}
