//go:build race

package cli_test

// raceEnabled: the race detector multiplies a process's memory, so memory bounds are only
// checked without it.
const raceEnabled = true
