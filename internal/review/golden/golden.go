// Package golden loads the labelled golden set of code review cases and
// scores a reviewer against it.
//
// A case is one JSON file (see testdata/golden/README.md): a unified diff and
// the findings a good reviewer should report on it, each identified by file,
// new-file line and category. Cases with no expected findings are clean
// negatives. Loading is strict: unknown fields, an id that does not match the
// file's path, an expected finding on a line the diff does not add, or an
// unknown category, language or tag is an error naming the file.
//
// Score runs a reviewer over the cases and counts a reported finding as a
// true positive when an expected finding has the same file, line and
// category (the rule id is informative only). From the counts it derives
// precision, recall and F1; F1 is what the product calls accuracy.
package golden

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/tricyclehq/tricycle/internal/review/diff"
)

// Categories are the finding categories a case may expect.
var Categories = []string{"security", "correctness", "performance", "maintainability"}

// Languages are the languages a case may declare.
var Languages = []string{diff.LangGo, diff.LangPython, diff.LangJavaScript, diff.LangTypeScript, diff.LangJava}

// Tags a case may carry.
const (
	// TagClean marks a negative case: it must have no expected findings.
	TagClean = "clean"
	// TagHard marks a case that needs more than pattern matching: data flow
	// across lines, intent, or knowledge of an API's quirks.
	TagHard = "hard"
	// TagPromptInjection marks a case whose code carries comments that try
	// to instruct the reviewer.
	TagPromptInjection = "prompt-injection"
)

var knownTags = []string{TagClean, TagHard, TagPromptInjection}

// maxCaseBytes bounds one case file.
const maxCaseBytes = 1 << 20

// Expected is one finding a case expects.
type Expected struct {
	// File is the new path of the file in the diff.
	File string `json:"file"`
	// Line is the 1-based new-file number of an added line.
	Line int `json:"line"`
	// Category is one of Categories.
	Category string `json:"category"`
	// Rule optionally names the builtin rule id that describes the issue;
	// matching ignores it.
	Rule string `json:"rule,omitempty"`
}

// Case is one labelled diff.
type Case struct {
	// ID is the case file's path relative to the set's root, without
	// ".json", e.g. "go/sql-concat-01".
	ID          string   `json:"id"`
	Language    string   `json:"language"`
	Description string   `json:"description"`
	Tags        []string `json:"tags,omitempty"`
	Diff        string   `json:"diff"`
	// Expected is empty for a clean case, never nil after loading.
	Expected []Expected `json:"expected"`
}

// HasTag reports whether c carries tag.
func (c Case) HasTag(tag string) bool { return slices.Contains(c.Tags, tag) }

// Load reads every *.json file under dir (recursively) as a case, in path
// order.
func Load(dir string) ([]Case, error) {
	cases, err := LoadFS(os.DirFS(dir))
	if err != nil {
		return nil, fmt.Errorf("load golden set %s: %w", dir, err)
	}
	return cases, nil
}

// LoadFS reads every *.json file in fsys (recursively) as a case, in path
// order. It fails on the first invalid case and when there is none.
func LoadFS(fsys fs.FS) ([]Case, error) {
	var paths []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".json") {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list cases: %w", err)
	}
	if len(paths) == 0 {
		return nil, errors.New("no case files (*.json)")
	}
	slices.Sort(paths)
	cases := make([]Case, 0, len(paths))
	for _, p := range paths {
		data, err := readLimited(fsys, p)
		if err != nil {
			return nil, err
		}
		c, err := ParseCase(strings.TrimSuffix(p, ".json"), data)
		if err != nil {
			return nil, fmt.Errorf("case file %s: %w", p, err)
		}
		cases = append(cases, c)
	}
	return cases, nil
}

func readLimited(fsys fs.FS, p string) ([]byte, error) {
	f, err := fsys.Open(p)
	if err != nil {
		return nil, fmt.Errorf("case file %s: %w", p, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxCaseBytes+1))
	if err != nil {
		return nil, fmt.Errorf("case file %s: read: %w", p, err)
	}
	if len(data) > maxCaseBytes {
		return nil, fmt.Errorf("case file %s: larger than %d bytes", p, maxCaseBytes)
	}
	return data, nil
}

// ParseCase decodes and validates one case. wantID is the id the file's
// location implies; "" accepts any well-formed id.
func ParseCase(wantID string, data []byte) (Case, error) {
	var c Case
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Case{}, fmt.Errorf("decode: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Case{}, errors.New("decode: trailing data after the case object")
	}
	if c.Expected == nil {
		c.Expected = []Expected{}
	}
	if err := c.validate(wantID); err != nil {
		return Case{}, err
	}
	return c, nil
}

// validate checks c's fields and that every expected finding points at an
// added line of its diff.
func (c *Case) validate(wantID string) error {
	switch {
	case c.ID == "":
		return errors.New("missing id")
	case wantID != "" && c.ID != wantID:
		return fmt.Errorf("id %q does not match the file's path %q", c.ID, wantID)
	case !slices.Contains(Languages, c.Language):
		return fmt.Errorf("unknown language %q (want one of %s)", c.Language, strings.Join(Languages, ", "))
	case strings.TrimSpace(c.Description) == "":
		return errors.New("missing description")
	case strings.TrimSpace(c.Diff) == "":
		return errors.New("missing diff")
	}
	for _, t := range c.Tags {
		if !slices.Contains(knownTags, t) {
			return fmt.Errorf("unknown tag %q (want one of %s)", t, strings.Join(knownTags, ", "))
		}
	}
	if c.HasTag(TagClean) != (len(c.Expected) == 0) {
		return fmt.Errorf("tag %q must be present exactly when expected is empty", TagClean)
	}
	files, err := diff.Parse(c.Diff)
	if err != nil {
		return fmt.Errorf("diff: %w", err)
	}
	if len(files) == 0 {
		return errors.New("diff has no files")
	}
	added := map[string]map[int]bool{}
	for _, f := range files {
		m := map[int]bool{}
		for _, l := range f.Added() {
			m[l.NewNo] = true
		}
		added[f.NewPath] = m
	}
	seen := map[Expected]bool{}
	for i, e := range c.Expected {
		lines, ok := added[e.File]
		switch {
		case !ok:
			return fmt.Errorf("expected[%d]: file %q is not in the diff", i, e.File)
		case !lines[e.Line]:
			return fmt.Errorf("expected[%d]: line %d of %s is not an added line", i, e.Line, e.File)
		case !slices.Contains(Categories, e.Category):
			return fmt.Errorf("expected[%d]: unknown category %q (want one of %s)", i, e.Category, strings.Join(Categories, ", "))
		}
		key := Expected{File: e.File, Line: e.Line, Category: e.Category}
		if seen[key] {
			return fmt.Errorf("expected[%d]: duplicate %s:%d %s", i, e.File, e.Line, e.Category)
		}
		seen[key] = true
	}
	return nil
}
