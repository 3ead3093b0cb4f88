//go:build race

package stats

// raceEnabled shrinks the simulations under the race detector, which slows
// arithmetic many times over and has nothing to find in pure functions.
const raceEnabled = true
