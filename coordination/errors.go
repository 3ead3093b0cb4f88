package coordination

import (
	"errors"
	"fmt"
)

// Sentinel errors that callers test with errors.Is. Every error returned by this
// package wraps at most one of them, with context saying which object and which
// state or field was involved.
var (
	// ErrNotFound means the named experiment, promotion, record, proposal or
	// release does not exist.
	ErrNotFound = errors.New("not found")
	// ErrInvalidTransition means the object exists but its current state does
	// not allow the requested action; the message names the current state.
	ErrInvalidTransition = errors.New("invalid transition")
	// ErrBlacklisted means a quarantine record's blacklist entry blocks the
	// experiment; the message names the record.
	ErrBlacklisted = errors.New("blacklisted")
	// ErrConflict means a concurrent or repeated change was refused: a double
	// approval, a second promotion in phases, a stale write.
	ErrConflict = errors.New("conflict")
	// ErrForbidden means the actor's role lacks the permission for the action.
	ErrForbidden = errors.New("forbidden")
	// ErrInvalidInput means a field of the request is malformed; the message
	// names the field and what was wrong.
	ErrInvalidInput = errors.New("invalid input")
)

// notFound builds an ErrNotFound error naming the kind and id.
func notFound(kind, id string) error {
	return fmt.Errorf("%s %q: %w", kind, id, ErrNotFound)
}

// invalidInput builds an ErrInvalidInput error naming the field.
func invalidInput(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidInput, field, fmt.Sprintf(format, args...))
}
