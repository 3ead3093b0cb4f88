package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tricyclehq/tricycle/coordination"
)

// DefaultMaxBodyBytes bounds a request body when Options leave it zero.
const DefaultMaxBodyBytes = 4 << 20

// Errors of the HTTP layer.
var (
	errTooLarge  = errors.New("request body too large")
	errMediaType = errors.New("unsupported media type")
)

// errorTable maps error kinds to HTTP statuses and codes; the first match
// wins, anything else is a 500 "internal" whose details are not sent.
var errorTable = []struct {
	err    error
	status int
	code   string
}{
	{coordination.ErrForbidden, http.StatusForbidden, "forbidden"},
	{errTooLarge, http.StatusRequestEntityTooLarge, "too_large"},
	{errMediaType, http.StatusUnsupportedMediaType, "unsupported_media_type"},
	{coordination.ErrInvalidInput, http.StatusBadRequest, "invalid_input"},
	{coordination.ErrNotFound, http.StatusNotFound, "not_found"},
	{coordination.ErrConflict, http.StatusConflict, "conflict"},
	{ErrUnavailable, http.StatusServiceUnavailable, "unavailable"},
	{ErrUpstreamTimeout, http.StatusGatewayTimeout, "upstream_timeout"},
	{ErrUpstream, http.StatusBadGateway, "upstream_error"},
	{context.Canceled, http.StatusServiceUnavailable, "unavailable"},
	{context.DeadlineExceeded, http.StatusServiceUnavailable, "unavailable"},
}

// statusOf returns the HTTP status and error code of err.
func statusOf(err error) (int, string) {
	for _, e := range errorTable {
		if errors.Is(err, e.err) {
			return e.status, e.code
		}
	}
	return http.StatusInternalServerError, "internal"
}

// ErrorBody is the body of every error answer of the reviews API.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is a machine-readable code and a message for people.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// publicMessage is what an error answer may say: the error itself for 4xx,
// a fixed sentence for 5xx (provider errors can carry URLs and bodies).
func publicMessage(status int, code string, err error) string {
	switch {
	case status < 500:
		return err.Error()
	case code == "upstream_error":
		return "the reviewer failed; retry later"
	case code == "upstream_timeout":
		return "the reviewer did not answer in time; retry later"
	case code == "unavailable":
		return "the review service is unavailable; retry later"
	}
	return "internal error"
}

// decodeBody reads r's body, at most limit bytes, strictly into dst: JSON
// content type, one object, no unknown field, no duplicate key, nothing
// after it. Errors wrap coordination.ErrInvalidInput, errTooLarge or
// errMediaType.
func decodeBody(w http.ResponseWriter, r *http.Request, dst any, limit int64) error {
	if err := checkContentType(r.Header.Get("Content-Type")); err != nil {
		return err
	}
	if r.ContentLength > limit {
		return fmt.Errorf("%w: %d bytes is more than the limit of %d", errTooLarge, r.ContentLength, limit)
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return fmt.Errorf("%w: more than the limit of %d bytes", errTooLarge, limit)
		}
		return invalid("body", "cannot read the request body: %v", err)
	}
	return decodeStrict(data, dst)
}

func checkContentType(ct string) error {
	if ct == "" {
		return fmt.Errorf("%w: a request body needs Content-Type: application/json", errMediaType)
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return fmt.Errorf("%w: %q (want application/json)", errMediaType, ct)
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return fmt.Errorf("%w: charset %q (want utf-8)", errMediaType, cs)
	}
	return nil
}

// decodeStrict decodes one JSON object from data into dst.
func decodeStrict(data []byte, dst any) error {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return invalid("body", "a JSON object is required")
	}
	if trimmed[0] != '{' {
		return invalid("body", "must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return invalid("body", "malformed JSON at byte %d", se.Offset)
		case errors.As(err, &te):
			field := te.Field
			if field == "" {
				field = "body"
			}
			return invalid(field, "wrong type (got JSON %s)", te.Value)
		}
		msg := strings.TrimPrefix(err.Error(), "json: ")
		if name, ok := strings.CutPrefix(msg, "unknown field "); ok {
			return invalid(strings.Trim(name, `"`), "unknown field")
		}
		return invalid("body", "%s", msg)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return invalid("body", "unexpected data after the JSON object")
	}
	return checkDuplicates(trimmed)
}

// maxDepth bounds the nesting of a request body.
const maxDepth = 64

// checkDuplicates refuses a body that repeats a key in any object
// (encoding/json would silently keep the last one) or nests deeper than
// maxDepth. data must be valid JSON (decodeStrict decodes it first). Objects
// that are the body or an array element decode into structs, whose fields
// encoding/json matches without regard to case, so their keys are compared
// case-folded; objects that are the value of a key decode into maps (files,
// metadata) and are compared exactly. It reads the bytes once and copies
// only keys.
func checkDuplicates(data []byte) error {
	s := dupScanner{data: data}
	s.ws()
	return s.value(true, 0)
}

// dupScanner walks valid JSON.
type dupScanner struct {
	data []byte
	i    int
}

var errTruncated = invalid("body", "malformed JSON")

func (s *dupScanner) ws() {
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ' ', '\t', '\r', '\n':
			s.i++
		default:
			return
		}
	}
}

// next returns the byte at the cursor, or 0 at the end.
func (s *dupScanner) next() byte {
	if s.i < len(s.data) {
		return s.data[s.i]
	}
	return 0
}

// value skips one value; fold says how an object there compares its keys.
func (s *dupScanner) value(fold bool, depth int) error {
	switch s.next() {
	case '{':
		return s.object(fold, depth+1)
	case '[':
		return s.array(depth + 1)
	case '"':
		_, err := s.str()
		return err
	case 0:
		return errTruncated
	}
	for s.i < len(s.data) && !strings.ContainsRune(",]} \t\r\n", rune(s.data[s.i])) {
		s.i++ // a number or a literal
	}
	return nil
}

// str skips a string and returns its raw bytes, quotes included.
func (s *dupScanner) str() ([]byte, error) {
	start := s.i
	s.i++
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case '\\':
			s.i += 2
		case '"':
			s.i++
			return s.data[start:s.i], nil
		default:
			s.i++
		}
	}
	return nil, errTruncated
}

func (s *dupScanner) object(fold bool, depth int) error {
	if depth > maxDepth {
		return invalid("body", "nested deeper than %d levels", maxDepth)
	}
	s.i++ // {
	s.ws()
	if s.next() == '}' {
		s.i++
		return nil
	}
	keys := map[string]bool{}
	for {
		s.ws()
		if s.next() != '"' {
			return errTruncated
		}
		raw, err := s.str()
		if err != nil {
			return err
		}
		key := string(raw[1 : len(raw)-1])
		if bytes.IndexByte(raw, '\\') >= 0 {
			if err := json.Unmarshal(raw, &key); err != nil {
				return errTruncated
			}
		}
		k := key
		if fold {
			k = foldKey(key)
		}
		if keys[k] {
			return invalid(key, "duplicate key")
		}
		keys[k] = true
		s.ws()
		if s.next() != ':' {
			return errTruncated
		}
		s.i++
		s.ws()
		if err := s.value(false, depth); err != nil {
			return err
		}
		s.ws()
		switch s.next() {
		case ',':
			s.i++
		case '}':
			s.i++
			return nil
		default:
			return errTruncated
		}
	}
}

func (s *dupScanner) array(depth int) error {
	if depth > maxDepth {
		return invalid("body", "nested deeper than %d levels", maxDepth)
	}
	s.i++ // [
	s.ws()
	if s.next() == ']' {
		s.i++
		return nil
	}
	for {
		s.ws()
		if err := s.value(true, depth); err != nil {
			return err
		}
		s.ws()
		switch s.next() {
		case ',':
			s.i++
		case ']':
			s.i++
			return nil
		default:
			return errTruncated
		}
	}
}

// foldKey maps every rune of k to the smallest rune it case-folds to, so
// that keys encoding/json would match to one field fold to one string.
func foldKey(k string) string {
	ascii := true
	for i := 0; i < len(k); i++ {
		if k[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToUpper(k) // an ASCII letter's smallest fold is its upper case
	}
	var b strings.Builder
	for _, r := range k {
		low := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			low = min(low, f)
		}
		b.WriteRune(low)
	}
	return b.String()
}

// invalid returns an ErrInvalidInput error naming the field.
func invalid(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", coordination.ErrInvalidInput, field, fmt.Sprintf(format, args...))
}
