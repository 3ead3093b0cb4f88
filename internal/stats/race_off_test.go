//go:build !race

package stats

// raceEnabled reports whether the race detector is on.
const raceEnabled = false
