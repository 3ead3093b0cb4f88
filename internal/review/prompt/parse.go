package prompt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/tricyclehq/tricycle/internal/review"
)

// ErrUnparsable means a model's answer is not the JSON object the prompt
// asked for, or one of its findings is invalid. Every error ParseFindings
// returns wraps it.
var ErrUnparsable = errors.New("unparsable model output")

// Limits on a model's answer; larger answers are refused.
const (
	// MaxOutputBytes bounds the whole answer.
	MaxOutputBytes = 1 << 20
	// MaxFindings bounds the number of findings in one answer.
	MaxFindings = 500
	// MaxFieldBytes bounds summary, message and suggestion.
	MaxFieldBytes = 16 << 10
	// MaxShortFieldBytes bounds file, category and rule.
	MaxShortFieldBytes = 1024
	// MaxLine bounds a finding's line number.
	MaxLine = 10_000_000
)

// Keys of the answer object and of each finding; any other key is refused.
var (
	answerKeys  = map[string]bool{"summary": true, "findings": true}
	findingKeys = map[string]bool{
		"file": true, "line": true, "severity": true, "category": true,
		"rule": true, "message": true, "suggestion": true,
	}
)

// ParseFindings parses a model's answer: one JSON object with a "findings"
// array and an optional "summary" string, optionally wrapped in a single
// Markdown code fence (```json ... ```). Keys must be spelled exactly as in
// Schema; unknown keys, trailing data and oversized answers are refused.
// Each finding needs a non-empty file, a line from 1 to MaxLine, a severity
// from review.Severities (matched without regard to case and stored in lower
// case) and a non-empty category; rule, message and suggestion are optional.
// Every error wraps ErrUnparsable.
func ParseFindings(output string) (findings []review.Finding, summary string, err error) {
	if len(output) > MaxOutputBytes {
		return nil, "", fmt.Errorf("%w: answer of %d bytes exceeds %d", ErrUnparsable, len(output), MaxOutputBytes)
	}
	if !utf8.ValidString(output) {
		return nil, "", fmt.Errorf("%w: answer is not valid UTF-8", ErrUnparsable)
	}
	body := unfence(strings.TrimSpace(output))
	if body == "" {
		return nil, "", fmt.Errorf("%w: empty answer", ErrUnparsable)
	}
	var top map[string]json.RawMessage
	if err := decodeStrict(body, &top); err != nil {
		return nil, "", fmt.Errorf("%w: %w", ErrUnparsable, err)
	}
	if top == nil {
		return nil, "", fmt.Errorf("%w: answer is null, want an object", ErrUnparsable)
	}
	if err := checkKeys(top, answerKeys); err != nil {
		return nil, "", fmt.Errorf("%w: answer: %w", ErrUnparsable, err)
	}
	if raw, ok := top["summary"]; ok {
		if err := decodeString(raw, MaxFieldBytes, &summary); err != nil {
			return nil, "", fmt.Errorf("%w: summary: %w", ErrUnparsable, err)
		}
	}
	raw, ok := top["findings"]
	if !ok {
		return nil, "", fmt.Errorf("%w: answer has no \"findings\"", ErrUnparsable)
	}
	var items []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, "", fmt.Errorf("%w: findings: %w", ErrUnparsable, err)
	}
	if items == nil {
		return nil, "", fmt.Errorf("%w: findings is null, want an array", ErrUnparsable)
	}
	if len(items) > MaxFindings {
		return nil, "", fmt.Errorf("%w: %d findings exceed %d", ErrUnparsable, len(items), MaxFindings)
	}
	findings = make([]review.Finding, 0, len(items))
	for i, item := range items {
		f, err := parseFinding(item)
		if err != nil {
			return nil, "", fmt.Errorf("%w: finding %d: %w", ErrUnparsable, i, err)
		}
		findings = append(findings, f)
	}
	return findings, summary, nil
}

// unfence removes one surrounding Markdown code fence (``` or ```json).
func unfence(s string) string {
	if !strings.HasPrefix(s, "```") || !strings.HasSuffix(s, "```") || len(s) < 6 {
		return s
	}
	first, rest, ok := strings.Cut(s, "\n")
	if !ok {
		return s
	}
	lang := strings.TrimSpace(strings.TrimPrefix(first, "```"))
	if lang != "" && !strings.EqualFold(lang, "json") {
		return s
	}
	return strings.TrimSpace(strings.TrimSuffix(rest, "```"))
}

// decodeStrict decodes exactly one JSON value from s into v, refusing
// trailing data.
func decodeStrict(s string, v any) error {
	dec := json.NewDecoder(strings.NewReader(s))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

// checkKeys refuses keys not in allowed.
func checkKeys(obj map[string]json.RawMessage, allowed map[string]bool) error {
	for k := range obj {
		if !allowed[k] {
			return fmt.Errorf("unknown key %q", k)
		}
	}
	return nil
}

// decodeString decodes a JSON string (or null, meaning "") of at most max bytes.
func decodeString(raw json.RawMessage, max int, out *string) error {
	if bytes.Equal(raw, []byte("null")) {
		*out = ""
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("want a string: %w", err)
	}
	if len(*out) > max {
		return fmt.Errorf("%d bytes exceed %d", len(*out), max)
	}
	return nil
}

// parseFinding validates one finding object.
func parseFinding(item map[string]json.RawMessage) (review.Finding, error) {
	if item == nil {
		return review.Finding{}, errors.New("null, want an object")
	}
	if err := checkKeys(item, findingKeys); err != nil {
		return review.Finding{}, err
	}
	var f review.Finding
	var sev string
	strs := []struct {
		key string
		max int
		out *string
	}{
		{"file", MaxShortFieldBytes, &f.File},
		{"severity", MaxShortFieldBytes, &sev},
		{"category", MaxShortFieldBytes, &f.Category},
		{"rule", MaxShortFieldBytes, &f.Rule},
		{"message", MaxFieldBytes, &f.Message},
		{"suggestion", MaxFieldBytes, &f.Suggestion},
	}
	for _, s := range strs {
		if raw, ok := item[s.key]; ok {
			if err := decodeString(raw, s.max, s.out); err != nil {
				return review.Finding{}, fmt.Errorf("%s: %w", s.key, err)
			}
		}
	}
	if raw, ok := item["line"]; ok {
		if err := json.Unmarshal(raw, &f.Line); err != nil {
			return review.Finding{}, fmt.Errorf("line: want an integer: %w", err)
		}
	}
	if strings.TrimSpace(f.File) == "" {
		return review.Finding{}, errors.New("file is empty")
	}
	if strings.ContainsAny(f.File, "\x00\r\n") {
		return review.Finding{}, fmt.Errorf("file %q contains a control character", f.File)
	}
	if f.Line < 1 || f.Line > MaxLine {
		return review.Finding{}, fmt.Errorf("line %d outside 1..%d", f.Line, MaxLine)
	}
	f.Severity = review.Severity(strings.ToLower(sev))
	if !f.Severity.Valid() {
		return review.Finding{}, fmt.Errorf("severity %q is not one of %v", sev, review.Severities)
	}
	if strings.TrimSpace(f.Category) == "" {
		return review.Finding{}, errors.New("category is empty")
	}
	return f, nil
}
