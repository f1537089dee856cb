package main

import (
	"encoding/hex"
	"strings"
	"testing"
)

func TestDelRangeDeletesFromStartToBeforeEnd(t *testing.T) {
	dir := t.TempDir()
	for _, k := range []string{"a", "b", "ba", "c", "d"} {
		mustRun(t, "put", "--dir", dir, k, "v"+k)
	}
	if out := mustRun(t, "del-range", "--dir", dir, "b", "d"); out != "" {
		t.Fatalf("del-range printed %q, want nothing", out)
	}
	if got, want := mustRun(t, "scan", "--dir", dir), "a\tva\nd\tvd\n"; got != want {
		t.Fatalf("scan after del-range b d printed %q, want %q", got, want)
	}
	_, _, code := runCLI(t, "get", "--dir", dir, "b")
	if code != exitNotFound {
		t.Fatalf("get of the range's start: exit %d, want %d", code, exitNotFound)
	}
}

func TestDelRangeOfEqualBoundsDeletesNothing(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, "put", "--dir", dir, "k", "v")
	mustRun(t, "del-range", "--dir", dir, "k", "k")
	if got := mustRun(t, "get", "--dir", dir, "k"); got != "v\n" {
		t.Fatalf("get after del-range k k printed %q, want %q", got, "v\n")
	}
}

func TestDelRangeFlagsAfterArguments(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, "put", "--dir", dir, "--", "-a", "1")
	mustRun(t, "put", "--dir", dir, "z", "2")
	// "--" ends the flags, for a bound that starts with "-".
	mustRun(t, "del-range", "--dir", dir, "--", "-a", "b")
	mustRun(t, "del-range", "y", "zz", "--dir", dir)
	if got := mustRun(t, "scan", "--dir", dir); got != "" {
		t.Fatalf("scan after both del-ranges printed %q, want nothing", got)
	}
}

func TestDelRangeHex(t *testing.T) {
	dir := putBinaryEntries(t)
	start, end := "\x00", "k\x0b" // "\x00" and "k\n", not "plain" and "\xff\x00\t"
	mustRun(t, "del-range", "--dir", dir, "--hex", hex.EncodeToString([]byte(start)), hex.EncodeToString([]byte(end)))
	deleted := 0
	for k := range binaryEntries {
		inRange := k >= start && k < end
		if inRange {
			deleted++
		}
		_, _, code := runCLI(t, "get", "--dir", dir, "--hex", hex.EncodeToString([]byte(k)))
		if want := map[bool]int{true: exitNotFound, false: exitOK}[inRange]; code != want {
			t.Errorf("get of %q after del-range --hex: exit %d, want %d", k, code, want)
		}
	}
	if deleted == 0 || deleted == len(binaryEntries) {
		t.Fatalf("the range [%q, %q) holds %d of the %d entries: the test tells nothing", start, end, deleted, len(binaryEntries))
	}
}

func TestDelRangeRejectsAnInvertedRange(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, "put", "--dir", dir, "c", "v")
	stdout, stderr, code := runCLI(t, "del-range", "--dir", dir, "d", "b")
	if code != exitFailure || stdout != "" || !strings.HasPrefix(stderr, "Error: ") || !strings.Contains(stderr, "sorts after its end") {
		t.Fatalf("del-range d b: exit %d, stdout %q, stderr %q; want exit 1 and why", code, stdout, stderr)
	}
	if got := mustRun(t, "get", "--dir", dir, "c"); got != "v\n" {
		t.Fatalf("get after a refused del-range printed %q", got)
	}
}

func TestDelRangeUsageErrors(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"del-range", "--dir", dir, "only-start"},
		{"del-range", "a", "b"},
		{"del-range", "--dir", dir, "--hex", "zz", "ff"},
	} {
		stdout, stderr, code := runCLI(t, args...)
		if code != exitUsage || stdout != "" || !strings.HasPrefix(stderr, "Error: ") || !strings.Contains(stderr, "Usage: strata del-range") {
			t.Errorf("strata %s: exit %d, stdout %q, stderr %q; want the usage status, error and usage", strings.Join(args, " "), code, stdout, stderr)
		}
	}
}
