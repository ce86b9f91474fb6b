//go:build !race

package discovery_test

// raceEnabled reports whether the race detector is on: it changes what
// escapes to the heap, so allocation counts are checked without it.
const raceEnabled = false
