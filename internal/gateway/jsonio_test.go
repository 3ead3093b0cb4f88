package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"
)

// tokenDuplicates is the reference duplicate-key check the fuzz target
// compares checkDuplicates with: it a body that is not one object or repeats a key in
// any object (encoding/json would silently keep the last one). Objects that
// are the body or an array element decode into structs, whose fields
// encoding/json matches without regard to case, so their keys are compared
// case-folded; objects that are the value of a key decode into maps (files,
// metadata) and are compared exactly.
func tokenDuplicates(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	type frame struct {
		keys map[string]bool // nil for arrays
		key  bool            // object: the next token is a key
		fold bool            // object: compare keys case-folded
	}
	var stack []*frame
	// valueDone marks that the innermost object's next token is a key.
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].keys != nil {
			stack[n-1].key = true
		}
	}
	for i := 0; ; i++ {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return invalid("body", "malformed JSON: %v", err)
		}
		if i == 0 {
			if d, ok := tok.(json.Delim); !ok || d != '{' {
				return invalid("body", "must be a JSON object")
			}
		} else if len(stack) == 0 {
			return invalid("body", "unexpected data after the JSON object")
		}
		if n := len(stack); n > 0 && stack[n-1].keys != nil && stack[n-1].key {
			if tok == json.Delim('}') {
				stack = stack[:n-1]
				valueDone()
				continue
			}
			k, _ := tok.(string)
			if stack[n-1].fold {
				k = foldKey(k)
			}
			if stack[n-1].keys[k] {
				return invalid(k, "duplicate key")
			}
			stack[n-1].keys[k] = true
			stack[n-1].key = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			inKey := len(stack) > 0 && stack[len(stack)-1].keys != nil
			stack = append(stack, &frame{keys: map[string]bool{}, key: true, fold: !inKey})
		case json.Delim('['):
			stack = append(stack, &frame{})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
			valueDone()
		default:
			valueDone()
		}
		if len(stack) > 64 {
			return invalid("body", "nested deeper than 64 levels")
		}
	}
}

func FuzzCheckDuplicates(f *testing.F) {
	for _, s := range []string{`{"a":1,"A":2}`, `{"files":{"a":1,"A":2}}`, `{"x":[{"k":1,"K":2}]}`, `{"a\u0062":1,"ab":2}`,
		`{"a":{"b":{"c":[1,2,{"d":"\"}"}]}}}`, `{}`, `{"s":"\\","t":true,"n":null,"f":-1.5e3}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		trimmed := bytes.TrimSpace(data)
		if !json.Valid(trimmed) || len(trimmed) == 0 || trimmed[0] != '{' {
			return
		}
		got, want := checkDuplicates(trimmed), tokenDuplicates(trimmed)
		if (got == nil) != (want == nil) {
			t.Fatalf("checkDuplicates(%q) = %v, reference says %v", data, got, want)
		}
	})
}
