package provider

import "time"

// Clock tells time and waits. Implementations must be safe for concurrent use.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// After returns a channel that receives the time once d has passed.
	After(d time.Duration) <-chan time.Time
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// After returns time.After(d).
func (SystemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// FuncClock adapts functions to Clock; a nil field falls back to the real
// clock.
type FuncClock struct {
	NowFunc   func() time.Time
	AfterFunc func(d time.Duration) <-chan time.Time
}

// Now calls NowFunc.
func (c FuncClock) Now() time.Time {
	if c.NowFunc == nil {
		return time.Now()
	}
	return c.NowFunc()
}

// After calls AfterFunc.
func (c FuncClock) After(d time.Duration) <-chan time.Time {
	if c.AfterFunc == nil {
		return time.After(d)
	}
	return c.AfterFunc(d)
}

// clockOr returns c, or the system clock when c is nil.
func clockOr(c Clock) Clock {
	if c == nil {
		return SystemClock{}
	}
	return c
}
