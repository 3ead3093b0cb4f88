//go:build !race

package decision

// raceEnabled reports whether the race detector is on.
const raceEnabled = false
