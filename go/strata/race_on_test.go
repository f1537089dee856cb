//go:build race

package strata

// raceEnabled is true when tests run under the race detector, which slows cgo-heavy loops
// about tenfold; long loops pick smaller defaults then.
const raceEnabled = true
