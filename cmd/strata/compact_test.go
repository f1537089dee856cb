package main

import (
	"strings"
	"testing"
)

func TestCompact(t *testing.T) {
	dir := t.TempDir()
	// Two L0 tables, and a deleted key in the memtable.
	for _, k := range []string{"a", "b", "c"} {
		mustRun(t, "put", "--dir", dir, k, "v"+k)
		mustRun(t, "flush", "--dir", dir)
	}
	mustRun(t, "del", "--dir", dir, "b")
	out := mustRun(t, "compact", "--dir", dir)
	before, after, ok := strings.Cut(out, "\n")
	if !ok || !strings.HasPrefix(before, "levels before: L0 3 tables ") || !strings.HasPrefix(after, "levels after:  ") ||
		strings.Contains(after, "L0") {
		t.Fatalf("compact printed\n%s\nwant three L0 tables before and none in L0 after", out)
	}
	if got := mustRun(t, "scan", "--dir", dir); got != "a\tva\nc\tvc\n" {
		t.Fatalf("scan after compact printed %q", got)
	}
}

func TestCompactRange(t *testing.T) {
	dir := scanFixture(t)
	mustRun(t, "compact", "--dir", dir, "--start", "b", "--end", "d")
	if got := mustRun(t, "scan", "--dir", dir); got != "a\tva\nb\tvb\nc\tvc\nd\tvd\ne\tve\n" {
		t.Fatalf("scan after a range compaction printed %q", got)
	}
}

func TestCompactMissingDirectory(t *testing.T) {
	_, stderr, code := runCLI(t, "compact", "--dir", t.TempDir()+"/typo")
	if code != exitFailure || !strings.HasPrefix(stderr, "Error: no database directory") {
		t.Fatalf("exit %d, stderr %q; want exit 1 and a missing-directory error", code, stderr)
	}
}
