package coordination

import "time"

// Clock tells the time. Every component takes one so that days-long canary
// phases and evaluation periods can be driven by tests and simulations; a nil
// Clock in Options means the real clock.
type Clock interface {
	Now() time.Time
}

// ClockFunc adapts a function to the Clock interface.
type ClockFunc func() time.Time

// Now calls f.
func (f ClockFunc) Now() time.Time { return f() }

// realClock is the wall clock, in UTC.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now().UTC() }

// RealClock returns the wall clock (UTC).
func RealClock() Clock { return realClock{} }
