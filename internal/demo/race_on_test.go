//go:build race

package demo

// raceEnabled skips the second whole demo run under the race detector, which
// slows the simulated reviewers many times over; the data plane's own
// determinism test still runs.
const raceEnabled = true
