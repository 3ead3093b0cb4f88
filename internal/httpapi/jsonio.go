package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// DefaultMaxBodyBytes bounds a JSON request body when Options leave it zero.
const DefaultMaxBodyBytes = 1 << 20

// maxJSONDepth bounds the nesting of a request body.
const maxJSONDepth = 64

// WriteJSON writes v as a JSON response with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	// Not HTML-escaped: the answer is JSON (nosniff), and criteria such as
	// "> 90%" read as written.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	var body []byte
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"error":{"code":"internal","message":"internal error"}}` + "\n")
	} else {
		body = buf.Bytes()
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// DecodeJSON reads r's body, at most maxBytes, strictly into dst: the body
// must be application/json, one JSON object, with no unknown field, no
// duplicate key and nothing after it. An absent or empty body is an error
// unless optional, in which case dst is left alone. Errors wrap
// ErrInvalidInput (naming the field), ErrTooLarge or ErrUnsupportedMediaType.
func DecodeJSON(w http.ResponseWriter, r *http.Request, dst any, maxBytes int64, optional bool) error {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBodyBytes
	}
	if r.ContentLength > maxBytes {
		return fmt.Errorf("%w: %d bytes is more than the limit of %d", ErrTooLarge, r.ContentLength, maxBytes)
	}
	hasBody := r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
	if hasBody {
		if err := checkContentType(r.Header.Get("Content-Type")); err != nil {
			return err
		}
	}
	var data []byte
	if hasBody {
		var err error
		data, err = io.ReadAll(http.MaxBytesReader(w, r.Body, maxBytes))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return fmt.Errorf("%w: more than the limit of %d bytes", ErrTooLarge, maxBytes)
			}
			return invalid("body", "cannot read the request body: %v", err)
		}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		if optional {
			return nil
		}
		return invalid("body", "a JSON object is required")
	}
	return decodeStrict(data, dst)
}

func checkContentType(ct string) error {
	if ct == "" {
		return fmt.Errorf("%w: a request body needs Content-Type: application/json", ErrUnsupportedMediaType)
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return fmt.Errorf("%w: %q (want application/json)", ErrUnsupportedMediaType, ct)
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return fmt.Errorf("%w: charset %q (want utf-8)", ErrUnsupportedMediaType, cs)
	}
	return nil
}

// decodeStrict decodes one JSON object from data into dst.
func decodeStrict(data []byte, dst any) error {
	if err := checkJSON(data); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return invalid("body", "unexpected data after the JSON object")
	}
	return nil
}

// decodeError turns an encoding/json error into an ErrInvalidInput error
// naming the field.
func decodeError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return invalid("body", "malformed JSON at byte %d: %v", se.Offset, se)
	case errors.As(err, &te) && error(te) == err:
		field := te.Field
		if field == "" {
			field = "body"
		}
		return invalid(field, "want %s, got JSON %s", jsonKind(te.Type.Kind().String()), te.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return invalid("body", "malformed JSON: unexpected end of input")
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		f, _ := strconv.Unquote(name)
		if f == "" {
			f = name
		}
		return invalid(f, "unknown field")
	}
	// Errors from a field's own decoder (a duration, a role).
	return invalid("body", "%s", strings.TrimPrefix(msg, "json: "))
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "map", "struct":
		return "an object"
	case "slice", "array":
		return "an array"
	case "float32", "float64":
		return "a number"
	default:
		if strings.HasPrefix(goKind, "int") || strings.HasPrefix(goKind, "uint") {
			return "an integer"
		}
		return goKind
	}
}

// checkJSON walks data's tokens and refuses a body that is not one object,
// nests too deeply, or repeats a key in any object, naming the key's path.
// encoding/json would silently keep the last of duplicate keys.
func checkJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	type frame struct {
		object bool
		keys   map[string]bool
		path   string
		key    string // object: the key whose value comes next
		index  int    // array: the next element's index
		want   bool   // object: the next token is a key
	}
	var stack []*frame
	first := true
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return decodeError(err)
		}
		if first {
			if d, ok := tok.(json.Delim); !ok || d != '{' {
				return invalid("body", "must be a JSON object")
			}
			first = false
		} else if len(stack) == 0 {
			return invalid("body", "unexpected data after the JSON object")
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.want {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				continue
			}
			k, _ := tok.(string)
			if top.keys[k] {
				return invalid(joinField(top.path, k), "duplicate key")
			}
			top.keys[k] = true
			top.key, top.want = k, false
			continue
		}
		// tok is a value (or an array's closing bracket).
		path := ""
		if top != nil {
			if top.object {
				path = joinField(top.path, top.key)
				top.want = true
			} else {
				if d, ok := tok.(json.Delim); ok && d == ']' {
					stack = stack[:len(stack)-1]
					continue
				}
				path = fmt.Sprintf("%s[%d]", top.path, top.index)
				top.index++
			}
		}
		if d, ok := tok.(json.Delim); ok {
			if len(stack) >= maxJSONDepth {
				return invalid(path, "nested more than %d levels deep", maxJSONDepth)
			}
			stack = append(stack, &frame{object: d == '{', keys: map[string]bool{}, path: path, want: d == '{'})
		}
	}
}

func joinField(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
