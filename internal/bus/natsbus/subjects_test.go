package natsbus

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/tricyclehq/tricycle/coordination"
)

func TestFilterSubjects(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		types  []string
		multi  []string // on a server taking several filters
		single string   // on one taking one
	}{
		{"every type", nil, []string{"p.>"}, "p.>"},
		{"exact", []string{"promotion.approved"}, []string{"p.promotion.approved"}, "p.promotion.approved"},
		{"prefix", []string{"promotion.*"}, []string{"p.promotion.>"}, "p.promotion.>"},
		{"star alone", []string{"*"}, []string{"p.>"}, "p.>"},
		{"prefix inside a token", []string{"promo*"}, []string{"p.>"}, "p.>"},
		{"prefix inside a later token", []string{"promotion.pha*"}, []string{"p.promotion.>"}, "p.promotion.>"},
		{"covered filters dropped", []string{"promotion.phase.changed", "promotion.*", "promotion.approved"},
			[]string{"p.promotion.>"}, "p.promotion.>"},
		{"duplicates dropped", []string{"a.b", "a.b"}, []string{"p.a.b"}, "p.a.b"},
		{"two prefixes", []string{"quarantine.*", "promotion.*"}, []string{"p.promotion.>", "p.quarantine.>"}, "p.>"},
		{"siblings", []string{"a.b.c", "a.b.d"}, []string{"p.a.b.c", "p.a.b.d"}, "p.a.b.>"},
		{"a type and its child", []string{"a.b", "a.b.c"}, []string{"p.a.b", "p.a.b.c"}, "p.a.>"},
	} {
		got, err := filterSubjects("p", c.types, true)
		if err != nil || !slices.Equal(got, c.multi) {
			t.Errorf("%s: filterSubjects(%v, multi) = %v, %v; want %v", c.name, c.types, got, err, c.multi)
		}
		got, err = filterSubjects("p", c.types, false)
		if err != nil || len(got) != 1 || got[0] != c.single {
			t.Errorf("%s: filterSubjects(%v, single) = %v, %v; want [%s]", c.name, c.types, got, err, c.single)
		}
	}
	for _, bad := range [][]string{{"a b"}, {"a..b"}, {""}, {"a.>"}, {"a b.*"}, {"a**"}, {"a.*.b"}} {
		if _, err := filterSubjects("p", bad, true); !errors.Is(err, coordination.ErrInvalidInput) {
			t.Errorf("filterSubjects(%q) = %v, want ErrInvalidInput", bad, err)
		}
	}
}

func TestConsumerName(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"experiments":              "experiments",
		"experiments-routing/gw-1": "experiments-routing_2fgw-1",
		"a.b c":                    "a_2eb_20c",
		"under_score":              "under_5fscore",
	} {
		if got := consumerName(in); got != want {
			t.Errorf("consumerName(%q) = %q, want %q", in, got, want)
		}
	}
	long := strings.Repeat("x", 300)
	if got := consumerName(long); len(got) != maxConsumerName || consumerName(long+"y") == got {
		t.Errorf("consumerName of a long name = %q (%d bytes), want %d bytes and distinct from a longer name", got, len(got), maxConsumerName)
	}
}

func TestServerAtLeast(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]bool{"2.9.10": false, "2.10.0": true, "2.11.3": true, "3.0.0": true, "": false, "x.y": false} {
		if got := serverAtLeast(v, 2, 10); got != want {
			t.Errorf("serverAtLeast(%q, 2, 10) = %v, want %v", v, got, want)
		}
	}
}

// FuzzSubscribeOptions feeds arbitrary type filters and consumer names: the
// filter subjects are either refused or cover every type the filter accepts,
// and consumer names are valid and distinct for distinct inputs.
func FuzzSubscribeOptions(f *testing.F) {
	for _, s := range [][2]string{{"promotion.*", "promotion.approved"}, {"promo*", "promotion.x"}, {"a.b", "a.b"},
		{"*", "x"}, {"a b", "a b"}, {"ü.*", "ü.ö"}, {"gw/1", "gw_2f1"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, filter, typ string) {
		for _, multi := range []bool{true, false} {
			subjects, err := filterSubjects("p", []string{filter}, multi)
			if err != nil {
				continue
			}
			if validType(typ) && (coordination.SubscribeOptions{Types: []string{filter}}).Matches(typ) &&
				!slices.ContainsFunc(subjects, func(s string) bool { return s == "p."+typ || covers(s, "p."+typ) }) {
				t.Fatalf("filter %q accepts %q, but the server filters %v would not deliver it", filter, typ, subjects)
			}
		}
		a, b := consumerName(filter), consumerName(typ)
		for _, n := range []string{a, b} {
			if n == "" && (filter == "" || typ == "") {
				continue
			}
			if strings.ContainsAny(n, ". *>/\\\t\n") || len(n) > maxConsumerName {
				t.Fatalf("consumer name %q is not valid", n)
			}
		}
		if filter != typ && a == b {
			t.Fatalf("consumerName maps %q and %q to %q", filter, typ, a)
		}
	})
}
