package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/tricyclehq/tricycle/coordination"
)

// Errors of the HTTP layer itself. Each maps to a status in errorTable.
var (
	// ErrUnauthenticated means the request carries no valid bearer token.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrTooLarge means the request body exceeds the configured limit.
	ErrTooLarge = errors.New("request body too large")
	// ErrUnsupportedMediaType means a request body is not application/json.
	ErrUnsupportedMediaType = errors.New("unsupported media type")
	// ErrMethodNotAllowed means the path exists but not with this method.
	ErrMethodNotAllowed = errors.New("method not allowed")
	// ErrRouteNotFound means no route has this path.
	ErrRouteNotFound = errors.New("no such route")
	// ErrUnavailable means the server is shutting down or overloaded.
	ErrUnavailable = errors.New("unavailable")
)

// errorTable is the one mapping from error kinds to HTTP statuses and error
// codes. The first entry whose error matches (errors.Is) wins; anything else
// is a 500 "internal" whose details are logged, never sent.
var errorTable = []struct {
	err    error
	status int
	code   string
}{
	{ErrUnauthenticated, http.StatusUnauthorized, "unauthenticated"},
	{coordination.ErrForbidden, http.StatusForbidden, "forbidden"},
	{ErrTooLarge, http.StatusRequestEntityTooLarge, "too_large"},
	{ErrUnsupportedMediaType, http.StatusUnsupportedMediaType, "unsupported_media_type"},
	{ErrMethodNotAllowed, http.StatusMethodNotAllowed, "method_not_allowed"},
	{ErrRouteNotFound, http.StatusNotFound, "not_found"},
	{ErrUnavailable, http.StatusServiceUnavailable, "unavailable"},
	{coordination.ErrInvalidInput, http.StatusBadRequest, "invalid_input"},
	{coordination.ErrNotFound, http.StatusNotFound, "not_found"},
	{coordination.ErrInvalidTransition, http.StatusConflict, "invalid_transition"},
	{coordination.ErrBlacklisted, http.StatusConflict, "blacklisted"},
	{coordination.ErrConflict, http.StatusConflict, "conflict"},
}

// ErrorBody is the body of every error response: {"error": {"code", "message"}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is a machine-readable code and a message for people.
type ErrorDetail struct {
	// Code is one of invalid_input, not_found, invalid_transition, conflict,
	// blacklisted, forbidden, unauthenticated, too_large,
	// unsupported_media_type, method_not_allowed, unavailable, internal.
	Code    string `json:"code"`
	Message string `json:"message"`
}

// StatusOf returns the HTTP status and error code for err.
func StatusOf(err error) (int, string) {
	for _, e := range errorTable {
		if errors.Is(err, e.err) {
			return e.status, e.code
		}
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return http.StatusServiceUnavailable, "unavailable"
	}
	return http.StatusInternalServerError, "internal"
}

// WriteError writes err as a JSON error response with the status of
// errorTable. A 5xx answer says only "internal error"; the error itself is
// recorded for the request log. A 401 carries WWW-Authenticate: Bearer.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	status, code := StatusOf(err)
	msg := err.Error()
	if status >= 500 {
		if info := infoFrom(r.Context()); info != nil {
			info.err = err
		}
		msg = "internal error"
		if code == "unavailable" {
			msg = "the server is busy or shutting down; retry later"
		}
	}
	switch status {
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="tricycle"`)
	case http.StatusMethodNotAllowed:
		var ma *methodError
		if errors.As(err, &ma) {
			w.Header().Set("Allow", strings.Join(ma.allow, ", "))
		}
	}
	WriteJSON(w, status, ErrorBody{Error: ErrorDetail{Code: code, Message: msg}})
}

// methodError is a 405 carrying the methods the path allows.
type methodError struct{ allow []string }

func (e *methodError) Error() string {
	return fmt.Sprintf("method not allowed (allowed: %s)", strings.Join(e.allow, ", "))
}

func (e *methodError) Unwrap() error { return ErrMethodNotAllowed }

// invalid returns an ErrInvalidInput error naming the field.
func invalid(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", coordination.ErrInvalidInput, field, fmt.Sprintf(format, args...))
}
