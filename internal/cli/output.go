package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tricyclehq/tricycle/coordination/decision"
)

// Output formats.
const (
	formatTable = "table"
	formatJSON  = "json"
)

// printer writes a command's result either as a human-readable table or as
// the API's JSON.
type printer struct {
	w      io.Writer
	format string
}

// json prints raw (the API's answer) indented, followed by a newline.
func (p printer) json(raw json.RawMessage) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return fmt.Errorf("format JSON: %w", err)
	}
	buf.WriteByte('\n')
	_, err := p.w.Write(buf.Bytes())
	return err
}

// emit prints raw as JSON in json mode, otherwise decodes it into v and
// calls human.
func emit[T any](p printer, raw json.RawMessage, human func(v T) error) error {
	if p.format == formatJSON {
		return p.json(raw)
	}
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		return fmt.Errorf("decode the server's answer: %w", err)
	}
	return human(v)
}

// list is the API's list envelope: {"items": [...]}.
type list[T any] struct {
	Items []T `json:"items"`
}

// table writes aligned columns.
type table struct {
	tw *tabwriter.Writer
}

func newTable(w io.Writer, headers ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
	t.row(headers...)
	return t
}

func (t *table) row(cells ...string) {
	for i, c := range cells {
		cells[i] = strings.ReplaceAll(oneLine(c), "\t", " ")
	}
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

func (t *table) flush() error { return t.tw.Flush() }

// fields writes "key: value" lines with aligned values.
type fields struct {
	tw *tabwriter.Writer
}

func newFields(w io.Writer) *fields {
	return &fields{tw: tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)}
}

// add writes one line; empty values are skipped.
func (f *fields) add(key, value string) {
	if value == "" {
		return
	}
	fmt.Fprintf(f.tw, "%s:\t%s\n", key, oneLine(value))
}

func (f *fields) flush() error { return f.tw.Flush() }

// stamp formats a time for tables (UTC, minutes), or "-" when zero.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04")
}

// dash returns s, or "-" when s is empty.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// truncate shortens s to n runes with an ellipsis.
func truncate(s string, n int) string {
	r := []rune(oneLine(s))
	if len(r) <= n {
		return string(r)
	}
	return string(r[:n-1]) + "…"
}

// pct formats a fraction as a percentage.
func pct(f float64) string { return num(100*f) + "%" }

// days formats a duration in days when it is a whole number of them.
func days(d time.Duration) string {
	if d > 0 && d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	return d.String()
}

// num formats a float compactly.
func num(f float64) string { return strconv.FormatFloat(f, 'g', 4, 64) }

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// criteriaText formats success criteria as "metric expr, …" in metric order.
func criteriaText(m map[string]string) string {
	parts := make([]string, 0, len(m))
	for _, k := range sortedKeys(m) {
		parts = append(parts, k+" "+m[k])
	}
	return strings.Join(parts, ", ")
}

// metricsText formats metric values as "metric=value, …" in metric order.
func metricsText(m map[string]float64) string {
	parts := make([]string, 0, len(m))
	for _, k := range sortedKeys(m) {
		parts = append(parts, k+"="+num(m[k]))
	}
	return strings.Join(parts, ", ")
}

// printExplanation prints an evaluator's explanation: its summary, then one
// row per criterion and per comparison with production.
func (r *runner) printExplanation(x decision.Explanation) error {
	w := r.env.Stdout
	if x.Summary != "" {
		fmt.Fprintln(w, oneLine(x.Summary))
	}
	if len(x.Criteria) == 0 && len(x.NonInferiority) == 0 {
		return nil
	}
	t := newTable(w, "CRITERION", "OBSERVED", "STATUS", "DETAIL")
	for _, c := range x.Criteria {
		obs := "-"
		if c.Observed != nil {
			obs = num(*c.Observed)
		}
		t.row(c.Criterion, obs, string(c.Status), dash(c.Note))
	}
	for _, c := range x.NonInferiority {
		t.row("not worse than V2: "+c.Metric, num(c.Candidate)+" vs "+num(c.Baseline), string(c.Status), dash(c.Note))
	}
	return t.flush()
}
