package config

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxFileSize bounds a configuration file.
const MaxFileSize = 4 << 20

// Load reads the YAML file at path on top of Default. It refuses unknown
// keys, duplicate keys and values of the wrong type, naming the key and its
// line. It does not call Validate.
func Load(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("load config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return Config{}, fmt.Errorf("load config %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return Config{}, fmt.Errorf("load config %s: larger than %d bytes", path, MaxFileSize)
	}
	cfg, err := Parse(data)
	if err != nil {
		return Config{}, fmt.Errorf("load config %s: %w", path, err)
	}
	if err := loadPromptFiles(&cfg, filepath.Dir(path)); err != nil {
		return Config{}, fmt.Errorf("load config %s: %w", path, err)
	}
	return cfg, nil
}

// MaxPromptFileSize bounds a prompt template file.
const MaxPromptFileSize = 64 << 10

// promptFileExts are the extensions that make a variant's prompt a path to a
// template file (PRODUCT.md's `prompt: prompts/review.tmpl`) rather than the
// template text itself.
var promptFileExts = []string{".tmpl", ".tpl", ".txt", ".md", ".prompt"}

// loadPromptFiles replaces each variant prompt that names a template file
// (one line, ending in a template extension) with the file's content,
// relative to the configuration file's folder. A missing or oversized file is
// an error naming the variant.
func loadPromptFiles(cfg *Config, dir string) error {
	for i := range cfg.Variants {
		v := &cfg.Variants[i]
		p := strings.TrimSpace(v.Prompt)
		if p == "" || strings.ContainsAny(p, "\n{") || !slices.Contains(promptFileExts, strings.ToLower(filepath.Ext(p))) {
			continue
		}
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		field := fmt.Sprintf("variants[%d].prompt", i)
		info, err := os.Stat(p)
		if err != nil {
			return &FieldError{Field: field, Msg: fmt.Sprintf("template file: %v", err)}
		}
		if info.Size() > MaxPromptFileSize {
			return &FieldError{Field: field, Msg: fmt.Sprintf("template file %s is larger than %d bytes", p, MaxPromptFileSize)}
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return &FieldError{Field: field, Msg: fmt.Sprintf("template file: %v", err)}
		}
		v.Prompt = string(b)
	}
	return nil
}

// Parse reads a YAML document on top of Default, with Load's strictness. An
// empty document yields Default.
func Parse(data []byte) (Config, error) {
	cfg := Default()
	if err := decodeInto(data, &cfg); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// decodeInto decodes one strict YAML document into out (a pointer), on top
// of its current value.
func decodeInto(data []byte, out any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // empty document
		}
		return fmt.Errorf("parse YAML: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return fmt.Errorf("parse YAML: %w", err)
		}
		return fmt.Errorf("line %d: more than one YAML document", extra.Line)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return nil
		}
		root = root.Content[0]
	}
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil
	}
	w := &walker{lines: map[int]string{}, seen: map[walkKey]bool{}}
	if err := w.check(root, reflect.TypeOf(out).Elem(), ""); err != nil {
		return err
	}
	if err := root.Decode(out); err != nil {
		return w.explain(err)
	}
	return nil
}

// walker checks a YAML tree against a Go type before it is decoded: unknown
// keys, duplicate keys, merge keys, malformed text values.
type walker struct {
	lines map[int]string   // line → path of the value on it, to explain decode errors
	seen  map[walkKey]bool // alias targets already checked against a type
	depth int
}

type walkKey struct {
	n *yaml.Node
	t reflect.Type
}

var textUnmarshaler = reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem()

const maxDepth = 64

func (w *walker) check(n *yaml.Node, t reflect.Type, path string) error {
	if n.Kind == yaml.AliasNode {
		k := walkKey{n.Alias, t}
		if n.Alias == nil || w.seen[k] {
			return nil
		}
		w.seen[k] = true
		n = n.Alias
	}
	w.depth++
	defer func() { w.depth-- }()
	if w.depth > maxDepth {
		return lineErr(n.Line, path, "nested more than %d levels deep", maxDepth)
	}
	if path != "" {
		w.lines[n.Line] = path
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if reflect.PointerTo(t).Implements(textUnmarshaler) {
		if n.Kind != yaml.ScalarNode {
			return lineErr(n.Line, path, "want a single value, not a %s", kindName(n.Kind))
		}
		v := reflect.New(t).Interface().(encoding.TextUnmarshaler)
		if err := v.UnmarshalText([]byte(n.Value)); err != nil {
			return lineErr(n.Line, path, "%v", err)
		}
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return lineErr(n.Line, path, "want a mapping, not a %s", kindName(n.Kind))
		}
		fields := yamlFields(t)
		return w.mapping(n, path, func(key string) (reflect.Type, bool) {
			f, ok := fields[key]
			return f, ok
		}, func() []string { return sortedKeys(fields) })
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return lineErr(n.Line, path, "want a mapping, not a %s", kindName(n.Kind))
		}
		elem := t.Elem()
		return w.mapping(n, path, func(string) (reflect.Type, bool) { return elem, true }, nil)
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			return lineErr(n.Line, path, "want a list, not a %s", kindName(n.Kind))
		}
		for i, item := range n.Content {
			if err := w.check(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		return nil
	case reflect.Interface:
		return w.anyValue(n, path)
	default:
		if n.Kind != yaml.ScalarNode {
			return lineErr(n.Line, path, "want a single value, not a %s", kindName(n.Kind))
		}
		return nil
	}
}

// mapping checks the keys of a mapping node: each a plain scalar, once, and
// known when known is not nil.
func (w *walker) mapping(n *yaml.Node, path string, typeOf func(string) (reflect.Type, bool), known func() []string) error {
	first := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		if kn.Kind == yaml.AliasNode && kn.Alias != nil {
			kn = kn.Alias
		}
		if kn.Kind != yaml.ScalarNode {
			return lineErr(kn.Line, path, "a key must be a plain value, not a %s", kindName(kn.Kind))
		}
		key := kn.Value
		kp := joinPath(path, key)
		if kn.Tag == "!!merge" || key == "<<" {
			return lineErr(kn.Line, kp, "merge keys are not supported")
		}
		if line, dup := first[key]; dup {
			return lineErr(kn.Line, kp, "duplicate key (first at line %d)", line)
		}
		first[key] = kn.Line
		t, ok := typeOf(key)
		if !ok {
			return lineErr(kn.Line, kp, "unknown key (known keys here: %s)", strings.Join(known(), ", "))
		}
		if err := w.check(vn, t, kp); err != nil {
			return err
		}
	}
	return nil
}

// anyValue checks a free-form value (variant parameters) for duplicate keys.
func (w *walker) anyValue(n *yaml.Node, path string) error {
	switch n.Kind {
	case yaml.MappingNode:
		return w.mapping(n, path, func(string) (reflect.Type, bool) { return anyType, true }, nil)
	case yaml.SequenceNode:
		for i, item := range n.Content {
			if err := w.check(item, anyType, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

var anyType = reflect.TypeOf((*any)(nil)).Elem()

// yamlFields maps a struct's YAML keys to their types.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		return "single value"
	case yaml.AliasNode:
		return "alias"
	default:
		return "document"
	}
}

// LineError is a configuration error at a line of a file, about one key.
type LineError struct {
	// Line is the 1-based line of the key or value.
	Line int
	// Field is the dotted path of the key.
	Field string
	// Msg says what is wrong.
	Msg string
}

// Error returns "line N: field: message".
func (e *LineError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return fmt.Sprintf("line %d: %s: %s", e.Line, e.Field, e.Msg)
}

func lineErr(line int, field, format string, args ...any) error {
	return &LineError{Line: line, Field: field, Msg: fmt.Sprintf(format, args...)}
}

var yamlLineRE = regexp.MustCompile(`^line (\d+): (.*)$`)

// explain rewrites a decode error so each of its lines names the key.
func (w *walker) explain(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return fmt.Errorf("decode YAML: %w", err)
	}
	msgs := make([]string, 0, len(te.Errors))
	var first *LineError
	for _, e := range te.Errors {
		m := yamlLineRE.FindStringSubmatch(e)
		if m == nil {
			msgs = append(msgs, e)
			continue
		}
		line, _ := strconv.Atoi(m[1])
		le := &LineError{Line: line, Field: w.lines[line], Msg: m[2]}
		if first == nil {
			first = le
		}
		msgs = append(msgs, le.Error())
	}
	if len(msgs) == 1 && first != nil {
		return first
	}
	return errors.New(strings.Join(msgs, "; "))
}
